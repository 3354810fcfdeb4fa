//! Record-level reads from a partition log for the orchestrator: one record
//! by offset, or every record in order.

use bytes::Bytes;

use crate::protocol::batch::{self, RecordView};
use crate::protocol::{ApiError, ErrorCode};
use crate::server::ops::storage_error;
use crate::storage::Partition;

/// Bytes read per step of a scan.
const SCAN_READ_BYTES: usize = 1 << 20;

/// One record, its key, value and header values sharing the read's memory.
#[derive(Clone, Debug)]
pub struct OwnedRecord {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl OwnedRecord {
    fn from_view(chunk: &Bytes, view: RecordView<'_>) -> OwnedRecord {
        OwnedRecord {
            offset: view.offset,
            timestamp_ms: view.timestamp_ms,
            key: view.key.map(|k| chunk.slice_ref(k)),
            value: view.value.map(|v| chunk.slice_ref(v)),
            headers: view
                .headers
                .map(|(name, value)| (name.to_owned(), value.map(|v| chunk.slice_ref(v))))
                .collect(),
        }
    }

    /// Returns the value of header `name` as text, when present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.as_deref())
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Header pairs in the form `DlqEntry::from_headers` takes.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }
}

fn corrupt(topic: &str, partition: u32, err: batch::BatchError) -> ApiError {
    ApiError::new(
        ErrorCode::StorageError,
        format!("{topic}/{partition}: {err}"),
    )
}

/// Reads the record at `offset`, or OFFSET_OUT_OF_RANGE naming the valid range.
pub async fn read_record(
    log: &Partition,
    topic: &str,
    partition: u32,
    offset: u64,
) -> Result<OwnedRecord, ApiError> {
    let start = log.log_start_offset();
    let end = log.high_watermark();
    let missing = || {
        ApiError::new(
            ErrorCode::OffsetOutOfRange,
            format!(
                "offset {offset} does not exist in {topic}/{partition}, which holds offsets {start}..{end}; \
                 report a failure only for an offset that was consumed"
            ),
        )
    };
    if offset < start || offset >= end {
        return Err(missing());
    }
    let read = log
        .read(offset, 1)
        .await
        .map_err(|err| storage_error(err, topic, partition))?;
    for chunk in &read.chunks {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let info = batch::validate(rest).map_err(|err| corrupt(topic, partition, err))?;
            let (one, tail) = rest.split_at(info.size_bytes);
            for view in batch::records(one) {
                let view = view.map_err(|err| corrupt(topic, partition, err))?;
                if view.offset == offset {
                    return Ok(OwnedRecord::from_view(chunk, view));
                }
            }
            rest = tail;
        }
    }
    Err(missing())
}

/// Calls `apply` on every visible record from the log start, in offset order.
pub async fn scan(
    log: &Partition,
    topic: &str,
    partition: u32,
    mut apply: impl FnMut(OwnedRecord),
) -> Result<(), ApiError> {
    let mut position = log.log_start_offset();
    let end = log.high_watermark();
    while position < end {
        let read = log
            .read(position, SCAN_READ_BYTES)
            .await
            .map_err(|err| storage_error(err, topic, partition))?;
        let before = position;
        for chunk in &read.chunks {
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let info = batch::validate(rest).map_err(|err| corrupt(topic, partition, err))?;
                let (one, tail) = rest.split_at(info.size_bytes);
                for view in batch::records(one) {
                    let view = view.map_err(|err| corrupt(topic, partition, err))?;
                    if view.offset >= position && view.offset < end {
                        position = view.offset + 1;
                        apply(OwnedRecord::from_view(chunk, view));
                    }
                }
                rest = tail;
            }
        }
        if position == before {
            // A read that yields nothing new would repeat forever.
            break;
        }
    }
    Ok(())
}
