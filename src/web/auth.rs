//! Login, sessions and CSRF for the web pages (see the security design in `super`).
//!
//! Sessions are signed cookies, not rows: `expiry|kind|nonce|mac`, where kind is `user`
//! (logged in as `web.user`) or `anon`, and the MAC (keyed with the link key, purpose
//! "session") covers the first three fields, `web.user` and `web.password_hash`, so
//! changing either ends every session. Anonymous sessions exist because visitors need one so that the login form, and the review page when no
//! password is set, have a CSRF token to carry. The CSRF token of a page is the MAC
//! (purpose "csrf") of the session cookie's value: a page of another site can neither read
//! it nor compute it.
//!
//! Trade-off: with no session table, logging out cannot delete anything; the nonce of a
//! session that logged out is kept in memory until the session would have expired, so a
//! copied cookie stops working too, until the daemon restarts.
//!
//! A login form serves one attempt. The nonce of the form's session is put with the
//! logged-out ones when its attempt starts (atomically, so 200 parallel posts of one form
//! get one password check and 199 refusals), and a failed attempt answers with a new
//! anonymous session and its form: a person retyping sees no difference, a script has to
//! fetch a form per guess, and the table of spent nonces grows only as fast as the
//! throttle lets attempts through. Before that, the throttle (`super::throttle`) may refuse
//! the attempt (429), and after it the password-check queue (`super::password`) may be full
//! (503, and the form is given back); neither hashes anything, and either way the admin
//! can resend the same form once the wait is over.

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::guard::{self, Client, Peer};
use super::page::{self, Words};
use super::{Web, password, throttle};
use crate::config::WebConfig;
use crate::judge::token::{self, LinkKey};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "veille_session";
/// How long a session (logged in or anonymous) lasts.
pub const SESSION_HOURS: i64 = 12;
/// The pause after a failed login: enough to make guessing slow, too short to lock anyone out.
const FAILED_LOGIN_PAUSE: Duration = Duration::from_millis(500);
/// `Retry-After` when the password-check queue is full.
const BUSY_RETRY_AFTER_SECS: u64 = 5;
/// The user name of review-page judgments when no password is configured (loopback only).
pub const LOCAL_USER: &str = "local";

/// What a session is bound to: the configured login. A change to either ends every session.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub user: &'a str,
    pub password_hash: Option<&'a str>,
}

/// A session cookie whose MAC checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The cookie's value, as sent (the CSRF token is its MAC).
    pub value: String,
    /// Logged in as the configured user (false: an anonymous session).
    pub logged_in: bool,
    pub nonce: String,
    pub expires: i64,
}

const LOGGED_IN: &str = "user";
const ANONYMOUS: &str = "anon";

