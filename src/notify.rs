//! What goes out, and when: digest windows closed and their mails queued, and the outbox
//! delivered.
//!
//! A digest is prepared from the store (its window's mentions, the stories around them,
//! the sources in trouble), built by the pure `crate::digest`, rendered and composed by
//! `crate::mail`, and queued with its window in one transaction. Alert mails are queued by
//! `crate::alerting`. Whatever queued it, a mail leaves through [`deliver_pending`].
//!
//! # Delivery, and the window it cannot close
//! The sender ([`deliver_pending`]) sends one outbox mail, then records the
//! outcome before anything else: no await, log line, metric or other mail comes between the
//! server's answer and the write (`App::db_now`), and marks are never batched. (Not
//! covered: two processes delivering at the same moment, the daemon and `veille judge` say,
//! can both pick the same pending mail; nothing claims a row before sending it.)
//! What remains is the time from the server's "250 accepted" to that write reaching the WAL:
//! a few milliseconds, more when a group commit of source runs is open (it is committed
//! first, or a rolled-back batch would take the mark with it). A crash inside it (kill -9,
//! out of memory; with `synchronous = NORMAL`, a power cut can also undo the last commits)
//! leaves the mail pending, and the next start sends it again. The duplicate is the same
//! bytes, with the Message-ID fixed when the mail was queued, so clients that deduplicate
//! by Message-ID show it once and the others thread it with the first (a test in
//! `tests/it/e2e.rs` resends one). Marking before sending would turn the same crash into a
//! mail never sent: for an alert or a digest, a duplicate is the lesser harm. Closing the
//! window for good would take the server's help (no SMTP extension lets a client ask
//! "did you already take this one?").

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::app::{App, AppError};
use crate::config::{DigestConfig, EmptyPolicy};
use crate::digest::{self, Digest, DigestInput, SourceTrouble, Trouble};
use crate::mail::{self, Mailer};
use crate::model::{DigestId, SourceId, StoryId, WatchId};
use crate::store::{NewDigestRun, SourceHealth, SourceProblem, SourceRecovery};

/// A digest window that was recorded, with its mail when there was one to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDigest {
    pub digest: DigestId,
    pub mentions: usize,
    pub stories: usize,
    /// None when the window was empty and skipped, or this exact mail was queued before.
    pub outbox_id: Option<i64>,
    /// Stories left out to keep the mail under the size limit.
    pub cut_for_size: usize,
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

/// A digest built for its window, not recorded yet: what `digest preview` shows and what
/// queuing records.
#[derive(Debug, Clone)]
pub struct PreparedDigest {
    pub digest: Digest,
    /// The highest mention id in the window (the next window starts after it).
    pub up_to: i64,
}

/// Builds the next digest of `config`: everything since its previous window, up to now.
/// Reads the store; changes nothing.
pub async fn prepare_digest(
    app: &App,
    config: &DigestConfig,
    now: DateTime<Utc>,
) -> Result<PreparedDigest, AppError> {
    let id = config.id.clone();
    let watches: Vec<WatchId> = app
        .config
        .watches_of_digest(&config.id)
        .iter()
        .map(|w| w.id.clone())
        .collect();
    let with_trend = config.trend;
    let failing_after = app.config.daemon.failing_after;
    let (last, up_to, mentions, previous_counts, health, recovered, stories) = app
        .db(move |s| {
            let last = s.last_digest_run(&id)?;
            let after = last.map_or(0, |l| l.last_mention_id);
            let up_to = s.last_mention_id()?;
            let mentions = s.mentions_between(&watches, after, up_to)?;
            let previous = if with_trend {
                s.previous_window_counts(&id, &watches)?
            } else {
                None
            };
            let ids: Vec<StoryId> = mentions
                .iter()
                .map(|m| m.story)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let stories = s.stories_info(&ids)?;
            let health = s.sources_in_trouble(failing_after)?;
            let since = last.map_or(DateTime::<Utc>::MIN_UTC, |l| l.window_end);
            let recovered = s.sources_recovered_between(since, now)?;
            Ok((last, up_to, mentions, previous, health, recovered, stories))
        })
        .await?;
    let window_end = digest::window_end(last.as_ref(), now);
    let digest = digest::build(
        &app.config,
        config,
        DigestInput {
            window_start: last.map(|l| l.window_end),
            window_end,
            mentions,
            previous_counts,
            trouble: trouble_of(app, config, health, recovered),
            stories,
        },
    );
    let mut digest = digest;
    digest::add_snippets(&mut digest, &app.matcher);
    digest::add_links(&mut digest, app.config.web.as_ref(), app.clock.now());
    Ok(PreparedDigest { digest, up_to })
}

