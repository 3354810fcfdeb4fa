//! Client calls of the dead-letter APIs, `Consumer::fail`, and
//! [`RetryConsumer`], which reads a topic and its retry topic together.

use std::collections::HashMap;
use std::time::Duration;

use super::conn::decode;
use super::{Client, ClientError, Consumer, ConsumerConfig, Record};
use crate::protocol::dlq::{DlqCommand, DlqCommandKind, DlqReply, FailReply, FailRequest};
use crate::protocol::ApiKey;

/// Suffix of the retry topic the broker creates for a topic with a policy.
pub const RETRY_SUFFIX: &str = ".retry";

fn command_key(kind: DlqCommandKind) -> ApiKey {
    match kind {
        DlqCommandKind::List => ApiKey::DlqList,
        DlqCommandKind::Show => ApiKey::DlqShow,
        DlqCommandKind::Redrive => ApiKey::DlqRedrive,
        DlqCommandKind::Purge => ApiKey::DlqPurge,
    }
}

impl Client {
    /// Reports that the event at `offset` of `topic` (a topic with a retry
    /// policy, or its `.retry` topic) failed. Returns once the dead-letter
    /// entry is durable.
    pub fn fail(&mut self, request: &FailRequest) -> Result<FailReply, ClientError> {
        decode(&self.connection().call(ApiKey::Fail, request)?)
    }

    /// Sends several Fail reports pipelined on this connection and returns
    /// their replies in request order; the first error ends the call. The
    /// broker may complete them in any order, so replies are matched by
    /// correlation id.
    pub fn fail_many(&mut self, requests: &[FailRequest]) -> Result<Vec<FailReply>, ClientError> {
        let conn = self.connection();
        let mut slots: HashMap<u32, usize> = HashMap::with_capacity(requests.len());
        for (slot, request) in requests.iter().enumerate() {
            slots.insert(conn.send(ApiKey::Fail, request)?, slot);
        }
        let mut replies: Vec<Option<FailReply>> = vec![None; requests.len()];
        for _ in 0..requests.len() {
            let reply = conn.recv()?;
            let slot = slots.remove(&reply.header.correlation_id).ok_or_else(|| {
                ClientError::Protocol(format!(
                    "reply with unknown correlation id {}",
                    reply.header.correlation_id
                ))
            })?;
            replies[slot] = Some(decode(&reply.into_result()?)?);
        }
        Ok(replies
            .into_iter()
            .map(|reply| reply.expect("every slot has a reply"))
            .collect())
    }

    /// Runs a dead-letter operator command.
    pub fn dlq(&mut self, command: &DlqCommand) -> Result<DlqReply, ClientError> {
        let conn = self.connection();
        let id = conn.send_with(command_key(command.kind()), |buf| command.encode(buf))?;
        decode(&conn.recv_for(id)?)
    }
}

impl Consumer {
    /// Reports that `record`, consumed from this consumer's topic, failed
    /// with `reason` (class `error`).
    pub fn fail(&mut self, record: &Record, reason: &str) -> Result<FailReply, ClientError> {
        self.fail_with_class(record, reason, "")
    }

    /// As [`Consumer::fail`], with a reason class such as `timeout` or `schema`.
    pub fn fail_with_class(
        &mut self,
        record: &Record,
        reason: &str,
        class: &str,
    ) -> Result<FailReply, ClientError> {
        let request = FailRequest {
            topic: self.topic().to_owned(),
            partition: record.partition,
            offset: record.offset,
            reason: reason.to_owned(),
            class: class.to_owned(),
        };
        self.admin_client().fail(&request)
    }
}

/// A record and the topic it came from (`T` or `T.retry`).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub topic: String,
    pub record: Record,
}

impl Delivery {
    /// Returns the delivery attempt: 1 for `T`, the `attempt` header for a retry copy.
    pub fn attempt(&self) -> u32 {
        self.header("attempt")
            .and_then(|a| a.parse().ok())
            .unwrap_or(1)
    }

    /// Returns the `idempotency_key` header of a retry copy.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header("idempotency_key")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.record
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.as_deref())
            .and_then(|value| std::str::from_utf8(value).ok())
    }
}

/// Reads a topic `T` and its retry topic `T.retry` together.
pub struct RetryConsumer {
    main: Consumer,
    retry: Consumer,
}

impl RetryConsumer {
    /// Subscribes to every partition of `topic` and `topic.retry`.
    pub fn connect(
        bootstrap: &str,
        topic: &str,
        config: ConsumerConfig,
    ) -> Result<RetryConsumer, ClientError> {
        Ok(RetryConsumer {
            main: Consumer::connect(bootstrap, topic, None, config.clone())?,
            retry: Consumer::connect(bootstrap, &format!("{topic}{RETRY_SUFFIX}"), None, config)?,
        })
    }

    /// Returns records of both topics, waiting up to `timeout` in all.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Delivery>, ClientError> {
        let half = timeout / 2;
        let mut out = Vec::new();
        for consumer in [&mut self.main, &mut self.retry] {
            let topic = consumer.topic().to_owned();
            let records = consumer.poll(if out.is_empty() { half } else { Duration::ZERO })?;
            out.extend(records.into_iter().map(|record| Delivery {
                topic: topic.clone(),
                record,
            }));
        }
        Ok(out)
    }

    /// Reports that `delivery` failed with `reason`.
    pub fn fail(&mut self, delivery: &Delivery, reason: &str) -> Result<FailReply, ClientError> {
        self.fail_with_class(delivery, reason, "")
    }

    /// As [`RetryConsumer::fail`], with a reason class.
    pub fn fail_with_class(
        &mut self,
        delivery: &Delivery,
        reason: &str,
        class: &str,
    ) -> Result<FailReply, ClientError> {
        let consumer = if delivery.topic == self.main.topic() {
            &mut self.main
        } else {
            &mut self.retry
        };
        consumer.fail_with_class(&delivery.record, reason, class)
    }

    /// Commits both topics' positions for the configured group.
    pub fn commit(&mut self) -> Result<(), ClientError> {
        self.main.commit()?;
        self.retry.commit()
    }
}
