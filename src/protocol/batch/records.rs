//! Iteration over the records of one uncompressed batch, borrowing keys,
//! values and headers from the batch bytes.

use super::varint::{get_varint, get_varlong};
use super::{compression_codec, framed_size, header, BatchError, BATCH_HEADER_BYTES};

/// One record, borrowed from its batch.
#[derive(Debug, Clone)]
pub struct RecordView<'a> {
    /// Absolute offset: the batch base offset plus the record's offset delta.
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: HeaderIter<'a>,
}

/// Headers of one record as `(key, value)`. The record iterator has already
/// checked their framing and UTF-8 keys, so this iterator cannot fail.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    reader: Reader<'a>,
    remaining: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // `read_headers` already checked these bytes, so an error cannot
        // happen here. If one did, it would only end the iteration.
        read_header(&mut self.reader).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl<'a> HeaderIter<'a> {
    /// Returns the value of the last header named `name` (`Some(None)` for a
    /// null value). Compares key bytes without decoding them again.
    pub fn last_value(&self, name: &str) -> Option<Option<&'a [u8]>> {
        let mut reader = self.reader.clone();
        let mut found = None;
        for _ in 0..self.remaining {
            let (Ok(Some(key)), Ok(value)) = (reader.nullable(""), reader.nullable("")) else {
                break;
            };
            if key == name.as_bytes() {
                found = Some(value);
            }
        }
        found
    }
}

/// Iterator returned by [`records`]. It yields at most one error and then ends.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    batch: &'a [u8],
    position: usize,
    remaining: u32,
    base_offset: u64,
    base_timestamp_ms: i64,
    failed: Option<BatchError>,
    done: bool,
}

/// Iterates the records of the batch at the start of `batch`. The batch's
/// CRC is not checked again; call [`super::validate`] first for untrusted
/// bytes. Compressed batches yield one [`BatchError::Compressed`].
pub fn records(batch: &[u8]) -> RecordIter<'_> {
    let mut iter = RecordIter {
        batch,
        position: BATCH_HEADER_BYTES,
        remaining: 0,
        base_offset: 0,
        base_timestamp_ms: 0,
        failed: None,
        done: false,
    };
    match start(batch) {
        Ok((size_bytes, remaining)) => {
            let header = header(batch).expect("start checked the header");
            iter.batch = &batch[..size_bytes];
            iter.remaining = remaining;
            iter.base_offset = header.base_offset.get() as u64;
            iter.base_timestamp_ms = header.base_timestamp.get();
        }
        Err(error) => iter.failed = Some(error),
    }
    iter
}

/// Checks what the iterator needs from the header and returns the batch size
/// and record count.
fn start(batch: &[u8]) -> Result<(usize, u32), BatchError> {
    let size_bytes = framed_size(batch)?;
    let header = header(batch)?;
    if batch.len() < size_bytes {
        return Err(BatchError::Incomplete {
            need: size_bytes,
            have: batch.len(),
        });
    }
    let codec = compression_codec(header);
    if codec != 0 {
        return Err(BatchError::Compressed { codec });
    }
    let record_count = header.record_count.get();
    let last_offset_delta = header.last_offset_delta.get();
    let count = u32::try_from(record_count).map_err(|_| BatchError::InvalidRecordCount {
        record_count,
        last_offset_delta,
        size_bytes,
    })?;
    Ok((size_bytes, count))
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(error) = self.failed.take() {
            self.done = true;
            return Some(Err(error));
        }
        if self.remaining == 0 {
            self.done = true;
            if self.position != self.batch.len() {
                return Some(Err(malformed(self.position, "bytes after the last record")));
            }
            return None;
        }
        let result = self.read_record();
        match result {
            Ok(_) => self.remaining -= 1,
            Err(_) => self.done = true,
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize + 1))
    }
}

impl<'a> RecordIter<'a> {
    fn read_record(&mut self) -> Result<RecordView<'a>, BatchError> {
        let mut prefix = Reader::new(&self.batch[self.position..], self.position);
        let length = prefix.varint("truncated record length")?;
        let body_start = prefix.absolute();
        let body_bytes = usize::try_from(length)
            .ok()
            .filter(|&len| len <= self.batch.len() - body_start)
            .ok_or_else(|| malformed(self.position, "record length past the batch end"))?;
        let body_end = body_start + body_bytes;

