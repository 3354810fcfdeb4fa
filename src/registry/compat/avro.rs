//! Avro reader/writer compatibility by the schema-resolution rules of the
//! Avro specification, as Java's `org.apache.avro.SchemaCompatibility`
//! (which Confluent Schema Registry runs) applies them.
//!
//! apache-avro's own checker is not used: it ignores type aliases, compares
//! named-type references by name only, and compares decimal precision,
//! where the Java checker does the opposite.

use std::collections::{BTreeSet, HashMap};

use apache_avro::schema::{
    Alias, EnumSchema, FixedSchema, InnerDecimalSchema, Name, RecordField, RecordSchema, UuidSchema,
};
use apache_avro::Schema;

/// Lists why data written with `writer` cannot be read with `reader`.
pub(super) fn can_read(reader: &Schema, writer: &Schema) -> Vec<String> {
    let mut checker = Checker {
        reader_names: named_types(reader),
        writer_names: named_types(writer),
        results: HashMap::new(),
        location: Vec::new(),
    };
    checker
        .check(reader, writer)
        .into_iter()
        .map(|i| format!("{} at /{}: {}", i.kind, i.location, i.message))
        .collect()
}

/// One incompatibility, named as in Java's `SchemaIncompatibilityType`.
#[derive(Debug, Clone)]
struct Incompatibility {
    kind: &'static str,
    /// JSON-pointer-like path in the reader schema, without the leading `/`.
    location: String,
    message: String,
}

/// Avro types after logical types are reduced to the type that carries them
/// on the wire; the Java checker ignores logical types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array,
    Map,
    Union,
    Record,
    Enum,
    Fixed,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Int => "int",
            Kind::Long => "long",
            Kind::Float => "float",
            Kind::Double => "double",
            Kind::Bytes => "bytes",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Map => "map",
            Kind::Union => "union",
            Kind::Record => "record",
            Kind::Enum => "enum",
            Kind::Fixed => "fixed",
        }
    }
}

/// Returns the kind of a schema that is not a `Schema::Ref`.
fn kind(schema: &Schema) -> Kind {
    match schema {
        Schema::Null => Kind::Null,
        Schema::Boolean => Kind::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Kind::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Kind::Long,
        Schema::Float => Kind::Float,
        Schema::Double => Kind::Double,
        Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => Kind::Bytes,
        Schema::String | Schema::Uuid(UuidSchema::String) => Kind::String,
        Schema::Array(_) => Kind::Array,
        Schema::Map(_) => Kind::Map,
        Schema::Union(_) => Kind::Union,
        Schema::Record(_) => Kind::Record,
        Schema::Enum(_) => Kind::Enum,
        Schema::Decimal(decimal) => match decimal.inner {
            InnerDecimalSchema::Bytes => Kind::Bytes,
            InnerDecimalSchema::Fixed(_) => Kind::Fixed,
        },
        Schema::Fixed(_) | Schema::Uuid(UuidSchema::Fixed(_)) | Schema::Duration(_) => Kind::Fixed,
        Schema::Ref { name } => unreachable!("reference to {name} was not resolved"),
    }
}

/// Returns the fixed schema under a fixed type or a logical type on fixed.
fn fixed_of(schema: &Schema) -> Option<&FixedSchema> {
    match schema {
        Schema::Fixed(fixed) | Schema::Uuid(UuidSchema::Fixed(fixed)) | Schema::Duration(fixed) => {
            Some(fixed)
        }
        Schema::Decimal(decimal) => match &decimal.inner {
            InnerDecimalSchema::Fixed(fixed) => Some(fixed),
            InnerDecimalSchema::Bytes => None,
        },
        _ => None,
    }
}

/// Returns the name and aliases of a named type.
fn name_and_aliases(schema: &Schema) -> Option<(&Name, &[Alias])> {
    let (name, aliases) = match schema {
        Schema::Record(RecordSchema { name, aliases, .. })
        | Schema::Enum(EnumSchema { name, aliases, .. }) => (name, aliases),
        other => {
            let fixed = fixed_of(other)?;
            (&fixed.name, &fixed.aliases)
        }
    };
    Some((name, aliases.as_deref().unwrap_or_default()))
}

