//! Protobuf compatibility by Confluent's schema-diff rules. The old file is
//! compared with the new one element by element: package, messages by name,
//! fields by number, oneofs and enums. Each difference is either in the
//! compatible set or makes the change incompatible.
//!
//! Works on prost-reflect descriptors, where type names are already
//! resolved. Confluent compares its parsed syntax tree instead, so two of
//! its details are mapped here. Map fields are recognised by their
//! synthesized entry messages. A field's label is the one written in the
//! source, and plain proto3 fields and oneof members have none.

use std::collections::HashMap;

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, OneofDescriptor,
};

use super::protobuf_change::Change;
use crate::registry::schema::ProtobufSchema;

/// Lists why data written with `writer` (the old schema) cannot be read
/// with `reader` (the new one).
pub(super) fn can_read(reader: &ProtobufSchema, writer: &ProtobufSchema) -> Vec<String> {
    let mut diff = Diff::default();
    let (original, update) = (writer.file(), reader.file());
    if original.package_name() != update.package_name() {
        diff.add(Change::PackageChanged);
    }
    let original_types = Types::of(original.messages(), original.enums());
    let update_types = Types::of(update.messages(), update.enums());
    diff.compare_types(&original_types, &update_types);
    diff.changes
        .iter()
        .filter(|(change, _)| !change.is_compatible())
        .map(|(change, path)| format!("{} at #/{path}: {}", change.name(), change.description()))
        .collect()
}

/// Messages (without map entries) and enums declared in one scope.
struct Types {
    messages: Vec<MessageDescriptor>,
    enums: Vec<EnumDescriptor>,
}

impl Types {
    fn of(
        messages: impl Iterator<Item = MessageDescriptor>,
        enums: impl Iterator<Item = EnumDescriptor>,
    ) -> Self {
        Types {
            messages: messages.filter(|m| !m.is_map_entry()).collect(),
            enums: enums.collect(),
        }
    }

    /// Returns the message named `name` and its index among the messages.
    fn message(&self, name: &str) -> Option<(usize, &MessageDescriptor)> {
        self.messages
            .iter()
            .enumerate()
            .find(|(_, m)| m.name() == name)
    }

    fn enumeration(&self, name: &str) -> Option<&EnumDescriptor> {
        self.enums.iter().find(|e| e.name() == name)
    }
}

/// Field kinds that Confluent compares: changing between them is
/// incompatible. Enums count as scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Scalar,
    Message,
    Map,
}

/// Groups of scalar types that share a wire encoding, per the protobuf
/// guide to updating message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarKind {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

fn scalar_kind(kind: &Kind) -> Option<ScalarKind> {
    let scalar = match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => {
            ScalarKind::GeneralNumber
        }
        Kind::Sint32 | Kind::Sint64 => ScalarKind::SignedNumber,
        Kind::String | Kind::Bytes => ScalarKind::StringOrBytes,
        Kind::Fixed32 | Kind::Sfixed32 => ScalarKind::Fixed32,
        Kind::Fixed64 | Kind::Sfixed64 => ScalarKind::Fixed64,
        Kind::Float => ScalarKind::Float,
        Kind::Double => ScalarKind::Double,
        Kind::Message(_) => return None,
    };
    Some(scalar)
}

/// Returns the label as written in the source. Proto3 fields without a
/// label, map fields and oneof members have none.
fn written_label(field: &FieldDescriptor) -> Option<Cardinality> {
    if field.is_map() || real_oneof(field).is_some() {
        return None;
    }
    let proto = field.field_descriptor_proto();
    let implicit = field.parent_file().syntax() == prost_reflect::Syntax::Proto3
        && field.cardinality() == Cardinality::Optional
        && !proto.proto3_optional();
    (!implicit).then(|| field.cardinality())
}

/// Returns the oneof that contains `field`, ignoring the synthetic oneofs
/// that proto3 `optional` fields get.
fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field.containing_oneof().filter(|o| !o.is_synthetic())
}

