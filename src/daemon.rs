//! The long-running daemon: a loop that asks the store what is due, runs it, and sleeps
//! until the next thing is due or a control message arrives.
//!
//! Sources run as independent tasks, within the global and per-host fetch limits (see
//! `fetch::politeness`), so a slow host never delays the others. Mail goes out from a separate sender task that reads the
//! outbox, so SMTP trouble never holds up polling.
//!
//! Control comes as messages ([`Control`]), which the binary maps from signals: SIGTERM and
//! SIGINT stop, SIGHUP reloads. On shutdown, scheduling stops at once and in-flight runs get
//! `daemon.shutdown_grace` (10 s by default) to finish; a run cut short leaves nothing half-written because each
//! run is one transaction. A reload re-reads the TOML: a valid file takes effect for every
//! run started after it (runs in flight finish with the configuration they started with);
//! an invalid one is logged error by error and the daemon keeps the configuration it has.
//!
//! Under systemd (`Type=notify`) the daemon says READY=1 once started, keeps a one-line
//! STATUS= up to date, and pings the watchdog from the loop itself, so a stuck loop is
//! noticed. Outside systemd these notifications are no-ops.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::app::App;
use crate::config;
use crate::model::SourceId;
use crate::notify;
use crate::pipeline;
use crate::scheduler::{self, MAX_QUEUED_RUNS};

/// The loop wakes at least this often, so a clock jump is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after the store itself failed, so a broken disk does not spin the loop.
const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// systemd's STATUS= line is refreshed at most this often (it counts rows in the database).
const STATUS_EVERY: Duration = Duration::from_secs(30);
/// The retention purge runs this long after start-up (not during the first poll burst),
/// then daily.
const FIRST_PURGE_AFTER: Duration = Duration::from_secs(5 * 60);
const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// A due digest waits for in-flight polls to finish (so it includes what they find), but
/// never longer than this.
pub const DIGEST_MAX_WAIT: Duration = Duration::from_secs(120);

/// What the daemon can be told while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration file (SIGHUP).
    Reload,
    /// Stop: finish in-flight work within the grace period, then return (SIGTERM, SIGINT).
    Shutdown,
}

