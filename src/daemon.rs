//! The long-running daemon: a loop that asks the store what is due, runs it, and sleeps
//! until the next thing is due or a signal arrives.
//!
//! Sources run as independent tasks (at most [`MAX_CONCURRENT_FETCHES`] at once), so a slow
//! host never delays the others. On shutdown, scheduling stops at once and in-flight runs
//! get [`SHUTDOWN_GRACE`] to finish; a run cut short leaves nothing half-written because
//! each run is one transaction. Mail goes out from a separate sender task that reads the
//! outbox, so SMTP trouble never holds up polling.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::app::App;
use crate::model::SourceId;
use crate::pipeline;
use crate::scheduler::{self, MAX_CONCURRENT_FETCHES};

/// How long in-flight source runs may take to finish after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The loop wakes at least this often, so a clock jump is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after the store itself failed, so a broken disk does not spin the loop.
const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// A due digest waits for in-flight polls to finish (so it includes what they find), but
/// never longer than this.
pub const DIGEST_MAX_WAIT: Duration = Duration::from_secs(120);

/// Runs until `shutdown` completes.
pub async fn run(app: App, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let configured: Vec<SourceId> = app.config.sources.iter().map(|s| s.id.clone()).collect();
    let mut in_flight: JoinSet<pipeline::SourceReport> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, SourceId> = HashMap::new();
    let mut held_since: Option<Instant> = None;
    let mail_queued = Arc::new(Notify::new());
    let (stop_sender, sender_stopped) = watch::channel(false);
    let sender = tokio::spawn(sender_loop(
        app.clone(),
        mail_queued.clone(),
        sender_stopped,
    ));
    info!(
        sources = app.config.sources.len(),
        watches = app.config.watches.len(),
        digests = app.config.digests.len(),
        "veille daemon started"
    );
    loop {
        let now = app.clock.now();
        let busy: HashSet<SourceId> = running.values().cloned().collect();
        let ids = configured.clone();
        let due = match app.db(move |s| s.due_sources(&ids, now)).await {
            Ok(due) => due,
            Err(e) => {
                error!(error = %e, "cannot read which sources are due");
                Vec::new()
            }
        };
        for id in due.into_iter().filter(|id| !busy.contains(id)) {
            if in_flight.len() >= MAX_CONCURRENT_FETCHES {
                break;
            }
            let Some(source) = app.config.source(&id).cloned() else {
                continue;
            };
            let task_app = app.clone();
            let handle =
                in_flight.spawn(async move { pipeline::run_source(&task_app, &source).await });
            running.insert(handle.id(), id);
        }
        let mut pause = Duration::ZERO;
        // Close digest windows only when no poll is in flight, so a digest due now includes
        // what the polls due now find (on start-up: the first poll of every source).
        let hold_digests = !in_flight.is_empty()
            && held_since.is_none_or(|since| since.elapsed() < DIGEST_MAX_WAIT);
        if hold_digests {
            held_since.get_or_insert_with(Instant::now);
        } else {
            held_since = None;
            if let Err(e) = scheduler::queue_due_digests(&app).await {
                error!(error = %e, "cannot queue digests");
                pause = ERROR_PAUSE;
            }
        }
        // Whatever was queued, the sender looks at the outbox now.
        mail_queued.notify_one();
        let busy: HashSet<SourceId> = running.values().cloned().collect();
        let sleep_for = match scheduler::next_wake(&app, &busy, !hold_digests).await {
            Ok(Some(wake)) => (wake - app.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                error!(error = %e, "cannot compute the next wake-up");
                ERROR_PAUSE
            }
        }
        .max(pause);
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                match done {
                    Ok((task, _report)) => { running.remove(&task); }
                    Err(e) => {
                        warn!(error = %e, "a source run ended abnormally");
                        running.remove(&e.id());
                    }
                }
            }
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
    info!(
        in_flight = in_flight.len(),
        "shutting down: waiting for in-flight polls"
    );
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            aborted = in_flight.len(),
            "in-flight polls did not finish in time: aborted (nothing half-written is kept)"
        );
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
    }
    // The sender finishes the mail it is delivering (a mail cut short stays pending and is
    // retried with the same Message-ID), then stops.
    let _ = stop_sender.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, sender).await.is_err() {
        warn!("the mail sender did not stop in time; pending mail stays in the outbox");
    }
    info!("veille daemon stopped");
}

/// Delivers the outbox: at once when told that mail was queued, otherwise when the next
/// retry is due. Runs apart from the polling loop, so a slow or unreachable SMTP server never
/// delays a poll or a digest.
async fn sender_loop(app: App, mail_queued: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut first_pass = true;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut pause = None;
        let delivered = if std::mem::take(&mut first_pass) {
            scheduler::deliver_all_pending(&app).await
        } else {
            scheduler::deliver_pending(&app).await
        };
        if let Err(e) = delivered {
            error!(error = %e, "cannot deliver pending mail");
            pause = Some(ERROR_PAUSE);
        }
        let sleep_for = match pause {
            Some(pause) => pause,
            None => match app.db(|s| s.next_mail_attempt()).await {
                Ok(Some(next)) => (next - app.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP),
                Ok(None) => MAX_SLEEP,
                Err(e) => {
                    error!(error = %e, "cannot read the next mail attempt");
                    ERROR_PAUSE
                }
            },
        };
        tokio::select! {
            _ = stop.changed() => return,
            () = mail_queued.notified() => {}
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
}
