//! The daemon's HTTP listener (`daemon.listen`): `GET /metrics` in the Prometheus text
//! format, `GET /healthz` for load balancers and uptime checks, and, when `[web]` is
//! configured, the pages where people judge mentions: one-click judgment links from mail
//! (`link`), the review page (`review`) and its login (`auth`).
//!
//! It serves whatever configuration the daemon runs now (it follows reloads through a
//! watch channel). It listens on loopback by default: the metrics name watches and
//! sources, and the review page shows what the organisation monitors.
//!
//! # Security design
//!
//! - **Every request names us** (`guard`, before any page runs). DNS rebinding lets a page
//!   on another site talk to this listener through the reader's browser, as its own
//!   origin; what it cannot change is the `Host` it sends. A request whose `Host` is not
//!   `web.base_url`'s host and port, a loopback name or address, or the IP the client
//!   connected to gets **421 Misdirected Request** and a short page. `/healthz` is exempt
//!   (load balancers probe it under any name; it tells little), and so is `/metrics` with
//!   the right bearer token (a rebinding page cannot know it).
//! - **A GET never changes anything.** Mail security scanners and link previewers open
//!   every link in a mail, so a judgment link only shows a confirmation page with one
//!   button; the verdict is stored by the POST that button sends. HEAD follows GET.
//! - **Judgment links carry their own authority.** The mention, verdict and expiry are path
//!   segments signed with an HMAC (`crate::judge::token`), so the one action a link allows
//!   needs no login, and a tampered, forged or expired link gets a refusal page saying what
//!   to do instead. Path segments rather than a query string: nothing to reorder or
//!   duplicate, and every segment is covered by the signature. Since the URL is the
//!   credential, every page sends `Referrer-Policy: no-referrer`, and links out of our
//!   pages carry `rel=noreferrer`.
//! - **Sessions are signed, not stored.** When `web.password_hash` is set, `/review` needs a
//!   login (argon2 PHC verify). The session cookie is `expiry|kind|nonce|mac` (kind: logged
//!   in or anonymous), the MAC keyed with the link key and bound to `web.user` and the
//!   password hash (a new password ends every session). Cookie flags: `HttpOnly` (no script reads it), `SameSite=Strict` (no other
//!   site's page sends it), `Path=/`, and `Secure` when `web.base_url` is https. Logging out
//!   clears the cookie and remembers the nonce until it expires, so a copy of the cookie
//!   is refused too (in memory: a restart forgets it, a trade-off for having no session
//!   table; the cookie still expires after 12 hours). Without a password (loopback only,
//!   the config insists), `/review` refuses requests that carry reverse-proxy headers
//!   (`Forwarded`, `X-Forwarded-For`…), so a proxy on the same host cannot expose it.
//! - **Every POST carries a CSRF token** that must match: for the review page, login and
//!   logout it is a MAC of the session cookie (visitors without a session get an
//!   anonymous one, so the login form has a token too); for a link's confirmation it is a
//!   MAC of the link's path. A POST whose `Origin` is not `web.base_url`'s origin, a
//!   loopback origin or the connected IP is refused by the guard; `Origin` is never
//!   compared with `Host`, which a rebinding page chooses too (`Origin: null`, which
//!   browsers send for our own forms under `no-referrer`, counts as none: the token
//!   decides). A refused POST gets a 403 page and changes nothing.
//! - **Guessing passwords is slow, and cannot exhaust the daemon** (`auth`, `throttle`,
//!   `password`). A login form serves one attempt: its session ends when the attempt
//!   starts, and a failed attempt's answer brings a new form. Failed attempts are
//!   throttled per client address and overall (five free, then waits that double up to
//!   5 minutes per client; thirty free, then up to 1 minute for everyone but this machine),
//!   answered 429 with `Retry-After` without hashing anything; a throttle ends by itself,
//!   so nobody can lock the admin out for good. Passwords are checked on one thread with
//!   its own argon2 memory, behind a queue of 8: a flood gets 503s, and the daemon's
//!   memory for checks stays one hash's worth (19 MiB). Behind a reverse proxy on this
//!   machine the client is the address the proxy appends to `X-Forwarded-For` (or
//!   `Forwarded`); those headers are believed only from a loopback peer (see `guard`).
//! - **/metrics** names watches and sources: with `daemon.metrics_token_file` it needs
//!   `Authorization: Bearer <token>` (else 401); without, it answers only this machine (a
//!   loopback peer without proxy headers; else 403). `veille check` refuses a listener on
//!   a non-loopback address without a token.
//! - **Log lines are one line.** Text from a request (a login name, an error that may quote
//!   a request) goes into log fields quoted (`?field`) or through `OneLine`, so a line
//!   break in it cannot forge a log line.
//! - **Bounded requests.** Bodies over 64 KiB are refused before a handler runs.
//! - **Headers on every response:** a Content-Security-Policy that allows only our own
//!   stylesheet and script (no inline code, no framing, forms post only to us),
//!   `X-Content-Type-Options: nosniff`, `Cache-Control: no-store` (pages name what was
//!   judged and carry tokens). Failed logins also wait half a second before the answer.
//!
//! Page text is escaped by the templates (`page`), so feed-supplied titles are text. Pages
//! speak `web.lang` (English or French): every word comes from `page::Words`.

