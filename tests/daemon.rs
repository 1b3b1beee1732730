//! `veille run` as a daemon process: it polls, mails, and exits cleanly on SIGTERM.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
