//! When to poll a source again: a pure decision.
//!
//! A healthy source is polled every `every`. After failures the delay doubles (1, 2, 4 … ×
//! `every`), capped at [`MAX_DELAY`], and polling never stops for good: a source that comes
//! back is picked up again by itself.

use std::time::Duration;

/// The longest wait between two polls of a failing source.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

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
}