mod auth;
mod guard;
mod link;
mod page;
mod password;
mod review;
mod throttle;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::config::WebConfig;
use crate::model::Lang;
use crate::model::WatchId;
use page::Words;

pub use auth::{LOCAL_USER, SESSION_COOKIE};

/// The content type Prometheus expects for the text format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Only our own stylesheet and script; forms post only to us; no framing (clickjacking
/// the one-click buttons).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// The largest request body read: our forms carry a token, a verdict and a note of at
/// most 2000 characters. Bodies are buffered whole, so this bounds a request's memory.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler gets: the application as configured now, and what the listener
/// remembers across reloads (for as long as it runs): the sessions that logged out (or
/// whose login form served once), the login throttle and the password-check threads.
#[derive(Clone)]
struct Web {
    app: watch::Receiver<App>,
    revoked: Arc<auth::Revoked>,
    throttle: Arc<Mutex<throttle::Throttle>>,
    passwords: Arc<password::Checker>,
}

impl Web {
    fn app(&self) -> App {
        self.app.borrow().clone()
    }
}

/// Serves until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: watch::Receiver<App>,
    mut stop: watch::Receiver<bool>,
) {
    let router = router(Web {
        app,
        revoked: Arc::default(),
        throttle: Arc::default(),
        passwords: Arc::new(password::Checker::start()),
    });
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
    };
    if let Err(e) = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<guard::Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        tracing::error!(error = %OneLine(&e), "the HTTP listener stopped");
    }
}

fn router(web: Web) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(style))
        .route("/static/review.js", get(review_script))
        .route(
            "/j/{mention}/{verdict}/{expires}/{sig}",
            get(link::confirm).post(link::submit),
        )
        .route("/review", get(review::page))
        .route("/review/judge", post(review::judge))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            guard_request,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// The checks every request passes before its page runs (see `guard`): it names this
/// listener in `Host`, and a form comes from one of our own origins.
async fn guard_request(State(web): State<Web>, request: Request, next: Next) -> Response {
    let app = web.app();
    let path = request.uri().path();
    let exempt = path == "/healthz"
        || (path == "/metrics"
            && app
                .config
                .daemon
                .metrics_token
                .as_ref()
                .is_some_and(|token| guard::bearer_matches(request.headers(), token)));
    if exempt {
        return next.run(request).await;
    }
    let local = request
        .extensions()
        .get::<ConnectInfo<guard::Peer>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.0.local.ip());
    let names = guard::Names {
        base_url: web_config(&app).and_then(|w| w.base_url.as_ref()),
        local,
    };
    let words = words(&app);
    let hosts = guard::request_hosts(request.uri(), request.headers());
    if hosts.is_empty() || !hosts.iter().all(|host| names.host_allowed(host)) {
        app.metrics.record_http_refused("host");
        return page::refusal(StatusCode::MISDIRECTED_REQUEST, words, &words.misdirected);
    }
    let foreign_origin = !request.method().is_safe()
        && request.headers().get(header::ORIGIN).is_some_and(|origin| {
            !origin
                .to_str()
                .is_ok_and(|origin| names.origin_allowed(origin))
        });
    if foreign_origin {
        app.metrics.record_http_refused("origin");
        return cross_site(words);
    }
    next.run(request).await
}

/// Text from a request (or an error that may quote it) in a log field: control characters
/// escaped, so it can never start a line of its own. Request data that is a plain string
/// goes in with `?field` (Debug quotes and escapes it); this is for `Display` values.
struct OneLine<'a, T: ?Sized>(&'a T);

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for OneLine<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        let text = self.0.to_string();
        for c in text.chars() {
            if c.is_control() {
                for escaped in c.escape_default() {
                    f.write_char(escaped)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The headers every response carries (see the module doc).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/style.css"),
    )
        .into_response()
}

async fn review_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/review.js"),
    )
        .into_response()
}

