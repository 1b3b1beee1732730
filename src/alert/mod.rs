//! Instant alerts for crisis managers: what an `[[alert]]` rule decides. A rule mails at
//! once when a new story scores high enough, or when a watch's volume spikes, and stays
//! quiet otherwise.
//!
//! This module holds the rules' decisions, as pure functions of plain values: a rule's view
//! of one mention ([`intake`]), its throttle ([`throttle_end`]) and quiet hours
//! ([`is_quiet`]), spikes ([`spike`]), which rules hear a crisis verdict ([`crisis_rules`])
//! and whether a story may escalate again ([`may_escalate`]). Running them against the
//! store and the outbox, and the whole path from a mention to a mail, is `crate::alerting`.
//!
//! # Crisis verdicts
//! **A story escalates once**: a later crisis verdict on it is recorded (the judgment
//! history keeps it, the classifier learns from it) but mails nobody, *unless* someone
//! judged the story something other than a crisis after the last escalation *and* a new
//! mention of it was found after that judgment ([`may_escalate`]): a story that was stood
//! down and then came back in the news is news again. Without that rule, a forwarded digest
//! was enough to page the crisis team at will: its crisis and relevant links, posted in
//! turn, each "changed" the verdict to crisis and mailed again, throttle or not. The
//! trade-off: a crisis confirmed a second time by a colleague, or re-declared after a
//! mistaken "relevant" click with nothing new published, mails nobody; the page and
//! `veille judge` say that the crisis managers were alerted before.

pub mod rules;
pub mod spike;

use chrono::{DateTime, Utc};

use crate::config::{AlertConfig, QuietHours};
use crate::model::{Intake, MentionId, PastEscalation, StoryId, WatchId};
use crate::score::{self, Signals};

pub use rules::{Rule, Rules};

/// Stories shown under the headline of one mail; more waiting stories are folded.
pub const MAX_ALSO: usize = 9;

/// Grown stories listed in one mail.
pub const MAX_UPDATES: usize = 5;

/// Stories mailed within this long can appear as grown in a later mail.
pub const UPDATE_HORIZON_DAYS: i64 = 7;

/// Stories a spike mail names.
pub const SPIKE_TOP: usize = 3;

/// The rule's view of one mention: its score with the rule's own risk vocabulary (`risk`:
/// the terms the rule's vocabulary found near the mention's hits, when the run looked),
/// and whether it passes the rule's `min_score`.
pub fn intake(
    rule: &Rule,
    mention: MentionId,
    story: StoryId,
    mut signals: Signals,
    risk: Option<Vec<String>>,
) -> Intake {
    if let Some(risk) = risk {
        signals.risk = risk;
    }
    let scored = score::score(&signals);
    Intake {
        mention,
        story,
        score: scored.score,
        passes: scored.score >= rule.config.min_score,
        reasons: scored.reasons,
    }
}

/// When a rule with this `throttle` that last mailed at `last` may mail again (None: it
/// never mailed, so it may now).
pub fn throttle_end(
    throttle: std::time::Duration,
    last: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let throttle = chrono::Duration::from_std(throttle).unwrap_or(chrono::Duration::hours(1));
    last.map(|last| last + throttle)
}

/// Whether `now` falls in the quiet hours (local time; a range may cross midnight).
pub fn is_quiet(quiet: &QuietHours, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&quiet.tz).time();
    if quiet.from < quiet.to {
        quiet.from <= local && local < quiet.to
    } else {
        local >= quiet.from || local < quiet.to
    }
}

/// The rules a crisis verdict on a mention of `watch` goes to: the rules marked
/// `crisis = true` that read the watch; when none is marked, every rule that reads it (a
/// crisis verdict is never silent when someone could hear it).
pub fn crisis_rules<'a>(alerts: &'a [AlertConfig], watch: &WatchId) -> Vec<&'a AlertConfig> {
    let reading: Vec<&AlertConfig> = alerts
        .iter()
        .filter(|rule| rule.watches.contains(watch))
        .collect();
    if reading.iter().any(|rule| rule.crisis) {
        reading.into_iter().filter(|rule| rule.crisis).collect()
    } else {
        reading
    }
}

