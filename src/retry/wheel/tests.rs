//! Unit tests of the timing wheel, and a seeded model check against a
//! `BTreeMap` reference.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::{TimerId, TimerWheel};

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
/// Just past the wheel's 2^36 ms reach.
const BEYOND_WHEEL_MS: u64 = (1 << 36) + 12_345;

fn advance(wheel: &mut TimerWheel<u64>, now_ms: u64) -> Vec<(u64, u64)> {
    let mut fired = Vec::new();
    wheel.advance(now_ms, &mut fired);
    fired
}

#[test]
fn fires_in_due_order() {
    let mut wheel = TimerWheel::new(1_000);
    for (value, due_ms) in [(1, 1_500), (2, 1_001), (3, 70_000), (4, 1_064), (5, 5_000)] {
        wheel.insert(due_ms, value);
    }
    let fired = advance(&mut wheel, 100_000);
    let expected = vec![(1_001, 2), (1_064, 4), (1_500, 1), (5_000, 5), (70_000, 3)];
    assert_eq!(fired, expected);
    assert!(wheel.is_empty());
}

#[test]
fn fires_nothing_before_due() {
    let mut wheel = TimerWheel::new(0);
    wheel.insert(4_097, 7);
    assert!(advance(&mut wheel, 4_096).is_empty());
    assert_eq!(wheel.len(), 1);
    assert_eq!(advance(&mut wheel, 4_097), vec![(4_097, 7)]);
    assert_eq!(wheel.len(), 0);
}

#[test]
fn cancel_returns_value_once() {
    let mut wheel = TimerWheel::new(0);
    let kept = wheel.insert(50, 1);
    let cancelled = wheel.insert(50, 2);
    let far = wheel.insert(BEYOND_WHEEL_MS, 3);
    assert_eq!(wheel.cancel(cancelled), Some(2));
    assert_eq!(wheel.cancel(cancelled), None);
    assert_eq!(wheel.cancel(far), Some(3));
    assert_eq!(wheel.len(), 1);
    assert_eq!(advance(&mut wheel, BEYOND_WHEEL_MS), vec![(50, 1)]);
    assert_eq!(
        wheel.cancel(kept),
        None,
        "a fired timer cannot be cancelled"
    );
    assert_eq!(wheel.next_due_ms(), None);
}

#[test]
fn stale_id_misses_reused_entry() {
    let mut wheel = TimerWheel::new(0);
    let first = wheel.insert(10, 1);
    assert_eq!(wheel.cancel(first), Some(1));
    let second = wheel.insert(20, 2);
    assert_ne!(first, second);
    assert_eq!(wheel.cancel(first), None);
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.cancel(second), Some(2));
}

#[test]
fn cancel_middle_of_slot_keeps_rest() {
    let mut wheel = TimerWheel::new(0);
    let ids: Vec<TimerId> = (0..5).map(|value| wheel.insert(300, value)).collect();
    assert_eq!(wheel.cancel(ids[0]), Some(0));
    assert_eq!(wheel.cancel(ids[2]), Some(2));
    assert_eq!(wheel.cancel(ids[4]), Some(4));
    assert_eq!(advance(&mut wheel, 300), vec![(300, 1), (300, 3)]);
}

#[test]
fn far_future_cascades_fire_on_time() {
    let start_ms = 1_700_000_000_000;
    let mut wheel = TimerWheel::new(start_ms);
    let offsets_ms = [
        63,
        64,
        4_095,
        4_096,
        HOUR_MS,
        DAY_MS + 1,
        400 * DAY_MS,
        BEYOND_WHEEL_MS,
        3 * BEYOND_WHEEL_MS + 7,
    ];
    for (value, offset_ms) in offsets_ms.iter().enumerate() {
        wheel.insert(start_ms + offset_ms, value as u64);
    }
    for (value, offset_ms) in offsets_ms.iter().enumerate() {
        let due_ms = start_ms + offset_ms;
        assert!(
            advance(&mut wheel, due_ms - 1).is_empty(),
            "early at {offset_ms}"
        );
        assert_eq!(advance(&mut wheel, due_ms), vec![(due_ms, value as u64)]);
    }
    assert!(wheel.is_empty());
}