        let mut reader = Reader::new(&self.batch[body_start..body_end], body_start);
        let _attributes = reader.take(1, "truncated record attributes")?;
        let timestamp_delta = reader.varlong("truncated timestamp delta")?;
        let offset_delta = reader.varint("truncated offset delta")?;
        let offset_delta = u32::try_from(offset_delta)
            .map_err(|_| malformed(reader.absolute(), "negative offset delta"))?;
        let key = reader.nullable("truncated record key")?;
        let value = reader.nullable("truncated record value")?;
        let headers = read_headers(&mut reader)?;
        if reader.absolute() != body_end {
            return Err(malformed(
                reader.absolute(),
                "record length disagrees with its fields",
            ));
        }

        self.position = body_end;
        Ok(RecordView {
            offset: self.base_offset.wrapping_add(u64::from(offset_delta)),
            timestamp_ms: self.base_timestamp_ms.wrapping_add(timestamp_delta),
            key,
            value,
            headers,
        })
    }
}

/// Checks the header block at the reader's position, moves past it and
/// returns an iterator over it.
fn read_headers<'a>(reader: &mut Reader<'a>) -> Result<HeaderIter<'a>, BatchError> {
    let count_position = reader.absolute();
    let count = reader.varint("truncated header count")?;
    let count =
        u32::try_from(count).map_err(|_| malformed(count_position, "negative header count"))?;
    let start = reader.clone();
    for _ in 0..count {
        read_header(reader)?;
    }
    let headers_bytes = reader.absolute() - start.absolute();
    Ok(HeaderIter {
        reader: Reader::new(
            &start.buf[start.position..][..headers_bytes],
            start.absolute(),
        ),
        remaining: count,
    })
}

fn read_header<'a>(reader: &mut Reader<'a>) -> Result<(&'a str, Option<&'a [u8]>), BatchError> {
    let key_position = reader.absolute();
    let key = reader
        .nullable("truncated header key")?
        .ok_or_else(|| malformed(key_position, "null header key"))?;
    let key =
        std::str::from_utf8(key).map_err(|_| malformed(key_position, "header key is not UTF-8"))?;
    let value = reader.nullable("truncated header value")?;
    Ok((key, value))
}

fn malformed(position: usize, reason: &'static str) -> BatchError {
    BatchError::MalformedRecord { position, reason }
}

/// A cursor over a slice that reports positions relative to the batch start.
#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
    position: usize,
    /// Position of `buf[0]` within the batch.
    origin: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], origin: usize) -> Self {
        Self {
            buf,
            position: 0,
            origin,
        }
    }

    fn absolute(&self) -> usize {
        self.origin + self.position
    }

    fn take(&mut self, len: usize, reason: &'static str) -> Result<&'a [u8], BatchError> {
        let bytes = self.buf[self.position..]
            .get(..len)
            .ok_or_else(|| malformed(self.absolute(), reason))?;
        self.position += len;
        Ok(bytes)
    }

    fn varint(&mut self, reason: &'static str) -> Result<i32, BatchError> {
        let (value, used) = get_varint(&self.buf[self.position..])
            .ok_or_else(|| malformed(self.absolute(), reason))?;
        self.position += used;
        Ok(value)
    }

    fn varlong(&mut self, reason: &'static str) -> Result<i64, BatchError> {
        let (value, used) = get_varlong(&self.buf[self.position..])
            .ok_or_else(|| malformed(self.absolute(), reason))?;
        self.position += used;
        Ok(value)
    }

    /// Reads a varint length and that many bytes; -1 means null.
    fn nullable(&mut self, reason: &'static str) -> Result<Option<&'a [u8]>, BatchError> {
        let length_position = self.absolute();
        match self.varint(reason)? {
            -1 => Ok(None),
            length => {
                let len = usize::try_from(length)
                    .map_err(|_| malformed(length_position, "negative field length"))?;
                self.take(len, reason).map(Some)
            }
        }
    }
}
