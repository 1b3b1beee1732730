//! Fetching against a hostile HTTP server on 127.0.0.1: slow, endless, gzip bombs,
//! redirect loops, errors that recover, rate limits, 304s, undeclared Latin-1, malformed
//! XML, 410 Gone and permanent redirects. Every case checks what is recorded on the source
//! and that the well-behaved sources polled in the same tick still succeed. Timeouts are
//! set to a few hundred milliseconds so the whole file runs in about a second.
//! `fetching/network.rs`: the network policy and source credentials;
//! `fetching/isolation.rs`: parser processes; `fetching/hostile.rs`: a hostile corpus
//! through the daemon binary.

mod hostile;
mod isolation;
mod network;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use veille::clock::ManualClock;
use veille::model::SourceId;
use veille::pipeline::SourceOutcome;
use veille::scheduler;
use veille::store::SourceProblem;

use crate::common::{self, RssItem, app, daemon_table, error_of, outcome, rss, source_table};

/// A feed of (guid, title) items, each at `https://x.example/{guid}`.
fn feed(items: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<RssItem> = items
        .iter()
        .map(|&(guid, title)| RssItem::new(guid, title).link(format!("https://x.example/{guid}")))
        .collect();
    rss(&items).into_bytes()
}

/// The hostile server: state shared with the test.
#[derive(Default)]
struct Hostile {
    hits: Mutex<HashMap<String, usize>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    bomb: Vec<u8>,
    user_agents: Mutex<Vec<String>>,
}

impl Hostile {
    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .map(|h| h.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn head(status: &str, headers: &[(&str, String)], length: Option<usize>) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    if let Some(length) = length {
        text.push_str(&format!("Content-Length: {length}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.into_bytes()
}

async fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let _ = stream
        .write_all(&head(status, headers, Some(body.len())))
        .await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn serve(mut stream: TcpStream, state: Arc<Hostile>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request).to_string();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let header = |name: &str| {
        text.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(agent) = header("user-agent")
        && let Ok(mut agents) = state.user_agents.lock()
    {
        agents.push(agent);
    }
    let hit = {
        let mut hits = state.hits.lock().unwrap_or_else(|p| p.into_inner());
        let n = hits.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    let xml = ("Content-Type", "application/rss+xml".to_string());
    match path.as_str() {
        p if p.starts_with("/ok/") => {
            respond(&mut stream, "200 OK", &[xml], &feed(&[(p, "fine")])).await;
        }
        p if p.starts_with("/count/") => {
            let now = state.active.fetch_add(1, Ordering::SeqCst) + 1;
            state.max_active.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            state.active.fetch_sub(1, Ordering::SeqCst);
            respond(&mut stream, "200 OK", &[xml], &feed(&[(p, "counted")])).await;
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            respond(&mut stream, "200 OK", &[xml], &feed(&[])).await;
        }
        "/endless" => {
            let _ = stream.write_all(&head("200 OK", &[xml], None)).await;
            let chunk = vec![b' '; 64 * 1024];
            while stream.write_all(&chunk).await.is_ok() {}
        }
        "/bomb" => {
            let headers = [xml, ("Content-Encoding", "gzip".to_string())];
            respond(&mut stream, "200 OK", &headers, &state.bomb).await;
        }
        "/loop-a" => {
            let to = ("Location", "/loop-b".to_string());
            respond(&mut stream, "302 Found", &[to], b"").await;
        }
        "/loop-b" => {
            let to = ("Location", "/loop-a".to_string());
            respond(&mut stream, "302 Found", &[to], b"").await;
        }
        "/flaky" if hit == 1 => respond(&mut stream, "500 Oops", &[], b"").await,
        "/flaky" => {
            respond(&mut stream, "200 OK", &[xml], &feed(&[("f1", "back")])).await;
        }
        "/busy" => {
            let after = ("Retry-After", "7200".to_string());
            respond(&mut stream, "429 Too Many Requests", &[after], b"").await;
        }
        "/busy-date" => {
            let after = ("Retry-After", "Fri, 27 Nov 2026 12:00:00 GMT".to_string());
            respond(&mut stream, "503 Service Unavailable", &[after], b"").await;
        }
        "/etag" if header("if-none-match").as_deref() == Some("\"v1\"") => {
            respond(&mut stream, "304 Not Modified", &[], b"").await;
        }
        "/etag" => {
            let headers = [xml, ("ETag", "\"v1\"".to_string())];
            respond(&mut stream, "200 OK", &headers, &feed(&[("e1", "tagged")])).await;
        }
        "/latin1" => {
            let body = b"<rss version=\"2.0\"><channel><title>t</title><item><guid>l1</guid><title>Caf\xe9 cr\xe8me \xe0 Z\xfcrich</title></item></channel></rss>";
            let text_xml = ("Content-Type", "text/xml".to_string());
            respond(&mut stream, "200 OK", &[text_xml], body).await;
        }
        "/malformed" => {
            let body = b"<rss version=\"2.0\"><channel><item><title>broken</title></channel>";
            respond(&mut stream, "200 OK", &[xml], body).await;
        }
        "/gone" => respond(&mut stream, "410 Gone", &[], b"").await,
        "/moved" => {
            let to = ("Location", "/ok/new-home".to_string());
            respond(&mut stream, "301 Moved Permanently", &[to], b"").await;
        }
        "/moved-308" => {
            let to = ("Location", "/ok/new-home-308".to_string());
            respond(&mut stream, "308 Permanent Redirect", &[to], b"").await;
        }
        _ => respond(&mut stream, "404 Not Found", &[], b"").await,
    }
}

/// Starts the server on its own thread and runtime; it lives until the process ends.
fn start(state: Arc<Hostile>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, state.clone()));
                }
            }
        });
    });
    rx.recv().expect("server address")
}

fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..24 {
        encoder.write_all(&zeros).expect("compress");
    }
    encoder.finish().expect("compress")
}

/// Short timeouts (the hostile server's slow answers must not hold a test for long), a
/// contact URL for the User-Agent, `extra` in `[daemon]`; each source every 15 minutes.
fn write_config(dir: &Path, sources: &[(&str, String)], extra: &str) -> PathBuf {
    let mut text = daemon_table(
        "veille.db",
        &format!(
            "connect_timeout = \"300ms\"\nfetch_timeout = \"400ms\"\ncontact_url = \"https://veille.example/contact\"\n{extra}"
        ),
    );
    for (id, url) in sources {
        text.push_str(&source_table(id, url, "every = \"15m\""));
    }
    text.push_str("\n[[watch]]\nid = \"w\"\nquery = \"fine\"\n");
    common::write_config(dir, &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_servers_are_contained_and_recorded() {
    let state = Arc::new(Hostile {
        bomb: gzip_bomb(),
        ..Hostile::default()
    });
    let addr = start(state.clone());
    let url = |path: &str| format!("http://{addr}{path}");
    let sources: Vec<(&str, String)> = vec![
        ("good-1", url("/ok/1")),
        ("good-2", format!("http://localhost:{}/ok/2", addr.port())),
        ("slow", url("/slow")),
        ("endless", url("/endless")),
        ("bomb", url("/bomb")),
        ("loop", url("/loop-a")),
        ("flaky", url("/flaky")),
        ("busy", url("/busy")),
        ("busy-date", url("/busy-date")),
        ("etag", url("/etag")),
        ("latin1", url("/latin1")),
        ("malformed", url("/malformed")),
        ("gone", url("/gone")),
        ("moved", url("/moved")),
        ("moved-308", url("/moved-308")),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &sources,
        "failing_after = 1\nper_host_concurrency = 16",
    );
    let start_at = Utc
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .expect("time");
    let clock = Arc::new(ManualClock::new(start_at));
    let app = app(&config, clock.clone());

    let started = std::time::Instant::now();
    let first = scheduler::run_once(&app).await.expect("first tick");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "one slow host held the tick for {:?}",
        started.elapsed()
    );
    for id in ["good-1", "good-2"] {
        assert!(
            matches!(outcome(&first, id), SourceOutcome::Updated(ref s) if s.items_new == 1),
            "{id}: {:?}",
            outcome(&first, id)
        );
    }
    assert!(
        error_of(&first, "slow").contains("timed out"),
        "{}",
        error_of(&first, "slow")
    );
    assert!(
        error_of(&first, "endless").contains("larger than"),
        "{}",
        error_of(&first, "endless")
    );
    assert!(
        error_of(&first, "bomb").contains("larger than"),
        "{}",
        error_of(&first, "bomb")
    );
    assert!(
        error_of(&first, "loop").contains("too many redirects"),
        "{}",
        error_of(&first, "loop")
    );
    assert!(
        error_of(&first, "flaky").contains("HTTP 500"),
        "{}",
        error_of(&first, "flaky")
    );
    assert!(
        error_of(&first, "busy").contains("retry after 7200s"),
        "{}",
        error_of(&first, "busy")
    );
    assert!(error_of(&first, "busy-date").contains("HTTP 503"));
    assert!(
        error_of(&first, "malformed").contains("not a feed"),
        "{}",
        error_of(&first, "malformed")
    );
    assert!(
        error_of(&first, "gone").contains("410"),
        "{}",
        error_of(&first, "gone")
    );
    assert!(matches!(outcome(&first, "etag"), SourceOutcome::Updated(_)));
    let agents = state
        .user_agents
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    let wanted = format!(
        "veille/{} (self-hosted media monitoring; +https://veille.example/contact)",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        !agents.is_empty() && agents.iter().all(|a| *a == wanted),
        "{agents:?}"
    );
    assert!(matches!(
        outcome(&first, "moved"),
        SourceOutcome::Updated(_)
    ));

    let store = app.store.clone();
    let state_of = |id: &str| store.source_state(&SourceId::new(id)).expect("state");
    // Retry-After pushes the next poll past the backoff.
    let busy_next = state_of("busy").next_poll_at.expect("next poll");
    assert!(
        busy_next >= start_at + chrono::Duration::seconds(7200),
        "{busy_next}"
    );
    let busy_date_next = state_of("busy-date").next_poll_at.expect("next poll");
    assert!(
        busy_date_next >= start_at + chrono::Duration::hours(2),
        "{busy_date_next}"
    );
    // Undeclared Latin-1 reads right.
    let latin1 = app
        .db(|s| s.source_rows())
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.source.as_str() == "latin1")
        .expect("latin1 row");
    assert_eq!(latin1.items, 1);
    assert!(
        latin1.state.last_error.is_none(),
        "{:?}",
        latin1.state.last_error
    );
    let titles: Vec<String> = {
        let conn = rusqlite::Connection::open(dir.path().join("veille.db")).expect("open");
        let mut stmt = conn
            .prepare("SELECT title FROM items WHERE source_id = 'latin1'")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(titles, vec!["Café crème à Zürich".to_string()]);

    // The footer API: failing (failing_after = 1), gone and redirected sources.
    let trouble = app.db(|s| s.sources_in_trouble(1)).await.expect("trouble");
    let problem = |id: &str| {
        trouble
            .iter()
            .filter(|h| h.source.as_str() == id)
            .map(|h| h.problem.clone())
            .collect::<Vec<_>>()
    };
    assert!(matches!(problem("gone")[..], [SourceProblem::Gone { .. }]));
    assert!(matches!(
        problem("flaky")[..],
        [SourceProblem::Failing {
            consecutive_failures: 1,
            ..
        }]
    ));
    assert_eq!(
        problem("moved"),
        vec![SourceProblem::Redirected {
            to: url("/ok/new-home")
        }]
    );
    assert_eq!(
        problem("moved-308"),
        vec![SourceProblem::Redirected {
            to: url("/ok/new-home-308")
        }]
    );
    assert!(problem("good-1").is_empty());

    // Second tick, an hour later: the flaky source recovers (reported once), the ETag
    // source gets a 304, the gone source is not asked again.
    let later = start_at + chrono::Duration::hours(1);
    clock.set(later);
    let second = scheduler::run_once(&app).await.expect("second tick");
    assert!(matches!(
        outcome(&second, "flaky"),
        SourceOutcome::Updated(_)
    ));
    assert_eq!(outcome(&second, "etag"), SourceOutcome::NotModified);
    assert_eq!(state.hits("/etag"), 2);
    assert!(second.sources.iter().all(|r| r.source.as_str() != "gone"));
    assert_eq!(state.hits("/gone"), 1, "a gone source is not polled again");
    let recovered = app
        .db(move |s| s.sources_recovered_between(start_at, later))
        .await
        .expect("recovered");
    assert_eq!(
        recovered
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
        vec!["flaky"]
    );
    assert_eq!(recovered[0].failing_since, start_at);
    let next_window = app
        .db(move |s| s.sources_recovered_between(later, later + chrono::Duration::hours(1)))
        .await
        .expect("recovered");
    assert!(next_window.is_empty(), "a recovery is reported once");
}

#[tokio::test(flavor = "multi_thread")]
async fn per_host_limit_holds_on_the_server_side() {
    let state = Arc::new(Hostile::default());
    let addr = start(state.clone());
    let sources: Vec<(String, String)> = (0..8)
        .map(|i| (format!("s{i}"), format!("http://{addr}/count/{i}")))
        .collect();
    let borrowed: Vec<(&str, String)> = sources
        .iter()
        .map(|(id, url)| (id.as_str(), url.clone()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &borrowed, "per_host_concurrency = 2");
    let app = app(&config, Arc::new(veille::clock::SystemClock));
    let summary = scheduler::run_once(&app).await.expect("tick");
    assert!(
        summary
            .sources
            .iter()
            .all(|r| matches!(r.outcome, SourceOutcome::Updated(_))),
        "{:?}",
        summary.sources
    );
    assert_eq!(state.max_active.load(Ordering::SeqCst), 2);
}

#[test]
fn sources_command_shows_each_status() {
    let state = Arc::new(Hostile::default());
    let addr = start(state);
    let sources = vec![
        ("healthy", format!("http://{addr}/ok/1")),
        ("removed", format!("http://{addr}/gone")),
        ("relocated", format!("http://{addr}/moved")),
        ("never-polled", format!("http://{addr}/ok/2")),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sources[..3], "");
    let run = assert_cmd::Command::cargo_bin("veille")
        .expect("binary")
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // A source added to the file afterwards shows as new.
    let config = write_config(dir.path(), &sources, "");
    let out = assert_cmd::Command::cargo_bin("veille")
        .expect("binary")
        .args(["sources", "--config"])
        .arg(&config)
        .output()
        .expect("sources");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no line for {id} in\n{text}"))
            .to_string()
    };
    assert!(line("healthy").contains(" ok "), "{text}");
    assert!(
        line("removed").contains(" gone ") && line("removed").contains("never"),
        "{text}"
    );
    assert!(line("removed").contains("HTTP 410"), "{text}");
    assert!(line("relocated").contains(" redirected "), "{text}");
    assert!(line("relocated").contains("/ok/new-home"), "{text}");
    assert!(line("never-polled").contains(" new "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gone_source_comes_back_when_its_url_changes() {
    let state = Arc::new(Hostile::default());
    let addr = start(state.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[("s", format!("http://{addr}/gone"))], "");
    let first = scheduler::run_once(&app(&config, Arc::new(veille::clock::SystemClock)))
        .await
        .expect("tick");
    assert!(error_of(&first, "s").contains("410"));
    // The admin fixes the URL: the source is polled again at once, and healthy.
    let config = write_config(dir.path(), &[("s", format!("http://{addr}/ok/fixed"))], "");
    let app = app(&config, Arc::new(veille::clock::SystemClock));
    let second = scheduler::run_once(&app).await.expect("tick");
    assert!(matches!(outcome(&second, "s"), SourceOutcome::Updated(_)));
    let trouble = app.db(|s| s.sources_in_trouble(1)).await.expect("trouble");
    assert!(trouble.is_empty(), "{trouble:?}");
}
