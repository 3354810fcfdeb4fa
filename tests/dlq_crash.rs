//! Crash safety of the retry orchestrator: `kill -9` while 10,000 retries
//! are pending at spread due times loses none of them, repeats one only
//! with its idempotency key, and changes no poison decision.

mod common;
mod dlq_support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::Broker;
use dlq_support::*;
use ringbus::client::Client;

const EVENTS: u64 = 10_000;
const PARTITIONS: u32 = 4;
/// Every event whose index is a multiple of this fails with a
/// non-retryable class and becomes poison at once.
const POISON_EVERY: u64 = 100;

#[test]
fn kill9_loses_no_pending_retry() {
    let mut broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    // Delays spread over 1..=3000 ms (1500 ms ± 100 %).
    let settings = [
        ("max_attempts", "3"),
        ("initial_backoff_ms", "1500"),
        ("max_backoff_ms", "1500"),
        ("jitter", "1.0"),
        ("non_retryable_classes", "schema"),
    ];
    client.create_topic("jobs", PARTITIONS, &settings).unwrap();
    produce_round_robin(&addr, "jobs", PARTITIONS, EVENTS);
    let requests: Vec<_> = (0..EVENTS)
        .map(|i| {
            let class = if i % POISON_EVERY == 0 {
                "schema"
            } else {
                "timeout"
            };
            fail_request(
                "jobs",
                (i % u64::from(PARTITIONS)) as u32,
                i / u64::from(PARTITIONS),
                "boom",
                class,
            )
        })
        .collect();
    let replies = fail_all(&mut client, &requests);
    assert!(replies.iter().all(|reply| reply.changed));
    let poison_count = (EVENTS / POISON_EVERY) as usize;
    wait_for_state(
        &mut client,
        "jobs",
        "poison",
        poison_count,
        Duration::from_secs(20),
    );
    let poison_before: HashSet<(u64, u64)> = list(&mut client, "jobs", "poison")
        .iter()
        .map(|e| {
            (
                e["source_partition"].as_u64().unwrap(),
                e["source_offset"].as_u64().unwrap(),
            )
        })
        .collect();
    let pending_at_kill = list(&mut client, "jobs", "pending").len();
    println!("pending retries at kill -9: {pending_at_kill}");
    assert!(
        pending_at_kill > 1_000,
        "only {pending_at_kill} retries pending at the crash"
    );
    broker.kill9();
    broker.restart();
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    let retry_count = (EVENTS as usize) - poison_count;
    let started = Instant::now();
    wait_for_state(
        &mut client,
        "jobs",
        "retried",
        retry_count,
        Duration::from_secs(30),
    );
    println!(
        "all retries published {} ms after restart",
        started.elapsed().as_millis()
    );
    assert!(list(&mut client, "jobs", "pending").is_empty());
    let poison_after: HashSet<(u64, u64)> = list(&mut client, "jobs", "poison")
        .iter()
        .map(|e| {
            (
                e["source_partition"].as_u64().unwrap(),
                e["source_offset"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        poison_after, poison_before,
        "poison decisions survive the crash"
    );

    let copies = read_topic(&mut client, "jobs.retry", PARTITIONS);
    let mut per_key: HashMap<String, Vec<(u32, u64)>> = HashMap::new();
    for copy in &copies {
        assert_eq!(header(copy, "attempt"), Some("2"));
        let key = header(copy, "idempotency_key").expect("every copy has an idempotency key");
        let source = header(copy, "source_offset")
            .unwrap()
            .parse::<u64>()
            .unwrap();
        per_key
            .entry(key.to_owned())
            .or_default()
            .push((copy.partition, source));
    }
    assert_eq!(per_key.len(), retry_count, "each pending retry published");
    let duplicates = copies.len() - per_key.len();
    println!(
        "retry copies {} for {} retries: {duplicates} duplicates",
        copies.len(),
        retry_count
    );
    for (key, sources) in &per_key {
        assert!(
            sources.iter().all(|s| *s == sources[0]),
            "key {key} names two events"
        );
        let (partition, offset) = sources[0];
        let index = offset * u64::from(PARTITIONS) + u64::from(partition);
        assert_ne!(index % POISON_EVERY, 0, "poison event {index} was retried");
    }
}
