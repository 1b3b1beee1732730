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

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Web;
use super::page::{self, Words};
use crate::config::WebConfig;
use crate::judge::token::{self, LinkKey};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "veille_session";
/// How long a session (logged in or anonymous) lasts.
pub const SESSION_HOURS: i64 = 12;
/// The pause after a failed login: enough to make guessing slow, too short to lock anyone out.
const FAILED_LOGIN_PAUSE: Duration = Duration::from_millis(500);
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

/// False when the request says it comes from a page of another origin. Browsers send
/// `Origin` on every cross-site POST; its absence (older clients, curl) is let through,
/// and so is `Origin: null`, which is what browsers send for our own forms under
/// `Referrer-Policy: no-referrer` (and for sandboxed frames): the CSRF token, which no
/// other page can read, still has to match.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    authority.eq_ignore_ascii_case(host)
}

/// Checks a login. The password is verified even for a wrong user name, so the answer
/// takes as long either way. Runs argon2: call it off the async threads.
pub fn check_login(
    configured_user: &str,
    password_hash: &str,
    user: &str,
    password: &str,
) -> Result<bool, String> {
    let parsed = PasswordHash::new(password_hash)
        .map_err(|e| format!("web.password_hash is not a valid PHC string: {e}"))?;
    let password_ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Ok(password_ok && user == configured_user)
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
    let proxied = [
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-real-ip",
    ]
    .iter()
    .any(|name| headers.contains_key(*name));
    (web.password_hash.is_none() && proxied).then(|| {
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

/// The checks every session-bound POST passes before it may change anything: same
/// origin, a valid session, and that session's CSRF token in the form.
pub fn check_post(
    state: &Web,
    web: &WebConfig,
    headers: &HeaderMap,
    csrf: &str,
    now: DateTime<Utc>,
) -> Result<Session, Box<Response>> {
    let words = Words::of(web.lang);
    if !same_origin(headers) {
        return Err(Box::new(super::cross_site(words)));
    }
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
pub async fn login(
    State(state): State<Web>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
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
    let Some(hash) = web.password_hash.clone() else {
        return see_other("/review", None);
    };
    let (configured, user, password) = (web.user.clone(), form.user.clone(), form.password);
    let checked =
        tokio::task::spawn_blocking(move || check_login(&configured, &hash, &user, &password))
            .await
            .unwrap_or_else(|e| Err(format!("the password check did not finish: {e}")));
    match checked {
        Ok(true) => {
            tracing::info!(user = %web.user, "logged in to the review page");
            let session = Session::issue(&web.key, true, login_of(web), now);
            see_other("/review", Some(set_cookie(&session, super::secure(web))))
        }
        Ok(false) => {
            tracing::warn!(user = %form.user, "failed login to the review page");
            tokio::time::sleep(FAILED_LOGIN_PAUSE).await;
            login_form(
                StatusCode::UNAUTHORIZED,
                web,
                &session,
                Some(Words::of(web.lang).wrong_login),
                &form.user,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a login");
            let words = Words::of(web.lang);
            page::refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                words,
                &words.login_unavailable,
            )
        }
    }
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
    fn origin_must_name_the_host_when_present() {
        for (origin, host, expected) in [
            (None, Some("127.0.0.1:8710"), true),
            (Some("http://127.0.0.1:8710"), Some("127.0.0.1:8710"), true),
            (
                Some("https://Veille.example.org"),
                Some("veille.example.org"),
                true,
            ),
            (
                Some("https://evil.example"),
                Some("veille.example.org"),
                false,
            ),
            (Some("http://127.0.0.1:9999"), Some("127.0.0.1:8710"), false),
            (Some("null"), Some("127.0.0.1:8710"), true),
            (Some("127.0.0.1:8710"), Some("127.0.0.1:8710"), false),
            (Some("http://127.0.0.1:8710"), None, false),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            if let Some(host) = host {
                headers.insert(header::HOST, HeaderValue::from_static(host));
            }
            assert_eq!(same_origin(&headers), expected, "{origin:?} {host:?}");
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
    }
}
