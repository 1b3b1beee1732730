//! `veille run`: the daemon, or one pass with `--once`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use veille::clock::SystemClock;
use veille::model::WatchId;
use veille::notify::Mailer;
use veille::pipeline::SourceOutcome;
use veille::scheduler::{self, RunSummary};
use veille::{App, daemon};

use super::{EXIT_FAILURE, load_config, runtime};

pub fn run(config_path: &Path, once: bool) -> u8 {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let files = matches!(Mailer::from_config(&config), Ok(Mailer::Files { .. }));
    let app = match App::new(config, Arc::new(SystemClock)) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {}", veille::error_chain(&e));
            return EXIT_FAILURE;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if once {
        match rt.block_on(scheduler::run_once(&app)) {
            Ok(summary) => {
                print!("{}", format_summary(&summary, files));
                0
            }
            Err(e) => {
                eprintln!("error: {}", veille::error_chain(&e));
                EXIT_FAILURE
            }
        }
    } else {
        rt.block_on(daemon::run(app, shutdown_signal()));
        0
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
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
