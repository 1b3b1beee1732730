//! The judgment pages over real HTTP: the daemon's router (`veille::web::serve`) on
//! 127.0.0.1, mentions polled from a feed served on 127.0.0.1 into a SQLite file in a temp
//! folder, judgment links taken from the digest veille mailed (as `.eml` files), and a
//! plain HTTP client that keeps cookies by hand and never follows redirects.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{HttpServer, Response, SmtpSink};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use tokio::sync::watch;
use veille::clock::ManualClock;
use veille::judge::Verdict;
use veille::judge::token::{self, LinkKey};
use veille::model::MentionId;
use veille::{App, config, scheduler};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0)
        .single()
        .expect("valid time")
}

const SECRET: &[u8] = b"Sj3k6DM1eiEgrANAocpp8ur6v0oDDmNyTb75v3SConU=";

/// A veille with three Acme stories polled, its digest written to `mail/`, and its pages
/// served on 127.0.0.1.
struct Site {
    base: String,
    app: App,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    _feed: HttpServer,
    _stop: watch::Sender<bool>,
    _apps: watch::Sender<App>,
}

fn rss_item(n: usize, title: &str) -> String {
    format!(
        "<item><title>{title}</title><link>https://news{n}.example/acme-{n}</link><guid>item-{n}</guid><pubDate>Fri, 27 Nov 2026 10:0{n}:00 +0000</pubDate><description>Acme story number {n}.</description></item>"
    )
}

impl Site {
    /// `password_hash`: the `web.password_hash` line, if any.
    async fn start(password_hash: Option<&str>) -> Site {
        Site::start_with(password_hash, "").await
    }

    /// `extra`: TOML appended to the configuration.
    async fn start_with(password_hash: Option<&str>, extra: &str) -> Site {
        Site::start_full(password_hash, "", extra).await
    }

    /// A veille whose pages speak French (`web.lang = "fr"`).
    async fn start_fr(password_hash: Option<&str>) -> Site {
        Site::start_full(password_hash, "lang = \"fr\"\n", "").await
    }

    /// `web_extra`: TOML added to the `[web]` section; `extra`: appended to the
    /// configuration.
    async fn start_full(password_hash: Option<&str>, web_extra: &str, extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let feed = HttpServer::start();
        let items: String = [
            "Acme opens a plant in Lyon",
            "Acme recalls a batch of kettles",
            "Acme wins a rail contract",
        ]
        .iter()
        .enumerate()
        .map(|(n, title)| rss_item(n + 1, title))
        .collect();
        feed.route(
            "/feed.xml",
            Response::ok(
                "application/rss+xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>{items}</channel></rss>"#
                ),
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        std::fs::write(dir.path().join("web-secret"), SECRET).expect("write the secret");
        let password =
            password_hash.map_or(String::new(), |h| format!("password_hash = \"{h}\"\n"));
        let config_path = dir.path().join("veille.toml");
        std::fs::write(
            &config_path,
            format!(
                r#"
[daemon]
database = "veille.db"
mail_dir = "mail"
timezone = "Europe/Paris"

[web]
base_url = "{base}/"
secret_file = "web-secret"
user = "admin"
{password}{web_extra}
[[source]]
id = "wire"
url = "{feed}"

[[watch]]
id = "acme"
name = "Acme"
query = "Acme"

[[digest]]
id = "daily"
name = "Daily"
to = "comms@example.org"
{extra}
"#,
                feed = feed.url("/feed.xml")
            ),
        )
        .expect("write config");
        let config = config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::new(now()));
        let app = App::new(config, clock.clone()).unwrap_or_else(|e| panic!("{e}"));
        scheduler::run_once(&app).await.expect("poll and digest");
        let (stop, stopped) = watch::channel(false);
        let (apps, receiver) = watch::channel(app.clone());
        tokio::spawn(veille::web::serve(listener, receiver, stopped));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Site {
            base,
            app,
            clock,
            dir,
            client,
            _feed: feed,
            _stop: stop,
            _apps: apps,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// The judgment links of the digest mailed at start, in mail order.
    fn mailed_links(&self) -> Vec<String> {
        let mail_dir = self.dir.path().join("mail");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&mail_dir)
            .expect("mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        let bytes = std::fs::read(files.first().expect("a digest was written")).expect("read");
        let message = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("parse the digest");
        let html = message.body_html(0).expect("an HTML part").to_string();
        links_in(&html, &format!("{}/j/", self.base))
    }

    fn link_for(&self, verdict: Verdict) -> String {
        self.mailed_links()
            .into_iter()
            .find(|l| l.contains(&format!("/{}/", verdict.as_str())))
            .expect("a link for the verdict")
    }

    fn judgments(&self) -> i64 {
        self.app.store.judgments_version().expect("judgments")
    }

    fn verdict_of(&self, mention: i64) -> Option<(Verdict, String, String)> {
        self.app
            .store
            .judgment_of(MentionId(mention))
            .expect("judgment")
            .map(|j| (j.verdict, j.who, j.via))
    }

    async fn get(&self, url: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut request = self.client.get(url);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", format!("veille_session={cookie}"));
        }
        let response = request.send().await.expect("GET");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.expect("body"))
    }

