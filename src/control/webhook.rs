//! Webhook notifications of new schema versions. URLs come from
//! `[registry] webhook_urls` and from `POST /webhooks` (stored in the data
//! directory, see [`super::webhook_store`]). For each new version the control plane POSTs
//! `{"subject", "version", "id", "schema_type"}` to every matching URL, each
//! delivery in its own task with bounded, backed-off retries, so neither a
//! shard nor the registry ever waits for a receiver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::webhook_store::WebhookStore;
use crate::config::{ConfigError, RegistryConfig};
use crate::registry::model::SubjectChange;

/// Notifications waiting for the delivery task; more are dropped and counted.
const QUEUED_MAX: usize = 1024;
/// Bytes of a receiver's reply read to find its status line.
const REPLY_HEAD_BYTES_MAX: usize = 1024;

/// One receiver: a URL and an optional subject filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Counters shown by `GET /webhooks`.
#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    /// Failed attempts, each one logged.
    failed_attempts: AtomicU64,
    /// Notifications given up after the last attempt.
    abandoned: AtomicU64,
    /// Notifications dropped because the queue was full.
    dropped: AtomicU64,
}

/// The registered webhooks and the queue of notifications to send.
pub struct Webhooks {
    /// Receivers from the config file, then those added over HTTP.
    hooks: Mutex<Vec<Webhook>>,
    /// Receivers from `[registry] webhook_urls`, which only the config
    /// file can remove.
    configured: Vec<Webhook>,
    store: WebhookStore,
    queue: mpsc::Sender<SubjectChange>,
    counters: Arc<Counters>,
}

/// Retry settings of one delivery.
#[derive(Clone, Copy, Debug)]
struct Retry {
    attempts_max: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    timeout: Duration,
}

impl Webhooks {
    /// Creates the set from the config and the stored receivers in
    /// `data_dir`, and starts the delivery task on the current runtime.
    pub fn start(config: &RegistryConfig, data_dir: &std::path::Path) -> Arc<Webhooks> {
        let (queue, inbox) = mpsc::channel(QUEUED_MAX);
        let configured: Vec<Webhook> = config
            .webhook_urls
            .iter()
            .map(|url| Webhook {
                url: url.clone(),
                subject: None,
            })
            .collect();
        let store = WebhookStore::new(data_dir);
        let mut hooks = configured.clone();
        for hook in store.load() {
            if !hooks.contains(&hook) {
                hooks.push(hook);
            }
        }
        let webhooks = Arc::new(Webhooks {
            hooks: Mutex::new(hooks),
            configured,
            store,
            queue,
            counters: Arc::new(Counters::default()),
        });
        let retry = Retry {
            attempts_max: config.webhook_attempts_max.max(1),
            initial_backoff: Duration::from_millis(config.webhook_initial_backoff_ms),
            max_backoff: Duration::from_millis(config.webhook_max_backoff_ms),
            timeout: Duration::from_millis(config.webhook_timeout_ms),
        };
        tokio::spawn(deliver_all(webhooks.clone(), inbox, retry));
        webhooks
    }

    /// Queues a notification without waiting; a full queue drops it.
    pub fn notify(&self, change: SubjectChange) {
        if self.queue.try_send(change).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            warn!(target: "ringbus::webhook", "webhook queue full; notification dropped");
        }
    }

    fn matching(&self, subject: &str) -> Vec<String> {
        let hooks = self
            .hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hooks
            .iter()
            .filter(|hook| hook.subject.as_deref().is_none_or(|s| s == subject))
            .map(|hook| hook.url.clone())
            .collect()
    }
}

async fn deliver_all(
    webhooks: Arc<Webhooks>,
    mut inbox: mpsc::Receiver<SubjectChange>,
    retry: Retry,
) {
    while let Some(change) = inbox.recv().await {
        let body = match serde_json::to_string(&change) {
            Ok(body) => Arc::new(body),
            Err(err) => {
                warn!(target: "ringbus::webhook", %err, "cannot encode a notification");
                continue;
            }
        };
        for url in webhooks.matching(&change.subject) {
            let counters = webhooks.counters.clone();
            tokio::spawn(deliver(url, body.clone(), retry, counters));
        }
    }
}

