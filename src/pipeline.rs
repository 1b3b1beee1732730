//! One source run, top to bottom: fetch → extract → match → store.
//!
//! A successful poll is one `store::RunRecord`: the source's new state and health, and,
//! when the document was parsed, each item with its candidate mentions (the item side of
//! their signals, the risk terms each alert rule finds near them). The store writes it in
//! one transaction and scores the new mentions with the scoring handed to it
//! (`score::SCORING`) once their story is known; the new mentions then go to the alert
//! rules (`alerting::after_run`).
//!
//! A fetch or parse failure is recorded on the source (error text, consecutive failures,
//! next attempt with backoff) and returned as data; a database failure (`RunError::Store`)
//! is logged, and the source, whose run was rolled back, stays due. Neither stops the other
//! sources.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::alert::Rules;
use crate::alerting;
use crate::app::App;
use crate::config::SourceConfig;
use crate::extract::select::PageSelect;
use crate::fetch::politeness::RetryAfter;
use crate::fetch::{FetchError, FetchOutcome, Fetched, Validators, backoff, credentials};
use crate::isolation::Document;
use crate::judge::learned::{self, Models};
use crate::matching::{ItemMeta, ItemText};
use crate::metrics::PollOutcome;
use crate::model::{Field, Item, Signals, SourceId, WatchId, WatchMatch};
use crate::score::{self, risk::RiskVocabulary};
use crate::store::{
    Backfill, Candidate, Matched, NewMention, Parsed, RunRecord, RunStats, StoreError, body_hash,
};

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
    // What every successful poll records; a parsed document adds its items.
    let success = |validators, body_hash, redirected_to| RunRecord {
        source: source.id.clone(),
        url: shown_url(source),
        now,
        next_poll_at: next_poll(source, now, 0),
        validators,
        body_hash,
        redirected_to,
        recovered_from,
        parsed: None,
    };
    match fetched {
        FetchOutcome::NotModified { moved_to } => {
            debug!("not modified");
            unchanged(app, success(None, None, moved_to.map(|u| u.to_string()))).await
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
                return unchanged(app, success(Some(validators), None, moved_to)).await;
            }
            let record = success(Some(validators), Some(hash), moved_to);
            let backfill = backfill(source.every, state.last_success_at, now);
            let document = Document {
                kind: source.kind,
                content_type,
                base: final_url.to_string(),
                select: source.select.as_ref().map(PageSelect::texts),
                body,
            };
            match extract_match_store(app, source, document, record, backfill).await {
                Err(RunError::Store(e)) => store_failed(e),
                Err(error) => {
                    let error = error.to_string();
                    fail(app, source, state.consecutive_failures, now, error, None).await
                }
                Ok((stats, mentions)) => {
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
                    if let Err(e) = Box::pin(alerting::after_run(app, mentions)).await {
                        tracing::error!(error = %crate::error_chain(&e), "cannot process alerts for this poll");
                    }
                    SourceOutcome::Updated(stats)
                }
            }
        }
    }
}

/// Records a poll that found nothing new (a 304, or a 200 with the same body).
async fn unchanged(app: &App, record: RunRecord) -> SourceOutcome {
    match app.db(move |s| s.record_run(&record)).await {
        Ok(_) => SourceOutcome::NotModified,
        Err(e) => store_failed(e),
    }
}

/// A source silent (failing, or veille stopped) for longer than this, and at least three
/// of its polling intervals, comes back as a backfill (see `backfill`).
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

/// Why a parsed run was not recorded.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The document could not be parsed: a failure of the source, recorded on it.
    #[error("{0}")]
    Extract(String),
    /// Matching or storing stopped half-way (a panic on the blocking pool): recorded on the
    /// source like a parse failure.
    #[error("extraction did not finish: {0}")]
    Unfinished(String),
    /// The database failed: nothing of the run is stored (see `store`), logged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses the document (in a parser process under the daemon, see `crate::isolation`),
/// then matches every item against the watches that read this source and records the run
/// (`record` with the items), in one hop to the blocking pool. Returns what the run changed
/// and its new mentions.
async fn extract_match_store(
    app: &App,
    source: &SourceConfig,
    document: Document,
    mut record: RunRecord,
    backfill: Backfill,
) -> Result<(RunStats, Vec<NewMention>), RunError> {
    let items = app
        .extractor
        .extract(&source.id, document)
        .await
        .map_err(RunError::Extract)?;
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
    let tags = source.tags.clone();
    let work = tokio::task::spawn_blocking(move || {
        // A first poll is all backfill: no rule will look at its mentions.
        let rules = (backfill != Backfill::All).then_some(&*alerting);
        let now = record.now;
        let items = items
            .into_iter()
            .map(|item| {
                let text = ItemText {
                    title: &item.title,
                    body: &item.text,
                };
                let mut matches = matcher.match_item(text, &ItemMeta::of(&item, &tags));
                matches.retain(|m| reads_this_source.contains(&m.watch));
                let candidates = matches
                    .into_iter()
                    .map(|found| {
                        candidate(&item, found, &alerting.stored, rules, &models, weight, now)
                    })
                    .collect();
                Matched { item, candidates }
            })
            .collect();
        record.parsed = Some(Parsed {
            items,
            backfill,
            scoring: Some(score::SCORING),
        });
        let mut stats = store.record_run(&record)?;
        // The new mentions move to the alert engine: a run's report keeps only its counts.
        let mentions = std::mem::take(&mut stats.new_mentions);
        Ok((stats, mentions))
    });
    work.await
        .unwrap_or_else(|e| Err(RunError::Unfinished(e.to_string())))
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

/// A match of `item` as the store takes it: the item side of its score (`stored` is the
/// vocabulary of the stored score; the store adds the story side), with what the watch's
/// classifier (in `models`, when it has one) thinks of it, and the risk terms each alert
/// rule finds near it (when `rules` is given).
fn candidate(
    item: &Item,
    found: WatchMatch,
    stored: &RiskVocabulary,
    rules: Option<&Rules>,
    models: &Models,
    weight: f64,
    now: DateTime<Utc>,
) -> Candidate {
    let text = ItemText {
        title: &item.title,
        body: &item.text,
    };
    let signals = Signals {
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
    };
    let rule_risk = match rules.filter(|r| !r.is_empty()) {
        Some(rules) => rules.risk_by_rule(&found.watch, text, &found.hits),
        None => Vec::new(),
    };
    Candidate {
        found,
        signals,
        rule_risk,
    }
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
