//! One load run: set up the topic (and schema), start the producer and
//! consumer threads, and merge what they measured into a summary.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use hdrhistogram::Histogram;
use ringbus::client::{Client, ClientError};
use ringbus::protocol::api::{LIST_OFFSETS_EARLIEST, LIST_OFFSETS_LATEST};
use ringbus::protocol::ErrorCode;

use crate::args::{Args, Limit, Mode, Validation};
use crate::consume::{self, ConsumerPlan};
use crate::datagen::Generator;
use crate::net::Topology;
use crate::payload::Payloads;
use crate::produce::{self, ProducerPlan};
use crate::registry::{self, RegisterError};
use crate::report::Summary;
use crate::shared::{latency_histogram, Clock, Counters, ThreadResult};

/// The measurements of a run, and the failures that ended threads early.
pub struct Outcome {
    pub summary: Summary,
    pub latency_us: Histogram<u64>,
    pub failures: Vec<String>,
}

/// Runs the load `args` describe. `counters` feed the progress line.
pub fn run(args: &Args, counters: Arc<Counters>) -> Result<Outcome, String> {
    args.check()?;
    let (payloads, validate) = payloads(args)?;
    let topology = Arc::new(set_up_topic(args, validate).map_err(|err| err.to_string())?);
    let topic: Arc<str> = args.topic.as_str().into();
    let from = match args.mode {
        Mode::Consume => LIST_OFFSETS_EARLIEST,
        Mode::Produce | Mode::E2e => LIST_OFFSETS_LATEST,
    };
    let ranges = offset_ranges(args, &topology, from).map_err(|err| err.to_string())?;
    let clock = Clock::new(args.warmup());
    let results = match args.mode {
        Mode::Produce => join_all(spawn_producers(
            args, &topic, &topology, &payloads, false, clock, &counters,
        )),
        Mode::Consume => join_all(spawn_consumers(
            args, &topic, &topology, ranges, false, clock, &counters,
        )),
        Mode::E2e => {
            let consumers =
                spawn_consumers(args, &topic, &topology, ranges, true, clock, &counters);
            let producers = join_all(spawn_producers(
                args, &topic, &topology, &payloads, true, clock, &counters,
            ));
            counters.producers_done.store(true, Ordering::Release);
            let mut results = join_all(consumers);
            let produced = counters.produced.load(Ordering::Relaxed);
            let consumed: u64 = results.iter().map(|r| r.messages).sum();
            if let Some(first) = results.first_mut() {
                // Events acknowledged but never received count as errors.
                first.errors += produced.saturating_sub(consumed);
            }
            for producer in &producers {
                if let Some(first) = results.first_mut() {
                    first.errors += producer.errors;
                }
            }
            results.extend(
                producers
                    .into_iter()
                    .filter_map(|p| p.failure)
                    .map(failure_only),
            );
            results
        }
    };
    Ok(merge(args, clock, results))
}

