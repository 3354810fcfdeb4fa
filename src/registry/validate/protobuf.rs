//! Validation of Protobuf payloads: schema-framed binary with Confluent's
//! message indexes, and JSON in Protobuf's canonical JSON mapping.
//!
//! The binary check walks the wire format against the message descriptor
//! without decoding into values: wire types must match the declared field
//! types, lengths must fit the bytes that remain, strings must be UTF-8 and
//! nesting is capped. Unknown field numbers are skipped, as every Protobuf
//! parser does. JSON goes through prost-reflect's `DynamicMessage`
//! deserializer, which rejects unknown fields.
//!
//! NOTE: the binary walk does not check that proto2 `required` fields are
//! present, and JSON validation builds a `DynamicMessage` per value.

use prost_reflect::{DynamicMessage, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

use super::avro_binary::Reader;
use serde_path_to_error::Segment as PathSegment;

use super::failure::{Failure, Segment};
use super::NESTING_DEPTH_MAX;

const WIRE_VARINT: u64 = 0;
const WIRE_I64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_START_GROUP: u64 = 3;
const WIRE_END_GROUP: u64 = 4;
const WIRE_I32: u64 = 5;

/// Largest field number Protobuf allows.
const FIELD_NUMBER_MAX: u64 = (1 << 29) - 1;

/// A compiled Protobuf schema: the file whose messages payloads name.
#[derive(Clone, Debug)]
pub struct ProtobufValidator {
    file: FileDescriptor,
}

impl ProtobufValidator {
    /// Wraps a compiled file; fails when it declares no message.
    pub fn new(file: FileDescriptor) -> Result<ProtobufValidator, String> {
        if file.messages().len() == 0 {
            return Err("the Protobuf schema declares no message".to_owned());
        }
        Ok(ProtobufValidator { file })
    }

    /// Reads Confluent's message indexes (a zigzag varint count, then that
    /// many zigzag indexes, a count of 0 meaning the first message) and
    /// returns the message they name and the body after them.
    pub(crate) fn framed_message<'b>(
        &self,
        bytes: &'b [u8],
    ) -> Result<(MessageDescriptor, &'b [u8]), Failure> {
        let mut reader = Reader::new(bytes);
        let count = reader.zigzag()?;
        let count = usize::try_from(count)
            .ok()
            .filter(|c| *c <= NESTING_DEPTH_MAX)
            .ok_or_else(|| Failure::new(format!("invalid message index count {count}")))?;
        let mut message = self.first_message();
        for depth in 0..count {
            let index = reader.zigzag()?;
            let found = usize::try_from(index).ok().and_then(|i| {
                if depth == 0 {
                    self.file.messages().nth(i)
                } else {
                    message.child_messages().nth(i)
                }
            });
            message =
                found.ok_or_else(|| Failure::new(format!("message index {index} out of range")))?;
        }
        let consumed = bytes.len() - reader.remaining();
        Ok((message, &bytes[consumed..]))
    }

    fn first_message(&self) -> MessageDescriptor {
        // `new` checked that the file declares at least one message.
        self.file.messages().next().expect("file has a message")
    }

    /// Validates a framed body: message indexes, then the encoded message.
    pub(crate) fn validate_binary(&self, bytes: &[u8]) -> Result<(), Failure> {
        let (message, body) = self.framed_message(bytes)?;
        check_message(&message, body, 0)
    }

    /// Validates JSON in the Protobuf JSON mapping against the file's first
    /// message. `json` is parsed in place by simd-json.
    pub(crate) fn validate_json(&self, json: &mut [u8]) -> Result<(), Failure> {
        let mut deserializer = simd_json::Deserializer::from_slice(json)
            .map_err(|e| Failure::new(super::failure::json_error_text(&e)))?;
        // The serde walk recurses once per JSON level; bound it first.
        check_json_depth(deserializer.as_value(), 0)?;
        deserializer.restart();
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
        match DynamicMessage::deserialize(self.first_message(), tracked) {
            Ok(_) => Ok(()),
            Err(e) => {
                let mut failure = Failure::new(super::failure::json_error_text(&e));
                for segment in track.path().iter() {
                    failure.path.push(match segment {
                        PathSegment::Seq { index } => Segment::Index(*index),
                        PathSegment::Map { key } => Segment::Field(key.clone()),
                        PathSegment::Enum { variant } => Segment::Field(variant.clone()),
                        PathSegment::Unknown => Segment::Field("?".to_owned()),
                    });
                }
                // The tracked path runs outermost first; failures keep it
                // innermost first.
                failure.path.reverse();
                Err(failure)
            }
        }
    }
}

fn check_json_depth(
    value: simd_json::value::tape::Value<'_, '_>,
    depth: usize,
) -> Result<(), Failure> {
    if depth > NESTING_DEPTH_MAX {
        return Err(Failure::new(format!(
            "value nests deeper than {NESTING_DEPTH_MAX} levels"
        )));
    }
    if let Some(array) = value.as_array() {
        for item in array.iter() {
            check_json_depth(item, depth + 1)?;
        }
    } else if let Some(object) = value.as_object() {
        for (_, item) in object.iter() {
            check_json_depth(item, depth + 1)?;
        }
    }
    Ok(())
}

