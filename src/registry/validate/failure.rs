//! The internal failure type of the validators and its JSON-path rendering.
//!
//! Validators push path segments while a failure propagates outwards, so the
//! success path builds no path at all.

use std::borrow::Cow;

/// One step of the path to the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
}

/// Why a value failed, and where: segments are innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub path: Vec<Segment>,
    pub reason: Cow<'static, str>,
}

impl Failure {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Failure {
        Failure {
            path: Vec::new(),
            reason: reason.into(),
        }
    }

    pub fn at_field(mut self, name: &str) -> Failure {
        self.path.push(Segment::Field(name.to_owned()));
        self
    }

    pub fn at_index(mut self, index: usize) -> Failure {
        self.path.push(Segment::Index(index));
        self
    }

    /// Renders the path as `$.items[2].price`; keys that are not plain
    /// identifiers are quoted, as in `$["a key"]`.
    pub fn path_text(&self) -> String {
        let mut text = String::from("$");
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Index(i) => {
                    text.push('[');
                    text.push_str(&i.to_string());
                    text.push(']');
                }
                Segment::Field(name) if is_identifier(name) => {
                    text.push('.');
                    text.push_str(name);
                }
                Segment::Field(name) => {
                    text.push('[');
                    text.push_str(&serde_json::Value::from(name.as_str()).to_string());
                    text.push(']');
                }
            }
        }
        text
    }
}

/// Describes a simd-json error in plain words: serde's own message for a
/// value that does not fit, else the kind of syntax error and its byte.
/// simd-json's `Display` shows enum names such as `InternalError(TapeError)`.
pub(crate) fn json_error_text(error: &simd_json::Error) -> String {
    let kind = match error.error() {
        simd_json::ErrorType::Serde(message) => return message.clone(),
        simd_json::ErrorType::InternalError(_) | simd_json::ErrorType::Syntax => String::new(),
        simd_json::ErrorType::Eof => " (the value ends early)".to_owned(),
        other => format!(" ({})", words_of(&format!("{other:?}"))),
    };
    // simd-json reports byte 0 for errors it cannot place, such as a bad
    // escape or invalid UTF-8 inside a string, so 0 is left out.
    match error.index() {
        0 => format!("invalid JSON{kind}"),
        byte => format!("invalid JSON at byte {byte}{kind}"),
    }
}

/// Turns a CamelCase name into lower-case words: `ExpectedObjectColon`
/// becomes `expected object colon`.
fn words_of(name: &str) -> String {
    let mut words = String::with_capacity(name.len() + 8);
    for c in name.chars().take_while(|c| c.is_alphanumeric()) {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the hyphenated form `8-4-4-4-12` of hexadecimal digits.
pub(crate) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_renders_fields_and_indexes() {
        let failure = Failure::new("x")
            .at_field("price")
            .at_index(2)
            .at_field("items");
        assert_eq!(failure.path_text(), "$.items[2].price");
    }

    #[test]
    fn path_quotes_odd_keys() {
        let failure = Failure::new("x").at_field("a \"b\"");
        assert_eq!(failure.path_text(), r#"$["a \"b\""]"#);
    }

    #[test]
    fn camel_case_names_become_words() {
        assert_eq!(words_of("ExpectedObjectColon"), "expected object colon");
        assert_eq!(words_of("InvalidUtf8"), "invalid utf8");
        assert_eq!(words_of("BadKeyType(x)"), "bad key type");
    }

    #[test]
    fn uuid_format_checked() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
