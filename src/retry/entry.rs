//! Dead-letter entries and their record encoding in `T.dlq`.
//!
//! Every state change of an entry appends one record to partition `p` of
//! `T.dlq` (the partition of the failed event); the latest record of an
//! entry wins. An entry is identified by its source offset in `T` and its
//! redrive generation, which starts at 0 and grows by one per redrive.
//!
//! Record layout:
//! - key: the event's key, as in `T`;
//! - value: the event's value on `pending` records, null on the others, so
//!   the payload a retry re-publishes is always the one of the entry's latest
//!   `pending` record;
//! - headers (UTF-8 text): `dlq_state`, `source_topic`, `source_partition`,
//!   `source_offset`, `redrive_generation`, `attempt` (the failed attempt),
//!   `reason`, `class`, `reason_history` (a JSON array of strings),
//!   `first_failure_ms`, `last_failure_ms`, `next_due_ms`, `failed_topic`
//!   and `failed_offset` (where the failed copy was read).

use serde::Serialize;

/// Reasons kept in the history: the first one and the last few, so a header
/// never grows with the number of attempts.
pub const REASON_HISTORY_MAX: usize = 5;
/// Longest reason kept, in bytes; longer ones are cut at a character boundary.
pub const REASON_BYTES_MAX: usize = 512;
/// Class of a failure reported without one.
pub const DEFAULT_CLASS: &str = "error";

/// Lifecycle state of a dead-letter entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting for its due time to be re-published or marked poison.
    Pending,
    /// Re-published to the retry topic.
    Retried,
    /// Attempts exhausted or class not retryable; kept for operators.
    Poison,
    /// Re-published by an operator with a new redrive generation.
    Redriven,
    /// Removed by an operator; kept in the log, hidden from listings.
    Purged,
}

impl EntryState {
    pub const ALL: [EntryState; 5] = [
        EntryState::Pending,
        EntryState::Retried,
        EntryState::Poison,
        EntryState::Redriven,
        EntryState::Purged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Retried => "retried",
            EntryState::Poison => "poison",
            EntryState::Redriven => "redriven",
            EntryState::Purged => "purged",
        }
    }

    pub fn parse(text: &str) -> Option<EntryState> {
        Self::ALL.into_iter().find(|state| state.name() == text)
    }
}

/// One dead-letter entry as its latest record describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DlqEntry {
    pub state: EntryState,
    pub source_topic: String,
    pub source_partition: u32,
    pub source_offset: u64,
    pub redrive_generation: u32,
    /// The failed attempt; the first delivery is 1.
    pub attempt: u32,
    pub reason: String,
    pub class: String,
    /// The first reason and the last ones, at most [`REASON_HISTORY_MAX`].
    pub reason_history: Vec<String>,
    pub first_failure_ms: i64,
    pub last_failure_ms: i64,
    pub next_due_ms: i64,
    pub failed_topic: String,
    pub failed_offset: u64,
}

/// Header names of the record layout.
pub mod header {
    pub const STATE: &str = "dlq_state";
    pub const SOURCE_TOPIC: &str = "source_topic";
    pub const SOURCE_PARTITION: &str = "source_partition";
    pub const SOURCE_OFFSET: &str = "source_offset";
    pub const GENERATION: &str = "redrive_generation";
    pub const ATTEMPT: &str = "attempt";
    pub const REASON: &str = "reason";
    pub const CLASS: &str = "class";
    pub const REASON_HISTORY: &str = "reason_history";
    pub const FIRST_FAILURE_MS: &str = "first_failure_ms";
    pub const LAST_FAILURE_MS: &str = "last_failure_ms";
    pub const NEXT_DUE_MS: &str = "next_due_ms";
    pub const FAILED_TOPIC: &str = "failed_topic";
    pub const FAILED_OFFSET: &str = "failed_offset";
    pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
}