#[test]
fn extreme_due_times() {
    let mut wheel = TimerWheel::new(u64::MAX - 100);
    wheel.insert(u64::MAX, 1);
    wheel.insert(u64::MAX - 50, 2);
    assert_eq!(advance(&mut wheel, u64::MAX - 51), vec![]);
    assert_eq!(
        advance(&mut wheel, u64::MAX),
        vec![(u64::MAX - 50, 2), (u64::MAX, 1)]
    );

    let mut wheel = TimerWheel::new(0);
    wheel.insert(u64::MAX, 3);
    assert_eq!(advance(&mut wheel, u64::MAX - 1), vec![]);
    assert_eq!(advance(&mut wheel, u64::MAX), vec![(u64::MAX, 3)]);
}

#[test]
fn burst_on_one_tick() {
    let mut wheel = TimerWheel::new(0);
    let due_ms = 90_000;
    for value in 0..100_000 {
        wheel.insert(due_ms, value);
    }
    assert!(advance(&mut wheel, due_ms - 1).is_empty());
    let fired = advance(&mut wheel, due_ms);
    assert_eq!(fired.len(), 100_000);
    assert!(fired.iter().all(|&(due, _)| due == due_ms));
    let in_insertion_order = fired.iter().enumerate().all(|(i, &(_, v))| v == i as u64);
    assert!(in_insertion_order);
    assert!(wheel.is_empty());
}

#[test]
fn overdue_fires_on_next_advance() {
    let mut wheel = TimerWheel::new(10_000);
    wheel.insert(9_000, 1);
    wheel.insert(10_000, 2);
    wheel.insert(0, 3);
    wheel.insert(9_000, 4);
    assert_eq!(wheel.next_due_ms(), Some(0));
    let fired = advance(&mut wheel, 10_000);
    assert_eq!(fired, vec![(0, 3), (9_000, 1), (9_000, 4), (10_000, 2)]);
}

#[test]
fn time_going_back_is_ignored() {
    let mut wheel = TimerWheel::new(5_000);
    wheel.insert(5_100, 1);
    assert!(advance(&mut wheel, 1_000).is_empty());
    assert_eq!(wheel.now_ms(), 5_000);
    wheel.insert(4_000, 2);
    assert_eq!(advance(&mut wheel, 1_000), vec![(4_000, 2)]);
    assert_eq!(advance(&mut wheel, 5_100), vec![(5_100, 1)]);
}

#[test]
fn idle_jump_over_years() {
    let mut wheel = TimerWheel::new(0);
    let mut fired = Vec::new();
    // A wheel that stepped per tick would not finish this loop.
    for step in 1..=1_000u64 {
        wheel.advance(step << 40, &mut fired);
    }
    assert!(fired.is_empty());
    wheel.insert((1_000u64 << 40) + 1, 9);
    wheel.advance(u64::MAX, &mut fired);
    assert_eq!(fired, vec![((1_000u64 << 40) + 1, 9)]);
}

#[test]
fn next_due_is_lower_bound() {
    let mut wheel = TimerWheel::new(0);
    assert_eq!(wheel.next_due_ms(), None);
    wheel.insert(40, 1);
    assert_eq!(
        wheel.next_due_ms(),
        Some(40),
        "exact in the current 64 ms block"
    );
    wheel.insert(20, 2);
    assert_eq!(wheel.next_due_ms(), Some(20));
    let mut wheel = TimerWheel::new(0);
    wheel.insert(DAY_MS + 5, 3);
    let first = wheel.next_due_ms().unwrap();
    assert!(first <= DAY_MS + 5);
}

/// Drives a wheel only by `next_due_ms`, as a shard that sleeps until then
/// would, and checks that every timer fires exactly at its due time.
#[test]
fn sleeping_until_next_due_is_never_late() {
    let mut wheel = TimerWheel::new(0);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for value in 0..5_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let due_ms = (state >> 20) % (40 * DAY_MS) + 1;
        wheel.insert(due_ms, value);
    }
    let mut fired = Vec::new();
    let mut wakeups = 0;
    while let Some(wake_ms) = wheel.next_due_ms() {
        wakeups += 1;
        let before = fired.len();
        wheel.advance(wake_ms, &mut fired);
        for &(due_ms, _) in &fired[before..] {
            assert_eq!(due_ms, wake_ms, "timer fired late");
        }
    }
    assert_eq!(fired.len(), 5_000);
    // Each timer costs at most one wakeup per level it cascades through.
    assert!(wakeups <= 5_000 * 6, "{wakeups} wakeups");
}