/// The footer of a digest: the sources its watches read that are failing, gone or moved,
/// then those that recovered during the window.
fn trouble_of(
    app: &App,
    config: &DigestConfig,
    health: Vec<SourceHealth>,
    recovered: Vec<SourceRecovery>,
) -> Vec<SourceTrouble> {
    let read: HashSet<&SourceId> = app
        .config
        .watches_of_digest(&config.id)
        .iter()
        .flat_map(|w| w.sources.iter())
        .collect();
    let problems = health
        .into_iter()
        .filter(|h| read.contains(&h.source))
        .map(|h| SourceTrouble {
            source: h.source,
            trouble: match h.problem {
                SourceProblem::Failing {
                    since,
                    consecutive_failures,
                    last_error,
                } => Trouble::Failing {
                    since,
                    failures: consecutive_failures,
                    last_error,
                },
                SourceProblem::Gone { since, .. } => Trouble::Gone { since },
                SourceProblem::Redirected { to } => Trouble::Redirected { to },
            },
        });
    let recoveries = recovered
        .into_iter()
        .filter(|r| read.contains(&r.source))
        .map(|r| SourceTrouble {
            source: r.source,
            trouble: Trouble::Recovered {
                failing_since: r.failing_since,
                failures: r.failures,
            },
        });
    problems.chain(recoveries).collect()
}

/// Records a prepared digest's window and queues its mail, in one transaction. An empty
/// window queues a mail only when the digest's policy is `empty = "send"`.
pub async fn queue_digest(
    app: &App,
    config: &DigestConfig,
    prepared: PreparedDigest,
) -> Result<QueuedDigest, AppError> {
    let PreparedDigest {
        digest: built,
        up_to,
    } = prepared;
    let sender = Mailer::sender(&app.config)?;
    let send = !built.is_empty() || config.empty == EmptyPolicy::Send;
    let mut cut_for_size = 0;
    let mail = if send {
        let rendered = mail::render_digest(&built).map_err(mail::MailError::from)?;
        cut_for_size = rendered.cut_for_size;
        Some(mail::compose_digest(
            &built,
            &rendered,
            &sender,
            &config.to,
            app.clock.now(),
        )?)
    } else {
        None
    };
    let mentions = built.totals.mentions;
    let id = config.id.clone();
    let (window_start, window_end) = (built.window_start, built.window_end);
    let outbox_id = app
        .db(move |s| {
            s.queue_digest(NewDigestRun {
                digest: &id,
                window_start,
                window_end,
                last_mention_id: up_to,
                mentions,
                mail,
            })
        })
        .await?;
    info!(digest = %config.id, mentions, stories = built.totals.stories, queued = outbox_id.is_some(), "digest window closed");
    if cut_for_size > 0 {
        warn!(digest = %config.id, left_out = cut_for_size, "digest shortened to stay under the mail size limit");
    }
    Ok(QueuedDigest {
        digest: config.id.clone(),
        mentions,
        stories: built.totals.stories,
        outbox_id,
        cut_for_size,
    })
}

/// Records every due digest's window and queues its mail (one transaction per digest).
pub async fn queue_due_digests(app: &App) -> Result<Vec<QueuedDigest>, AppError> {
    let now = app.clock.now();
    let mut queued = Vec::new();
    for config in &app.config.digests {
        let id = config.id.clone();
        let last = app.db(move |s| s.last_digest_run(&id)).await?;
        if !digest::is_due(config, last.as_ref(), now) {
            continue;
        }
        let prepared = prepare_digest(app, config, now).await?;
        queued.push(queue_digest(app, config, prepared).await?);
    }
    Ok(queued)
}

/// Tries every pending mail whose next attempt is due; failures are kept for a later retry.
pub async fn deliver_pending(app: &App) -> Result<Vec<Delivery>, AppError> {
    deliver_due_by(app, app.clock.now()).await
}

/// Tries every pending mail now, whatever its retry time: the daemon's first pass after a
/// start, since a restart often follows a fixed mail setup.
pub async fn deliver_all_pending(app: &App) -> Result<Vec<Delivery>, AppError> {
    deliver_due_by(app, DateTime::<Utc>::MAX_UTC).await
}

async fn deliver_due_by(app: &App, due_by: DateTime<Utc>) -> Result<Vec<Delivery>, AppError> {
    let pending = app.db(move |s| s.pending_mails(due_by)).await?;
    let mut deliveries = Vec::new();
    for mail in pending {
        let result = app.mailer.deliver(&mail).await;
        // From the server's answer to its record: no await, no log line, no other mail, only
        // the database write (see "Delivery" in `crate::mail`: a crash in between sends the
        // mail again). Logs and metrics come after.
        let now = app.clock.now();
        let id = mail.id;
        let retry_at = now
            + chrono::Duration::from_std(mail::retry_delay(mail.attempts))
                .unwrap_or(chrono::Duration::hours(1));
        let marked = match &result {
            Ok(receipt) => app.db_now(|s| s.mark_sent(id, now, receipt)),
            Err(error) if error.permanent => app.db_now(|s| s.mark_failed(id, &error.message)),
            Err(error) => app.db_now(|s| s.mark_attempt_failed(id, &error.message, retry_at)),
        };
        match &result {
            Ok(receipt) => {
                info!(outbox_id = id, key = %mail.key, receipt = %receipt, "mail delivered");
                // Outbox keys start with the kind: `digest:…`, `alert:…`.
                let kind = mail.key.split(':').next().unwrap_or("mail");
                app.metrics.record_mail_sent(kind);
            }
            Err(error) if error.permanent => {
                error!(outbox_id = id, key = %mail.key, error = %error, "mail refused for good; marked failed (see `veille outbox`)");
            }
            Err(error) => {
                warn!(outbox_id = id, key = %mail.key, error = %error, retry_at = %retry_at, "mail not delivered; will retry");
            }
        }
        marked?;
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
