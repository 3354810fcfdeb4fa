//! JSON Schema parsing: meta-schema validation, `$ref` resolution across the
//! referenced documents, and the canonical text.

use serde_json::Value;

use super::{ResolvedReference, SchemaError, SchemaType};

/// A JSON Schema document with the documents its `$ref`s may point into.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchema {
    pub document: Value,
    pub references: Vec<JsonReference>,
}

/// A referenced document and the URI that `$ref` values use for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonReference {
    pub name: String,
    pub document: Value,
}

/// Index of the main document in `JsonSchema::document_at`. Reference `i`
/// is at index `i + 1`.
pub const MAIN_DOCUMENT: usize = 0;

impl JsonSchema {
    /// Returns document `index`: the main one or a referenced one.
    pub fn document_at(&self, index: usize) -> Option<&Value> {
        match index {
            MAIN_DOCUMENT => Some(&self.document),
            i => self.references.get(i - 1).map(|r| &r.document),
        }
    }

    /// Finds the subschema that the `$ref` value `reference` points to, as
    /// seen from document `from`, and returns its document index and value.
    ///
    /// The part before `#` selects a document by reference name or by `$id`,
    /// also relative to the `$id` of `from`. The fragment is a JSON pointer
    /// or an anchor (`$anchor`, or `$id` of the form `#name`).
    pub fn resolve(&self, from: usize, reference: &str) -> Option<(usize, &Value)> {
        let (base, fragment) = match reference.split_once('#') {
            Some((base, fragment)) => (base, fragment),
            None => (reference, ""),
        };
        let document = if base.is_empty() {
            from
        } else {
            self.find_document(from, base)?
        };
        let root = self.document_at(document)?;
        let target = if fragment.is_empty() {
            root
        } else if fragment.starts_with('/') {
            root.pointer(&percent_decode(fragment))?
        } else {
            find_anchor(root, fragment)?
        };
        Some((document, target))
    }

    fn find_document(&self, from: usize, base: &str) -> Option<usize> {
        // TODO: resolve relative to the `$id` of the enclosing subschema;
        // only each document's root `$id` sets a base URI here.
        let relative = self
            .document_at(from)
            .and_then(|d| d.get("$id"))
            .and_then(Value::as_str)
            .and_then(|id| {
                id.rfind('/')
                    .map(|slash| format!("{}{base}", &id[..=slash]))
            });
        let candidates = [Some(base.to_string()), relative];
        (0..=self.references.len()).find(|&index| {
            let document = self.document_at(index);
            let id = document.and_then(|d| d.get("$id")).and_then(Value::as_str);
            let name = index
                .checked_sub(1)
                .map(|i| self.references[i].name.as_str());
            candidates
                .iter()
                .flatten()
                .any(|c| Some(c.as_str()) == id || Some(c.as_str()) == name)
        })
    }
}

/// Searches `value` for a subschema that declares the anchor `name`.
fn find_anchor<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => {
            let anchor = map.get("$anchor").and_then(Value::as_str);
            let id = map.get("$id").and_then(Value::as_str);
            if anchor == Some(name) || id.and_then(|i| i.strip_prefix('#')) == Some(name) {
                return Some(value);
            }
            map.values().find_map(|v| find_anchor(v, name))
        }
        Value::Array(items) => items.iter().find_map(|v| find_anchor(v, name)),
        _ => None,
    }
}

/// Decodes `%XX` escapes, which URI fragments use for characters such as
/// spaces in property names. Invalid escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Parses `text` and its references, validates each against its draft's
/// meta-schema, and checks that every `$ref` resolves.
pub(super) fn parse(text: &str, refs: &[ResolvedReference]) -> Result<JsonSchema, SchemaError> {
    let document: Value =
        serde_json::from_str(text).map_err(|e| SchemaError::json_syntax(SchemaType::Json, &e))?;
    check_document(&document).map_err(|message| SchemaError::invalid(SchemaType::Json, message))?;
    let mut references = Vec::with_capacity(refs.len());
    for reference in refs {
        let in_reference = |message: String| {
            SchemaError::invalid(
                SchemaType::Json,
                format!("reference '{}': {message}", reference.name),
            )
        };
        let referenced: Value =
            serde_json::from_str(&reference.schema).map_err(|e| in_reference(e.to_string()))?;
        check_document(&referenced).map_err(in_reference)?;
        references.push(JsonReference {
            name: reference.name.clone(),
            document: referenced,
        });
    }
    let schema = JsonSchema {
        document,
        references,
    };
    for index in 0..=schema.references.len() {
        let document = schema.document_at(index).expect("index is in range");
        check_refs(&schema, index, document, false, &mut String::new())
            .map_err(|message| SchemaError::invalid(SchemaType::Json, message))?;
    }
    Ok(schema)
}

fn check_document(document: &Value) -> Result<(), String> {
    if !document.is_object() && !document.is_boolean() {
        return Err("a JSON Schema must be an object or a boolean".to_string());
    }
    // A document without `$schema` is read as draft-07, as Confluent does.
    let result = if document.get("$schema").is_some() {
        jsonschema::meta::validate(document)
    } else {
        jsonschema::draft7::meta::validate(document)
    };
    result.map_err(|e| format!("{e} at '{}'", e.instance_path()))
}

/// Keywords whose values are data, not subschemas, so a `$ref` key inside
/// them is not a reference.
const DATA_KEYWORDS: [&str; 4] = ["enum", "const", "default", "examples"];

/// Keywords whose values map user-chosen names to subschemas, so their keys
/// are names and never keywords.
const NAME_MAP_KEYWORDS: [&str; 6] = [
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "dependencies",
    "dependentSchemas",
];

/// Checks that every `$ref` under `value` resolves. `in_name_map` is true
/// when `value` is the value of a `NAME_MAP_KEYWORDS` keyword, and `path` is
/// the JSON pointer of `value` in its document, for the error message.
fn check_refs(
    schema: &JsonSchema,
    document: usize,
    value: &Value,
    in_name_map: bool,
    path: &mut String,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            let reference = map.get("$ref").filter(|_| !in_name_map);
            if let Some(Value::String(reference)) = reference {
                if schema.resolve(document, reference).is_none() {
                    let location = if path.is_empty() { "/" } else { path.as_str() };
                    return Err(format!("unresolved $ref '{reference}' at '{location}'"));
                }
            }
            for (key, child) in map {
                if !in_name_map && DATA_KEYWORDS.contains(&key.as_str()) {
                    continue;
                }
                let names = !in_name_map && NAME_MAP_KEYWORDS.contains(&key.as_str());
                let length = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_refs(schema, document, child, names, path)?;
                path.truncate(length);
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let length = path.len();
                path.push_str(&format!("/{i}"));
                check_refs(schema, document, child, false, path)?;
                path.truncate(length);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Renders the main document with object keys sorted and no whitespace.
pub(super) fn canonical(schema: &JsonSchema) -> String {
    let mut out = String::new();
    write_canonical_json(&schema.document, &mut out);
    out
}

/// Writes `value` as compact JSON with the keys of every object sorted.
pub(super) fn write_canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
