//! What to do now: poll due sources, queue due digests, deliver pending mail.
//!
//! Every decision is a question to the store ("which sources are due?", "when was this
//! digest last sent?", "which mails are pending?"), never a timer held in memory, so a
//! restart resumes exactly where the previous process stopped. `run --once` and the daemon
//! loop are both made of these three steps.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tracing::{info, warn};

use crate::app::{App, AppError};
use crate::digest;
use crate::model::{DigestId, SourceId};
use crate::notify::{self, Mailer};
use crate::pipeline::{self, SourceReport};
use crate::store::NewDigestRun;

/// How many source runs may be started (most of them waiting for a fetch slot, see
/// `fetch::politeness`); the fetch limits themselves are in the configuration.
pub const MAX_QUEUED_RUNS: usize = 4_096;

/// A digest window that was recorded, with its mail when it had mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDigest {
    pub digest: DigestId,
    pub mentions: usize,
    /// None when the window was empty (nothing to send) or already queued.
    pub outbox_id: Option<i64>,
}

/// One delivery attempt of an outbox mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub outbox_id: i64,
    pub key: String,
    pub subject: String,
    pub recipients: Vec<String>,
    /// The receipt (file path or server reply), or the error.
    pub result: Result<String, String>,
}

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
    let sources = poll_sources(app, &all).await;
    let digests = queue_due_digests(app).await?;
    let deliveries = deliver_pending(app).await?;
    Ok(RunSummary {
        sources,
        digests,
        deliveries,
    })
}

/// Polls the given sources concurrently, within the global and per-host fetch limits
/// (`daemon.max_concurrent_fetches`, `daemon.per_host_concurrency`). Gone sources are
/// skipped.
pub async fn poll_sources(app: &App, ids: &[SourceId]) -> Vec<SourceReport> {
    let moved: Vec<(SourceId, String)> = app
        .config
        .sources
        .iter()
        .map(|s| (s.id.clone(), s.url.to_string()))
        .collect();
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

/// Records every due digest's window and queues its mail (one transaction per digest).
pub async fn queue_due_digests(app: &App) -> Result<Vec<QueuedDigest>, AppError> {
    let now = app.clock.now();
    let sender = Mailer::sender(&app.config)?;
    let mut queued = Vec::new();
    for digest_config in &app.config.digests {
        let id = digest_config.id.clone();
        let last = app.db(move |s| s.last_digest_run(&id)).await?;
        if !digest::is_due(digest_config, last.as_ref(), now) {
            continue;
        }
        let watches: Vec<_> = app
            .config
            .watches_of_digest(&digest_config.id)
            .iter()
            .map(|w| w.id.clone())
            .collect();
        let after = last.map_or(0, |l| l.last_mention_id);
        let (up_to, mentions) = app
            .db(move |s| {
                let up_to = s.last_mention_id()?;
                Ok((up_to, s.mentions_between(&watches, after, up_to)?))
            })
            .await?;
        let built = digest::build(
            &app.config,
            digest_config,
            last.map(|l| l.window_end),
            now,
            mentions,
        );
        let mail = if built.is_empty() {
            None
        } else {
            let rendered = notify::render_digest(&built).map_err(notify::NotifyError::from)?;
            Some(notify::compose_digest(
                &built,
                &rendered,
                &sender,
                &digest_config.to,
                now,
            )?)
        };
        let count = built.total_mentions;
        let id = digest_config.id.clone();
        let window_start = built.window_start;
        let outbox_id = app
            .db(move |s| {
                s.queue_digest(NewDigestRun {
                    digest: &id,
                    window_start,
                    window_end: now,
                    last_mention_id: up_to,
                    mentions: count,
                    mail,
                })
            })
            .await?;
        info!(digest = %digest_config.id, mentions = count, queued = outbox_id.is_some(), "digest window closed");
        queued.push(QueuedDigest {
            digest: digest_config.id.clone(),
            mentions: count,
            outbox_id,
        });
    }
    Ok(queued)
}

/// Tries every pending mail whose next attempt is due; failures are kept for a later retry.
pub async fn deliver_pending(app: &App) -> Result<Vec<Delivery>, AppError> {
    let now = app.clock.now();
    let pending = app.db(move |s| s.pending_mails(now)).await?;
    let mut deliveries = Vec::new();
    for mail in pending {
        let result = app.mailer.deliver(&mail).await;
        let now = app.clock.now();
        let id = mail.id;
        match &result {
            Ok(receipt) => {
                info!(outbox_id = id, key = %mail.key, receipt = %receipt, "mail delivered");
                let receipt = receipt.clone();
                app.db(move |s| s.mark_sent(id, now, &receipt)).await?;
            }
            Err(error) => {
                let retry_at = now
                    + chrono::Duration::from_std(notify::retry_delay(mail.attempts))
                        .unwrap_or(chrono::Duration::hours(1));
                warn!(outbox_id = id, key = %mail.key, error = %error, retry_at = %retry_at, "mail not delivered; will retry");
                let message = error.to_string();
                app.db(move |s| s.mark_attempt_failed(id, &message, retry_at))
                    .await?;
            }
        }
        deliveries.push(Delivery {
            outbox_id: mail.id,
            key: mail.key,
            subject: mail.subject,
            recipients: mail.recipients,
            result: result.map_err(|e| e.to_string()),
        });
    }
    Ok(deliveries)
}

/// The earliest instant something will be due: a source poll (except those in `running`),
/// a digest (when `with_digests`), or a mail retry.
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
    let (polls, last_runs, mail) = app
        .db(move |s| {
            let polls = s.next_polls()?;
            let runs = digest_ids
                .iter()
                .map(|id| s.last_digest_run(id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((polls, runs, s.next_mail_attempt()?))
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
    Ok(source_times.chain(digest_times).chain(mail).min())
}
