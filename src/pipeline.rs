//! One source run, top to bottom: fetch → extract → match → store.
//!
//! A failure at any step is recorded on the source (error text, consecutive failures, next
//! attempt with backoff) and returned as data; it never stops the other sources.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::alert::Rules;
use crate::alerting::{self, RuleRisk, RunFindings};
use crate::app::App;
use crate::config::SourceConfig;
use crate::extract::select::PageSelect;
use crate::fetch::politeness::RetryAfter;
use crate::fetch::{FetchError, FetchOutcome, Fetched, Validators, backoff, credentials};
use crate::isolation::Document;
use crate::judge::learned::{self, Models};
use crate::matching::ItemText;
use crate::metrics::PollOutcome;
use crate::model::{Field, Item, SourceId, WatchId, WatchMatch};
use crate::score::Signals;
use crate::score::risk::RiskVocabulary;
use crate::store::{Backfill, FetchedRun, RunStats, StoreError, SuccessDetails, body_hash};

/// What one run of one source did.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceReport {
    pub source: SourceId,
    pub outcome: SourceOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceOutcome {
    Updated(RunStats),
    NotModified,
    Failed {
        error: String,
        consecutive_failures: u32,
    },
}

/// Polls one source once and records the result.
pub async fn run_source(app: &App, source: &SourceConfig) -> SourceReport {
    let span = info_span!("source", source = %source.id, url = %shown_url(source));
    let started = std::time::Instant::now();
    let outcome = run(app, source).instrument(span).await;
    record_metrics(app, &outcome, started.elapsed().as_secs_f64());
    SourceReport {
        source: source.id.clone(),
        outcome,
    }
}

fn record_metrics(app: &App, outcome: &SourceOutcome, seconds: f64) {
    match outcome {
        SourceOutcome::Updated(stats) => app.metrics.record_poll(
            PollOutcome::Updated,
            seconds,
            stats.items_new,
            stats.items_seen,
            stats.mentions.iter().map(|(w, n)| (w.to_string(), *n)),
        ),
        SourceOutcome::NotModified => {
            app.metrics
                .record_poll(PollOutcome::NotModified, seconds, 0, 0, [])
        }
        SourceOutcome::Failed { .. } => {
            app.metrics
                .record_poll(PollOutcome::Failed, seconds, 0, 0, [])
        }
    }
}

