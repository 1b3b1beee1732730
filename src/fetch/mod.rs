//! Getting the bytes of a source: HTTP(S) with reqwest, or a local file.
//!
//! A fetch never panics and never throws: every result is a [`FetchOutcome`], and a failure
//! is a [`FetchError`] the pipeline records on the source. Conditional GET (ETag and
//! Last-Modified) is built in, so an unchanged feed costs one round trip and no parsing.
//! The body is read chunk by chunk and abandoned as soon as it passes the size cap, so an
//! endless or decompression-bomb response stops early. This module knows nothing about
//! keywords or the database.
//!
//! Redirects are followed by hand, one hop at a time, so that each hop is judged on its own:
//! whether it is permanent (recorded as `moved_to`), whether it may be reached at all (the
//! network policy, [`policy`]: internal addresses are refused unless allowed), and whether
//! it gets the source's credentials ([`credentials`]: its own origin only). A `Location`'s
//! userinfo is dropped before the hop is made.

pub mod backoff;
pub mod credentials;
pub mod policy;
pub mod politeness;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    RETRY_AFTER,
};
use tokio::io::AsyncReadExt;
use url::Url;

/// Defaults for the HTTP client.
pub mod defaults {
    use std::time::Duration;

    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
    /// Larger than any sane feed; small enough that a runaway body cannot hurt the daemon.
    pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    pub const MAX_REDIRECTS: usize = 5;
    /// Fetches at the same time, all hosts together.
    pub const MAX_CONCURRENT_FETCHES: usize = 16;
    /// Fetches at the same time to one host: 200 sources on one site never hammer it.
    pub const PER_HOST_CONCURRENCY: usize = 2;
}

/// What the server told us last time, to ask "has it changed?" next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A body we received.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The URL after redirects; relative links in the document resolve against it.
    pub final_url: Url,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// Where a chain of permanent redirects (301/308) from the configured URL led.
    pub moved_to: Option<Url>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: nothing changed since the validators we sent.
    NotModified {
        moved_to: Option<Url>,
    },
    Fetched(Fetched),
    Failed(FetchError),
}

/// Why a fetch failed, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}", reason_suffix(*.status))]
    Status { status: u16 },
    /// 429 or 503: the server asked us to slow down.
    #[error("HTTP {status}{}{}", reason_suffix(*.status), retry_suffix(*.retry_after))]
    Busy {
        status: u16,
        retry_after: Option<politeness::RetryAfter>,
    },
    /// 410: the feed will not come back.
    #[error(
        "HTTP 410 Gone: the publisher removed this feed; find its new URL or remove the source"
    )]
    Gone,
    #[error("response larger than {limit} bytes: stopped reading")]
    TooLarge { limit: usize },
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("unsupported URL scheme {0:?}: use http, https or file")]
    UnsupportedScheme(String),
    /// The network policy refused the address (the source's, a redirect's, or one its
    /// name resolved to).
    #[error(transparent)]
    Refused(policy::Refusal),
    #[error("{0}")]
    Other(String),
}

fn retry_suffix(retry_after: Option<politeness::RetryAfter>) -> String {
    retry_after
        .map(|r| format!(" (asked to retry after {r})"))
        .unwrap_or_default()
}

fn reason_suffix(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

/// Settings of the fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_concurrent: usize,
    pub per_host: usize,
    /// Lower per-host limits for some hosts, keyed by [`politeness::host_key`].
    pub host_limits: std::collections::BTreeMap<String, usize>,
    /// Which addresses http(s) fetches may reach (internal ones are refused by default).
    pub network: policy::NetworkPolicy,
}

