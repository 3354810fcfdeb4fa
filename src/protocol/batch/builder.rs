//! [`BatchBuilder`]: encodes records into one uncompressed v2 batch.

use bytes::{BufMut, BytesMut};
use zerocopy::FromBytes;

use super::varint::{put_varint, put_varlong, varint_len, varlong_len};
use super::{BatchHeader, BATCH_HEADER_BYTES, BATCH_LENGTH_PREFIX_BYTES, CRC_START, MAGIC_V2};

/// Encodes records into one growing buffer, leaving room for the header that
/// [`BatchBuilder::finish`] fills in. Records get offset deltas 0, 1, 2, ...
/// and timestamps relative to the base timestamp.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: BytesMut,
    base_timestamp_ms: i64,
    max_timestamp_ms: i64,
    record_count: i32,
}

impl BatchBuilder {
    /// Starts an empty batch whose timestamps count from `base_timestamp_ms`.
    pub fn new(base_timestamp_ms: i64) -> Self {
        Self::with_capacity(base_timestamp_ms, 0)
    }

    /// Starts an empty batch with room for `records_bytes` of encoded records.
    pub fn with_capacity(base_timestamp_ms: i64, records_bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(BATCH_HEADER_BYTES + records_bytes);
        buf.put_bytes(0, BATCH_HEADER_BYTES);
        Self {
            buf,
            base_timestamp_ms,
            max_timestamp_ms: i64::MIN,
            record_count: 0,
        }
    }

    /// Appends one record. A `None` key or value is encoded as null (-1).
    ///
    /// Panics if a key, value or header is 2 GiB or larger, which no batch
    /// within [`super::BATCH_BYTES_MAX`] can hold anyway.
    pub fn push(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
    ) {
        // The decoder adds the delta back with the same wrapping arithmetic,
        // so any pair of i64 timestamps round-trips.
        let timestamp_delta = timestamp_ms.wrapping_sub(self.base_timestamp_ms);
        let offset_delta = self.record_count;
        let body_bytes = record_body_len(timestamp_delta, offset_delta, key, value, headers);
        let body_length = len_i32(body_bytes);
        self.buf.reserve(varint_len(body_length) + body_bytes);

        let buf = &mut self.buf;
        put_varint(buf, body_length);
        buf.put_i8(0); // record attributes: unused in v2
        put_varlong(buf, timestamp_delta);
        put_varint(buf, offset_delta);
        put_nullable(buf, key);
        put_nullable(buf, value);
        put_varint(buf, len_i32(headers.len()));
        for (header_key, header_value) in headers {
            put_nullable(buf, Some(header_key.as_bytes()));
            put_nullable(buf, Some(header_value));
        }

        self.record_count += 1;
        self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
    }

    /// Returns the encoded size so far, header included.
    pub fn size_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Returns how many records were pushed.
    pub fn record_count(&self) -> u32 {
        self.record_count as u32
    }

    /// Fills in the header (base offset 0, no producer id, CRC-32C) and
    /// returns the batch.
    ///
    /// Panics if no record was pushed: Kafka rejects empty produced batches.
    pub fn finish(mut self) -> BytesMut {
        assert!(
            self.record_count > 0,
            "a record batch needs at least one record"
        );
        let batch_length = len_i32(self.buf.len() - BATCH_LENGTH_PREFIX_BYTES);
        let (header, _) =
            BatchHeader::mut_from_prefix(&mut self.buf).expect("buffer starts with a header");
        header.base_offset.set(0);
        header.batch_length.set(batch_length);
        header.partition_leader_epoch.set(-1);
        header.magic = MAGIC_V2;
        header.attributes.set(0); // no compression, create time
        header.last_offset_delta.set(self.record_count - 1);
        header.base_timestamp.set(self.base_timestamp_ms);
        header.max_timestamp.set(self.max_timestamp_ms);
        header.producer_id.set(-1);
        header.producer_epoch.set(-1);
        header.base_sequence.set(-1);
        header.record_count.set(self.record_count);
        let crc = crc32c::crc32c(&self.buf[CRC_START..]);
        let (header, _) = BatchHeader::mut_from_prefix(&mut self.buf).expect("header");
        header.crc.set(crc);
        self.buf
    }
}

/// Returns the bytes of a record after its length prefix.
fn record_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, &[u8])],
) -> usize {
    let mut len = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    len += nullable_len(key) + nullable_len(value);
    len += varint_len(len_i32(headers.len()));
    for (header_key, header_value) in headers {
        len += nullable_len(Some(header_key.as_bytes())) + nullable_len(Some(header_value));
    }
    len
}

fn nullable_len(field: Option<&[u8]>) -> usize {
    match field {
        Some(bytes) => varint_len(len_i32(bytes.len())) + bytes.len(),
        None => varint_len(-1),
    }
}

fn put_nullable(buf: &mut BytesMut, field: Option<&[u8]>) {
    match field {
        Some(bytes) => {
            put_varint(buf, len_i32(bytes.len()));
            buf.put_slice(bytes);
        }
        None => put_varint(buf, -1),
    }
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("record field shorter than 2 GiB")
}