impl Session {
    /// A new session, logged in or anonymous, valid [`SESSION_HOURS`] from `now`.
    pub fn issue(key: &LinkKey, logged_in: bool, login: Login<'_>, now: DateTime<Utc>) -> Session {
        let mut random = [0u8; 16];
        // Without the system's random source the nonce is only unique per instant: still
        // signed, so still unforgeable; only a logout could then end two sessions at once.
        if getrandom::fill(&mut random).is_err() {
            tracing::warn!("no random source for a session nonce; using the clock");
            random[..8]
                .copy_from_slice(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        }
        let nonce: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let expires = now.timestamp() + SESSION_HOURS * 3600;
        let kind = if logged_in { LOGGED_IN } else { ANONYMOUS };
        let payload = format!("{expires}|{kind}|{nonce}");
        let mac = token::mac(key, "session", &signed(&payload, login));
        Session {
            value: format!("{payload}|{mac}"),
            logged_in,
            nonce,
            expires,
        }
    }

    /// Checks a cookie value: well formed, signed with `key` for this login, not expired.
    pub fn parse(
        key: &LinkKey,
        value: &str,
        login: Login<'_>,
        now: DateTime<Utc>,
    ) -> Option<Session> {
        let (payload, mac) = value.rsplit_once('|')?;
        if !token::mac_eq(key, "session", &signed(payload, login), mac) {
            return None;
        }
        let mut fields = payload.split('|');
        let (Some(expires), Some(kind), Some(nonce), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        if expires <= now.timestamp() {
            return None;
        }
        let logged_in = match kind {
            LOGGED_IN => true,
            ANONYMOUS => false,
            _ => return None,
        };
        Some(Session {
            value: value.to_string(),
            logged_in,
            nonce: nonce.to_string(),
            expires,
        })
    }

    /// The CSRF token of the pages this session sees.
    pub fn csrf(&self, key: &LinkKey) -> String {
        token::mac(key, "csrf", self.value.as_bytes())
    }

    /// Whether a form's CSRF field belongs to this session.
    pub fn csrf_matches(&self, key: &LinkKey, given: &str) -> bool {
        token::mac_eq(key, "csrf", self.value.as_bytes(), given)
    }
}

/// What the session MAC covers: the payload and the login it was issued under. Lengths
/// first, so no two (user, hash) pairs give the same bytes.
fn signed(payload: &str, login: Login<'_>) -> Vec<u8> {
    let hash = login.password_hash.unwrap_or("");
    format!(
        "{payload}|{}:{}|{}:{hash}",
        login.user.len(),
        login.user,
        hash.len()
    )
    .into_bytes()
}

/// The `Set-Cookie` value for a session (`Secure` when the pages are served over https).
pub fn set_cookie(session: &Session, secure: bool) -> HeaderValue {
    cookie_header(&session.value, SESSION_HOURS * 3600, secure)
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie_header("", 0, secure)
}

fn cookie_header(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
    );
    // Our values are base64url, hex, digits and `|`: anything else would be a bug, and a
    // cookie that deletes the session is then the safe answer.
    HeaderValue::from_str(&text).unwrap_or_else(|_| {
        HeaderValue::from_static("veille_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict")
    })
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Nonces of sessions that logged out, until they would have expired.
#[derive(Debug, Default)]
pub struct Revoked(Mutex<HashMap<String, i64>>);

impl Revoked {
    pub fn revoke(&self, session: &Session, now: DateTime<Utc>) {
        let mut revoked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, expires| *expires > now.timestamp());
        revoked.insert(session.nonce.clone(), session.expires);
    }

    pub fn contains(&self, session: &Session) -> bool {
        let revoked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        revoked.contains_key(&session.nonce)
    }

    /// Ends `session` unless it already ended: false when another request got there first
    /// (one login form, one password check).
    pub fn consume(&self, session: &Session, now: DateTime<Utc>) -> bool {
        let mut revoked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, expires| *expires > now.timestamp());
        revoked
            .insert(session.nonce.clone(), session.expires)
            .is_none()
    }

    /// Undoes [`Revoked::consume`] for an attempt that never reached a password check.
    pub fn restore(&self, session: &Session) {
        let mut revoked = self.0.lock().unwrap_or_else(|p| p.into_inner());
        revoked.remove(&session.nonce);
    }
}

/// The login a configuration's sessions are bound to.
pub fn login_of(web: &WebConfig) -> Login<'_> {
    Login {
        user: &web.user,
        password_hash: web.password_hash.as_deref(),
    }
}

