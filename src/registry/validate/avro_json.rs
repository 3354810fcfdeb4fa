//! Validation of JSON values against a compiled Avro schema.
//!
//! Walks the simd-json tape without building values. Records are strict:
//! every field must be present (defaults only apply when a reader resolves
//! an older writer's data) and unknown fields are rejected. Union values may
//! use the Avro JSON encoding (`null`, or `{"branch": value}` keyed by type
//! name or full name), plain JSON (the bare value), or either.

use simd_json::prelude::*;
use simd_json::value::tape::Value;
use simd_json::ValueType;

use super::avro::{AvroField, AvroNode, AvroValidator};
use super::failure::Failure;
use super::NESTING_DEPTH_MAX;

/// Convention for writing union values in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnionEncoding {
    /// The Avro JSON encoding: non-null values wrapped as `{"branch": value}`.
    Tagged,
    /// Bare values, matched against the branches by shape.
    Plain,
    /// Either form; what producers of both conventions send.
    Either,
}

/// Node visits allowed per tape node. Plain-JSON unions with several
/// branches of the same shape are matched by trying branches, and this caps
/// the retries so that nested ambiguous unions stay linear in the input.
pub const VISITS_PER_JSON_NODE_MAX: usize = 8;

struct Walk<'a> {
    schema: &'a AvroValidator,
    unions: UnionEncoding,
    visits_left: usize,
}

impl AvroValidator {
    /// Validates a parsed JSON value; `tape_nodes` is the tape's length and
    /// sizes the visit budget.
    pub(crate) fn validate_tape(
        &self,
        value: Value<'_, '_>,
        tape_nodes: usize,
        unions: UnionEncoding,
    ) -> Result<(), Failure> {
        let mut walk = Walk {
            schema: self,
            unions,
            visits_left: tape_nodes
                .saturating_mul(VISITS_PER_JSON_NODE_MAX)
                .saturating_add(64),
        };
        walk.check(self.root, value, 0)
    }

    /// Parses `json` with simd-json (in place) and validates it.
    pub fn validate_json(&self, json: &mut [u8], unions: UnionEncoding) -> Result<(), String> {
        let tape = simd_json::to_tape(json).map_err(|e| super::failure::json_error_text(&e))?;
        self.validate_tape(tape.as_value(), tape.0.len(), unions)
            .map_err(|f| format!("{}: {}", f.path_text(), f.reason))
    }
}

fn is_integer(value: &Value<'_, '_>) -> bool {
    matches!(value.value_type(), ValueType::I64 | ValueType::U64)
}

fn is_number(value: &Value<'_, '_>) -> bool {
    matches!(
        value.value_type(),
        ValueType::I64 | ValueType::U64 | ValueType::F64
    )
}

/// Avro's JSON encoding of bytes and fixed: one char per byte, U+0000..U+00FF.
fn byte_string_len(value: &Value<'_, '_>) -> Option<usize> {
    let text = value.as_str()?;
    let mut count = 0;
    for c in text.chars() {
        if u32::from(c) > 0xFF {
            return None;
        }
        count += 1;
    }
    Some(count)
}

fn is_special_float(value: &Value<'_, '_>) -> bool {
    matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity"))
}

