//! `veille alerts`: each alert rule's state, for the admin asking "why did (or didn't) I get
//! an alert?". Read-only: when the rule last mailed and when it may mail again, the stories
//! waiting for its next mail, the mentions folded since, and for each of its watches the
//! current window against the usual count (the spike test, as the engine would run it now).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use veille::alert::spike;
use veille::config::{AlertConfig, Config};
use veille::store::{Store, StoreError};

use super::{CliError, ConfigArg, load_config, open_existing_store};

pub fn alerts(args: &ConfigArg) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    let store = open_existing_store(&config)?;
    print!("{}", report(&config, &store, Utc::now())?);
    Ok(())
}

/// The whole report, as of `now`.
pub fn report(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<String, StoreError> {
    let mut out = String::new();
    if config.alerts.is_empty() {
        out.push_str("no [[alert]] rule in the configuration\n");
    }
    for rule in &config.alerts {
        rule_report(&mut out, config, rule, store, now)?;
    }
    Ok(out)
}

fn rule_report(
    out: &mut String,
    config: &Config,
    rule: &AlertConfig,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tz = config.daemon.timezone;
    let to: Vec<String> = rule.to.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "alert {:?} → {} (score ≥ {}, one mail per {})",
        rule.id.as_str(),
        to.join(", "),
        rule.min_score,
        veille::config::format_duration(rule.throttle)
    );
    let state = store.alert_rule_state(&rule.id)?;
    match state.last_mail_at {
        None => out.push_str("  last mail: none yet\n"),
        Some(last) => {
            let throttle =
                chrono::Duration::from_std(rule.throttle).unwrap_or(chrono::Duration::zero());
            let next = last + throttle;
            let when = if next <= now {
                "may mail now".to_string()
            } else {
                format!("next mail from {}", local(next, tz))
            };
            let _ = writeln!(out, "  last mail: {} ({when})", local(last, tz));
        }
    }
    if let Some(quiet) = rule.quiet_hours {
        let _ = writeln!(
            out,
            "  quiet hours {}–{}{}",
            quiet.from.format("%H:%M"),
            quiet.to.format("%H:%M"),
            if veille::alert::is_quiet(&quiet, now) {
                ": now, mail waits"
            } else {
                ""
            }
        );
    }
    match state.pending.first() {
        None => out.push_str("  waiting: no story\n"),
        Some(best) => {
            let title = store
                .mentions_by_id(&[best.mention])?
                .first()
                .map(|m| veille::digest::display_title(&m.title, &m.text))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  waiting: {} stor{}, best {:.2} {title:?}",
                state.pending.len(),
                if state.pending.len() == 1 { "y" } else { "ies" },
                best.score
            );
        }
    }
    let _ = writeln!(
        out,
        "  folded since the last mail: {} mention{}",
        state.folded,
        if state.folded == 1 { "" } else { "s" }
    );
    let Some(spike_rule) = rule.spike else {
        out.push_str("  spikes: off\n");
        return Ok(());
    };
    let window = veille::config::format_duration(spike_rule.window);
    for watch in &rule.watches {
        let hours = store.watch_hours(watch, now, spike_rule.window, spike::BASELINE_DAYS)?;
        let counts = spike::window_counts(
            hours.end,
            hours.length,
            hours.current,
            hours.history_start,
            &hours.hours,
        );
        let check = spike::check(&counts, &spike_rule);
        let usual = match check.usual {
            Some(usual) => format!("usually {usual:.1}"),
            None => format!(
                "no baseline yet ({} of {} days of history)",
                counts.previous_days.len(),
                spike::MIN_HISTORY_DAYS
            ),
        };
        let verdict = match (check.is_spike, store.spike_in_progress(&rule.id, watch)?) {
            (_, true) => " → spike, mailed",
            (true, false) => " → spike (mailed with the next mention)",
            (false, false) => "",
        };
        let _ = writeln!(
            out,
            "  watch {:?}: {} in the last {window}, {usual}{verdict}",
            watch.as_str(),
            check.count
        );
    }
    Ok(())
}

