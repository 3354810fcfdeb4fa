//! Bodies of the dead-letter APIs (keys 30..=34): Fail, and the operator
//! commands list, show, redrive and purge.
//!
//! Entries travel as JSON objects, one string per entry, in the layout
//! `retry::entry::EntryView` serializes, so the CLI and the HTTP admin API
//! print the same fields.

use bytes::{BufMut, BytesMut};

use super::api::Body;
use super::codec::{put_str, Reader};
use super::error::WireError;

/// Fail request: an event that a consumer could not process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailRequest {
    /// The topic the event was read from: `T` or its retry topic `T.retry`.
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub reason: String,
    /// Reason class such as `timeout` or `schema`; empty means `error`.
    pub class: String,
}

impl Body for FailRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_u64(self.offset);
        put_str(buf, &self.reason);
        put_str(buf, &self.class);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FailRequest {
            topic: reader.string("topic")?,
            partition: reader.u32("partition")?,
            offset: reader.u64("offset")?,
            reason: reader.string("reason")?,
            class: reader.string("class")?,
        })
    }
}

/// Fail reply: the dead-letter entry after the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailReply {
    /// False when the same event and attempt was already reported, so
    /// nothing was appended.
    pub changed: bool,
    /// Offset in `T.dlq` of the entry's latest record.
    pub dlq_offset: u64,
    /// The failed attempt the entry records; the first delivery is 1.
    pub attempt: u32,
    /// The entry's state: pending, retried, poison, redriven or purged.
    pub state: String,
    /// When the entry is re-published or marked poison, in ms since the epoch.
    pub next_due_ms: i64,
}

impl Body for FailReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.changed));
        buf.put_u64(self.dlq_offset);
        buf.put_u32(self.attempt);
        put_str(buf, &self.state);
        buf.put_i64(self.next_due_ms);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FailReply {
            changed: reader.u8("changed")? != 0,
            dlq_offset: reader.u64("dlq_offset")?,
            attempt: reader.u32("attempt")?,
            state: reader.string("state")?,
            next_due_ms: reader.i64("next_due_ms")?,
        })
    }
}

/// An operator command over the dead-letter entries of one topic.
#[derive(Clone, Debug, PartialEq)]
pub enum DlqCommand {
    /// Entries in `state` (every state but purged when empty), at most `limit`.
    List {
        topic: String,
        state: String,
        limit: u32,
    },
    /// Every record of the entries of one source event, oldest first.
    Show {
        topic: String,
        partition: u32,
        offset: u64,
    },
    /// Re-publishes entries in `state` to `to` (`source` or `retry`).
    Redrive {
        topic: String,
        state: String,
        to: String,
        /// Records per second; 0 puts no limit.
        rate_per_s: u32,
        dry_run: bool,
    },
    /// Marks entries in `state` (any when empty) whose last failure is
    /// before `before_ms` (any when 0) as purged.
    Purge {
        topic: String,
        state: String,
        before_ms: i64,
    },
}

impl DlqCommand {
    pub fn topic(&self) -> &str {
        match self {
            DlqCommand::List { topic, .. }
            | DlqCommand::Show { topic, .. }
            | DlqCommand::Redrive { topic, .. }
            | DlqCommand::Purge { topic, .. } => topic,
        }
    }
}

impl DlqCommand {
    /// Writes the body. The API key gives the kind (see [`DlqCommand::kind`]).
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            DlqCommand::List {
                topic,
                state,
                limit,
            } => {
                put_str(buf, topic);
                put_str(buf, state);
                buf.put_u32(*limit);
            }
            DlqCommand::Show {
                topic,
                partition,
                offset,
            } => {
                put_str(buf, topic);
                buf.put_u32(*partition);
                buf.put_u64(*offset);
            }
            DlqCommand::Redrive {
                topic,
                state,
                to,
                rate_per_s,
                dry_run,
            } => {
                put_str(buf, topic);
                put_str(buf, state);
                put_str(buf, to);
                buf.put_u32(*rate_per_s);
                buf.put_u8(u8::from(*dry_run));
            }
            DlqCommand::Purge {
                topic,
                state,
                before_ms,
            } => {
                put_str(buf, topic);
                put_str(buf, state);
                buf.put_i64(*before_ms);
            }
        }
    }
}

