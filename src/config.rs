//! The broker configuration: one TOML file, every option with its unit in
//! its name, validated at start so that a bad value stops the broker with an
//! error naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::retry::policy::RetryPolicy;
use crate::storage::{Durability, LogConfig};

/// A configuration error; the message names the key and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn invalid(key: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("invalid config value for '{key}': {reason}"))
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub broker: BrokerConfig,
    pub http: HttpConfig,
    pub topic_defaults: TopicConfig,
    pub log: LogSettings,
    pub registry: RegistryConfig,
    pub alerts: AlertsConfig,
}

/// Destinations of poison-message alerts besides the `__alerts` topic.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Each URL gets an HTTP POST of every aggregated alert (`http://` only).
    pub webhook_urls: Vec<String>,
    /// Poison events of one topic and reason class within this window make
    /// one webhook alert with a count.
    pub aggregate_interval_ms: u64,
    /// Maximum time one webhook POST may take, connect included.
    pub webhook_timeout_ms: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_urls: Vec::new(),
            aggregate_interval_ms: 1000,
            webhook_timeout_ms: 5000,
        }
    }
}

/// Listener, shard and limit settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Shard `i` listens on `shard_port_base + i`; 0 picks free ports.
    pub shard_port_base: u16,
    /// Shard threads; 0 means one per available core.
    pub shards: usize,
    pub max_frame_bytes: u32,
    pub max_inflight_requests_per_connection: usize,
    pub max_connections_per_shard: usize,
    pub mesh_channel_capacity: usize,
    /// Produce is rejected with DISK_FULL while the data directory's
    /// filesystem has less free space than this.
    pub min_free_bytes: u64,
    pub disk_check_interval_ms: u64,
    pub retention_check_interval_ms: u64,
    /// Maximum time a shutdown waits for in-flight requests.
    pub shutdown_timeout_ms: u64,
    /// A frame must arrive whole within this after its first byte; 0 waits
    /// forever.
    pub request_read_timeout_ms: u64,
    /// A connection with no request in flight is closed after this long
    /// without a byte; 0 keeps it forever.
    pub connection_idle_timeout_ms: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:9292".parse().expect("literal address"),
            shard_port_base: 9300,
            shards: 0,
            max_frame_bytes: 64 << 20,
            max_inflight_requests_per_connection: 1024,
            max_connections_per_shard: 10_000,
            mesh_channel_capacity: 1024,
            min_free_bytes: 1 << 30,
            disk_check_interval_ms: 1000,
            retention_check_interval_ms: 60_000,
            shutdown_timeout_ms: 10_000,
            request_read_timeout_ms: 30_000,
            connection_idle_timeout_ms: 600_000,
        }
    }
}

/// Control-plane HTTP listener settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8081".parse().expect("literal address"),
        }
    }
}

/// Schema registry settings: change notifications by webhook.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// URLs (`http://HOST:PORT/PATH`) that receive a POST for every new
    /// schema version, for all subjects.
    pub webhook_urls: Vec<String>,
    /// Deliveries of one notification to one URL before it is dropped.
    pub webhook_attempts_max: u32,
    /// Delay before the second attempt; it doubles after each failure.
    pub webhook_initial_backoff_ms: u64,
    pub webhook_max_backoff_ms: u64,
    /// Limit on connecting, sending and reading the reply of one attempt.
    pub webhook_timeout_ms: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            webhook_urls: Vec::new(),
            webhook_attempts_max: 5,
            webhook_initial_backoff_ms: 200,
            webhook_max_backoff_ms: 10_000,
            webhook_timeout_ms: 5_000,
        }
    }
}

/// Log output settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `ringbus::storage=debug,info`;
    /// the `RUST_LOG` environment variable overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
        }
    }
}

