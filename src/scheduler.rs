//! What to do now: poll due sources, queue due digests, deliver pending mail.
//!
//! Every decision is a question to the store ("which sources are due?", "when was this
//! digest last sent?", "which mails are pending?"), never a timer held in memory, so a
//! restart resumes exactly where the previous process stopped. `run --once` and the daemon
//! loop are both made of these three steps.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::collections::HashSet;

use tracing::{error, info, warn};

use crate::app::{App, AppError};
use crate::digest;
use crate::model::{DigestId, SourceId};
use crate::notify::{self, Delivery, QueuedDigest};
use crate::pipeline::{self, SourceReport};

/// How many source runs may be started (most of them waiting for a fetch slot, see
/// `fetch::politeness`); the fetch limits themselves are in the configuration.
pub const MAX_QUEUED_RUNS: usize = 4_096;

/// What `run --once` did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub sources: Vec<SourceReport>,
    pub digests: Vec<QueuedDigest>,
    pub deliveries: Vec<Delivery>,
}

/// Polls every source once, then queues the due digests, then delivers pending mail.
pub async fn run_once(app: &App) -> Result<RunSummary, AppError> {
    let all: Vec<SourceId> = app.config.sources.iter().map(|s| s.id.clone()).collect();
    crate::alerting::recover(app).await?;
    crate::feedback::refresh_models(app).await?;
    let sources = poll_sources(app, &all).await;
    crate::alerting::flush_due(app).await?;
    let digests = notify::queue_due_digests(app).await?;
    let deliveries = notify::deliver_pending(app).await?;
    Ok(RunSummary {
        sources,
        digests,
        deliveries,
    })
}

/// Every configured source with its URL, for [`crate::store::Store::reset_moved_sources`].
fn configured_urls(app: &App) -> Vec<(SourceId, String)> {
    app.config
        .sources
        .iter()
        .map(|s| (s.id.clone(), s.url.to_string()))
        .collect()
}

/// A source whose URL changed in the TOML (an admin following a redirect, or replacing a
/// gone feed) starts afresh: no failure streak, polled at once. The daemon calls this at
/// start and after each reload; `poll_sources` does it in the same database call.
pub async fn reset_moved_sources(app: &App) {
    let moved = configured_urls(app);
    match app.db(move |s| s.reset_moved_sources(&moved)).await {
        Ok(0) => {}
        Ok(n) => info!(sources = n, "sources whose URL changed are polled afresh"),
        Err(e) => error!(error = %e, "cannot reset sources whose URL changed"),
    }
}

/// Polls the given sources concurrently, within the global and per-host fetch limits
/// (`daemon.max_concurrent_fetches`, `daemon.per_host_concurrency`). Gone sources are
/// skipped.
pub async fn poll_sources(app: &App, ids: &[SourceId]) -> Vec<SourceReport> {
    let moved = configured_urls(app);
    let wanted = ids.to_vec();
    // Every source is polled, whatever its schedule, except gone ones (polled "never").
    let horizon = app.clock.now() + chrono::Duration::days(365 * 1_000);
    let due = app
        .db(move |s| {
            s.reset_moved_sources(&moved)?;
            s.due_sources(&wanted, horizon)
        })
        .await
        .unwrap_or_else(|e| {
            warn!(error = %e, "cannot read which sources are gone; polling them all");
            ids.to_vec()
        });
    let sources: Vec<_> = due.iter().filter_map(|id| app.config.source(id)).collect();
    futures_util::stream::iter(sources)
        .map(|source| pipeline::run_source(app, source))
        .buffer_unordered(MAX_QUEUED_RUNS)
        .collect()
        .await
}

/// The earliest instant something will be due: a source poll (except those in `running`),
/// a digest (when `with_digests`) or a throttled alert. Mail has its own sender task.
pub async fn next_wake(
    app: &App,
    running: &HashSet<SourceId>,
    with_digests: bool,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let now = app.clock.now();
    let configured: Vec<SourceId> = app
        .config
        .sources
        .iter()
        .map(|s| s.id.clone())
        .filter(|id| !running.contains(id))
        .collect();
    let digest_ids: Vec<DigestId> = app.config.digests.iter().map(|d| d.id.clone()).collect();
    let (polls, last_runs) = app
        .db(move |s| {
            let polls = s.next_polls()?;
            let runs = digest_ids
                .iter()
                .map(|id| s.last_digest_run(id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((polls, runs))
        })
        .await?;
    let source_times = configured
        .iter()
        .map(|id| polls.get(id).copied().unwrap_or(now));
    let digest_times = app
        .config
        .digests
        .iter()
        .zip(last_runs.iter())
        .filter(|_| with_digests)
        .filter_map(|(d, last)| digest::next_due(d, last.as_ref(), now));
    let alert_time = crate::alerting::next_flush(app).await?;
    Ok(source_times.chain(digest_times).chain(alert_time).min())
}
