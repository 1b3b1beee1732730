//! `veille run` as a daemon process: it polls, mails, and exits cleanly on SIGTERM.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn daemon_polls_mails_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    std::fs::write(
        dir.path().join("veille.toml"),
        r#"
[[source]]
id = "quotidien"
url = "file:feed.xml"
every = "1m"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#,
    )
    .expect("write config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["run", "--config"])
        .arg(dir.path().join("veille.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the daemon");

    let mail_dir = dir.path().join("mail");
    wait_for("the first digest", Duration::from_secs(20), || {
        std::fs::read_dir(&mail_dir)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    wait_for("the daemon to exit", Duration::from_secs(15), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let elapsed = started.elapsed();
    let output = child.wait_with_output().expect("daemon output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit status {:?}\n{stderr}",
        output.status
    );
    assert!(
        elapsed < Duration::from_secs(12),
        "took {elapsed:?} to stop"
    );
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("veille daemon stopped"), "{stderr}");
    assert!(
        stderr.contains("source{source=quotidien"),
        "one span per source run: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&mail_dir).map(|d| d.count()).unwrap_or(0),
        1,
        "one digest"
    );
}

/// SIGTERM, then waits for the exit.
fn terminate(daemon: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    wait_for("the daemon to exit", Duration::from_secs(15), || {
        matches!(daemon.try_wait(), Ok(Some(_)))
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `veille run`, its log going to `log`.
fn start_daemon(config: &Path, log: &Path) -> std::process::Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the daemon")
}

/// SIGKILL right after a digest was queued (the SMTP server is down, so it is still in the
/// outbox): the restarted daemon delivers it, exactly once.
#[test]
fn a_mail_queued_before_a_crash_is_delivered_once_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    let port = free_port();
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "veille@example.org"

[[source]]
id = "quotidien"
url = "file:feed.xml"
every = "1m"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#
        ),
    )
    .expect("write config");

    let first_log = dir.path().join("first.log");
    let mut first = start_daemon(&config, &first_log);
    wait_for("the digest to be queued", Duration::from_secs(30), || {
        std::fs::read_to_string(&first_log).is_ok_and(|log| log.contains("digest window closed"))
    });
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let db = dir.path().join("veille.db");
    let counts = veille::store::Store::open(&db)
        .and_then(|s| s.counts())
        .expect("counts after the crash");
    assert_eq!((counts.outbox_pending, counts.outbox_sent), (1, 0));

    let smtp = common::SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr"));
    let mut second = start_daemon(&config, &dir.path().join("second.log"));
    let mails = smtp.wait_for(1, Duration::from_secs(20));
    // Give a double delivery the time to happen, if it were going to.
    std::thread::sleep(Duration::from_millis(1_500));
    terminate(&mut second);
    assert_eq!(mails.len(), 1, "delivered after the restart");
    assert_eq!(smtp.received().len(), 1, "exactly once");
    let counts = veille::store::Store::open(&db)
        .and_then(|s| s.counts())
        .expect("counts");
    assert_eq!(
        (
            counts.outbox_pending,
            counts.outbox_sent,
            counts.digest_runs
        ),
        (0, 1, 1)
    );
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A reload applies a valid change (a new source is polled) and refuses an invalid file
/// (logged with file:line:col; the daemon keeps running with what it had).
#[test]
fn reload_applies_a_valid_file_and_keeps_the_old_one_when_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    std::fs::copy(
        demo.join("le-quotidien-energie.xml"),
        dir.path().join("fr.xml"),
    )
    .expect("copy feed");
    std::fs::copy(
        demo.join("windpower-weekly.atom"),
        dir.path().join("en.atom"),
    )
    .expect("copy feed");
    let config = dir.path().join("veille.toml");
    let one_source = r#"
[[source]]
id = "quotidien"
url = "file:fr.xml"
every = "1h"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#;
    std::fs::write(&config, one_source).expect("write config");
    let log = dir.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &log);
    wait_for("the first poll", Duration::from_secs(20), || {
        log_of(&log).contains("veille daemon started") && log_of(&log).contains("polled")
    });

    // A valid change, through `veille reload` (which checks the file, then signals).
    let two_sources = format!(
        "{one_source}\n[[source]]\nid = \"windpower\"\nurl = \"file:en.atom\"\nevery = \"1h\"\n"
    );
    std::fs::write(&config, two_sources).expect("write config");
    let reload = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["reload", "--config"])
        .arg(&config)
        .output()
        .expect("veille reload");
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    wait_for(
        "the new source to be polled",
        Duration::from_secs(20),
        || {
            let log = log_of(&log);
            log.contains("configuration reloaded") && log.contains("source{source=windpower")
        },
    );

    // An invalid file: `veille reload` refuses it (exit 2, nothing signalled); a raw SIGHUP
    // makes the daemon log each error and keep going.
    std::fs::write(&config, "[[source]]\nid = \"x\"\nurl = 42\n").expect("write config");
    let refused = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["reload", "--config"])
        .arg(&config)
        .output()
        .expect("veille reload");
    assert_eq!(refused.status.code(), Some(2));
    let status = Command::new("kill")
        .args(["-HUP", &daemon.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    wait_for("the refusal to be logged", Duration::from_secs(20), || {
        log_of(&log).contains("configuration not reloaded")
    });
    let text = log_of(&log);
    assert!(
        text.contains("veille.toml:3:"),
        "errors carry file:line:col: {text}"
    );
    assert!(
        matches!(daemon.try_wait(), Ok(None)),
        "still running after a bad reload"
    );

    terminate(&mut daemon);
    assert!(
        !dir.path().join("veille.pid").exists(),
        "the pid file is removed at exit"
    );
}

/// A reload re-reads the files the main one includes: a source added to a team's file is
/// polled, and an error in that file is refused and logged at that file's line.
#[test]
fn reload_rereads_the_included_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    for (from, to) in [
        ("le-quotidien-energie.xml", "fr.xml"),
        ("windpower-weekly.atom", "en.atom"),
    ] {
        std::fs::copy(demo.join(from), dir.path().join(to)).expect("copy feed");
    }
    let config = dir.path().join("veille.toml");
    std::fs::write(&config, "include = [\"teams/*.toml\"]\n").expect("write config");
    std::fs::create_dir(dir.path().join("teams")).expect("mkdir");
    let team = dir.path().join("teams/presse.toml");
    let one_source = r#"
[[source]]
id = "quotidien"
url = "file:fr.xml"
every = "1h"

[[watch]]
id = "nordvent"
query = "Nordvent"
"#;
    std::fs::write(&team, one_source).expect("write team file");
    let log = dir.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &log);
    wait_for("the first poll", Duration::from_secs(20), || {
        log_of(&log).contains("source{source=quotidien")
    });

    let two_sources = format!(
        "{one_source}\n[[source]]\nid = \"windpower\"\nurl = \"file:en.atom\"\nevery = \"1h\"\n"
    );
    std::fs::write(&team, two_sources).expect("write team file");
    let pid = daemon.id().to_string();
    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    };
    hup();
    wait_for(
        "the included file's new source to be polled",
        Duration::from_secs(20),
        || log_of(&log).contains("source{source=windpower"),
    );

    std::fs::write(&team, "[[source]]\nid = \"x\"\nurl = 42\n").expect("write team file");
    hup();
    wait_for("the refusal to be logged", Duration::from_secs(20), || {
        log_of(&log).contains("configuration not reloaded")
    });
    let text = log_of(&log);
    assert!(text.contains("teams/presse.toml:3:"), "{text}");
    assert!(
        matches!(daemon.try_wait(), Ok(None)),
        "still running after a bad reload"
    );
    terminate(&mut daemon);
}