impl FetchSettings {
    pub fn new(user_agent: impl Into<String>) -> Self {
        FetchSettings {
            user_agent: user_agent.into(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            total_timeout: defaults::TOTAL_TIMEOUT,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_concurrent: defaults::MAX_CONCURRENT_FETCHES,
            per_host: defaults::PER_HOST_CONCURRENCY,
            host_limits: Default::default(),
            network: policy::NetworkPolicy::default(),
        }
    }
}

/// Fetches sources. Cheap to clone (the HTTP connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    politeness: politeness::Politeness,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.total_timeout)
            // Redirects are followed by hand, to judge each hop (see the module doc).
            .redirect(reqwest::redirect::Policy::none())
            // Every address a name resolves to is checked when it is connected to.
            .dns_resolver(settings.network.resolver())
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))?;
        let politeness = politeness::Politeness::with_host_limits(
            settings.max_concurrent,
            settings.per_host,
            settings.host_limits.clone(),
        );
        Ok(Fetcher {
            client,
            settings,
            politeness,
        })
    }

    /// The global and per-host fetch limits this fetcher's users share.
    pub fn politeness(&self) -> &politeness::Politeness {
        &self.politeness
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// Fetches `url`, asking only for a changed document when `previous` has validators,
    /// and logging in with `credentials` on `url`'s origin.
    pub async fn fetch(
        &self,
        url: &Url,
        previous: &Validators,
        credentials: Option<&credentials::Credentials>,
    ) -> FetchOutcome {
        let result = match url.scheme() {
            "http" | "https" => self.fetch_http(url, previous, credentials).await,
            "file" => self.fetch_file(url).await,
            other => Err(FetchError::UnsupportedScheme(other.to_string())),
        };
        match result {
            Ok(outcome) => outcome,
            Err(error) => FetchOutcome::Failed(error),
        }
    }

    async fn fetch_http(
        &self,
        url: &Url,
        previous: &Validators,
        credentials: Option<&credentials::Credentials>,
    ) -> Result<FetchOutcome, FetchError> {
        // The total timeout covers the whole exchange, redirects and body included.
        tokio::time::timeout(
            self.settings.total_timeout,
            self.fetch_http_inner(url, previous, credentials),
        )
        .await
        .unwrap_or(Err(FetchError::Timeout(self.settings.total_timeout)))
    }

    async fn fetch_http_inner(
        &self,
        url: &Url,
        previous: &Validators,
        credentials: Option<&credentials::Credentials>,
    ) -> Result<FetchOutcome, FetchError> {
        let url = credentials::without_userinfo(url);
        let mut current = url.clone().into_owned();
        let mut moved_to = None;
        let mut all_permanent = true;
        let mut hops = 0;
        let response = loop {
            // An IP-literal host is checked here: reqwest connects to it without asking
            // the resolver, which checks names.
            self.settings
                .network
                .check_url(&current)
                .map_err(FetchError::Refused)?;
            let mut request = self.client.get(current.clone());
            if let Some(login) = credentials.filter(|c| c.applies_to(&url, &current)) {
                request = request.basic_auth(login.username(), Some(login.password().expose()));
            }
            if let Some(etag) = &previous.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &previous.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let response = request.send().await.map_err(|e| self.classify(e))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let Some(location) = header_text(response.headers(), LOCATION.as_str()) else {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                });
            };
            hops += 1;
            if hops > defaults::MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects(defaults::MAX_REDIRECTS));
            }
            let next = current.join(&location).map_err(|e| {
                let location = credentials::redact_userinfo(&location);
                FetchError::Other(format!("bad redirect to {location:?}: {e}"))
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::UnsupportedScheme(next.scheme().to_string()));
            }
            // Never sent (reqwest would make it a header), never stored as `moved_to`.
            let next = credentials::without_userinfo(&next).into_owned();
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            if all_permanent {
                moved_to = Some(next.clone());
            }
            current = next;
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { moved_to });
        }
        if status == StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = header_text(response.headers(), RETRY_AFTER.as_str())
                .and_then(|v| politeness::parse_retry_after(&v));
            return Err(FetchError::Busy {
                status: status.as_u16(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        let final_url = response.url().clone();
        let headers = response.headers().clone();
        let limit = self.settings.max_body_bytes;
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.classify(e))?;
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            body,
            final_url,
            content_type: header_text(&headers, CONTENT_TYPE.as_str()),
            validators: Validators {
                etag: header_text(&headers, ETAG.as_str()),
                last_modified: header_text(&headers, LAST_MODIFIED.as_str()),
            },
            moved_to,
        }))
    }

    async fn fetch_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            message: "not a local file path".to_string(),
        })?;
        let file_error = |e: std::io::Error| FetchError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = tokio::fs::File::open(&path).await.map_err(file_error)?;
        let limit = self.settings.max_body_bytes;
        let mut body = Vec::new();
        // Read one byte past the cap to tell "exactly at the cap" from "over it".
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        file.take(cap)
            .read_to_end(&mut body)
            .await
            .map_err(file_error)?;
        if body.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        Ok(FetchOutcome::Fetched(Fetched {
            body,
            final_url: url.clone(),
            content_type: None,
            validators: Validators::default(),
            moved_to: None,
        }))
    }

    fn classify(&self, error: reqwest::Error) -> FetchError {
        if let Some(refusal) = policy::refusal_in(&error) {
            FetchError::Refused(refusal)
        } else if error.is_timeout() {
            FetchError::Timeout(self.settings.total_timeout)
        } else if error.is_redirect() {
            FetchError::TooManyRedirects(defaults::MAX_REDIRECTS)
        } else if error.is_connect() {
            FetchError::Connect(crate::error_chain(&error))
        } else {
            FetchError::Other(crate::error_chain(&error))
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}
