//! The admin's interface: one TOML file → a validated [`Config`].
//!
//! Loading happens in two steps, as in ripgrep's low/high-level arguments: the file is read
//! into `raw` serde types that keep every value's position, then `validate` turns them into
//! the typed configuration the daemon runs on (durations parsed, addresses checked, queries
//! compiled, references resolved, relative paths anchored at the config file's folder).
//! Each `[[section]]` entry is deserialized on its own and every validation step records its
//! problem and goes on, so `veille check` lists every error in one go, each with
//! file:line:column and the key.

mod dedup;
mod duration;
mod error;
pub mod opml;
pub mod presets;
mod raw;

pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, ConfigErrors};

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use url::Url;

use crate::extract::select::{self as selector, PageSelect, Pick, parse_pick};
use crate::matching::Query;
use crate::model::{AlertId, DigestId, SourceId, WatchId};
use crate::model::{Lang, Secret, SourceKind};
use crate::schedule::{DaySet, Schedule, parse_time_of_day};
use crate::score::risk::RiskVocabulary;
use error::Report;
use raw::{
    OneOrMany, RawAlert, RawDaemon, RawDedup, RawDigest, RawQuietHours, RawSelect, RawSmtp,
    RawSource, RawSpike, RawWatch, RawWeb, S,
};

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

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (absolute).
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub smtp: Option<SmtpConfig>,
    pub sources: Vec<SourceConfig>,
    pub watches: Vec<WatchConfig>,
    pub digests: Vec<DigestConfig>,
    pub alerts: Vec<AlertConfig>,
    /// `[dedup]`: how items are grouped into stories.
    pub dedup: crate::dedup::DedupSettings,
    /// `[web]`: judgment links and the review page (None when the section is absent).
    pub web: Option<WebConfig>,
}

/// `[web]`: where mail links point, the key that signs them, and the review page's login.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public address of the listener, as readers reach it; mail carries no judgment
    /// links without it.
    pub base_url: Option<Url>,
    pub secret_file: PathBuf,
    /// Create `secret_file` with a random key when it does not exist (demos, first runs).
    pub create_secret: bool,
    /// The key read from `secret_file` (links, session cookies, CSRF tokens).
    pub key: std::sync::Arc<crate::judge::token::LinkKey>,
    /// Whether the key was read, created by this load, or is still to be created.
    pub key_origin: crate::judge::token::KeyOrigin,
    /// How long a judgment link stays valid.
    pub link_ttl: Duration,
    /// How far back `/review` looks.
    pub review_days: u32,
    /// The login name of the review page.
    pub user: String,
    /// An argon2 PHC string (`veille hash-password`); None: no login (loopback only).
    pub password_hash: Option<String>,
    /// The language of the pages ("en" or "fr").
    pub lang: Lang,
}

impl WebConfig {
    /// Where judgment links point and what signs them; None without `base_url` (a link
    /// nobody can open is worse than none).
    pub fn link_base(&self) -> Option<crate::judge::LinkBase<'_>> {
        self.base_url.as_ref().map(|url| crate::judge::LinkBase {
            url,
            key: &self.key,
            ttl: self.link_ttl,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub database: PathBuf,
    pub timezone: Tz,
    pub user_agent: String,
    /// Whether the user agent names a way to reach the admin (`contact_url` or a custom
    /// `user_agent`).
    pub has_contact: bool,
    pub max_concurrent_fetches: usize,
    pub per_host_concurrency: usize,
    pub failing_after: u32,
    pub connect_timeout: Duration,
    pub fetch_timeout: Duration,
    /// Where mail goes as `.eml` files when there is no `[smtp]` section.
    pub mail_dir: PathBuf,
    /// Address of the HTTP listener for `/metrics` and `/healthz` (off when None).
    pub listen: Option<std::net::SocketAddr>,
    /// Items not seen in any feed for this long are purged (with their mentions).
    pub retention: Duration,
    /// How long polls in flight (and the mail being sent) may take to finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// Networks that sources may reach although they are loopback, private, link-local
    /// or otherwise internal (`daemon.allow_private_addresses`; empty by default).
    pub allow_private_addresses: Vec<ipnet::IpNet>,
    /// The bearer token `/metrics` asks for (`daemon.metrics_token_file`); None: only
    /// this machine reads the metrics.
    pub metrics_token: Option<Secret>,
    /// Where that token was read from (its mode is checked by `veille check`).
    pub metrics_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, not opportunistic).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Where the password was read from (None: the environment, or no password).
    pub password_file: Option<PathBuf>,
    pub from: Mailbox,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("from", &self.from.to_string())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: SourceId,
    /// http, https, or file (absolute path).
    pub url: Url,
    pub kind: SourceKind,
    pub every: Duration,
    pub tags: Vec<String>,
    pub weight: f64,
    /// Page sources only: the selectors; `None` is whole-page mode.
    pub select: Option<PageSelect>,
    /// The preset key the URL was expanded from (`mastodon_tag`), `None` for a raw `url`.
    pub preset: Option<&'static str>,
    /// At most this many fetches at once to this source's host, when lower than
    /// `daemon.per_host_concurrency` (set by presets: Reddit allows one). The lowest value
    /// over the sources of one host wins.
    pub per_host: Option<usize>,
    /// `username` + `password_file`: sent as HTTP Basic to the URL's own origin only (its
    /// Debug output hides the password).
    pub credentials: Option<crate::fetch::credentials::Credentials>,
    /// Where the password of `credentials` was read from (its mode is checked by `veille
    /// check`).
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub id: WatchId,
    pub name: String,
    pub query: Query,
    /// The sources this watch reads (every source when the TOML names none).
    pub sources: SourceSet,
    /// The digests this watch feeds (every digest when the TOML names none).
    pub digests: Vec<DigestId>,
}

/// The sources a watch reads: the union of one or more shared sets. Selections are shared,
/// not copied: every watch that names no source holds the same set of every source, and the
/// set of a source id or a tag is built once for the whole file, so 2,000 watches over
/// 20,000 sources cost one set of 20,000, not 2,000 of them.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    parts: Vec<std::sync::Arc<HashSet<SourceId>>>,
}

impl SourceSet {
    fn of(ids: HashSet<SourceId>) -> SourceSet {
        SourceSet {
            parts: vec![std::sync::Arc::new(ids)],
        }
    }

    fn add(&mut self, part: &std::sync::Arc<HashSet<SourceId>>) {
        if !self.parts.iter().any(|p| std::sync::Arc::ptr_eq(p, part)) {
            self.parts.push(std::sync::Arc::clone(part));
        }
    }

    pub fn contains(&self, id: &SourceId) -> bool {
        self.parts.iter().any(|part| part.contains(id))
    }

    /// Each source once, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &SourceId> {
        self.parts.iter().enumerate().flat_map(move |(i, part)| {
            part.iter()
                .filter(move |id| !self.parts[..i].iter().any(|p| p.contains(*id)))
        })
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|part| part.is_empty())
    }
}

impl PartialEq<HashSet<SourceId>> for SourceSet {
    fn eq(&self, other: &HashSet<SourceId>) -> bool {
        self.len() == other.len() && other.iter().all(|id| self.contains(id))
    }
}

/// What a watch's `sources` may name, each with the set it selects: a source id (that
/// source, plus the sources tagged with the same word if any) or a tag. Built in one pass
/// over the sources.
fn selectable(sources: &[SourceConfig]) -> HashMap<String, std::sync::Arc<HashSet<SourceId>>> {
    let mut named: HashMap<String, HashSet<SourceId>> = HashMap::new();
    for source in sources {
        let names =
            std::iter::once(source.id.as_str()).chain(source.tags.iter().map(String::as_str));
        for name in names {
            named
                .entry(name.to_string())
                .or_default()
                .insert(source.id.clone());
        }
    }
    named
        .into_iter()
        .map(|(name, ids)| (name, std::sync::Arc::new(ids)))
        .collect()
}