/// A plain HTTP/1.1 GET on loopback: (status code, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// `/metrics` parses as the Prometheus text format and counts what the daemon did;
/// `/healthz` answers with the state of the database.
#[test]
fn metrics_and_healthz_are_served_when_listen_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    let port = free_port();
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
listen = "127.0.0.1:{port}"

[[source]]
id = "quotidien"
url = "file:feed.xml"
every = "1h"

[[source]]
id = "missing"
url = "file:nowhere.xml"
every = "1h"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#
        ),
    )
    .expect("write config");
    let log = dir.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &log);
    wait_for("the digest", Duration::from_secs(20), || {
        log_of(&log).contains("mail delivered")
    });

    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not the Prometheus text format ({e}):\n{body}"));
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("no sample {name} {label:?} in:\n{body}"))
    };
    assert_eq!(
        value("veille_polls_total", Some(("outcome", "updated"))),
        1.0
    );
    assert_eq!(
        value("veille_polls_total", Some(("outcome", "failed"))),
        1.0
    );
    assert!(value("veille_mentions_total", Some(("watch", "nordvent"))) >= 1.0);
    assert!(value("veille_items_new_total", None) >= 1.0);
    assert_eq!(
        value("veille_mails_sent_total", Some(("kind", "digest"))),
        1.0
    );
    assert_eq!(value("veille_sources_failing", None), 1.0);
    assert_eq!(value("veille_outbox_pending", None), 0.0);
    assert!(value("veille_database_size_bytes", None) > 0.0);
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "veille_poll_duration_seconds"),
        "the duration histogram: {body}"
    );

    let (status, body) = http_get(port, "/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["sources_failing"], 1);

    terminate(&mut daemon);
}