/// Returns the event values and whether the topic validates them.
fn payloads(args: &Args) -> Result<(Payloads, bool), String> {
    let Some(path) = &args.schema else {
        return Ok((Payloads::fixed(args.message_bytes), false));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read --schema {}: {err}", path.display()))?;
    let generator =
        Generator::from_avsc(&text).map_err(|err| format!("--schema {}: {err}", path.display()))?;
    if args.mode == Mode::Consume {
        return Ok((Payloads::generated(generator, None), false));
    }
    let subject = format!("{}-value", args.topic);
    let http = args.http_addr();
    match registry::register(&http, &subject, &text) {
        Ok(id) => Ok((
            Payloads::generated(generator, Some(id)),
            args.validation == Validation::Payload,
        )),
        Err(RegisterError::NotAvailable) => {
            eprintln!(
                "loadgen: error: the control plane at http://{http} has no schema registry API \
                 (POST /subjects/{subject}/versions returned 404); producing generated events \
                 without registering the schema or enabling validation"
            );
            Ok((Payloads::generated(generator, None), false))
        }
        Err(RegisterError::Failed(reason)) => Err(format!("cannot register the schema: {reason}")),
    }
}

/// Creates the topic unless it exists, and reads where its partitions live.
fn set_up_topic(args: &Args, validate: bool) -> Result<Topology, ClientError> {
    let mut client = Client::connect(&args.broker)?;
    let mut config: Vec<(&str, &str)> = Vec::new();
    if let Some(durability) = args.durability {
        config.push(("durability", durability.name()));
    }
    if validate {
        config.push(("validation", "payload"));
    }
    // A consume run reads what is there; creating an empty topic would only
    // hide a mistyped name behind a run of zero events.
    if args.mode != Mode::Consume {
        match client.create_topic(&args.topic, args.partitions, &config) {
            Ok(_) => {}
            Err(err) if err.code() == Some(ErrorCode::TopicAlreadyExists) => {}
            Err(err) => return Err(err),
        }
    }
    let metadata = client.metadata(&[&args.topic]).map_err(|err| {
        if err.code() == Some(ErrorCode::UnknownTopic) {
            ClientError::Protocol(format!(
                "topic '{}' does not exist; fill it first with `loadgen produce --topic {}`",
                args.topic, args.topic
            ))
        } else {
            err
        }
    })?;
    let topic =
        metadata.topics.into_iter().next().ok_or_else(|| {
            ClientError::Protocol(format!("metadata of '{}' is empty", args.topic))
        })?;
    if topic.partition_shards.len() != args.partitions as usize && args.mode != Mode::Consume {
        eprintln!(
            "loadgen: note: topic '{}' already exists with {} partitions; using them",
            args.topic,
            topic.partition_shards.len()
        );
    }
    let host = args
        .broker
        .rsplit_once(':')
        .map_or("127.0.0.1", |(host, _)| host)
        .to_string();
    Ok(Topology {
        host,
        shard_ports: metadata.shard_ports,
        partition_shards: topic.partition_shards,
    })
}

/// `(partition, start, end)` for every partition: start at `from`
/// (earliest or latest), end at the latest offset now.
fn offset_ranges(
    args: &Args,
    topology: &Topology,
    from: i64,
) -> Result<Vec<(u32, u64, u64)>, ClientError> {
    let mut client = Client::connect(&args.broker)?;
    (0..topology.partitions())
        .map(|partition| {
            let start = client.list_offsets(&args.topic, partition, from)?.max(0) as u64;
            let end = client
                .list_offsets(&args.topic, partition, LIST_OFFSETS_LATEST)?
                .max(0) as u64;
            Ok((partition, start, end))
        })
        .collect()
}

fn spawn_producers(
    args: &Args,
    topic: &Arc<str>,
    topology: &Arc<Topology>,
    payloads: &Payloads,
    stamp: bool,
    clock: Clock,
    counters: &Arc<Counters>,
) -> Vec<JoinHandle<ThreadResult>> {
    let producers = args.producers as u64;
    (0..producers)
        .map(|index| {
            let plan = ProducerPlan {
                topic: topic.clone(),
                topology: topology.clone(),
                payloads: payloads.clone(),
                quota: match args.limit() {
                    Limit::Messages(total) => Some(share(total, producers, index)),
                    Limit::Duration(_) => None,
                },
                end: match args.limit() {
                    Limit::Messages(_) => None,
                    Limit::Duration(duration) => Some(clock.measure_from + duration),
                },
                rate: args.rate.map(|rate| rate / producers as f64),
                batch_bytes: args.batch_bytes,
                linger: args.linger(),
                stamp,
                clock,
                counters: counters.clone(),
            };
            std::thread::spawn(move || produce::run(plan))
        })
        .collect()
}

fn spawn_consumers(
    args: &Args,
    topic: &Arc<str>,
    topology: &Arc<Topology>,
    ranges: Vec<(u32, u64, u64)>,
    e2e: bool,
    clock: Clock,
    counters: &Arc<Counters>,
) -> Vec<JoinHandle<ThreadResult>> {
    let threads = args.consumers.min(ranges.len()).max(1);
    let mut assigned: Vec<Vec<(u32, u64, u64)>> = vec![Vec::new(); threads];
    for (index, range) in ranges.into_iter().enumerate() {
        assigned[index % threads].push(range);
    }
    assigned
        .into_iter()
        .map(|partitions| {
            let plan = ConsumerPlan {
                topic: topic.clone(),
                topology: topology.clone(),
                partitions,
                e2e,
                quota: match (e2e, args.limit()) {
                    (false, Limit::Messages(total)) => Some(total),
                    _ => None,
                },
                end: match (e2e, args.limit()) {
                    (false, Limit::Duration(duration)) => Some(clock.measure_from + duration),
                    _ => None,
                },
                clock,
                counters: counters.clone(),
            };
            std::thread::spawn(move || consume::run(plan))
        })
        .collect()
}

/// Thread `index`'s share of `total` events over `threads` threads.
fn share(total: u64, threads: u64, index: u64) -> u64 {
    total / threads + u64::from(index < total % threads)
}

fn join_all(handles: Vec<JoinHandle<ThreadResult>>) -> Vec<ThreadResult> {
    handles
        .into_iter()
        .map(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| failure_only("a load thread panicked".into()))
        })
        .collect()
}

fn failure_only(reason: String) -> ThreadResult {
    let mut result = ThreadResult::new();
    result.failure = Some(reason);
    result
}

fn merge(args: &Args, clock: Clock, results: Vec<ThreadResult>) -> Outcome {
    let mut latency_us = latency_histogram();
    let (mut messages, mut bytes, mut errors) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut last = None;
    for result in results {
        latency_us
            .add(&result.latency_us)
            .expect("histograms share their bounds");
        messages += result.messages;
        bytes += result.bytes;
        errors += result.errors;
        last = last.max(result.last_completion);
        failures.extend(result.failure);
    }
    // From the end of the warmup to the last measured completion.
    let elapsed = last.map_or(std::time::Duration::ZERO, |last| {
        last.saturating_duration_since(clock.measure_from)
    });
    let summary = Summary::new(
        args.mode.name(),
        &latency_us,
        messages,
        bytes,
        elapsed,
        errors,
    );
    Outcome {
        summary,
        latency_us,
        failures,
    }
}