#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub id: DigestId,
    pub name: String,
    pub to: Vec<Mailbox>,
    pub schedule: Schedule,
    /// Stories shown per watch; the rest is counted ("and N more in veille").
    pub max_items: usize,
    /// Language of the labels and dates.
    pub lang: Lang,
    /// What to do with a window that found nothing.
    pub empty: EmptyPolicy,
    /// Show, per watch, the mentions of this window against the previous one.
    pub trend: bool,
}

/// An `[[alert]]` rule: which watches wake whom, and when (see `crate::alert`).
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub id: AlertId,
    pub to: Vec<Mailbox>,
    pub watches: Vec<WatchId>,
    /// A new story alerts when one of its mentions scores at least this (0–1).
    pub min_score: f64,
    /// Risk terms added to the built-in lists (or replacing them, see below).
    pub risk_terms: Vec<String>,
    /// Use the built-in French and English risk vocabulary (true unless the rule says not).
    pub builtin_risk_terms: bool,
    /// At most one story mail per rule per throttle window; the rest is folded in the next.
    pub throttle: Duration,
    pub lang: Lang,
    /// Volume spikes; None when the rule turns them off.
    pub spike: Option<SpikeRule>,
    pub quiet_hours: Option<QuietHours>,
    /// Crisis verdicts on its watches' mentions are mailed to this rule's recipients at once.
    pub crisis: bool,
}

/// When a watch's volume counts as a spike (see `crate::alert::spike`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeRule {
    /// The window's count must exceed `factor` × the usual count of that window.
    pub factor: f64,
    /// Length of the window counted, a whole number of minutes (1 h by default).
    pub window: Duration,
    /// And be at least this many mentions.
    pub min_mentions: u32,
}

/// Local hours during which a rule holds its mails (folded into the first one after),
/// except for a story scoring at least `unless_score`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietHours {
    pub from: chrono::NaiveTime,
    pub to: chrono::NaiveTime,
    pub unless_score: Option<f64>,
    pub tz: Tz,
}

impl Config {
    pub fn source(&self, id: &SourceId) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| &s.id == id)
    }

    pub fn digest(&self, id: &DigestId) -> Option<&DigestConfig> {
        self.digests.iter().find(|d| &d.id == id)
    }

    /// The watches that feed a digest, in configuration order.
    pub fn watches_of_digest(&self, id: &DigestId) -> Vec<&WatchConfig> {
        self.watches
            .iter()
            .filter(|w| w.digests.contains(id))
            .collect()
    }

    /// Things that are valid but probably not what the admin meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for digest in &self.digests {
            if self.watches_of_digest(&digest.id).is_empty() {
                warnings.push(format!(
                    "digest {:?} is fed by no watch: it will always be empty",
                    digest.id.as_str()
                ));
            }
        }
        for watch in &self.watches {
            if watch.digests.is_empty() {
                warnings.push(format!(
                    "watch {:?} feeds no digest: its mentions are stored but never mailed",
                    watch.id.as_str()
                ));
            }
        }
        // Only IP addresses can be judged here; names are judged when they resolve.
        let policy = crate::fetch::policy::NetworkPolicy::allowing(
            self.daemon.allow_private_addresses.clone(),
        );
        for source in &self.sources {
            if let Err(refusal) = policy.check_url(&source.url) {
                warnings.push(format!(
                    "source {:?} will fail: {refusal}",
                    source.id.as_str()
                ));
            }
        }
        let secret_files = [
            self.web
                .as_ref()
                .map(|w| (&w.secret_file, "web.secret_file".to_string())),
            self.smtp
                .as_ref()
                .and_then(|s| s.password_file.as_ref())
                .map(|path| (path, "smtp.password_file".to_string())),
            self.daemon
                .metrics_token_file
                .as_ref()
                .map(|path| (path, "daemon.metrics_token_file".to_string())),
        ];
        let source_files = self.sources.iter().filter_map(|source| {
            let key = format!("source {:?}.password_file", source.id.as_str());
            source.password_file.as_ref().map(|path| (path, key))
        });
        for (path, key) in secret_files.into_iter().flatten().chain(source_files) {
            warnings.extend(secret_file_warning(path, &key));
        }
        if !self.daemon.has_contact {
            warnings.push(
                "daemon.contact_url is not set: publishers cannot reach you about your crawler (set it to a page or mailto: URL)"
                    .to_string(),
            );
        }
        warnings
    }
}

/// Whether an SMTP host is this machine: `localhost`, or a loopback address (127.0.0.0/8,
/// ::1). Only there may a password travel without TLS: nothing leaves the machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A warning when the secret file `path`, named by the configuration key `key`, can be read
/// (or written) by other users than its owner, or None. Every reader of a secret file calls
/// it, and `Config::warnings` lists what it says, so `veille check` and the daemon's start
/// name each loose file with the command that fixes it. A warning, not an error: a file
/// shared with the service's own group (0640) can be deliberate, and refusing to start over
/// it would stop the daemon at a restart nobody is watching. A file that cannot be read is
/// the reader's error to report, not this one's.
pub fn secret_file_warning(path: &Path, key: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    let who = if mode & 0o007 != 0 {
        "every user of this machine"
    } else if mode & 0o070 != 0 {
        "its group"
    } else {
        return None;
    };
    Some(format!(
        "{key}: {} is open to {who} (mode {mode:o}): a secret should be readable by veille's user only; run `chmod 600 {}`",
        path.display(),
        path.display()
    ))
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
    let mut report = Report::new(&path, text);
    let raw = read_raw(text, &mut report);
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

/// The raw sections, each entry paired with its span and (when readable) its `id`.
#[derive(Default)]
struct RawConfig {
    daemon: Option<RawDaemon>,
    smtp: Option<(RawSmtp, Range<usize>)>,
    sources: Vec<RawSource>,
    watches: Vec<RawWatch>,
    digests: Vec<RawDigest>,
    alerts: Vec<RawAlert>,
    dedup: Option<RawDedup>,
    web: Option<(RawWeb, Range<usize>)>,
    /// Ids of entries that failed to deserialize, so references to them are not reported
    /// as missing on top of the real error.
    broken_ids: HashSet<String>,
}

const SECTIONS: &str = "daemon, smtp, dedup, web, source, watch, digest, alert";

fn read_raw(text: &str, report: &mut Report<'_>) -> RawConfig {
    let mut raw = RawConfig::default();
    let (table, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // Report every syntax error; what the parser recovered is not trusted further.
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            report.at(
                span,
                "(syntax)",
                format!("invalid TOML: {}", e.message().trim()),
            );
        }
        return raw;
    }
    let table = table.into_inner();
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        match name {
            "daemon" => raw.daemon = section(report, "daemon", value),
            "dedup" => raw.dedup = section(report, "dedup", value),
            "web" => {
                let span = value.span();
                raw.web = section(report, "web", value).map(|web| (web, span));
            }
            "smtp" => {
                let span = value.span();
                raw.smtp = section(report, "smtp", value).map(|smtp| (smtp, span));
            }
            "source" => raw.sources = entries(report, "source", value, &mut raw.broken_ids),
            "watch" => raw.watches = entries(report, "watch", value, &mut raw.broken_ids),
            "digest" => raw.digests = entries(report, "digest", value, &mut raw.broken_ids),
            "alert" => raw.alerts = entries(report, "alert", value, &mut raw.broken_ids),
            other => {
                let hint = match other {
                    "sources" => "; did you mean [[source]]?",
                    "watches" => "; did you mean [[watch]]?",
                    "digests" => "; did you mean [[digest]]?",
                    "alerts" => "; did you mean [[alert]]?",
                    _ => "",
                };
                report.at(
                    key.span(),
                    other,
                    format!("unknown section `{other}`; expected one of {SECTIONS}{hint}"),
                );
            }
        }
    }
    raw
}

