//! The validated configuration: what the daemon runs on, and what it can say about itself
//! (its warnings). Every value here passed validation (see `validate`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use url::Url;

use crate::extract::select::PageSelect;
use crate::matching::Query;
use crate::model::{AlertId, DigestId, Lang, Secret, SourceId, SourceKind, WatchId};
use crate::schedule::Schedule;

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
    /// The main file first, then the files it includes, each with the entries it defines.
    pub files: Vec<ConfigFile>,
}

/// One file of a configuration and the ids of the entries it defines (`veille check`
/// says which file defined what).
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub sources: Vec<String>,
    pub watches: Vec<String>,
    pub digests: Vec<String>,
    pub alerts: Vec<String>,
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
    pub(super) fn of(ids: HashSet<SourceId>) -> SourceSet {
        SourceSet {
            parts: vec![std::sync::Arc::new(ids)],
        }
    }

    pub(super) fn add(&mut self, part: &std::sync::Arc<HashSet<SourceId>>) {
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
pub(super) fn selectable(
    sources: &[SourceConfig],
) -> HashMap<String, std::sync::Arc<HashSet<SourceId>>> {
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
pub(super) fn is_loopback_host(host: &str) -> bool {
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
