//! Checks `options` values from a schema's hints against the node's Avro
//! type, so that a bad option is reported when the schema is loaded rather
//! than by the broker rejecting events.

use serde_json::Value;

use super::node::{Kind, Node, NodeId};

/// Checks that `value` is the plain JSON form of a value of node `id`'s type.
/// Hints other than the type (ranges, regexes) do not constrain options.
pub(super) fn check_option(nodes: &[Node], id: NodeId, value: &Value) -> Result<(), String> {
    match (&nodes[id].kind, value) {
        (Kind::Null, Value::Null) | (Kind::Boolean, Value::Bool(_)) => Ok(()),
        (Kind::Integer { min, max, .. }, Value::Number(number)) => {
            let fits = number.as_i64().is_some_and(|n| (*min..=*max).contains(&n));
            expect(fits, || {
                format!("{number} is not an integer from {min} to {max}")
            })
        }
        (Kind::Real { .. }, Value::Number(_)) | (Kind::String { .. }, Value::String(_)) => Ok(()),
        (Kind::Bytes { .. }, Value::String(text)) => check_bytes(text, None),
        (Kind::Fixed { size }, Value::String(text)) => check_bytes(text, Some(*size)),
        (Kind::Enum { symbols }, Value::String(text)) => {
            let known = symbols.iter().any(|symbol| symbol == text);
            expect(known, || format!("{text:?} is not one of the enum symbols"))
        }
        (Kind::Array { items, .. }, Value::Array(elements)) => {
            for element in elements {
                check_option(nodes, *items, element)?;
            }
            Ok(())
        }
        (Kind::Map { values, .. }, Value::Object(entries)) => {
            for entry in entries.values() {
                check_option(nodes, *values, entry)?;
            }
            Ok(())
        }
        (Kind::Union { branches, .. }, value) => {
            let fits = branches
                .iter()
                .any(|&b| check_option(nodes, b, value).is_ok());
            expect(fits, || format!("{value} matches no branch of the union"))
        }
        (Kind::Record { name, fields }, Value::Object(entries)) => {
            for field in fields {
                let entry = entries
                    .get(&field.name)
                    .ok_or_else(|| format!("record `{name}` misses field `{}`", field.name))?;
                check_option(nodes, field.node, entry)
                    .map_err(|why| format!("field `{}`: {why}", field.name))?;
            }
            let unknown = entries
                .keys()
                .find(|key| fields.iter().all(|f| &f.name != *key));
            match unknown {
                Some(key) => Err(format!("record `{name}` has no field `{key}`")),
                None => Ok(()),
            }
        }
        (_, value) => Err(format!("{value} has the wrong JSON type")),
    }
}

/// Checks a JSON string that stands for bytes: one code point per byte, as
/// in Avro's JSON encoding.
fn check_bytes(text: &str, size: Option<u32>) -> Result<(), String> {
    let in_range = text.chars().all(|c| u32::from(c) <= 0xff);
    expect(in_range, || {
        format!("{text:?} has a code point above U+00FF")
    })?;
    match size {
        Some(size) if text.chars().count() != size as usize => {
            Err(format!("{text:?} is not {size} bytes long"))
        }
        _ => Ok(()),
    }
}

fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}
