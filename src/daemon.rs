//! The long-running daemon: a loop that asks the store what is due, runs it, and sleeps
//! until the next thing is due or a signal arrives.
//!
//! Sources run as independent tasks, within the global and per-host fetch limits (see
//! `fetch::politeness`), so a slow host never delays the others. On shutdown, scheduling stops at once and in-flight runs
//! get [`SHUTDOWN_GRACE`] to finish; a run cut short leaves nothing half-written because
//! each run is one transaction.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::app::App;
use crate::model::SourceId;
use crate::pipeline;
use crate::scheduler::{self, MAX_QUEUED_RUNS};

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
    let moved: Vec<(SourceId, String)> = app
        .config
        .sources
        .iter()
        .map(|s| (s.id.clone(), s.url.to_string()))
        .collect();
    match app.db(move |s| s.reset_moved_sources(&moved)).await {
        Ok(0) => {}
        Ok(n) => info!(sources = n, "sources whose URL changed are polled afresh"),
        Err(e) => error!(error = %e, "cannot reset sources whose URL changed"),
    }
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
            if in_flight.len() >= MAX_QUEUED_RUNS {
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
        if let Err(e) = scheduler::deliver_pending(&app).await {
            error!(error = %e, "cannot deliver pending mail");
            pause = ERROR_PAUSE;
        }
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
    info!("veille daemon stopped");
}