/// Maps the full name of every named type defined in `schema` to its
/// definition, so references can be resolved to what they point to.
fn named_types(schema: &Schema) -> HashMap<&Name, &Schema> {
    fn walk<'a>(schema: &'a Schema, names: &mut HashMap<&'a Name, &'a Schema>) {
        if let Some((name, _)) = name_and_aliases(schema) {
            names.insert(name, schema);
        }
        match schema {
            Schema::Record(record) => record.fields.iter().for_each(|f| walk(&f.schema, names)),
            Schema::Array(array) => walk(&array.items, names),
            Schema::Map(map) => walk(&map.types, names),
            Schema::Union(union) => union.variants().iter().for_each(|v| walk(v, names)),
            _ => {}
        }
    }
    let mut names = HashMap::new();
    walk(schema, &mut names);
    names
}

/// Result of a named (reader, writer) pair: `None` while it is being
/// checked higher up the stack, which breaks recursion.
type PairResult = Option<Vec<Incompatibility>>;

struct Checker<'a> {
    reader_names: HashMap<&'a Name, &'a Schema>,
    writer_names: HashMap<&'a Name, &'a Schema>,
    results: HashMap<(&'a Name, &'a Name), PairResult>,
    /// Path tokens from the schema root to the pair being checked.
    location: Vec<String>,
}