/// Settings of one topic; `[topic_defaults]` gives the values a new topic
/// starts from, and CreateTopic overrides any of them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicConfig {
    pub partitions: u32,
    pub durability: Durability,
    pub flush_interval_ms: u64,
    pub segment_bytes: u64,
    pub segment_ms: u64,
    pub index_interval_bytes: u32,
    /// 0 keeps segments forever.
    pub retention_ms: u64,
    /// 0 puts no size bound on a partition.
    pub retention_bytes: u64,
    pub tail_cache_bytes: u64,
    /// Schema check on produce: `none`, `schema_id` or `payload`.
    pub validation: crate::registry::produce::Validation,
    /// Registry subject that produced schema ids must belong to; empty means
    /// `TOPIC-value`.
    pub subject: String,
    /// Deliveries an event gets, the first included; 0 gives the topic no
    /// retry policy (no `T.retry` and `T.dlq`, and Fail is rejected).
    pub max_attempts: u32,
    /// Delay after the first failure.
    pub initial_backoff_ms: u64,
    /// Factor applied to the delay after each further failure; at least 1.0.
    pub backoff_multiplier: f64,
    /// Ceiling on the delay before jitter.
    pub max_backoff_ms: u64,
    /// Fraction (0.0 to 1.0) by which jitter may move a delay either way.
    pub jitter: f64,
    /// Failure reason classes that make an event poison at once.
    pub non_retryable_classes: Vec<String>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        TopicConfig {
            partitions: 1,
            durability: Durability::Interval,
            flush_interval_ms: 1000,
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: 0,
            tail_cache_bytes: 16 << 20,
            validation: crate::registry::produce::Validation::None,
            subject: String::new(),
            max_attempts: 0,
            initial_backoff_ms: retry.initial_backoff_ms,
            backoff_multiplier: retry.backoff_multiplier,
            max_backoff_ms: retry.max_backoff_ms,
            jitter: retry.jitter,
            non_retryable_classes: retry.non_retryable_classes,
        }
    }
}

/// Most partitions one topic may have.
pub const PARTITIONS_MAX: u32 = 10_000;

impl TopicConfig {
    /// Applies `key = value` overrides, each value in TOML syntax (a bare
    /// word is taken as a string), and validates the result.
    pub fn with_overrides(&self, pairs: &[(String, String)]) -> Result<TopicConfig, ConfigError> {
        let mut table = match toml::Value::try_from(self) {
            Ok(toml::Value::Table(table)) => table,
            _ => return Err(ConfigError("topic config is not a table".into())),
        };
        for (key, value) in pairs {
            if !table.contains_key(key) {
                let known: Vec<&str> = table.keys().map(String::as_str).collect();
                return Err(invalid(
                    key,
                    format!("unknown topic setting; known: {}", known.join(", ")),
                ));
            }
            let mut parsed = parse_scalar(value);
            // A list setting also takes comma-separated words, as CLI flags give it.
            if let (Some(toml::Value::Array(_)), toml::Value::String(text)) =
                (table.get(key), &parsed)
            {
                parsed = split_list(text);
            }
            table.insert(key.clone(), parsed);
        }
        let config: TopicConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|err: toml::de::Error| {
                    ConfigError(format!("invalid topic setting: {}", err.message().trim()))
                })?;
        config.validate("")?;
        Ok(config)
    }

    /// Returns the settings as `key = value` text, as Metadata and `topic describe`
    /// show them.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let Ok(toml::Value::Table(table)) = toml::Value::try_from(self) else {
            return Vec::new();
        };
        table
            .into_iter()
            .map(|(key, value)| match value {
                toml::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect()
    }

    /// Checks ranges; `prefix` is the table name used in messages.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let key = |name: &str| format!("{prefix}{name}");
        if self.partitions == 0 || self.partitions > PARTITIONS_MAX {
            return Err(invalid(
                &key("partitions"),
                format!("{} is outside 1..={PARTITIONS_MAX}", self.partitions),
            ));
        }
        if self.segment_bytes < 4096 {
            return Err(invalid(
                &key("segment_bytes"),
                format!("{} is below the minimum of 4096", self.segment_bytes),
            ));
        }
        if self.segment_ms == 0 {
            return Err(invalid(&key("segment_ms"), "must be at least 1"));
        }
        if self.index_interval_bytes == 0 {
            return Err(invalid(&key("index_interval_bytes"), "must be at least 1"));
        }
        if self.durability == Durability::Interval && self.flush_interval_ms == 0 {
            return Err(invalid(
                &key("flush_interval_ms"),
                "must be at least 1 with durability 'interval'; use durability 'always' to sync every batch",
            ));
        }
        if let Some(policy) = self.retry_policy() {
            policy
                .validate()
                .map_err(|err| invalid(&key("max_attempts"), err))?;
        }
        Ok(())
    }

    /// The retry policy, or `None` when `max_attempts` is 0.
    pub fn retry_policy(&self) -> Option<RetryPolicy> {
        (self.max_attempts > 0).then(|| RetryPolicy {
            max_attempts: self.max_attempts,
            initial_backoff_ms: self.initial_backoff_ms,
            backoff_multiplier: self.backoff_multiplier,
            max_backoff_ms: self.max_backoff_ms,
            jitter: self.jitter,
            non_retryable_classes: self.non_retryable_classes.clone(),
        })
    }

    /// Converts these settings into the storage engine's view.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            segment_bytes: self.segment_bytes,
            segment_ms: self.segment_ms,
            index_interval_bytes: self.index_interval_bytes,
            retention_ms: (self.retention_ms > 0).then_some(self.retention_ms),
            retention_bytes: (self.retention_bytes > 0).then_some(self.retention_bytes),
            durability: self.durability,
            flush_interval_ms: self.flush_interval_ms,
            tail_cache_bytes: self.tail_cache_bytes,
        }
    }
}