/// Deserializes one table (`[daemon]`, `[smtp]`, or one `[[source]]` entry).
fn section<T: DeserializeOwned>(
    report: &mut Report<'_>,
    label: &str,
    value: toml::Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    let keys: Vec<(String, Range<usize>, Range<usize>)> = match value.get_ref() {
        DeValue::Table(table) => table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), k.span(), v.span()))
            .collect(),
        other => {
            report.at(
                span,
                label,
                format!("expected a table, found {}", other.type_str()),
            );
            return None;
        }
    };
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            let at = e.span().unwrap_or(span.clone());
            // Name the key whose name or value holds the error, when there is one.
            let key = keys
                .iter()
                .find(|(_, k, v)| contains(k, &at) || contains(v, &at))
                .map(|(name, _, _)| format!("{label}.{name}"))
                .unwrap_or_else(|| label.to_string());
            report.at(at, key, e.message().trim());
            None
        }
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(outer.start + 1)
}

/// Deserializes every entry of an array of tables (`[[source]]`).
fn entries<T: DeserializeOwned>(
    report: &mut Report<'_>,
    name: &str,
    value: toml::Spanned<DeValue<'_>>,
    broken_ids: &mut HashSet<String>,
) -> Vec<T> {
    let span = value.span();
    let DeValue::Array(array) = value.into_inner() else {
        report.at(
            span,
            name,
            format!("`{name}` must be a list of tables: write each entry as [[{name}]]"),
        );
        return Vec::new();
    };
    let mut parsed = Vec::new();
    for (index, entry) in array.into_iter().enumerate() {
        let id = match entry.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .find(|(k, _)| k.get_ref() == "id")
                .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string)),
            _ => None,
        };
        let label = match &id {
            Some(id) => format!("{name} {id:?}"),
            None => format!("{name}[{index}]"),
        };
        match section(report, &label, entry) {
            Some(value) => parsed.push(value),
            None => {
                if let Some(id) = id {
                    broken_ids.insert(id);
                }
            }
        }
    }
    parsed
}

