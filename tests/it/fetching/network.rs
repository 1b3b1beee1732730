//! The network policy and source credentials, end to end: sources and redirects towards
//! internal addresses are refused unless `daemon.allow_private_addresses` names them (and
//! the refusal is what `veille sources` shows), names are checked on what they resolve to,
//! and a source's password reaches its own origin only, never a redirect target elsewhere,
//! the database or a trace-level log. Servers listen on 127.0.0.1 and 127.0.0.2 (Linux
//! routes all of 127.0.0.0/8 to `lo`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use veille::clock::SystemClock;
use veille::pipeline::SourceOutcome;
use veille::scheduler::{self, RunSummary};

use crate::common::{
    self, HttpServer, Response, RssItem, app, error_of, outcome, rss, source_table,
};

const KEY: &str = "daemon.allow_private_addresses";

fn feed(guid: &str) -> Response {
    let item =
        RssItem::new(guid, format!("Nordvent {guid}")).link(format!("https://news.example/{guid}"));
    Response::ok("application/rss+xml", rss(&[item]))
}

fn redirect(status: u16, to: &str) -> Response {
    Response {
        status,
        headers: vec![("Location".to_string(), to.to_string())],
        body: Vec::new(),
    }
}

/// A server on 127.0.0.2, the "internal" address of these tests.
fn internal_server() -> HttpServer {
    HttpServer::start_on(SocketAddr::from(([127, 0, 0, 2], 0)))
}

/// A source: id, URL, and extra lines (credentials).
struct Source<'a>(&'a str, String, &'a str);