/// Runs until told to shut down (or until every control sender is gone). `listener`, when
/// given, serves `/metrics` and `/healthz` (see [`crate::web`]).
///
/// One pass of the loop is a fixed sequence of named steps (see `Daemon`): purge when
/// due, start the due source runs, close the due digest windows, flush the alerts whose
/// throttle or quiet hours ended, report to systemd, then sleep until the next thing is
/// due, a run ends, or a control message arrives.
pub async fn run(
    app: App,
    mut control: mpsc::Receiver<Control>,
    listener: Option<tokio::net::TcpListener>,
) {
    let mut daemon = Daemon::start(app, listener).await;
    loop {
        daemon.purge_when_due();
        daemon.start_due_runs().await;
        let pause = daemon.close_due_digests().await;
        daemon.flush_alerts().await;
        daemon.report_to_systemd().await;
        let sleep_for = daemon.sleep_time(pause).await;
        if daemon.wait(&mut control, sleep_for).await == Woken::Stop {
            break;
        }
    }
    daemon.shut_down().await;
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woken {
    /// Something is due, a run ended, or the configuration was reloaded: go round again.
    Again,
    /// Shutdown was asked (or every control sender is gone).
    Stop,
}

/// The daemon's state between two passes of its loop.
struct Daemon {
    /// The current configuration and its handles; replaced whole by a reload.
    app: App,
    /// The sources of the current configuration (what `due_sources` may return).
    sources: Vec<SourceId>,
    /// Source runs in flight, and which source each task runs.
    in_flight: JoinSet<pipeline::SourceReport>,
    running: HashMap<tokio::task::Id, SourceId>,
    /// Since when due digests wait for in-flight polls (None: they do not wait).
    digests_held_since: Option<Instant>,
    /// Whether this pass holds the due digests back (set by `close_due_digests`).
    holding_digests: bool,
    /// Hands a reloaded app to the mail sender and the HTTP listener.
    current_app: watch::Sender<App>,
    stop_sender: watch::Sender<bool>,
    sender: tokio::task::JoinHandle<()>,
    web: Option<tokio::task::JoinHandle<()>>,
    watchdog: Option<Duration>,
    last_status: String,
    status_sent: Option<Instant>,
    next_purge: Instant,
}

impl Daemon {
    /// Starts the mail sender and the listener, resets sources whose URL changed, takes in
    /// the mentions a crash left for the alert rules, and tells systemd it is ready.
    async fn start(app: App, listener: Option<tokio::net::TcpListener>) -> Daemon {
        let (current_app, sender_app) = watch::channel(app.clone());
        let (stop_sender, sender_stopped) = watch::channel(false);
        let web = listener.map(|listener| {
            tokio::spawn(crate::web::serve(
                listener,
                current_app.subscribe(),
                sender_stopped.clone(),
            ))
        });
        let sender = tokio::spawn(sender_loop(
            sender_app,
            Arc::clone(&app.mail_queued),
            sender_stopped,
        ));
        scheduler::reset_moved_sources(&app).await;
        if let Err(e) = crate::alerting::recover(&app).await {
            error!(error = %e, "cannot take in the mentions a crash left for the alert rules");
        }
        info!(
            sources = app.config.sources.len(),
            watches = app.config.watches.len(),
            digests = app.config.digests.len(),
            "veille daemon started"
        );
        notify_systemd(&[sd_notify::NotifyState::Ready]);
        Daemon {
            sources: source_ids(&app),
            app,
            in_flight: JoinSet::new(),
            running: HashMap::new(),
            digests_held_since: None,
            holding_digests: false,
            current_app,
            stop_sender,
            sender,
            web,
            watchdog: sd_notify::watchdog_enabled(),
            last_status: String::new(),
            status_sent: None,
            next_purge: Instant::now() + FIRST_PURGE_AFTER,
        }
    }

    /// The retention purge, in its own task, after start-up and then daily.
    fn purge_when_due(&mut self) {
        if Instant::now() >= self.next_purge {
            self.next_purge = Instant::now() + PURGE_EVERY;
            tokio::spawn(purge(self.app.clone()));
        }
    }

    /// Starts a run for every due source that is not running yet (up to
    /// [`MAX_QUEUED_RUNS`]), after retraining the classifiers when judgments changed.
    async fn start_due_runs(&mut self) {
        let now = self.app.clock.now();
        let busy = self.busy();
        let ids = self.sources.clone();
        let due = match self.app.db(move |s| s.due_sources(&ids, now)).await {
            Ok(due) => due,
            Err(e) => {
                error!(error = %e, "cannot read which sources are due");
                Vec::new()
            }
        };
        // Verdicts given since the last pass (on the web pages, or by `veille judge`) teach
        // the classifiers before these polls score what they find.
        if !due.is_empty()
            && let Err(e) = crate::feedback::refresh_models(&self.app).await
        {
            warn!(error = %e, "cannot learn from the judgments; scoring without them");
        }
        for id in due.into_iter().filter(|id| !busy.contains(id)) {
            if self.in_flight.len() >= MAX_QUEUED_RUNS {
                break;
            }
            let Some(source) = self.app.config.source(&id).cloned() else {
                continue;
            };
            let task_app = self.app.clone();
            let handle = self
                .in_flight
                .spawn(async move { pipeline::run_source(&task_app, &source).await });
            self.running.insert(handle.id(), id);
        }
    }

    /// Closes the due digest windows and queues their mail, unless polls are in flight:
    /// then the digests wait (at most [`DIGEST_MAX_WAIT`]) so that a digest due now
    /// includes what the polls due now find (on start-up: the first poll of every source).
    /// Returns the pause to keep before the next pass (after a store failure).
    async fn close_due_digests(&mut self) -> Duration {
        self.holding_digests = !self.in_flight.is_empty()
            && self
                .digests_held_since
                .is_none_or(|since| since.elapsed() < DIGEST_MAX_WAIT);
        if self.holding_digests {
            self.digests_held_since.get_or_insert_with(Instant::now);
            return Duration::ZERO;
        }
        self.digests_held_since = None;
        match notify::queue_due_digests(&self.app).await {
            // A mail was queued: the sender looks at the outbox now.
            Ok(queued) => {
                if queued.iter().any(|q| q.outbox_id.is_some()) {
                    self.app.mail_queued.notify_one();
                }
                Duration::ZERO
            }
            Err(e) => {
                error!(error = %e, "cannot queue digests");
                ERROR_PAUSE
            }
        }
    }

    /// Throttled alerts whose window is over, and those held by quiet hours that ended.
    async fn flush_alerts(&self) {
        if let Err(e) = crate::alerting::flush_due(&self.app).await {
            error!(error = %e, "cannot send waiting alerts");
        }
    }

    /// systemd's STATUS= line (at most every [`STATUS_EVERY`]) and the watchdog ping.
    async fn report_to_systemd(&mut self) {
        if self
            .status_sent
            .is_none_or(|at| at.elapsed() >= STATUS_EVERY)
        {
            self.status_sent = Some(Instant::now());
            report_status(&self.app, &mut self.last_status).await;
        }
        if self.watchdog.is_some() {
            notify_systemd(&[sd_notify::NotifyState::Watchdog]);
        }
    }

    /// Until the next thing is due (a source not running, a digest unless held, a
    /// throttled alert), at most [`MAX_SLEEP`] and half the watchdog period, at least
    /// `pause`.
    async fn sleep_time(&self, pause: Duration) -> Duration {
        let busy = self.busy();
        let mut sleep_for =
            match scheduler::next_wake(&self.app, &busy, !self.holding_digests).await {
                Ok(Some(wake)) => (wake - self.app.clock.now())
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
        if let Some(period) = self.watchdog {
            sleep_for = sleep_for.min(period / 2);
        }
        sleep_for
    }

    /// Sleeps `sleep_for`, or less when a control message arrives or a run ends.
    async fn wait(&mut self, control: &mut mpsc::Receiver<Control>, sleep_for: Duration) -> Woken {
        tokio::select! {
            message = control.recv() => match message {
                Some(Control::Reload) => {
                    self.reload().await;
                    Woken::Again
                }
                Some(Control::Shutdown) | None => Woken::Stop,
            },
            Some(done) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                match done {
                    Ok((task, _report)) => {
                        self.running.remove(&task);
                    }
                    Err(e) => {
                        warn!(error = %e, "a source run ended abnormally");
                        self.running.remove(&e.id());
                    }
                }
                Woken::Again
            }
            () = tokio::time::sleep(sleep_for) => Woken::Again,
        }
    }

    /// Re-reads the configuration; a valid one replaces the app for every run started from
    /// now on, for the mail sender and for the listener.
    async fn reload(&mut self) {
        if let Some(reloaded) = reload(&self.app) {
            self.app = reloaded;
            self.sources = source_ids(&self.app);
            scheduler::reset_moved_sources(&self.app).await;
            let _ = self.current_app.send(self.app.clone());
        }
        notify_systemd(&[sd_notify::NotifyState::Ready]);
    }

    /// The sources with a run in flight.
    fn busy(&self) -> HashSet<SourceId> {
        self.running.values().cloned().collect()
    }

    /// Stops scheduling, gives in-flight runs `daemon.shutdown_grace` to finish (then
    /// aborts them: each run is one transaction, so nothing half-written is kept), stops
    /// the mail sender after the mail it is delivering, then the listener.
    async fn shut_down(mut self) {
        notify_systemd(&[sd_notify::NotifyState::Stopping]);
        info!(
            in_flight = self.in_flight.len(),
            "shutting down: waiting for in-flight polls"
        );
        let grace = self.app.config.daemon.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while self.in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                aborted = self.in_flight.len(),
                "in-flight polls did not finish in time: aborted (nothing half-written is kept)"
            );
            self.in_flight.abort_all();
            while self.in_flight.join_next().await.is_some() {}
        }
        // The sender finishes the mail it is delivering (a mail cut short stays pending and
        // is retried with the same Message-ID), then stops.
        let _ = self.stop_sender.send(true);
        if tokio::time::timeout(grace, self.sender).await.is_err() {
            warn!("the mail sender did not stop in time; pending mail stays in the outbox");
        }
        if let Some(web) = self.web
            && tokio::time::timeout(grace, web).await.is_err()
        {
            warn!("the HTTP listener did not stop in time");
        }
        info!("veille daemon stopped");
    }
}

