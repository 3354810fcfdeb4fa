//! Compiles the JSON of an Avro schema, with its Datagen `arg.properties`
//! hints, into the flat node table the generator walks.
//!
//! Supported hints, after the avro-random-generator that Datagen uses:
//! `options` on any type, `iteration` on int and long, `range` on numbers,
//! `regex` on strings and `length` on strings, bytes, arrays and maps. When
//! several apply, `options` wins, then `iteration`, then `regex`. Range and
//! length maximums are exclusive. Any other hint is rejected, so a schema
//! never silently generates data its author did not ask for.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::hints::{
    check_hint_keys, hints_of, integer, parse_length, primitive, COLLECTION_LENGTH_DEFAULT,
    LENGTH_MAX,
};
use super::node::{Field, IntGen, Kind, Node, NodeId, INFINITE_HEIGHT};
use super::options::check_option;

/// Node table of a compiled schema; iteration counters start at `iteration_starts`.
pub(super) struct Compiled {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    pub iteration_starts: Vec<i64>,
}

/// Compiles a parsed schema. Errors name the JSON path of the offending part.
pub(super) fn compile(schema: &Value) -> Result<Compiled, String> {
    let mut compiler = Compiler::default();
    let root = compiler.compile(schema, "", "$")?;
    compiler.compute_heights()?;
    Ok(Compiled {
        nodes: compiler.nodes,
        root,
        iteration_starts: compiler.iteration_starts,
    })
}

#[derive(Default)]
struct Compiler {
    nodes: Vec<Node>,
    /// Full names of named types (records, enums, fixed) to their nodes.
    names: HashMap<String, NodeId>,
    iteration_starts: Vec<i64>,
}