/// Turns a TOML error into one line: the line number and the message,
/// without the source excerpt that TOML errors print over several lines.
fn toml_error(text: &str, err: &toml::de::Error) -> ConfigError {
    let line = err
        .span()
        .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
    let message = err.message().trim().replace('\n', " ");
    match line {
        Some(line) => ConfigError(format!("line {line}: {message}")),
        None => ConfigError(message),
    }
}

/// Checks a `tracing` filter: each comma-separated directive is a level
/// name or `target=level`, so a typo such as `inf` is not taken as a target
/// name that silently turns logging off.
fn validate_log_level(level: &str) -> Result<(), ConfigError> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in level.split(',').map(str::trim) {
        let level_part = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if !LEVELS.contains(&level_part.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                "log.level",
                format!(
                    "'{directive}' is not a level or target=level; use one of {}",
                    LEVELS.join(", ")
                ),
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(|_| ())
        .map_err(|err| invalid("log.level", format!("'{level}': {err}")))
}

/// Splits `a,b` into a TOML array of strings; an empty text gives an empty array.
fn split_list(text: &str) -> toml::Value {
    let items = text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| toml::Value::String(item.to_owned()))
        .collect();
    toml::Value::Array(items)
}

/// Parses one override value as a TOML scalar, falling back to a string.
fn parse_scalar(text: &str) -> toml::Value {
    let wrapped = format!("v = {text}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or(toml::Value::String(text.into())),
        Err(_) => toml::Value::String(text.into()),
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigError(format!(
                "cannot read config file {}: {err}; pass an existing file with --config",
                path.display()
            ))
        })?;
        Config::parse(&text).map_err(|err| ConfigError(format!("{}: {err}", path.display())))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| toml_error(text, &err))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that serde's types do not already bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let broker = &self.broker;
        if broker.max_frame_bytes < 1024 {
            return Err(invalid(
                "broker.max_frame_bytes",
                format!("{} is below the minimum of 1024", broker.max_frame_bytes),
            ));
        }
        let positive = [
            (
                "broker.max_inflight_requests_per_connection",
                broker.max_inflight_requests_per_connection as u64,
            ),
            (
                "broker.max_connections_per_shard",
                broker.max_connections_per_shard as u64,
            ),
            (
                "broker.mesh_channel_capacity",
                broker.mesh_channel_capacity as u64,
            ),
            (
                "broker.disk_check_interval_ms",
                broker.disk_check_interval_ms,
            ),
            (
                "broker.retention_check_interval_ms",
                broker.retention_check_interval_ms,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if broker.shards > 1024 {
            return Err(invalid(
                "broker.shards",
                format!("{} is above 1024", broker.shards),
            ));
        }
        validate_log_level(&self.log.level)?;
        if self.alerts.aggregate_interval_ms == 0 {
            return Err(invalid(
                "alerts.aggregate_interval_ms",
                "must be at least 1",
            ));
        }
        if let Some(url) = self
            .alerts
            .webhook_urls
            .iter()
            .find(|u| !u.starts_with("http://"))
        {
            return Err(invalid(
                "alerts.webhook_urls",
                format!("'{url}' is not an http:// URL; https is not supported, so put a local proxy in front"),
            ));
        }
        self.topic_defaults.validate("topic_defaults.")?;
        crate::control::webhook::validate_config(&self.registry)
    }

    /// Returns the shard count, resolving 0 to the number of available cores.
    pub fn shard_count(&self) -> usize {
        if self.broker.shards > 0 {
            return self.broker.shards;
        }
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../config/ringbus.toml");
        let config = Config::parse(text).unwrap();
        assert_eq!(config.broker.listen.port(), 9292);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[broker]\nshardz = 2\n").unwrap_err();
        assert!(err.to_string().contains("shardz"), "{err}");
    }

    #[test]
    fn bad_log_level_is_rejected() {
        for level in ["inf", "verbose!!", "ringbus=loud"] {
            let text = format!("[log]\nlevel = \"{level}\"\n");
            let err = Config::parse(&text).unwrap_err();
            assert!(err.to_string().contains("log.level"), "{err}");
        }
        assert!(Config::parse("[log]\nlevel = \"ringbus::storage=debug,info\"\n").is_ok());
    }

    #[test]
    fn toml_errors_are_one_line() {
        let err = Config::parse("[broker]\nshards = \"two\"\n").unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn bad_value_names_key() {
        let err = Config::parse("[topic_defaults]\nsegment_bytes = 10\n").unwrap_err();
        assert!(
            err.to_string().contains("topic_defaults.segment_bytes"),
            "{err}"
        );
    }

    #[test]
    fn overrides_apply_and_validate() {
        let base = TopicConfig::default();
        let pairs = vec![
            ("durability".to_string(), "always".to_string()),
            ("retention_ms".to_string(), "5000".to_string()),
        ];
        let config = base.with_overrides(&pairs).unwrap();
        assert_eq!(config.durability, Durability::Always);
        assert_eq!(config.retention_ms, 5000);
        let bad = vec![("durability".to_string(), "sometimes".to_string())];
        let err = base.with_overrides(&bad).unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
        let unknown = vec![("retention_hours".to_string(), "5".to_string())];
        let err = base.with_overrides(&unknown).unwrap_err();
        assert!(err.to_string().contains("retention_hours"), "{err}");
    }

    #[test]
    fn retry_overrides_apply() {
        let base = TopicConfig::default();
        assert_eq!(base.retry_policy(), None);
        let pairs = vec![
            ("max_attempts".to_string(), "3".to_string()),
            ("jitter".to_string(), "0".to_string()),
            (
                "non_retryable_classes".to_string(),
                "schema, auth".to_string(),
            ),
        ];
        let config = base.with_overrides(&pairs).unwrap();
        let policy = config.retry_policy().unwrap();
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.jitter, 0.0);
        assert_eq!(policy.non_retryable_classes, vec!["schema", "auth"]);
        let round = base.with_overrides(&config.to_pairs()).unwrap();
        assert_eq!(round, config);
        let bad = vec![
            ("max_attempts".to_string(), "3".to_string()),
            ("jitter".to_string(), "1.5".to_string()),
        ];
        let err = base.with_overrides(&bad).unwrap_err();
        assert!(err.to_string().contains("jitter"), "{err}");
    }

    #[test]
    fn webhook_urls_checked() {
        let err = Config::parse("[alerts]\nwebhook_urls = [\"https://x\"]\n").unwrap_err();
        assert!(err.to_string().contains("alerts.webhook_urls"), "{err}");
    }
}
