//! Avro schemas compiled into a flat node table for validation.
//!
//! Named types are entered in the table before their contents, so recursive
//! schemas become cycles of node indexes rather than recursion at compile
//! time. Logical types compile to the type that carries them, since the JSON
//! and binary encodings only see that type.

use std::collections::HashMap;

use apache_avro::schema::{InnerDecimalSchema, Name, UuidSchema};
use apache_avro::Schema;

/// One schema node; children are indexes into [`AvroValidator::nodes`].
#[derive(Clone, Debug)]
pub(crate) enum AvroNode {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    /// A string that must be a hyphenated UUID.
    Uuid,
    Fixed {
        name: String,
        size: usize,
    },
    Enum {
        name: String,
        symbols: Vec<String>,
    },
    Array(usize),
    Map(usize),
    Record {
        name: String,
        fields: Vec<AvroField>,
    },
    Union(Vec<usize>),
}

#[derive(Clone, Debug)]
pub(crate) struct AvroField {
    pub name: String,
    pub node: usize,
}

impl AvroNode {
    /// Returns the key that tags this branch of a union in the Avro JSON
    /// encoding: the type name, or the full name of a named type.
    pub fn branch_name(&self) -> &str {
        match self {
            AvroNode::Null => "null",
            AvroNode::Boolean => "boolean",
            AvroNode::Int => "int",
            AvroNode::Long => "long",
            AvroNode::Float => "float",
            AvroNode::Double => "double",
            AvroNode::Bytes => "bytes",
            AvroNode::String | AvroNode::Uuid => "string",
            AvroNode::Array(_) => "array",
            AvroNode::Map(_) => "map",
            AvroNode::Union(_) => "union",
            AvroNode::Fixed { name, .. }
            | AvroNode::Enum { name, .. }
            | AvroNode::Record { name, .. } => name,
        }
    }
}

/// A compiled Avro schema: validates JSON values and binary datums.
#[derive(Clone, Debug)]
pub struct AvroValidator {
    pub(crate) nodes: Vec<AvroNode>,
    pub(crate) root: usize,
    /// Lower bound on each node's binary size in bytes, used to reject
    /// collection counts that the remaining bytes cannot hold.
    pub(crate) size_min_bytes: Vec<usize>,
}

struct Compiler {
    nodes: Vec<AvroNode>,
    names: HashMap<String, usize>,
}

impl AvroValidator {
    /// Compiles `schema`; `named` holds the parsed schemas its references
    /// name, so that `Ref` nodes resolve.
    pub fn new(schema: &Schema, named: &[Schema]) -> Result<AvroValidator, String> {
        let mut compiler = Compiler {
            nodes: Vec::new(),
            names: HashMap::new(),
        };
        for dependency in named {
            compiler.compile(dependency)?;
        }
        let root = compiler.compile(schema)?;
        let size_min_bytes = size_lower_bounds(&compiler.nodes);
        Ok(AvroValidator {
            nodes: compiler.nodes,
            root,
            size_min_bytes,
        })
    }
}

fn full_name(name: &Name) -> String {
    name.fullname(None)
}

impl Compiler {
    fn push(&mut self, node: AvroNode) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Reserves a slot for a named type so references inside it resolve.
    fn reserve(&mut self, name: String) -> usize {
        let index = self.push(AvroNode::Null);
        self.names.insert(name, index);
        index
    }

    fn compile(&mut self, schema: &Schema) -> Result<usize, String> {
        let node = match schema {
            Schema::Null => AvroNode::Null,
            Schema::Boolean => AvroNode::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => AvroNode::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => AvroNode::Long,
            Schema::Float => AvroNode::Float,
            Schema::Double => AvroNode::Double,
            Schema::Bytes | Schema::BigDecimal => AvroNode::Bytes,
            Schema::String => AvroNode::String,
            Schema::Uuid(UuidSchema::String) => AvroNode::Uuid,
            Schema::Uuid(UuidSchema::Bytes) => AvroNode::Bytes,
            Schema::Decimal(decimal) => match &decimal.inner {
                InnerDecimalSchema::Bytes => AvroNode::Bytes,
                InnerDecimalSchema::Fixed(fixed) => return Ok(self.fixed(fixed)),
            },
            Schema::Uuid(UuidSchema::Fixed(fixed))
            | Schema::Fixed(fixed)
            | Schema::Duration(fixed) => {
                return Ok(self.fixed(fixed));
            }
            Schema::Enum(e) => {
                let name = full_name(&e.name);
                let index = self.reserve(name.clone());
                self.nodes[index] = AvroNode::Enum {
                    name,
                    symbols: e.symbols.clone(),
                };
                return Ok(index);
            }
            Schema::Record(record) => return self.record(record),
            Schema::Array(array) => AvroNode::Array(self.compile(&array.items)?),
            Schema::Map(map) => AvroNode::Map(self.compile(&map.types)?),
            Schema::Union(union) => {
                let mut branches = Vec::with_capacity(union.variants().len());
                for variant in union.variants() {
                    branches.push(self.compile(variant)?);
                }
                AvroNode::Union(branches)
            }
            Schema::Ref { name } => {
                let name = full_name(name);
                return self
                    .names
                    .get(&name)
                    .copied()
                    .ok_or_else(|| format!("unknown Avro type name {name}"));
            }
        };
        Ok(self.push(node))
    }

    fn fixed(&mut self, fixed: &apache_avro::schema::FixedSchema) -> usize {
        let name = full_name(&fixed.name);
        let index = self.reserve(name.clone());
        self.nodes[index] = AvroNode::Fixed {
            name,
            size: fixed.size,
        };
        index
    }

    fn record(&mut self, record: &apache_avro::schema::RecordSchema) -> Result<usize, String> {
        let name = full_name(&record.name);
        let index = self.reserve(name.clone());
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            fields.push(AvroField {
                name: field.name.clone(),
                node: self.compile(&field.schema)?,
            });
        }
        self.nodes[index] = AvroNode::Record { name, fields };
        Ok(index)
    }
}

/// Computes a lower bound on each node's binary size. A node met again while
/// its own bound is being computed (a recursive type) counts as 0 there,
/// which keeps every result a lower bound.
fn size_lower_bounds(nodes: &[AvroNode]) -> Vec<usize> {
    let mut sizes: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut in_progress = vec![false; nodes.len()];
    for index in 0..nodes.len() {
        size_lower_bound(nodes, index, &mut sizes, &mut in_progress);
    }
    sizes.into_iter().map(|s| s.unwrap_or(0)).collect()
}

fn size_lower_bound(
    nodes: &[AvroNode],
    index: usize,
    sizes: &mut [Option<usize>],
    in_progress: &mut [bool],
) -> usize {
    if let Some(size) = sizes[index] {
        return size;
    }
    if in_progress[index] {
        return 0;
    }
    in_progress[index] = true;
    let size = match &nodes[index] {
        AvroNode::Null => 0,
        AvroNode::Float => 4,
        AvroNode::Double => 8,
        AvroNode::Fixed { size, .. } => *size,
        AvroNode::Record { fields, .. } => fields.iter().fold(0usize, |total, field| {
            total.saturating_add(size_lower_bound(nodes, field.node, sizes, in_progress))
        }),
        // A varint, a length, a count or a union index: at least one byte.
        _ => 1,
    };
    in_progress[index] = false;
    sizes[index] = Some(size);
    size
}
