//! Parsing of Datagen `arg.properties` hints on primitive types, arrays and
//! maps, with the defaults used where a schema gives none.

use serde_json::{Map, Value};

use super::node::{IntGen, Kind, Length, StringGen};

/// Maximum length of a string, bytes, array, map or fixed that a schema may ask for.
pub(super) const LENGTH_MAX: u32 = 1 << 16;
/// Default length of strings and bytes without a hint: 1 to 16.
const TEXT_LENGTH_DEFAULT: Length = Length {
    min: 1,
    max_exclusive: 17,
};
/// Default item count of arrays and maps without a hint: 0 to 4.
pub(super) const COLLECTION_LENGTH_DEFAULT: Length = Length {
    min: 0,
    max_exclusive: 5,
};
/// Repeat count that `*`, `+` and `{n,}` in a regex hint stop at.
const REGEX_REPEAT_MAX: u32 = 16;
/// Default range of `date` values: days since 1970-01-01 from 2020-01-01 to 2030-01-01.
const DAYS_2020_TO_2030: (i64, i64) = (18_262, 21_915);
/// Default range of `timestamp-millis` values: 2020-01-01 to 2030-01-01 UTC.
const MILLIS_2020_TO_2030: (i64, i64) = (1_577_836_800_000, 1_893_456_000_000);

/// Returns the `arg.properties` object, or an empty one.
pub(super) fn hints_of(
    object: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, String> {
    match object.get("arg.properties") {
        None => Ok(Map::new()),
        Some(Value::Object(hints)) => Ok(hints.clone()),
        Some(_) => Err(format!("{path}: arg.properties must be an object")),
    }
}

pub(super) fn check_hint_keys(
    type_name: &str,
    hints: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    let allowed: &[&str] = match type_name {
        "int" | "long" => &["options", "iteration", "range"],
        "float" | "double" => &["options", "range"],
        "string" => &["options", "regex", "length"],
        "bytes" | "array" | "map" => &["options", "length"],
        _ => &["options"],
    };
    match hints.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "{path}: arg.properties `{key}` is not supported on {type_name}; \
             supported: {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// Compiles a primitive type with its hints, or returns `None` for a name
/// that is not a primitive. Without hints, `date`, `timestamp-millis` and
/// `uuid` values look real: dates and times fall in 2020 to 2029.
pub(super) fn primitive(
    name: &str,
    logical_type: Option<&str>,
    hints: &Map<String, Value>,
    path: &str,
) -> Result<Option<Kind>, String> {
    let int_bounds = (i64::from(i32::MIN), i64::from(i32::MAX));
    let long_bounds = (i64::MIN, i64::MAX);
    let kind = match (name, logical_type) {
        ("null", _) => Kind::Null,
        ("boolean", _) => Kind::Boolean,
        ("int", Some("date")) => integer_kind(int_bounds, DAYS_2020_TO_2030, hints, path)?,
        ("int", _) => integer_kind(int_bounds, int_bounds, hints, path)?,
        ("long", Some("timestamp-millis")) => {
            integer_kind(long_bounds, MILLIS_2020_TO_2030, hints, path)?
        }
        ("long", _) => integer_kind(long_bounds, long_bounds, hints, path)?,
        ("string", Some("uuid")) if hints.is_empty() => Kind::String {
            generator: StringGen::Uuid,
        },
        ("float" | "double", _) => {
            let (min, max) = real_range(hints, path)?;
            let single = name == "float";
            Kind::Real { single, min, max }
        }
        ("bytes", _) => Kind::Bytes {
            length: parse_length(hints, TEXT_LENGTH_DEFAULT, path)?,
        },
        ("string", _) => Kind::String {
            generator: string_generator(hints, path)?,
        },
        _ => return Ok(None),
    };
    Ok(Some(kind))
}

/// Compiles an int or long whose values lie in `bounds` (the type's limits,
/// inclusive). Without a `range` hint, values fall in `default_range`.
pub(super) fn integer_kind(
    (min, max): (i64, i64),
    default_range: (i64, i64),
    hints: &Map<String, Value>,
    path: &str,
) -> Result<Kind, String> {
    let (low, high) = match hints.get("range") {
        None => default_range,
        Some(range) => {
            let bound = |key: &str, default: i64| {
                range
                    .get(key)
                    .map_or(Ok(default), |v| integer(v, min, max, path))
            };
            (bound("min", min)?, bound("max", max)?)
        }
    };
    if low >= high {
        return Err(format!("{path}: range min {low} must be below max {high}"));
    }
    Ok(Kind::Integer {
        min,
        max,
        generator: IntGen::Range {
            min: low,
            max_exclusive: high,
        },
    })
}

pub(super) fn integer(value: &Value, min: i64, max: i64, path: &str) -> Result<i64, String> {
    value
        .as_i64()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("{path}: {value} is not an integer from {min} to {max}"))
}

/// Returns the `range` of a float or double; default 0 to 1000.
pub(super) fn real_range(hints: &Map<String, Value>, path: &str) -> Result<(f64, f64), String> {
    let range = hints.get("range");
    let bound = |key: &str, default: f64| match range.and_then(|r| r.get(key)) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{path}: range {key} {v} is not a finite number")),
    };
    let (min, max) = (bound("min", 0.0)?, bound("max", 1000.0)?);
    if min >= max {
        return Err(format!("{path}: range min {min} must be below max {max}"));
    }
    Ok((min, max))
}

pub(super) fn string_generator(
    hints: &Map<String, Value>,
    path: &str,
) -> Result<StringGen, String> {
    let Some(pattern) = hints.get("regex") else {
        return Ok(StringGen::Random(parse_length(
            hints,
            TEXT_LENGTH_DEFAULT,
            path,
        )?));
    };
    let pattern = pattern
        .as_str()
        .ok_or_else(|| format!("{path}: `regex` must be a string"))?;
    let regex = rand_regex::Regex::compile(pattern, REGEX_REPEAT_MAX)
        .map_err(|e| format!("{path}: invalid regex {pattern:?}: {e}"))?;
    if regex.encoding() == rand_regex::Encoding::Binary {
        return Err(format!(
            "{path}: regex {pattern:?} can produce non-UTF-8 bytes"
        ));
    }
    Ok(StringGen::Regex(Box::new(regex)))
}

/// Parses a `length` hint: a number, or `{"min": a, "max": b}` with `b` exclusive.
pub(super) fn parse_length(
    hints: &Map<String, Value>,
    default: Length,
    path: &str,
) -> Result<Length, String> {
    let Some(length) = hints.get("length") else {
        return Ok(default);
    };
    let count = |value: &Value| {
        value
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v <= LENGTH_MAX)
            .ok_or_else(|| format!("{path}: length {value} is not a count up to {LENGTH_MAX}"))
    };
    let (min, max_exclusive) = match length {
        Value::Object(bounds) => {
            let min = bounds.get("min").map_or(Ok(0), count)?;
            let max = bounds.get("max").map_or(Ok(min + 1), count)?;
            (min, max)
        }
        exact => {
            let exact = count(exact)?;
            (exact, exact + 1)
        }
    };
    if min >= max_exclusive {
        return Err(format!(
            "{path}: length min {min} must be below max {max_exclusive}"
        ));
    }
    Ok(Length { min, max_exclusive })
}
