//! When something recurring is due (today: a digest): local send times, week days, and a
//! time zone.
//!
//! The schedule is pure: given the instant of the previous send, it names the next scheduled
//! instant. Local times that do not exist (the hour skipped when clocks spring forward) fire
//! at the first valid minute after the gap; local times that happen twice (when clocks fall
//! back) fire at the first of the two. Either way a digest is sent once per scheduled slot,
//! never zero or two times.

use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// A set of week days, written `daily`, `mon-fri`, `sat,sun` or as a TOML list of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySet(u8);

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

impl DaySet {
    pub const ALL: DaySet = DaySet(0b111_1111);

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    pub fn union(self, other: DaySet) -> DaySet {
        DaySet(self.0 | other.0)
    }

    fn with(self, day: Weekday) -> DaySet {
        DaySet(self.0 | (1 << day.num_days_from_monday()))
    }

    /// Parses one element: `daily`, `weekdays`, `weekends`, a day name (`mon`, `monday`) or a
    /// range (`mon-fri`, `fri-mon` wraps). Comma-separated lists are accepted too.
    pub fn parse(text: &str) -> Result<DaySet, String> {
        let mut set = DaySet(0);
        for part in text.split(',') {
            set = DaySet(set.0 | Self::parse_one(part.trim())?.0);
        }
        Ok(set)
    }

    fn parse_one(part: &str) -> Result<DaySet, String> {
        let lower = part.to_ascii_lowercase();
        match lower.as_str() {
            "daily" | "every day" | "all" => return Ok(DaySet::ALL),
            "weekdays" => return DaySet::parse_one("mon-fri"),
            "weekends" | "weekend" => return DaySet::parse_one("sat-sun"),
            "" => return Err("empty day name".to_string()),
            _ => {}
        }
        if let Some((from, to)) = lower.split_once('-') {
            let from = day_named(from.trim())?;
            let to = day_named(to.trim())?;
            let mut set = DaySet(0);
            let mut day = from;
            loop {
                set = set.with(day);
                if day == to {
                    break;
                }
                day = day.succ();
            }
            return Ok(set);
        }
        Ok(DaySet(0).with(day_named(&lower)?))
    }
}

fn day_named(name: &str) -> Result<Weekday, String> {
    DAY_NAMES
        .iter()
        .find(|(short, day)| name == *short || name == full_day_name(*day))
        .map(|(_, day)| *day)
        .ok_or_else(|| {
            format!("unknown day {name:?}: use mon, tue, wed, thu, fri, sat, sun, ranges like mon-fri, or daily")
        })
}

fn full_day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

impl fmt::Display for DaySet {
    /// Writes runs of three or more consecutive days as ranges: `mon-fri`, `mon,wed,fri`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == DaySet::ALL {
            return f.write_str("daily");
        }
        let mut parts: Vec<String> = Vec::new();
        let mut index = 0;
        while index < DAY_NAMES.len() {
            if !self.contains(DAY_NAMES[index].1) {
                index += 1;
                continue;
            }
            let start = index;
            while index + 1 < DAY_NAMES.len() && self.contains(DAY_NAMES[index + 1].1) {
                index += 1;
            }
            match index - start {
                0 => parts.push(DAY_NAMES[start].0.to_string()),
                1 => parts.extend([
                    DAY_NAMES[start].0.to_string(),
                    DAY_NAMES[index].0.to_string(),
                ]),
                _ => parts.push(format!("{}-{}", DAY_NAMES[start].0, DAY_NAMES[index].0)),
            }
            index += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// Parses a local time of day written `HH:MM`.
pub fn parse_time_of_day(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("invalid time {text:?}: write a local time as HH:MM, e.g. \"08:00\""))
}

/// Local send times on a set of days, in one time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Sorted, without duplicates, never empty.
    pub at: Vec<NaiveTime>,
    pub days: DaySet,
    pub tz: Tz,
}

impl Schedule {
    pub fn new(mut at: Vec<NaiveTime>, days: DaySet, tz: Tz) -> Schedule {
        at.sort();
        at.dedup();
        Schedule { at, days, tz }
    }

    /// The first scheduled instant strictly after `after`, or `None` when the schedule has no
    /// day or no time at all.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.at.is_empty() || self.days == DaySet(0) {
            return None;
        }
        // Start one day early: a slot on the previous local date can still lie after `after`
        // when the time zone is behind UTC and a gap pushes it forward.
        let first = after.with_timezone(&self.tz).date_naive() - Duration::days(1);
        (0..9)
            .map(|offset| first + Duration::days(offset))
            .filter(|date| self.days.contains(date.weekday()))
            .flat_map(|date| self.at.iter().map(move |time| (date, *time)))
            .map(|(date, time)| resolve_local(self.tz, date, time))
            .filter(|instant| *instant > after)
            .min()
    }
}

