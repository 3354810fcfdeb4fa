//! Kafka RecordBatch v2, sans-IO: the header layout, validation of received
//! batches, a builder and a record iterator.
//!
//! The broker stores and serves batches as the bytes the producer sent. The
//! only field it rewrites is the base offset, which the CRC does not cover.
//! Nothing here does I/O or allocates per record, so every shard calls it on
//! its own buffers.
//!
//! Batch header, big-endian, 61 bytes:
//!
//! ```text
//! byte  size  field
//!    0     8  base_offset             i64, first offset of the batch
//!    8     4  batch_length            i32, bytes after this field
//!   12     4  partition_leader_epoch  i32
//!   16     1  magic                   i8, always 2
//!   17     4  crc                     u32, CRC-32C of bytes 21..end
//!   21     2  attributes              i16, bits 0-2 compression codec,
//!                                     3 timestamp type, 4 transactional,
//!                                     5 control
//!   23     4  last_offset_delta       i32, record_count - 1 for new batches
//!   27     8  base_timestamp          i64, ms since the Unix epoch
//!   35     8  max_timestamp           i64, ms since the Unix epoch
//!   43     8  producer_id             i64, -1 without idempotence
//!   51     2  producer_epoch          i16
//!   53     4  base_sequence           i32
//!   57     4  record_count            i32
//!   61     -  records
//! ```
//!
//! Each record: `length` varint | `attributes` i8 | `timestamp_delta`
//! varlong | `offset_delta` varint | `key_length` varint (-1 = null) | key |
//! `value_length` varint (-1 = null) | value | `header_count` varint |
//! headers, each `key_length` varint | UTF-8 key | `value_length` varint
//! (-1 = null) | value. All varints are zigzag-encoded.

mod builder;
mod records;
mod varint;

use std::mem::{offset_of, size_of};

use thiserror::Error;
use zerocopy::big_endian::{I16, I32, I64, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use builder::BatchBuilder;
pub use records::{records, HeaderIter, RecordIter, RecordView};

/// The fixed header in front of a batch's records.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BatchHeader {
    pub base_offset: I64,
    pub batch_length: I32,
    pub partition_leader_epoch: I32,
    pub magic: i8,
    pub crc: U32,
    pub attributes: I16,
    pub last_offset_delta: I32,
    pub base_timestamp: I64,
    pub max_timestamp: I64,
    pub producer_id: I64,
    pub producer_epoch: I16,
    pub base_sequence: I32,
    pub record_count: I32,
}

/// Size of [`BatchHeader`]: the smallest possible batch.
pub const BATCH_HEADER_BYTES: usize = size_of::<BatchHeader>();
const _: () = assert!(BATCH_HEADER_BYTES == 61);

/// Bytes before `batch_length` counts: base offset and the length itself.
pub const BATCH_LENGTH_PREFIX_BYTES: usize = offset_of!(BatchHeader, partition_leader_epoch);
const _: () = assert!(BATCH_LENGTH_PREFIX_BYTES == 12);

/// Position of the first byte the CRC covers.
pub const CRC_START: usize = offset_of!(BatchHeader, attributes);
const _: () = assert!(CRC_START == 21);

/// The only batch format version this codec reads and writes.
pub const MAGIC_V2: i8 = 2;

/// Largest batch accepted, header included. The bound is generous because its
/// job is to stop a corrupt length field from claiming gigabytes.
pub const BATCH_BYTES_MAX: usize = 64 << 20;

/// Smallest encoded record: seven one-byte fields and no key, value or headers.
const RECORD_BYTES_MIN: usize = 7;

/// Mask of the compression codec in `attributes`.
const COMPRESSION_MASK: i16 = 0x07;
/// Highest codec Kafka defines (4 = zstd).
const COMPRESSION_CODEC_MAX: i16 = 4;

/// Facts about one valid batch, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// Whole batch size, header included.
    pub size_bytes: usize,
    pub last_offset_delta: u32,
    pub record_count: u32,
    pub base_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
}

/// Error from checking or decoding a batch. Positions count bytes from the
/// start of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The buffer ends before the batch does; more bytes may complete it.
    #[error("incomplete batch: need {need} bytes, have {have}")]
    Incomplete { need: usize, have: usize },
    #[error("invalid batch length at byte 8: {length}, expected {min}..={max}")]
    InvalidLength { length: i32, min: usize, max: usize },
    #[error("unsupported magic at byte 16: {magic}, expected 2")]
    UnsupportedMagic { magic: i8 },
    #[error("CRC mismatch at byte 17: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("invalid compression codec at byte 21: {codec}, expected 0..=4")]
    InvalidCompression { codec: i16 },
    #[error(
        "invalid record count at byte 57: {record_count} records with last offset delta \
         {last_offset_delta} in {size_bytes} bytes"
    )]
    InvalidRecordCount {
        record_count: i32,
        last_offset_delta: i32,
        size_bytes: usize,
    },
    /// Records of a compressed batch cannot be iterated without decompressing.
    #[error("compressed records (codec {codec}) cannot be iterated")]
    Compressed { codec: i16 },
    #[error("malformed record at byte {position}: {reason}")]
    MalformedRecord {
        position: usize,
        reason: &'static str,
    },
}