impl<'a> Checker<'a> {
    /// Checks a pair at the root location, as Java does for union branches.
    fn check(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Incompatibility> {
        let saved = std::mem::take(&mut self.location);
        let result = self.check_pair(reader, writer);
        self.location = saved;
        result
    }

    /// Checks a pair one path token below the current location.
    fn check_at(
        &mut self,
        token: &str,
        reader: &'a Schema,
        writer: &'a Schema,
    ) -> Vec<Incompatibility> {
        self.location.push(token.to_string());
        let result = self.check_pair(reader, writer);
        self.location.pop();
        result
    }

    fn check_pair(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Incompatibility> {
        let (Some(reader), Some(writer)) =
            (self.resolve(reader, true), self.resolve(writer, false))
        else {
            return vec![
                self.incompatible("UNRESOLVED_REFERENCE", "a named type is not defined".into())
            ];
        };
        let key = name_and_aliases(reader).zip(name_and_aliases(writer));
        let Some(((reader_name, _), (writer_name, _))) = key else {
            return self.compare(reader, writer);
        };
        // Named pairs are memoized: a pair met again while it is still being
        // checked is recursion and counts as compatible, as in Java.
        match self.results.get(&(reader_name, writer_name)) {
            Some(Some(result)) => return result.clone(),
            Some(None) => return Vec::new(),
            None => {}
        }
        self.results.insert((reader_name, writer_name), None);
        let result = self.compare(reader, writer);
        self.results
            .insert((reader_name, writer_name), Some(result.clone()));
        result
    }

    fn resolve(&self, schema: &'a Schema, is_reader: bool) -> Option<&'a Schema> {
        let names = if is_reader {
            &self.reader_names
        } else {
            &self.writer_names
        };
        match schema {
            Schema::Ref { name } => names.get(name).copied(),
            other => Some(other),
        }
    }

    fn incompatible(&self, kind: &'static str, message: String) -> Incompatibility {
        Incompatibility {
            kind,
            location: self.location.join("/"),
            message,
        }
    }

    fn type_mismatch(&self, reader: Kind, writer: Kind) -> Vec<Incompatibility> {
        let message = format!(
            "reader type {} is not compatible with writer type {}",
            reader.name(),
            writer.name()
        );
        vec![self.incompatible("TYPE_MISMATCH", message)]
    }

    fn compare(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Incompatibility> {
        let (reader_kind, writer_kind) = (kind(reader), kind(writer));
        if reader_kind == writer_kind {
            return self.compare_same_kind(reader, writer);
        }
        if let Schema::Union(union) = writer {
            // Every branch the writer may have used must be readable.
            return union
                .variants()
                .iter()
                .flat_map(|branch| self.check(reader, branch))
                .collect();
        }
        let promoted = matches!(
            (reader_kind, writer_kind),
            (Kind::Long, Kind::Int)
                | (Kind::Float, Kind::Int | Kind::Long)
                | (Kind::Double, Kind::Int | Kind::Long | Kind::Float)
                | (Kind::Bytes, Kind::String)
                | (Kind::String, Kind::Bytes)
        );
        match reader {
            _ if promoted => Vec::new(),
            Schema::Union(union) => {
                // Try the branch with the writer's name first: any compatible
                // branch gives the same answer, and for wide unions of named
                // types this avoids checking every pair of branches.
                if let Some((writer_name, _)) = name_and_aliases(writer) {
                    let same_name = union.variants().iter().find(|branch| {
                        name_and_aliases(branch)
                            .is_some_and(|(n, _)| n.name() == writer_name.name())
                    });
                    if same_name.is_some_and(|branch| self.check(branch, writer).is_empty()) {
                        return Vec::new();
                    }
                }
                let readable = union
                    .variants()
                    .iter()
                    .any(|branch| self.check(branch, writer).is_empty());
                if readable {
                    return Vec::new();
                }
                let message = format!("reader union lacks writer type {}", writer_kind.name());
                vec![self.incompatible("MISSING_UNION_BRANCH", message)]
            }
            _ => self.type_mismatch(reader_kind, writer_kind),
        }
    }

    fn compare_same_kind(
        &mut self,
        reader: &'a Schema,
        writer: &'a Schema,
    ) -> Vec<Incompatibility> {
        match (reader, writer) {
            (Schema::Array(r), Schema::Array(w)) => self.check_at("items", &r.items, &w.items),
            (Schema::Map(r), Schema::Map(w)) => self.check_at("values", &r.types, &w.types),
            (Schema::Record(r), Schema::Record(w)) => {
                let mut result = self.compare_names(reader, writer);
                result.extend(self.compare_fields(r, w, writer));
                result
            }
            (Schema::Enum(r), Schema::Enum(w)) => {
                let mut result = self.compare_names(reader, writer);
                result.extend(self.compare_symbols(r, w));
                result
            }
            (Schema::Union(_), Schema::Union(w)) => self.compare_writer_union(reader, w.variants()),
            _ => match (fixed_of(reader), fixed_of(writer)) {
                (Some(r), Some(w)) => {
                    let mut result = self.compare_names(reader, writer);
                    result.extend(self.compare_sizes(r, w));
                    result
                }
                // Primitives of one kind; decimal precision and scale are not compared.
                _ => Vec::new(),
            },
        }
    }

    fn compare_writer_union(
        &mut self,
        reader: &'a Schema,
        branches: &'a [Schema],
    ) -> Vec<Incompatibility> {
        let mut result = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            if self.check(reader, branch).is_empty() {
                continue;
            }
            self.location.push(i.to_string());
            let branch_kind = self
                .resolve(branch, false)
                .map_or("undefined", |b| kind(b).name());
            let message = format!("reader union lacks writer type {branch_kind}");
            result.push(self.incompatible("MISSING_UNION_BRANCH", message));
            self.location.pop();
        }
        result
    }

    /// Names match by unqualified name, or when a reader alias is the
    /// writer's full name.
    fn compare_names(&mut self, reader: &Schema, writer: &Schema) -> Vec<Incompatibility> {
        let (Some((reader_name, aliases)), Some((writer_name, _))) =
            (name_and_aliases(reader), name_and_aliases(writer))
        else {
            return Vec::new();
        };
        let writer_full_name = writer_name.to_string();
        let matches = reader_name.name() == writer_name.name()
            || aliases
                .iter()
                .any(|alias| alias.fullname(None) == writer_full_name);
        if matches {
            return Vec::new();
        }
        self.location.push("name".into());
        let message = format!("expected name {writer_full_name}, found {reader_name}");
        let result = vec![self.incompatible("NAME_MISMATCH", message)];
        self.location.pop();
        result
    }

    fn compare_sizes(
        &mut self,
        reader: &FixedSchema,
        writer: &FixedSchema,
    ) -> Vec<Incompatibility> {
        if reader.size == writer.size {
            return Vec::new();
        }
        self.location.push("size".into());
        let message = format!("expected size {}, found {}", writer.size, reader.size);
        let result = vec![self.incompatible("FIXED_SIZE_MISMATCH", message)];
        self.location.pop();
        result
    }

    /// Writer symbols missing from the reader are allowed only when the
    /// reader enum has a default symbol.
    fn compare_symbols(
        &mut self,
        reader: &EnumSchema,
        writer: &EnumSchema,
    ) -> Vec<Incompatibility> {
        let missing: BTreeSet<&String> = writer
            .symbols
            .iter()
            .filter(|s| !reader.symbols.contains(s))
            .collect();
        let has_default = reader
            .default
            .as_ref()
            .is_some_and(|d| reader.symbols.contains(d));
        if missing.is_empty() || has_default {
            return Vec::new();
        }
        self.location.push("symbols".into());
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        let message = format!("reader enum lacks writer symbols [{}]", list.join(", "));
        let result = vec![self.incompatible("MISSING_ENUM_SYMBOLS", message)];
        self.location.pop();
        result
    }

    fn compare_fields(
        &mut self,
        reader: &'a RecordSchema,
        writer: &'a RecordSchema,
        writer_schema: &'a Schema,
    ) -> Vec<Incompatibility> {
        let mut result = Vec::new();
        self.location.push("fields".into());
        for (position, field) in reader.fields.iter().enumerate() {
            self.location.push(position.to_string());
            result.extend(self.compare_field(field, writer, writer_schema));
            self.location.pop();
        }
        self.location.pop();
        result
    }

    fn compare_field(
        &mut self,
        field: &'a RecordField,
        writer: &'a RecordSchema,
        writer_schema: &'a Schema,
    ) -> Vec<Incompatibility> {
        let matches = writer_fields_for(field, writer);
        match matches.as_slice() {
            [writer_field] => self.check_at("type", &field.schema, &writer_field.schema),
            [] if field.default.is_some() => Vec::new(),
            [] if is_enum_with_default(self.resolve(&field.schema, true)) => {
                // Java compares the enum with the writer record itself here,
                // which is always a type mismatch: an enum default does not
                // stand in for a field default.
                self.check_at("type", &field.schema, writer_schema)
            }
            [] => {
                let message = format!(
                    "field '{}' has no default and is missing from the writer",
                    field.name
                );
                vec![self.incompatible("READER_FIELD_MISSING_DEFAULT_VALUE", message)]
            }
            _ => {
                let message = format!(
                    "field '{}' matches several writer fields by name or alias",
                    field.name
                );
                vec![self.incompatible("READER_FIELD_AMBIGUOUS", message)]
            }
        }
    }
}

/// Finds the writer fields named like the reader field or one of its
/// aliases; writer aliases are not used, as in Java.
fn writer_fields_for<'a>(field: &RecordField, writer: &'a RecordSchema) -> Vec<&'a RecordField> {
    let names = std::iter::once(&field.name).chain(field.aliases.iter());
    let mut found: Vec<&RecordField> = Vec::new();
    for name in names {
        if let Some(w) = writer.fields.iter().find(|w| &w.name == name) {
            if !found.iter().any(|f| std::ptr::eq(*f, w)) {
                found.push(w);
            }
        }
    }
    found
}

fn is_enum_with_default(schema: Option<&Schema>) -> bool {
    matches!(schema, Some(Schema::Enum(e)) if e.default.is_some())
}
