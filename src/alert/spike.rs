//! Volume spikes: is a watch getting far more mentions than it usually does at this hour?
//!
//! # Method
//! - **Counts.** Every live mention (not a backfill) is counted in its watch's hour (table
//!   `watch_hours`). The *current* count is exact: the live mentions of the watch in the
//!   window `(now − window, now]`.
//! - **Baseline.** The same window on each of the previous [`BASELINE_DAYS`] days (same
//!   clock hours, so a watch busy every morning is compared with its mornings), read from
//!   the hourly counts; an hour cut by the window's edge counts pro rata. The baseline is the
//!   **median** of those daily counts: one past spike (or one dead day) moves it little,
//!   where a mean would be dragged up by last week's crisis. It is never below
//!   [`BASELINE_FLOOR`] mention per window, so a watch that is usually silent needs more than
//!   `factor` mentions, and at least `min_mentions`, to spike.
//! - **Spike.** The current count is a spike when it is above `factor` × baseline **and**
//!   at least `min_mentions`. A gradual rise does not spike: the median follows it day by
//!   day, and the ratio to it stays small.
//! - **History.** Days before the watch's history starts (its first stored mention, live or
//!   backfill) are not counted. With fewer than [`MIN_HISTORY_DAYS`] days there is no
//!   baseline and no spike: a new watch's first busy hour is not news by itself (its stories
//!   still alert on their score).
//! - **Once per episode.** The alert engine mails a spike when it starts and stays quiet
//!   while the count stays above the threshold; the next spike can mail once the count has
//!   fallen back below it.
//!
//! Everything takes `now` from the caller (the app's clock), so tests replay weeks of
//! history with a manual clock.

use crate::config::SpikeRule;

/// Days compared with today.
pub const BASELINE_DAYS: i64 = 14;
/// Fewer days of history than this: no baseline, no spike.
pub const MIN_HISTORY_DAYS: i64 = 7;
/// The lowest baseline, in mentions per window.
pub const BASELINE_FLOOR: f64 = 1.0;

/// The numbers a spike decision is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCounts {
    /// Live mentions in the current window.
    pub current: u64,
    /// The same window on each previous day with history, most recent first.
    pub previous_days: Vec<f64>,
}

/// The decision, with what a spike mail says ("40 mentions in 1 h, usually 3").
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeCheck {
    pub count: u64,
    /// The baseline (median of the previous days, at least the floor); None without enough
    /// history.
    pub usual: Option<f64>,
    pub is_spike: bool,
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// Decides whether `counts` is a spike under `rule`.
pub fn check(counts: &WindowCounts, rule: &SpikeRule) -> SpikeCheck {
    if (counts.previous_days.len() as i64) < MIN_HISTORY_DAYS {
        return SpikeCheck {
            count: counts.current,
            usual: None,
            is_spike: false,
        };
    }
    let usual = median(&counts.previous_days).max(BASELINE_FLOOR);
    let current = counts.current as f64;
    SpikeCheck {
        count: counts.current,
        usual: Some(usual),
        is_spike: current > rule.factor * usual && counts.current >= u64::from(rule.min_mentions),
    }
}

/// The current window's count and the same window on each previous day that has history,
/// from a watch's hourly counts (`end`, `length`, `history_start` and the hours' starts in
/// unix seconds, as `crate::store::Store::watch_hours` reads them; `hours` are `(hour since
/// the epoch, mentions)`). A day counts once the watch was watched for all of its window;
/// the first day without full history ends the baseline.
pub fn window_counts(
    end: i64,
    length: i64,
    current: u64,
    history_start: Option<i64>,
    hours: &[(i64, i64)],
) -> WindowCounts {
    let mut previous_days = Vec::new();
    for day in 1..=BASELINE_DAYS {
        let to = end - day * 86_400;
        let from = to - length;
        if history_start.is_none_or(|start| start > from) {
            break;
        }
        let first_hour = from.div_euclid(3600);
        let last_hour = to.div_euclid(3600);
        let count = hours
            .iter()
            .filter(|(hour, _)| (first_hour..=last_hour).contains(hour))
            .map(|&(hour, mentions)| mentions as f64 * overlap(hour * 3600, from, to))
            .sum();
        previous_days.push(count);
    }
    WindowCounts {
        current,
        previous_days,
    }
}

/// The part of the hour starting at `hour_start` (unix seconds) that lies in `[from, to)`,
/// as a fraction of an hour.
pub fn overlap(hour_start: i64, from: i64, to: i64) -> f64 {
    let start = hour_start.max(from);
    let end = (hour_start + 3600).min(to);
    if end <= start {
        0.0
    } else {
        (end - start) as f64 / 3600.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rule(factor: f64, min_mentions: u32) -> SpikeRule {
        SpikeRule {
            factor,
            window: Duration::from_secs(3600),
            min_mentions,
        }
    }

    #[test]
    fn median_of_odd_even_and_empty_lists() {
        for (values, expected) in [
            (vec![], 0.0),
            (vec![3.0], 3.0),
            (vec![5.0, 1.0, 3.0], 3.0),
            (vec![4.0, 1.0, 3.0, 2.0], 2.5),
            (vec![0.0, 0.0, 100.0], 0.0),
        ] {
            assert_eq!(median(&values), expected, "{values:?}");
        }
    }

    #[test]
    fn decisions_follow_factor_floor_min_mentions_and_history() {
        let week = |v: f64| vec![v; 7];
        let cases = [
            // (current, previous days, factor, min_mentions, spike?, usual)
            ("far above usual", 40, week(5.0), 3.0, 5, true, Some(5.0)),
            (
                "exactly factor × usual is not above it",
                15,
                week(5.0),
                3.0,
                5,
                false,
                Some(5.0),
            ),
            (
                "quiet watch, 2 mentions: under min_mentions",
                2,
                week(0.0),
                3.0,
                5,
                false,
                Some(1.0),
            ),
            (
                "quiet watch, 6 mentions",
                6,
                week(0.0),
                3.0,
                5,
                true,
                Some(1.0),
            ),
            (
                "quiet watch, 6 mentions, min 10",
                6,
                week(0.0),
                3.0,
                10,
                false,
                Some(1.0),
            ),
            (
                "one past spike does not move the median",
                12,
                {
                    let mut days = week(3.0);
                    days[2] = 80.0;
                    days
                },
                3.0,
                5,
                true,
                Some(3.0),
            ),
            (
                "six days of history is not enough",
                40,
                vec![5.0; 6],
                3.0,
                5,
                false,
                None,
            ),
        ];
        for (name, current, previous_days, factor, min, spike, usual) in cases {
            let got = check(
                &WindowCounts {
                    current,
                    previous_days,
                },
                &rule(factor, min),
            );
            assert_eq!(got.is_spike, spike, "{name}");
            assert_eq!(got.usual, usual, "{name}");
        }
    }

    #[test]
    fn overlap_is_the_fraction_of_the_hour_inside_the_window() {
        let h = 36_000;
        for (from, to, expected) in [
            (h, h + 3600, 1.0),
            (h + 1800, h + 7200, 0.5),
            (h - 100, h + 900, 0.25),
            (h + 3600, h + 7200, 0.0),
            (h - 7200, h - 3600, 0.0),
        ] {
            assert!(
                (overlap(h, from, to) - expected).abs() < 1e-9,
                "{from}..{to}"
            );
        }
    }
}