#[derive(Default)]
struct Diff {
    changes: Vec<(Change, String)>,
    /// Path segments from the file root, e.g. `["TestMessage", "2"]`.
    path: Vec<String>,
    /// Full names of the old messages being compared, to stop recursion
    /// through fields of message type.
    in_progress: Vec<String>,
    /// Differences found inside each (old, new) pair of message types that
    /// fields refer to, so a type referenced from many fields is compared
    /// once. Their paths start at the type, not at the field.
    type_results: HashMap<(String, String), Vec<(Change, String)>>,
}

impl Diff {
    fn add(&mut self, change: Change) {
        let path = self.path.join("/");
        self.push(change, path);
    }

    /// Records a difference unless it is already listed: differences inside
    /// a message type are reported once however many fields use the type.
    fn push(&mut self, change: Change, path: String) {
        if !self.changes.iter().any(|(c, p)| *c == change && *p == path) {
            self.changes.push((change, path));
        }
    }

    fn add_at(&mut self, segments: &[&str], change: Change) {
        let depth = self.path.len();
        self.path.extend(segments.iter().map(|s| s.to_string()));
        self.add(change);
        self.path.truncate(depth);
    }

    fn compare_types(&mut self, original: &Types, update: &Types) {
        let names = union_of_names(
            original.messages.iter().map(|m| m.name()),
            update.messages.iter().map(|m| m.name()),
        );
        for name in names {
            self.path.push(name.clone());
            match (original.message(&name), update.message(&name)) {
                (Some(_), None) => self.add(Change::MessageRemoved),
                (None, Some(_)) => self.add(Change::MessageAdded),
                (Some((old_index, old)), Some((new_index, new))) => {
                    self.compare_messages(old, new);
                    if old_index != new_index {
                        self.add(Change::MessageMoved);
                    }
                }
                (None, None) => unreachable!("name comes from one of the two lists"),
            }
            self.path.pop();
        }
        let names = union_of_names(
            original.enums.iter().map(|e| e.name()),
            update.enums.iter().map(|e| e.name()),
        );
        for name in names {
            self.path.push(name.clone());
            match (original.enumeration(&name), update.enumeration(&name)) {
                (Some(_), None) => self.add(Change::EnumRemoved),
                (None, Some(_)) => self.add(Change::EnumAdded),
                (Some(old), Some(new)) => self.compare_enums(old, new),
                (None, None) => unreachable!("name comes from one of the two lists"),
            }
            self.path.pop();
        }
    }

    fn compare_enums(&mut self, original: &EnumDescriptor, update: &EnumDescriptor) {
        let mut numbers: Vec<i32> = original.values().map(|v| v.number()).collect();
        numbers.extend(update.values().map(|v| v.number()));
        numbers.sort_unstable();
        numbers.dedup();
        for number in numbers {
            let change = match (original.get_value(number), update.get_value(number)) {
                (Some(_), None) => Change::EnumConstRemoved,
                (None, Some(_)) => Change::EnumConstAdded,
                (Some(old), Some(new)) if old.name() != new.name() => Change::EnumConstChanged,
                _ => continue,
            };
            self.add_at(&[&number.to_string()], change);
        }
    }

    fn compare_messages(&mut self, original: &MessageDescriptor, update: &MessageDescriptor) {
        let full_name = original.full_name().to_string();
        if !self.in_progress.contains(&full_name) {
            self.in_progress.push(full_name);
            self.compare_oneof_membership(original, update);
            self.compare_fields(original, update);
            self.in_progress.pop();
        }
        let original_nested = Types::of(original.child_messages(), original.child_enums());
        let update_nested = Types::of(update.child_messages(), update.child_enums());
        self.compare_types(&original_nested, &update_nested);
    }