impl BatchError {
    /// Returns true when the bytes so far are a valid prefix of a batch.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, BatchError::Incomplete { .. })
    }
}

/// Returns the batch header at the start of `buf`, or `Incomplete`.
pub fn header(buf: &[u8]) -> Result<&BatchHeader, BatchError> {
    BatchHeader::ref_from_prefix(buf)
        .map(|(header, _)| header)
        .map_err(|_| BatchError::Incomplete {
            need: BATCH_HEADER_BYTES,
            have: buf.len(),
        })
}

/// Validates the one batch at the start of `buf`: length bounds, magic,
/// CRC-32C and the record count against `last_offset_delta`. Bytes after
/// the batch are ignored. The records themselves are not walked.
pub fn validate(buf: &[u8]) -> Result<BatchInfo, BatchError> {
    let size_bytes = framed_size(buf)?;
    let header = header_v2(buf)?;
    if buf.len() < size_bytes {
        return Err(BatchError::Incomplete {
            need: size_bytes,
            have: buf.len(),
        });
    }
    let stored = header.crc.get();
    let computed = crc32c::crc32c(&buf[CRC_START..size_bytes]);
    if stored != computed {
        return Err(BatchError::CrcMismatch { stored, computed });
    }
    check_header_fields(header, size_bytes)
}

/// Checks the header of the batch at the start of `buf` like [`validate`],
/// without the CRC and without needing the records in `buf`. Use it for
/// batches that were validated before, such as those read back from a
/// segment.
pub fn inspect(buf: &[u8]) -> Result<BatchInfo, BatchError> {
    let size_bytes = framed_size(buf)?;
    let header = header_v2(buf)?;
    check_header_fields(header, size_bytes)
}

fn header_v2(buf: &[u8]) -> Result<&BatchHeader, BatchError> {
    let header = header(buf)?;
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic {
            magic: header.magic,
        });
    }
    Ok(header)
}

/// Reads the batch size from the length field once 12 bytes are present and
/// checks its bounds, so a reader knows how many bytes to wait for.
pub fn framed_size(buf: &[u8]) -> Result<usize, BatchError> {
    let Some(length_bytes) = buf.get(8..BATCH_LENGTH_PREFIX_BYTES) else {
        return Err(BatchError::Incomplete {
            need: BATCH_HEADER_BYTES,
            have: buf.len(),
        });
    };
    let length = i32::from_be_bytes(length_bytes.try_into().expect("slice of 4 bytes"));
    let min = BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES;
    let max = BATCH_BYTES_MAX - BATCH_LENGTH_PREFIX_BYTES;
    match usize::try_from(length) {
        Ok(body) if (min..=max).contains(&body) => Ok(BATCH_LENGTH_PREFIX_BYTES + body),
        _ => Err(BatchError::InvalidLength { length, min, max }),
    }
}

fn check_header_fields(header: &BatchHeader, size_bytes: usize) -> Result<BatchInfo, BatchError> {
    let codec = header.attributes.get() & COMPRESSION_MASK;
    if codec > COMPRESSION_CODEC_MAX {
        return Err(BatchError::InvalidCompression { codec });
    }
    let record_count = header.record_count.get();
    let last_offset_delta = header.last_offset_delta.get();
    // Kafka rejects produced v2 batches whose offset range and record count
    // disagree. Uncompressed records also need room for their minimum size.
    let records_fit = codec != 0
        || usize::try_from(record_count).is_ok_and(|count| {
            count.saturating_mul(RECORD_BYTES_MIN) <= size_bytes - BATCH_HEADER_BYTES
        });
    if record_count < 1 || last_offset_delta != record_count - 1 || !records_fit {
        return Err(BatchError::InvalidRecordCount {
            record_count,
            last_offset_delta,
            size_bytes,
        });
    }
    Ok(BatchInfo {
        size_bytes,
        last_offset_delta: last_offset_delta as u32,
        record_count: record_count as u32,
        base_timestamp_ms: header.base_timestamp.get(),
        max_timestamp_ms: header.max_timestamp.get(),
    })
}

/// Returns the base offset of the batch at the start of `buf`.
///
/// Panics if `buf` is shorter than 8 bytes; callers pass validated batches.
pub fn base_offset(buf: &[u8]) -> u64 {
    let bytes = buf[..8].try_into().expect("slice of 8 bytes");
    i64::from_be_bytes(bytes) as u64
}

/// Rewrites the base offset of the batch at the start of `buf`. The CRC does
/// not cover this field, so the batch stays valid.
///
/// Panics if `buf` is shorter than 8 bytes or `offset` exceeds `i64::MAX`.
pub fn set_base_offset(buf: &mut [u8], offset: u64) {
    let offset = i64::try_from(offset).expect("offset fits in i64");
    buf[..8].copy_from_slice(&offset.to_be_bytes());
}

/// Returns the compression codec of a batch header (0 = none).
pub fn compression_codec(header: &BatchHeader) -> i16 {
    header.attributes.get() & COMPRESSION_MASK
}

#[cfg(test)]
mod tests;