/// Deletes what is older than `daemon.retention` (see [`crate::store::Store::purge`]).
async fn purge(app: App) {
    let Ok(retention) = chrono::Duration::from_std(app.config.daemon.retention) else {
        return;
    };
    let now = app.clock.now();
    let cutoff = now - retention;
    match app.db(move |s| s.purge(now, retention)).await {
        Ok(purged) => info!(
            items = purged.items,
            mentions = purged.mentions,
            mail_bodies = purged.mail_bodies,
            before = %cutoff,
            "retention purge done"
        ),
        Err(e) => error!(error = %e, "retention purge failed; it is tried again tomorrow"),
    }
}

fn source_ids(app: &App) -> Vec<SourceId> {
    app.config.sources.iter().map(|s| s.id.clone()).collect()
}

/// Re-reads the configuration file. Returns the new app, or None (after logging every
/// error) when the file is invalid or the new setup cannot be built.
fn reload(app: &App) -> Option<App> {
    let path = app.config.path.clone();
    info!(config = %path.display(), "reloading the configuration");
    // systemd (v253 and later) wants the monotonic time with RELOADING=1.
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => notify_systemd(&[sd_notify::NotifyState::Reloading, now]),
        Err(e) => warn!(error = %e, "cannot read the monotonic clock for systemd"),
    }
    let mut config = match config::load(&path) {
        Ok(config) => config,
        Err(errors) => {
            for e in errors.iter() {
                error!("{e}");
            }
            error!(
                errors = errors.len(),
                "configuration not reloaded: still running with the previous one"
            );
            return None;
        }
    };
    if config.daemon.listen != app.config.daemon.listen {
        warn!("daemon.listen changed: the HTTP listener moves at the next restart");
    }
    if config.daemon.database != app.config.daemon.database {
        warn!(
            old = %app.config.daemon.database.display(),
            new = %config.daemon.database.display(),
            "daemon.database changed: a reload keeps the open database; restart to switch"
        );
        config.daemon.database = app.config.daemon.database.clone();
    }
    for warning in config.warnings() {
        warn!("{warning}");
    }
    match app.reconfigured(config) {
        Ok(reloaded) => {
            info!(
                sources = reloaded.config.sources.len(),
                watches = reloaded.config.watches.len(),
                digests = reloaded.config.digests.len(),
                "configuration reloaded"
            );
            Some(reloaded)
        }
        Err(e) => {
            error!(error = %crate::error_chain(&e), "configuration not reloaded: still running with the previous one");
            None
        }
    }
}