async fn run(app: &App, source: &SourceConfig) -> SourceOutcome {
    // Held for the whole run: state, fetch, parse and store (see fetch::politeness).
    let _permit = app.fetcher.politeness().acquire(&source.url).await;
    let id = source.id.clone();
    let state = match app.db(move |s| s.source_state(&id)).await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the source state");
            return SourceOutcome::Failed {
                error: e.to_string(),
                consecutive_failures: 0,
            };
        }
    };
    let previous = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    let fetched = app
        .fetcher
        .fetch(&source.url, &previous, source.credentials.as_ref())
        .await;
    let now = app.clock.now();
    // A success after a streak long enough to have been reported is a recovery to report.
    let recovered_from = (state.consecutive_failures >= app.config.daemon.failing_after.max(1))
        .then(|| {
            (
                state.failing_since.unwrap_or(now),
                state.consecutive_failures,
            )
        });
    match fetched {
        FetchOutcome::NotModified { moved_to } => {
            debug!("not modified");
            let details = Details {
                body_hash: None,
                validators: None,
                moved_to: moved_to.map(|u| u.to_string()),
                recovered_from,
            };
            unchanged(app, source, now, details).await
        }
        FetchOutcome::Failed(FetchError::Gone) => {
            let error = FetchError::Gone.to_string();
            warn!(error = %error, "source is gone: it will not be polled again until its URL changes");
            let (id, url, message) = (source.id.clone(), shown_url(source), error.clone());
            match app
                .db(move |s| s.record_gone(&id, &url, now, &message))
                .await
            {
                Ok(()) => SourceOutcome::Failed {
                    error,
                    consecutive_failures: state.consecutive_failures.saturating_add(1),
                },
                Err(e) => store_failed(e),
            }
        }
        FetchOutcome::Failed(error) => {
            let retry_after = match &error {
                FetchError::Busy { retry_after, .. } => *retry_after,
                _ => None,
            };
            fail(
                app,
                source,
                state.consecutive_failures,
                now,
                error.to_string(),
                retry_after,
            )
            .await
        }
        FetchOutcome::Fetched(Fetched {
            body,
            final_url,
            content_type,
            validators,
            moved_to,
        }) => {
            let hash = body_hash(&body);
            let moved_to = moved_to.map(|u| u.to_string());
            if state.body_hash.as_deref() == Some(hash.as_str()) {
                debug!("same body as last time: not parsed");
                let details = Details {
                    body_hash: None,
                    validators: Some(validators),
                    moved_to,
                    recovered_from,
                };
                return unchanged(app, source, now, details).await;
            }
            let run = StoreRun {
                now,
                backfill: backfill(source.every, state.last_success_at, now),
                next_poll_at: next_poll(source, now, 0),
                validators,
                body_hash: hash,
                moved_to,
                recovered_from,
            };
            let stored =
                extract_match_store(app, source, body, content_type, final_url.to_string(), run)
                    .await;
            match stored {
                Err(error) => fail(app, source, state.consecutive_failures, now, error, None).await,
                Ok(Err(e)) => store_failed(e),
                Ok(Ok((stats, findings))) => {
                    info!(
                        new = stats.items_new,
                        seen = stats.items_seen,
                        mentions = stats.mentions.values().sum::<usize>(),
                        "polled"
                    );
                    // The run is stored whatever the alerts do: a failure here is logged
                    // and the waiting stories go out with the next flush.
                    // Boxed: the engine's future is large, and every queued run would
                    // otherwise carry its space (1,000 queued runs: +1.7 MB).
                    if let Err(e) = Box::pin(alerting::after_run(app, findings)).await {
                        tracing::error!(error = %crate::error_chain(&e), "cannot process alerts for this poll");
                    }
                    SourceOutcome::Updated(stats)
                }
            }
        }
    }
}

/// What an unchanged poll records besides "healthy".
struct Details {
    body_hash: Option<String>,
    validators: Option<Validators>,
    moved_to: Option<String>,
    recovered_from: Option<(DateTime<Utc>, u32)>,
}

/// Records a poll that found nothing new (a 304, or a 200 with the same body).
async fn unchanged(
    app: &App,
    source: &SourceConfig,
    now: DateTime<Utc>,
    details: Details,
) -> SourceOutcome {
    let (id, url, next) = (
        source.id.clone(),
        shown_url(source),
        next_poll(source, now, 0),
    );
    let recorded = app
        .db(move |s| {
            s.record_unchanged(
                &url,
                next,
                &SuccessDetails {
                    source: &id,
                    now,
                    body_hash: details.body_hash.as_deref(),
                    validators: details
                        .validators
                        .as_ref()
                        .map(|v| (v.etag.as_deref(), v.last_modified.as_deref())),
                    redirected_to: details.moved_to.as_deref(),
                    recovered_from: details.recovered_from,
                },
            )
        })
        .await;
    match recorded {
        Ok(()) => SourceOutcome::NotModified,
        Err(e) => store_failed(e),
    }
}

/// A source silent (failing, or veille stopped) for longer than this, and at least three
/// of its polling intervals, comes back as a backfill (see [`backfill`]).
pub const LONG_OUTAGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Which new items of this poll were found by a backfill: on a source's first successful
/// poll, all of them (they were published before veille looked); on the first poll after a
/// long outage, those published before one polling interval ago (a normal poll would have
/// found the fresher ones new too) and undated ones. Backfill is stored and reaches digests
/// but never alerts nor counts toward spikes.
fn backfill(
    every: std::time::Duration,
    last_success: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Backfill {
    let Some(last) = last_success else {
        return Backfill::All;
    };
    let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1));
    let outage = chrono::Duration::from_std(LONG_OUTAGE)
        .unwrap_or(chrono::Duration::hours(6))
        .max(every * 3);
    if now - last > outage {
        Backfill::PublishedBefore(now - every)
    } else {
        Backfill::No
    }
}