#[derive(Clone, Debug)]
enum Op {
    Insert { offset_ms: i64 },
    Cancel { pick: usize },
    Advance { step_ms: u64 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let offset = prop_oneof![
        -100i64..=0,
        0i64..64,
        0i64..5_000,
        0i64..(1 << 24),
        0i64..(1 << 38),
    ];
    let step = prop_oneof![
        0u64..4,
        0u64..100,
        0u64..10_000,
        0u64..(1 << 26),
        0u64..(1 << 38)
    ];
    prop_oneof![
        4 => offset.prop_map(|offset_ms| Op::Insert { offset_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => step.prop_map(|step_ms| Op::Advance { step_ms }),
    ]
}

/// Reference model: pending timers ordered by (due, insertion sequence).
#[derive(Default)]
struct Model {
    pending: BTreeMap<(u64, u64), u64>,
    keys: HashMap<u64, (u64, u64)>,
}

impl Model {
    fn fire_through(&mut self, now_ms: u64) -> Vec<(u64, u64)> {
        let due = match now_ms.checked_add(1) {
            Some(bound_ms) => {
                let later = self.pending.split_off(&(bound_ms, 0));
                std::mem::replace(&mut self.pending, later)
            }
            None => std::mem::take(&mut self.pending),
        };
        due.into_iter()
            .map(|((due_ms, _), value)| (due_ms, value))
            .collect()
    }
}

fn run_model(start_ms: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut wheel = TimerWheel::new(start_ms);
    let mut model = Model::default();
    let mut ids: Vec<(TimerId, u64)> = Vec::new();
    let mut now_ms = start_ms;
    let mut fired = Vec::new();
    for (sequence, op) in ops.iter().enumerate() {
        let sequence = sequence as u64;
        match *op {
            Op::Insert { offset_ms } => {
                let due_ms = now_ms.saturating_add_signed(offset_ms);
                ids.push((wheel.insert(due_ms, sequence), sequence));
                model.pending.insert((due_ms, sequence), sequence);
                model.keys.insert(sequence, (due_ms, sequence));
            }
            Op::Cancel { pick } if !ids.is_empty() => {
                let (id, value) = ids[pick % ids.len()];
                let expected = model.keys.get(&value).and_then(|k| model.pending.remove(k));
                prop_assert_eq!(wheel.cancel(id), expected);
            }
            Op::Cancel { .. } => {}
            Op::Advance { step_ms } => {
                now_ms = now_ms.saturating_add(step_ms);
                fired.clear();
                wheel.advance(now_ms, &mut fired);
                prop_assert_eq!(&fired, &model.fire_through(now_ms));
            }
        }
        prop_assert_eq!(wheel.len(), model.pending.len());
        let earliest = model.pending.keys().next().map(|&(due_ms, _)| due_ms);
        let next = wheel.next_due_ms();
        prop_assert_eq!(next.is_some(), earliest.is_some());
        if let (Some(next), Some(earliest)) = (next, earliest) {
            prop_assert!(
                next <= earliest,
                "next_due {} after earliest {}",
                next,
                earliest
            );
        }
    }
    fired.clear();
    wheel.advance(u64::MAX, &mut fired);
    prop_assert_eq!(&fired, &model.fire_through(u64::MAX));
    prop_assert!(wheel.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_5eed),
        ..ProptestConfig::default()
    })]

    #[test]
    fn matches_btreemap_model(
        start_ms in prop_oneof![Just(0u64), 0u64..(1 << 45), (u64::MAX - (1 << 30))..u64::MAX],
        ops in proptest::collection::vec(op_strategy(), 1..400),
    ) {
        run_model(start_ms, &ops)?;
    }
}