/// The instant at which a local wall-clock time happens on a given date: the first of two
/// when it happens twice, the end of the gap when it does not happen at all.
fn resolve_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    let mut probe = naive;
    // Gaps are at most a few hours; walk forward minute by minute to the first valid time.
    for _ in 0..=(24 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    // No time zone has a day-long gap; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&naive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
    }

    fn times(list: &[&str]) -> Vec<NaiveTime> {
        list.iter()
            .map(|t| parse_time_of_day(t).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    #[test]
    fn day_sets_parse() {
        let cases: &[(&str, &[Weekday])] = &[
            ("daily", &[Weekday::Mon, Weekday::Sat, Weekday::Sun]),
            ("mon-fri", &[Weekday::Mon, Weekday::Wed, Weekday::Fri]),
            (
                "fri-mon",
                &[Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Mon],
            ),
            ("sat,sun", &[Weekday::Sat, Weekday::Sun]),
            ("Monday", &[Weekday::Mon]),
        ];
        for (text, days) in cases {
            let set = DaySet::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            for day in *days {
                assert!(set.contains(*day), "{text} should contain {day}");
            }
        }
        assert!(
            !DaySet::parse("mon-fri")
                .map(|s| s.contains(Weekday::Sat))
                .unwrap_or(true)
        );
        assert!(
            !DaySet::parse("fri-mon")
                .map(|s| s.contains(Weekday::Wed))
                .unwrap_or(true)
        );
        for bad in ["", "funday", "mon-xyz", "mon,,tue"] {
            assert!(DaySet::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn day_sets_display_as_written() {
        for text in [
            "daily",
            "mon-fri",
            "sat,sun",
            "mon,wed,fri",
            "mon-wed,sat,sun",
            "tue",
        ] {
            let set = DaySet::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(set.to_string(), text);
        }
    }

    #[test]
    fn next_after_respects_days_and_zone() {
        let paris: Tz = "Europe/Paris".parse().unwrap_or(Tz::UTC);
        let schedule = Schedule::new(
            times(&["08:00", "17:30"]),
            DaySet::parse("mon-fri").unwrap_or(DaySet::ALL),
            paris,
        );
        // Friday 2026-11-27 10:00 Paris (09:00 UTC) -> same day 17:30 Paris (16:30 UTC).
        assert_eq!(
            schedule.next_after(utc("2026-11-27T09:00:00Z")),
            Some(utc("2026-11-27T16:30:00Z"))
        );
        // Friday after the last slot -> Monday 08:00 Paris.
        assert_eq!(
            schedule.next_after(utc("2026-11-27T16:30:00Z")),
            Some(utc("2026-11-30T07:00:00Z"))
        );
    }

    #[test]
    fn spring_forward_gap_fires_once_after_the_gap() {
        let paris: Tz = "Europe/Paris".parse().unwrap_or(Tz::UTC);
        let schedule = Schedule::new(times(&["02:30"]), DaySet::ALL, paris);
        // 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST; 02:30 does not exist.
        let first = schedule.next_after(utc("2026-03-28T12:00:00Z"));
        assert_eq!(first, Some(utc("2026-03-29T01:00:00Z")), "03:00 CEST");
        let second = first.and_then(|t| schedule.next_after(t));
        assert_eq!(
            second,
            Some(utc("2026-03-30T00:30:00Z")),
            "next day 02:30 CEST"
        );
    }

    #[test]
    fn fall_back_repeated_hour_fires_once() {
        let paris: Tz = "Europe/Paris".parse().unwrap_or(Tz::UTC);
        let schedule = Schedule::new(times(&["02:30"]), DaySet::ALL, paris);
        // 2026-10-25: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
        let first = schedule.next_after(utc("2026-10-24T12:00:00Z"));
        assert_eq!(first, Some(utc("2026-10-25T00:30:00Z")));
        let second = first.and_then(|t| schedule.next_after(t));
        assert_eq!(
            second,
            Some(utc("2026-10-26T01:30:00Z")),
            "not the repeated 02:30"
        );
    }

    #[test]
    fn empty_schedule_is_never_due() {
        let schedule = Schedule::new(Vec::new(), DaySet::ALL, Tz::UTC);
        assert_eq!(schedule.next_after(utc("2026-01-01T00:00:00Z")), None);
    }
}
