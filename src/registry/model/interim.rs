//! Minimal schema parsing and compatibility checks with the same API as
//! `registry::schema` and `registry::compat`, so that the model, validators and
//! REST API build and run before those modules are merged.
//!
//! Runs on the control-plane thread (registration) and wherever validators
//! are compiled. Replace by re-exporting the real modules in `model.rs`.

/// Schema parsing: formats, references and the parsed forms.
pub mod schema {
    use std::fmt;

    /// The schema formats the registry stores.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum SchemaType {
        Avro,
        Protobuf,
        Json,
    }

    /// A reference with the text of the schema it names, dependencies first.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ResolvedReference {
        pub name: String,
        pub schema: String,
    }

    /// A schema after parsing; Protobuf keeps the compiled file descriptor.
    #[derive(Clone, Debug)]
    pub enum ParsedSchema {
        Avro(apache_avro::Schema),
        Protobuf(prost_reflect::FileDescriptor),
        Json(serde_json::Value),
    }

    /// A schema text that failed to parse.
    #[derive(Debug)]
    pub struct SchemaError(pub String);

    impl fmt::Display for SchemaError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for SchemaError {}

    /// File name given to the schema being parsed when it is compiled with its
    /// Protobuf imports.
    const PROTOBUF_ROOT_FILE: &str = "ringbus_root_schema.proto";

    /// Parses `text` as a schema of type `t`, resolving names against `refs`.
    pub fn parse(
        t: SchemaType,
        text: &str,
        refs: &[ResolvedReference],
    ) -> Result<ParsedSchema, SchemaError> {
        match t {
            SchemaType::Avro => parse_avro(text, refs),
            SchemaType::Protobuf => parse_protobuf(text, refs),
            SchemaType::Json => serde_json::from_str(text)
                .map(ParsedSchema::Json)
                .map_err(|e| SchemaError(format!("invalid JSON Schema: {e}"))),
        }
    }

    fn parse_avro(text: &str, refs: &[ResolvedReference]) -> Result<ParsedSchema, SchemaError> {
        let parsed = if refs.is_empty() {
            apache_avro::Schema::parse_str(text)
        } else {
            apache_avro::Schema::parse_str_with_list(text, refs.iter().map(|r| &r.schema))
                .map(|(schema, _)| schema)
        };
        parsed
            .map(ParsedSchema::Avro)
            .map_err(|e| SchemaError(format!("invalid Avro schema: {e}")))
    }

    struct MemoryFiles {
        root: String,
        refs: Vec<ResolvedReference>,
    }

    impl protox::file::FileResolver for MemoryFiles {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            if name == PROTOBUF_ROOT_FILE {
                return protox::file::File::from_source(name, &self.root);
            }
            match self.refs.iter().find(|r| r.name == name) {
                Some(r) => protox::file::File::from_source(name, &r.schema),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }

    fn parse_protobuf(text: &str, refs: &[ResolvedReference]) -> Result<ParsedSchema, SchemaError> {
        let invalid = |e: protox::Error| SchemaError(format!("invalid Protobuf schema: {e}"));
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(MemoryFiles {
            root: text.to_owned(),
            refs: refs.to_vec(),
        });
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.open_file(PROTOBUF_ROOT_FILE).map_err(invalid)?;
        let pool = compiler.descriptor_pool();
        pool.get_file_by_name(PROTOBUF_ROOT_FILE)
            .map(ParsedSchema::Protobuf)
            .ok_or_else(|| SchemaError("Protobuf schema compiled to no file".to_owned()))
    }

    /// Returns the text that identifies a schema: two registrations with the
    /// same canonical text and references get the same id.
    pub fn canonical(p: &ParsedSchema) -> String {
        match p {
            // Serializing the parsed schema drops whitespace and keeps defaults,
            // docs and custom attributes, which Parsing Canonical Form would drop.
            ParsedSchema::Avro(schema) => serde_json::to_string(schema).unwrap_or_default(),
            ParsedSchema::Protobuf(file) => {
                use prost::Message;
                let bytes = file.file_descriptor_proto().encode_to_vec();
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
            ParsedSchema::Json(value) => value.to_string(),
        }
    }
}

/// Compatibility levels and the check run on registration.
pub mod compat {
    use super::schema::ParsedSchema;

    /// Compatibility level: the earlier versions a new schema is checked
    /// against, and in which direction.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum CompatibilityLevel {
        None,
        Backward,
        BackwardTransitive,
        Forward,
        ForwardTransitive,
        Full,
        FullTransitive,
    }

    /// Checks `new` against `history` (oldest first) at `level`; an empty
    /// result means compatible.
    pub fn check(
        level: CompatibilityLevel,
        new: &ParsedSchema,
        history: &[ParsedSchema],
    ) -> Vec<String> {
        use CompatibilityLevel as L;
        let (backward, forward, transitive) = match level {
            L::None => return Vec::new(),
            L::Backward => (true, false, false),
            L::BackwardTransitive => (true, false, true),
            L::Forward => (false, true, false),
            L::ForwardTransitive => (false, true, true),
            L::Full => (true, true, false),
            L::FullTransitive => (true, true, true),
        };
        let earlier = if transitive {
            history
        } else {
            &history[history.len().saturating_sub(1)..]
        };
        let mut messages = Vec::new();
        for old in earlier.iter().rev() {
            if backward {
                messages.extend(can_read(new, old));
            }
            if forward {
                messages.extend(can_read(old, new));
            }
        }
        messages
    }

    fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Option<String> {
        use apache_avro::schema_compatibility::SchemaCompatibility;
        match (reader, writer) {
            (ParsedSchema::Avro(reader), ParsedSchema::Avro(writer)) => {
                SchemaCompatibility::can_read(writer, reader)
                    .err()
                    .map(|e| e.to_string())
            }
            // TODO: Protobuf and JSON Schema compatibility come with the compat
            // module; until it is merged these pairs are reported compatible.
            (ParsedSchema::Protobuf(_), ParsedSchema::Protobuf(_))
            | (ParsedSchema::Json(_), ParsedSchema::Json(_)) => None,
            _ => Some("schema types differ".to_owned()),
        }
    }
}