/// The `[daemon]` table is written here: which private addresses it allows is the subject.
fn write_config(dir: &Path, allow: &[&str], sources: &[Source<'_>]) -> PathBuf {
    let allow: Vec<String> = allow.iter().map(|n| format!("{n:?}")).collect();
    let mut text = format!(
        "[daemon]\ndatabase = \"veille.db\"\ncontact_url = \"https://veille.example/contact\"\nallow_private_addresses = [{}]\n\n",
        allow.join(", ")
    );
    for Source(id, url, extra) in sources {
        text.push_str(&source_table(id, url, extra));
    }
    text.push_str("\n[[watch]]\nid = \"w\"\nquery = \"Nordvent\"\n");
    common::write_config(dir, &text)
}

async fn run_once(config: &Path) -> RunSummary {
    let app = app(config, Arc::new(SystemClock));
    scheduler::run_once(&app).await.expect("run")
}

fn veille(config: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = assert_cmd::Command::cargo_bin("veille")
        .unwrap_or_else(|e| panic!("the veille binary: {e}"));
    command.args(args).arg("--config").arg(config);
    for (name, value) in envs {
        command.env(name, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("veille {args:?}: {e}"));
    assert!(
        output.status.success(),
        "veille {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn line_of(text: &str, id: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no line for {id} in\n{text}"))
        .to_string()
}

#[test]
fn a_loopback_source_is_refused_unless_allowed() {
    let http = HttpServer::start();
    http.route("/feed.xml", feed("n1"));
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = [Source("local", http.url("/feed.xml"), "")];

    let config = write_config(dir.path(), &[], &sources);
    let check = veille(&config, &["check"], &[]);
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.contains("network: sources may not reach internal addresses (none allowed)"),
        "{check}"
    );
    assert!(
        check.contains(&format!(
            "warning: source \"local\" will fail: refused to connect to 127.0.0.1 (loopback): add \"127.0.0.1/32\" to {KEY}"
        )),
        "{check}"
    );
    veille(&config, &["run", "--once"], &[]);
    assert!(
        http.requests_for("/feed.xml").is_empty(),
        "the refused source was fetched"
    );
    let listed = veille(&config, &["sources"], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = line_of(&listed, "local");
    assert!(line.contains(" retrying "), "{listed}");
    assert!(
        line.contains(&format!(
            "refused to connect to 127.0.0.1 (loopback): add \"127.0.0.1/32\" to {KEY} if this source is yours"
        )),
        "{listed}"
    );

    // The admin allows loopback: the same source is fetched and healthy.
    let config = write_config(dir.path(), &["127.0.0.0/8"], &sources);
    let check = veille(&config, &["check"], &[]);
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.contains("network: sources may not reach internal addresses (allowed: 127.0.0.0/8)"),
        "{check}"
    );
    assert!(!check.contains("will fail"), "{check}");
    veille(&config, &["run", "--once"], &[]);
    assert_eq!(http.requests_for("/feed.xml").len(), 1);
    let listed = veille(&config, &["sources"], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let line = line_of(&listed, "local");
    assert!(line.contains(" ok "), "{listed}");
    assert!(!line.contains("refused"), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_a_blocked_address_is_refused_before_connecting() {
    let inside = internal_server();
    inside.route("/feed.xml", feed("secret"));
    let port = inside.addr.port();
    let outside = HttpServer::start();
    outside.route("/feed.xml", feed("public"));
    let hops = [
        ("to-127.0.0.2", format!("http://127.0.0.2:{port}/feed.xml")),
        ("to-decimal", format!("http://2130706434:{port}/feed.xml")),
        (
            "to-mapped",
            format!("http://[::ffff:127.0.0.2]:{port}/feed.xml"),
        ),
        ("to-ipv6-loopback", format!("http://[::1]:{port}/feed.xml")),
        (
            "to-metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ),
        ("to-file", "file:///etc/passwd".to_string()),
        ("to-self", outside.url("/feed.xml")),
    ];
    for (path, to) in &hops {
        outside.route(&format!("/{path}"), redirect(302, to));
    }
    let sources: Vec<Source<'_>> = hops
        .iter()
        .map(|(path, _)| Source(path, outside.url(&format!("/{path}")), ""))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    // Only the first server's address is allowed.
    let summary = run_once(&write_config(dir.path(), &["127.0.0.1/32"], &sources)).await;

    let refused = |address: &str, why: &str, allow: &str| {
        format!(
            "refused to connect to {address} ({why}): add \"{allow}\" to {KEY} if this source is yours"
        )
    };
    let expected = [
        (
            "to-127.0.0.2",
            refused("127.0.0.2", "loopback", "127.0.0.2/32"),
        ),
        (
            "to-decimal",
            refused("127.0.0.2", "loopback", "127.0.0.2/32"),
        ),
        (
            "to-mapped",
            refused(
                "::ffff:127.0.0.2",
                "loopback; IPv4-mapped form of 127.0.0.2",
                "127.0.0.2/32",
            ),
        ),
        ("to-ipv6-loopback", refused("::1", "loopback", "::1/128")),
        (
            "to-metadata",
            refused(
                "169.254.169.254",
                "link-local: cloud metadata",
                "169.254.169.254/32",
            ),
        ),
        (
            "to-file",
            "unsupported URL scheme \"file\": use http, https or file".to_string(),
        ),
    ];
    for (id, error) in expected {
        assert_eq!(error_of(&summary, id), error, "{id}");
    }
    assert!(
        inside.requests_for("/feed.xml").is_empty(),
        "a redirect reached the internal server"
    );
    assert!(
        matches!(outcome(&summary, "to-self"), SourceOutcome::Updated(ref s) if s.items_new == 1),
        "{:?}",
        outcome(&summary, "to-self")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_is_refused_when_it_resolves_to_a_blocked_address() {
    let local = HttpServer::start();
    local.route("/feed.xml", feed("local"));
    let by_name = format!("http://localhost:{}/feed.xml", local.addr.port());
    let inside = internal_server();
    inside.route("/to-localhost", redirect(302, &by_name));
    let sources = [
        Source("by-name", by_name.clone(), ""),
        Source("via-redirect", inside.url("/to-localhost"), ""),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    // 127.0.0.2 is allowed; what localhost resolves to (127.0.0.1, ::1) is not.
    let summary = run_once(&write_config(dir.path(), &["127.0.0.2/32"], &sources)).await;
    for id in ["by-name", "via-redirect"] {
        let error = error_of(&summary, id);
        assert!(
            error.starts_with("refused to connect to localhost at ")
                && error.contains("(loopback)"),
            "{id}: {error}"
        );
        assert!(
            error.ends_with(&format!("to {KEY} if this source is yours")),
            "{id}: {error}"
        );
    }
    assert_eq!(inside.requests_for("/to-localhost").len(), 1);
    assert!(
        local.requests_for("/feed.xml").is_empty(),
        "a refused name was connected to"
    );

    let allowed = ["127.0.0.0/8", "::1/128"];
    let summary = run_once(&write_config(dir.path(), &allowed, &sources)).await;
    for id in ["by-name", "via-redirect"] {
        assert!(
            matches!(outcome(&summary, id), SourceOutcome::Updated(_)),
            "{id}: {:?}",
            outcome(&summary, id)
        );
    }
}

#[test]
fn a_source_password_reaches_its_origin_only_and_is_never_stored_or_logged() {
    const PASSWORD: &str = "pw-Zq8-unique-7731";
    const USERINFO: &str = "zz-userinfo-4409";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("veille:{PASSWORD}"));
    let expected = format!("Basic {basic}");

    let origin = HttpServer::start();
    let elsewhere = HttpServer::start();
    let wanted = expected.clone();
    origin.handle("/private.xml", move |request| {
        if request.headers.get("authorization") == Some(&wanted) {
            feed("private")
        } else {
            Response::status(401)
        }
    });
    origin.route("/moved", redirect(302, &elsewhere.url("/feed.xml")));
    let with_userinfo = format!("http://leak:{USERINFO}@{}/other.xml", elsewhere.addr);
    origin.route("/userinfo", redirect(301, &with_userinfo));
    elsewhere.route("/feed.xml", feed("elsewhere"));
    elsewhere.route("/other.xml", feed("other"));

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("feed-password"), format!("{PASSWORD}\n")).expect("write");
    let login = "username = \"veille\"\npassword_file = \"feed-password\"\n";
    let sources = [
        Source("private", origin.url("/private.xml"), login),
        Source("moved", origin.url("/moved"), login),
        Source("userinfo", origin.url("/userinfo"), login),
    ];
    let config = write_config(dir.path(), &["127.0.0.0/8"], &sources);

    let check = veille(&config, &["check"], &[]);
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.contains(&format!(
            "source \"private\": logs in as \"veille\" (HTTP Basic, sent to http://{} only)",
            origin.addr
        )),
        "{check}"
    );

    let run = veille(&config, &["run", "--once"], &[("RUST_LOG", "trace")]);
    let log = String::from_utf8_lossy(&run.stderr);

    // The origin got the login, on every hop it served; the other origin never did.
    let authorization = |server: &HttpServer, path: &str| {
        let requests = server.requests_for(path);
        assert_eq!(requests.len(), 1, "{path}: {requests:?}");
        requests[0].headers.get("authorization").cloned()
    };
    assert_eq!(
        authorization(&origin, "/private.xml"),
        Some(expected.clone())
    );
    assert_eq!(authorization(&origin, "/moved"), Some(expected.clone()));
    assert_eq!(authorization(&origin, "/userinfo"), Some(expected.clone()));
    assert_eq!(authorization(&elsewhere, "/feed.xml"), None);
    // A Location's userinfo is not sent either (reqwest would make it a Basic header).
    assert_eq!(authorization(&elsewhere, "/other.xml"), None);

    let listed = veille(&config, &["sources"], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    for id in ["private", "moved"] {
        assert!(line_of(&listed, id).contains(" ok "), "{listed}");
    }
    assert!(
        line_of(&listed, "userinfo").contains(&format!(
            "moved permanently to {}",
            elsewhere.url("/other.xml")
        )),
        "{listed}"
    );

    // The trace log (the HTTP client's own lines included) names the sources' URLs, never
    // the secrets.
    assert!(log.contains("TRACE"), "no trace lines: {log}");
    assert!(log.contains(&origin.url("/private.xml")), "{log}");
    let secrets = [PASSWORD, basic.as_str(), USERINFO];
    for secret in secrets {
        assert!(!log.contains(secret), "the log holds {secret:?}");
        assert!(!listed.contains(secret), "veille sources shows {secret:?}");
        assert!(!check.contains(secret), "veille check shows {secret:?}");
    }
    // Nor do the database and its write-ahead log, which do hold the URLs.
    let mut stored = Vec::new();
    for name in ["veille.db", "veille.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            stored.extend_from_slice(&bytes);
        }
    }
    let contains = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains("/private.xml"), "the database holds no URL at all");
    for secret in secrets {
        assert!(!contains(secret), "the database holds {secret:?}");
    }
}
