//! The `veille` binary as an admin uses it: the demo, `check`, `export`, exit codes.

use std::path::{Path, PathBuf};

use crate::common::{copy_demo, succeeds, veille};

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_writes_one_digest_then_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = copy_demo(dir.path());
    // Run from an unrelated folder: paths resolve against the config file.
    let output = veille()
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed: {stdout}\n{stderr}");
    // No key ships with the demo: its first run made one, beside its database.
    let key = dir.path().join("target/demo/web-secret");
    assert!(stderr.contains("created a new link key"), "{stderr}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key)
            .expect("the demo's key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        stdout.contains("sources: 3 polled (3 ok, 0 unchanged, 0 failed); items: 10 new"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mentions: eolien 4, nordvent 4"),
        "{stdout}"
    );
    assert!(stdout.contains("mails: 1 written"), "{stdout}");

    let mail_dir = dir.path().join("target/demo/mail");
    let files = eml_files(&mail_dir);
    assert_eq!(files.len(), 1, "one .eml in {}", mail_dir.display());
    assert!(
        stdout.contains(&files[0].display().to_string()),
        "the summary names the file: {stdout}"
    );
    let eml = std::fs::read(&files[0]).expect("read eml");
    let message = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("parse eml");
    let subject = message.subject().unwrap_or_default().to_string();
    assert!(subject.contains(" sujets — "), "French labels: {subject}");
    let text = message
        .body_text(0)
        .map(|t| t.to_string())
        .unwrap_or_default();
    assert!(text.contains("8 mentions · 3 sources"), "{text}");
    assert!(
        text.contains("Nordvent Énergie inaugure son premier parc éolien"),
        "{text}"
    );
    assert!(!text.contains("Hydrogène"), "{text}");
    assert!(dir.path().join("target/demo/veille.db").exists());

    let again = veille()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("second run");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("link key"),
        "the key is read, not made again"
    );
    // Same bytes as last time: not even parsed.
    assert!(
        stdout.contains("(0 ok, 3 unchanged, 0 failed); items: 0 new"),
        "{stdout}"
    );
    assert!(stdout.contains("mails: 0 written"), "{stdout}");
    assert_eq!(eml_files(&mail_dir).len(), 1, "nothing sent twice");
}

#[test]
fn check_summarizes_a_valid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = copy_demo(dir.path());
    let output = veille()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("3 sources, 2 watches, 1 digest, 0 alert rules"),
        "{stdout}"
    );
    assert!(
        stdout.contains("digest \"matin\": mon-fri at 08:00"),
        "{stdout}"
    );
    // Before the demo's first run its key does not exist: check says who will make it, and
    // makes nothing itself (run as root, it would leave a key the service cannot read).
    let key = dir.path().join("target/demo/web-secret");
    assert!(
        stdout.contains(&format!(
            "the link key {} does not exist yet; the first `veille run` creates it",
            key.display()
        )),
        "{stdout}"
    );
    assert!(!key.exists(), "check wrote nothing");
    assert!(!dir.path().join("target").exists(), "check wrote nothing");
}

#[test]
fn check_lists_every_error_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[daemon]\ntimezone = \"Nowhere/City\"\n\n[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nevery = \"often\"\n",
    )
    .expect("write");
    let output = veille()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let shown = path.display().to_string();
    assert!(
        stderr.contains(&format!("{shown}:2:12: daemon.timezone:")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{shown}:7:9: source \"a\".every:")),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s)"), "{stderr}");

    let missing = veille()
        .args(["check", "--config", "/nonexistent/veille.toml"])
        .output()
        .expect("check");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read the configuration file")
    );
}

/// A listener other machines can reach must not serve /metrics to anyone: `veille check`
/// refuses it until a token file is named, and accepts it then.
#[test]
fn check_refuses_an_exposed_listener_without_a_metrics_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("veille.toml");
    let body = "\n[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\n\n[[watch]]\nid = \"w\"\nquery = \"x\"\n";
    std::fs::write(
        &path,
        format!("[daemon]\nlisten = \"0.0.0.0:9480\"\n{body}"),
    )
    .expect("write");
    let output = veille()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let shown = path.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{shown}:2:10: daemon.metrics_token_file: daemon.listen 0.0.0.0:9480 can be reached from other machines, so /metrics needs a token"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("1 error(s)"), "{stderr}");

    std::fs::write(
        dir.path().join("metrics-token"),
        "Zm9vYmFyYmF6cXV4cXV1eA==\n",
    )
    .expect("write");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nlisten = \"0.0.0.0:9480\"\nmetrics_token_file = \"metrics-token\"\n{body}"
        ),
    )
    .expect("write");
    let output = veille()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{all}");
    assert!(
        !all.contains("Zm9vYmFy"),
        "the token is never printed: {all}"
    );
}

