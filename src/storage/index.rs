//! Sparse offset index (`.index`) and time index (`.timeindex`) of one
//! segment, kept in memory and written out whole.
//!
//! On disk both are flat arrays of big-endian entries, as in Kafka:
//!
//! ```text
//! .index      relative_offset u32 | position u32          8 bytes an entry
//! .timeindex  timestamp_ms i64    | relative_offset u32  12 bytes an entry
//! ```
//!
//! Relative offsets count from the segment's base offset and always point at
//! a batch's first offset. Positions are byte offsets in the `.log` file.

use zerocopy::big_endian::{I64, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// One `.index` entry as stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
struct OffsetEntryBytes {
    relative_offset: U32,
    position: U32,
}

/// One `.timeindex` entry as stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
struct TimeEntryBytes {
    timestamp_ms: I64,
    relative_offset: U32,
}

const _: () = assert!(size_of::<OffsetEntryBytes>() == 8);
const _: () = assert!(size_of::<TimeEntryBytes>() == 12);

/// An offset index entry: the batch starting at `relative_offset` begins at
/// byte `position` of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// Sparse map from relative offsets to log positions, strictly increasing in
/// both fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Appends an entry. Panics unless both fields grow, because a
    /// non-monotonic index would send reads to the wrong batch.
    pub fn push(&mut self, entry: OffsetEntry) {
        if let Some(last) = self.entries.last() {
            assert!(
                entry.relative_offset > last.relative_offset && entry.position > last.position,
                "offset index entries must increase: {last:?} then {entry:?}"
            );
        }
        self.entries.push(entry);
    }

    /// Returns the log position of the last indexed batch at or before
    /// `relative_offset`, or 0 (the segment start) if there is none.
    pub fn lookup(&self, relative_offset: u32) -> u32 {
        let after = self
            .entries
            .partition_point(|entry| entry.relative_offset <= relative_offset);
        after.checked_sub(1).map_or(0, |i| self.entries[i].position)
    }

    pub fn entries(&self) -> &[OffsetEntry] {
        &self.entries
    }

    /// Encodes the index in its file format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * size_of::<OffsetEntryBytes>());
        for entry in &self.entries {
            let stored = OffsetEntryBytes {
                relative_offset: entry.relative_offset.into(),
                position: entry.position.into(),
            };
            out.extend_from_slice(stored.as_bytes());
        }
        out
    }

    /// Decodes an index file and checks it against the log: whole entries,
    /// both fields strictly increasing, and every position inside the log.
    pub fn decode(bytes: &[u8], log_size_bytes: u64) -> Result<Self, String> {
        let stored = <[OffsetEntryBytes]>::ref_from_bytes(bytes)
            .map_err(|_| format!("size {} is not a multiple of 8", bytes.len()))?;
        let mut index = OffsetIndex::default();
        for (i, entry) in stored.iter().enumerate() {
            let entry = OffsetEntry {
                relative_offset: entry.relative_offset.get(),
                position: entry.position.get(),
            };
            let increasing = index.entries.last().is_none_or(|last| {
                entry.relative_offset > last.relative_offset && entry.position > last.position
            });
            if !increasing || u64::from(entry.position) >= log_size_bytes {
                return Err(format!(
                    "entry {i} (relative offset {}, byte {}) is out of order or past the log end",
                    entry.relative_offset, entry.position
                ));
            }
            index.entries.push(entry);
        }
        Ok(index)
    }
}

/// A time index entry: the batch starting at `relative_offset` is the first
/// whose max timestamp reached `timestamp_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp_ms: i64,
    pub relative_offset: u32,
}