/// Checks one encoded message; `depth` counts enclosing messages.
fn check_message(message: &MessageDescriptor, body: &[u8], depth: usize) -> Result<(), Failure> {
    if depth > NESTING_DEPTH_MAX {
        return Err(Failure::new(format!(
            "message nests deeper than {NESTING_DEPTH_MAX} levels"
        )));
    }
    let mut reader = Reader::new(body);
    while !reader.is_empty() {
        let (number, wire) = read_tag(&mut reader)?;
        match message.get_field(number) {
            Some(field) => check_field(&field, wire, &mut reader, depth)
                .map_err(|f| f.at_field(field.name()))?,
            None => skip_value(&mut reader, wire, number, depth)?,
        }
    }
    Ok(())
}

fn read_tag(reader: &mut Reader<'_>) -> Result<(u32, u64), Failure> {
    let tag = reader.varint()?;
    let number = tag >> 3;
    if number == 0 || number > FIELD_NUMBER_MAX {
        return Err(Failure::new(format!("invalid field number {number}")));
    }
    // `number` is at most 2^29 - 1, so it fits in u32.
    Ok((number as u32, tag & 7))
}

/// Returns the wire type of a field's values when they are not packed.
fn wire_type_of(kind: &Kind, is_group: bool) -> u64 {
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => WIRE_I64,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => WIRE_I32,
        Kind::String | Kind::Bytes => WIRE_LEN,
        Kind::Message(_) if is_group => WIRE_START_GROUP,
        Kind::Message(_) => WIRE_LEN,
        _ => WIRE_VARINT,
    }
}

fn check_field(
    field: &FieldDescriptor,
    wire: u64,
    reader: &mut Reader<'_>,
    depth: usize,
) -> Result<(), Failure> {
    let kind = field.kind();
    let expected = wire_type_of(&kind, field.is_group());
    let scalar = matches!(expected, WIRE_VARINT | WIRE_I32 | WIRE_I64);
    if wire == WIRE_LEN && field.is_list() && scalar {
        let len = length(reader)?;
        return check_packed(reader.take(len)?, expected);
    }
    if wire != expected {
        return Err(Failure::new(format!(
            "wire type {wire} does not match the field's type {kind:?}"
        )));
    }
    match kind {
        Kind::String => {
            let len = length(reader)?;
            std::str::from_utf8(reader.take(len)?)
                .map(|_| ())
                .map_err(|_| Failure::new("string is not valid UTF-8"))
        }
        Kind::Message(nested) if !field.is_group() => {
            let len = length(reader)?;
            check_message(&nested, reader.take(len)?, depth + 1)
        }
        _ => skip_value(reader, wire, field.number(), depth),
    }
}

fn length(reader: &mut Reader<'_>) -> Result<usize, Failure> {
    let len = reader.varint()?;
    usize::try_from(len).map_err(|_| Failure::new("length overflows usize"))
}

/// Checks a packed run of scalars of the given wire type.
fn check_packed(bytes: &[u8], wire: u64) -> Result<(), Failure> {
    let width = match wire {
        WIRE_I32 => 4,
        WIRE_I64 => 8,
        _ => {
            let mut reader = Reader::new(bytes);
            while !reader.is_empty() {
                reader.varint()?;
            }
            return Ok(());
        }
    };
    if bytes.len().is_multiple_of(width) {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "packed field of {} bytes is not a multiple of {width}",
            bytes.len()
        )))
    }
}

/// Skips one value of the given wire type; groups are skipped up to their
/// matching end tag, with nesting capped.
fn skip_value(
    reader: &mut Reader<'_>,
    wire: u64,
    number: u32,
    depth: usize,
) -> Result<(), Failure> {
    match wire {
        WIRE_VARINT => reader.varint().map(|_| ()),
        WIRE_I64 => reader.take(8).map(|_| ()),
        WIRE_I32 => reader.take(4).map(|_| ()),
        WIRE_LEN => {
            let len = length(reader)?;
            reader.take(len).map(|_| ())
        }
        WIRE_START_GROUP => {
            if depth >= NESTING_DEPTH_MAX {
                return Err(Failure::new("groups nest too deeply"));
            }
            loop {
                let (inner, inner_wire) = read_tag(reader)?;
                if inner_wire == WIRE_END_GROUP {
                    if inner == number {
                        return Ok(());
                    }
                    return Err(Failure::new("end of group does not match its start"));
                }
                skip_value(reader, inner_wire, inner, depth + 1)?;
            }
        }
        WIRE_END_GROUP => Err(Failure::new("end of group without a start")),
        other => Err(Failure::new(format!("invalid wire type {other}"))),
    }
}
