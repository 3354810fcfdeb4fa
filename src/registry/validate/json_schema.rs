//! Validation of JSON values against a JSON Schema with the `jsonschema`
//! crate. References to other registered schemas resolve by their reference
//! name, in memory; nothing is fetched over the network or from files.
//!
//! NOTE: the `jsonschema` crate validates `serde_json::Value`s, so each value
//! is copied out of the simd-json tape into one, which allocates per node.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use simd_json::prelude::*;
use simd_json::value::tape;

use super::failure::Failure;
use super::NESTING_DEPTH_MAX;
use crate::registry::model::schema::ResolvedReference;

/// A compiled JSON Schema.
#[derive(Clone, Debug)]
pub struct JsonSchemaValidator {
    validator: jsonschema::Validator,
}

/// Serves referenced schemas by the name in the reference, matched against
/// the whole URI or its last path segment (`$ref: "customer.json"` resolves
/// to `json-schema:///customer.json`).
struct ReferenceRetriever {
    schemas: HashMap<String, Value>,
}

impl jsonschema::Retrieve for ReferenceRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let last = text.rsplit('/').next().unwrap_or(text);
        self.schemas
            .get(text)
            .or_else(|| self.schemas.get(last))
            .cloned()
            .ok_or_else(|| format!("schema reference '{text}' is not registered").into())
    }
}

impl JsonSchemaValidator {
    /// Compiles `schema`, resolving `$ref`s against `refs`.
    pub fn new(schema: &Value, refs: &[ResolvedReference]) -> Result<JsonSchemaValidator, String> {
        let mut schemas = HashMap::new();
        for reference in refs {
            let parsed: Value = serde_json::from_str(&reference.schema)
                .map_err(|e| format!("reference '{}' is not JSON: {e}", reference.name))?;
            schemas.insert(reference.name.clone(), parsed);
        }
        let validator = jsonschema::options()
            .with_retriever(ReferenceRetriever { schemas })
            .build(schema)
            .map_err(|e| format!("invalid JSON Schema: {e}"))?;
        Ok(JsonSchemaValidator { validator })
    }

    /// Parses `json` with simd-json (in place) and validates it.
    pub(crate) fn validate_json(&self, json: &mut [u8]) -> Result<(), Failure> {
        let value = super::scratch::with_tape(json, |value, _| to_serde(value, 0))?;
        match self.validator.validate(&value) {
            Ok(()) => Ok(()),
            Err(error) => {
                let mut failure = Failure::new(error.to_string());
                for segment in error.instance_path().iter() {
                    failure = match segment {
                        jsonschema::paths::LocationSegment::Property(name) => {
                            failure.at_field(&name)
                        }
                        jsonschema::paths::LocationSegment::Index(i) => failure.at_index(i),
                    };
                }
                // Segments were pushed outermost first; failures keep them
                // innermost first.
                failure.path.reverse();
                Err(failure)
            }
        }
    }
}

/// Converts a tape value to `serde_json::Value` for the `jsonschema` crate,
/// with nesting capped.
fn to_serde(value: tape::Value<'_, '_>, depth: usize) -> Result<Value, Failure> {
    if depth > NESTING_DEPTH_MAX {
        return Err(Failure::new(format!(
            "value nests deeper than {NESTING_DEPTH_MAX} levels"
        )));
    }
    if let Some(array) = value.as_array() {
        let mut items = Vec::with_capacity(array.len());
        for item in array.iter() {
            items.push(to_serde(item, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Some(object) = value.as_object() {
        let mut map = Map::new();
        for (key, item) in object.iter() {
            map.insert(key.to_owned(), to_serde(item, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    Ok(match value.value_type() {
        simd_json::ValueType::Null => Value::Null,
        simd_json::ValueType::Bool => Value::Bool(value.as_bool().unwrap_or_default()),
        simd_json::ValueType::String => {
            Value::String(value.as_str().unwrap_or_default().to_owned())
        }
        simd_json::ValueType::I64 => Value::from(value.as_i64().unwrap_or_default()),
        simd_json::ValueType::U64 => Value::from(value.as_u64().unwrap_or_default()),
        _ => value
            .as_f64()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| Failure::new("number is not finite"))?,
    })
}
