//! The typed view of a JSON Schema document that the JSON Schema diff
//! compares, built the way the everit-json-schema loader (which Confluent
//! Schema Registry uses) classifies keywords.
//!
//! A schema object yields one typed part per keyword group it uses: `enum`,
//! `allOf`/`anyOf`/`oneOf`, `not`, `const`, the `type` keyword, then the
//! keywords of types that `type` does not name. Several parts become a
//! synthetic `allOf`. `$ref`s are resolved while loading, so a recursive
//! schema is a cycle of node ids.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::registry::schema::{JsonSchema, MAIN_DOCUMENT};

/// Index of a node in `Model::nodes`.
pub(super) type NodeId = usize;

pub(super) struct Model<'a> {
    pub nodes: Vec<Node<'a>>,
    /// Node of each schema value already loaded, by the value's address.
    loaded: HashMap<*const Value, NodeId>,
    schema: &'a JsonSchema,
}

pub(super) struct Node<'a> {
    /// The schema value this node was loaded from.
    pub raw: &'a Value,
    /// Position of this node among the typed parts of `raw` (from 1), or 0
    /// when `raw` did not split.
    pub part: usize,
    pub id: Option<&'a Value>,
    pub title: Option<&'a Value>,
    pub description: Option<&'a Value>,
    pub default: Option<&'a Value>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Criterion {
    All,
    Any,
    One,
}

pub(super) enum NodeKind {
    /// Accepts everything: `true`, `{}` or only annotations.
    Empty,
    False,
    Null,
    Boolean,
    String(StringNode),
    Number(NumberNode),
    Object(ObjectNode),
    Array(ArrayNode),
    Enum(Vec<Value>),
    Const(Value),
    Combined(Criterion, Vec<NodeId>),
    Not(NodeId),
    /// `if`/`then`/`else`, compared by its annotations only, as Confluent
    /// does.
    Conditional,
}

#[derive(Default)]
pub(super) struct StringNode {
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
}

#[derive(Default)]
pub(super) struct NumberNode {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: Option<f64>,
    pub exclusive_maximum: Option<f64>,
    pub multiple_of: Option<f64>,
    pub requires_integer: bool,
}

#[derive(Default)]
pub(super) struct ObjectNode {
    pub properties: Vec<(String, NodeId)>,
    pub required: Vec<String>,
    pub permits_additional: bool,
    pub additional_schema: Option<NodeId>,
    pub pattern_properties: Vec<(String, NodeId)>,
    pub property_dependencies: Vec<(String, Vec<String>)>,
    pub schema_dependencies: Vec<(String, NodeId)>,
    pub max_properties: Option<u64>,
    pub min_properties: Option<u64>,
}

#[derive(Default)]
pub(super) struct ArrayNode {
    pub all_items: Option<NodeId>,
    pub item_schemas: Vec<NodeId>,
    pub permits_additional: bool,
    pub additional_schema: Option<NodeId>,
    pub max_items: Option<u64>,
    pub min_items: Option<u64>,
    pub unique_items: bool,
}

const OBJECT_KEYWORDS: [&str; 10] = [
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
];
const ARRAY_KEYWORDS: [&str; 7] = [
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "prefixItems",
];
const NUMBER_KEYWORDS: [&str; 5] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];
const STRING_KEYWORDS: [&str; 4] = ["minLength", "maxLength", "pattern", "format"];

/// Maximum number of `$ref`s followed in a row before the loader gives up,
/// because a longer chain is a cycle with no schema in it.
const REF_CHAIN_MAX: usize = 64;

impl<'a> Model<'a> {
    /// Loads the main document of `schema` and returns the model with the
    /// id of the document's node.
    pub(super) fn load(schema: &'a JsonSchema) -> (Self, NodeId) {
        let mut model = Model {
            nodes: Vec::new(),
            loaded: HashMap::new(),
            schema,
        };
        let root = model.load_value(MAIN_DOCUMENT, &schema.document);
        (model, root)
    }

