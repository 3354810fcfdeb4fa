//! Bounded validation of Avro binary datums against a compiled schema.
//!
//! Decodes without building values. Every length and count is checked
//! against the bytes that remain (using each node's minimum encoded size)
//! before it is used. Collections share one item budget, so zero-size items
//! cannot spin, and nesting is capped. A hostile datum therefore costs an
//! error in time linear in its size.

use super::avro::{AvroNode, AvroValidator};
use super::failure::{is_uuid, Failure};
use super::NESTING_DEPTH_MAX;

/// Collection items allowed in one datum, over all its arrays and maps.
pub const DATUM_ITEMS_MAX: usize = 1 << 20;

/// Maximum length of a 64-bit varint, in bytes.
const VARINT_BYTES_MAX: usize = 10;

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    pub fn varint(&mut self) -> Result<u64, Failure> {
        let mut value = 0u64;
        for i in 0..VARINT_BYTES_MAX {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(Failure::new("truncated varint"));
            };
            self.pos += 1;
            if i == VARINT_BYTES_MAX - 1 && byte > 1 {
                return Err(Failure::new("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Failure::new("varint longer than 10 bytes"))
    }

    /// Reads a zigzag-encoded signed varint.
    pub fn zigzag(&mut self) -> Result<i64, Failure> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], Failure> {
        if len > self.remaining() {
            return Err(Failure::new(format!(
                "length {len} exceeds the {} bytes that remain",
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, Failure> {
        Ok(self.take(1)?[0])
    }

    /// Reads an Avro length: a non-negative long within the remaining bytes.
    fn length(&mut self) -> Result<usize, Failure> {
        let len = self.zigzag()?;
        if len < 0 {
            return Err(Failure::new(format!("negative length {len}")));
        }
        usize::try_from(len).map_err(|_| Failure::new("length overflows usize"))
    }

    fn string(&mut self) -> Result<&'a str, Failure> {
        let len = self.length()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| Failure::new("string is not valid UTF-8"))
    }
}

struct Decode<'a, 'b> {
    schema: &'a AvroValidator,
    reader: Reader<'b>,
    items_left: usize,
}

impl AvroValidator {
    /// Validates one Avro binary datum; trailing bytes are an error.
    pub(crate) fn validate_binary(&self, body: &[u8]) -> Result<(), Failure> {
        let mut decode = Decode {
            schema: self,
            reader: Reader::new(body),
            items_left: DATUM_ITEMS_MAX,
        };
        decode.check(self.root, 0)?;
        if !decode.reader.is_empty() {
            return Err(Failure::new(format!(
                "{} trailing bytes after the datum",
                decode.reader.remaining()
            )));
        }
        Ok(())
    }
}

impl Decode<'_, '_> {
    fn check(&mut self, node: usize, depth: usize) -> Result<(), Failure> {
        let nodes = &self.schema.nodes;
        match &nodes[node] {
            AvroNode::Null => Ok(()),
            AvroNode::Boolean => match self.reader.byte()? {
                0 | 1 => Ok(()),
                other => Err(Failure::new(format!("invalid boolean byte {other}"))),
            },
            AvroNode::Int => self.int().map(|_| ()),
            AvroNode::Long => self.reader.zigzag().map(|_| ()),
            AvroNode::Float => self.reader.take(4).map(|_| ()),
            AvroNode::Double => self.reader.take(8).map(|_| ()),
            AvroNode::Bytes => {
                let len = self.reader.length()?;
                self.reader.take(len).map(|_| ())
            }
            AvroNode::String => self.reader.string().map(|_| ()),
            AvroNode::Uuid => {
                let text = self.reader.string()?;
                if is_uuid(text) {
                    Ok(())
                } else {
                    Err(Failure::new("string is not a UUID"))
                }
            }
            AvroNode::Fixed { size, .. } => self.reader.take(*size).map(|_| ()),
            AvroNode::Enum { symbols, .. } => {
                let index = self.int()?;
                if usize::try_from(index).is_ok_and(|i| i < symbols.len()) {
                    Ok(())
                } else {
                    Err(Failure::new(format!("enum index {index} out of range")))
                }
            }
            AvroNode::Array(items) => self.blocks(*items, false, depth),
            AvroNode::Map(values) => self.blocks(*values, true, depth),
            AvroNode::Record { fields, .. } => {
                let depth = descend(depth)?;
                for field in fields {
                    self.check(field.node, depth)
                        .map_err(|f| f.at_field(&field.name))?;
                }
                Ok(())
            }
            AvroNode::Union(branches) => {
                let index = self.reader.zigzag()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| Failure::new(format!("union index {index} out of range")))?;
                self.check(*branch, descend(depth)?)
            }
        }
    }

    fn int(&mut self) -> Result<i32, Failure> {
        let value = self.reader.zigzag()?;
        i32::try_from(value).map_err(|_| Failure::new(format!("int {value} out of range")))
    }

    /// Reads array or map blocks. Each block is a count, then that many
    /// items. A negative count is followed by the block's size in bytes, and
    /// a zero count ends the collection.
    fn blocks(&mut self, item: usize, is_map: bool, depth: usize) -> Result<(), Failure> {
        let depth = descend(depth)?;
        // A map entry is a key (at least its length byte) and a value.
        let item_size_min = self.schema.size_min_bytes[item] + usize::from(is_map);
        let mut index = 0usize;
        loop {
            let count = self.reader.zigzag()?;
            if count == 0 {
                return Ok(());
            }
            let block_size = if count < 0 {
                Some(self.reader.length()?)
            } else {
                None
            };
            let count = usize::try_from(count.unsigned_abs())
                .map_err(|_| Failure::new("block count overflows usize"))?;
            self.reserve_items(count, item_size_min)?;
            let start = self.reader.remaining();
            for _ in 0..count {
                let result = self.item(item, is_map, depth);
                if is_map {
                    result?;
                } else {
                    result.map_err(|f| f.at_index(index))?;
                }
                index += 1;
            }
            if let Some(size) = block_size {
                if start - self.reader.remaining() != size {
                    return Err(Failure::new("block size does not match its items"));
                }
            }
        }
    }

    fn reserve_items(&mut self, count: usize, item_size_min: usize) -> Result<(), Failure> {
        if count > self.items_left {
            return Err(Failure::new(format!(
                "datum has more than {DATUM_ITEMS_MAX} collection items"
            )));
        }
        if count.saturating_mul(item_size_min) > self.reader.remaining() {
            return Err(Failure::new(format!(
                "block of {count} items cannot fit in the {} bytes that remain",
                self.reader.remaining()
            )));
        }
        self.items_left -= count;
        Ok(())
    }

    fn item(&mut self, item: usize, is_map: bool, depth: usize) -> Result<(), Failure> {
        if is_map {
            let key = self.reader.string()?;
            return self.check(item, depth).map_err(|f| f.at_field(key));
        }
        self.check(item, depth)
    }
}

fn descend(depth: usize) -> Result<usize, Failure> {
    if depth >= NESTING_DEPTH_MAX {
        return Err(Failure::new(format!(
            "datum nests deeper than {NESTING_DEPTH_MAX} levels"
        )));
    }
    Ok(depth + 1)
}
