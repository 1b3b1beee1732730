//! The judgment pages over real HTTP: the daemon's router (`veille::web::serve`) on
//! 127.0.0.1, mentions polled from a feed served on 127.0.0.1 into a SQLite file in a temp
//! folder, judgment links taken from the digest veille mailed (as `.eml` files), and a
//! plain HTTP client that keeps cookies by hand and never follows redirects.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use tokio::sync::watch;
use veille::clock::ManualClock;
use veille::judge::token::{self, LinkKey};
use veille::model::MentionId;
use veille::model::Verdict;
use veille::{App, notify, scheduler};

use crate::common::{
    self, HttpServer, Response, RssItem, SmtpSink, app, daemon_table, rss, smtp_table, source_table,
};

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

fn rss_item(n: usize, title: &str) -> RssItem {
    RssItem::new(format!("item-{n}"), title)
        .link(format!("https://news{n}.example/acme-{n}"))
        .description(format!("Acme story number {n}."))
        .pub_date(format!("Fri, 27 Nov 2026 10:0{n}:00 +0000"))
}

/// How a [`Site`] is configured beyond its defaults.
#[derive(Default)]
struct Options<'a> {
    /// The `web.password_hash` line, if any.
    password_hash: Option<&'a str>,
    /// `web.base_url` (default: the listener's own address).
    base_url: Option<&'a str>,
    /// TOML added to `[daemon]`.
    daemon: &'a str,
    /// TOML added to `[web]`.
    web: &'a str,
    /// TOML appended to the configuration.
    extra: &'a str,
    /// Files written next to the configuration first: (name, contents).
    files: &'a [(&'a str, &'a str)],
}

impl Site {
    /// `password_hash`: the `web.password_hash` line, if any.
    async fn start(password_hash: Option<&str>) -> Site {
        Site::start_with(password_hash, "").await
    }

    /// `extra`: TOML appended to the configuration.
    async fn start_with(password_hash: Option<&str>, extra: &str) -> Site {
        Site::start_options(Options {
            password_hash,
            extra,
            ..Options::default()
        })
        .await
    }

    /// A veille whose pages speak French (`web.lang = "fr"`).
    async fn start_fr(password_hash: Option<&str>) -> Site {
        Site::start_options(Options {
            password_hash,
            web: "lang = \"fr\"\n",
            ..Options::default()
        })
        .await
    }

