//! Per-topic retry policy: how many deliveries an event gets, how long to
//! wait after each failure, and which failure classes skip retries.
//!
//! The delay after the n-th failure is
//! `min(max_backoff_ms, initial_backoff_ms * backoff_multiplier^(n-1))`,
//! moved by up to ±`jitter` of itself. The jitter is drawn from a hash of the
//! event's identity and the attempt, so a restarted broker schedules the same
//! retry at the same time. The float settings are read in millionths (six
//! decimal places, exact for values written in decimal), and the rest is
//! saturating integer arithmetic: no attempt count wraps, and no delay
//! overflows or drops to zero.

use serde::{Deserialize, Serialize};

/// Fixed-point scale of the back-off arithmetic: values are in millionths.
const FIXED_ONE: u128 = 1_000_000;
/// Ceiling for fixed-point intermediates: 2^64 as a real number, which is
/// already past any delay a `u64` can hold.
const FIXED_MAX: u128 = (1 << 64) * FIXED_ONE;

/// Retry settings of one topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Deliveries an event gets in all, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Delay after the first failure, in ms.
    pub initial_backoff_ms: u64,
    /// Factor applied to the delay after each further failure; at least 1.0.
    pub backoff_multiplier: f64,
    /// Ceiling on the delay before jitter, in ms.
    pub max_backoff_ms: u64,
    /// Fraction of the delay, from 0.0 to 1.0, by which jitter may move it
    /// either way.
    pub jitter: f64,
    /// Failure reason classes that make an event poison at once.
    pub non_retryable_classes: Vec<String>,
}

/// Action for an event after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Re-publish the event as attempt number `attempt` after `delay_ms`.
    Retry { attempt: u32, delay_ms: u64 },
    /// Stop retrying and mark the event poison.
    Poison(PoisonCause),
}

/// Reason an event became poison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoisonCause {
    /// The failed attempt was the last one `max_attempts` allows.
    AttemptsExhausted,
    /// The failure class is listed in `non_retryable_classes`.
    NonRetryable,
}

impl Default for RetryPolicy {
    /// Five deliveries, 1 s doubling to at most 60 s, ±10 % jitter, and
    /// schema failures never retried, since a retry cannot fix the payload.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            backoff_multiplier: 2.0,
            max_backoff_ms: 60_000,
            jitter: 0.1,
            non_retryable_classes: vec!["schema".to_owned()],
        }
    }
}