/// What a parsed run records besides its items.
struct StoreRun {
    now: DateTime<Utc>,
    backfill: Backfill,
    next_poll_at: DateTime<Utc>,
    validators: Validators,
    body_hash: String,
    moved_to: Option<String>,
    recovered_from: Option<(DateTime<Utc>, u32)>,
}

/// Parses the document (in a parser process under the daemon, see `crate::isolation`),
/// then matches every item against the watches that read this source and records the run,
/// in one hop to the blocking pool. The outer error is an extraction failure (recorded on
/// the source by the caller), the inner one a database failure.
async fn extract_match_store(
    app: &App,
    source: &SourceConfig,
    body: Vec<u8>,
    content_type: Option<String>,
    base: String,
    run: StoreRun,
) -> Result<Result<(RunStats, RunFindings), StoreError>, String> {
    let document = Document {
        kind: source.kind,
        content_type,
        base,
        select: source.select.as_ref().map(PageSelect::texts),
        body,
    };
    let items = app.extractor.extract(&source.id, document).await?;
    let source_id = source.id.clone();
    let url = shown_url(source);
    let matcher = app.matcher.clone();
    let alerting = Arc::clone(&app.alerting);
    let models = app.learned.models();
    let weight = source.weight;
    let store = Arc::clone(&app.store);
    let reads_this_source: HashSet<WatchId> = app
        .config
        .watches
        .iter()
        .filter(|w| w.sources.contains(&source.id))
        .map(|w| w.id.clone())
        .collect();
    let work = tokio::task::spawn_blocking(move || {
        let items: Vec<(Item, Vec<WatchMatch>)> = items
            .into_iter()
            .map(|item| {
                let text = ItemText {
                    title: &item.title,
                    body: &item.text,
                };
                let mut matches = matcher.match_text(text);
                matches.retain(|m| reads_this_source.contains(&m.watch));
                (item, matches)
            })
            .collect();
        // A first poll is all backfill: no rule will look at its mentions.
        let rules = (run.backfill != Backfill::All).then_some(&*alerting);
        let (signals, rule_risk) =
            item_signals(&items, &alerting.stored, rules, &models, weight, run.now);
        let stats = store.record_fetched_with(
            &FetchedRun {
                source: &source_id,
                url: &url,
                now: run.now,
                next_poll_at: run.next_poll_at,
                etag: run.validators.etag.as_deref(),
                last_modified: run.validators.last_modified.as_deref(),
                items: &items,
                signals: &signals,
                scoring: Some(crate::score::SCORING),
                backfill: run.backfill,
            },
            Some(&SuccessDetails {
                source: &source_id,
                now: run.now,
                body_hash: Some(&run.body_hash),
                validators: None,
                redirected_to: run.moved_to.as_deref(),
                recovered_from: run.recovered_from,
            }),
        );
        // The new mentions move to the alert engine: a run's report keeps only its counts.
        Ok(stats.map(|mut stats| {
            let findings = RunFindings {
                mentions: std::mem::take(&mut stats.new_mentions),
                rule_risk,
            };
            (stats, findings)
        }))
    });
    work.await
        .unwrap_or_else(|e| Err(format!("extraction did not finish: {e}")))
}

async fn fail(
    app: &App,
    source: &SourceConfig,
    failures_before: u32,
    now: DateTime<Utc>,
    error: String,
    retry_after: Option<RetryAfter>,
) -> SourceOutcome {
    let failures = failures_before.saturating_add(1);
    let mut next = next_poll(source, now, failures);
    // The server said when to come back: never earlier than that.
    if let Some(retry_after) = retry_after {
        next = next.max(retry_after.until(now));
    }
    warn!(error = %error, consecutive_failures = failures, next_poll = %next, "poll failed");
    if failures == app.config.daemon.failing_after.max(1) {
        warn!(
            consecutive_failures = failures,
            "source is now failing: it is listed by `veille sources` and reported in the next digest"
        );
    }
    let (id, url, message) = (source.id.clone(), shown_url(source), error.clone());
    match app
        .db(move |s| s.record_failure(&id, &url, now, &message, next))
        .await
    {
        Ok(consecutive_failures) => SourceOutcome::Failed {
            error,
            consecutive_failures,
        },
        Err(e) => store_failed(e),
    }
}