/// The `[web]` section, when the pages are on.
fn web_config(app: &App) -> Option<&WebConfig> {
    app.config.web.as_ref()
}

/// Whether cookies get `Secure`: the pages are reached over https.
fn secure(web: &WebConfig) -> bool {
    web.base_url.as_ref().is_some_and(|u| u.scheme() == "https")
}

/// The words of the pages, in `web.lang` (English when `[web]` is missing).
fn words(app: &App) -> &'static Words {
    Words::of(web_config(app).map_or(Lang::default(), |w| w.lang))
}

/// Without `[web]` the judgment pages do not exist (and have no language: English).
fn pages_off() -> Response {
    let words = Words::of(Lang::default());
    page::refusal(StatusCode::NOT_FOUND, words, &words.pages_off)
}

/// A POST from a page of another site.
fn cross_site(words: &Words) -> Response {
    page::refusal(StatusCode::FORBIDDEN, words, &words.cross_site)
}

/// A POST whose CSRF field is missing or belongs to another session.
fn csrf_refused(words: &Words) -> Response {
    page::refusal(StatusCode::FORBIDDEN, words, &words.csrf_refused)
}

/// The database did not answer.
fn store_failed(words: &Words, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %OneLine(error), "a web page cannot use the database");
    page::refusal(StatusCode::SERVICE_UNAVAILABLE, words, &words.store_failed)
}

/// A time as readers of this veille read it: in `daemon.timezone`, in `web.lang`.
fn when(app: &App, at: DateTime<Utc>) -> String {
    words(app).when(at, &app.config.daemon.timezone)
}

/// A watch's name, or its id when the configuration no longer has it.
fn watch_name(app: &App, watch: &WatchId) -> String {
    app.config
        .watches
        .iter()
        .find(|w| &w.id == watch)
        .map_or_else(|| watch.as_str().to_string(), |w| w.name.clone())
}

/// Only http(s) URLs become links (never `javascript:`).
fn http_url(url: Option<&str>) -> Option<String> {
    let url = url::Url::parse(url?).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

async fn not_found(State(web): State<Web>) -> Response {
    let words = words(&web.app());
    page::refusal(StatusCode::NOT_FOUND, words, &words.not_found)
}

/// `/metrics`: with `daemon.metrics_token_file`, for the bearer of the token (the guard
/// let a right one through already); without, for this machine only.
async fn metrics(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<guard::Peer>,
    headers: HeaderMap,
) -> Response {
    let app = web.app();
    match &app.config.daemon.metrics_token {
        Some(token) if !guard::bearer_matches(&headers, token) => {
            app.metrics.record_http_refused("metrics");
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"veille metrics\"")],
                "/metrics needs the token of daemon.metrics_token_file: \
                 Authorization: Bearer <token>\n",
            )
                .into_response();
        }
        None if !guard::from_this_machine(&peer, &headers) => {
            app.metrics.record_http_refused("metrics");
            return (
                StatusCode::FORBIDDEN,
                "/metrics answers only on this machine (a loopback client, not through a \
                 proxy); set daemon.metrics_token_file to read it from elsewhere\n",
            )
                .into_response();
        }
        _ => {}
    }
    let database = app.config.daemon.database.clone();
    let counts = match app.db(|s| s.counts()).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::error!(error = %OneLine(&e), "cannot read the database for /metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
        }
    };
    let size = database_size(&database);
    let body = app.metrics.render(&counts, app.config.sources.len(), size);
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response()
}

/// 200 when the database answers, 503 otherwise; a one-line JSON body either way.
async fn healthz(State(web): State<Web>) -> Response {
    let app = web.app();
    match app.db(|s| s.counts()).await {
        Ok(counts) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "status": "ok",
                "sources": app.config.sources.len(),
                "sources_failing": counts.sources_failing,
                "outbox_pending": counts.outbox_pending,
                "outbox_failed": counts.outbox_failed,
            })
            .to_string(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "status": "error", "error": e.to_string() }).to_string(),
        )
            .into_response(),
    }
}

/// The database file plus its write-ahead log, in bytes.
fn database_size(database: &std::path::Path) -> u64 {
    let wal = database.with_extension(
        database
            .extension()
            .map(|e| format!("{}-wal", e.to_string_lossy()))
            .unwrap_or_else(|| "wal".to_string()),
    );
    [database.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
