//! Being a good citizen towards publishers: how many fetches run at once, overall and per
//! host, and what a server's `Retry-After` asks for.
//!
//! Two layers of semaphores: one per host (`daemon.per_host_concurrency`, default 2) and
//! one global (`daemon.max_concurrent_fetches`, default 16). A run takes its host permit
//! first and only then a global one, so 200 sources waiting on one slow host never hold
//! global slots the other hosts could use. Permits are held for the whole source run
//! (fetch, parse, store), which also bounds memory: at most that many bodies are alive.
//! Trade-off: a host's semaphore is kept for the life of the process (one small entry per
//! host the configuration names).
//!
//! Some platforms need fewer slots than the global per-host default (Reddit answers 429 to
//! parallel requests): `host_limits` lowers the count for named hosts. It is keyed by host,
//! not by source, because the server counts requests per client, whatever feed they ask
//! for; the configuration gives the lowest value any source of that host asks for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

/// The longest `Retry-After` honoured: a server asking for more is polled after a week.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The fetch limits, shared by every source run (cheap to clone).
#[derive(Debug, Clone)]
pub struct Politeness {
    global: Arc<Semaphore>,
    per_host: usize,
    /// Lower per-host counts for some hosts (keys as [`host_key`] makes them).
    host_limits: Arc<BTreeMap<String, usize>>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// Held while a source runs; dropping it frees the slots.
#[derive(Debug)]
pub struct Permit {
    _host: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl Politeness {
    /// Whether both hand out the same slots (clones of one `Politeness`).
    pub fn is_shared_with(&self, other: &Politeness) -> bool {
        Arc::ptr_eq(&self.global, &other.global) && Arc::ptr_eq(&self.hosts, &other.hosts)
    }

    pub fn new(max_concurrent: usize, per_host: usize) -> Politeness {
        Politeness::with_host_limits(max_concurrent, per_host, BTreeMap::new())
    }

    /// Like [`Politeness::new`], with fewer slots for the hosts of `host_limits` (a limit
    /// above `per_host` is ignored: a preset never raises the admin's limit).
    pub fn with_host_limits(
        max_concurrent: usize,
        per_host: usize,
        host_limits: BTreeMap<String, usize>,
    ) -> Politeness {
        Politeness {
            global: Arc::new(Semaphore::new(max_concurrent.max(1))),
            per_host: per_host.max(1),
            host_limits: Arc::new(host_limits),
            hosts: Arc::default(),
        }
    }

    /// Slots for the host of `key`.
    fn slots(&self, key: &str) -> usize {
        self.host_limits
            .get(key)
            .map_or(self.per_host, |&limit| limit.clamp(1, self.per_host))
    }

    /// Waits for a slot for `url`'s host, then for a global slot. Local files take only a
    /// global slot.
    pub async fn acquire(&self, url: &Url) -> Permit {
        let host = match host_key(url) {
            Some(key) => {
                let slots = self.slots(&key);
                let semaphore = {
                    let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
                    Arc::clone(
                        hosts
                            .entry(key)
                            .or_insert_with(|| Arc::new(Semaphore::new(slots))),
                    )
                };
                // The semaphores are never closed, so acquiring cannot fail.
                semaphore.acquire_owned().await.ok()
            }
            None => None,
        };
        let global = Arc::clone(&self.global).acquire_owned().await.ok();
        Permit {
            _host: host,
            _global: global,
        }
    }
}

/// `host:port` of an http(s) URL; `None` for local files.
pub fn host_key(url: &Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    Some(format!(
        "{host}:{}",
        url.port_or_known_default().unwrap_or(0)
    ))
}

/// What a `Retry-After` header asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    Delay(Duration),
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// The earliest next poll, capped at `now +` [`MAX_RETRY_AFTER`].
    pub fn until(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let cap = now + chrono::Duration::from_std(MAX_RETRY_AFTER).unwrap_or_default();
        match self {
            RetryAfter::Delay(d) => chrono::Duration::from_std(d).map_or(cap, |d| now + d),
            RetryAfter::At(at) => at.max(now),
        }
        .min(cap)
    }
}

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryAfter::Delay(d) => write!(f, "{}s", d.as_secs()),
            RetryAfter::At(at) => write!(f, "{}", at.format("%Y-%m-%d %H:%M UTC")),
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<RetryAfter> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
    }
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|at| RetryAfter::At(at.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .unwrap_or_default();
        let cases: &[(&str, Option<i64>)] = &[
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("Fri, 27 Nov 2026 08:05:00 GMT", Some(300)),
            ("Fri, 27 Nov 2026 07:00:00 GMT", Some(0)),
            ("99999999", Some(MAX_RETRY_AFTER.as_secs() as i64)),
            ("soon", None),
            ("-5", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value).map(|r| (r.until(now) - now).num_seconds()),
                *want,
                "{value}"
            );
        }
    }

    #[test]
    fn host_keys_separate_hosts_and_ports_but_not_paths() {
        let key = |u: &str| Url::parse(u).ok().and_then(|u| host_key(&u));
        assert_eq!(key("https://A.example/x"), key("https://a.example:443/y"));
        assert_ne!(key("http://a.example/"), key("http://a.example:8080/"));
        assert_eq!(key("file:///tmp/feed.xml"), None);
    }

    #[tokio::test]
    async fn a_busy_host_does_not_take_global_slots() {
        let limits = Politeness::new(2, 1);
        let a = Url::parse("http://a.example/1").unwrap_or_else(|e| panic!("{e}"));
        let b = Url::parse("http://b.example/1").unwrap_or_else(|e| panic!("{e}"));
        let _first = limits.acquire(&a).await;
        // A second run on host a waits for its host slot without holding a global one…
        let waiting = tokio::spawn({
            let limits = limits.clone();
            let a = a.clone();
            async move { limits.acquire(&a).await }
        });
        tokio::task::yield_now().await;
        // …so host b still gets the second global slot at once.
        let got_b = tokio::time::timeout(Duration::from_millis(200), limits.acquire(&b)).await;
        assert!(got_b.is_ok(), "host b was blocked by host a");
        assert!(!waiting.is_finished(), "host a got a second slot");
        waiting.abort();
    }

    #[tokio::test]
    async fn a_host_limit_lowers_that_host_only() {
        let url = |u: &str| Url::parse(u).unwrap_or_else(|e| panic!("{e}"));
        let reddit = url("https://www.reddit.com/r/france/.rss");
        let other = url("https://news.example/feed");
        let limits = BTreeMap::from([
            (host_key(&reddit).unwrap_or_default(), 1),
            (host_key(&other).unwrap_or_default(), 9),
        ]);
        let limits = Politeness::with_host_limits(8, 2, limits);
        assert_eq!(limits.slots("www.reddit.com:443"), 1);
        assert_eq!(limits.slots("news.example:443"), 2, "never above per_host");
        assert_eq!(limits.slots("elsewhere.example:443"), 2);
        let _first = limits.acquire(&reddit).await;
        let second = tokio::time::timeout(
            Duration::from_millis(100),
            limits.acquire(&url("https://www.reddit.com/search.rss?q=x")),
        )
        .await;
        assert!(second.is_err(), "a second Reddit fetch got a slot");
        let _a = limits.acquire(&other).await;
        let b = tokio::time::timeout(Duration::from_millis(100), limits.acquire(&other)).await;
        assert!(b.is_ok(), "the other host lost its second slot");
    }
}
