//! Prometheus metrics: what veille did since it started, and what the database holds now.
//!
//! Counters and the fetch-duration histogram are updated where the work happens (a source
//! run, a mail delivery). Gauges that describe state (pending and failed mail, failing
//! sources, database size) are read from the store when `/metrics` is scraped, so they are
//! right even for work done by another process (`veille digest send`) or before a restart.
//! Encoding is prometheus-client's, in the text exposition format.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::Counts;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WatchLabel {
    watch: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// How a poll ended, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Updated,
    NotModified,
    Failed,
}

impl PollOutcome {
    fn label(self) -> &'static str {
        match self {
            PollOutcome::Updated => "updated",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Failed => "failed",
        }
    }
}

/// Every metric veille exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    polls: Family<OutcomeLabel, Counter>,
    fetch_seconds: Histogram,
    items_new: Counter,
    items_seen: Counter,
    mentions: Family<WatchLabel, Counter>,
    mails_sent: Family<KindLabel, Counter>,
    outbox_pending: Gauge,
    outbox_failed: Gauge,
    sources_failing: Gauge,
    sources: Gauge,
    database_bytes: Gauge<u64, AtomicU64>,
    login_failures: Counter,
    logins_refused: Family<ReasonLabel, Counter>,
    http_refused: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("veille");
        let polls = Family::<OutcomeLabel, Counter>::default();
        registry.register("polls", "Source polls, by outcome", polls.clone());
        // 10 ms to about 80 s: a local file, a fast feed, a slow site, a timeout.
        let fetch_seconds = Histogram::new(exponential_buckets(0.01, 2.5, 10));
        registry.register(
            "poll_duration_seconds",
            "Time to fetch, parse, match and store one source",
            fetch_seconds.clone(),
        );
        let items_new = Counter::default();
        registry.register(
            "items_new",
            "Items stored for the first time",
            items_new.clone(),
        );
        let items_seen = Counter::default();
        registry.register(
            "items_seen",
            "Items polled again, already stored",
            items_seen.clone(),
        );
        let mentions = Family::<WatchLabel, Counter>::default();
        registry.register("mentions", "New mentions, by watch", mentions.clone());
        let mails_sent = Family::<KindLabel, Counter>::default();
        registry.register(
            "mails_sent",
            "Mails delivered, by kind (digest, alert)",
            mails_sent.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "outbox_pending",
            "Mails waiting for delivery",
            outbox_pending.clone(),
        );
        let outbox_failed = Gauge::default();
        registry.register(
            "outbox_failed",
            "Mails refused for good (see `veille outbox`)",
            outbox_failed.clone(),
        );
        let sources_failing = Gauge::default();
        registry.register(
            "sources_failing",
            "Sources whose last poll failed",
            sources_failing.clone(),
        );
        let sources = Gauge::default();
        registry.register("sources", "Configured sources", sources.clone());
        let database_bytes = Gauge::<u64, AtomicU64>::default();
        registry.register(
            "database_size_bytes",
            "Size of the SQLite database with its write-ahead log",
            database_bytes.clone(),
        );
        let login_failures = Counter::default();
        registry.register(
            "login_failures",
            "Logins to the review page whose password was checked and wrong",
            login_failures.clone(),
        );
        let logins_refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "logins_refused",
            "Login attempts refused before any password check, by reason (client, overall: \
             throttled; busy: the password-check queue was full; used_form: the form had \
             already served once)",
            logins_refused.clone(),
        );
        let http_refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_refused",
            "Requests the listener refused, by reason (host: a Host that does not name \
             veille; origin: a form from another site; metrics: /metrics without the \
             token or from another machine)",
            http_refused.clone(),
        );
        Metrics {
            registry,
            polls,
            fetch_seconds,
            items_new,
            items_seen,
            mentions,
            mails_sent,
            outbox_pending,
            outbox_failed,
            sources_failing,
            sources,
            database_bytes,
            login_failures,
            logins_refused,
            http_refused,
        }
    }

    /// Records one source run.
    pub fn record_poll(
        &self,
        outcome: PollOutcome,
        seconds: f64,
        items_new: usize,
        items_seen: usize,
        mentions: impl IntoIterator<Item = (String, usize)>,
    ) {
        self.polls
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label(),
            })
            .inc();
        self.fetch_seconds.observe(seconds);
        self.items_new.inc_by(items_new as u64);
        self.items_seen.inc_by(items_seen as u64);
        for (watch, n) in mentions {
            self.mentions
                .get_or_create(&WatchLabel { watch })
                .inc_by(n as u64);
        }
    }

    /// Records one delivered mail of `kind` (`digest`, `alert`).
    pub fn record_mail_sent(&self, kind: &str) {
        self.mails_sent
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Records a login whose password was wrong.
    pub fn record_login_failure(&self) {
        self.login_failures.inc();
    }

    /// Records a login attempt refused before its password was checked.
    pub fn record_login_refused(&self, reason: &'static str) {
        self.logins_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Records a request the listener refused (`host`, `origin`, `metrics`).
    pub fn record_http_refused(&self, reason: &'static str) {
        self.http_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// The text exposition, with the state gauges set from `counts` first.
    pub fn render(&self, counts: &Counts, sources: usize, database_bytes: u64) -> String {
        self.outbox_pending.set(counts.outbox_pending);
        self.outbox_failed.set(counts.outbox_failed);
        self.sources_failing.set(counts.sources_failing);
        self.sources.set(sources as i64);
        self.database_bytes.set(database_bytes);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}