impl Walk<'_> {
    fn check(&mut self, node: usize, value: Value<'_, '_>, depth: usize) -> Result<(), Failure> {
        if self.visits_left == 0 {
            return Err(Failure::new("union matching exceeded its work limit"));
        }
        self.visits_left -= 1;
        let nodes = &self.schema.nodes;
        match &nodes[node] {
            AvroNode::Null => expect(value.is_null(), "expected null"),
            AvroNode::Boolean => expect(value.as_bool().is_some(), "expected a boolean"),
            AvroNode::Int => {
                let fits = value.as_i64().is_some_and(|v| i32::try_from(v).is_ok());
                expect(
                    is_integer(&value) && fits,
                    "expected an int (32-bit integer)",
                )
            }
            AvroNode::Long => expect(
                is_integer(&value) && value.as_i64().is_some(),
                "expected a long (64-bit integer)",
            ),
            AvroNode::Float => {
                let in_range = value
                    .as_f64()
                    .is_none_or(|v| v.abs() <= f64::from(f32::MAX));
                expect(
                    (is_number(&value) && in_range) || is_special_float(&value),
                    "expected a float",
                )
            }
            AvroNode::Double => expect(
                is_number(&value) || is_special_float(&value),
                "expected a double",
            ),
            AvroNode::Bytes => expect(
                byte_string_len(&value).is_some(),
                "expected bytes as a string of code points U+0000..U+00FF",
            ),
            AvroNode::String => expect(value.as_str().is_some(), "expected a string"),
            AvroNode::Uuid => expect(
                value.as_str().is_some_and(super::failure::is_uuid),
                "expected a UUID string",
            ),
            AvroNode::Fixed { size, .. } => match byte_string_len(&value) {
                Some(len) if len == *size => Ok(()),
                Some(len) => Err(Failure::new(format!("expected {size} bytes, got {len}"))),
                None => Err(Failure::new("expected fixed bytes as a string")),
            },
            AvroNode::Enum { symbols, .. } => match value.as_str() {
                Some(s) if symbols.iter().any(|x| x == s) => Ok(()),
                Some(s) => Err(Failure::new(format!("'{s}' is not a symbol of the enum"))),
                None => Err(Failure::new("expected an enum symbol string")),
            },
            AvroNode::Array(items) => self.check_array(*items, value, depth),
            AvroNode::Map(values) => self.check_map(*values, value, depth),
            AvroNode::Record { fields, .. } => self.check_record(fields, value, depth),
            AvroNode::Union(branches) => self.check_union(branches, value, depth),
        }
    }

    fn descend(depth: usize) -> Result<usize, Failure> {
        if depth >= NESTING_DEPTH_MAX {
            return Err(Failure::new(format!(
                "value nests deeper than {NESTING_DEPTH_MAX} levels"
            )));
        }
        Ok(depth + 1)
    }

    fn check_array(
        &mut self,
        items: usize,
        value: Value<'_, '_>,
        depth: usize,
    ) -> Result<(), Failure> {
        let array = value
            .as_array()
            .ok_or_else(|| Failure::new("expected an array"))?;
        let depth = Self::descend(depth)?;
        for (i, item) in array.iter().enumerate() {
            self.check(items, item, depth).map_err(|f| f.at_index(i))?;
        }
        Ok(())
    }

    fn check_map(
        &mut self,
        values: usize,
        value: Value<'_, '_>,
        depth: usize,
    ) -> Result<(), Failure> {
        let object = value
            .as_object()
            .ok_or_else(|| Failure::new("expected a map as a JSON object"))?;
        let depth = Self::descend(depth)?;
        for (key, item) in object.iter() {
            self.check(values, item, depth)
                .map_err(|f| f.at_field(key))?;
        }
        Ok(())
    }

    fn check_record(
        &mut self,
        fields: &[AvroField],
        value: Value<'_, '_>,
        depth: usize,
    ) -> Result<(), Failure> {
        let object = value
            .as_object()
            .ok_or_else(|| Failure::new("expected a record as a JSON object"))?;
        let depth = Self::descend(depth)?;
        let mut seen = FieldSet::new(fields.len());
        for (position, (key, item)) in object.iter().enumerate() {
            // Producers mostly write fields in schema order: try that slot
            // before searching.
            let in_order = fields.get(position).filter(|f| f.name == key);
            let Some(index) = in_order
                .map(|_| position)
                .or_else(|| fields.iter().position(|f| f.name == key))
            else {
                return Err(Failure::new("unknown field").at_field(key));
            };
            if !seen.insert(index) {
                return Err(Failure::new("duplicate field").at_field(key));
            }
            self.check(fields[index].node, item, depth)
                .map_err(|f| f.at_field(key))?;
        }
        match (0..fields.len()).find(|i| !seen.contains(*i)) {
            Some(missing) => Err(Failure::new("missing field").at_field(&fields[missing].name)),
            None => Ok(()),
        }
    }

    fn check_union(
        &mut self,
        branches: &[usize],
        value: Value<'_, '_>,
        depth: usize,
    ) -> Result<(), Failure> {
        let nodes = &self.schema.nodes;
        if value.is_null() {
            let has_null = branches.iter().any(|b| matches!(nodes[*b], AvroNode::Null));
            return expect(has_null, "null is not a branch of the union");
        }
        let tagged = if self.unions == UnionEncoding::Plain {
            None
        } else {
            tagged_branch(nodes, branches, value)
        };
        if let Some((branch, key, inner)) = tagged {
            let inner_depth = Self::descend(depth)?;
            let result = self
                .check(branch, inner, inner_depth)
                .map_err(|f| f.at_field(key));
            if result.is_ok() || self.unions == UnionEncoding::Tagged {
                return result;
            }
            // A plain record or map may look like a tag; try it as plain JSON.
            return self.check_plain_union(branches, value, depth).or(result);
        }
        if self.unions == UnionEncoding::Tagged {
            return Err(Failure::new(
                "expected null or a union value tagged as {\"branch\": value}",
            ));
        }
        self.check_plain_union(branches, value, depth)
    }

    fn check_plain_union(
        &mut self,
        branches: &[usize],
        value: Value<'_, '_>,
        depth: usize,
    ) -> Result<(), Failure> {
        let nodes = &self.schema.nodes;
        let mut candidates = branches
            .iter()
            .copied()
            .filter(|b| shape_matches(&nodes[*b], &value));
        let Some(first) = candidates.next() else {
            return Err(Failure::new("value matches no branch of the union"));
        };
        let first_result = self.check(first, value, depth);
        if first_result.is_ok() {
            return first_result;
        }
        for branch in candidates {
            if self.check(branch, value, depth).is_ok() {
                return Ok(());
            }
        }
        first_result
    }
}