/// Sparse map from timestamps to relative offsets. Timestamps strictly
/// increase and relative offsets never decrease, so every batch before an
/// entry has a max timestamp below that entry's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Appends an entry if its timestamp exceeds the last one and returns
    /// whether it did. Panics if the relative offset goes backwards.
    pub fn push(&mut self, entry: TimeEntry) -> bool {
        if let Some(last) = self.entries.last() {
            if entry.timestamp_ms <= last.timestamp_ms {
                return false;
            }
            assert!(
                entry.relative_offset >= last.relative_offset,
                "time index offsets must not decrease: {last:?} then {entry:?}"
            );
        }
        self.entries.push(entry);
        true
    }

    /// Returns the relative offset to start a scan from when looking for the
    /// first batch with a max timestamp at or above `timestamp_ms`: the last
    /// entry below it, or 0 if there is none.
    pub fn scan_start(&self, timestamp_ms: i64) -> u32 {
        let below = self
            .entries
            .partition_point(|entry| entry.timestamp_ms < timestamp_ms);
        below
            .checked_sub(1)
            .map_or(0, |i| self.entries[i].relative_offset)
    }

    /// Returns the largest timestamp indexed, if any.
    pub fn max_timestamp_ms(&self) -> Option<i64> {
        self.entries.last().map(|entry| entry.timestamp_ms)
    }

    pub fn entries(&self) -> &[TimeEntry] {
        &self.entries
    }

    /// Encodes the index in its file format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * size_of::<TimeEntryBytes>());
        for entry in &self.entries {
            let stored = TimeEntryBytes {
                timestamp_ms: entry.timestamp_ms.into(),
                relative_offset: entry.relative_offset.into(),
            };
            out.extend_from_slice(stored.as_bytes());
        }
        out
    }

    /// Decodes a time index file and checks its order and that each relative
    /// offset is below `offset_span` (the segment's offset count).
    pub fn decode(bytes: &[u8], offset_span: u64) -> Result<Self, String> {
        let stored = <[TimeEntryBytes]>::ref_from_bytes(bytes)
            .map_err(|_| format!("size {} is not a multiple of 12", bytes.len()))?;
        let mut index = TimeIndex::default();
        for (i, entry) in stored.iter().enumerate() {
            let entry = TimeEntry {
                timestamp_ms: entry.timestamp_ms.get(),
                relative_offset: entry.relative_offset.get(),
            };
            let ordered = index.entries.last().is_none_or(|last| {
                entry.timestamp_ms > last.timestamp_ms
                    && entry.relative_offset >= last.relative_offset
            });
            if !ordered || u64::from(entry.relative_offset) >= offset_span {
                return Err(format!(
                    "entry {i} ({entry:?}) is out of order or past the segment end"
                ));
            }
            index.entries.push(entry);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_entry(relative_offset: u32, position: u32) -> OffsetEntry {
        OffsetEntry {
            relative_offset,
            position,
        }
    }

    #[test]
    fn offset_lookup_picks_entry_at_or_before() {
        let mut index = OffsetIndex::default();
        assert_eq!(index.lookup(7), 0);
        index.push(offset_entry(10, 4_000));
        index.push(offset_entry(25, 8_100));
        assert_eq!(index.lookup(9), 0);
        assert_eq!(index.lookup(10), 4_000);
        assert_eq!(index.lookup(24), 4_000);
        assert_eq!(index.lookup(25), 8_100);
        assert_eq!(index.lookup(u32::MAX), 8_100);
    }

    #[test]
    #[should_panic(expected = "must increase")]
    fn offset_push_out_of_order_panics() {
        let mut index = OffsetIndex::default();
        index.push(offset_entry(10, 4_000));
        index.push(offset_entry(10, 5_000));
    }

    #[test]
    fn offset_encode_decode_round_trip() {
        let mut index = OffsetIndex::default();
        index.push(offset_entry(3, 100));
        index.push(offset_entry(9, 260));
        let bytes = index.encode();
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..8], &[0, 0, 0, 3, 0, 0, 0, 100]);
        assert_eq!(OffsetIndex::decode(&bytes, 300), Ok(index));
    }

    #[test]
    fn offset_decode_rejects_damage() {
        let mut index = OffsetIndex::default();
        index.push(offset_entry(3, 100));
        index.push(offset_entry(9, 260));
        let bytes = index.encode();
        assert!(
            OffsetIndex::decode(&bytes[..12], 300).is_err(),
            "partial entry"
        );
        assert!(
            OffsetIndex::decode(&bytes, 260).is_err(),
            "position past the log end"
        );
        let mut swapped = bytes[8..].to_vec();
        swapped.extend_from_slice(&bytes[..8]);
        assert!(
            OffsetIndex::decode(&swapped, 300).is_err(),
            "entries out of order"
        );
        assert_eq!(OffsetIndex::decode(&[], 0), Ok(OffsetIndex::default()));
    }

    #[test]
    fn time_push_skips_older_timestamps() {
        let mut index = TimeIndex::default();
        assert!(index.push(TimeEntry {
            timestamp_ms: 100,
            relative_offset: 0
        }));
        assert!(!index.push(TimeEntry {
            timestamp_ms: 100,
            relative_offset: 5
        }));
        assert!(!index.push(TimeEntry {
            timestamp_ms: 90,
            relative_offset: 6
        }));
        assert!(index.push(TimeEntry {
            timestamp_ms: 150,
            relative_offset: 7
        }));
        assert_eq!(index.entries().len(), 2);
        assert_eq!(index.max_timestamp_ms(), Some(150));
    }

    #[test]
    fn time_scan_start_uses_last_entry_below() {
        let mut index = TimeIndex::default();
        assert_eq!(index.scan_start(5), 0);
        index.push(TimeEntry {
            timestamp_ms: 100,
            relative_offset: 0,
        });
        index.push(TimeEntry {
            timestamp_ms: 200,
            relative_offset: 40,
        });
        index.push(TimeEntry {
            timestamp_ms: 300,
            relative_offset: 90,
        });
        assert_eq!(index.scan_start(50), 0);
        assert_eq!(index.scan_start(100), 0);
        assert_eq!(index.scan_start(201), 40);
        assert_eq!(index.scan_start(300), 40);
        assert_eq!(index.scan_start(301), 90);
    }

    #[test]
    fn time_encode_decode_round_trip() {
        let mut index = TimeIndex::default();
        index.push(TimeEntry {
            timestamp_ms: -5,
            relative_offset: 0,
        });
        index.push(TimeEntry {
            timestamp_ms: 1_700_000_000_000,
            relative_offset: 12,
        });
        let bytes = index.encode();
        assert_eq!(bytes.len(), 24);
        assert_eq!(TimeIndex::decode(&bytes, 13), Ok(index));
        assert!(
            TimeIndex::decode(&bytes, 12).is_err(),
            "offset past the segment"
        );
        assert!(
            TimeIndex::decode(&bytes[..20], 13).is_err(),
            "partial entry"
        );
    }
}
