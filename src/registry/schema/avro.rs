//! Avro schema parsing (apache-avro's parser) and the canonical text.

use std::collections::HashSet;

use apache_avro::schema::{
    Alias, DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, Name, RecordField,
    RecordSchema, UuidSchema,
};
use apache_avro::Schema;

use super::json::write_canonical_json;
use super::{ResolvedReference, SchemaError, SchemaType};

/// Parses `text` with the named types of `refs` in scope and inlines the
/// referenced definitions, so the result needs no other schema to be read.
pub(super) fn parse(text: &str, refs: &[ResolvedReference]) -> Result<Schema, SchemaError> {
    // Parse as plain JSON first: apache-avro's errors carry no position.
    serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| SchemaError::json_syntax(SchemaType::Avro, &e))?;
    for reference in refs {
        serde_json::from_str::<serde_json::Value>(&reference.schema).map_err(|e| {
            SchemaError::invalid(
                SchemaType::Avro,
                format!("reference '{}' is not valid JSON: {e}", reference.name),
            )
        })?;
    }
    let invalid = |e: apache_avro::Error| SchemaError::invalid(SchemaType::Avro, e.to_string());
    let (mut schema, named) =
        Schema::parse_str_with_list(text, refs.iter().map(|r| r.schema.as_str()))
            .map_err(invalid)?;
    schema.denormalize(&named).map_err(invalid)?;
    Ok(schema)
}

/// Renders the Parsing Canonical Form of `schema` plus the attributes that
/// change schema resolution or the meaning of values: field defaults, enum
/// defaults, aliases and logical types with their parameters.
///
/// Keys come in a fixed order and default values have sorted keys, so equal
/// schemas give equal text. `doc`, `order` and custom attributes are dropped.
pub(super) fn canonical(schema: &Schema) -> String {
    let mut out = String::new();
    let mut defined = HashSet::new();
    write_schema(schema, &mut defined, &mut out);
    out
}

fn write_schema(schema: &Schema, defined: &mut HashSet<Name>, out: &mut String) {
    match schema {
        Schema::Null => out.push_str("\"null\""),
        Schema::Boolean => out.push_str("\"boolean\""),
        Schema::Int => out.push_str("\"int\""),
        Schema::Long => out.push_str("\"long\""),
        Schema::Float => out.push_str("\"float\""),
        Schema::Double => out.push_str("\"double\""),
        Schema::Bytes => out.push_str("\"bytes\""),
        Schema::String => out.push_str("\"string\""),
        Schema::Array(array) => {
            out.push_str("{\"type\":\"array\",\"items\":");
            write_schema(&array.items, defined, out);
            out.push('}');
        }
        Schema::Map(map) => {
            out.push_str("{\"type\":\"map\",\"values\":");
            write_schema(&map.types, defined, out);
            out.push('}');
        }
        Schema::Union(union) => {
            out.push('[');
            for (i, variant) in union.variants().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schema(variant, defined, out);
            }
            out.push(']');
        }
        Schema::Record(record) => write_record(record, defined, out),
        Schema::Enum(enum_schema) => write_enum(enum_schema, defined, out),
        Schema::Fixed(fixed) => write_fixed(fixed, "", defined, out),
        Schema::Ref { name } => write_json_string(name.as_ref(), out),
        logical => write_logical(logical, defined, out),
    }
}

/// Writes the logical types, which apache-avro parses into their own variants.
fn write_logical(schema: &Schema, defined: &mut HashSet<Name>, out: &mut String) {
    let (base, logical) = match schema {
        Schema::Decimal(decimal) => return write_decimal(decimal, defined, out),
        Schema::Uuid(UuidSchema::Fixed(fixed)) => {
            return write_fixed(fixed, ",\"logicalType\":\"uuid\"", defined, out);
        }
        Schema::Duration(fixed) => {
            return write_fixed(fixed, ",\"logicalType\":\"duration\"", defined, out);
        }
        Schema::Uuid(UuidSchema::String) => ("string", "uuid"),
        Schema::Uuid(UuidSchema::Bytes) => ("bytes", "uuid"),
        Schema::BigDecimal => ("bytes", "big-decimal"),
        Schema::Date => ("int", "date"),
        Schema::TimeMillis => ("int", "time-millis"),
        Schema::TimeMicros => ("long", "time-micros"),
        Schema::TimestampMillis => ("long", "timestamp-millis"),
        Schema::TimestampMicros => ("long", "timestamp-micros"),
        Schema::TimestampNanos => ("long", "timestamp-nanos"),
        Schema::LocalTimestampMillis => ("long", "local-timestamp-millis"),
        Schema::LocalTimestampMicros => ("long", "local-timestamp-micros"),
        Schema::LocalTimestampNanos => ("long", "local-timestamp-nanos"),
        other => unreachable!("write_schema handles {other:?} itself"),
    };
    out.push_str(&format!(
        "{{\"type\":\"{base}\",\"logicalType\":\"{logical}\"}}"
    ));
}

