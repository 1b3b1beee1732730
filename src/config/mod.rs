//! The admin's interface: one TOML file → a validated [`Config`].
//!
//! Loading happens in two steps, as in ripgrep's low/high-level arguments: the file is read
//! into `raw` serde types that keep every value's position, then `validate` turns them into
//! the typed configuration the daemon runs on (durations parsed, addresses checked, queries
//! compiled, references resolved, relative paths anchored at the config file's folder).
//! Each `[[section]]` entry is deserialized on its own and every validation step records its
//! problem and goes on, so `veille check` lists every error in one go, each with
//! file:line:column and the key.
//!
//! Files: `raw` (the serde types), `read` (TOML → raw sections), `validate` (raw → typed,
//! one file per section), `types` (the validated configuration and its warnings),
//! `defaults` (here: every default, some re-exported from the stage that owns it).

mod duration;
mod error;
mod include;
pub mod opml;
pub mod presets;
mod raw;
mod read;
mod types;
mod validate;

pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, ConfigErrors};
pub use types::{
    AlertConfig, Config, ConfigFile, DaemonConfig, DigestConfig, EmptyPolicy, QuietHours,
    SmtpConfig, SmtpSecurity, SourceConfig, SourceSet, SpikeRule, WatchConfig, WebConfig,
    secret_file_warning,
};

use std::collections::HashSet;
use std::path::Path;

use error::Report;
use read::read_raw;
use validate::Validator;

/// Defaults, shared by the loader and the documentation (`config/example.toml`).
pub mod defaults {
    use std::time::Duration;

    pub const DATABASE: &str = "veille.db";
    pub const MAIL_DIR: &str = "mail";
    pub const TIMEZONE: &str = "UTC";
    pub const EVERY: Duration = Duration::from_secs(15 * 60);
    /// Polling faster than this is unkind to publishers and rarely useful.
    pub const MIN_EVERY: Duration = Duration::from_secs(30);
    pub const ALERT_MIN_SCORE: f64 = 0.5;
    pub const ALERT_THROTTLE: Duration = Duration::from_secs(30 * 60);
    pub const SPIKE_FACTOR: f64 = 3.0;
    pub const SPIKE_WINDOW: Duration = Duration::from_secs(3600);
    pub const SPIKE_MIN_MENTIONS: u32 = 5;
    /// Longest spike window: the baseline compares it with the same hours of earlier days.
    pub const SPIKE_MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
    pub const SOURCE_WEIGHT: f64 = 1.0;
    pub const MAX_SOURCE_WEIGHT: f64 = 10.0;
    /// Polls in flight get this long to finish after SIGTERM.
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
    /// Items not seen for this long are purged daily (about six months).
    pub const RETENTION: Duration = Duration::from_secs(180 * 24 * 3600);
    /// Shorter retention would purge items while their stories may still grow.
    pub const MIN_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
    pub const DIGEST_AT: &str = "08:00";
    pub const DIGEST_DAYS: &str = "daily";
    pub const DIGEST_MAX_ITEMS: usize = 20;
    pub const DIGEST_MAX_ITEMS_LIMIT: usize = 1_000;
    pub const DIGEST_LANG: &str = "en";
    pub const DIGEST_EMPTY: &str = "skip";
    pub const DIGEST_TREND: bool = true;
    pub const SMTP_PORT_STARTTLS: u16 = 587;
    pub const SMTP_PORT_TLS: u16 = 465;
    pub const SMTP_PORT_NONE: u16 = 25;
    /// The listener's address when `[web]` is set and `daemon.listen` is not: loopback only.
    pub const WEB_LISTEN: &str = "127.0.0.1:8710";
    pub use crate::judge::token::LINK_TTL;
    /// How far back the review page looks, in days.
    pub const REVIEW_DAYS: u32 = 7;
    pub const REVIEW_MAX_DAYS: u32 = 90;
    /// The review page's login name.
    pub const WEB_USER: &str = "admin";
    /// Shortest `daemon.metrics_token_file` token, in characters.
    pub const MIN_METRICS_TOKEN: usize = 16;
    /// Environment variable read for the SMTP password when `password_file` is not set.
    pub const SMTP_PASSWORD_ENV: &str = "VEILLE_SMTP_PASSWORD";

    pub use crate::fetch::defaults::{MAX_CONCURRENT_FETCHES, PER_HOST_CONCURRENCY};
    pub const CONCURRENCY_LIMIT: usize = 1_024;
    /// Consecutive failures after which a source is reported as failing.
    pub const FAILING_AFTER: u32 = 5;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

    /// `veille/<version> (self-hosted media monitoring; +<contact>)`.
    pub fn user_agent(contact_url: Option<&str>) -> String {
        let version = env!("CARGO_PKG_VERSION");
        match contact_url {
            Some(contact) => format!("veille/{version} (self-hosted media monitoring; +{contact})"),
            None => format!("veille/{version} (self-hosted media monitoring)"),
        }
    }
}

/// Whether loading a configuration may write the files it asks to create when they are
/// missing (`web.create_secret`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Every command that runs veille: the first one creates what is missing.
    Allowed,
    /// `veille check` writes nothing: it is often run as root (`sudo veille check`), and a
    /// key created then would belong to root, unreadable by the service's user.
    Forbidden,
}

/// Reads and validates a configuration file, creating the link key when the file asks for
/// it (`web.create_secret`) and it is missing.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_file(path, Writes::Allowed)
}

/// Reads and validates a configuration file.
pub fn load_file(path: &Path, writes: Writes) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            key: "(file)".to_string(),
            message: format!("cannot read the configuration file: {e}"),
        }])
    })?;
    let env = |name: &str| std::env::var(name).ok();
    load_text(&text, path, &env, writes)
}

/// Validates configuration text as if it had been read from `path` (relative paths in the
/// text are resolved against `path`'s folder).
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let env = |name: &str| std::env::var(name).ok();
    load_with_env(text, path, &env)
}

pub(crate) fn load_with_env(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    load_text(text, path, env, Writes::Allowed)
}

pub(crate) fn load_text(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    writes: Writes,
) -> Result<Config, ConfigErrors> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let (documents, problems) = include::gather(&path, text.to_string());
    let mut report = Report::new(&documents);
    for problem in problems {
        report.at(problem.span, "include", problem.message);
    }
    let raw = read_raw(&documents, &mut report);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut validator = Validator {
        report,
        base,
        env,
        writes,
        broken: HashSet::new(),
    };
    let config = validator.config(raw, &path);
    if validator.report.has_errors() {
        return Err(validator.report.finish());
    }
    Ok(config)
}

#[cfg(test)]
mod tests;
