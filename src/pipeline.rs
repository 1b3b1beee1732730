//! One source run, top to bottom: fetch → extract → match → store.
//!
//! A failure at any step is recorded on the source (error text, consecutive failures, next
//! attempt with backoff) and returned as data; it never stops the other sources.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::app::App;
use crate::config::SourceConfig;
use crate::extract;
use crate::fetch::{FetchOutcome, Fetched, Validators, backoff};
use crate::matching::ItemText;
use crate::metrics::PollOutcome;
use crate::model::{Item, SourceId, WatchId, WatchMatch};
use crate::store::{FetchedRun, RunStats};

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
    let span = info_span!("source", source = %source.id, url = %source.url);
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
    let fetched = app.fetcher.fetch(&source.url, &previous).await;
    let now = app.clock.now();
    match fetched {
        FetchOutcome::NotModified => {
            debug!("not modified");
            let (id, url, next) = (
                source.id.clone(),
                source.url.to_string(),
                next_poll(source, now, 0),
            );
            match app
                .db(move |s| s.record_not_modified(&id, &url, now, next))
                .await
            {
                Ok(()) => SourceOutcome::NotModified,
                Err(e) => store_failed(e),
            }
        }
        FetchOutcome::Failed(error) => {
            fail(
                app,
                source,
                state.consecutive_failures,
                now,
                error.to_string(),
            )
            .await
        }
        FetchOutcome::Fetched(Fetched {
            body,
            final_url,
            validators,
            ..
        }) => match extract_and_match(app, source, body, final_url.to_string()).await {
            Err(error) => fail(app, source, state.consecutive_failures, now, error).await,
            Ok(items) => {
                let source_id = source.id.clone();
                let url = source.url.to_string();
                let next = next_poll(source, now, 0);
                let recorded = app
                    .db(move |s| {
                        s.record_fetched(&FetchedRun {
                            source: &source_id,
                            url: &url,
                            now,
                            next_poll_at: next,
                            etag: validators.etag.as_deref(),
                            last_modified: validators.last_modified.as_deref(),
                            items: &items,
                        })
                    })
                    .await;
                match recorded {
                    Ok(stats) => {
                        info!(
                            new = stats.items_new,
                            seen = stats.items_seen,
                            mentions = stats.mentions.values().sum::<usize>(),
                            "polled"
                        );
                        SourceOutcome::Updated(stats)
                    }
                    Err(e) => store_failed(e),
                }
            }
        },
    }
}

/// Parses the document and matches every item against the watches that read this source.
async fn extract_and_match(
    app: &App,
    source: &SourceConfig,
    body: Vec<u8>,
    base: String,
) -> Result<Vec<(Item, Vec<WatchMatch>)>, String> {
    let source_id = source.id.clone();
    let matcher = app.matcher.clone();
    let reads_this_source: HashSet<WatchId> = app
        .config
        .watches
        .iter()
        .filter(|w| w.sources.contains(&source.id))
        .map(|w| w.id.clone())
        .collect();
    // Parsing and matching are CPU work: keep them off the async threads.
    let work = tokio::task::spawn_blocking(move || {
        let items = extract::feed(&source_id, &body, Some(&base)).map_err(|e| e.to_string())?;
        Ok(items
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
            .collect())
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
) -> SourceOutcome {
    let failures = failures_before.saturating_add(1);
    let next = next_poll(source, now, failures);
    warn!(error = %error, consecutive_failures = failures, next_poll = %next, "poll failed");
    let (id, url, message) = (source.id.clone(), source.url.to_string(), error.clone());
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

fn store_failed(error: crate::store::StoreError) -> SourceOutcome {
    tracing::error!(error = %error, "cannot record the poll");
    SourceOutcome::Failed {
        error: error.to_string(),
        consecutive_failures: 0,
    }
}

fn next_poll(source: &SourceConfig, now: DateTime<Utc>, failures: u32) -> DateTime<Utc> {
    let delay = backoff::next_delay(source.every, failures);
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(24))
}