fn write_decimal(decimal: &DecimalSchema, defined: &mut HashSet<Name>, out: &mut String) {
    let attributes = format!(
        ",\"logicalType\":\"decimal\",\"precision\":{},\"scale\":{}",
        decimal.precision, decimal.scale
    );
    match &decimal.inner {
        InnerDecimalSchema::Bytes => {
            out.push_str("{\"type\":\"bytes\"");
            out.push_str(&attributes);
            out.push('}');
        }
        InnerDecimalSchema::Fixed(fixed) => write_fixed(fixed, &attributes, defined, out),
    }
}

/// Writes `"fullname"` for a name defined earlier and returns false, or
/// opens the definition object with its name and type and returns true.
fn open_named(kind: &str, name: &Name, defined: &mut HashSet<Name>, out: &mut String) -> bool {
    if !defined.insert(name.clone()) {
        write_json_string(name.as_ref(), out);
        return false;
    }
    out.push_str("{\"name\":");
    write_json_string(name.as_ref(), out);
    out.push_str(",\"type\":\"");
    out.push_str(kind);
    out.push('"');
    true
}

fn write_record(record: &RecordSchema, defined: &mut HashSet<Name>, out: &mut String) {
    if !open_named("record", &record.name, defined, out) {
        return;
    }
    out.push_str(",\"fields\":[");
    for (i, field) in record.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_field(field, defined, out);
    }
    out.push(']');
    write_aliases(record.aliases.as_deref(), out);
    out.push('}');
}

fn write_field(field: &RecordField, defined: &mut HashSet<Name>, out: &mut String) {
    out.push_str("{\"name\":");
    write_json_string(&field.name, out);
    out.push_str(",\"type\":");
    write_schema(&field.schema, defined, out);
    if let Some(default) = &field.default {
        out.push_str(",\"default\":");
        write_canonical_json(default, out);
    }
    if !field.aliases.is_empty() {
        out.push_str(",\"aliases\":");
        write_string_list(field.aliases.iter().map(String::as_str), out);
    }
    out.push('}');
}

fn write_enum(enum_schema: &EnumSchema, defined: &mut HashSet<Name>, out: &mut String) {
    if !open_named("enum", &enum_schema.name, defined, out) {
        return;
    }
    out.push_str(",\"symbols\":");
    write_string_list(enum_schema.symbols.iter().map(String::as_str), out);
    if let Some(default) = &enum_schema.default {
        out.push_str(",\"default\":");
        write_json_string(default, out);
    }
    write_aliases(enum_schema.aliases.as_deref(), out);
    out.push('}');
}

/// Writes a fixed type. `logical` contains the logical-type attributes,
/// each with a leading comma, or is empty.
fn write_fixed(fixed: &FixedSchema, logical: &str, defined: &mut HashSet<Name>, out: &mut String) {
    if !open_named("fixed", &fixed.name, defined, out) {
        return;
    }
    out.push_str(&format!(",\"size\":{}", fixed.size));
    out.push_str(logical);
    write_aliases(fixed.aliases.as_deref(), out);
    out.push('}');
}

fn write_aliases(aliases: Option<&[Alias]>, out: &mut String) {
    let Some(aliases) = aliases.filter(|a| !a.is_empty()) else {
        return;
    };
    let mut full_names: Vec<String> = aliases.iter().map(|a| a.fullname(None)).collect();
    full_names.sort();
    out.push_str(",\"aliases\":");
    write_string_list(full_names.iter().map(String::as_str), out);
}

fn write_string_list<'a>(items: impl Iterator<Item = &'a str>, out: &mut String) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(item, out);
    }
    out.push(']');
}

fn write_json_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::from(s).to_string());
}
