//! `veille run`: the daemon, or one pass with `--once`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use veille::App;
use veille::clock::SystemClock;
use veille::daemon::{self, Control};
use veille::isolation::Extractor;
use veille::model::WatchId;
use veille::pipeline::SourceOutcome;
use veille::scheduler::{self, RunSummary};

use super::{CliError, load_config, runtime};

pub fn run(config_path: &Path, once: bool) -> Result<(), CliError> {
    let config = load_config(config_path)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let rt = runtime()?;
    // The SMTP connection pool starts a task when it is built: build the app inside the
    // runtime.
    let _inside = rt.enter();
    let files = config.smtp.is_none();
    let app = App::new(config, Arc::new(SystemClock))?;
    // Documents are parsed in parser processes: none can take this one down.
    let app = App {
        extractor: Extractor::workers(),
        ..app
    };
    if once {
        let summary = rt.block_on(scheduler::run_once(&app))?;
        print!("{}", format_summary(&summary, files));
        return Ok(());
    }
    let pid_file = super::reload::pid_file(&app.config);
    if let Err(e) = write_pid_file(&pid_file) {
        tracing::warn!(path = %pid_file.display(), error = %e, "cannot write the pid file; `veille reload` will not find this daemon (SIGHUP still works)");
    }
    let listener = match app.config.daemon.listen {
        None => None,
        Some(addr) => {
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(addr))
                .map_err(|e| CliError::io(format!("cannot listen on {addr} (daemon.listen)"), e))?;
            tracing::info!(%addr, "serving /metrics and /healthz");
            Some(listener)
        }
    };
    let (control, receiver) = tokio::sync::mpsc::channel(4);
    rt.spawn(forward_signals(control));
    rt.block_on(daemon::run(app, receiver, listener));
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

/// Writes this process's id to `path`, mode 0600 (also when an older file was looser).
fn write_pid_file(path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{}", std::process::id())
}

/// Turns signals into daemon control messages: SIGTERM and Ctrl-C (SIGINT) stop, SIGHUP
/// reloads the configuration.
async fn forward_signals(control: tokio::sync::mpsc::Sender<Control>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(term), Ok(hup)) => (term, hup),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot listen for signals; stop the daemon with SIGKILL");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM received");
                Control::Shutdown
            }
            result = tokio::signal::ctrl_c() => {
                if let Err(e) = result {
                    tracing::error!(error = %e, "cannot listen for Ctrl-C");
                    std::future::pending::<()>().await;
                }
                tracing::info!("Ctrl-C received");
                Control::Shutdown
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP received");
                Control::Reload
            }
        };
        if control.send(message).await.is_err() || message == Control::Shutdown {
            return;
        }
    }
}

/// The short report printed by `run --once`.
fn format_summary(summary: &RunSummary, files: bool) -> String {
    let mut out = String::new();
    let (mut ok, mut unchanged, mut failed, mut new, mut seen) = (0, 0, 0, 0, 0);
    let mut mentions: BTreeMap<&WatchId, usize> = BTreeMap::new();
    for report in &summary.sources {
        match &report.outcome {
            SourceOutcome::Updated(stats) => {
                ok += 1;
                new += stats.items_new;
                seen += stats.items_seen;
                for (watch, n) in &stats.mentions {
                    *mentions.entry(watch).or_default() += n;
                }
            }
            SourceOutcome::NotModified => unchanged += 1,
            SourceOutcome::Failed { .. } => failed += 1,
        }
    }
    let _ = writeln!(
        out,
        "sources: {} polled ({ok} ok, {unchanged} unchanged, {failed} failed); items: {new} new, {seen} already seen",
        summary.sources.len()
    );
    let mut reports: Vec<_> = summary.sources.iter().collect();
    reports.sort_by(|a, b| a.source.cmp(&b.source));
    for report in reports {
        let line = match &report.outcome {
            SourceOutcome::Updated(stats) => format!(
                "{} new, {} seen, {} new mention(s)",
                stats.items_new,
                stats.items_seen,
                stats.mentions.values().sum::<usize>()
            ),
            SourceOutcome::NotModified => "unchanged".to_string(),
            SourceOutcome::Failed {
                error,
                consecutive_failures,
            } => {
                format!("FAILED ({consecutive_failures} in a row): {error}")
            }
        };
        let _ = writeln!(out, "  {:<20} {line}", report.source.as_str());
    }
    if mentions.is_empty() {
        let _ = writeln!(out, "mentions: no new mention");
    } else {
        let list: Vec<String> = mentions.iter().map(|(w, n)| format!("{w} {n}")).collect();
        let _ = writeln!(out, "mentions: {}", list.join(", "));
    }
    for digest in &summary.digests {
        if digest.outbox_id.is_none() {
            let _ = writeln!(
                out,
                "digest {:?}: window closed with nothing new, no mail",
                digest.digest.as_str()
            );
        }
    }
    let delivered: Vec<_> = summary
        .deliveries
        .iter()
        .filter(|d| d.result.is_ok())
        .collect();
    let verb = if files { "written" } else { "sent" };
    let _ = writeln!(out, "mails: {} {verb}", delivered.len());
    for delivery in &summary.deliveries {
        match &delivery.result {
            Ok(receipt) => {
                let _ = writeln!(
                    out,
                    "  {receipt}  ({:?} to {})",
                    delivery.subject,
                    delivery.recipients.join(", ")
                );
            }
            Err(error) => {
                let _ = writeln!(
                    out,
                    "  NOT DELIVERED, will retry: {:?}: {error}",
                    delivery.subject
                );
            }
        }
    }
    out
}
