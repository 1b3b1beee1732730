//! When to poll a source again: a pure decision.
//!
//! A healthy source is polled every `every`. After failures the delay doubles (1, 2, 4 … ×
//! `every`), capped at [`MAX_DELAY`], and polling never stops for good: a source that comes
//! back is picked up again by itself.

use std::time::Duration;

/// The longest wait between two polls of a failing source.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest spread added to a poll time.
pub const MAX_JITTER: Duration = Duration::from_secs(5 * 60);

/// A stable per-source delay (up to a tenth of `every`, at most [`MAX_JITTER`]) so sources
/// that share an interval do not all fire in the same second. Derived from the source id,
/// not random: the schedule is reproducible and needs no random generator.
pub fn jitter(source_id: &str, every: Duration) -> Duration {
    let spread_ms = (every / 10).min(MAX_JITTER).as_millis() as u64;
    if spread_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(xxhash_rust::xxh3::xxh3_64(source_id.as_bytes()) % spread_ms)
}

/// Delay before the next poll, given the number of consecutive failures so far (0 = healthy).
pub fn next_delay(every: Duration, consecutive_failures: u32) -> Duration {
    if consecutive_failures == 0 {
        return every;
    }
    let factor = 1u32
        .checked_shl(consecutive_failures - 1)
        .unwrap_or(u32::MAX);
    every
        .checked_mul(factor)
        .unwrap_or(MAX_DELAY)
        .min(MAX_DELAY)
        .max(every.min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let every = Duration::from_secs(15 * 60);
        let delays: Vec<u64> = (0..10)
            .map(|n| next_delay(every, n).as_secs() / 60)
            .collect();
        assert_eq!(delays, vec![15, 15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(next_delay(every, 200), MAX_DELAY);
    }

    #[test]
    fn jitter_is_stable_bounded_and_spreads_sources() {
        let every = Duration::from_secs(15 * 60);
        let spreads: Vec<Duration> = (0..50).map(|i| jitter(&format!("s{i}"), every)).collect();
        assert!(spreads.iter().all(|d| *d < Duration::from_secs(90)));
        assert_eq!(jitter("s1", every), jitter("s1", every));
        let distinct: std::collections::HashSet<_> = spreads.iter().collect();
        assert!(distinct.len() > 40, "{} distinct of 50", distinct.len());
        assert!(jitter("s", Duration::from_secs(24 * 3600)) <= MAX_JITTER);
    }
}
