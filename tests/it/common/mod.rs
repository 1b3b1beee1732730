//! What the integration tests share: real servers on 127.0.0.1 (`servers`), the feeds they
//! serve (`feed`), the configuration files that point veille at them (`config`), and the
//! few steps every in-process test takes (an [`App`] from a config file, one source's
//! outcome in a run).

mod config;
mod feed;
mod servers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veille::App;
use veille::clock::Clock;
use veille::pipeline::SourceOutcome;
use veille::scheduler::RunSummary;

pub use config::{copy_demo, daemon_table, smtp_table, source_table, write_config};
pub use feed::{RssItem, rss};
pub use servers::{HttpServer, ReceivedMail, Response, SmtpSink};

/// The app a daemon would build from the config file at `path`, on `clock`.
pub fn app(path: &Path, clock: Arc<dyn Clock>) -> App {
    let config = veille::config::load(path).expect("the test's config file loads");
    App::new(config, clock).expect("the app starts")
}

/// What the run did to source `id`.
pub fn outcome(summary: &RunSummary, id: &str) -> SourceOutcome {
    summary
        .sources
        .iter()
        .find(|r| r.source.as_str() == id)
        .map(|r| r.outcome.clone())
        .unwrap_or_else(|| panic!("no report for source {id}"))
}

/// Why source `id` failed in the run (and a panic if it did not).
pub fn error_of(summary: &RunSummary, id: &str) -> String {
    match outcome(summary, id) {
        SourceOutcome::Failed { error, .. } => error,
        other => panic!("{id}: expected a failure, got {other:?}"),
    }
}

/// The shared corpus folder, next to the crate (read-only in CI).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// The `veille` binary built with the tests, with none of the caller's settings
/// (`VEILLE_CONFIG`, `RUST_LOG`, the SMTP password) in its environment.
pub fn veille() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("veille").expect("the veille binary");
    cmd.env_remove("VEILLE_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("VEILLE_SMTP_PASSWORD");
    cmd
}

/// Runs `command` (a [`veille`] with its arguments) and returns its output, failing the
/// test with the command's standard error when it does not succeed.
pub fn succeeds(command: &mut assert_cmd::Command) -> std::process::Output {
    let output = command.output().expect("run veille");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