impl RetryPolicy {
    /// Checks every setting. The error names the first invalid field, its
    /// value and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("retry policy: max_attempts is 0; set it to 1 or more \
                        (1 delivers once and never retries)"
                .to_owned());
        }
        if self.initial_backoff_ms == 0 {
            return Err("retry policy: initial_backoff_ms is 0; set it to 1 or more".to_owned());
        }
        if !self.backoff_multiplier.is_finite() || self.backoff_multiplier < 1.0 {
            return Err(format!(
                "retry policy: backoff_multiplier is {}; set it to a finite number of \
                 at least 1.0 (1.0 keeps the delay constant)",
                self.backoff_multiplier
            ));
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return Err(format!(
                "retry policy: max_backoff_ms ({}) is below initial_backoff_ms ({}); \
                 raise max_backoff_ms or lower initial_backoff_ms",
                self.max_backoff_ms, self.initial_backoff_ms
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!(
                "retry policy: jitter is {}; set it between 0.0 and 1.0",
                self.jitter
            ));
        }
        if self.non_retryable_classes.iter().any(String::is_empty) {
            return Err(
                "retry policy: non_retryable_classes contains an empty class \
                        name; remove it"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Returns whether a failure of this reason class may be retried.
    /// Classes compare case-sensitively.
    pub fn is_retryable(&self, class: &str) -> bool {
        !self.non_retryable_classes.iter().any(|c| c == class)
    }

    /// Decides the fate of an event whose attempt number `failed_attempt`
    /// (the first delivery is 1) failed with reason class `class`.
    pub fn decide(&self, failed_attempt: u32, class: &str, identity: u64) -> RetryDecision {
        if !self.is_retryable(class) {
            return RetryDecision::Poison(PoisonCause::NonRetryable);
        }
        if failed_attempt >= self.max_attempts {
            return RetryDecision::Poison(PoisonCause::AttemptsExhausted);
        }
        RetryDecision::Retry {
            attempt: failed_attempt.saturating_add(1),
            delay_ms: self.delay_ms(failed_attempt, identity),
        }
    }

    /// Returns the delay in ms after the `failed_attempt`-th failure, jittered
    /// by a hash of `identity` and `failed_attempt`. Always at least 1 ms.
    /// Jitter can take the delay up to `jitter` above `max_backoff_ms`.
    pub fn delay_ms(&self, failed_attempt: u32, identity: u64) -> u64 {
        let nominal_ms = self.nominal_delay_ms(failed_attempt);
        let jitter = to_fixed(self.jitter.clamp(0.0, 1.0));
        // At most `nominal_ms`, because the jitter fraction is at most 1.
        let span_ms = u128::from(nominal_ms) * jitter / FIXED_ONE;
        if span_ms == 0 {
            return nominal_ms;
        }
        let draw = mix64(identity ^ mix64(u64::from(failed_attempt)));
        let offset_ms = u128::from(draw) % (2 * span_ms + 1);
        let delay_ms = u128::from(nominal_ms) - span_ms + offset_ms;
        u64::try_from(delay_ms).unwrap_or(u64::MAX).max(1)
    }

    /// Returns the delay in ms after the `failed_attempt`-th failure before
    /// jitter. Attempt 0 counts as 1.
    pub fn nominal_delay_ms(&self, failed_attempt: u32) -> u64 {
        let exponent = failed_attempt.saturating_sub(1);
        let multiplier = to_fixed(self.backoff_multiplier.max(1.0));
        let factor = fixed_pow(multiplier, exponent);
        let initial = u128::from(self.initial_backoff_ms) * FIXED_ONE;
        let delay_ms = fixed_mul(initial, factor) / FIXED_ONE;
        u64::try_from(delay_ms)
            .unwrap_or(u64::MAX)
            .min(self.max_backoff_ms)
            .max(1)
    }
}

/// Hashes an event's source position into the identity `delay_ms` takes.
/// FNV-1a then a 64-bit finalizer: stable across builds and restarts, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between releases.
pub fn event_identity(topic: &str, partition: u32, offset: u64) -> u64 {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0100_0000_01b3;
    // The position fields have a fixed width, so the input length fixes where
    // the topic ends, and two different positions never give the same bytes.
    let position = partition
        .to_le_bytes()
        .into_iter()
        .chain(offset.to_le_bytes());
    let hash = topic
        .bytes()
        .chain(position)
        .fold(FNV_OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
        });
    mix64(hash)
}

/// Mixes `x` with the splitmix64 finalizer, so every input bit affects every output bit.
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Converts a non-negative float to fixed point; the cast saturates, and NaN becomes 0.
fn to_fixed(x: f64) -> u128 {
    (x * FIXED_ONE as f64).round() as u128
}

/// Multiplies two fixed-point numbers, saturating at `FIXED_MAX`.
fn fixed_mul(a: u128, b: u128) -> u128 {
    a.checked_mul(b)
        .map_or(FIXED_MAX, |product| product / FIXED_ONE)
        .min(FIXED_MAX)
}

/// Raises a fixed-point number to an integer power by squaring, saturating.
fn fixed_pow(mut base: u128, mut exponent: u32) -> u128 {
    let mut result = FIXED_ONE;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = fixed_mul(result, base);
        }
        base = fixed_mul(base, base);
        exponent >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 100,
            backoff_multiplier: 2.0,
            max_backoff_ms: 1_000,
            jitter,
            non_retryable_classes: vec!["schema".to_owned()],
        }
    }

    #[test]
    fn always_failing_event_becomes_poison() {
        let policy = policy(0.0);
        let identity = event_identity("orders", 3, 42);
        let mut delays_ms = Vec::new();
        let mut attempt = 1;
        let cause = loop {
            match policy.decide(attempt, "timeout", identity) {
                RetryDecision::Retry {
                    attempt: next,
                    delay_ms,
                } => {
                    assert_eq!(next, attempt + 1);
                    delays_ms.push(delay_ms);
                    attempt = next;
                }
                RetryDecision::Poison(cause) => break cause,
            }
        };
        assert_eq!(delays_ms, vec![100, 200, 400, 800]);
        assert_eq!(attempt, 5);
        assert_eq!(cause, PoisonCause::AttemptsExhausted);
    }

    #[test]
    fn delay_capped_at_max_backoff() {
        let policy = policy(0.0);
        assert_eq!(policy.delay_ms(5, 1), 1_000);
        assert_eq!(policy.delay_ms(40, 1), 1_000);
        assert_eq!(policy.delay_ms(0, 1), 100, "attempt 0 counts as 1");
    }

    #[test]
    fn jitter_stays_within_fraction() {
        let policy = policy(0.2);
        let mut distinct = std::collections::HashSet::new();
        for failed_attempt in 1..=4 {
            let nominal_ms = policy.nominal_delay_ms(failed_attempt);
            for offset in 0..2_000 {
                let identity = event_identity("orders", 0, offset);
                let delay_ms = policy.delay_ms(failed_attempt, identity);
                assert!(
                    delay_ms * 10 >= nominal_ms * 8,
                    "{delay_ms} below {nominal_ms}"
                );
                assert!(
                    delay_ms * 10 <= nominal_ms * 12,
                    "{delay_ms} above {nominal_ms}"
                );
                distinct.insert((failed_attempt, delay_ms));
            }
        }
        // 2,000 identities spread over 41, 81, 161 and 321 possible values.
        assert!(
            distinct.len() > 500,
            "only {} distinct delays",
            distinct.len()
        );
    }

    #[test]
    fn jitter_repeats_for_same_identity() {
        let policy = policy(0.5);
        let identity = event_identity("payments", 7, 1_234_567);
        let first = policy.delay_ms(3, identity);
        assert_eq!(policy.delay_ms(3, identity), first);
        assert_eq!(policy.clone().delay_ms(3, identity), first);
        let other_attempts: Vec<u64> = (4..20).map(|a| policy.delay_ms(a, identity)).collect();
        assert!(other_attempts.iter().any(|&d| d != first));
    }

    #[test]
    fn full_jitter_never_zero() {
        let mut policy = policy(1.0);
        policy.initial_backoff_ms = 1;
        for identity in 0..1_000 {
            assert!(policy.delay_ms(1, identity) >= 1);
            assert!(policy.delay_ms(1, identity) <= 2);
        }
    }

    #[test]
    fn extreme_settings_saturate() {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff_ms: u64::MAX,
            backoff_multiplier: 1e300,
            max_backoff_ms: u64::MAX,
            jitter: 1.0,
            non_retryable_classes: Vec::new(),
        };
        assert!(policy.validate().is_ok());
        assert_eq!(policy.nominal_delay_ms(u32::MAX), u64::MAX);
        for identity in 0..100 {
            assert!(policy.delay_ms(u32::MAX, identity) >= 1);
        }
        let decision = policy.decide(u32::MAX - 1, "timeout", 9);
        assert!(matches!(
            decision,
            RetryDecision::Retry {
                attempt: u32::MAX,
                ..
            }
        ));
        let last = policy.decide(u32::MAX, "timeout", 9);
        assert_eq!(last, RetryDecision::Poison(PoisonCause::AttemptsExhausted));
    }

    #[test]
    fn constant_and_fractional_multipliers() {
        let mut policy = policy(0.0);
        policy.backoff_multiplier = 1.0;
        assert_eq!(policy.delay_ms(u32::MAX, 0), 100);
        policy.backoff_multiplier = 1.5;
        assert_eq!(policy.delay_ms(3, 0), 225);
        policy.backoff_multiplier = 3.0;
        assert_eq!(policy.delay_ms(3, 0), 900);
    }

    #[test]
    fn non_retryable_class_is_poison() {
        let policy = policy(0.0);
        assert!(!policy.is_retryable("schema"));
        assert!(policy.is_retryable("Schema"));
        let decision = policy.decide(1, "schema", 0);
        assert_eq!(decision, RetryDecision::Poison(PoisonCause::NonRetryable));
    }

    /// Sets one field of a valid policy to an invalid value.
    type Breakage = fn(&mut RetryPolicy);

    #[test]
    fn validate_names_field() {
        let cases: [(Breakage, &str); 8] = [
            (|p| p.max_attempts = 0, "max_attempts"),
            (|p| p.initial_backoff_ms = 0, "initial_backoff_ms"),
            (|p| p.backoff_multiplier = 0.5, "backoff_multiplier"),
            (|p| p.backoff_multiplier = f64::NAN, "backoff_multiplier"),
            (|p| p.max_backoff_ms = 10, "max_backoff_ms"),
            (|p| p.jitter = 1.5, "jitter"),
            (|p| p.jitter = f64::NAN, "jitter"),
            (
                |p| p.non_retryable_classes.push(String::new()),
                "non_retryable_classes",
            ),
        ];
        assert_eq!(policy(0.2).validate(), Ok(()));
        assert_eq!(RetryPolicy::default().validate(), Ok(()));
        for (break_policy, field) in cases {
            let mut broken = policy(0.2);
            break_policy(&mut broken);
            let message = broken.validate().unwrap_err();
            assert!(message.contains(field), "{message:?} does not name {field}");
        }
    }

    #[test]
    fn deserializes_with_defaults() {
        let policy: RetryPolicy = toml::from_str("max_attempts = 3\njitter = 0.0").unwrap();
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.jitter, 0.0);
        assert_eq!(
            policy.initial_backoff_ms,
            RetryPolicy::default().initial_backoff_ms
        );
        let unknown = toml::from_str::<RetryPolicy>("max_attempt = 3");
        assert!(unknown.is_err(), "a misspelt key must be rejected");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<RetryPolicy>(&json).unwrap(), policy);
    }

    #[test]
    fn identity_depends_on_every_part() {
        let base = event_identity("orders", 1, 100);
        assert_eq!(event_identity("orders", 1, 100), base);
        assert_ne!(event_identity("orders", 2, 100), base);
        assert_ne!(event_identity("orders", 1, 101), base);
        assert_ne!(event_identity("order", 1, 100), base);
    }
}