fn local(time: DateTime<Utc>, tz: Tz) -> String {
    time.with_timezone(&tz)
        .format("%a %-d %b %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use veille::model::Intake;
    use veille::model::{Field, Item, MentionId, SourceId, StoryId, TermHit, WatchId, WatchMatch};
    use veille::store::{Backfill, Matched, Parsed, RunRecord};

    use super::*;

    fn mention(guid: &str) -> (Item, Vec<WatchMatch>) {
        let item = Item {
            source: SourceId::new("wire"),
            identity: guid.to_string(),
            url: Some(format!("https://wire.example/{guid}")),
            title: format!("Nordvent {guid}"),
            text: format!("Nordvent, dépêche {guid} sans rapport avec les autres."),
            published: None,
            author: None,
            lang: None,
        };
        let hit = TermHit {
            term: Arc::from("Nordvent"),
            field: Field::Title,
            position: 0,
            start: 0,
            end: 8,
        };
        let found = WatchMatch {
            watch: WatchId::new("nordvent"),
            held: Vec::new(),
            hits: vec![hit],
        };
        (item, vec![found])
    }

    fn record(
        store: &Store,
        at: DateTime<Utc>,
        items: &[(Item, Vec<WatchMatch>)],
        backfill: Backfill,
    ) {
        store
            .record_run(&RunRecord {
                source: SourceId::new("wire"),
                url: "https://wire.example/feed.xml".to_string(),
                now: at,
                next_poll_at: at,
                validators: Some(Default::default()),
                body_hash: None,
                redirected_to: None,
                recovered_from: None,
                parsed: Some(Parsed {
                    items: items
                        .iter()
                        .cloned()
                        .map(|(item, matches)| Matched::unscored(item, matches))
                        .collect(),
                    backfill,
                    scoring: None,
                }),
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_report_shows_waiting_stories_folded_mentions_and_the_spike_test() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("veille.toml");
        std::fs::write(
            &path,
            "[[source]]\nid = \"wire\"\nurl = \"https://wire.example/feed.xml\"\n\
             [[watch]]\nid = \"nordvent\"\nquery = \"Nordvent\"\n\
             [[alert]]\nid = \"crise\"\nto = \"astreinte@example.org\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = veille::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&dir.path().join("v.db")).unwrap_or_else(|e| panic!("{e}"));
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("time"));
        record(
            &store,
            now - chrono::Duration::days(10),
            &[mention("old")],
            Backfill::All,
        );
        let live: Vec<_> = (0..6).map(|n| mention(&format!("live{n}"))).collect();
        record(
            &store,
            now - chrono::Duration::minutes(5),
            &live,
            Backfill::No,
        );

        let before = report(&config, &store, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(before.contains("last mail: none yet"), "{before}");
        assert!(before.contains("waiting: no story"), "{before}");
        assert!(
            before.contains(
                "watch \"nordvent\": 6 in the last 1h, usually 1.0 → spike (mailed with the next mention)"
            ),
            "{before}"
        );

        let rule = &config.alerts[0].id;
        let intake = |id: i64, score: f64, passes: bool| Intake {
            mention: MentionId(id),
            story: StoryId(id),
            score,
            reasons: Vec::new(),
            passes,
        };
        let first_live = store
            .mentions_by_id(&[MentionId(2)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first_live[0].title, "Nordvent live0");
        store
            .alert_intake(rule, now, &[intake(2, 0.8, true), intake(3, 0.2, false)])
            .unwrap_or_else(|e| panic!("{e}"));
        let after = report(&config, &store, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            after.contains("waiting: 1 story, best 0.80 \"Nordvent live0\""),
            "{after}"
        );
        assert!(
            after.contains("folded since the last mail: 1 mention\n"),
            "{after}"
        );
    }
}
