//! Sans-IO primitives for frame bodies: a bounds-checked reader and the
//! matching writers. All integers are big-endian; strings are a `u16` length
//! then UTF-8 bytes; byte blobs are a `u32` length then the bytes.

use bytes::{BufMut, BytesMut};

use super::error::WireError;

/// A cursor over a frame body that never reads past its end.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < len {
            return Err(WireError::Incomplete {
                field,
                offset: self.pos,
                need: len,
                have: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    pub fn f64(&mut self, field: &'static str) -> Result<f64, WireError> {
        Ok(f64::from_be_bytes(self.array(field)?))
    }

    /// A `u16`-length-prefixed UTF-8 string.
    pub fn str(&mut self, field: &'static str) -> Result<&'a str, WireError> {
        let len = self.u16(field)? as usize;
        let start = self.pos;
        let bytes = self.take(field, len)?;
        std::str::from_utf8(bytes).map_err(|_| WireError::InvalidUtf8 {
            field,
            offset: start,
        })
    }

    pub fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        self.str(field).map(str::to_owned)
    }

    /// A `u32`-length-prefixed byte blob.
    pub fn blob(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let len = self.u32(field)? as usize;
        self.take(field, len)
    }

    /// Returns the start of a `u32`-length-prefixed blob and its length
    /// without consuming it, so a caller can split the blob off a `BytesMut`.
    pub fn blob_span(&mut self, field: &'static str) -> Result<(usize, usize), WireError> {
        let len = self.u32(field)? as usize;
        let start = self.pos;
        self.take(field, len)?;
        Ok((start, len))
    }

    /// A count of items that each take at least `min_item_bytes`, checked
    /// against the bytes that remain before anything is allocated.
    pub fn count(
        &mut self,
        field: &'static str,
        min_item_bytes: usize,
    ) -> Result<usize, WireError> {
        let offset = self.pos;
        let count = self.u32(field)? as usize;
        if count.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(WireError::Invalid {
                field,
                offset,
                reason: format!(
                    "count {count} needs at least {} bytes but {} remain",
                    count.saturating_mul(min_item_bytes.max(1)),
                    self.remaining()
                ),
            });
        }
        Ok(count)
    }

    /// Fails unless every byte was consumed, so trailing garbage is reported.
    pub fn finish(&self, what: &'static str) -> Result<(), WireError> {
        if self.remaining() == 0 {
            return Ok(());
        }
        Err(WireError::Invalid {
            field: what,
            offset: self.pos,
            reason: format!("{} unexpected trailing bytes", self.remaining()),
        })
    }
}

/// Writes a `u16`-length-prefixed string; longer strings are cut at a
/// character boundary because every string on the wire is a name or message.
pub fn put_str(buf: &mut BytesMut, value: &str) {
    let mut end = value.len().min(u16::MAX as usize);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_u16(end as u16);
    buf.put_slice(&value.as_bytes()[..end]);
}

/// Writes a `u32`-length-prefixed blob.
pub fn put_blob(buf: &mut BytesMut, value: &[u8]) {
    buf.put_u32(value.len() as u32);
    buf.put_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_incomplete_field() {
        let mut reader = Reader::new(&[0, 1]);
        let err = reader.u32("partition").unwrap_err();
        assert_eq!(
            err,
            WireError::Incomplete {
                field: "partition",
                offset: 0,
                need: 4,
                have: 2
            }
        );
    }

    #[test]
    fn reader_rejects_invalid_utf8() {
        let mut reader = Reader::new(&[0, 2, 0xff, 0xfe]);
        assert!(matches!(
            reader.str("topic"),
            Err(WireError::InvalidUtf8 { field: "topic", .. })
        ));
    }

    #[test]
    fn count_checked_against_remaining() {
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0]);
        assert!(matches!(
            reader.count("topics", 2),
            Err(WireError::Invalid { .. })
        ));
    }

    #[test]
    fn string_round_trip() {
        let mut buf = BytesMut::new();
        put_str(&mut buf, "orders");
        put_blob(&mut buf, b"abc");
        let mut reader = Reader::new(&buf);
        assert_eq!(reader.str("topic").unwrap(), "orders");
        assert_eq!(reader.blob("records").unwrap(), b"abc");
        reader.finish("body").unwrap();
    }
}