struct Validator<'a> {
    report: Report<'a>,
    base: PathBuf,
    env: &'a dyn Fn(&str) -> Option<String>,
    writes: Writes,
    /// Ids of entries that have an error of their own: references to them are not reported
    /// again as missing.
    broken: HashSet<String>,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        self.report.at(span, key, message);
    }

    fn config(&mut self, raw: RawConfig, path: &Path) -> Config {
        self.broken = raw.broken_ids;
        let daemon = self.daemon(raw.daemon.unwrap_or_default());
        let smtp = raw.smtp.and_then(|(smtp, span)| self.smtp(smtp, span));
        let sources = self.sources(raw.sources);
        let digests = self.digests(raw.digests, daemon.timezone);
        let watches = self.watches(raw.watches, &sources, &digests);
        let alerts = self.alerts(raw.alerts, &watches, daemon.timezone);
        let dedup = self.dedup(raw.dedup.unwrap_or_default());
        let mut daemon = daemon;
        let web = raw
            .web
            .and_then(|(web, span)| self.web(web, span, &mut daemon));
        Config {
            path: path.to_path_buf(),
            daemon,
            smtp,
            sources,
            watches,
            digests,
            alerts,
            dedup,
            web,
        }
    }

    fn path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            lexically_clean(path)
        } else {
            lexically_clean(&self.base.join(path))
        }
    }

    fn daemon(&mut self, raw: RawDaemon) -> DaemonConfig {
        let timezone = match &raw.timezone {
            None => Tz::UTC,
            Some(tz) => tz.get_ref().parse::<Tz>().unwrap_or_else(|_| {
                self.error(
                    tz.span(),
                    "daemon.timezone",
                    format!("unknown time zone {:?}: use an IANA name such as \"Europe/Paris\" or \"UTC\"", tz.get_ref()),
                );
                Tz::UTC
            }),
        };
        let database = raw
            .database
            .map_or_else(|| defaults::DATABASE.to_string(), S::into_inner);
        let mail_dir = raw
            .mail_dir
            .map_or_else(|| defaults::MAIL_DIR.to_string(), S::into_inner);
        let contact_url = match &raw.contact_url {
            Some(c) => match Url::parse(c.get_ref().trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https" | "mailto") => {
                    Some(url.to_string())
                }
                _ => {
                    self.error(
                        c.span(),
                        "daemon.contact_url",
                        format!(
                            "{:?} is not an http, https or mailto URL: write e.g. \"https://intranet.example.org/veille\" or \"mailto:veille-admin@example.org\"",
                            c.get_ref()
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let has_contact = contact_url.is_some() || raw.user_agent.is_some();
        let user_agent = match raw.user_agent {
            Some(ua) if ua.get_ref().trim().is_empty() || ua.get_ref().contains(['\r', '\n']) => {
                self.error(
                    ua.span(),
                    "daemon.user_agent",
                    "the user agent must be one non-empty line",
                );
                defaults::user_agent(contact_url.as_deref())
            }
            Some(ua) => ua.into_inner(),
            None => defaults::user_agent(contact_url.as_deref()),
        };
        let listen = raw.listen.as_ref().and_then(|listen| {
            match listen.get_ref().parse::<std::net::SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    self.error(
                        listen.span(),
                        "daemon.listen",
                        format!(
                            "invalid address {:?}: write an IP address and a port, such as \"127.0.0.1:9480\"",
                            listen.get_ref()
                        ),
                    );
                    None
                }
            }
        });
        let retention = match &raw.retention {
            None => defaults::RETENTION,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d) if d >= defaults::MIN_RETENTION => d,
                Ok(_) => {
                    self.error(
                        text.span(),
                        "daemon.retention",
                        format!(
                            "retention {} is too short: the minimum is {}",
                            text.get_ref(),
                            format_duration(defaults::MIN_RETENTION)
                        ),
                    );
                    defaults::RETENTION
                }
                Err(message) => {
                    self.error(text.span(), "daemon.retention", message);
                    defaults::RETENTION
                }
            },
        };
        let max_concurrent_fetches = self.count(
            raw.max_concurrent_fetches.as_ref(),
            "daemon.max_concurrent_fetches",
            defaults::MAX_CONCURRENT_FETCHES,
        );
        let per_host_concurrency = self.count(
            raw.per_host_concurrency.as_ref(),
            "daemon.per_host_concurrency",
            defaults::PER_HOST_CONCURRENCY,
        );
        let failing_after = self.count(
            raw.failing_after.as_ref(),
            "daemon.failing_after",
            defaults::FAILING_AFTER as usize,
        );
        let connect_timeout = self.timeout(
            raw.connect_timeout.as_ref(),
            "daemon.connect_timeout",
            defaults::CONNECT_TIMEOUT,
        );
        let fetch_timeout = self.timeout(
            raw.fetch_timeout.as_ref(),
            "daemon.fetch_timeout",
            defaults::FETCH_TIMEOUT,
        );
        let allow_private_addresses = raw
            .allow_private_addresses
            .iter()
            .flatten()
            .filter_map(|network| match parse_network(network.get_ref()) {
                Ok(network) => Some(network),
                Err(message) => {
                    self.error(network.span(), "daemon.allow_private_addresses", message);
                    None
                }
            })
            .collect();
        let (metrics_token_file, metrics_token) = raw
            .metrics_token_file
            .as_ref()
            .and_then(|file| self.metrics_token(file))
            .unzip();
        if let (Some(text), Some(addr)) = (&raw.listen, listen)
            && !addr.ip().is_loopback()
            && metrics_token.is_none()
            && raw.metrics_token_file.is_none()
        {
            self.error(
                text.span(),
                "daemon.metrics_token_file",
                format!(
                    "daemon.listen {addr} can be reached from other machines, so /metrics needs a token: set daemon.metrics_token_file to a file holding one (e.g. `head -c 32 /dev/urandom | base64 > metrics-token`; Prometheus sends it as a bearer token), or listen on 127.0.0.1"
                ),
            );
        }
        DaemonConfig {
            database: self.path(&database),
            timezone,
            user_agent,
            has_contact,
            max_concurrent_fetches,
            per_host_concurrency,
            failing_after: u32::try_from(failing_after).unwrap_or(u32::MAX),
            connect_timeout,
            fetch_timeout,
            mail_dir: self.path(&mail_dir),
            listen,
            retention,
            shutdown_grace: self.timeout(
                raw.shutdown_grace.as_ref(),
                "daemon.shutdown_grace",
                defaults::SHUTDOWN_GRACE,
            ),
            allow_private_addresses,
            metrics_token_file,
            metrics_token,
        }
    }

    /// Reads a secret file named by `key` (relative to the configuration file): its text
    /// without the final line break, and where it was read from (for the mode check of
    /// `Config::warnings`). A file that cannot be read is an error at `file`.
    fn secret_file(&mut self, file: &S<String>, key: &str) -> Option<(PathBuf, Secret)> {
        let path = self.path(file.get_ref());
        match std::fs::read_to_string(&path) {
            Ok(text) => Some((path, Secret::new(text.trim_end_matches(['\r', '\n'])))),
            Err(e) => {
                self.error(
                    file.span(),
                    key,
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    }

    /// `daemon.metrics_token_file`: one line of at least [`defaults::MIN_METRICS_TOKEN`]
    /// visible characters. Messages never show the token.
    fn metrics_token(&mut self, file: &S<String>) -> Option<(PathBuf, Secret)> {
        let (path, token) = self.secret_file(file, "daemon.metrics_token_file")?;
        let length = token.expose().chars().count();
        let message = if length < defaults::MIN_METRICS_TOKEN {
            format!(
                "{} holds {length} characters; a token needs at least {}: make one with `head -c 32 /dev/urandom | base64 > {}`",
                path.display(),
                defaults::MIN_METRICS_TOKEN,
                file.get_ref()
            )
        } else if !token.expose().bytes().all(|b| b.is_ascii_graphic()) {
            format!(
                "{} must hold one line of visible ASCII characters (no spaces): it is sent in an HTTP header",
                path.display()
            )
        } else {
            return Some((path, token));
        };
        self.error(file.span(), "daemon.metrics_token_file", message);
        None
    }

    /// A positive count no larger than [`defaults::CONCURRENCY_LIMIT`].
    fn count(&mut self, value: Option<&S<i64>>, key: &str, default: usize) -> usize {
        let Some(value) = value else {
            return default;
        };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (1..=defaults::CONCURRENCY_LIMIT).contains(&n) => n,
            _ => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "{} is out of range: use 1 to {}",
                        value.get_ref(),
                        defaults::CONCURRENCY_LIMIT
                    ),
                );
                default
            }
        }
    }

    /// A timeout: a duration (`"30s"`) or milliseconds (`"300ms"`), from 1 ms to 10 minutes.
    fn timeout(&mut self, value: Option<&S<String>>, key: &str, default: Duration) -> Duration {
        let Some(value) = value else {
            return default;
        };
        let text = value.get_ref().trim();
        let parsed = match text.strip_suffix("ms") {
            Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => ms
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("invalid duration {text:?}: {e}")),
            _ => parse_duration(text),
        };
        match parsed {
            Ok(d) if d > Duration::ZERO && d <= Duration::from_secs(600) => d,
            Ok(_) => {
                self.error(
                    value.span(),
                    key,
                    format!("timeout {text:?} is out of range: use \"1ms\" to \"10m\""),
                );
                default
            }
            Err(message) => {
                self.error(value.span(), key, message);
                default
            }
        }
    }

    /// `[web]`: the key file must hold a usable key; the listener defaults to loopback, and a
    /// listener others can reach requires a login.
    fn web(
        &mut self,
        raw: RawWeb,
        span: Range<usize>,
        daemon: &mut DaemonConfig,
    ) -> Option<WebConfig> {
        let start_errors = self.report.count();
        let base_url = raw.base_url.as_ref().and_then(|text| {
            match Url::parse(text.get_ref()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    // Links are joined to it: without the final slash, `…/veille` + `j/…`
                    // would drop `veille`.
                    let mut url = url;
                    if !url.path().ends_with('/') {
                        url.set_path(&format!("{}/", url.path()));
                    }
                    Some(url)
                }
                _ => {
                    self.error(
                        text.span(),
                        "web.base_url",
                        format!(
                            "{:?} is not an http or https URL: write the address readers use to reach veille, e.g. \"https://veille.example.org/\"",
                            text.get_ref()
                        ),
                    );
                    None
                }
            }
        });
        let secret_file = self.path(raw.secret_file.get_ref());
        let create_secret = raw.create_secret.as_ref().is_some_and(|c| *c.get_ref());
        let key = match crate::judge::token::LinkKey::open(
            &secret_file,
            create_secret,
            self.writes == Writes::Allowed,
        ) {
            Ok((key, origin)) => Some((std::sync::Arc::new(key), origin)),
            Err(e) => {
                self.error(raw.secret_file.span(), "web.secret_file", e.to_string());
                None
            }
        };
        let link_ttl = match &raw.link_ttl {
            None => defaults::LINK_TTL,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d) if d >= Duration::from_secs(3600) => d,
                Ok(_) => {
                    self.error(
                        text.span(),
                        "web.link_ttl",
                        "links must stay valid at least 1h (default 14d)",
                    );
                    defaults::LINK_TTL
                }
                Err(message) => {
                    self.error(text.span(), "web.link_ttl", message);
                    defaults::LINK_TTL
                }
            },
        };
        let review_days = match &raw.review_days {
            None => defaults::REVIEW_DAYS,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if (1..=defaults::REVIEW_MAX_DAYS).contains(&n) => n,
                _ => {
                    self.error(
                        n.span(),
                        "web.review_days",
                        format!(
                            "review_days must be from 1 to {} (default {})",
                            defaults::REVIEW_MAX_DAYS,
                            defaults::REVIEW_DAYS
                        ),
                    );
                    defaults::REVIEW_DAYS
                }
            },
        };
        let user = match raw.user {
            None => defaults::WEB_USER.to_string(),
            Some(user) => {
                let name = user.get_ref().trim();
                if name.is_empty() || name.contains(['|', '\n', '\r']) {
                    self.error(
                        user.span(),
                        "web.user",
                        "the login name must be one non-empty line without `|`",
                    );
                }
                name.to_string()
            }
        };
        let password_hash = raw.password_hash.and_then(|hash| {
            if hash.get_ref().starts_with("$argon2") {
                Some(hash.into_inner())
            } else {
                self.error(
                    hash.span(),
                    "web.password_hash",
                    "not an argon2 hash: write the line `veille hash-password` prints (it starts with $argon2id$); never the password itself",
                );
                None
            }
        });
        let lang = self.choice(&raw.lang, "web.lang", "en").unwrap_or_default();
        let listen = *daemon.listen.get_or_insert_with(|| {
            defaults::WEB_LISTEN
                .parse()
                .unwrap_or_else(|_| unreachable!("the default address parses"))
        });
        if !listen.ip().is_loopback()
            && password_hash.is_none()
            && self.report.count() == start_errors
        {
            self.error(
                span,
                "web.password_hash",
                format!(
                    "daemon.listen {listen} can be reached from other machines, so the review page needs a login: set web.password_hash (see `veille hash-password`), or listen on 127.0.0.1"
                ),
            );
        }
        if self.report.count() > start_errors {
            return None;
        }
        let (key, key_origin) = key?;
        Some(WebConfig {
            base_url,
            secret_file,
            create_secret,
            key,
            key_origin,
            link_ttl,
            review_days,
            user,
            password_hash,
            lang,
        })
    }

    fn smtp(&mut self, raw: RawSmtp, span: Range<usize>) -> Option<SmtpConfig> {
        let start_errors = self.report.count();
        if let Some(password) = &raw.password {
            self.error(
                password.span(),
                "smtp.password",
                format!(
                    "passwords are never written in the configuration: put it in a file named by `password_file` (mode 0600) or in the {} environment variable",
                    defaults::SMTP_PASSWORD_ENV
                ),
            );
        }
        let host = raw.host.get_ref().trim().to_string();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            self.error(
                raw.host.span(),
                "smtp.host",
                format!(
                    "invalid host {:?}: write a host name or IP address, without scheme or port",
                    raw.host.get_ref()
                ),
            );
        }
        let security = match raw.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("starttls") => SmtpSecurity::StartTls,
            Some("tls") => SmtpSecurity::Tls,
            Some("none") => SmtpSecurity::None,
            Some(other) => {
                let span = raw.security.as_ref().map_or(span.clone(), S::span);
                self.error(
                    span,
                    "smtp.security",
                    format!("unknown security {other:?}: use \"starttls\", \"tls\" or \"none\""),
                );
                SmtpSecurity::StartTls
            }
        };
        let port = match &raw.port {
            None => match security {
                SmtpSecurity::StartTls => defaults::SMTP_PORT_STARTTLS,
                SmtpSecurity::Tls => defaults::SMTP_PORT_TLS,
                SmtpSecurity::None => defaults::SMTP_PORT_NONE,
            },
            Some(port) => match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => p,
                _ => {
                    self.error(
                        port.span(),
                        "smtp.port",
                        format!("invalid port {}: use 1 to 65535", port.get_ref()),
                    );
                    0
                }
            },
        };
        let from = self.mailbox(&raw.from, "smtp.from");
        let (password_file, password) = match &raw.password_file {
            Some(file) => self.secret_file(file, "smtp.password_file").unzip(),
            None => (
                None,
                (self.env)(defaults::SMTP_PASSWORD_ENV).map(Secret::new),
            ),
        };
        let username = raw.username.as_ref().map(|u| u.get_ref().clone());
        if let Some(user) = &raw.username
            && password.is_none()
            && raw.password_file.is_none()
        {
            self.error(
                user.span(),
                "smtp.username",
                format!(
                    "a username is set but no password: set `password_file` or the {} environment variable",
                    defaults::SMTP_PASSWORD_ENV
                ),
            );
        }
        if security == SmtpSecurity::None
            && let Some(user) = &raw.username
            && !is_loopback_host(&host)
        {
            let span = raw.security.as_ref().map_or(user.span(), S::span);
            self.error(
                span,
                "smtp.security",
                format!(
                    "security = \"none\" would send the login {:?} and its password unencrypted to {host}, another machine: set security = \"starttls\" (port 587) or \"tls\" (port 465); \"none\" with a login is only for a relay on this machine (localhost, 127.0.0.1, ::1)",
                    user.get_ref()
                ),
            );
        }
        if self.report.count() > start_errors {
            return None;
        }
        Some(SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            password_file,
            from: from?,
        })
    }

    fn mailbox(&mut self, value: &S<String>, key: &str) -> Option<Mailbox> {
        match value.get_ref().trim().parse::<Mailbox>() {
            Ok(mailbox) => Some(mailbox),
            Err(e) => {
                self.error(value.span(), key, format!("invalid address {:?}: {e}; write \"name@example.org\" or \"Name <name@example.org>\"", value.get_ref()));
                None
            }
        }
    }

    fn mailboxes(&mut self, value: S<OneOrMany>, key: &str) -> Vec<Mailbox> {
        let span = value.span();
        let list = raw::list(value);
        if list.is_empty() {
            self.error(span, key, "at least one address is needed");
        }
        list.iter().filter_map(|v| self.mailbox(v, key)).collect()
    }

    fn id(&mut self, value: &S<String>, section: &str, seen: &mut HashMap<String, usize>) -> bool {
        let id = value.get_ref();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            self.error(
                value.span(),
                format!("{section}.id"),
                format!("invalid id {id:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.'"),
            );
            return false;
        }
        let line = self.report.line_of(value.span().start);
        if let Some(first_line) = seen.insert(id.clone(), line) {
            self.error(
                value.span(),
                format!("{section} {id:?}.id"),
                format!("duplicate {section} id {id:?} (first defined on line {first_line})"),
            );
            return false;
        }
        true
    }

    fn sources(&mut self, raw: Vec<RawSource>) -> Vec<SourceConfig> {
        let mut seen = HashMap::new();
        let mut sources = Vec::new();
        for source in raw {
            let id_ok = self.id(&source.id, "source", &mut seen);
            let label = format!("source {:?}", source.id.get_ref());
            let (url, preset) = match self.source_location(&source, &label) {
                Some((url, preset)) => (Some(url), preset),
                None => (None, None),
            };
            if preset.is_some()
                && let Some(kind) = &source.kind
                && kind.get_ref() != "feed"
            {
                self.error(
                    kind.span(),
                    format!("{label}.kind"),
                    "a preset source is a feed: remove `kind` or give a raw `url`",
                );
            }
            let kind = match source.kind.as_ref().map(|k| k.get_ref().as_str()) {
                None | Some("feed") => Some(SourceKind::Feed),
                Some("page") => Some(SourceKind::Page),
                Some(other) => {
                    let span = source.kind.as_ref().map_or(0..0, S::span);
                    self.error(
                        span,
                        format!("{label}.kind"),
                        format!("unknown kind {other:?}: use \"feed\" or \"page\""),
                    );
                    None
                }
            };
            let mut select_ok = true;
            let select = match (&source.select, kind) {
                (None, _) => None,
                (Some(select), Some(SourceKind::Page)) => {
                    let errors = self.report.count();
                    let parsed = self.page_select(select, &label);
                    select_ok = self.report.count() == errors;
                    parsed
                }
                (Some(select), _) => {
                    self.error(
                        select.span(),
                        format!("{label}.select"),
                        "selectors apply to page sources only: add kind = \"page\" or remove [source.select]",
                    );
                    select_ok = false;
                    None
                }
            };
            let every = match &source.every {
                None => Some(preset.map_or(defaults::EVERY, |p| p.every)),
                Some(every) => match parse_duration(every.get_ref()) {
                    Ok(d) if d < defaults::MIN_EVERY => {
                        self.error(
                            every.span(),
                            format!("{label}.every"),
                            format!(
                                "polling every {} is too often: the minimum is {}",
                                every.get_ref(),
                                format_duration(defaults::MIN_EVERY)
                            ),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(message) => {
                        self.error(every.span(), format!("{label}.every"), message);
                        None
                    }
                },
            };
            let weight = match &source.weight {
                None => defaults::SOURCE_WEIGHT,
                Some(w) => {
                    let value = *w.get_ref();
                    if !(0.0..=defaults::MAX_SOURCE_WEIGHT).contains(&value) {
                        self.error(
                            w.span(),
                            format!("{label}.weight"),
                            format!(
                                "weight {value} is out of range: use 0 to {}",
                                defaults::MAX_SOURCE_WEIGHT
                            ),
                        );
                    }
                    value
                }
            };
            let errors = self.report.count();
            let (credentials, password_file) = self
                .source_credentials(&source, &label, url.as_ref())
                .unzip();
            let credentials_ok = self.report.count() == errors;
            let mut tags = Vec::new();
            for tag in source.tags.unwrap_or_default() {
                if tag.get_ref().trim().is_empty() {
                    self.error(tag.span(), format!("{label}.tags"), "empty tag");
                } else {
                    tags.push(tag.into_inner());
                }
            }
            if !id_ok {
                continue;
            }
            let (Some(url), Some(kind), Some(every), true, true) =
                (url, kind, every, select_ok, credentials_ok)
            else {
                self.broken.insert(source.id.into_inner());
                continue;
            };
            sources.push(SourceConfig {
                id: SourceId::new(source.id.into_inner()),
                url,
                kind,
                every,
                tags,
                weight,
                select,
                preset: preset.map(|p| p.key.split('+').next().unwrap_or(p.key)),
                per_host: preset.and_then(|p| p.per_host),
                password_file,
                credentials,
            });
        }
        sources
    }

    /// `username` + `password_file` (read now, relative to this file), for http(s) sources,
    /// with the password file's path.
    fn source_credentials(
        &mut self,
        source: &RawSource,
        label: &str,
        url: Option<&Url>,
    ) -> Option<(crate::fetch::credentials::Credentials, PathBuf)> {
        if let Some(password) = &source.password {
            self.error(
                password.span(),
                format!("{label}.password"),
                "passwords are never written in the configuration: put it in a file named by `password_file` (mode 0600), next to `username`",
            );
        }
        let (username, file) = match (&source.username, &source.password_file) {
            (None, None) => return None,
            (Some(username), Some(file)) => (username, file),
            (Some(username), None) => {
                self.error(
                    username.span(),
                    format!("{label}.username"),
                    "a username is set but no password: set `password_file` to a file holding the password",
                );
                return None;
            }
            (None, Some(file)) => {
                self.error(
                    file.span(),
                    format!("{label}.password_file"),
                    "a password file is set but no username: set `username` too",
                );
                return None;
            }
        };
        if url.is_some_and(|url| !matches!(url.scheme(), "http" | "https")) {
            self.error(
                username.span(),
                format!("{label}.username"),
                "only http and https sources log in: remove `username` and `password_file`",
            );
            return None;
        }
        let name = username.get_ref();
        // RFC 7617: the user-id of Basic authentication cannot contain a colon.
        if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
            self.error(
                username.span(),
                format!("{label}.username"),
                "the username must be one non-empty line without `:` (HTTP Basic cannot carry one)",
            );
            return None;
        }
        let (path, password) = self.secret_file(file, &format!("{label}.password_file"))?;
        Some((
            crate::fetch::credentials::Credentials::new(name.clone(), password),
            path,
        ))
    }

    /// The URL a source polls: its `url`, or what its one preset key expands to (with the
    /// preset's defaults). Exactly one of them must be given.
    fn source_location(
        &mut self,
        source: &RawSource,
        label: &str,
    ) -> Option<(Url, Option<&'static presets::PresetSpec>)> {
        use presets::Preset;
        let given: Vec<(&str, &S<String>)> = [
            ("url", &source.url),
            ("mastodon_tag", &source.mastodon_tag),
            ("mastodon_account", &source.mastodon_account),
            ("bluesky_profile", &source.bluesky_profile),
            ("reddit_search", &source.reddit_search),
            ("reddit_subreddit", &source.reddit_subreddit),
            ("youtube_channel", &source.youtube_channel),
            ("google_alerts", &source.google_alerts),
            ("hn_search", &source.hn_search),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
        .collect();
        if let Some(sub) = &source.subreddit
            && source.reddit_search.is_none()
        {
            self.error(
                sub.span(),
                format!("{label}.subreddit"),
                "`subreddit` narrows a `reddit_search`: add reddit_search = \"…\", or use reddit_subreddit = \"NAME\" for the whole subreddit",
            );
            return None;
        }
        let (key, value) = match given.as_slice() {
            [] => {
                self.error(
                    source.id.span(),
                    label.to_string(),
                    format!(
                        "no feed to poll: give `url`, or one preset key ({})",
                        presets::PRESET_KEYS.join(", ")
                    ),
                );
                return None;
            }
            [one] => *one,
            [(first, _), (second, value), ..] => {
                self.error(
                    value.span(),
                    format!("{label}.{second}"),
                    format!("`{first}` and `{second}` both say what to poll: keep one"),
                );
                return None;
            }
        };
        let text = value.get_ref().as_str();
        let preset = match key {
            "url" => return self.source_url(value, label).map(|url| (url, None)),
            "mastodon_tag" => Preset::MastodonTag(text),
            "mastodon_account" => Preset::MastodonAccount(text),
            "bluesky_profile" => Preset::BlueskyProfile(text),
            "reddit_search" => Preset::RedditSearch {
                query: text,
                subreddit: source.subreddit.as_ref().map(|s| s.get_ref().as_str()),
            },
            "reddit_subreddit" => Preset::RedditSubreddit(text),
            "youtube_channel" => Preset::YoutubeChannel(text),
            "google_alerts" => Preset::GoogleAlerts(text),
            _ => Preset::HnSearch(text),
        };
        match presets::expand(&preset) {
            Ok(url) => Some((url, Some(preset.spec()))),
            Err(message) => {
                // A bad `subreddit` is reported on its own line, not on the query's.
                let span = match (&preset, &source.subreddit) {
                    (Preset::RedditSearch { .. }, Some(sub)) if message.contains("subreddit") => {
                        sub.span()
                    }
                    _ => value.span(),
                };
                let key = if span == value.span() {
                    key
                } else {
                    "subreddit"
                };
                self.error(span, format!("{label}.{key}"), message);
                None
            }
        }
    }

    fn page_select(&mut self, raw: &S<RawSelect>, label: &str) -> Option<PageSelect> {
        let raw = raw.get_ref();
        let key = |field: &str| format!("{label}.select.{field}");
        let item = match selector::parse(raw.item.get_ref()) {
            Ok(selector) => Some(selector),
            Err(e) => {
                let offset = self.offset_in_string(&raw.item, e.column);
                self.report.at_offset(
                    offset,
                    key("item"),
                    format!(
                        "invalid CSS selector {:?}: {}",
                        raw.item.get_ref(),
                        e.message
                    ),
                );
                None
            }
        };
        let mut pick = |value: &Option<S<String>>, field: &str| -> Option<Pick> {
            let value = value.as_ref()?;
            match parse_pick(value.get_ref()) {
                Ok(pick) => Some(pick),
                Err((column, message)) => {
                    let offset = self.offset_in_string(value, column);
                    self.report.at_offset(offset, key(field), message);
                    None
                }
            }
        };
        let title = pick(&raw.title, "title");
        let link = pick(&raw.link, "link");
        let summary = pick(&raw.summary, "summary");
        let date = pick(&raw.date, "date");
        Some(PageSelect {
            item: item?,
            item_source: raw.item.get_ref().clone(),
            title,
            link,
            summary,
            date,
        })
    }

    fn source_url(&mut self, value: &S<String>, label: &str) -> Option<Url> {
        let text = value.get_ref().trim();
        let key = format!("{label}.url");
        if let Some(rest) = text.strip_prefix("file:") {
            // `file:demo/acme.xml` (relative to this file), `file:/abs`, `file:///abs`.
            let path_text = match rest.strip_prefix("//") {
                Some(after) if after.starts_with('/') => after,
                Some(after) => match after.strip_prefix("localhost") {
                    Some(local) if local.starts_with('/') => local,
                    _ => {
                        self.error(value.span(), key, format!("file URL {text:?} names a host: write file:relative/path or file:///absolute/path"));
                        return None;
                    }
                },
                None => rest,
            };
            if path_text.is_empty() {
                self.error(value.span(), key, "file URL without a path");
                return None;
            }
            let decoded = percent_decode(path_text);
            let path = self.path(&decoded);
            return match Url::from_file_path(&path) {
                Ok(url) => Some(url),
                Err(()) => {
                    self.error(
                        value.span(),
                        key,
                        format!("cannot turn {} into a file URL", path.display()),
                    );
                    None
                }
            };
        }
        // The text may hold a password (refused below): messages show it without.
        let shown = crate::fetch::credentials::redact_userinfo(text);
        match Url::parse(text) {
            Ok(url) if url.password().is_some() => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "the URL carries a password, which would be logged and stored with it: write the URL without `user:password@` and set username = {:?} and password_file = \"FILE\" (a file holding the password)",
                        url.username()
                    ),
                );
                None
            }
            Ok(url) if !url.username().is_empty() => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "the URL carries a user name, which would be logged and stored with it: write the URL without `{}@` and set username and password_file",
                        url.username()
                    ),
                );
                None
            }
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Some(url)
            }
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                self.error(value.span(), key, format!("URL {shown:?} has no host"));
                None
            }
            Ok(url) => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "unsupported scheme {:?}: use http, https or file",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(value.span(), key, format!("invalid URL {shown:?}: {e}"));
                None
            }
        }
    }

    fn digests(&mut self, raw: Vec<RawDigest>, tz: Tz) -> Vec<DigestConfig> {
        let mut seen = HashMap::new();
        let mut digests = Vec::new();
        for digest in raw {
            let id_ok = self.id(&digest.id, "digest", &mut seen);
            let label = format!("digest {:?}", digest.id.get_ref());
            let errors_before = self.report.count();
            let to = self.mailboxes(digest.to, &format!("{label}.to"));
            let at = match digest.at {
                None => vec![parse_time_of_day(defaults::DIGEST_AT).unwrap_or_default()],
                Some(at) => {
                    let span = at.span();
                    let list = raw::list(at);
                    if list.is_empty() {
                        self.error(
                            span,
                            format!("{label}.at"),
                            "at least one time is needed, e.g. [\"08:00\"]",
                        );
                    }
                    list.iter()
                        .filter_map(|t| match parse_time_of_day(t.get_ref()) {
                            Ok(time) => Some(time),
                            Err(message) => {
                                self.error(t.span(), format!("{label}.at"), message);
                                None
                            }
                        })
                        .collect()
                }
            };
            let days = match digest.days {
                None => DaySet::parse(defaults::DIGEST_DAYS).unwrap_or(DaySet::ALL),
                Some(days) => {
                    let span = days.span();
                    let list = raw::list(days);
                    if list.is_empty() {
                        self.error(
                            span,
                            format!("{label}.days"),
                            "at least one day is needed, e.g. \"mon-fri\"",
                        );
                    }
                    let mut set: Option<DaySet> = None;
                    for day in &list {
                        match DaySet::parse(day.get_ref()) {
                            Ok(parsed) => set = Some(set.map_or(parsed, |s| s.union(parsed))),
                            Err(message) => {
                                self.error(day.span(), format!("{label}.days"), message)
                            }
                        }
                    }
                    set.unwrap_or(DaySet::ALL)
                }
            };
            let max_items = match &digest.max_items {
                None => defaults::DIGEST_MAX_ITEMS,
                Some(n) => match usize::try_from(*n.get_ref()) {
                    Ok(n) if (1..=defaults::DIGEST_MAX_ITEMS_LIMIT).contains(&n) => n,
                    _ => {
                        self.error(
                            n.span(),
                            format!("{label}.max_items"),
                            format!(
                                "max_items must be between 1 and {}",
                                defaults::DIGEST_MAX_ITEMS_LIMIT
                            ),
                        );
                        defaults::DIGEST_MAX_ITEMS
                    }
                },
            };
            let lang = self.choice(
                &digest.lang,
                &format!("{label}.lang"),
                defaults::DIGEST_LANG,
            );
            let empty = self.choice(
                &digest.empty,
                &format!("{label}.empty"),
                defaults::DIGEST_EMPTY,
            );
            let trend = digest
                .trend
                .as_ref()
                .map_or(defaults::DIGEST_TREND, |t| *t.get_ref());
            let name = digest
                .name
                .map_or_else(|| digest.id.get_ref().clone(), S::into_inner);
            if id_ok && self.report.count() > errors_before {
                self.broken.insert(digest.id.get_ref().clone());
            } else if id_ok {
                digests.push(DigestConfig {
                    id: DigestId::new(digest.id.into_inner()),
                    name,
                    to,
                    schedule: Schedule::new(at, days, tz),
                    max_items,
                    lang: lang.unwrap_or_default(),
                    empty: empty.unwrap_or_default(),
                    trend,
                });
            }
        }
        digests
    }

    /// One of a fixed set of words (an enum parsed with `FromStr`); `None` after an error.
    fn choice<T>(&mut self, value: &Option<S<String>>, key: &str, default: &str) -> Option<T>
    where
        T: std::str::FromStr<Err = String>,
    {
        let Some(value) = value else {
            return default.parse().ok();
        };
        match value.get_ref().parse() {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(value.span(), key.to_string(), message);
                None
            }
        }
    }

    fn watches(
        &mut self,
        raw: Vec<RawWatch>,
        sources: &[SourceConfig],
        digests: &[DigestConfig],
    ) -> Vec<WatchConfig> {
        let mut seen = HashMap::new();
        let mut watches = Vec::new();
        let every = SourceSet::of(sources.iter().map(|s| s.id.clone()).collect());
        let named = selectable(sources);
        for watch in raw {
            let id_ok = self.id(&watch.id, "watch", &mut seen);
            let label = format!("watch {:?}", watch.id.get_ref());
            let query = match Query::parse(watch.query.get_ref()) {
                Ok(q) => Some(q),
                Err(e) => {
                    let offset = self.offset_in_string(&watch.query, e.column);
                    self.report.at_offset(
                        offset,
                        format!("{label}.query"),
                        format!("invalid query: {}", e.message),
                    );
                    None
                }
            };
            let selected = match watch.sources {
                None => every.clone(),
                Some(list) => {
                    let span = list.span();
                    let names = raw::list(list);
                    if names.is_empty() {
                        self.error(
                            span,
                            format!("{label}.sources"),
                            "an empty list selects no source: remove the key to watch every source",
                        );
                    }
                    let mut selected = SourceSet::default();
                    for name in names {
                        match named.get(name.get_ref()) {
                            Some(part) => selected.add(part),
                            None if self.broken.contains(name.get_ref()) => {}
                            None => self.error(
                                name.span(),
                                format!("{label}.sources"),
                                format!("no source id or tag {:?}", name.get_ref()),
                            ),
                        }
                    }
                    selected
                }
            };
            let feeds: Vec<DigestId> = match watch.digests {
                None => digests.iter().map(|d| d.id.clone()).collect(),
                Some(list) => {
                    let mut ids = Vec::new();
                    for name in raw::list(list) {
                        if digests.iter().any(|d| d.id.as_str() == name.get_ref()) {
                            ids.push(DigestId::new(name.into_inner()));
                        } else if !self.broken.contains(name.get_ref()) {
                            self.error(
                                name.span(),
                                format!("{label}.digests"),
                                format!("no digest with id {:?}", name.get_ref()),
                            );
                        }
                    }
                    ids
                }
            };
            let name = watch
                .name
                .map_or_else(|| watch.id.get_ref().clone(), S::into_inner);
            if !id_ok {
                continue;
            }
            let Some(query) = query else {
                self.broken.insert(watch.id.into_inner());
                continue;
            };
            watches.push(WatchConfig {
                id: WatchId::new(watch.id.into_inner()),
                name,
                query,
                sources: selected,
                digests: feeds,
            });
        }
        watches
    }

    fn alerts(&mut self, raw: Vec<RawAlert>, watches: &[WatchConfig], tz: Tz) -> Vec<AlertConfig> {
        let mut seen = HashMap::new();
        let mut alerts = Vec::new();
        for alert in raw {
            let id_ok = self.id(&alert.id, "alert", &mut seen);
            let label = format!("alert {:?}", alert.id.get_ref());
            let to = self.mailboxes(alert.to, &format!("{label}.to"));
            let selected = match alert.watches {
                None => watches.iter().map(|w| w.id.clone()).collect(),
                Some(list) => {
                    let mut ids = Vec::new();
                    for name in raw::list(list) {
                        if watches.iter().any(|w| w.id.as_str() == name.get_ref()) {
                            ids.push(WatchId::new(name.into_inner()));
                        } else if !self.broken.contains(name.get_ref()) {
                            self.error(
                                name.span(),
                                format!("{label}.watches"),
                                format!("no watch with id {:?}", name.get_ref()),
                            );
                        }
                    }
                    ids
                }
            };
            let min_score = self
                .score_value(&alert.min_score, &format!("{label}.min_score"))
                .unwrap_or(defaults::ALERT_MIN_SCORE);
            let builtin_risk_terms = alert
                .builtin_risk_terms
                .as_ref()
                .is_none_or(|b| *b.get_ref());
            let risk_terms: Vec<String> = match alert.risk_terms {
                None => Vec::new(),
                Some(list) => {
                    let terms = raw::list(list);
                    let mut kept = Vec::new();
                    for term in terms {
                        match RiskVocabulary::new(std::slice::from_ref(term.get_ref()), false) {
                            Ok(_) => kept.push(term.into_inner()),
                            Err(message) => {
                                self.error(term.span(), format!("{label}.risk_terms"), message)
                            }
                        }
                    }
                    kept
                }
            };
            if !builtin_risk_terms
                && risk_terms.is_empty()
                && let Some(flag) = &alert.builtin_risk_terms
            {
                self.error(
                    flag.span(),
                    format!("{label}.builtin_risk_terms"),
                    "without the built-in lists the rule has no risk vocabulary: list your own in risk_terms",
                );
            }
            let throttle = match &alert.throttle {
                None => defaults::ALERT_THROTTLE,
                Some(text) => match parse_duration(text.get_ref()) {
                    Ok(d) => d,
                    Err(message) => {
                        self.error(text.span(), format!("{label}.throttle"), message);
                        defaults::ALERT_THROTTLE
                    }
                },
            };
            let lang = self.choice(&alert.lang, &format!("{label}.lang"), "en");
            // Spikes are watched by default, with the default thresholds.
            let spike = match alert.spike {
                None => Some(SpikeRule {
                    factor: defaults::SPIKE_FACTOR,
                    window: defaults::SPIKE_WINDOW,
                    min_mentions: defaults::SPIKE_MIN_MENTIONS,
                }),
                Some(raw) => self.spike(raw, &label),
            };
            let quiet_hours = alert
                .quiet_hours
                .and_then(|raw| self.quiet_hours(raw, &label, tz));
            if id_ok && !to.is_empty() {
                alerts.push(AlertConfig {
                    id: AlertId::new(alert.id.into_inner()),
                    to,
                    watches: selected,
                    min_score,
                    risk_terms,
                    builtin_risk_terms,
                    throttle,
                    lang: lang.unwrap_or_default(),
                    spike,
                    quiet_hours,
                    crisis: alert.crisis.as_ref().is_some_and(|c| *c.get_ref()),
                });
            }
        }
        alerts
    }

    /// A score threshold: a number from 0 to 1.
    fn score_value(&mut self, value: &Option<S<f64>>, key: &str) -> Option<f64> {
        let value = value.as_ref()?;
        let number = *value.get_ref();
        if !(0.0..=1.0).contains(&number) {
            self.error(
                value.span(),
                key.to_string(),
                format!("score {number} is out of range: scores go from 0 to 1"),
            );
            return None;
        }
        Some(number)
    }

    /// `spike = { … }`: every key optional; `enabled = false` turns spikes off for the rule.
    fn spike(&mut self, raw: S<RawSpike>, label: &str) -> Option<SpikeRule> {
        let raw = raw.into_inner();
        let key = format!("{label}.spike");
        let factor = match &raw.factor {
            None => defaults::SPIKE_FACTOR,
            Some(f) if *f.get_ref() > 1.0 && f.get_ref().is_finite() => *f.get_ref(),
            Some(f) => {
                self.error(
                    f.span(),
                    format!("{key}.factor"),
                    format!(
                        "factor {} is too low: a spike is a count above factor × the usual one, so use more than 1 (default 3)",
                        f.get_ref()
                    ),
                );
                defaults::SPIKE_FACTOR
            }
        };
        let window = match &raw.window {
            None => defaults::SPIKE_WINDOW,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d)
                    if d >= Duration::from_secs(60)
                        && d <= defaults::SPIKE_MAX_WINDOW
                        && d.as_secs() % 60 == 0 =>
                {
                    d
                }
                Ok(_) => {
                    self.error(
                        text.span(),
                        format!("{key}.window"),
                        "a spike window is whole minutes, from 1m to 24h (default 1h)",
                    );
                    defaults::SPIKE_WINDOW
                }
                Err(message) => {
                    self.error(text.span(), format!("{key}.window"), message);
                    defaults::SPIKE_WINDOW
                }
            },
        };
        let min_mentions = match &raw.min_mentions {
            None => defaults::SPIKE_MIN_MENTIONS,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.error(
                        n.span(),
                        format!("{key}.min_mentions"),
                        "min_mentions must be a positive whole number (default 5)",
                    );
                    defaults::SPIKE_MIN_MENTIONS
                }
            },
        };
        if raw.enabled.is_some_and(|e| !*e.get_ref()) {
            return None;
        }
        Some(SpikeRule {
            factor,
            window,
            min_mentions,
        })
    }

    fn quiet_hours(&mut self, raw: S<RawQuietHours>, label: &str, tz: Tz) -> Option<QuietHours> {
        let raw = raw.into_inner();
        let key = format!("{label}.quiet_hours");
        let mut time = |text: &S<String>, part: &str| match parse_time_of_day(text.get_ref()) {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(text.span(), format!("{key}.{part}"), message);
                None
            }
        };
        let from = time(&raw.from, "from");
        let to = time(&raw.to, "to");
        let unless_score = self.score_value(&raw.unless_score, &format!("{key}.unless_score"));
        let (from, to) = (from?, to?);
        if from == to {
            self.error(
                raw.to.span(),
                format!("{key}.to"),
                "quiet hours that start and end at the same time are empty: remove quiet_hours or fix the times",
            );
            return None;
        }
        Some(QuietHours {
            from,
            to,
            unless_score,
            tz,
        })
    }

    /// Byte offset in the file of the `column`-th character inside a string value (after its
    /// opening quote). Exact for strings without escapes, close otherwise.
    fn offset_in_string(&self, value: &S<String>, column: usize) -> usize {
        let span = value.span();
        let raw = &self.report.text()[span.clone()];
        let quote_len = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let inner_start = span.start + quote_len;
        let inner = &self.report.text()[inner_start.min(span.end)..span.end];
        let within = inner
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(inner.len(), |(i, _)| i);
        inner_start + within
    }
}

/// A network in CIDR notation (`10.20.0.0/16`, `::1/128`), or one address.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|network| network.trunc())
        .map_err(|_| {
            format!(
                "{text:?} is not a network: write an address with its prefix length, such as \"127.0.0.0/8\", \"::1/128\" or \"10.20.0.0/16\""
            )
        })
}

/// Removes `.` and `..` components without touching the file system (the file need not
/// exist yet), so messages show `/srv/veille/state/veille.db`, not `/srv/veille/conf/../state`.
fn lexically_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !matches!(clean.components().next_back(), Some(Component::Normal(_)))
                    || !clean.pop()
                {
                    clean.push("..");
                }
            }
            other => clean.push(other),
        }
    }
    clean
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests;

/// What a digest does with a window that found nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmptyPolicy {
    /// Close the window quietly: no mail.
    #[default]
    Skip,
    /// Send a short "nothing new" mail, so readers know veille is alive.
    Send,
}

impl std::str::FromStr for EmptyPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<EmptyPolicy, String> {
        match text {
            "skip" => Ok(EmptyPolicy::Skip),
            "send" => Ok(EmptyPolicy::Send),
            other => Err(format!(
                "unknown policy {other:?}: use \"skip\" or \"send\""
            )),
        }
    }
}
