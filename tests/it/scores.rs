//! Scores as readers see them: stored on mentions (here by SQL, as the pipeline will),
//! they reorder the stories of a digest, put their reasons under each story in the text and
//! HTML parts, and reach `veille export`. The feed comes from an HTTP server on 127.0.0.1,
//! state lives in a SQLite file in a temp folder, the `veille` binary runs as a process.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::common::{self, HttpServer, Response, RssItem, daemon_table, rss};

fn veille(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .env_remove("VEILLE_CONFIG")
        .env_remove("RUST_LOG")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run veille")
}

fn write_config(dir: &Path, feed_url: &str) -> PathBuf {
    let daemon = daemon_table("veille.db", "mail_dir = \"mail\"");
    let text = format!(
        r#"{daemon}
[[source]]
id = "wire"
url = "{feed_url}"

[[watch]]
id = "acme"
name = "Acme"
query = "Acme"

[[digest]]
id = "daily"
name = "Daily"
to = "comms@example.org"
"#
    );
    common::write_config(dir, &text)
}

/// Three unrelated stories, oldest first (distinct texts, so no two are one story).
const ITEMS: [(&str, &str, &str); 3] = [
    (
        "Acme boycott call spreads",
        "Thu, 26 Nov 2026 07:00:00 +0000",
        "Consumer groups ask shoppers to avoid Acme products after the pricing row.",
    ),
    (
        "Acme opens a plant in Brest",
        "Thu, 26 Nov 2026 08:00:00 +0000",
        "The new Acme site will employ two hundred people making wind turbine blades.",
    ),
    (
        "Acme sponsors the regatta",
        "Thu, 26 Nov 2026 09:00:00 +0000",
        "Sailors from twelve countries race in the bay this weekend under Acme colours.",
    ),
];

/// A feed of the first `count` of [`ITEMS`].
fn feed(count: usize) -> String {
    let items: Vec<RssItem> = ITEMS
        .iter()
        .take(count)
        .enumerate()
        .map(|(n, &(title, date, text))| {
            RssItem::new(format!("item-{n}"), title)
                .link(format!("https://wire.example/{n}"))
                .description(text)
                .pub_date(date)
        })
        .collect();
    rss(&items)
}

/// The mention of the item whose title is `title`, scored as the pipeline would store it.
fn set_score(db: &Path, title: &str, score: f64, reasons: &str) {
    let conn = rusqlite::Connection::open(db).expect("open");
    let changed = conn
        .execute(
            "UPDATE mentions SET score = ?1, reasons = ?2
             WHERE item_id = (SELECT id FROM items WHERE title = ?3)",
            rusqlite::params![score, reasons, title],
        )
        .expect("update");
    assert_eq!(changed, 1, "{title}");
}

#[test]
fn scores_reorder_the_digest_and_reach_the_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    // The first digest is due at once: let it go out empty-handed (nothing found yet, so
    // the window closes quietly), then the three items wait in the open window.
    http.route("/feed.xml", Response::ok("application/rss+xml", feed(0)));
    let config = write_config(dir.path(), &http.url("/feed.xml"));
    assert!(veille(&config, &["run", "--once"]).status.success());
    http.route("/feed.xml", Response::ok("application/rss+xml", feed(3)));
    assert!(veille(&config, &["run", "--once"]).status.success());

    let preview = |html: &Path| {
        let out = veille(
            &config,
            &[
                "digest",
                "preview",
                "daily",
                "--html",
                &html.to_string_lossy(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let html = std::fs::read_to_string(html).expect("html written");
        (text, html)
    };
    let order = |text: &str| -> Vec<usize> {
        let mut at: Vec<(usize, usize)> = ITEMS
            .iter()
            .enumerate()
            .filter_map(|(n, (title, _, _))| text.find(&format!("* {title}")).map(|i| (i, n)))
            .collect();
        at.sort();
        at.into_iter().map(|(_, n)| n).collect()
    };
    // As polled: the pipeline scored every mention, and the oldest story, the only one with
    // a risk term near the hit, comes first with its reasons.
    let (text, _) = preview(&dir.path().join("scored.html"));
    assert_eq!(order(&text)[0], 0, "{text}");
    assert!(text.contains("risk: \"boycott"), "{text}");

    // Without scores (mentions stored before scoring existed), the newest story comes first.
    let db = dir.path().join("veille.db");
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute("UPDATE mentions SET score = NULL, reasons = NULL", []))
        .expect("clear the scores");
    let (text, _) = preview(&dir.path().join("before.html"));
    assert_eq!(order(&text), vec![2, 1, 0], "{text}");

    set_score(
        &db,
        ITEMS[0].0,
        0.72,
        r#"[{"kind":"risk","term":"boycott*"},{"kind":"title_hit"},{"kind":"fresh","minutes":12}]"#,
    );
    set_score(&db, ITEMS[1].0, 0.36, r#"[{"kind":"title_hit"}]"#);
    let (text, html) = preview(&dir.path().join("after.html"));
    assert_eq!(order(&text), vec![0, 1, 2], "best score first: {text}");
    assert!(
        text.contains("\n  risk: \"boycott\" · title hit · 12 min old when found\n"),
        "{text}"
    );
    assert!(text.contains("\n  title hit\n"), "{text}");
    assert!(
        html.contains("risk: &quot;boycott&quot; · title hit · 12 min old when found</div>"),
        "{html}"
    );

    let json = veille(&config, &["export", "--since", "3650d", "--format", "json"]);
    assert!(json.status.success());
    let records: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let records = records.as_array().expect("an array");
    assert_eq!(records.len(), 3);
    let by_title = |title: &str| {
        records
            .iter()
            .find(|r| r["title"] == title)
            .unwrap_or_else(|| panic!("no record for {title}"))
    };
    let top = by_title(ITEMS[0].0);
    assert_eq!(top["score"], 0.72);
    assert_eq!(
        top["reasons"],
        serde_json::json!(["risk: \"boycott\"", "title hit", "12 min old when found"])
    );
    let unscored = by_title(ITEMS[2].0);
    assert!(unscored["score"].is_null());
    assert_eq!(unscored["reasons"], serde_json::json!([]));

    let csv = veille(&config, &["export", "--since", "3650d", "--format", "csv"]);
    assert!(csv.status.success());
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let headers = reader.headers().expect("headers").clone();
    let names: Vec<&str> = headers.iter().collect();
    assert_eq!(
        names[names.len() - 4..],
        ["score", "reasons", "verdict", "lang"],
        "new columns go last"
    );
    assert_eq!(names[..3], ["mention_id", "watch_id", "source_id"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let row = |title: &str| {
        rows.iter()
            .find(|r| r.get(5) == Some(title))
            .unwrap_or_else(|| panic!("no row for {title}"))
    };
    let top = row(ITEMS[0].0);
    assert_eq!(top.get(11), Some("0.72"));
    assert_eq!(
        top.get(12),
        Some("risk: \"boycott\" · title hit · 12 min old when found")
    );
    let unscored = row(ITEMS[2].0);
    assert_eq!((unscored.get(11), unscored.get(12)), (Some(""), Some("")));
}