    /// Reports oneofs added or removed, and oneofs of the new message that
    /// join fields that were independent in the old one: old data may set
    /// several of them, which a oneof cannot hold.
    fn compare_oneof_membership(
        &mut self,
        original: &MessageDescriptor,
        update: &MessageDescriptor,
    ) {
        for oneof in update.oneofs().filter(|o| !o.is_synthetic()) {
            let mut origins: Vec<String> = Vec::new();
            let mut moved_from_top_level = 0;
            for field in oneof.fields() {
                let Some(old) = original.get_field(field.number()) else {
                    continue;
                };
                let origin = match real_oneof(&old) {
                    Some(old_oneof) => format!("oneof {}", old_oneof.name()),
                    None => {
                        moved_from_top_level += 1;
                        format!("field {}", old.number())
                    }
                };
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
            if origins.len() > 1 {
                let change = if moved_from_top_level > 1 {
                    Change::MultipleFieldsMovedToOneof
                } else {
                    Change::FieldMovedToExistingOneof
                };
                self.add_at(&[oneof.name()], change);
            }
        }
        let original_oneofs: Vec<String> = real_oneof_names(original);
        let update_oneofs: Vec<String> = real_oneof_names(update);
        for name in original_oneofs
            .iter()
            .filter(|n| !update_oneofs.contains(n))
        {
            self.add_at(&[name], Change::OneofRemoved);
        }
        for name in update_oneofs
            .iter()
            .filter(|n| !original_oneofs.contains(n))
        {
            self.add_at(&[name], Change::OneofAdded);
        }
    }

    fn compare_fields(&mut self, original: &MessageDescriptor, update: &MessageDescriptor) {
        let mut numbers: Vec<u32> = original.fields().map(|f| f.number()).collect();
        numbers.extend(update.fields().map(|f| f.number()));
        numbers.sort_unstable();
        numbers.dedup();
        for number in numbers {
            match (original.get_field(number), update.get_field(number)) {
                (Some(old), None) => self.field_removed(update, &old),
                (None, Some(new)) => self.field_added(&new),
                (Some(old), Some(new)) => self.field_kept(&old, &new),
                (None, None) => unreachable!("number comes from one of the two messages"),
            }
        }
    }

    fn field_removed(&mut self, update: &MessageDescriptor, old: &FieldDescriptor) {
        let number = old.number().to_string();
        let Some(oneof) = real_oneof(old) else {
            let change = if old.cardinality() == Cardinality::Required {
                Change::RequiredFieldRemoved
            } else {
                Change::FieldRemoved
            };
            return self.add_at(&[&number], change);
        };
        // Removing a whole oneof with all its members is compatible; removing
        // some members of a oneof whose other members remain is not.
        let oneof_survives = real_oneof_names(update).iter().any(|n| n == oneof.name())
            || oneof
                .fields()
                .any(|f| update.get_field(f.number()).is_some());
        if oneof_survives {
            self.add_at(&[oneof.name(), &number], Change::OneofFieldRemoved);
        }
    }

    fn field_added(&mut self, new: &FieldDescriptor) {
        let number = new.number().to_string();
        match real_oneof(new) {
            Some(oneof) => self.add_at(&[oneof.name(), &number], Change::OneofFieldAdded),
            None if new.cardinality() == Cardinality::Required => {
                self.add_at(&[&number], Change::RequiredFieldAdded);
            }
            None => self.add_at(&[&number], Change::FieldAdded),
        }
    }

    fn field_kept(&mut self, old: &FieldDescriptor, new: &FieldDescriptor) {
        let number = new.number().to_string();
        let new_oneof = real_oneof(new);
        if real_oneof(old).is_some() && new_oneof.is_none() {
            self.add_at(&[&number], Change::OneofFieldMovedToTopLevel);
        }
        let depth = self.path.len();
        if let Some(oneof) = &new_oneof {
            self.path.push(oneof.name().to_string());
        }
        self.path.push(number);
        if old.name() != new.name() {
            self.add(Change::FieldNameChanged);
        }
        self.compare_field_types(old, new, written_label(old), written_label(new));
        self.path.truncate(depth);
    }

    fn compare_field_types(
        &mut self,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
        old_label: Option<Cardinality>,
        new_label: Option<Cardinality>,
    ) {
        let (old_kind, new_kind) = (field_kind(old), field_kind(new));
        if old_kind != new_kind {
            return self.add(Change::FieldKindChanged);
        }
        match old_kind {
            FieldKind::Map => {
                let (old_entry, new_entry) = (map_entry(old), map_entry(new));
                let (old_key, new_key) = (
                    old_entry.map_entry_key_field(),
                    new_entry.map_entry_key_field(),
                );
                self.compare_field_types(&old_key, &new_key, None, None);
                let (old_value, new_value) = (
                    old_entry.map_entry_value_field(),
                    new_entry.map_entry_value_field(),
                );
                self.compare_field_types(&old_value, &new_value, None, None);
            }
            FieldKind::Scalar => {
                self.compare_scalars(&old.kind(), &new.kind(), old_label, new_label)
            }
            FieldKind::Message => {
                if let (Kind::Message(old_type), Kind::Message(new_type)) = (old.kind(), new.kind())
                {
                    self.compare_message_types(&old_type, &new_type);
                }
            }
        }
    }

    fn compare_scalars(
        &mut self,
        old: &Kind,
        new: &Kind,
        old_label: Option<Cardinality>,
        new_label: Option<Cardinality>,
    ) {
        let old_scalar = scalar_kind(old);
        if old_scalar != scalar_kind(new) {
            return self.add(Change::FieldScalarKindChanged);
        }
        let (Some(old_label), Some(new_label)) = (old_label, new_label) else {
            return;
        };
        if old_label != new_label {
            if old_scalar == Some(ScalarKind::StringOrBytes) {
                self.add(Change::FieldStringOrBytesLabelChanged);
            } else {
                self.add(Change::FieldNumericLabelChanged);
            }
        }
    }

    /// Compares the message types of a field. They match by name relative to
    /// their package, and a match is then compared field by field. Any
    /// incompatible difference inside also makes the field incompatible.
    fn compare_message_types(&mut self, old: &MessageDescriptor, new: &MessageDescriptor) {
        if local_name(old) != local_name(new) {
            return self.add(Change::FieldNamedTypeChanged);
        }
        let key = (old.full_name().to_string(), new.full_name().to_string());
        let changes = match self.type_results.get(&key) {
            Some(changes) => changes.clone(),
            None => {
                let mut inner = Diff {
                    changes: Vec::new(),
                    path: local_name(old).split('.').map(str::to_string).collect(),
                    in_progress: self.in_progress.clone(),
                    type_results: std::mem::take(&mut self.type_results),
                };
                inner.compare_messages(old, new);
                self.type_results = inner.type_results;
                self.type_results.insert(key, inner.changes.clone());
                inner.changes
            }
        };
        let compatible = changes.iter().all(|(change, _)| change.is_compatible());
        for (change, path) in changes {
            self.push(change, path);
        }
        if !compatible {
            self.add(Change::FieldNamedTypeChanged);
        }
    }
}

/// Returns the names of both lists, the original ones first, without repeats.
fn union_of_names<'a>(
    original: impl Iterator<Item = &'a str>,
    update: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in original.chain(update) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

fn real_oneof_names(message: &MessageDescriptor) -> Vec<String> {
    message
        .oneofs()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
        .collect()
}

fn field_kind(field: &FieldDescriptor) -> FieldKind {
    match field.kind() {
        _ if field.is_map() => FieldKind::Map,
        Kind::Message(_) => FieldKind::Message,
        _ => FieldKind::Scalar,
    }
}

fn map_entry(field: &FieldDescriptor) -> MessageDescriptor {
    match field.kind() {
        Kind::Message(entry) => entry,
        other => unreachable!("map field has kind {other:?}"),
    }
}

/// Returns the message's full name without its package.
fn local_name(message: &MessageDescriptor) -> &str {
    let full_name = message.full_name();
    let package = message.package_name();
    match full_name.strip_prefix(package) {
        Some(rest) if !package.is_empty() => rest.trim_start_matches('.'),
        _ => full_name,
    }
}