/// Owned header values, turned into the borrowed form `BatchBuilder` takes.
pub struct Headers(pub Vec<(&'static str, String)>);

impl Headers {
    pub fn as_pairs(&self) -> Vec<(&str, &[u8])> {
        self.0.iter().map(|(k, v)| (*k, v.as_bytes())).collect()
    }
}

impl DlqEntry {
    /// The headers of this entry's record.
    pub fn headers(&self) -> Headers {
        let history = serde_json::to_string(&self.reason_history).expect("strings serialize");
        Headers(vec![
            (header::STATE, self.state.name().to_owned()),
            (header::SOURCE_TOPIC, self.source_topic.clone()),
            (header::SOURCE_PARTITION, self.source_partition.to_string()),
            (header::SOURCE_OFFSET, self.source_offset.to_string()),
            (header::GENERATION, self.redrive_generation.to_string()),
            (header::ATTEMPT, self.attempt.to_string()),
            (header::REASON, self.reason.clone()),
            (header::CLASS, self.class.clone()),
            (header::REASON_HISTORY, history),
            (header::FIRST_FAILURE_MS, self.first_failure_ms.to_string()),
            (header::LAST_FAILURE_MS, self.last_failure_ms.to_string()),
            (header::NEXT_DUE_MS, self.next_due_ms.to_string()),
            (header::FAILED_TOPIC, self.failed_topic.clone()),
            (header::FAILED_OFFSET, self.failed_offset.to_string()),
        ])
    }

    /// Parses a record's headers; `Err` names the missing or invalid header.
    pub fn from_headers<'a>(
        headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
    ) -> Result<DlqEntry, String> {
        let mut values: Vec<(&str, &str)> = Vec::with_capacity(16);
        for (name, value) in headers {
            let text = value.map_or(Ok(""), std::str::from_utf8);
            let text = text.map_err(|_| format!("header {name} is not UTF-8"))?;
            values.push((name, text));
        }
        let get = |name: &str| {
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
                .ok_or_else(|| format!("header {name} is missing"))
        };
        let number = |name: &str| -> Result<i64, String> {
            get(name)?
                .parse()
                .map_err(|_| format!("header {name} is not a number"))
        };
        let state = get(header::STATE)?;
        Ok(DlqEntry {
            state: EntryState::parse(state)
                .ok_or_else(|| format!("unknown dlq_state '{state}'"))?,
            source_topic: get(header::SOURCE_TOPIC)?.to_owned(),
            source_partition: number(header::SOURCE_PARTITION)? as u32,
            source_offset: number(header::SOURCE_OFFSET)? as u64,
            redrive_generation: number(header::GENERATION)? as u32,
            attempt: number(header::ATTEMPT)? as u32,
            reason: get(header::REASON)?.to_owned(),
            class: get(header::CLASS)?.to_owned(),
            reason_history: serde_json::from_str(get(header::REASON_HISTORY)?)
                .map_err(|err| format!("header reason_history: {err}"))?,
            first_failure_ms: number(header::FIRST_FAILURE_MS)?,
            last_failure_ms: number(header::LAST_FAILURE_MS)?,
            next_due_ms: number(header::NEXT_DUE_MS)?,
            failed_topic: get(header::FAILED_TOPIC)?.to_owned(),
            failed_offset: number(header::FAILED_OFFSET)? as u64,
        })
    }
}

/// Cuts `reason` to at most [`REASON_BYTES_MAX`] bytes at a character boundary.
pub fn bound_reason(reason: &str) -> String {
    if reason.len() <= REASON_BYTES_MAX {
        return reason.to_owned();
    }
    let mut end = REASON_BYTES_MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// Appends `reason` to `history`, keeping the first reason and the latest
/// ones within [`REASON_HISTORY_MAX`].
pub fn push_reason(history: &mut Vec<String>, reason: &str) {
    history.push(bound_reason(reason));
    if history.len() > REASON_HISTORY_MAX {
        // Keep index 0 (the first failure) and drop the oldest after it.
        history.remove(1);
    }
}

/// The idempotency key of a re-publish: the event identity and the attempt
/// number the re-published copy is.
pub fn idempotency_key(
    topic: &str,
    partition: u32,
    offset: u64,
    generation: u32,
    attempt: u32,
) -> String {
    format!("{topic}/{partition}/{offset}/g{generation}/a{attempt}")
}

/// An entry as listings show it: the entry and where its records are.
#[derive(Serialize)]
pub struct EntryView<'a> {
    #[serde(flatten)]
    pub entry: &'a DlqEntry,
    /// The event's key, as UTF-8 text with invalid bytes replaced.
    pub key: Option<String>,
    /// Offset in `T.dlq` of the entry's latest record.
    pub dlq_offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> DlqEntry {
        DlqEntry {
            state: EntryState::Pending,
            source_topic: "orders".into(),
            source_partition: 2,
            source_offset: 41,
            redrive_generation: 1,
            attempt: 3,
            reason: "timeout".into(),
            class: "io".into(),
            reason_history: vec!["a".into(), "b \"quoted\"".into()],
            first_failure_ms: 10,
            last_failure_ms: 20,
            next_due_ms: 30,
            failed_topic: "orders.retry".into(),
            failed_offset: 7,
        }
    }

    #[test]
    fn headers_round_trip() {
        let entry = entry();
        let headers = entry.headers();
        let pairs = headers.as_pairs();
        let parsed = DlqEntry::from_headers(pairs.iter().map(|(k, v)| (*k, Some(*v)))).unwrap();
        assert_eq!(parsed, entry);
    }

    #[test]
    fn missing_header_named() {
        let headers = entry().headers();
        let pairs = headers.as_pairs();
        let err = DlqEntry::from_headers(
            pairs
                .iter()
                .filter(|(k, _)| *k != header::ATTEMPT)
                .map(|(k, v)| (*k, Some(*v))),
        )
        .unwrap_err();
        assert!(err.contains("attempt"), "{err}");
    }

    #[test]
    fn history_stays_bounded() {
        let mut history = Vec::new();
        for i in 0..100 {
            push_reason(&mut history, &format!("reason {i}"));
        }
        assert_eq!(history.len(), REASON_HISTORY_MAX);
        assert_eq!(history[0], "reason 0");
        assert_eq!(history[REASON_HISTORY_MAX - 1], "reason 99");
        assert_eq!(history[1], "reason 96");
    }

    #[test]
    fn long_reason_cut_at_char_boundary() {
        let reason = "é".repeat(REASON_BYTES_MAX);
        let bounded = bound_reason(&reason);
        assert!(bounded.len() <= REASON_BYTES_MAX);
        assert!(bounded.len() >= REASON_BYTES_MAX - 1);
    }
}
