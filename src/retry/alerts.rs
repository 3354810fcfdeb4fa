//! Poison-message alerts: one record per poison event in `__alerts`, and
//! webhook POSTs aggregated per topic and reason class.
//!
//! Shards hand alerts to a dedicated `ringbus-alerts` thread over a channel
//! and never wait for it, so a slow or dead webhook cannot stall a shard.
//! The thread collects alerts for `alerts.aggregate_interval_ms` from the
//! first one, then POSTs one JSON body per (topic, class) to every URL.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use super::entry::DlqEntry;
use super::metrics;
use super::topics::ALERTS_TOPIC;
use crate::config::AlertsConfig;
use crate::protocol::api::Acks;
use crate::protocol::batch::BatchBuilder;
use crate::server::offsets::now_ms;
use crate::server::route;
use crate::server::state::{ShardCtx, ShardRequest};

/// Alerts queued for the webhook thread before new ones are dropped (and
/// counted in `ringbus_alerts_failed_total`).
const QUEUE_CAPACITY: usize = 65_536;
/// POST attempts per webhook and alert.
const POST_ATTEMPTS: u32 = 3;

/// One poison event, as stored in `__alerts`.
#[derive(Clone, Debug, Serialize)]
pub struct PoisonAlert {
    pub kind: &'static str,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub redrive_generation: u32,
    pub attempts: u32,
    pub class: String,
    pub last_reason: String,
    pub time_ms: i64,
}

impl PoisonAlert {
    fn from_entry(entry: &DlqEntry, time_ms: i64) -> PoisonAlert {
        PoisonAlert {
            kind: "poison_message",
            topic: entry.source_topic.clone(),
            partition: entry.source_partition,
            offset: entry.source_offset,
            redrive_generation: entry.redrive_generation,
            attempts: entry.attempt,
            class: entry.class.clone(),
            last_reason: entry.reason.clone(),
            time_ms,
        }
    }
}

/// The body POSTed to a webhook: the latest alert of a window and how many
/// poison events of its topic and class the window held.
#[derive(Clone, Debug, Serialize)]
pub struct AggregatedAlert {
    #[serde(flatten)]
    pub latest: PoisonAlert,
    pub count: u64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
}

static QUEUE: OnceLock<mpsc::SyncSender<PoisonAlert>> = OnceLock::new();

/// Starts the webhook thread when URLs are configured. Call once per process.
pub fn start(config: &AlertsConfig) -> std::io::Result<()> {
    if config.webhook_urls.is_empty() {
        return Ok(());
    }
    let (sender, receiver) = mpsc::sync_channel(QUEUE_CAPACITY);
    if QUEUE.set(sender).is_err() {
        return Ok(());
    }
    let config = config.clone();
    std::thread::Builder::new()
        .name("ringbus-alerts".into())
        .spawn(move || run_webhooks(&config, receiver))?;
    Ok(())
}

/// Writes one `__alerts` record per entry and queues the webhook alerts.
pub async fn raise(ctx: &Rc<ShardCtx>, entries: &[DlqEntry]) {
    if entries.is_empty() {
        return;
    }
    let now = now_ms();
    let alerts: Vec<PoisonAlert> = entries
        .iter()
        .map(|e| PoisonAlert::from_entry(e, now))
        .collect();
    if let Some(queue) = QUEUE.get() {
        for alert in &alerts {
            if queue.try_send(alert.clone()).is_err() {
                metrics::global()
                    .alerts_failed
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut builder = BatchBuilder::new(now);
    for alert in &alerts {
        let value = serde_json::to_vec(alert).expect("alert serializes");
        builder.push(now, Some(alert.topic.as_bytes()), Some(&value), &[]);
    }
    let topic = match ctx.shared.catalog().topic(ALERTS_TOPIC) {
        Ok(topic) => topic.clone(),
        Err(err) => {
            warn!(target: "ringbus::retry", %err, "cannot record poison alerts");
            return;
        }
    };
    let request = ShardRequest::Produce {
        topic: topic.clone(),
        partition: 0,
        acks: Acks::Durable,
        records: builder.finish(),
    };
    let owner = topic.shards[0] as usize;
    if let Err(err) = route::submit(ctx, owner, request).await.await {
        warn!(target: "ringbus::retry", %err, count = alerts.len(), "cannot append poison alerts to __alerts");
    }
}

/// A (topic, class) window being collected.
struct Window {
    latest: PoisonAlert,
    count: u64,
    start_ms: i64,
}

fn run_webhooks(config: &AlertsConfig, receiver: Receiver<PoisonAlert>) {
    let interval = Duration::from_millis(config.aggregate_interval_ms);
    let timeout = Duration::from_millis(config.webhook_timeout_ms.max(1));
    info!(target: "ringbus::alerts", urls = config.webhook_urls.len(), interval_ms = config.aggregate_interval_ms,
          "alert webhooks started");
    let mut windows: BTreeMap<(String, String), Window> = BTreeMap::new();
    let mut deadline: Option<Instant> = None;
    loop {
        let received = match deadline {
            Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(alert) => {
                deadline.get_or_insert_with(|| Instant::now() + interval);
                let window = windows
                    .entry((alert.topic.clone(), alert.class.clone()))
                    .or_insert_with(|| Window {
                        latest: alert.clone(),
                        count: 0,
                        start_ms: alert.time_ms,
                    });
                window.count += 1;
                window.latest = alert;
            }
            Err(RecvTimeoutError::Timeout) => {
                deadline = None;
                let end_ms = now_ms();
                for (_, window) in std::mem::take(&mut windows) {
                    let body = AggregatedAlert {
                        latest: window.latest,
                        count: window.count,
                        window_start_ms: window.start_ms,
                        window_end_ms: end_ms,
                    };
                    send_to_all(&config.webhook_urls, &body, timeout);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn send_to_all(urls: &[String], body: &AggregatedAlert, timeout: Duration) {
    let json = serde_json::to_string(body).expect("alert serializes");
    for url in urls {
        let mut last_error = String::new();
        let sent = (0..POST_ATTEMPTS).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            match post_json(url, &json, timeout) {
                Ok(()) => true,
                Err(err) => {
                    last_error = err;
                    false
                }
            }
        });
        let counters = metrics::global();
        if sent {
            counters.alerts_sent.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.alerts_failed.fetch_add(1, Ordering::Relaxed);
            warn!(target: "ringbus::alerts", %url, topic = %body.latest.topic, count = body.count,
                  error = %last_error, "webhook POST failed after {POST_ATTEMPTS} attempts; alert dropped");
        }
    }
}

/// Splits `http://host:port/path` into the address and the path.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((address, path.to_owned()))
}

/// POSTs `json` with HTTP/1.1 and `Connection: close`; any 2xx status is success.
fn post_json(url: &str, json: &str, timeout: Duration) -> Result<(), String> {
    let (address, path) = split_url(url)?;
    let socket = address
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {address}: {err}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&socket, timeout).map_err(|err| format!("connect: {err}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|err| err.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|err| err.to_string())?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("send: {err}"))?;
    let mut status_line = [0u8; 12];
    stream
        .read_exact(&mut status_line)
        .map_err(|err| format!("read status: {err}"))?;
    let status = std::str::from_utf8(&status_line[9..12]).unwrap_or("");
    if status.starts_with('2') {
        return Ok(());
    }
    Err(format!("status {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://127.0.0.1:9000/hook").unwrap(),
            ("127.0.0.1:9000".into(), "/hook".into())
        );
        assert_eq!(
            split_url("http://example.com").unwrap(),
            ("example.com:80".into(), "/".into())
        );
        assert!(split_url("https://example.com").is_err());
    }
}