/// Finds the branch a `{"branch": value}` object names, if it is one.
fn tagged_branch<'t, 'i>(
    nodes: &[AvroNode],
    branches: &[usize],
    value: Value<'t, 'i>,
) -> Option<(usize, &'i str, Value<'t, 'i>)> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    let (key, inner) = object.iter().next()?;
    let branch = branches
        .iter()
        .copied()
        .find(|b| nodes[*b].branch_name() == key)?;
    Some((branch, key, inner))
}

/// Checks whether a JSON value has the shape a branch accepts, before the
/// full check.
fn shape_matches(node: &AvroNode, value: &Value<'_, '_>) -> bool {
    match node {
        AvroNode::Null => value.is_null(),
        AvroNode::Boolean => value.as_bool().is_some(),
        AvroNode::Int | AvroNode::Long => is_integer(value),
        AvroNode::Float | AvroNode::Double => is_number(value) || is_special_float(value),
        AvroNode::Bytes
        | AvroNode::String
        | AvroNode::Uuid
        | AvroNode::Fixed { .. }
        | AvroNode::Enum { .. } => value.as_str().is_some(),
        AvroNode::Array(_) => value.as_array().is_some(),
        AvroNode::Map(_) | AvroNode::Record { .. } => value.as_object().is_some(),
        AvroNode::Union(_) => false,
    }
}

fn expect(condition: bool, reason: &'static str) -> Result<(), Failure> {
    if condition {
        Ok(())
    } else {
        Err(Failure::new(reason))
    }
}

/// Set of the record fields seen so far: a bit mask, or a vector for records
/// of more than 128 fields.
struct FieldSet {
    bits: u128,
    spill: Vec<bool>,
}

impl FieldSet {
    fn new(len: usize) -> FieldSet {
        let spill = if len > 128 {
            vec![false; len]
        } else {
            Vec::new()
        };
        FieldSet { bits: 0, spill }
    }

    fn insert(&mut self, index: usize) -> bool {
        if self.spill.is_empty() {
            let bit = 1u128 << index;
            let fresh = self.bits & bit == 0;
            self.bits |= bit;
            fresh
        } else {
            !std::mem::replace(&mut self.spill[index], true)
        }
    }

    fn contains(&self, index: usize) -> bool {
        if self.spill.is_empty() {
            self.bits & (1u128 << index) != 0
        } else {
            self.spill[index]
        }
    }
}