/// SIGTERM while a fetch hangs: the daemon waits `shutdown_grace`, aborts the poll, exits 0
/// within the bound, and the database holds no half-written run (the hanging source has no
/// items, the other source all of its own, and SQLite finds nothing wrong).
#[test]
fn sigterm_during_a_hanging_fetch_exits_within_the_grace_period() {
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    // A server that accepts, reads the request, and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicUsize::new(0));
    let server = {
        let (stop, asked) = (stop.clone(), asked.clone());
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut buffer = [0u8; 1024];
                    let _ = stream.read(&mut buffer);
                    asked.fetch_add(1, Ordering::SeqCst);
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
allow_private_addresses = ["127.0.0.0/8"]
fetch_timeout = "5m"
shutdown_grace = "1s"

[[source]]
id = "hanging"
url = "http://127.0.0.1:{port}/feed.xml"

[[source]]
id = "quotidien"
url = "file:feed.xml"

[[watch]]
id = "nordvent"
query = "Nordvent"
"#
        ),
    )
    .expect("write config");
    let log = dir.path().join("daemon.log");
    let mut daemon = start_daemon(&config, &log);
    wait_for("the hanging request", Duration::from_secs(20), || {
        asked.load(Ordering::SeqCst) > 0
    });
    wait_for("the other source", Duration::from_secs(20), || {
        log_of(&log).contains("polled")
    });

    let started = Instant::now();
    terminate(&mut daemon);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let _ = server.join();
    let status = daemon.wait().expect("status");
    let text = log_of(&log);
    assert!(status.success(), "{status:?}\n{text}");
    assert!(
        elapsed < Duration::from_secs(5),
        "a 1 s grace took {elapsed:?}"
    );
    assert!(
        text.contains("in-flight polls did not finish in time"),
        "{text}"
    );

    let store = veille::store::Store::open(&dir.path().join("veille.db")).expect("reopen");
    let state = store
        .source_state(&veille::model::SourceId::new("hanging"))
        .expect("state");
    assert_eq!(
        state.last_polled_at, None,
        "nothing recorded for the aborted run"
    );
    let counts = store.counts().expect("counts");
    assert_eq!(counts.items, 5, "the other source's items, all of them");
    assert!(store.integrity_ok().expect("integrity check"));
}