async fn deliver(url: String, body: Arc<String>, retry: Retry, counters: Arc<Counters>) {
    let mut backoff = retry.initial_backoff;
    for attempt in 1..=retry.attempts_max {
        let result = match tokio::time::timeout(retry.timeout, post(&url, &body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {} ms", retry.timeout.as_millis())),
        };
        match result {
            Ok(()) => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                debug!(target: "ringbus::webhook", %url, attempt, "webhook delivered");
                return;
            }
            Err(reason) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                warn!(target: "ringbus::webhook", %url, attempt, attempts_max = retry.attempts_max,
                      %reason, "webhook delivery failed");
            }
        }
        if attempt < retry.attempts_max {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(retry.max_backoff);
        }
    }
    counters.abandoned.fetch_add(1, Ordering::Relaxed);
}

/// An `http://` URL split into the address to connect to and the path.
struct Target {
    host_port: String,
    host: String,
    path: String,
}

/// Parses a webhook URL with an RFC 3986 parser, which rejects spaces and
/// control characters, so that no URL can add lines to the request.
fn parse_url(url: &str) -> Result<Target, String> {
    let uri = fluent_uri::Uri::parse(url)
        .map_err(|e| format!("'{}' is not a valid URL: {e}", url.escape_debug()))?;
    if !uri.scheme().as_str().eq_ignore_ascii_case("http") {
        return Err(format!("'{url}' is not an http:// URL"));
    }
    let authority = uri
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| format!("'{url}' has no host"))?;
    if authority.userinfo().is_some() {
        return Err(format!("'{url}' has user info, which is not supported"));
    }
    let port = match authority.port_to_u16() {
        Ok(port) => port.unwrap_or(80),
        Err(_) => return Err(format!("'{url}' has a port outside 1..=65535")),
    };
    if port == 0 {
        return Err(format!("'{url}' has a port outside 1..=65535"));
    }
    let host = authority.host();
    // The host goes to the resolver as written, so percent-escapes there
    // would name a different host than the one shown.
    if host.contains('%') {
        return Err(format!(
            "'{url}' has a percent-encoded host; write the host plainly"
        ));
    }
    let mut path = match uri.path().as_str() {
        "" => "/".to_owned(),
        path => path.to_owned(),
    };
    if let Some(query) = uri.query() {
        path = format!("{path}?{}", query.as_str());
    }
    Ok(Target {
        host_port: format!("{host}:{port}"),
        host: authority.as_str().to_owned(),
        path,
    })
}

/// Checks a receiver before it is added or loaded.
pub(super) fn check_hook(hook: &Webhook) -> Result<(), String> {
    parse_url(&hook.url)?;
    if hook.subject.as_deref() == Some("") {
        return Err(format!(
            "webhook '{}' has an empty subject filter; omit \"subject\" to match every subject",
            hook.url
        ));
    }
    Ok(())
}

/// Sends one HTTP/1.1 POST and succeeds on a 2xx status.
async fn post(url: &str, body: &str) -> Result<(), String> {
    let target = parse_url(url)?;
    let mut stream = tokio::net::TcpStream::connect(&target.host_port)
        .await
        .map_err(|err| format!("cannot connect: {err}"))?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.host,
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("cannot send: {err}"))?;
    let mut head = vec![0u8; REPLY_HEAD_BYTES_MAX];
    let mut filled = 0;
    while filled < head.len() && !head[..filled].contains(&b'\n') {
        let read = stream
            .read(&mut head[filled..])
            .await
            .map_err(|err| format!("cannot read the reply: {err}"))?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    let line = String::from_utf8_lossy(&head[..filled]);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the reply has no HTTP status line".to_owned())?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the receiver replied with status {status}"))
    }
}

