//! The in-memory index of one `T.dlq` partition: the latest state of every
//! entry, rebuilt from the log at start and kept current by every append.
//!
//! Memory grows with the number of entries (about 300 bytes each plus the
//! reason texts), not with payload sizes: payloads stay in the log and are
//! read back when an entry is re-published.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tracing::warn;

use super::entry::{DlqEntry, EntryState};
use super::log::OwnedRecord;
use super::metrics::TopicGauges;
use super::wheel::TimerId;

/// An entry's identity within one partition: source offset in `T` and
/// redrive generation.
pub type EntryKey = (u64, u32);

/// The latest state of one entry.
#[derive(Clone, Debug)]
pub struct Indexed {
    pub entry: DlqEntry,
    /// The event's key.
    pub key: Option<Bytes>,
    /// Offset in `T.dlq` of the entry's latest record.
    pub dlq_offset: u64,
    /// Offset in `T.dlq` of the latest `pending` record, which carries the
    /// payload.
    pub payload_offset: u64,
    /// The wheel timer of a pending entry, once its record is durable.
    pub timer: Option<TimerId>,
}

/// Entries of one dead-letter partition.
pub struct PartitionIndex {
    pub entries: HashMap<EntryKey, Indexed>,
    gauges: Arc<TopicGauges>,
}

impl PartitionIndex {
    pub fn new(gauges: Arc<TopicGauges>) -> PartitionIndex {
        PartitionIndex {
            entries: HashMap::new(),
            gauges,
        }
    }

    /// Records that the entry in `entry` was appended at `dlq_offset`. The
    /// previous timer, if any, is returned for the caller to cancel.
    pub fn apply(
        &mut self,
        entry: DlqEntry,
        key: Option<Bytes>,
        dlq_offset: u64,
    ) -> Option<TimerId> {
        let entry_key = (entry.source_offset, entry.redrive_generation);
        let state = entry.state;
        let previous = self.entries.get(&entry_key);
        let from = previous.map(|p| p.entry.state);
        let payload_offset = match (state, previous) {
            (EntryState::Pending, _) => dlq_offset,
            (_, Some(previous)) => previous.payload_offset,
            (_, None) => dlq_offset,
        };
        let key = key.or_else(|| previous.and_then(|p| p.key.clone()));
        let old = self.entries.insert(
            entry_key,
            Indexed {
                entry,
                key,
                dlq_offset,
                payload_offset,
                timer: None,
            },
        );
        self.gauges.transition(from, state);
        old.and_then(|old| old.timer)
    }

    /// Applies one record read back from the log; a record that is not a
    /// dead-letter entry is logged and skipped.
    pub fn apply_record(&mut self, topic: &str, partition: u32, record: OwnedRecord) {
        match DlqEntry::from_headers(record.header_pairs()) {
            Ok(entry) => {
                self.apply(entry, record.key, record.offset);
            }
            Err(reason) => {
                warn!(target: "ringbus::retry", topic, partition, offset = record.offset,
                                 %reason, "skipping a record that is not a dead-letter entry")
            }
        }
    }

    /// Sets the timer of a pending entry, unless the entry changed since.
    pub fn set_timer(&mut self, key: EntryKey, attempt: u32, timer: TimerId) -> bool {
        match self.entries.get_mut(&key) {
            Some(indexed)
                if indexed.entry.state == EntryState::Pending
                    && indexed.entry.attempt == attempt =>
            {
                indexed.timer = Some(timer);
                true
            }
            _ => false,
        }
    }

    /// Entries sorted by source offset then generation, filtered by `keep`.
    pub fn sorted(&self, mut keep: impl FnMut(&Indexed) -> bool) -> Vec<(EntryKey, &Indexed)> {
        let mut selected: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, indexed)| keep(indexed))
            .map(|(key, indexed)| (*key, indexed))
            .collect();
        selected.sort_by_key(|(key, _)| *key);
        selected
    }
}
