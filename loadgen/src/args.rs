//! The `loadgen` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Generates load against a ringbus broker and reports throughput and
/// latency percentiles, with coordinated omission corrected in open-loop runs.
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// Broker main address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:9292")]
    pub broker: String,
    /// Control-plane HTTP address for `--schema` registration; defaults to the
    /// broker's host on port 8081.
    #[arg(long)]
    pub http: Option<String>,
    #[command(subcommand)]
    pub mode: Mode,
    /// Topic to use; created with `--partitions` and `--durability` when missing.
    #[arg(long, global = true, default_value = "loadgen")]
    pub topic: String,
    /// Partitions of the topic when loadgen creates it.
    #[arg(long, global = true, default_value_t = 1)]
    pub partitions: u32,
    /// Producer threads, each with one connection per owning shard.
    #[arg(long, global = true, default_value_t = 1)]
    pub producers: usize,
    /// Consumer threads; partitions are split among them.
    #[arg(long, global = true, default_value_t = 1)]
    pub consumers: usize,
    /// Events to measure, after the warmup.
    #[arg(long, global = true, conflicts_with = "duration_s")]
    pub messages: Option<u64>,
    /// Seconds to measure, after the warmup (default 10 when `--messages` is absent).
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub duration_s: Option<f64>,
    /// Value size of each event in bytes (ignored with `--schema`).
    #[arg(long, global = true, default_value_t = 100)]
    pub message_bytes: usize,
    /// A batch is sent once its encoded size reaches this many bytes.
    #[arg(long, global = true, default_value_t = 128 * 1024)]
    pub batch_bytes: usize,
    /// Maximum time in ms an open batch waits for more events in an
    /// open-loop run; fractions such as 0.2 are allowed.
    #[arg(
        long,
        global = true,
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub linger_ms: f64,
    /// Durability of the topic when loadgen creates it.
    #[arg(long, global = true, value_enum)]
    pub durability: Option<Durability>,
    /// Open-loop rate in events per second over all producers; without it the
    /// run is closed-loop at the maximum rate.
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Seconds of load before measurement starts.
    #[arg(
        long,
        global = true,
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub warmup_s: f64,
    /// Avro schema: register it as subject `TOPIC-value` and produce JSON
    /// events generated from its Datagen hints.
    #[arg(long, global = true)]
    pub schema: Option<PathBuf>,
    /// Validation mode of the topic when loadgen creates it with `--schema`.
    #[arg(long, global = true, value_enum, default_value = "none")]
    pub validation: Validation,
    /// Writes the summary as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Writes the latency percentile distribution (HdrHistogram text) here.
    #[arg(long, global = true)]
    pub hgrm: Option<PathBuf>,
    /// Writes an SVG chart of latency by percentile here.
    #[arg(long, global = true)]
    pub plot: Option<PathBuf>,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Produce events; latency is each batch's acknowledgement time.
    Produce,
    /// Read the topic from the earliest offset; latency is each fetch's time.
    Consume,
    /// Produce and consume at once; latency is from the produce call to the
    /// consumer's receipt of each event.
    E2e,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Produce => "produce",
            Mode::Consume => "consume",
            Mode::E2e => "e2e",
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    None,
    Interval,
    Always,
}

impl Durability {
    pub fn name(self) -> &'static str {
        match self {
            Durability::None => "none",
            Durability::Interval => "interval",
            Durability::Always => "always",
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    None,
    Payload,
}

/// When a run stops measuring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Messages(u64),
    Duration(Duration),
}

/// Duration used when neither `--messages` nor `--duration-s` is given.
const DURATION_DEFAULT_S: f64 = 10.0;
/// Maximum seconds any time flag accepts (about 31 years). Larger values would
/// overflow the clock arithmetic.
const SECONDS_MAX: f64 = 1e9;

fn fits_duration(seconds: f64) -> bool {
    seconds.is_finite() && seconds <= SECONDS_MAX
}

impl Args {
    /// Checks the combinations clap cannot express; the error names the flag.
    pub fn check(&self) -> Result<(), String> {
        if self.partitions == 0 {
            return Err("--partitions must be at least 1".into());
        }
        if self.producers == 0 || self.consumers == 0 {
            return Err("--producers and --consumers must be at least 1".into());
        }
        if self.batch_bytes == 0 {
            return Err("--batch-bytes must be at least 1".into());
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0 && fits_duration(1.0 / rate)) {
                return Err(format!(
                    "--rate {rate} is invalid; expected events per second above 0"
                ));
            }
        }
        if let Some(seconds) = self.duration_s {
            if !(seconds > 0.0 && fits_duration(seconds)) {
                return Err(format!(
                    "--duration-s {seconds} is invalid; expected seconds above 0 and at most {SECONDS_MAX:e}"
                ));
            }
        }
        if !(self.warmup_s >= 0.0 && fits_duration(self.warmup_s)) {
            return Err(format!(
                "--warmup-s {} is invalid; expected 0 to {SECONDS_MAX:e} seconds",
                self.warmup_s
            ));
        }
        if !(self.linger_ms >= 0.0 && fits_duration(self.linger_ms / 1000.0)) {
            return Err(format!(
                "--linger-ms {} is invalid; expected 0 to {:e} milliseconds",
                self.linger_ms,
                SECONDS_MAX * 1000.0
            ));
        }
        if self.messages == Some(0) {
            return Err("--messages must be at least 1".into());
        }
        if self.validation == Validation::Payload && self.schema.is_none() {
            return Err("--validation payload needs --schema FILE.avsc".into());
        }
        Ok(())
    }

    pub fn limit(&self) -> Limit {
        match (self.messages, self.duration_s) {
            (Some(messages), _) => Limit::Messages(messages),
            (None, Some(seconds)) => Limit::Duration(Duration::from_secs_f64(seconds)),
            (None, None) => Limit::Duration(Duration::from_secs_f64(DURATION_DEFAULT_S)),
        }
    }

    pub fn linger(&self) -> Duration {
        Duration::from_secs_f64(self.linger_ms / 1000.0)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }

    /// Returns the control-plane address: `--http`, or the broker host on
    /// port 8081.
    pub fn http_addr(&self) -> String {
        if let Some(http) = &self.http {
            return http.clone();
        }
        let host = self
            .broker
            .rsplit_once(':')
            .map_or("127.0.0.1", |(host, _)| host);
        format!("{host}:8081")
    }
}