/// The item side of each match's score (the store adds the story side, `stored` is the
/// vocabulary of the stored score), and the risk terms each alert rule finds near it (when
/// `rules` is given), and what the watch's classifier (in `models`, when it has one) thinks
/// of it. Only items that matched are looked at.
fn item_signals(
    items: &[(Item, Vec<WatchMatch>)],
    stored: &RiskVocabulary,
    rules: Option<&Rules>,
    models: &Models,
    weight: f64,
    now: DateTime<Utc>,
) -> (Vec<Vec<Signals>>, RuleRisk) {
    let mut signals = Vec::with_capacity(items.len());
    let mut rule_risk = RuleRisk::new();
    for (item_index, (item, matches)) in items.iter().enumerate() {
        let text = ItemText {
            title: &item.title,
            body: &item.text,
        };
        let mut per_match = Vec::with_capacity(matches.len());
        for (match_index, found) in matches.iter().enumerate() {
            per_match.push(Signals {
                title_hit: found.hits.iter().any(|h| h.field == Field::Title),
                distinct_terms: found.terms().len(),
                source_weight: weight,
                outlets: 1,
                recent_outlets: 1,
                age_minutes: item.published.map(|p| (now - p).num_minutes().max(0)),
                risk: stored.near(text, &found.hits),
                learned: models
                    .get(&found.watch)
                    .map(|model| learned::probability(model, item)),
            });
            if let Some(rules) = rules.filter(|r| !r.is_empty()) {
                rule_risk.insert(
                    (item_index, match_index),
                    rules.risk_by_rule(&found.watch, text, &found.hits),
                );
            }
        }
        signals.push(per_match);
    }
    (signals, rule_risk)
}

fn store_failed(error: crate::store::StoreError) -> SourceOutcome {
    tracing::error!(error = %error, "cannot record the poll");
    SourceOutcome::Failed {
        error: error.to_string(),
        consecutive_failures: 0,
    }
}

/// The source's URL as logged and stored: without userinfo. The configuration refuses URLs
/// that carry one; a `SourceConfig` built in code is cleaned here too.
fn shown_url(source: &SourceConfig) -> String {
    credentials::without_userinfo(&source.url).to_string()
}

fn next_poll(source: &SourceConfig, now: DateTime<Utc>, failures: u32) -> DateTime<Utc> {
    let delay = backoff::next_delay(source.every, failures)
        + backoff::jitter(source.id.as_str(), source.every);
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(24))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_first_poll_or_one_after_a_long_outage_is_a_backfill() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 3, 12, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("a valid time"));
        let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
        let ago = |hours: i64| Some(now - chrono::Duration::hours(hours));
        let cases = [
            ("first poll", minutes(15), None, Backfill::All),
            ("usual poll", minutes(15), ago(1), Backfill::No),
            (
                "silent 6 h: not more than the outage",
                minutes(15),
                ago(6),
                Backfill::No,
            ),
            (
                "silent 7 h",
                minutes(15),
                ago(7),
                Backfill::PublishedBefore(now - chrono::Duration::minutes(15)),
            ),
            // A source polled every 4 h waits three intervals (12 h) before it counts as out.
            ("slow source, 7 h", minutes(240), ago(7), Backfill::No),
            (
                "slow source, 13 h",
                minutes(240),
                ago(13),
                Backfill::PublishedBefore(now - chrono::Duration::hours(4)),
            ),
        ];
        for (case, every, last, expected) in cases {
            assert_eq!(backfill(every, last, now), expected, "{case}");
        }
    }
}