/// Kind of operator command, one per API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlqCommandKind {
    List,
    Show,
    Redrive,
    Purge,
}

impl DlqCommand {
    pub fn kind(&self) -> DlqCommandKind {
        match self {
            DlqCommand::List { .. } => DlqCommandKind::List,
            DlqCommand::Show { .. } => DlqCommandKind::Show,
            DlqCommand::Redrive { .. } => DlqCommandKind::Redrive,
            DlqCommand::Purge { .. } => DlqCommandKind::Purge,
        }
    }

    /// Decodes the body of a command of kind `kind`.
    pub fn decode_for(kind: DlqCommandKind, reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let topic = reader.string("topic")?;
        let command = match kind {
            DlqCommandKind::List => DlqCommand::List {
                topic,
                state: reader.string("state")?,
                limit: reader.u32("limit")?,
            },
            DlqCommandKind::Show => DlqCommand::Show {
                topic,
                partition: reader.u32("partition")?,
                offset: reader.u64("offset")?,
            },
            DlqCommandKind::Redrive => DlqCommand::Redrive {
                topic,
                state: reader.string("state")?,
                to: reader.string("to")?,
                rate_per_s: reader.u32("rate_per_s")?,
                dry_run: reader.u8("dry_run")? != 0,
            },
            DlqCommandKind::Purge => DlqCommand::Purge {
                topic,
                state: reader.string("state")?,
                before_ms: reader.i64("before_ms")?,
            },
        };
        reader.finish("dead-letter command")?;
        Ok(command)
    }
}

/// Reply to an operator command: the entries it matched (JSON objects) and,
/// for redrive and purge, how many it changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqReply {
    pub matched: u64,
    pub changed: u64,
    pub entries: Vec<String>,
}

impl Body for DlqReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u64(self.matched);
        buf.put_u64(self.changed);
        buf.put_u32(self.entries.len() as u32);
        for entry in &self.entries {
            put_str(buf, entry);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let matched = reader.u64("matched")?;
        let changed = reader.u64("changed")?;
        let count = reader.count("entry_count", 2)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(reader.string("entry")?);
        }
        Ok(DlqReply {
            matched,
            changed,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_bodies_round_trip() {
        let request = FailRequest {
            topic: "orders.retry".into(),
            partition: 3,
            offset: 99,
            reason: "timeout calling payments".into(),
            class: "timeout".into(),
        };
        let mut buf = BytesMut::new();
        request.encode(&mut buf);
        assert_eq!(
            FailRequest::decode(&mut Reader::new(&buf)).unwrap(),
            request
        );
        let reply = FailReply {
            changed: true,
            dlq_offset: 7,
            attempt: 2,
            state: "pending".into(),
            next_due_ms: 1_700_000_000_000,
        };
        let mut buf = BytesMut::new();
        reply.encode(&mut buf);
        assert_eq!(FailReply::decode(&mut Reader::new(&buf)).unwrap(), reply);
    }

    #[test]
    fn commands_round_trip() {
        let commands = [
            (
                DlqCommandKind::List,
                DlqCommand::List {
                    topic: "t".into(),
                    state: "poison".into(),
                    limit: 10,
                },
            ),
            (
                DlqCommandKind::Show,
                DlqCommand::Show {
                    topic: "t".into(),
                    partition: 1,
                    offset: 5,
                },
            ),
            (
                DlqCommandKind::Redrive,
                DlqCommand::Redrive {
                    topic: "t".into(),
                    state: "poison".into(),
                    to: "source".into(),
                    rate_per_s: 100,
                    dry_run: true,
                },
            ),
            (
                DlqCommandKind::Purge,
                DlqCommand::Purge {
                    topic: "t".into(),
                    state: String::new(),
                    before_ms: 12,
                },
            ),
        ];
        for (kind, command) in commands {
            let mut buf = BytesMut::new();
            command.encode(&mut buf);
            let decoded = DlqCommand::decode_for(kind, &mut Reader::new(&buf)).unwrap();
            assert_eq!(decoded, command);
        }
        let reply = DlqReply {
            matched: 2,
            changed: 1,
            entries: vec!["{}".into(), "{\"a\":1}".into()],
        };
        let mut buf = BytesMut::new();
        reply.encode(&mut buf);
        assert_eq!(DlqReply::decode(&mut Reader::new(&buf)).unwrap(), reply);
    }
}