/// The systemd notify protocol, against a datagram socket standing in for systemd:
/// READY=1 at start, a STATUS= line, WATCHDOG=1 pings when WATCHDOG_USEC is set,
/// RELOADING=1 with MONOTONIC_USEC on SIGHUP then READY=1 again, STOPPING=1 on SIGTERM.
#[test]
fn systemd_hears_ready_status_watchdog_reload_and_stopping() {
    use std::os::unix::net::UnixDatagram;

    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        "[[source]]\nid = \"quotidien\"\nurl = \"file:feed.xml\"\n\n[[watch]]\nid = \"w\"\nquery = \"Nordvent\"\n",
    )
    .expect("write config");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");

    let mut heard: Vec<String> = Vec::new();
    let listen_until = |what: &str, heard: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buffer = [0u8; 4096];
        while !heard.iter().any(|m| m.contains(what)) {
            assert!(Instant::now() < deadline, "never heard {what}: {heard:?}");
            if let Ok(n) = socket.recv(&mut buffer) {
                heard.push(String::from_utf8_lossy(&buffer[..n]).to_string());
            }
        }
    };
    listen_until("READY=1", &mut heard);
    listen_until("STATUS=1 sources, 0 failing", &mut heard);
    heard.retain(|m| !m.contains("WATCHDOG=1"));
    listen_until("WATCHDOG=1", &mut heard);

    heard.clear();
    let _ = Command::new("kill")
        .args(["-HUP", &daemon.id().to_string()])
        .status();
    listen_until("RELOADING=1", &mut heard);
    let reloading = heard
        .iter()
        .find(|m| m.contains("RELOADING=1"))
        .cloned()
        .unwrap_or_default();
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    heard.retain(|m| !m.contains("READY=1"));
    listen_until("READY=1", &mut heard);

    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    listen_until("STOPPING=1", &mut heard);
    wait_for("the daemon to exit", Duration::from_secs(15), || {
        matches!(daemon.try_wait(), Ok(Some(_)))
    });
}

/// Mode bits of `path` (0o777 part).
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `veille ARGS --config CONFIG` through `sh` with umask 022 (the usual default, which makes
/// world-readable files), after a probe file shows the umask took.
fn under_umask_022(dir: &Path, args: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "umask 022; : > \"$DIR/probe\"; exec \"$VEILLE\" {args} --config \"$DIR/veille.toml\""
        ))
        .env("VEILLE", env!("CARGO_BIN_EXE_veille"))
        .env("DIR", dir)
        .env("RUST_LOG", "info");
    command
}

/// Under umask 022 the daemon still writes nothing others can read: its database with -wal
/// and -shm, its pid file, the .eml of the digest due at once, the link key it creates, and
/// then `veille backup`. A database left world-readable is tightened at the next open.
#[test]
fn files_are_private_to_veille_whatever_the_umask() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/le-quotidien-energie.xml");
    std::fs::copy(&feed, dir.path().join("feed.xml")).expect("copy feed");
    let port = free_port();
    std::fs::write(
        dir.path().join("veille.toml"),
        format!(
            r#"
[daemon]
database = "state/veille.db"
mail_dir = "state/mail"
listen = "127.0.0.1:{port}"

[web]
base_url = "http://127.0.0.1:{port}/"
secret_file = "state/web-secret"
create_secret = true

[[source]]
id = "quotidien"
url = "file:feed.xml"
every = "1m"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#
        ),
    )
    .expect("write config");
    let state = dir.path().join("state");
    let log = dir.path().join("daemon.log");
    let mut daemon = under_umask_022(dir.path(), "run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start the daemon");
    wait_for(
        "the digest and the pid file",
        Duration::from_secs(20),
        || {
            state.join("veille.pid").exists()
                && std::fs::read_dir(state.join("mail"))
                    .map(|d| d.count() > 0)
                    .unwrap_or(false)
        },
    );
    assert_eq!(
        mode(&dir.path().join("probe")),
        0o644,
        "umask 022 was in force"
    );

    // While it runs: every file it made, SQLite's -wal and -shm included.
    let files = files_under(&state);
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.strip_prefix(&state).ok())
        .map(|p| p.display().to_string())
        .collect();
    for expected in [
        "veille.db",
        "veille.db-wal",
        "veille.db-shm",
        "veille.pid",
        "web-secret",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(names.iter().any(|n| n.ends_with(".eml")), "{names:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&state.join("mail")) & 0o077, 0, "the mail folder too");
    terminate(&mut daemon);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("created a new link key"), "{logged}");

    // A backup is as private as the database.
    let backup = under_umask_022(dir.path(), "backup \"$DIR/backup.db\"")
        .output()
        .expect("backup");
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert_eq!(mode(&dir.path().join("backup.db")), 0o600);

    // A database an older veille left world-readable is tightened, and the log says so.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            state.join("veille.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
    }
    let again = under_umask_022(dir.path(), "run --once")
        .output()
        .expect("run --once");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains("the database could be read by other users"),
        "{stderr}"
    );
    for file in files_under(&state) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