#[test]
fn export_writes_json_and_csv_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = copy_demo(dir.path());
    let before = veille()
        .args(["export", "--config"])
        .arg(&config)
        .output()
        .expect("export");
    assert_eq!(before.status.code(), Some(1), "no database yet");
    assert!(String::from_utf8_lossy(&before.stderr).contains("no database"));

    let run = veille()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(run.status.success());

    let json = veille()
        .args(["export", "--since", "3650d", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .expect("export json");
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let records = records.as_array().expect("an array");
    assert_eq!(records.len(), 8);
    for key in [
        "mention_id",
        "watch_id",
        "source_id",
        "url",
        "title",
        "published_at",
        "found_at",
        "story_id",
        "author",
        "verdict",
        "lang",
    ] {
        assert!(
            records[0].get(key).is_some(),
            "record lacks {key}: {}",
            records[0]
        );
    }
    assert!(
        records
            .iter()
            .any(|r| r["title"] == "Mise en service du parc de Fécamp"
                && r["source_id"] == "communiques")
    );
    // Each item's language: declared by the French RSS feed and the English Atom feed,
    // detected (or unknown, never another language) for the undeclared French JSON Feed.
    for record in records {
        let want = match record["source_id"].as_str() {
            Some("le-quotidien") => vec![serde_json::json!("fr")],
            Some("windpower-weekly") => vec![serde_json::json!("en")],
            _ => vec![serde_json::json!("fr"), serde_json::Value::Null],
        };
        assert!(want.contains(&record["lang"]), "{record}");
    }
    assert!(
        records.iter().any(|r| r["source_id"] == "windpower-weekly"),
        "the English feed has mentions"
    );

    let csv = veille()
        .args([
            "export", "--since", "3650d", "--format", "csv", "--watch", "eolien", "--config",
        ])
        .arg(&config)
        .output()
        .expect("export csv");
    assert!(csv.status.success());
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "mention_id,watch_id,source_id,item_id,url,title,published_at,found_at,terms,story_id,author,score,reasons,verdict,lang"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows.iter().all(|r| r.split(',').nth(1) == Some("eolien")),
        "{text}"
    );
    // The language, last: filled for the declared feeds.
    assert!(
        rows.iter()
            .any(|r| r.contains("le-quotidien") && r.ends_with(",fr")),
        "{text}"
    );

    let bad_watch = veille()
        .args(["export", "--watch", "nope", "--config"])
        .arg(&config)
        .output()
        .expect("export");
    assert_eq!(bad_watch.status.code(), Some(2));
    let bad_since = veille()
        .args(["export", "--since", "forever", "--config"])
        .arg(&config)
        .output()
        .expect("export");
    assert_eq!(bad_since.status.code(), Some(2));
}

/// `--log-format json`: one JSON object per line on stderr, each poll's line carrying the
/// source id and URL of its span.
#[test]
fn json_logs_are_one_object_per_line_with_the_source_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = copy_demo(dir.path());
    let output = veille()
        .args(["--log-format", "json", "run", "--once", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .output()
        .expect("run");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let polled = lines
        .iter()
        .find(|l| l["fields"]["message"] == "polled")
        .unwrap_or_else(|| panic!("no poll line in {stderr}"));
    assert!(polled["span"]["source"].is_string(), "{polled}");
    assert!(
        polled["span"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("file:")),
        "{polled}"
    );
}

/// `import-opml` on a real OPML export: every feed becomes a `[[source]]` block (folders as
/// tags, unique ASCII ids from non-ASCII titles) that `veille check` accepts.
#[test]
fn import_opml_prints_sources_that_check_accepts() {
    let opml = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds.opml");
    let output = veille()
        .arg("import-opml")
        .arg(&opml)
        .output()
        .expect("import-opml");
    let blocks = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{blocks}");
    assert_eq!(blocks.matches("[[source]]").count(), 6, "{blocks}");
    for expected in [
        "id = \"le-quotidien-de-l-energie\"",
        "id = \"ouest-eco\"",
        "id = \"ouest-eco-2\"",
        "id = \"oresund-naeringsliv\"",
        "tags = [\"presse-francaise\", \"regions\"]",
        "url = \"https://oresund.example/rss?lang=da&x=1\"",
        "# Øresund Næringsliv",
    ] {
        assert!(blocks.contains(expected), "{expected} in {blocks}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("veille.toml");
    std::fs::write(
        &config,
        format!("{blocks}\n[[watch]]\nid = \"w\"\nquery = \"Nordvent\"\n\n[[digest]]\nid = \"d\"\nto = \"a@example.org\"\n"),
    )
    .expect("write config");
    succeeds(veille().args(["check", "--config"]).arg(&config));

    let not_opml = veille()
        .arg("import-opml")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/windpower-weekly.atom"))
        .output()
        .expect("import-opml");
    assert_eq!(not_opml.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_opml.stderr).contains("not a readable OPML file"));
}

#[test]
fn completions_cover_every_command() {
    let bash = succeeds(veille().args(["completions", "bash"]));
    let script = String::from_utf8_lossy(&bash.stdout);
    for command in ["run", "check", "match", "export", "completions"] {
        assert!(script.contains(command), "bash completion lacks {command}");
    }
    assert!(
        script.contains("--replay") && script.contains("--link"),
        "{script:.400}"
    );
    // The script is valid bash.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("veille.bash");
    std::fs::write(&file, &bash.stdout).expect("write the script");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash -n");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    for shell in ["zsh", "fish"] {
        let out = succeeds(veille().args(["completions", shell]));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("match"),
            "{shell} completion lacks match"
        );
    }
    let unknown = veille()
        .args(["completions", "tcsh"])
        .output()
        .expect("completions tcsh");
    assert_eq!(unknown.status.code(), Some(2));
}