/// Keeps systemd's one-line status current (sent only when it changes).
async fn report_status(app: &App, last: &mut String) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let sources = app.config.sources.len();
    let Ok(counts) = app.db(|s| s.counts()).await else {
        return;
    };
    let status = format!(
        "{sources} sources, {} failing; {} mails pending, {} failed",
        counts.sources_failing, counts.outbox_pending, counts.outbox_failed
    );
    if status != *last {
        notify_systemd(&[sd_notify::NotifyState::Status(&status)]);
        *last = status;
    }
}

/// Tells systemd, when run under it; silent otherwise.
fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "cannot notify systemd");
    }
}

/// Delivers the outbox: at once when told that mail was queued, otherwise when the next
/// retry is due. Runs apart from the polling loop, so a slow or unreachable SMTP server never
/// delays a poll or a digest. It always delivers with the latest configuration, and it is
/// the only task that delivers, so a reload never makes two senders race for one mail.
async fn sender_loop(
    mut app: watch::Receiver<App>,
    mail_queued: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut first_pass = true;
    loop {
        if *stop.borrow() {
            return;
        }
        let current = app.borrow_and_update().clone();
        let mut pause = None;
        let delivered = if std::mem::take(&mut first_pass) {
            notify::deliver_all_pending(&current).await
        } else {
            notify::deliver_pending(&current).await
        };
        if let Err(e) = delivered {
            error!(error = %e, "cannot deliver pending mail");
            pause = Some(ERROR_PAUSE);
        }
        let sleep_for = match pause {
            Some(pause) => pause,
            None => match current.db(|s| s.next_mail_attempt()).await {
                Ok(Some(next)) => (next - current.clock.now())
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
            _ = app.changed() => {}
            () = mail_queued.notified() => {}
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
}
