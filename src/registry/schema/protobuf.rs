//! Protobuf schema parsing: `.proto` text compiled at run time with protox,
//! imports served from the schema's references.

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{ResolvedReference, SchemaError, SchemaType};

/// File name the main schema compiles under; imports name references by
/// their own names, so this one only has to differ from them.
const MAIN_FILE_NAME: &str = "__schema__.proto";

/// A compiled `.proto` file, with its imports in the same descriptor pool.
#[derive(Debug, Clone)]
pub struct ProtobufSchema {
    file: FileDescriptor,
    text: String,
}

impl ProtobufSchema {
    /// Returns the descriptor of the main file.
    pub fn file(&self) -> &FileDescriptor {
        &self.file
    }

    /// Returns the pool holding the main file and every file it imports.
    pub fn pool(&self) -> &DescriptorPool {
        self.file.parent_pool()
    }

    /// Returns the `.proto` source text of the main file.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Serves the main file and the references from memory.
struct MemoryResolver {
    sources: HashMap<String, String>,
}

impl FileResolver for MemoryResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.sources.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Compiles `text` with `refs` as importable files. Well-known types
/// (`google/protobuf/*.proto`) resolve without a reference.
pub(super) fn parse(text: &str, refs: &[ResolvedReference]) -> Result<ProtobufSchema, SchemaError> {
    check_syntax(MAIN_FILE_NAME, text, None)?;
    let mut sources = HashMap::with_capacity(refs.len() + 1);
    for reference in refs {
        if reference.name == MAIN_FILE_NAME {
            return Err(SchemaError::invalid(
                SchemaType::Protobuf,
                format!("reference name '{MAIN_FILE_NAME}' is reserved"),
            ));
        }
        check_syntax(&reference.name, &reference.schema, Some(&reference.name))?;
        sources.insert(reference.name.clone(), reference.schema.clone());
    }
    sources.insert(MAIN_FILE_NAME.to_string(), text.to_string());

    let mut resolver = ChainFileResolver::new();
    resolver.add(MemoryResolver { sources });
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler
        .open_file(MAIN_FILE_NAME)
        .map_err(|e| SchemaError::invalid(SchemaType::Protobuf, e.to_string()))?;
    let file = compiler
        .descriptor_pool()
        .get_file_by_name(MAIN_FILE_NAME)
        .expect("the compiled pool contains the opened file");
    Ok(ProtobufSchema {
        file,
        text: text.to_string(),
    })
}

/// Parses one file on its own, so a syntax error gets its line and column,
/// which protox's compile error does not expose.
fn check_syntax(name: &str, source: &str, reference: Option<&str>) -> Result<(), SchemaError> {
    let Err(error) = protox_parse::parse(name, source) else {
        return Ok(());
    };
    let offset = error.span().map_or(0, |span| span.start);
    let (line, column) = line_and_column(source, offset);
    let message = match reference {
        Some(reference) => format!("in reference '{reference}': {error}"),
        None => error.to_string(),
    };
    Err(SchemaError::Syntax {
        schema_type: SchemaType::Protobuf,
        line,
        column,
        message,
    })
}

/// Converts a byte offset into a 1-based line and column (in characters).
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Renders the source tokens of the main file, without comments, joined by
/// single spaces: layout and comments do not change the id.
pub(super) fn canonical(schema: &ProtobufSchema) -> String {
    tokens(&schema.text).join(" ")
}

/// Splits `.proto` source into identifiers or numbers, string literals and
/// single punctuation characters, dropping whitespace and comments.
fn tokens(source: &str) -> Vec<&str> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b if b.is_ascii_whitespace() => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                tokens.push(&source[start..i]);
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(&source[start..i]);
            }
            _ => {
                i += source[i..].chars().next().map_or(1, char::len_utf8);
                tokens.push(&source[start..i]);
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_drop_comments_and_layout() {
        let spaced = "syntax = \"proto3\";\n// note\nmessage A {\n  int32 x = 1; /* c */\n}\n";
        let dense = "syntax=\"proto3\";message A{int32 x=1;}";
        assert_eq!(tokens(spaced), tokens(dense));
        assert_eq!(
            tokens(dense).join(" "),
            "syntax = \"proto3\" ; message A { int32 x = 1 ; }"
        );
    }

    #[test]
    fn tokens_keep_string_contents() {
        assert_eq!(
            tokens("'a // b' \"c\\\"d\""),
            vec!["'a // b'", "\"c\\\"d\""]
        );
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }
}