/// At the most verbose level an admin can ask for, the log carries no secret: not the SMTP
/// password (nor its AUTH forms), not a source's password (nor its Authorization header),
/// not the link key, and not the signed judgment links of the mail that went out.
#[test]
fn no_secret_reaches_a_trace_level_log() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temp dir");
    let (mail_user, mail_password) = ("veille-mail", "smtp-Pa55-w0rd-7f3e");
    let (feed_user, feed_password) = ("veille-feed", "feed-Pa55-w0rd-91ac");
    let key = "Xk4kS1bV0m2u7gN9qP3rT6yW8zA1cE5hJ0lO2sU4wY8=";
    for (name, content) in [
        ("smtp-password", mail_password),
        ("feed-password", feed_password),
        ("web-secret", key),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{content}\n")).expect("write a secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{feed_user}:{feed_password}"))
    );
    let feeds = common::HttpServer::start();
    let expected = basic.clone();
    feeds.handle("/feed.xml", move |request| {
        if request.headers.get("authorization") == Some(&expected) {
            common::Response::ok(
                "application/rss+xml",
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Intranet</title>\
                 <item><guid>1</guid><title>Nordvent ouvre un parc</title>\
                 <link>https://intranet.example/1</link></item></channel></rss>",
            )
        } else {
            common::Response::status(401)
        }
    });
    let smtp = common::SmtpSink::start_with_login(mail_user, mail_password);
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!(
            r#"[daemon]
database = "veille.db"
allow_private_addresses = ["127.0.0.0/8"]

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "{mail_user}"
password_file = "smtp-password"
from = "veille@example.org"

[web]
base_url = "http://127.0.0.1:8710/"
secret_file = "web-secret"

[[source]]
id = "intranet"
url = "{feed}"
username = "{feed_user}"
password_file = "feed-password"

[[watch]]
id = "nordvent"
query = "Nordvent"

[[digest]]
id = "daily"
to = "comms@example.org"
"#,
            port = smtp.addr.port(),
            feed = feeds.url("/feed.xml"),
        ),
    )
    .expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["run", "--once", "--config"])
        .arg(&config)
        .env("RUST_LOG", "trace")
        .output()
        .expect("run veille");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "{}\n{log}",
        String::from_utf8_lossy(&output.stdout)
    );

    // The run really logged in on both sides and mailed signed links.
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{log}");
    assert_eq!(mails[0].login.as_deref(), Some(mail_user));
    let text = mails[0].text();
    let signatures: Vec<String> = text
        .split_whitespace()
        .filter(|word| word.contains("/j/"))
        .filter_map(|link| link.trim_end_matches(['>', ')']).rsplit('/').next())
        .map(str::to_string)
        .collect();
    assert_eq!(signatures.len(), 3, "three judgment links: {text}");
    // The log is the verbose one: trace lines from veille and from the libraries.
    assert!(
        log.lines().filter(|l| l.contains("TRACE")).count() > 5,
        "{log}"
    );

    let mut secrets = vec![
        mail_password.to_string(),
        STANDARD.encode(mail_password),
        STANDARD.encode(format!("\0{mail_user}\0{mail_password}")),
        feed_password.to_string(),
        basic,
        key.to_string(),
    ];
    secrets.extend(signatures);
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "{secret:?} is in the log");
    }
    assert!(!log.contains("Wrote: "), "lettre's wire log is silenced");
}