    pub(super) fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id]
    }

    fn load_value(&mut self, document: usize, value: &'a Value) -> NodeId {
        let (document, value) = self.follow_refs(document, value);
        if let Some(&id) = self.loaded.get(&(value as *const Value)) {
            return id;
        }
        let id = self.push(value, 0, NodeKind::Empty);
        self.loaded.insert(value as *const Value, id);
        let kind = self.load_kind(document, value);
        self.nodes[id].kind = kind;
        id
    }

    /// Follows `$ref` (which, as in draft-07, replaces its sibling keywords)
    /// to the schema it names. An unresolvable reference loads as an empty
    /// schema, but `parse` rejects those before this runs.
    fn follow_refs(&self, mut document: usize, mut value: &'a Value) -> (usize, &'a Value) {
        for _ in 0..REF_CHAIN_MAX {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return (document, value);
            };
            match self.schema.resolve(document, reference) {
                Some((target_document, target)) => (document, value) = (target_document, target),
                None => return (document, &EMPTY_SCHEMA),
            }
        }
        (document, &EMPTY_SCHEMA)
    }

    fn push(&mut self, raw: &'a Value, part: usize, kind: NodeKind) -> NodeId {
        let annotation = |key: &str| raw.get(key);
        let node = Node {
            raw,
            part,
            id: annotation("$id").or_else(|| annotation("id")),
            title: annotation("title"),
            description: annotation("description"),
            default: annotation("default"),
            kind,
        };
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn load_kind(&mut self, document: usize, value: &'a Value) -> NodeKind {
        let map = match value {
            Value::Bool(false) => return NodeKind::False,
            Value::Object(map) => map,
            _ => return NodeKind::Empty,
        };
        let mut parts = self.load_parts(document, map);
        match parts.len() {
            0 => NodeKind::Empty,
            1 => parts.pop().expect("one part"),
            _ => {
                let ids = parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, kind)| self.push(value, i + 1, kind))
                    .collect();
                NodeKind::Combined(Criterion::All, ids)
            }
        }
    }

    /// Returns one typed part per keyword group of `map`, in everit's order.
    fn load_parts(&mut self, document: usize, map: &'a Map<String, Value>) -> Vec<NodeKind> {
        let mut parts = Vec::new();
        if let Some(Value::Array(values)) = map.get("enum") {
            parts.push(NodeKind::Enum(values.clone()));
        }
        for (keyword, criterion) in [
            ("allOf", Criterion::All),
            ("anyOf", Criterion::Any),
            ("oneOf", Criterion::One),
        ] {
            if let Some(Value::Array(schemas)) = map.get(keyword) {
                let ids = schemas
                    .iter()
                    .map(|s| self.load_value(document, s))
                    .collect();
                parts.push(NodeKind::Combined(criterion, ids));
            }
        }
        if let Some(not) = map.get("not") {
            parts.push(NodeKind::Not(self.load_value(document, not)));
        }
        if let Some(value) = map.get("const") {
            parts.push(NodeKind::Const(value.clone()));
        }
        let types: Vec<&str> = match map.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        match map.get("type") {
            Some(Value::String(t)) => parts.push(self.load_typed(document, map, t)),
            Some(Value::Array(_)) => {
                let ids = types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let kind = self.load_typed(document, map, t);
                        self.push(&EMPTY_SCHEMA, i, kind)
                    })
                    .collect();
                parts.push(NodeKind::Combined(Criterion::Any, ids));
            }
            _ => {}
        }
        self.sniff_untyped(document, map, &types, &mut parts);
        if map.contains_key("if") {
            parts.push(NodeKind::Conditional);
        }
        parts
    }

    /// Adds a part for each type whose keywords appear in `map` without the
    /// type being named by `type`.
    fn sniff_untyped(
        &mut self,
        document: usize,
        map: &'a Map<String, Value>,
        types: &[&str],
        parts: &mut Vec<NodeKind>,
    ) {
        let groups: [(&str, &[&str]); 4] = [
            ("object", &OBJECT_KEYWORDS),
            ("array", &ARRAY_KEYWORDS),
            ("number", &NUMBER_KEYWORDS),
            ("string", &STRING_KEYWORDS),
        ];
        for (type_name, keywords) in groups {
            let named =
                types.contains(&type_name) || (type_name == "number" && types.contains(&"integer"));
            if !named && keywords.iter().any(|k| map.contains_key(*k)) {
                parts.push(self.load_typed(document, map, type_name));
            }
        }
    }

    fn load_typed(
        &mut self,
        document: usize,
        map: &'a Map<String, Value>,
        type_name: &str,
    ) -> NodeKind {
        match type_name {
            "string" => NodeKind::String(StringNode {
                min_length: map.get("minLength").and_then(Value::as_u64),
                max_length: map.get("maxLength").and_then(Value::as_u64),
                pattern: map
                    .get("pattern")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }),
            "number" | "integer" => NodeKind::Number(load_number(map, type_name == "integer")),
            "object" => NodeKind::Object(self.load_object(document, map)),
            "array" => NodeKind::Array(self.load_array(document, map)),
            "boolean" => NodeKind::Boolean,
            "null" => NodeKind::Null,
            _ => NodeKind::Empty,
        }
    }

    fn load_named(&mut self, document: usize, value: Option<&'a Value>) -> Vec<(String, NodeId)> {
        let Some(Value::Object(map)) = value else {
            return Vec::new();
        };
        map.iter()
            .map(|(name, schema)| (name.clone(), self.load_value(document, schema)))
            .collect()
    }

    fn load_object(&mut self, document: usize, map: &'a Map<String, Value>) -> ObjectNode {
        let mut object = ObjectNode {
            properties: self.load_named(document, map.get("properties")),
            pattern_properties: self.load_named(document, map.get("patternProperties")),
            required: string_list(map.get("required")),
            permits_additional: true,
            max_properties: map.get("maxProperties").and_then(Value::as_u64),
            min_properties: map.get("minProperties").and_then(Value::as_u64),
            ..ObjectNode::default()
        };
        match map.get("additionalProperties") {
            Some(Value::Bool(permits)) => object.permits_additional = *permits,
            Some(schema @ Value::Object(_)) => {
                object.additional_schema = Some(self.load_value(document, schema));
            }
            _ => {}
        }
        let dependencies = ["dependencies", "dependentRequired", "dependentSchemas"];
        for entries in dependencies
            .iter()
            .filter_map(|k| map.get(*k))
            .filter_map(Value::as_object)
        {
            for (name, dependency) in entries {
                match dependency {
                    Value::Array(_) => {
                        object
                            .property_dependencies
                            .push((name.clone(), string_list(Some(dependency))));
                    }
                    schema => {
                        let id = self.load_value(document, schema);
                        object.schema_dependencies.push((name.clone(), id));
                    }
                }
            }
        }
        object
    }

    fn load_array(&mut self, document: usize, map: &'a Map<String, Value>) -> ArrayNode {
        let mut array = ArrayNode {
            permits_additional: true,
            max_items: map.get("maxItems").and_then(Value::as_u64),
            min_items: map.get("minItems").and_then(Value::as_u64),
            unique_items: map
                .get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ..ArrayNode::default()
        };
        // Draft 2020-12 spells the tuple form `prefixItems` and uses `items`
        // for the elements after it.
        let (tuple, additional) = match map.get("prefixItems") {
            Some(prefix) => (Some(prefix), map.get("items")),
            None => (map.get("items"), map.get("additionalItems")),
        };
        match tuple {
            Some(Value::Array(schemas)) => {
                array.item_schemas = schemas
                    .iter()
                    .map(|s| self.load_value(document, s))
                    .collect();
            }
            Some(schema) if map.get("prefixItems").is_none() => {
                array.all_items = Some(self.load_value(document, schema));
            }
            _ => {}
        }
        match additional {
            Some(Value::Bool(permits)) => array.permits_additional = *permits,
            Some(schema @ Value::Object(_)) => {
                array.additional_schema = Some(self.load_value(document, schema));
            }
            _ => {}
        }
        array
    }
}

/// Stands in for an unresolvable `$ref`, and is the raw value of the parts
/// of a `type` array, which have no value of their own.
static EMPTY_SCHEMA: Value = Value::Bool(true);

// NOTE: draft-04's boolean `exclusiveMaximum`/`exclusiveMinimum` are not
// read, so changing only those flags reports no difference.
fn load_number(map: &Map<String, Value>, requires_integer: bool) -> NumberNode {
    let number = |key: &str| map.get(key).and_then(Value::as_f64);
    NumberNode {
        minimum: number("minimum"),
        maximum: number("maximum"),
        exclusive_minimum: number("exclusiveMinimum"),
        exclusive_maximum: number("exclusiveMaximum"),
        multiple_of: number("multipleOf"),
        requires_integer,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