    async fn start_options(options: Options<'_>) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in options.files {
            std::fs::write(dir.path().join(name), contents).expect("write a file");
        }
        let feed = HttpServer::start();
        let items: Vec<RssItem> = [
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
            Response::ok("application/rss+xml", rss(&items)),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        std::fs::write(dir.path().join("web-secret"), SECRET).expect("write the secret");
        let password = options
            .password_hash
            .map_or(String::new(), |h| format!("password_hash = \"{h}\"\n"));
        let base_url = options
            .base_url
            .map_or_else(|| format!("{base}/"), str::to_string);
        let (daemon_extra, web_extra, extra) = (options.daemon, options.web, options.extra);
        let daemon = daemon_table(
            "veille.db",
            &format!("mail_dir = \"mail\"\ntimezone = \"Europe/Paris\"\n{daemon_extra}"),
        );
        let config_path = common::write_config(
            dir.path(),
            &format!(
                r#"{daemon}
[web]
base_url = "{base_url}"
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
        );
        let clock = Arc::new(ManualClock::new(now()));
        let app = app(&config_path, clock.clone());
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
    let (mut anonymous, mut csrf) = (anonymous, csrf);
    for (user, password) in [("admin", "wrong"), ("root", "correct horse")] {
        let (status, headers, page) = site.log_in(&anonymous, &csrf, user, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        assert!(page.contains("Wrong user name or password"), "{page}");
        // A form serves one attempt: the answer carries a new anonymous session (never a
        // logged-in one) and its token, and the spent pair is refused, even with the
        // right password.
        let (fresh, _) = set_cookie(&headers).expect("a new form's session");
        assert!(
            fresh.contains("|anon|"),
            "no login for a wrong password: {fresh}"
        );
        let (status, headers, _) = site
            .log_in(&anonymous, &csrf, "admin", "correct horse")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(set_cookie(&headers).is_none());
        (anonymous, csrf) = (fresh, field(&page, "csrf"));
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
    let text = daemon_table("veille.db", "")
        + &source_table("wire", "http://127.0.0.1:9/feed.xml", "")
        + "\n[[watch]]\nid = \"acme\"\nname = \"Acme\"\nquery = \"Acme\"\n";
    let path = common::write_config(dir.path(), &text);
    let app = app(&path, Arc::new(ManualClock::new(now())));
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
{smtp}
[[alert]]
id = "crise"
to = "crisis@example.org"
watches = ["acme"]
min_score = 0.99
crisis = true
"#,
        smtp = smtp_table(smtp.addr.port())
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
        notify::deliver_pending(&app).await.expect("deliver");
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
    let restarted = app(&site.dir.path().join("veille.toml"), site.clock.clone());
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
    let n = crisis_item(&site, mention);
    let copies = rss(&[RssItem::new(format!("copy-{n}"), "Acme story again")
        .link(format!("https://news{n}.example/acme-{n}"))
        .description("Acme, as reported elsewhere.")
        .pub_date("Fri, 27 Nov 2026 13:30:00 +0000")]);
    site._feed
        .route("/copies.xml", Response::ok("application/rss+xml", copies));
    let text = std::fs::read_to_string(site.dir.path().join("veille.toml"))
        .expect("config")
        .replace(
            "http://127.0.0.1:9/copies.xml",
            &site._feed.url("/copies.xml"),
        );
    std::fs::write(site.dir.path().join("veille.toml"), text).expect("config");
    let back = app(&site.dir.path().join("veille.toml"), site.clock.clone());
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
    let (status, headers, page) = site.log_in(&anonymous, &csrf, "admin", "faux").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    assert_french(&page);
    assert!(
        page.contains("Nom d’utilisateur ou mot de passe incorrect."),
        "{page}"
    );

    // Logged in (with the new form the refusal brought), the bar offers to log out in
    // French.
    let (anonymous, _) = set_cookie(&headers).expect("a new form's session");
    let csrf = field(&page, "csrf");
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

/// A request with headers of the test's choosing (`Host` included: the client keeps the one
/// given), an optional session cookie and an optional form.
async fn send(
    site: &Site,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = site.client.request(method, site.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(cookie) = cookie {
        request = request.header("Cookie", format!("veille_session={cookie}"));
    }
    if let Some(form) = form {
        request = request
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(form));
    }
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.expect("body"))
}

/// The value of the sample `name` (with its labels, as exposed) in a scrape; 0 when absent.
fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// DNS rebinding: a page on attacker.example whose name now resolves to 127.0.0.1 sends
/// `Host: attacker.example` and a matching `Origin`. Nothing answers it but /healthz.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebound_host_is_refused_with_421_everywhere_but_healthz() {
    let site = Site::start(None).await;
    let port = site.base.rsplit(':').next().expect("a port").to_string();
    let attacker = [
        ("Host", "attacker.example"),
        ("Origin", "http://attacker.example"),
    ];
    let attacker_with_port = format!("attacker.example:{port}");
    let attacker_origin = format!("http://attacker.example:{port}");
    let attacker_port = [
        ("Host", attacker_with_port.as_str()),
        ("Origin", attacker_origin.as_str()),
    ];

    // What the page could read: no review page, no token, no metrics.
    for headers in [&attacker[..], &attacker_port[..], &attacker[..1]] {
        for path in ["/review", "/metrics", "/login", "/static/review.js"] {
            let (status, response_headers, page) =
                send(&site, reqwest::Method::GET, path, headers, None, None).await;
            assert_eq!(
                status,
                StatusCode::MISDIRECTED_REQUEST,
                "{path} {headers:?}"
            );
            assert!(!page.contains("name=\"csrf\""), "{page}");
            assert!(set_cookie(&response_headers).is_none(), "{path}");
            if path == "/review" {
                assert!(page.contains("Wrong address"), "{page}");
            }
        }
    }
    let (status, _, _) = send(
        &site,
        reqwest::Method::GET,
        "/healthz",
        &attacker,
        None,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "/healthz is for load balancers, whatever the name"
    );

    // What it could post, even with a session and tokens it somehow held: nothing stored.
    let (_, headers, page) = site.get(&site.url("/review"), None).await;
    let (cookie, _) = set_cookie(&headers).expect("a session");
    let review_form = [
        ("csrf", field(&page, "csrf")),
        ("mention", field(&page, "mention")),
        ("verdict", "crisis".to_string()),
    ];
    let review_form: Vec<(&str, &str)> =
        review_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let link = site.link_for(Verdict::Crisis);
    let link_path = link.strip_prefix(&site.base).expect("a link to this site");
    let (_, _, confirm) = site.get(&link, None).await;
    let link_csrf = field(&confirm, "csrf");
    for headers in [&attacker[..], &attacker_port[..]] {
        let (status, _, _) = send(
            &site,
            reqwest::Method::POST,
            "/review/judge",
            headers,
            Some(&cookie),
            Some(&review_form),
        )
        .await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
        let (status, _, _) = send(
            &site,
            reqwest::Method::POST,
            link_path,
            headers,
            None,
            Some(&[("csrf", &link_csrf)]),
        )
        .await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    }
    assert_eq!(site.judgments(), 0, "a rebound page recorded a verdict");

    // A good Host does not make another site's Origin acceptable.
    let good_host = format!("127.0.0.1:{port}");
    let (status, _, page) = send(
        &site,
        reqwest::Method::POST,
        "/review/judge",
        &[("Host", &good_host), ("Origin", "http://attacker.example")],
        Some(&cookie),
        Some(&review_form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("sent from another site"), "{page}");
    assert_eq!(site.judgments(), 0);

    // Loopback names and addresses, any port, are this machine.
    let localhost = format!("localhost:{port}");
    for host in [
        good_host.as_str(),
        localhost.as_str(),
        "[::1]:8710",
        "127.0.0.2",
    ] {
        let (status, _, page) = send(
            &site,
            reqwest::Method::GET,
            "/review",
            &[("Host", host)],
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{host}: {page}");
    }
    // And our own forms still post: same token, our origin.
    let own_origin = format!("http://localhost:{port}");
    let (status, _, _) = send(
        &site,
        reqwest::Method::POST,
        "/review/judge",
        &[("Host", &localhost), ("Origin", &own_origin)],
        Some(&cookie),
        Some(&review_form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(site.judgments(), 1);

    let (status, _, scrape) = site.get(&site.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        sample(&scrape, "veille_http_refused_total{reason=\"host\"}") >= 16.0,
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "veille_http_refused_total{reason=\"origin\"}"),
        1.0
    );
}

/// Behind a reverse proxy, readers name `web.base_url`'s host; its origin is the one forms
/// come from.
#[tokio::test(flavor = "multi_thread")]
async fn the_base_url_host_and_origin_are_accepted() {
    let site = Site::start_options(Options {
        base_url: Some("https://veille.example.org/"),
        ..Options::default()
    })
    .await;
    for (host, expected) in [
        ("veille.example.org", StatusCode::OK),
        ("Veille.Example.org:443", StatusCode::OK),
        ("veille.example.org:8443", StatusCode::MISDIRECTED_REQUEST),
        (
            "veille.example.org.attacker.example",
            StatusCode::MISDIRECTED_REQUEST,
        ),
    ] {
        let (status, _, _) = send(
            &site,
            reqwest::Method::GET,
            "/review",
            &[("Host", host)],
            None,
            None,
        )
        .await;
        assert_eq!(status, expected, "{host}");
    }
    let (_, headers, page) = site.get(&site.url("/review"), None).await;
    let (cookie, _) = set_cookie(&headers).expect("a session");
    let form = [
        ("csrf", field(&page, "csrf")),
        ("mention", field(&page, "mention")),
        ("verdict", "relevant".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (origin, expected) in [
        ("http://veille.example.org", StatusCode::FORBIDDEN),
        ("https://attacker.example", StatusCode::FORBIDDEN),
        ("https://veille.example.org", StatusCode::SEE_OTHER),
    ] {
        let (status, _, _) = send(
            &site,
            reqwest::Method::POST,
            "/review/judge",
            &[("Host", "veille.example.org"), ("Origin", origin)],
            Some(&cookie),
            Some(&form),
        )
        .await;
        assert_eq!(status, expected, "{origin}");
    }
    assert_eq!(site.judgments(), 1);
}

const METRICS_TOKEN: &str = "kX9v2QmZ7s-metrics-token-for-tests";

/// /metrics: for this machine without a token; for the token's bearer with one.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_for_this_machine_or_the_bearer_of_the_token() {
    let site = Site::start(None).await;
    let (status, _, _) = site.get(&site.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    for proxied in [
        ("X-Forwarded-For", "203.0.113.7"),
        ("Forwarded", "for=203.0.113.7"),
        ("X-Real-IP", "203.0.113.7"),
    ] {
        let (status, _, body) = send(
            &site,
            reqwest::Method::GET,
            "/metrics",
            &[proxied],
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{proxied:?}");
        assert!(body.contains("daemon.metrics_token_file"), "{body}");
    }

    let site = Site::start_options(Options {
        daemon: "metrics_token_file = \"metrics-token\"\n",
        files: &[("metrics-token", &format!("{METRICS_TOKEN}\n"))],
        ..Options::default()
    })
    .await;
    let right = format!("Bearer {METRICS_TOKEN}");
    let wrong = format!("Bearer {METRICS_TOKEN}x");
    let short = format!("Bearer {}", &METRICS_TOKEN[..10]);
    for headers in [
        vec![],
        vec![("Authorization", wrong.as_str())],
        vec![("Authorization", short.as_str())],
        vec![("Authorization", "Basic YWRtaW46YWRtaW4=")],
    ] {
        let (status, response_headers, body) = send(
            &site,
            reqwest::Method::GET,
            "/metrics",
            &headers,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(
            response_headers["www-authenticate"],
            "Bearer realm=\"veille metrics\""
        );
        assert!(!body.contains("veille_"), "{body}");
    }
    // The right token: from here, through a proxy, or under any name (a rebinding page
    // cannot know it).
    for extra in [
        None,
        Some(("X-Forwarded-For", "203.0.113.7")),
        Some(("Host", "prometheus-target.internal:9480")),
    ] {
        let mut headers = vec![("Authorization", right.as_str())];
        headers.extend(extra);
        let (status, _, body) = send(
            &site,
            reqwest::Method::GET,
            "/metrics",
            &headers,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{extra:?}: {body}");
        assert!(body.contains("veille_http_refused_total"), "{body}");
    }
    // Without it, a foreign name is still misdirected.
    let (status, _, _) = send(
        &site,
        reqwest::Method::GET,
        "/metrics",
        &[("Host", "attacker.example")],
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}

impl Site {
    /// A fresh login form: its anonymous session and CSRF token.
    async fn login_form(&self) -> (String, String) {
        let (status, headers, page) = self.get(&self.url("/login"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let (cookie, _) = set_cookie(&headers).expect("an anonymous session");
        (cookie, field(&page, "csrf"))
    }

    /// One login attempt with a fresh form, from `client` (`X-Forwarded-For`, as a reverse
    /// proxy on this machine writes it) or from this machine itself.
    async fn attempt(
        &self,
        client: Option<&str>,
        password: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let (cookie, csrf) = self.login_form().await;
        let headers: Vec<(&str, &str)> =
            client.map(|c| ("X-Forwarded-For", c)).into_iter().collect();
        send(
            self,
            reqwest::Method::POST,
            "/login",
            &headers,
            Some(&cookie),
            Some(&[("csrf", &csrf), ("user", "admin"), ("password", password)]),
        )
        .await
    }

    async fn scrape(&self) -> String {
        let (status, _, scrape) = self.get(&self.url("/metrics"), None).await;
        assert_eq!(status, StatusCode::OK);
        scrape
    }
}

fn retry_after(headers: &HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {headers:?}"))
}

/// One client's wrong passwords: five free, then each makes the next wait longer (429 with
/// `Retry-After`, nothing checked); other clients are not affected, and once the wait is
/// over the right password gets in.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_make_a_client_wait_longer_then_the_right_one_gets_in() {
    let site = Site::start(Some(&hash("correct horse"))).await;
    let guesser = Some("203.0.113.5");
    for n in 1..=6 {
        let (status, _, page) = site.attempt(guesser, &format!("guess {n}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}: {page}");
    }
    let (status, headers, page) = site.attempt(guesser, "correct horse").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert_eq!(retry_after(&headers), 1);
    assert!(page.contains("Too many login attempts"), "{page}");
    assert!(page.contains("Try again in 1 s"), "{page}");
    // The proxy's earlier entries are the client's own claims: not a way out.
    let (status, _, _) = site.attempt(Some("10.9.9.9, 203.0.113.5"), "guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // The waits grow: 1 s, then 2 s, then 4 s.
    for wait in [1, 2, 4] {
        site.clock.advance(Duration::seconds(wait));
        let (status, _, _) = site.attempt(guesser, "guess again").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "after {wait} s");
        let (status, headers, _) = site.attempt(guesser, "guess again").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after(&headers), (wait * 2) as u64);
    }

    // Someone else, and this machine itself, are not slowed down by that client.
    let (status, _, _) = site.attempt(Some("198.51.100.20"), "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = site.attempt(None, "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Once the wait is over, the right password works, and forgives the address.
    site.clock.advance(Duration::seconds(8));
    let (status, headers, _) = site.attempt(guesser, "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (session, _) = set_cookie(&headers).expect("a session");
    let (status, _, _) = site.get(&site.url("/review"), Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = site.attempt(guesser, "one typo").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A body larger than any of our forms is refused before it is read whole.
    let (cookie, csrf) = site.login_form().await;
    let huge = "x".repeat(100 * 1024);
    let (status, _, _) = send(
        &site,
        reqwest::Method::POST,
        "/login",
        &[],
        Some(&cookie),
        Some(&[("csrf", &csrf), ("user", "admin"), ("password", &huge)]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let scrape = site.scrape().await;
    assert_eq!(
        sample(&scrape, "veille_login_failures_total"),
        10.0,
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "veille_logins_refused_total{reason=\"client\"}"),
        5.0,
        "{scrape}"
    );
}

/// Many clients together meet the overall limit, whatever their headers say; this machine
/// itself (an admin through `ssh -L`) still gets in, and so does everyone once it is over.
#[tokio::test(flavor = "multi_thread")]
async fn many_clients_meet_the_overall_limit_but_not_this_machine() {
    let site = Site::start(Some(&hash("correct horse"))).await;
    // 31 addresses, one wrong guess each, eight at a time (the password checks' queue
    // would refuse more at once).
    let clients: Vec<String> = (1..=31).map(|n| format!("198.51.100.{n}")).collect();
    for batch in clients.chunks(8) {
        let attempts = batch.iter().map(|c| site.attempt(Some(c), "guess"));
        for (status, _, page) in futures_util::future::join_all(attempts).await {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        }
    }
    // Now everyone else waits, new addresses and unnamed clients alike.
    for client in [
        Some("192.0.2.200"),
        Some("unknown"),
        Some("2001:db8::7"),
        Some("192.0.2.201"),
    ] {
        let (status, headers, page) = site.attempt(client, "correct horse").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{client:?}: {page}");
        assert_eq!(retry_after(&headers), 1);
    }
    // This machine is exempt from the overall limit.
    let (status, _, _) = site.attempt(None, "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // After the wait, a real login from anywhere works again.
    site.clock.advance(Duration::seconds(1));
    let (status, _, _) = site.attempt(Some("192.0.2.200"), "correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let scrape = site.scrape().await;
    assert_eq!(sample(&scrape, "veille_login_failures_total"), 31.0);
    assert_eq!(
        sample(&scrape, "veille_logins_refused_total{reason=\"overall\"}"),
        4.0,
        "{scrape}"
    );
}

/// The daemon's memory, from `/proc/<pid>/status`: (peak, now), in kB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `veille run`, stopped (SIGTERM, then SIGKILL) when dropped, even if the test fails.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The attack that took the daemon past 3 GB: wrong passwords posted 200 at a time, first
/// with one form (session and CSRF token) for all, then each with its own form and its own
/// address. Against the real binary, with the real `veille hash-password` cost (argon2id,
/// 19 MiB per check): one check for the shared form, the rest answered at once (403 spent
/// form, 429 throttled, 503 queue full), and the daemon never passes 100 MB.
#[test]
fn a_flood_of_wrong_logins_keeps_the_daemon_under_100_mb() {
    const LIMIT_KB: u64 = 100 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    let output = assert_cmd::Command::cargo_bin("veille")
        .expect("the binary")
        .arg("hash-password")
        .write_stdin("correct horse battery\n")
        .output()
        .expect("hash-password");
    let hash = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let feed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy the feed");
    std::fs::write(dir.path().join("web-secret"), SECRET).expect("write the secret");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:{port}\"\n\n[web]\nsecret_file = \"web-secret\"\npassword_hash = \"{}\"\n\n[[source]]\nid = \"quotidien\"\nurl = \"file:feed.xml\"\nevery = \"1h\"\n\n[[watch]]\nid = \"nordvent\"\nquery = \"Nordvent\"\n",
            hash.trim()
        ),
    )
    .expect("write the config");
    let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log file");
    let daemon = Daemon(
        std::process::Command::new(env!("CARGO_BIN_EXE_veille"))
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the daemon"),
    );
    let pid = daemon.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (idle, after, statuses) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let healthy = client.get(format!("{base}/healthz")).send().await;
            if healthy.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let idle = memory_kb(pid);
        let form = || async {
            let response = client
                .get(format!("{base}/login"))
                .send()
                .await
                .expect("GET /login");
            let (cookie, _) = set_cookie(response.headers()).expect("a session");
            let page = response.text().await.expect("page");
            (cookie, field(&page, "csrf"))
        };
        let post = |cookie: String, csrf: String, from: Option<String>, password: String| {
            let client = client.clone();
            let url = format!("{base}/login");
            async move {
                let mut request = client
                    .post(url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Cookie", format!("veille_session={cookie}"))
                    .body(form_body(&[
                        ("csrf", &csrf),
                        ("user", "admin"),
                        ("password", &password),
                    ]));
                if let Some(from) = from {
                    request = request.header("X-Forwarded-For", from);
                }
                let response = request.send().await.expect("POST /login");
                (response.status(), response.headers().clone())
            }
        };
        // One form for all 200.
        let (cookie, csrf) = form().await;
        let shared =
            (0..200).map(|n| post(cookie.clone(), csrf.clone(), None, format!("wrong {n}")));
        let shared: Vec<StatusCode> = futures_util::future::join_all(shared)
            .await
            .into_iter()
            .map(|(status, _)| status)
            .collect();
        // A form and an address each.
        let mut forms = Vec::new();
        for _ in 0..200 {
            forms.push(form().await);
        }
        let spread = forms.into_iter().enumerate().map(|(n, (cookie, csrf))| {
            let from = format!("10.{}.{}.{}", n / 65536, (n / 256) % 256, n % 256 + 1);
            post(cookie, csrf, Some(from), format!("wrong {n}"))
        });
        let spread = futures_util::future::join_all(spread).await;
        for (status, headers) in &spread {
            if matches!(
                *status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) {
                assert!(
                    headers.contains_key("retry-after"),
                    "{status} without Retry-After"
                );
            }
        }
        let spread: Vec<StatusCode> = spread.into_iter().map(|(status, _)| status).collect();
        let after = memory_kb(pid);

        // The admin, on this machine, gets in once its own short wait is over.
        let mut admin = StatusCode::TOO_MANY_REQUESTS;
        for _ in 0..3 {
            let (cookie, csrf) = form().await;
            let (status, headers) = post(cookie, csrf, None, "correct horse battery".into()).await;
            admin = status;
            if status != StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(retry_after(&headers))).await;
        }
        assert_eq!(
            admin,
            StatusCode::SEE_OTHER,
            "the admin could not log in after the flood"
        );
        (idle, after, (shared, spread))
    });
    let (shared, spread) = statuses;
    let count = |statuses: &[StatusCode], status: StatusCode| {
        statuses.iter().filter(|s| **s == status).count()
    };
    eprintln!(
        "flood: idle VmHWM {} kB VmRSS {} kB; after 2 × 200 posts VmHWM {} kB VmRSS {} kB; \
         shared form: {} checked, {} spent, {} throttled; spread: {} checked, {} throttled, {} busy",
        idle.0,
        idle.1,
        after.0,
        after.1,
        count(&shared, StatusCode::UNAUTHORIZED),
        count(&shared, StatusCode::FORBIDDEN),
        count(&shared, StatusCode::TOO_MANY_REQUESTS),
        count(&spread, StatusCode::UNAUTHORIZED),
        count(&spread, StatusCode::TOO_MANY_REQUESTS),
        count(&spread, StatusCode::SERVICE_UNAVAILABLE),
    );
    assert_eq!(
        count(&shared, StatusCode::UNAUTHORIZED),
        1,
        "one check per form: {shared:?}"
    );
    assert!(
        shared.iter().all(|s| matches!(
            *s,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        )),
        "{shared:?}"
    );
    assert!(
        spread.iter().all(|s| matches!(
            *s,
            StatusCode::UNAUTHORIZED
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::SERVICE_UNAVAILABLE
        )),
        "{spread:?}"
    );
    let checked = count(&spread, StatusCode::UNAUTHORIZED);
    assert!(
        (1..=31).contains(&checked),
        "the overall limit lets 31 attempts through, then makes everyone wait: {checked} checked"
    );
    assert!(
        after.0 < LIMIT_KB,
        "the flood took the daemon to {} kB (limit {LIMIT_KB} kB)",
        after.0
    );
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
    assert!(
        log.matches("too many failed logins overall").count() == 1,
        "one warning when the overall throttle starts, not one per request:\n{log}"
    );
    drop(daemon);
}