/// The request's session: signed for this configuration, not expired, not logged out.
pub fn session_of(
    state: &Web,
    web: &WebConfig,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Session> {
    let value = cookie(headers, SESSION_COOKIE)?;
    Session::parse(&web.key, value, login_of(web), now).filter(|s| !state.revoked.contains(s))
}

/// Who may use the review page with this session: the configured user once logged in, or
/// [`LOCAL_USER`] when no password is set. None: a login is needed.
pub fn reviewer(web: &WebConfig, session: Option<&Session>) -> Option<String> {
    match &web.password_hash {
        None => Some(LOCAL_USER.to_string()),
        Some(_) => session.filter(|s| s.logged_in).map(|_| web.user.clone()),
    }
}

/// The refusal of a password-less review page reached through a reverse proxy, if this
/// request is one. Without a password the review page is meant for this machine only (the
/// config refuses a non-loopback listener without one), but a proxy on the same host would
/// expose it anyway.
pub fn open_through_proxy(web: &WebConfig, headers: &HeaderMap) -> Option<Response> {
    (web.password_hash.is_none() && guard::proxied(headers)).then(|| {
        let words = Words::of(web.lang);
        page::refusal(StatusCode::FORBIDDEN, words, &words.needs_password)
    })
}

/// The request's session, or a new anonymous one with the cookie that sets it.
pub fn session_or_new(
    state: &Web,
    web: &WebConfig,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> (Session, Option<HeaderValue>) {
    match session_of(state, web, headers, now) {
        Some(session) => (session, None),
        None => {
            let session = Session::issue(&web.key, false, login_of(web), now);
            let cookie = set_cookie(&session, super::secure(web));
            (session, Some(cookie))
        }
    }
}

/// The checks every session-bound POST passes before it may change anything: a valid
/// session, and that session's CSRF token in the form (the guard checked the origin).
pub fn check_post(
    state: &Web,
    web: &WebConfig,
    headers: &HeaderMap,
    csrf: &str,
    now: DateTime<Utc>,
) -> Result<Session, Box<Response>> {
    let words = Words::of(web.lang);
    match session_of(state, web, headers, now) {
        Some(session) if session.csrf_matches(&web.key, csrf) => Ok(session),
        _ => Err(Box::new(super::csrf_refused(words))),
    }
}

/// A 303 to `location`, with a cookie to set when given.
pub fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
    )
        .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn login_form(
    status: StatusCode,
    web: &WebConfig,
    session: &Session,
    error: Option<&str>,
    user: &str,
) -> Response {
    page::render(
        status,
        "login.html",
        Words::of(web.lang),
        minijinja::context! {
            csrf => session.csrf(&web.key),
            error,
            user_name => user,
        },
    )
}

/// GET /login: the form (straight to the review page when no password is set).
pub async fn login_page(State(state): State<Web>, headers: HeaderMap) -> Response {
    let app = state.app();
    let Some(web) = super::web_config(&app) else {
        return super::pages_off();
    };
    if web.password_hash.is_none() {
        return see_other("/review", None);
    }
    let (session, cookie) = session_or_new(&state, web, &headers, app.clock.now());
    if session.logged_in {
        return see_other("/review", None);
    }
    let mut response = login_form(StatusCode::OK, web, &session, None, "");
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

/// POST /login: checks the password, and starts a logged-in session.
///
/// In order, each step refusing without going further: the session and its CSRF token;
/// the throttle (429 with `Retry-After`); the form, which serves one attempt (its session
/// ends here, and a failed attempt's answer carries a new one); a place in the
/// password-check queue (503 with `Retry-After`; the form is given back); then the check.
pub async fn login(
    State(state): State<Web>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let app = state.app();
    let Some(web) = super::web_config(&app) else {
        return super::pages_off();
    };
    let words = Words::of(web.lang);
    let now = app.clock.now();
    let session = match check_post(&state, web, &headers, &form.csrf, now) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let Some(hash) = web.password_hash.clone() else {
        return see_other("/review", None);
    };
    let client = guard::client_of(&peer, &headers);
    let admitted = state
        .throttle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .attempt(&client, now);
    if let Err(refused) = admitted {
        app.metrics.record_login_refused(refused.scope.label());
        if refused.first {
            log_throttled(&client, &refused);
        }
        return throttled(words, refused.retry_after);
    }
    if !state.revoked.consume(&session, now) {
        app.metrics.record_login_refused("used_form");
        return super::csrf_refused(words);
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = password::Job {
        configured_user: web.user.clone(),
        password_hash: hash,
        user: form.user.clone(),
        password: form.password,
        reply,
    };
    if let Err(busy) = state.passwords.submit(job) {
        state.revoked.restore(&session);
        app.metrics.record_login_refused("busy");
        if busy.first {
            tracing::warn!(
                threads = password::WORKERS,
                queue = password::QUEUE,
                "too many logins at once: login attempts are refused until the password checks catch up"
            );
        }
        let mut response = page::refusal(StatusCode::SERVICE_UNAVAILABLE, words, &words.login_busy);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(BUSY_RETRY_AFTER_SECS),
        );
        return response;
    }
    let checked = answer
        .await
        .unwrap_or_else(|_| Err("the password check did not finish".to_string()));
    match checked {
        Ok(true) => {
            state
                .throttle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .succeeded(&client);
            tracing::info!(user = ?web.user, client = %client.key, "logged in to the review page");
            let session = Session::issue(&web.key, true, login_of(web), now);
            see_other("/review", Some(set_cookie(&session, super::secure(web))))
        }
        Ok(false) => {
            app.metrics.record_login_failure();
            log_failed_login(&form.user, &client);
            tokio::time::sleep(FAILED_LOGIN_PAUSE).await;
            // The form that served is spent: the next attempt needs the new one.
            let fresh = Session::issue(&web.key, false, login_of(web), now);
            let mut response = login_form(
                StatusCode::UNAUTHORIZED,
                web,
                &fresh,
                Some(words.wrong_login),
                &form.user,
            );
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&fresh, super::secure(web)));
            response
        }
        Err(e) => {
            tracing::error!(error = %super::OneLine(&e), "cannot check a login");
            page::refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                words,
                &words.login_unavailable,
            )
        }
    }
}