/// What a crisis verdict did about mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escalation {
    /// The story was mailed to the crisis rule(s): the outbox ids queued.
    Mailed(Vec<i64>),
    /// The story was escalated before and [`may_escalate`] says not again: the verdict is
    /// recorded, nobody is mailed.
    AlreadyEscalated,
    /// No rule reads the story's watch (or the mention was purged meanwhile): nobody to
    /// mail, logged.
    NoRule,
}

impl Escalation {
    /// The outbox ids queued (empty unless mailed).
    pub fn queued(&self) -> &[i64] {
        match self {
            Escalation::Mailed(ids) => ids,
            Escalation::AlreadyEscalated | Escalation::NoRule => &[],
        }
    }
}

/// Whether a crisis verdict may mail its story, given the story's last escalation (see
/// "Crisis verdicts" in the module doc): always the first time; after that only once
/// someone judged the story something other than a crisis *and* a new mention of it was
/// found after that judgment. A crisis verdict that merely replaces a relevant one, however
/// often, mails nobody.
pub fn may_escalate(past: Option<&PastEscalation>) -> bool {
    let Some(past) = past else {
        return true;
    };
    matches!(
        (past.cleared_at, past.newest_mention_at),
        (Some(cleared), Some(newest)) if newest > cleared
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("a valid hour"))
    }

    #[test]
    fn a_rule_may_mail_again_when_its_throttle_since_its_last_mail_is_over() {
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(throttle_end(hour, None), None, "never mailed: no wait");
        assert_eq!(throttle_end(hour, Some(at(9))), Some(at(10)));
        assert_eq!(
            throttle_end(std::time::Duration::ZERO, Some(at(9))),
            Some(at(9)),
            "no throttle"
        );
        // A throttle chrono cannot represent falls back to an hour rather than panicking.
        assert_eq!(
            throttle_end(std::time::Duration::MAX, Some(at(9))),
            Some(at(10))
        );
    }

    #[test]
    fn quiet_hours_are_local_and_may_cross_midnight() {
        let quiet = |from: u32, to: u32| QuietHours {
            from: chrono::NaiveTime::from_hms_opt(from, 0, 0).unwrap_or_default(),
            to: chrono::NaiveTime::from_hms_opt(to, 0, 0).unwrap_or_default(),
            unless_score: None,
            tz: chrono_tz::Europe::Paris,
        };
        // 27 November: Paris is UTC+1, so `at(h)` is h+1 local.
        let cases = [
            ("night, before midnight", quiet(22, 7), 21, true),
            ("night, after midnight", quiet(22, 7), 3, true),
            (
                "night, its last minute is not quiet",
                quiet(22, 7),
                6,
                false,
            ),
            ("night, day time", quiet(22, 7), 12, false),
            ("lunch, inside", quiet(12, 14), 11, true),
            ("lunch, its end", quiet(12, 14), 13, false),
            ("lunch, before", quiet(12, 14), 10, false),
        ];
        for (case, hours, utc_hour, expected) in cases {
            assert_eq!(is_quiet(&hours, at(utc_hour)), expected, "{case}");
        }
    }

    #[test]
    fn a_story_escalates_again_only_when_stood_down_then_back_in_the_news() {
        let past = |cleared: Option<u32>, newest: Option<u32>| PastEscalation {
            judgment: 1,
            at: at(9),
            cleared_at: cleared.map(at),
            newest_mention_at: newest.map(at),
        };
        let cases = [
            ("never escalated", None, true),
            (
                "confirmed again, nothing else",
                Some(past(None, Some(8))),
                false,
            ),
            (
                "new mention but never stood down",
                Some(past(None, Some(12))),
                false,
            ),
            (
                "stood down, nothing new since",
                Some(past(Some(10), Some(8))),
                false,
            ),
            (
                "stood down, mention in the same second",
                Some(past(Some(10), Some(10))),
                false,
            ),
            (
                "stood down, then a new mention",
                Some(past(Some(10), Some(11))),
                true,
            ),
        ];
        for (case, past, expected) in cases {
            assert_eq!(may_escalate(past.as_ref()), expected, "{case}");
        }
    }
}
