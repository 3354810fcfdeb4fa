//! Counters of the retry orchestrator, shared by every shard and read by the
//! control plane's `/metrics`.
//!
//! Shards update atomics only. The per-topic map is locked when a topic's
//! gauges are first looked up (each shard caches the `Arc`) and when the
//! metrics are rendered, never per record.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use super::entry::EntryState;

/// Dead-letter depth of one topic: entries per state, summed over partitions.
#[derive(Default)]
pub struct TopicGauges {
    depth: [AtomicI64; EntryState::ALL.len()],
}

impl TopicGauges {
    /// Moves one entry from `from` (none for a new entry) to `to`.
    pub fn transition(&self, from: Option<EntryState>, to: EntryState) {
        if let Some(from) = from {
            self.depth[from as usize].fetch_sub(1, Ordering::Relaxed);
        }
        self.depth[to as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn depth(&self, state: EntryState) -> i64 {
        self.depth[state as usize].load(Ordering::Relaxed)
    }
}

/// Every counter of the orchestrator in one process.
#[derive(Default)]
pub struct RetryMetrics {
    topics: Mutex<BTreeMap<String, Arc<TopicGauges>>>,
    pub retries_published: AtomicU64,
    pub poison_events: AtomicU64,
    pub fails_accepted: AtomicU64,
    pub timers_pending: AtomicI64,
    pub timers_fired: AtomicU64,
    /// Sum and maximum of how late timers fired, in ms.
    pub timer_lateness_ms_sum: AtomicU64,
    pub timer_lateness_ms_max: AtomicU64,
    pub alerts_sent: AtomicU64,
    pub alerts_failed: AtomicU64,
}

static METRICS: LazyLock<RetryMetrics> = LazyLock::new(RetryMetrics::default);

/// Returns the process-wide orchestrator metrics.
pub fn global() -> &'static RetryMetrics {
    &METRICS
}

impl RetryMetrics {
    /// Returns the gauges of `topic` (the source topic `T`), created on first use.
    pub fn topic(&self, topic: &str) -> Arc<TopicGauges> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics.entry(topic.to_owned()).or_default().clone()
    }

    /// Zeroes the dead-letter depth of a deleted topic. Shards may still
    /// hold its gauges, and a topic created again under the name reuses them.
    pub fn reset_topic(&self, topic: &str) {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gauges) = topics.get(topic) {
            for depth in &gauges.depth {
                depth.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Records that a timer due at `due_ms` fired at `now_ms`.
    pub fn timer_fired(&self, due_ms: u64, now_ms: u64) {
        let late_ms = now_ms.saturating_sub(due_ms);
        self.timers_fired.fetch_add(1, Ordering::Relaxed);
        self.timer_lateness_ms_sum
            .fetch_add(late_ms, Ordering::Relaxed);
        self.timer_lateness_ms_max
            .fetch_max(late_ms, Ordering::Relaxed);
    }

    /// Appends the metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let counters = [
            (
                "ringbus_dlq_fails_total",
                "Fail reports that appended a dead-letter record.",
                &self.fails_accepted,
            ),
            (
                "ringbus_dlq_retries_published_total",
                "Events re-published to retry topics.",
                &self.retries_published,
            ),
            (
                "ringbus_dlq_poison_events_total",
                "Events marked poison.",
                &self.poison_events,
            ),
            (
                "ringbus_dlq_timers_fired_total",
                "Retry timers fired.",
                &self.timers_fired,
            ),
            (
                "ringbus_dlq_timer_lateness_ms_sum",
                "Total lateness of fired retry timers, in ms.",
                &self.timer_lateness_ms_sum,
            ),
            (
                "ringbus_alerts_sent_total",
                "Webhook alert POSTs that succeeded.",
                &self.alerts_sent,
            ),
            (
                "ringbus_alerts_failed_total",
                "Webhook alert POSTs that failed after retries.",
                &self.alerts_failed,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let gauges = [
            (
                "ringbus_dlq_timers_pending",
                "Retry timers waiting in the timing wheels.",
                self.timers_pending.load(Ordering::Relaxed),
            ),
            (
                "ringbus_dlq_timer_lateness_ms_max",
                "Largest lateness of a fired retry timer, in ms.",
                self.timer_lateness_ms_max.load(Ordering::Relaxed) as i64,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let name = "ringbus_dlq_depth";
        let _ = writeln!(
            out,
            "# HELP {name} Dead-letter entries per source topic and state."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, gauges) in topics.iter() {
            for state in EntryState::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{topic=\"{}\",state=\"{}\"}} {}",
                    escape_label(topic),
                    state.name(),
                    gauges.depth(state)
                );
            }
        }
    }
}

/// Escapes a Prometheus label value.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_depth_and_counters() {
        let metrics = RetryMetrics::default();
        let gauges = metrics.topic("orders");
        gauges.transition(None, EntryState::Pending);
        gauges.transition(None, EntryState::Pending);
        gauges.transition(Some(EntryState::Pending), EntryState::Poison);
        metrics.retries_published.fetch_add(3, Ordering::Relaxed);
        metrics.timer_fired(100, 107);
        metrics.timer_fired(100, 102);
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("ringbus_dlq_depth{topic=\"orders\",state=\"pending\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("ringbus_dlq_depth{topic=\"orders\",state=\"poison\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("ringbus_dlq_retries_published_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("ringbus_dlq_timer_lateness_ms_max 7\n"),
            "{text}"
        );
        assert!(
            text.contains("ringbus_dlq_timer_lateness_ms_sum 9\n"),
            "{text}"
        );
    }

    #[test]
    fn reset_topic_zeroes_depth() {
        let metrics = RetryMetrics::default();
        let gauges = metrics.topic("orders");
        gauges.transition(None, EntryState::Poison);
        metrics.reset_topic("orders");
        metrics.reset_topic("never-seen");
        assert_eq!(gauges.depth(EntryState::Poison), 0);
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("ringbus_dlq_depth{topic=\"orders\",state=\"poison\"} 0\n"),
            "{text}"
        );
    }
}