/// One line per wrong password; the user name as typed, quoted and escaped (`?`), so a
/// name with a line break cannot forge a log line.
fn log_failed_login(user: &str, client: &Client) {
    tracing::warn!(user = ?user, client = %client.key, "failed login to the review page");
}

/// One line when a client (or everyone) starts being throttled, not one per request.
fn log_throttled(client: &Client, refused: &throttle::Refused) {
    match refused.scope {
        throttle::Scope::Client => tracing::warn!(
            client = %client.key,
            retry_after_secs = refused.retry_after,
            "too many failed logins from this client: its attempts wait"
        ),
        throttle::Scope::Overall => tracing::warn!(
            retry_after_secs = refused.retry_after,
            "too many failed logins overall: attempts from every other machine wait"
        ),
    }
}

/// 429 with `Retry-After`.
fn throttled(words: &Words, retry_after: u64) -> Response {
    let mut response = page::refused(
        StatusCode::TOO_MANY_REQUESTS,
        words,
        words.login_throttled_heading,
        &words.login_throttled(retry_after),
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// POST /logout: ends the session, this cookie and any copy of it.
pub async fn logout(
    State(state): State<Web>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let app = state.app();
    let Some(web) = super::web_config(&app) else {
        return super::pages_off();
    };
    let now = app.clock.now();
    let session = match check_post(&state, web, &headers, &form.csrf, now) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    state.revoked.revoke(&session, now);
    let next = if web.password_hash.is_some() {
        "/login"
    } else {
        "/review"
    };
    see_other(next, Some(clear_cookie(super::secure(web))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const LOGIN: Login<'static> = Login {
        user: "admin",
        password_hash: Some("$hash"),
    };

    fn key() -> LinkKey {
        LinkKey::from_bytes(b"AZ+KSl3qBV4xPBXLruDD3yZqCCDOBPCfU2k11RDzk4c=").expect("a good key")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn a_session_parses_back_until_it_expires() {
        let key = key();
        let session = Session::issue(&key, true, LOGIN, now());
        let parsed = Session::parse(&key, &session.value, LOGIN, now());
        assert_eq!(parsed.as_ref(), Some(&session));
        assert!(session.logged_in);
        let later = now() + chrono::Duration::hours(SESSION_HOURS);
        assert_eq!(Session::parse(&key, &session.value, LOGIN, later), None);
    }

    #[test]
    fn tampered_or_foreign_sessions_are_refused() {
        let key = key();
        let anonymous = Session::issue(&key, false, LOGIN, now());
        assert!(!anonymous.logged_in);
        let (payload, mac) = anonymous.value.rsplit_once('|').expect("mac");
        let (expires, rest) = payload.split_once('|').expect("expiry");
        let nonce = &anonymous.nonce;
        let other_key =
            LinkKey::from_bytes(b"lCAwtZ6RPgu5dbTiGPDiwoOKZoJzp4o0ZrTIva0AjsY=").expect("key");
        let cases = [
            // An anonymous session made into a logged-in one.
            format!("{expires}|user|{nonce}|{mac}"),
            // Extended by a day.
            format!("{}|{rest}|{mac}", anonymous.expires + 86_400),
            format!("{payload}|AAAA"),
            payload.to_string(),
            String::new(),
            Session::issue(&other_key, true, LOGIN, now()).value,
        ];
        for value in &cases {
            assert_eq!(Session::parse(&key, value, LOGIN, now()), None, "{value}");
        }
        // A new password, or another user name, ends the sessions issued before.
        for login in [
            Login {
                password_hash: Some("$new"),
                ..LOGIN
            },
            Login {
                user: "root",
                ..LOGIN
            },
        ] {
            assert_eq!(Session::parse(&key, &anonymous.value, login, now()), None);
        }
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let key = key();
        let one = Session::issue(&key, false, LOGIN, now());
        let two = Session::issue(&key, false, LOGIN, now());
        assert_ne!(one.nonce, two.nonce);
        assert!(one.csrf_matches(&key, &one.csrf(&key)));
        assert!(!one.csrf_matches(&key, &two.csrf(&key)));
        assert!(!one.csrf_matches(&key, ""));
    }

    #[test]
    fn cookies_carry_the_flags() {
        let key = key();
        let session = Session::issue(&key, true, LOGIN, now());
        let plain = set_cookie(&session, false);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Path=/") && !plain.contains("Secure"));
        let secure = set_cookie(&session, true);
        assert!(secure.to_str().expect("ascii").ends_with("; Secure"));
        let cleared = clear_cookie(false);
        assert!(cleared.to_str().expect("ascii").contains("Max-Age=0"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        for (header, expected) in [
            ("a=1; veille_session=xyz; b=2", Some("xyz")),
            ("veille_session=", Some("")),
            ("other_veille_session=1", None),
            ("", None),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_static(header));
            assert_eq!(cookie(&headers, SESSION_COOKIE), expected, "{header}");
        }
    }

    #[test]
    fn revoked_sessions_are_remembered_until_they_expire() {
        let key = key();
        let revoked = Revoked::default();
        let gone = Session::issue(&key, true, LOGIN, now());
        let kept = Session::issue(&key, true, LOGIN, now());
        revoked.revoke(&gone, now());
        assert!(revoked.contains(&gone));
        assert!(!revoked.contains(&kept));
        // A login form serves once: the first attempt ends its session, a second finds it
        // ended.
        assert!(revoked.consume(&kept, now()));
        assert!(!revoked.consume(&kept, now()));
        assert!(revoked.contains(&kept));
        // An attempt that found the password checks busy gives its form back.
        revoked.restore(&kept);
        assert!(!revoked.contains(&kept));
    }

    /// Log lines written while `log` runs, as the daemon's text format writes them.
    fn captured(log: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_user_name_with_a_line_break_logs_one_line() {
        let client = Client {
            key: guard::ClientKey::Addr(std::net::IpAddr::from([203, 0, 113, 9])),
            local: false,
        };
        for user in [
            "admin\n2026-11-27T12:00:00Z  INFO veille: logged in to the review page user=admin",
            "admin\r\nforged",
            "admin\u{2028}x\u{85}y",
        ] {
            let log = captured(|| log_failed_login(user, &client));
            assert_eq!(log.lines().count(), 1, "{log:?}");
            assert_eq!(log.matches('\n').count(), 1, "{log:?}");
            assert!(
                !log.contains('\r') && !log.contains('\u{85}') && !log.contains('\u{2028}'),
                "{log:?}"
            );
            assert!(log.contains("failed login"), "{log:?}");
            assert!(log.contains("client=203.0.113.9"), "{log:?}");
        }
    }

    #[test]
    fn errors_in_log_fields_stay_on_one_line() {
        let error = "no such mention: 12\nINFO forged";
        let log = captured(|| tracing::error!(error = %super::super::OneLine(error), "x"));
        assert_eq!(log.lines().count(), 1, "{log:?}");
        assert!(log.contains("no such mention: 12\\nINFO forged"), "{log:?}");
    }
}