impl Compiler {
    fn compile(&mut self, schema: &Value, namespace: &str, path: &str) -> Result<NodeId, String> {
        match schema {
            Value::String(name) => self.compile_name(name, namespace, path),
            Value::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                for (i, branch) in branches.iter().enumerate() {
                    ids.push(self.compile(branch, namespace, &format!("{path}[{i}]"))?);
                }
                let shortest = *ids.first().ok_or(format!("{path}: union has no branch"))?;
                Ok(self.push(Kind::Union {
                    branches: ids,
                    shortest,
                }))
            }
            Value::Object(object) => self.compile_object(object, namespace, path),
            other => Err(format!(
                "{path}: expected a type name, object or union, found {other}"
            )),
        }
    }

    fn push(&mut self, kind: Kind) -> NodeId {
        self.nodes.push(Node {
            kind,
            options: Vec::new(),
            height: INFINITE_HEIGHT,
        });
        self.nodes.len() - 1
    }

    /// Compiles a bare type name: a primitive or a reference to a named type.
    fn compile_name(&mut self, name: &str, namespace: &str, path: &str) -> Result<NodeId, String> {
        if let Some(kind) = primitive(name, None, &Map::new(), path)? {
            return Ok(self.push(kind));
        }
        let full = full_name(name, namespace);
        let found = self.names.get(&full).or_else(|| self.names.get(name));
        found
            .copied()
            .ok_or_else(|| format!("{path}: unknown type `{name}`"))
    }

    fn compile_object(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, String> {
        let hints = hints_of(object, path)?;
        let type_name = match object.get("type") {
            Some(Value::String(type_name)) => type_name.as_str(),
            Some(nested) if hints.is_empty() => return self.compile(nested, namespace, path),
            Some(_) => return Err(format!("{path}: arg.properties needs a plain `type` name")),
            None => return Err(format!("{path}: missing `type`")),
        };
        check_hint_keys(type_name, &hints, path)?;
        let logical_type = object.get("logicalType").and_then(Value::as_str);
        let id = match type_name {
            "record" | "error" => self.compile_record(object, namespace, path)?,
            "enum" => self.compile_enum(object, namespace, path)?,
            "fixed" => self.compile_fixed(object, namespace, path)?,
            "array" | "map" => {
                self.compile_collection(type_name, object, &hints, namespace, path)?
            }
            _ => match primitive(type_name, logical_type, &hints, path)? {
                Some(kind) => self.push(kind),
                None if hints.is_empty() => self.compile_name(type_name, namespace, path)?,
                None => return Err(format!("{path}: arg.properties on a type reference")),
            },
        };
        self.attach_iteration(id, &hints, path)?;
        self.attach_options(id, &hints, path)?;
        Ok(id)
    }

    /// Registers a named type's node before its body is compiled, so the
    /// body can refer to it.
    fn declare(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<(NodeId, String), String> {
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{path}: named type without a `name`"))?;
        let own_namespace = object.get("namespace").and_then(Value::as_str);
        let full = full_name(name, own_namespace.unwrap_or(namespace));
        let id = self.push(Kind::Null);
        self.names.insert(full.clone(), id);
        Ok((id, full))
    }

    fn compile_record(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, String> {
        let (id, full) = self.declare(object, namespace, path)?;
        let inner_namespace = full.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
        let fields_json = object
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{path}: record `{full}` has no `fields` array"))?;
        let mut fields = Vec::with_capacity(fields_json.len());
        for field in fields_json {
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{path}: record `{full}` has a field without a name"))?;
            let field_path = format!("{path}.{name}");
            let schema = field
                .get("type")
                .ok_or_else(|| format!("{field_path}: missing `type`"))?;
            let node = self.compile(schema, &inner_namespace, &field_path)?;
            let mut key = serde_json::to_vec(name).expect("a string serializes");
            key.push(b':');
            fields.push(Field {
                name: name.to_owned(),
                key: key.into_boxed_slice(),
                node,
            });
        }
        self.nodes[id].kind = Kind::Record { name: full, fields };
        Ok(id)
    }

    fn compile_enum(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, String> {
        let (id, full) = self.declare(object, namespace, path)?;
        let symbols: Vec<String> = object
            .get("symbols")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|symbol| symbol.as_str().map(str::to_owned))
            .collect();
        if symbols.is_empty() {
            return Err(format!("{path}: enum `{full}` has no symbols"));
        }
        self.nodes[id].kind = Kind::Enum { symbols };
        Ok(id)
    }

    fn compile_fixed(
        &mut self,
        object: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, String> {
        let (id, full) = self.declare(object, namespace, path)?;
        let size = object
            .get("size")
            .and_then(Value::as_u64)
            .and_then(|size| u32::try_from(size).ok())
            .filter(|&size| size <= LENGTH_MAX)
            .ok_or_else(|| format!("{path}: fixed `{full}` needs a `size` up to {LENGTH_MAX}"))?;
        self.nodes[id].kind = Kind::Fixed { size };
        Ok(id)
    }

    fn compile_collection(
        &mut self,
        type_name: &str,
        object: &Map<String, Value>,
        hints: &Map<String, Value>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, String> {
        let length = parse_length(hints, COLLECTION_LENGTH_DEFAULT, path)?;
        let child_key = if type_name == "array" {
            "items"
        } else {
            "values"
        };
        let child_schema = object
            .get(child_key)
            .ok_or_else(|| format!("{path}: {type_name} without `{child_key}`"))?;
        let child = self.compile(child_schema, namespace, &format!("{path}.{child_key}"))?;
        Ok(self.push(match type_name {
            "array" => Kind::Array {
                items: child,
                length,
            },
            _ => Kind::Map {
                values: child,
                length,
            },
        }))
    }

    /// Turns an integer node into an iteration when the hints ask for one.
    fn attach_iteration(
        &mut self,
        id: NodeId,
        hints: &Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        let Some(iteration) = hints.get("iteration") else {
            return Ok(());
        };
        let Kind::Integer { min, max, .. } = self.nodes[id].kind else {
            return Err(format!("{path}: `iteration` applies to int and long only"));
        };
        let number = |key: &str| iteration.get(key).map(|v| integer(v, min, max, path));
        let start = number("start").ok_or(format!("{path}: `iteration` needs a `start`"))??;
        let restart = number("restart").transpose()?;
        let default_step = if restart.is_some_and(|r| r < start) {
            -1
        } else {
            1
        };
        let step = number("step").transpose()?.unwrap_or(default_step);
        if step == 0 {
            return Err(format!(
                "{path}: iteration `step` is 0; use `options` for a constant"
            ));
        }
        self.nodes[id].kind = Kind::Integer {
            min,
            max,
            generator: IntGen::Iteration {
                counter: self.iteration_starts.len(),
                start,
                step,
                restart,
            },
        };
        self.iteration_starts.push(start);
        Ok(())
    }

    /// Stores the `options` hint as pre-serialized JSON, once each option is
    /// checked against the node's type.
    fn attach_options(
        &mut self,
        id: NodeId,
        hints: &Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        let Some(options) = hints.get("options") else {
            return Ok(());
        };
        let options = options
            .as_array()
            .filter(|options| !options.is_empty())
            .ok_or_else(|| format!("{path}: `options` must be a non-empty array"))?;
        let mut rendered = Vec::with_capacity(options.len());
        for (i, option) in options.iter().enumerate() {
            check_option(&self.nodes, id, option)
                .map_err(|why| format!("{path}: option {i} does not match the type: {why}"))?;
            rendered.push(serde_json::to_vec(option).expect("JSON serializes").into());
        }
        self.nodes[id].options = rendered;
        Ok(())
    }

    /// Computes each node's height (see `Node::height`) by iterating to a
    /// fixed point, then rejects schemas with a node no finite value fits.
    fn compute_heights(&mut self) -> Result<(), String> {
        let mut changed = true;
        while changed {
            changed = false;
            for id in 0..self.nodes.len() {
                let height = self.height_from_children(id);
                if height < self.nodes[id].height {
                    self.nodes[id].height = height;
                    changed = true;
                }
            }
        }
        // Leaves have height 0, so any node without a finite height leads
        // to a record that contains itself through required fields.
        let endless = self.nodes.iter().find_map(|node| match &node.kind {
            Kind::Record { name, .. } if node.height == INFINITE_HEIGHT => Some(name),
            _ => None,
        });
        if let Some(name) = endless {
            return Err(format!(
                "record `{name}` has no finite value: it contains itself through \
                 required fields; put the recursion in a union with null, an array or a map"
            ));
        }
        for id in 0..self.nodes.len() {
            let Kind::Union { branches, .. } = &self.nodes[id].kind else {
                continue;
            };
            let best = branches
                .iter()
                .copied()
                .min_by_key(|&b| self.nodes[b].height);
            if let (Some(best), Kind::Union { shortest, .. }) = (best, &mut self.nodes[id].kind) {
                *shortest = best;
            }
        }
        Ok(())
    }

    fn height_from_children(&self, id: NodeId) -> u32 {
        let node = &self.nodes[id];
        if !node.options.is_empty() {
            return 0;
        }
        match &node.kind {
            Kind::Union { branches, .. } => {
                let heights = branches.iter().map(|&b| self.nodes[b].height);
                heights.min().unwrap_or(INFINITE_HEIGHT)
            }
            Kind::Record { fields, .. } => {
                let heights = fields.iter().map(|f| self.nodes[f.node].height);
                let tallest = heights.max().unwrap_or(0);
                tallest.saturating_add(1)
            }
            // Arrays and maps can be empty, and every other kind is a leaf.
            _ => 0,
        }
    }
}

/// Qualifies a name with a namespace unless it already contains a dot.
fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}
