//! Timing wheel throughput: 1,000,000 timers with due times spread over ten
//! minutes, inserted and then expired by advancing in 1 ms ticks, as a shard
//! would. Criterion reports timers per second; a `BinaryHeap` run gives a
//! baseline for the same work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringbus::retry::wheel::TimerWheel;

const TIMERS: usize = 1_000_000;
/// Due times fall in 1..=SPREAD_MS, so timers start on levels 0 to 3.
const SPREAD_MS: u64 = 600_000;

/// Returns pseudo-random due times from a fixed-seed linear congruential generator.
fn due_times() -> Vec<u64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..TIMERS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % SPREAD_MS + 1
        })
        .collect()
}

fn insert_all(due_times: &[u64]) -> TimerWheel<u64> {
    let mut wheel = TimerWheel::with_capacity(0, due_times.len());
    for (value, &due_ms) in due_times.iter().enumerate() {
        wheel.insert(due_ms, value as u64);
    }
    wheel
}

/// Advances one tick at a time until the wheel is empty; returns the count fired.
fn expire_all(wheel: &mut TimerWheel<u64>) -> usize {
    let mut fired = Vec::with_capacity(1_024);
    let mut count = 0;
    let mut now_ms = 0;
    while !wheel.is_empty() {
        now_ms += 1;
        wheel.advance(now_ms, &mut fired);
        count += fired.len();
        fired.clear();
    }
    count
}

fn bench_wheel(c: &mut Criterion) {
    let due_times = due_times();
    let mut group = c.benchmark_group("wheel");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(TIMERS as u64));

    group.bench_function("insert_1m", |b| {
        b.iter(|| black_box(insert_all(&due_times)).len())
    });
    group.bench_function("insert_expire_1m", |b| {
        b.iter(|| {
            let mut wheel = insert_all(&due_times);
            assert_eq!(expire_all(&mut wheel), TIMERS);
        })
    });
    group.bench_function("insert_cancel_1m", |b| {
        b.iter(|| {
            let mut wheel = TimerWheel::with_capacity(0, TIMERS);
            let ids: Vec<_> = due_times
                .iter()
                .enumerate()
                .map(|(value, &due_ms)| wheel.insert(due_ms, value as u64))
                .collect();
            for id in ids {
                black_box(wheel.cancel(id));
            }
            assert!(wheel.is_empty());
        })
    });
    group.bench_function("binary_heap_push_pop_1m", |b| {
        b.iter(|| {
            let mut heap = BinaryHeap::with_capacity(TIMERS);
            for (value, &due_ms) in due_times.iter().enumerate() {
                heap.push(Reverse((due_ms, value as u64)));
            }
            let mut count = 0;
            while let Some(Reverse(entry)) = heap.pop() {
                black_box(entry);
                count += 1;
            }
            assert_eq!(count, TIMERS);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_wheel);
criterion_main!(benches);