/// Checks the `[registry]` webhook settings.
pub fn validate_config(config: &RegistryConfig) -> Result<(), ConfigError> {
    for url in &config.webhook_urls {
        parse_url(url).map_err(|reason| {
            ConfigError(format!(
                "invalid config value for 'registry.webhook_urls': {reason}"
            ))
        })?;
    }
    let positive = [
        (
            "registry.webhook_attempts_max",
            config.webhook_attempts_max as u64,
        ),
        ("registry.webhook_timeout_ms", config.webhook_timeout_ms),
    ];
    for (key, value) in positive {
        if value == 0 {
            return Err(ConfigError(format!(
                "invalid config value for '{key}': must be at least 1"
            )));
        }
    }
    Ok(())
}

/// `GET /webhooks` lists the receivers and counters; `POST /webhooks` with
/// `{"url": "...", "subject": "..."}` adds a receiver (subject optional), and
/// `DELETE /webhooks` with the same body removes it.
pub fn routes(webhooks: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhooks", get(list).post(add).delete(remove))
        .with_state(webhooks)
        .layer(axum::middleware::map_response(
            crate::registry::rest::json_errors,
        ))
}

async fn list(State(webhooks): State<Arc<Webhooks>>) -> Json<serde_json::Value> {
    let hooks = webhooks
        .hooks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let counters = &webhooks.counters;
    Json(serde_json::json!({
        "webhooks": hooks,
        "delivered": counters.delivered.load(Ordering::Relaxed),
        "failed_attempts": counters.failed_attempts.load(Ordering::Relaxed),
        "abandoned": counters.abandoned.load(Ordering::Relaxed),
        "dropped": counters.dropped.load(Ordering::Relaxed),
    }))
}

async fn add(
    State(webhooks): State<Arc<Webhooks>>,
    Json(hook): Json<Webhook>,
) -> (StatusCode, Json<serde_json::Value>) {
    if let Err(reason) = check_hook(&hook) {
        return error_reply(StatusCode::UNPROCESSABLE_ENTITY, reason);
    }
    let mut hooks = webhooks.hooks.lock().unwrap_or_else(|p| p.into_inner());
    if !hooks.contains(&hook) {
        hooks.push(hook.clone());
        if let Err(reason) = webhooks.save(&hooks) {
            hooks.pop();
            warn!(target: "ringbus::webhook", url = %hook.url, %reason, "webhook not added");
            return error_reply(StatusCode::INTERNAL_SERVER_ERROR, reason);
        }
    }
    (
        StatusCode::OK,
        Json(serde_json::to_value(&hook).unwrap_or_default()),
    )
}

async fn remove(
    State(webhooks): State<Arc<Webhooks>>,
    Json(hook): Json<Webhook>,
) -> (StatusCode, Json<serde_json::Value>) {
    if webhooks.configured.contains(&hook) {
        let reason = format!(
            "webhook '{}' comes from registry.webhook_urls in the config file; remove it there and restart the broker",
            hook.url
        );
        return error_reply(StatusCode::CONFLICT, reason);
    }
    let mut hooks = webhooks.hooks.lock().unwrap_or_else(|p| p.into_inner());
    let before = hooks.clone();
    hooks.retain(|existing| existing != &hook);
    let removed = before.len() - hooks.len();
    if removed == 0 {
        let reason = format!(
            "no webhook for URL '{}' with that subject filter; GET /webhooks lists them",
            hook.url
        );
        return error_reply(StatusCode::NOT_FOUND, reason);
    }
    if let Err(reason) = webhooks.save(&hooks) {
        *hooks = before;
        warn!(target: "ringbus::webhook", url = %hook.url, %reason, "webhook not removed");
        return error_reply(StatusCode::INTERNAL_SERVER_ERROR, reason);
    }
    (
        StatusCode::OK,
        Json(serde_json::json!({ "removed": removed })),
    )
}

impl Webhooks {
    /// Stores the receivers of `hooks` that did not come from the config.
    fn save(&self, hooks: &[Webhook]) -> Result<(), String> {
        let added: Vec<Webhook> = hooks
            .iter()
            .filter(|hook| !self.configured.contains(hook))
            .cloned()
            .collect();
        self.store.save(&added)
    }
}

fn error_reply(status: StatusCode, message: String) -> (StatusCode, Json<serde_json::Value>) {
    let body = serde_json::json!({ "error_code": status.as_u16(), "message": message });
    (status, Json(body))
}