    async fn post(
        &self,
        url: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self
            .client
            .post(url)
            .body(form_body(form))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header("Cookie", format!("veille_session={cookie}"));
        }
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.expect("POST");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.expect("body"))
    }

    /// Posts the login form with the anonymous session's cookie and CSRF token.
    async fn log_in(
        &self,
        anonymous: &str,
        csrf: &str,
        user: &str,
        password: &str,
    ) -> (StatusCode, HeaderMap, String) {
        self.post(
            &self.url("/login"),
            Some(anonymous),
            &[("csrf", csrf), ("user", user), ("password", password)],
            None,
        )
        .await
    }
}

fn form_body(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

/// Every `href` starting with `prefix`, unescaped.
fn links_in(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .filter(|href| href.starts_with(prefix))
        .collect()
}

/// The value of `name="{field}" value="…"` in a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("a value")
        .to_string()
}

/// The session cookie a response sets, with its attributes.
fn set_cookie(headers: &HeaderMap) -> Option<(String, String)> {
    let header = headers.get(SET_COOKIE)?.to_str().ok()?.to_string();
    let value = header
        .strip_prefix("veille_session=")?
        .split(';')
        .next()?
        .to_string();
    Some((value, header))
}

/// The mention id of a link `…/j/{mention}/…`.
fn mention_of(link: &str) -> i64 {
    link.split("/j/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .expect("a mention id in the link")
}

/// Replaces segment `index` (0 = mention) of the link's `j/…` path.
fn with_segment(link: &str, index: usize, value: &str) -> String {
    let (head, path) = link.split_once("/j/").expect("a judgment link");
    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
    segments[index] = value.to_string();
    format!("{head}/j/{}", segments.join("/"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mailed_link_confirms_on_get_and_records_only_on_post() {
    let site = Site::start(None).await;
    let links = site.mailed_links();
    assert_eq!(
        links.len(),
        9,
        "three links under each of three stories: {links:?}"
    );
    let link = site.link_for(Verdict::Relevant);
    let mention = mention_of(&link);

    // What a mail scanner does: GET and HEAD, several times. Nothing is recorded.
    for _ in 0..2 {
        let (status, headers, page) = site.get(&link, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Mark as Relevant"), "{page}");
        assert!(page.contains("Acme"), "{page}");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store");
        let head = site.client.head(&link).send().await.expect("HEAD");
        assert_eq!(head.status(), StatusCode::OK);
    }
    assert_eq!(site.judgments(), 0, "a GET or HEAD stored a verdict");

    // The button's POST without its CSRF field, or with another link's: refused, nothing stored.
    let (_, _, page) = site.get(&link, None).await;
    let csrf = field(&page, "csrf");
    let other_link = site.link_for(Verdict::Irrelevant);
    let (_, _, other_page) = site.get(&other_link, None).await;
    let other_token = field(&other_page, "csrf");
    for form in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", other_token.as_str())],
    ] {
        let (status, _, page) = site.post(&link, None, &form, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(page.contains("nothing was"), "{page}");
    }
    // From another site's page: refused even with the right token.
    let (status, _, _) = site
        .post(
            &link,
            None,
            &[("csrf", &csrf)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(site.judgments(), 0);

    // The button: recorded, for the mail link, with the note.
    let (status, _, page) = site
        .post(
            &link,
            None,
            &[("csrf", &csrf), ("note", "  seen on TV  ")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Recorded as <strong>Relevant</strong>"),
        "{page}"
    );
    assert_eq!(
        site.verdict_of(mention),
        Some((
            Verdict::Relevant,
            "mail link".to_string(),
            "mail".to_string()
        ))
    );
    let note = site
        .app
        .store
        .judgment_of(MentionId(mention))
        .expect("judgment")
        .and_then(|j| j.note);
    assert_eq!(note.as_deref(), Some("seen on TV"));

    // People change their mind: the irrelevant link of the same story says what it will
    // change, and replaces the verdict.
    let (_, _, page) = site.get(&link, None).await;
    assert!(
        page.contains("It is already marked <strong>Relevant</strong>"),
        "{page}"
    );
    let (_, _, page) = site.get(&other_link, None).await;
    assert!(
        page.contains("It is marked <strong>Relevant</strong> now; confirming changes it."),
        "{page}"
    );
    let other_csrf = field(&other_page, "csrf");
    assert_eq!(mention_of(&other_link), mention);
    let (status, _, page) = site
        .post(&other_link, None, &[("csrf", &other_csrf)], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Changed from <strong>Relevant</strong> to <strong>Irrelevant</strong>"),
        "{page}"
    );
    assert_eq!(
        site.verdict_of(mention).map(|v| v.0),
        Some(Verdict::Irrelevant)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_links_get_a_refusal_page_and_change_nothing() {
    let site = Site::start(None).await;
    let link = site.link_for(Verdict::Relevant);
    let mention = mention_of(&link);
    let segments: Vec<&str> = link.split("/j/").nth(1).expect("path").split('/').collect();
    let (expires, sig) = (segments[2], segments[3]);
    let later = (expires.parse::<i64>().expect("expiry") + 86_400).to_string();
    let mut flipped = sig.to_string();
    let last = if flipped.ends_with('A') { "B" } else { "A" };
    flipped.replace_range(flipped.len() - 1.., last);
    let key = LinkKey::from_bytes(SECRET).expect("key");
    let missing = format!(
        "{}/{}",
        site.base,
        token::link_path(
            &key,
            MentionId(999_999),
            Verdict::Relevant,
            now() + Duration::days(1)
        )
    );
    // Signed with the right key, but valid until 2100: no veille link lives that long.
    let year_2100 = format!(
        "{}/{}",
        site.base,
        token::link_path(
            &key,
            MentionId(mention),
            Verdict::Crisis,
            Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
                .single()
                .expect("valid time")
        )
    );
    let other_mention = (mention + 1).to_string();
    let cases = [
        (
            year_2100,
            StatusCode::FORBIDDEN,
            "This link was not issued by this veille",
        ),
        (
            with_segment(&link, 0, &other_mention),
            StatusCode::FORBIDDEN,
            "not valid",
        ),
        (
            with_segment(&link, 1, "crisis"),
            StatusCode::FORBIDDEN,
            "not valid",
        ),
        (
            with_segment(&link, 1, "maybe"),
            StatusCode::BAD_REQUEST,
            "“maybe”",
        ),
        (
            with_segment(&link, 2, &later),
            StatusCode::FORBIDDEN,
            "not valid",
        ),
        (
            with_segment(&link, 3, &flipped),
            StatusCode::FORBIDDEN,
            "not valid",
        ),
        (
            with_segment(&link, 0, "x1"),
            StatusCode::BAD_REQUEST,
            "incomplete",
        ),
        (missing, StatusCode::NOT_FOUND, "no longer has this item"),
    ];
    for (url, status, words) in &cases {
        let (got, _, page) = site.get(url, None).await;
        assert_eq!(got, *status, "GET {url}: {page}");
        assert!(page.contains(words), "GET {url}: {page}");
        assert!(
            !page.contains("name=\"csrf\""),
            "no button on a refusal: {page}"
        );
        // A POST with a token made for the real link does not get through either.
        let (_, _, good) = site.get(&link, None).await;
        let (got, _, page) = site
            .post(url, None, &[("csrf", &field(&good, "csrf"))], None)
            .await;
        assert!(got.is_client_error(), "POST {url}: {got} {page}");
    }
    assert_eq!(site.judgments(), 0);

    // Past its expiry (14 days by default) the genuine link is refused as expired.
    site.clock.advance(Duration::days(15));
    let (status, _, page) = site.get(&link, None).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(
        page.contains("This link has expired (it was valid until "),
        "{page}"
    );
    assert!(page.contains("ask for a new digest"), "{page}");
    assert_eq!(site.judgments(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_page_without_a_password_judges_with_csrf() {
    let site = Site::start(None).await;
    let (status, headers, page) = site.get(&site.url("/review"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for title in [
        "Acme opens a plant in Lyon",
        "Acme recalls a batch of kettles",
        "Acme wins a rail contract",
    ] {
        assert!(page.contains(title), "{title}: {page}");
    }
    assert!(page.contains("rel=\"noreferrer\""), "{page}");
    let (cookie, attributes) =
        set_cookie(&headers).expect("an anonymous session for the CSRF token");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"));
    let csrf = field(&page, "csrf");
    let mention = field(&page, "mention");
    let next = field(&page, "next");

    // Through a reverse proxy, a review page without a password is refused.
    let proxied = site
        .client
        .get(site.url("/review"))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .expect("GET");
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);
    assert!(
        proxied
            .text()
            .await
            .expect("body")
            .contains("web.password_hash")
    );

    // No token, a wrong one, no cookie, another site: refused, nothing stored.
    for (cookie, token, origin) in [
        (Some(cookie.as_str()), "", None),
        (Some(cookie.as_str()), "forged", None),
        (None, csrf.as_str(), None),
        (
            Some(cookie.as_str()),
            csrf.as_str(),
            Some("http://evil.example"),
        ),
    ] {
        let (status, _, page) = site
            .post(
                &site.url("/review/judge"),
                cookie,
                &[
                    ("csrf", token),
                    ("mention", &mention),
                    ("verdict", "relevant"),
                ],
                origin,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    }
    assert_eq!(site.judgments(), 0);

    let (status, headers, _) = site
        .post(
            &site.url("/review/judge"),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("mention", &mention),
                ("verdict", "relevant"),
                ("next", &next),
            ],
            Some(&site.base),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[LOCATION].to_str().expect("location");
    assert!(location.starts_with("/review?done=relevant"), "{location}");
    assert!(location.ends_with(&format!("#m{next}")), "{location}");
    let mention: i64 = mention.parse().expect("id");
    assert_eq!(
        site.verdict_of(mention),
        Some((Verdict::Relevant, "local".to_string(), "review".to_string()))
    );
    // The judged story leaves the page; the page says what was recorded.
    let (_, _, page) = site.get(&site.url(location), Some(&cookie)).await;
    assert!(page.contains("Marked Relevant"), "{page}");
    assert!(!page.contains(&format!("id=\"m{mention}\"")), "{page}");
    assert_eq!(page.matches("<article").count(), 2, "{page}");
}

/// A cheap argon2id hash of `password` (tests need no brute-force resistance).
fn hash(password: &str) -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let params = Params::new(1024, 1, 1, None).expect("params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hash")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_password_the_review_page_needs_a_login_and_a_real_session() {
    let site = Site::start(Some(&hash("correct horse"))).await;
    let (status, headers, _) = site.get(&site.url("/review"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/login");

    let (status, headers, page) = site.get(&site.url("/login"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (anonymous, _) = set_cookie(&headers).expect("an anonymous session");
    let csrf = field(&page, "csrf");
    // An anonymous session is not a login.
    let (status, _, _) = site.get(&site.url("/review"), Some(&anonymous)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // A login without the form's token is refused before the password is looked at.
    let (status, headers, _) = site
        .post(
            &site.url("/login"),
            Some(&anonymous),
            &[("user", "admin"), ("password", "correct horse")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&headers).is_none());
    for (user, password) in [("admin", "wrong"), ("root", "correct horse")] {
        let (status, headers, page) = site.log_in(&anonymous, &csrf, user, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        assert!(page.contains("Wrong user name or password"), "{page}");
        assert!(
            set_cookie(&headers).is_none(),
            "no session for a wrong login"
        );
    }

    let (status, headers, _) = site
        .log_in(&anonymous, &csrf, "admin", "correct horse")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/review");
    let (session, attributes) = set_cookie(&headers).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(flag), "{flag}: {attributes}");
    }
    assert!(
        !attributes.contains("Secure"),
        "base_url is http: {attributes}"
    );

    let (status, _, page) = site.get(&site.url("/review"), Some(&session)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Acme wins a rail contract"), "{page}");
    let review_csrf = field(&page, "csrf");
    let mention = field(&page, "mention");

    // Forged sessions: an anonymous one relabelled, and a good one with its MAC changed.
    let (payload, mac) = anonymous.rsplit_once('|').expect("mac");
    let relabelled = format!("{}|{mac}", payload.replace("|anon|", "|user|"));
    let mut bad_mac = session.clone();
    bad_mac.replace_range(bad_mac.len() - 2.., "xx");
    for forged in [&relabelled, &bad_mac] {
        let (status, _, _) = site.get(&site.url("/review"), Some(forged)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{forged}");
        let (status, _, _) = site
            .post(
                &site.url("/review/judge"),
                Some(forged),
                &[
                    ("csrf", &review_csrf),
                    ("mention", &mention),
                    ("verdict", "crisis"),
                ],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(site.judgments(), 0);

    // The logged-in reviewer judges under the configured name.
    let (status, _, _) = site
        .post(
            &site.url("/review/judge"),
            Some(&session),
            &[
                ("csrf", &review_csrf),
                ("mention", &mention),
                ("verdict", "irrelevant"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let judged = site.verdict_of(mention.parse().expect("id"));
    assert_eq!(
        judged,
        Some((
            Verdict::Irrelevant,
            "admin".to_string(),
            "review".to_string()
        ))
    );

    // Logging out clears the cookie, and the old value no longer opens the page.
    let (status, headers, _) = site
        .post(
            &site.url("/logout"),
            Some(&session),
            &[("csrf", &review_csrf)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (cleared, attributes) = set_cookie(&headers).expect("the cookie is cleared");
    assert!(
        cleared.is_empty() && attributes.contains("Max-Age=0"),
        "{attributes}"
    );
    let (status, headers, _) = site.get(&site.url("/review"), Some(&session)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/login");
}

/// Without `[web]` the judgment pages do not exist, and /metrics still answers.
#[tokio::test(flavor = "multi_thread")]
async fn without_web_config_the_pages_are_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("veille.toml");
    std::fs::write(
        &path,
        "[daemon]\ndatabase = \"veille.db\"\n\n[[source]]\nid = \"wire\"\nurl = \"http://127.0.0.1:9/feed.xml\"\n\n[[watch]]\nid = \"acme\"\nname = \"Acme\"\nquery = \"Acme\"\n",
    )
    .expect("write");
    let config = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let app = App::new(config, Arc::new(ManualClock::new(now()))).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (_stop, stopped) = watch::channel(false);
    let (_apps, receiver) = watch::channel(app);
    tokio::spawn(veille::web::serve(listener, receiver, stopped));
    for path in ["/review", "/login", "/j/1/relevant/9999999999/abc"] {
        let response = reqwest::get(format!("{base}{path}")).await.expect("GET");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let page = response.text().await.expect("body");
        assert!(page.contains("no [web] section"), "{page}");
    }
    let metrics = reqwest::get(format!("{base}/metrics")).await.expect("GET");
    assert_eq!(metrics.status(), StatusCode::OK);
}

/// A crisis verdict mails the crisis rule at once, once; without a crisis rule the page
/// says nobody was alerted.
#[tokio::test(flavor = "multi_thread")]
async fn a_crisis_link_alerts_the_crisis_rule_once() {
    let rule = "[[alert]]\nid = \"crise\"\nto = \"crisis@example.org\"\nwatches = [\"acme\"]\nmin_score = 0.99\ncrisis = true\n";
    let site = Site::start_with(None, rule).await;
    let link = site.link_for(Verdict::Crisis);
    let pending = || site.app.store.counts().expect("counts").outbox_pending;
    let before = pending();
    let (_, _, page) = site.get(&link, None).await;
    let csrf = field(&page, "csrf");
    let (status, _, page) = site.post(&link, None, &[("csrf", &csrf)], None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("The crisis managers were alerted by mail."),
        "{page}"
    );
    assert_eq!(pending(), before + 1, "one crisis mail queued");
    // The same link again: still a crisis, no second mail.
    let (status, _, page) = site.post(&link, None, &[("csrf", &csrf)], None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("already escalated as a crisis"), "{page}");
    assert_eq!(pending(), before + 1);

    let site = Site::start(None).await;
    let link = site.link_for(Verdict::Crisis);
    let (_, _, page) = site.get(&link, None).await;
    let (_, _, page) = site
        .post(&link, None, &[("csrf", &field(&page, "csrf"))], None)
        .await;
    assert!(
        page.contains("No crisis alert rule covers this watch"),
        "{page}"
    );
    assert_eq!(
        site.verdict_of(mention_of(&link)).map(|v| v.0),
        Some(Verdict::Crisis)
    );
}

/// GETs a link's confirmation page and presses its button; returns the page after.
async fn press(site: &Site, link: &str) -> String {
    let (status, _, page) = site.get(link, None).await;
    assert_eq!(status, StatusCode::OK, "GET {link}: {page}");
    let csrf = field(&page, "csrf");
    let (status, _, page) = site.post(link, None, &[("csrf", &csrf)], None).await;
    assert_eq!(status, StatusCode::OK, "POST {link}: {page}");
    page
}

/// What an attacker holding a forwarded digest tried: the crisis and relevant links of one
/// story posted in turn. The crisis managers get one mail, at a real SMTP server, whatever
/// the number of posts, and a restart (a new App on the same database) does not forget it.
/// The story mails again only once it was stood down (relevant) and a new mention of it was
/// found after that.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_crisis_links_mail_the_crisis_managers_once_per_story() {
    let smtp = SmtpSink::start();
    let extra = format!(
        r#"
[[source]]
id = "copies"
url = "{{copies}}"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "veille@example.org"

[[alert]]
id = "crise"
to = "crisis@example.org"
watches = ["acme"]
min_score = 0.99
crisis = true
"#,
        port = smtp.addr.port()
    );
    // The second source's address is only known once the feed server runs: it answers 404
    // until the story comes back in the news below.
    let site = Site::start_with(
        None,
        &extra.replace("{copies}", "http://127.0.0.1:9/copies.xml"),
    )
    .await;
    let digest = smtp
        .wait_for(1, std::time::Duration::from_secs(5))
        .into_iter()
        .find(|m| m.to.iter().any(|t| t == "comms@example.org"))
        .expect("the digest at the SMTP server");
    let links = links_in(&digest.html(), &format!("{}/j/", site.base));
    let of = |verdict: Verdict| {
        links
            .iter()
            .find(|l| l.contains(&format!("/{}/", verdict.as_str())))
            .cloned()
            .expect("a link for the verdict")
    };
    let (crisis, relevant) = (of(Verdict::Crisis), of(Verdict::Relevant));
    let mention = mention_of(&crisis);
    assert_eq!(mention_of(&relevant), mention, "the same story's links");
    let crisis_mails = || {
        smtp.received()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == "crisis@example.org"))
            .count()
    };
    let deliver = |app: App| async move {
        scheduler::deliver_pending(&app).await.expect("deliver");
    };

    // Seven posts: crisis, relevant, crisis, … (four crisis verdicts).
    for round in 0..7 {
        let link = if round % 2 == 0 { &crisis } else { &relevant };
        let page = press(&site, link).await;
        if round == 0 {
            assert!(
                page.contains("The crisis managers were alerted by mail."),
                "{page}"
            );
        } else if round % 2 == 0 {
            assert!(page.contains("already escalated as a crisis"), "{page}");
        }
        deliver(site.app.clone()).await;
    }
    assert_eq!(crisis_mails(), 1, "one crisis mail for seven posts");
    let judged: i64 = rusqlite::Connection::open(site.dir.path().join("veille.db"))
        .and_then(|db| {
            db.query_row(
                "SELECT COUNT(*) FROM judgments WHERE mention_id = ?1",
                [mention],
                |row| row.get(0),
            )
        })
        .expect("count judgments");
    assert_eq!(judged, 7, "every verdict is in the history");
    assert_eq!(site.verdict_of(mention).map(|v| v.0), Some(Verdict::Crisis));

    // A restart: a new App on the same database serves the links. Still one mail.
    let config = config::load(&site.dir.path().join("veille.toml")).expect("config");
    let restarted = App::new(config, site.clock.clone()).expect("app");
    site._apps
        .send(restarted.clone())
        .expect("serve the new app");
    press(&site, &relevant).await;
    press(&site, &crisis).await;
    deliver(restarted.clone()).await;
    assert_eq!(crisis_mails(), 1, "a restart forgets nothing");

    // Stood down, then back in the news an hour later (a copy on another outlet): the next
    // crisis verdict mails again, once.
    press(&site, &relevant).await;
    site.clock.advance(Duration::hours(1));
    let copies = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Copies</title><link>https://copies.example/</link><description>d</description><item><title>Acme story again</title><link>https://news{n}.example/acme-{n}</link><guid>copy-{n}</guid><pubDate>Fri, 27 Nov 2026 13:30:00 +0000</pubDate><description>Acme, as reported elsewhere.</description></item></channel></rss>"#,
        n = crisis_item(&site, mention)
    );
    site._feed
        .route("/copies.xml", Response::ok("application/rss+xml", copies));
    let text = std::fs::read_to_string(site.dir.path().join("veille.toml"))
        .expect("config")
        .replace(
            "http://127.0.0.1:9/copies.xml",
            &site._feed.url("/copies.xml"),
        );
    std::fs::write(site.dir.path().join("veille.toml"), text).expect("config");
    let config = config::load(&site.dir.path().join("veille.toml")).expect("config");
    let back = App::new(config, site.clock.clone()).expect("app");
    site._apps.send(back.clone()).expect("serve the new app");
    scheduler::run_once(&back).await.expect("poll");
    let story = |app: &App, id: i64| {
        app.store
            .mention(MentionId(id))
            .expect("mention")
            .map(|m| m.story)
    };
    let newest = back
        .store
        .list_mentions(&veille::store::MentionFilter {
            limit: 1,
            ..Default::default()
        })
        .expect("mentions")
        .pop()
        .expect("the copy's mention");
    assert_ne!(newest.id.0, mention, "a new mention");
    assert_eq!(
        Some(newest.story),
        story(&back, mention),
        "of the same story"
    );
    let page = press(&site, &crisis).await;
    assert!(
        page.contains("The crisis managers were alerted by mail."),
        "{page}"
    );
    deliver(back.clone()).await;
    assert_eq!(
        crisis_mails(),
        2,
        "back in the news after a stand-down: mailed again"
    );
    press(&site, &relevant).await;
    press(&site, &crisis).await;
    deliver(back.clone()).await;
    assert_eq!(crisis_mails(), 2, "and once only");
}

/// The feed item number (`acme-{n}`) of a mention, from its stored URL.
fn crisis_item(site: &Site, mention: i64) -> usize {
    site.app
        .store
        .mention(MentionId(mention))
        .expect("mention")
        .and_then(|m| m.url)
        .and_then(|url| url.rsplit('-').next().and_then(|n| n.parse().ok()))
        .expect("an acme-{n} URL")
}

/// `veille hash-password` prints a PHC string that accepts the password it read.
#[test]
fn hash_password_prints_a_hash_that_verifies() {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    let output = assert_cmd::Command::cargo_bin("veille")
        .expect("the binary")
        .arg("hash-password")
        .write_stdin("correct horse battery\n")
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let line = String::from_utf8(output.stdout).expect("utf-8");
    let hash = PasswordHash::new(line.trim()).expect("a PHC string");
    assert!(line.starts_with("$argon2id$"), "{line}");
    let argon2 = Argon2::default();
    assert!(
        argon2
            .verify_password(b"correct horse battery", &hash)
            .is_ok()
    );
    assert!(argon2.verify_password(b"correct horse", &hash).is_err());
    // Too short: refused, nothing printed.
    let output = assert_cmd::Command::cargo_bin("veille")
        .expect("the binary")
        .arg("hash-password")
        .write_stdin("short\n")
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}

/// English a French page must not show (feed titles aside).
const ENGLISH: [&str; 14] = [
    "Relevant",
    "Irrelevant",
    "Crisis",
    "Stories to judge",
    "Keys:",
    "Log out",
    "Log in",
    "Mark as",
    "Recorded as",
    "Thank you",
    "review page",
    " ago",
    "This link",
    "lang=\"en\"",
];

fn assert_french(page: &str) {
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    for english in ENGLISH {
        assert!(
            !page.contains(english),
            "{english:?} on a French page: {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_lang_fr_the_review_page_speaks_french() {
    let site = Site::start_fr(None).await;
    let (status, headers, page) = site.get(&site.url("/review"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_french(&page);
    for words in [
        "<h1>Sujets à juger</h1>",
        // (minijinja escapes the slash of a value.)
        "Touches : <kbd>j</kbd>/<kbd>k</kbd> sujet suivant&#x2f;précédent, <kbd>r</kbd> \
         pertinent, <kbd>i</kbd> hors sujet, <kbd>c</kbd> crise.",
        "il y a 2 h · note 0,61",
        "value=\"relevant\" class=\"relevant\">Pertinent</button>",
        "value=\"irrelevant\" class=\"irrelevant\">Hors sujet</button>",
        "value=\"crisis\" class=\"crisis\">Crise</button>",
        "il y a 2 h",
        "Acme opens a plant in Lyon",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    // The keyboard script is the same in both languages.
    assert!(page.contains("src=\"/static/review.js\""), "{page}");

    // A crisis from the review page, with no crisis rule: said in French.
    let (cookie, _) = set_cookie(&headers).expect("a session");
    let (status, headers, _) = site
        .post(
            &site.url("/review/judge"),
            Some(&cookie),
            &[
                ("csrf", &field(&page, "csrf")),
                ("mention", &field(&page, "mention")),
                ("verdict", "crisis"),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[LOCATION].to_str().expect("location");
    let (_, _, page) = site.get(&site.url(location), Some(&cookie)).await;
    assert_french(&page);
    assert!(page.contains("Marqué Crise."), "{page}");
    assert!(
        page.contains("Aucune règle d’alerte de crise ne couvre ce thème"),
        "{page}"
    );

    // A form from elsewhere is refused in French, and so is an unknown address.
    let (status, _, page) = site
        .post(
            &site.url("/review/judge"),
            Some(&cookie),
            &[("csrf", "forged"), ("verdict", "relevant")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_french(&page);
    assert!(page.contains("<h1>Refusé</h1>"), "{page}");
    assert!(page.contains("rien n’a été modifié"), "{page}");
    let (status, _, page) = site.get(&site.url("/nowhere"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_french(&page);
    assert!(
        page.contains("Il n’y a pas de page à cette adresse."),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_lang_fr_a_link_confirms_records_and_refuses_in_french() {
    let site = Site::start_fr(None).await;
    let link = site.link_for(Verdict::Relevant);
    let (status, _, page) = site.get(&link, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_french(&page);
    for words in [
        "<title>Marquer comme Pertinent · veille</title>",
        "<h1>Marquer ce sujet comme <em>Pertinent</em> ?</h1>",
        "· thème : Acme",
        "<label for=\"note\">Remarque (facultative)</label>",
        "primary\">Marquer comme Pertinent</button>",
        // Links last 14 days: from Fri 27 Nov, 14:00 in Paris.
        "Ce lien reste valable jusqu’au ven. 11 déc. 2026 14:00 CET.",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    let (status, _, page) = site
        .post(
            &link,
            None,
            &[("csrf", &field(&page, "csrf")), ("note", "vu à la télé")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_french(&page);
    for words in [
        "<h1>Merci</h1>",
        "Enregistré comme <strong>Pertinent</strong> : « Acme",
        "Votre remarque : vu à la télé",
        "Juger d’autres sujets",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    assert_eq!(
        site.verdict_of(mention_of(&link)).map(|v| v.0),
        Some(Verdict::Relevant)
    );

    // The same story's irrelevant link: what it will change, then what it changed.
    let other = site.link_for(Verdict::Irrelevant);
    let (_, _, page) = site.get(&other, None).await;
    assert!(
        page.contains(
            "Il est marqué <strong>Pertinent</strong> pour l’instant ; confirmer changera son \
             verdict."
        ),
        "{page}"
    );
    let (_, _, page) = site
        .post(&other, None, &[("csrf", &field(&page, "csrf"))], None)
        .await;
    assert!(
        page.contains(
            "Verdict changé de <strong>Pertinent</strong> à <strong>Hors sujet</strong> : « "
        ),
        "{page}"
    );

    // A tampered link, then the genuine one once expired: refusal pages in French.
    let (status, _, page) = site.get(&with_segment(&link, 1, "crisis"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_french(&page);
    assert!(
        page.contains("<h1>Ce lien n’est pas valable</h1>"),
        "{page}"
    );
    site.clock.advance(Duration::days(15));
    let (status, _, page) = site.get(&link, None).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert_french(&page);
    for words in [
        "<h1>Ce lien a expiré</h1>",
        "Ce lien a expiré (il était valable jusqu’au ven. 11 déc. 2026 14:00 CET).",
        "demandez un nouveau digest",
        "Aller à la page des sujets à juger",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_lang_fr_the_login_page_speaks_french() {
    let site = Site::start_fr(Some(&hash("cheval correct"))).await;
    let (status, headers, page) = site.get(&site.url("/login"), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_french(&page);
    for words in [
        "<title>Se connecter · veille</title>",
        "<label for=\"user\">Utilisateur</label>",
        "<label for=\"password\">Mot de passe</label>",
        "class=\"primary\">Se connecter</button>",
    ] {
        assert!(page.contains(words), "{words}: {page}");
    }
    let (anonymous, _) = set_cookie(&headers).expect("an anonymous session");
    let csrf = field(&page, "csrf");
    let (status, _, page) = site.log_in(&anonymous, &csrf, "admin", "faux").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert_french(&page);
    assert!(
        page.contains("Nom d’utilisateur ou mot de passe incorrect."),
        "{page}"
    );

    // Logged in, the bar offers to log out in French.
    let (status, headers, _) = site
        .log_in(&anonymous, &csrf, "admin", "cheval correct")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (session, _) = set_cookie(&headers).expect("a logged-in session");
    let (status, _, page) = site.get(&site.url("/review"), Some(&session)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_french(&page);
    assert!(
        page.contains("class=\"small\">Se déconnecter</button>"),
        "{page}"
    );
}
