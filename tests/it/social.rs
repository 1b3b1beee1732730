//! Social-media sources end to end: each platform's feed shape (written in
//! `tests/fixtures/social/`, served on 127.0.0.1 with raw `url =` sources, since presets
//! expand to public addresses) through extraction, stories and the digest mail.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use veille::clock::ManualClock;
use veille::model::SourceId;
use veille::pipeline::SourceOutcome;
use veille::scheduler;

use crate::common::{
    self, HttpServer, Response, SmtpSink, app, daemon_table, smtp_table, source_table,
};

const FEEDS: &[(&str, &str, &str)] = &[
    ("tag", "mastodon-tag.rss", "application/rss+xml"),
    ("bob", "mastodon-account.rss", "application/rss+xml"),
    ("bsky", "bluesky-profile.rss", "application/rss+xml"),
    ("reddit", "reddit-search.atom", "application/atom+xml"),
    ("yt", "youtube-channel.atom", "application/atom+xml"),
    ("alerts", "google-alerts.atom", "application/atom+xml"),
    ("hn", "hnrss.rss", "application/rss+xml"),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/social")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_config(dir: &Path, http: &HttpServer, smtp_port: u16) -> PathBuf {
    let daemon = daemon_table("veille.db", "timezone = \"Europe/Paris\"");
    let smtp = smtp_table(smtp_port);
    let mut text = format!(
        r#"{daemon}{smtp}
[[watch]]
id = "nordvent"
name = "Nordvent"
query = 'nordvent'

[[watch]]
id = "boycott"
name = "Boycott"
query = 'boycott'

[[watch]]
id = "titles"
name = "Titles"
query = 'title:brest'

[[digest]]
id = "daily"
to = ["comms@example.org"]
max_items = 50
"#
    );
    for (id, file, _) in FEEDS {
        text.push_str(&source_table(id, &http.url(&format!("/{file}")), ""));
    }
    common::write_config(dir, &text)
}

/// Every platform's feed polled once: posts get display titles and authors, boosts and
/// quotes of one post are one story, cross-posted short texts are one story, Google
/// Alerts links lead to the article.
#[tokio::test(flavor = "multi_thread")]
async fn social_feeds_become_stories_with_authors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    for (_, file, content_type) in FEEDS {
        http.route(
            &format!("/{file}"),
            Response::ok(content_type, fixture(file)),
        );
    }
    let smtp = SmtpSink::start();
    let path = write_config(dir.path(), &http, smtp.addr.port());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
            .single()
            .unwrap_or_default(),
    ));
    let app = app(&path, clock);
    let summary = scheduler::run_once(&app).await.expect("run once");
    for report in &summary.sources {
        assert!(
            matches!(report.outcome, SourceOutcome::Updated(_)),
            "{}: {:?}",
            report.source,
            report.outcome
        );
    }

    // The stored items, as extraction made them.
    let mut items = Vec::new();
    app.store
        .for_each_item_since(
            Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            |_, item, _| {
                items.push(item);
                Ok::<(), veille::store::StoreError>(())
            },
        )
        .expect("store the run");
    let item = |source: &str, needle: &str| {
        items
            .iter()
            .find(|i| i.source.as_str() == source && i.text.contains(needle))
            .unwrap_or_else(|| panic!("no item of {source} with {needle:?}"))
    };
    let alice = item("tag", "ouvre son parc");
    assert_eq!(alice.title, "", "a post has no title of its own");
    assert_eq!(alice.author.as_deref(), Some("@alice@mastodon.example"));
    assert!(
        alice.text.contains("#Nordvent") && alice.text.contains("@bob"),
        "{}",
        alice.text
    );
    assert_eq!(
        item("tag", "recrute").author.as_deref(),
        Some("@dave@other.example")
    );
    let boost = item("bob", "ouvre son parc");
    assert_eq!(boost.author.as_deref(), Some("@alice@mastodon.example"));
    assert_eq!(
        item("bob", "fauteuil").author.as_deref(),
        Some("@bob@mastodon.example")
    );
    assert_eq!(
        item("bsky", "recrute").author.as_deref(),
        Some("@nordvent.example"),
        "a Bluesky profile feed names its owner in the channel link"
    );
    let reddit = item("reddit", "conditions de travail");
    assert_eq!(reddit.author.as_deref(), Some("/u/bzh_watt"));
    assert_eq!(reddit.title, "Travailler chez Nordvent ?");
    let video = item("yt", "sommet");
    assert_eq!(video.author.as_deref(), Some("Nordvent TV"));
    assert_eq!(item("hn", "Points").author.as_deref(), Some("turbinegeek"));
    let alert = item("alerts", "visites guidées");
    assert_eq!(
        alert.url.as_deref(),
        Some("https://news.example/2026/11/27/nordvent-brest-visites?utm_source=rss"),
        "the google.com/url wrapper is gone"
    );

    // The digest: one entry per story, with display titles, handles and share counts.
    let mails = smtp.wait_for(1, std::time::Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    let text = mails[0].text();
    let section = |name: &str| {
        let start = text
            .find(&format!("== {name} ("))
            .unwrap_or_else(|| panic!("no section {name}:\n{text}"));
        let rest = &text[start + 3..];
        rest[..rest.find("\n== ").unwrap_or(rest.len())].to_string()
    };
    let nordvent = section("Nordvent");
    assert!(
        nordvent.lines().any(|l| l.trim_end()
            == "* Nordvent ouvre son parc éolien de Brest aux visiteurs ce week-end."),
        "the first sentence is the title:\n{nordvent}"
    );
    assert!(
        nordvent.contains("@alice@mastodon.example · tag, bob"),
        "author and both sources:\n{nordvent}"
    );
    assert!(
        nordvent.contains("shared 3 times"),
        "the post, its boost and its quote are one entry:\n{nordvent}"
    );
    assert_eq!(
        nordvent.matches("Nordvent recrute 40 techniciens").count(),
        1,
        "the cross-post is one entry:\n{nordvent}"
    );
    assert!(nordvent.contains("/u/bzh_watt · reddit"), "{nordvent}");
    assert!(
        !nordvent.contains("google.com/url"),
        "alerts link to the article:\n{nordvent}"
    );
    // The HN item and the alert carry the same article: one story, two outlets' worth.
    assert_eq!(
        nordvent
            .matches("https://tech.example/nordvent-telemetry")
            .count(),
        1,
        "{nordvent}"
    );
    // Hashtags are words.
    assert!(
        section("Boycott").contains("@alice@mastodon.example"),
        "{text}"
    );
    // A display title is not a title: `title:` finds only real titles.
    let titles = section("Titles");
    for titled in [
        "Nordvent ouvre son parc de Brest au public",
        "Nordvent ouvre les portes de son parc éolien de Brest",
        "Dans les coulisses du parc éolien de Brest",
    ] {
        assert!(titles.contains(titled), "{titled:?} missing:\n{titles}");
    }
    for post in ["@alice@mastodon.example", "@dave@other.example"] {
        assert!(
            !titles.contains(post),
            "a post's display title matched title:\n{titles}"
        );
    }

    // The export carries the authors too.
    let out = assert_cmd::Command::cargo_bin("veille")
        .expect("the veille binary")
        .args([
            "export", "--since", "3650d", "--watch", "nordvent", "--config",
        ])
        .arg(&path)
        .output()
        .expect("run veille");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).expect("export is JSON");
    let authors: Vec<&str> = records
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["author"].as_str())
                .collect()
        })
        .unwrap_or_default();
    for author in ["@alice@mastodon.example", "/u/bzh_watt"] {
        assert!(authors.contains(&author), "{author} not in {authors:?}");
    }
}

/// A Reddit-shaped source answered 429 with Retry-After: the next poll waits as asked.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_reddit_waits_as_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route(
        "/r/france/.rss",
        Response {
            status: 429,
            headers: vec![("Retry-After".to_string(), "900".to_string())],
            body: b"Too Many Requests".to_vec(),
        },
    );
    let text = daemon_table("veille.db", "")
        + &source_table("reddit", &http.url("/r/france/.rss"), "every = \"10m\"");
    let path = common::write_config(dir.path(), &text);
    let now = Utc
        .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let app = app(&path, Arc::new(ManualClock::new(now)));
    let summary = scheduler::run_once(&app).await.expect("run once");
    match &summary.sources[0].outcome {
        SourceOutcome::Failed { error, .. } => {
            assert!(error.contains("429") && error.contains("900s"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    let next = app
        .store
        .source_state(&SourceId::new("reddit"))
        .expect("source state")
        .next_poll_at
        .unwrap_or_else(|| panic!("no next poll"));
    assert!(
        next >= now + chrono::Duration::seconds(900),
        "{next}: Retry-After ignored (the backoff alone would be 10 min)"
    );
}

/// `veille check` shows the URL each preset polls, and points at a malformed handle.
#[test]
fn check_shows_preset_urls_and_points_at_bad_handles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("veille.toml");
    let check = |text: &str| {
        std::fs::write(&path, text).expect("write");
        let out = assert_cmd::Command::cargo_bin("veille")
            .expect("the veille binary")
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .expect("run veille");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, _) = check(
        "[daemon]\ndatabase = \"v.db\"\n\n[[source]]\nid = \"r\"\nreddit_search = \"nordvent éolien\"\n\n[[source]]\nid = \"m\"\nmastodon_account = \"@alice@mastodon.example\"\n",
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "source \"r\" (reddit_search): https://www.reddit.com/search.rss?q=nordvent%20%C3%A9olien every 10m, 1 at a time to this host"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "source \"m\" (mastodon_account): https://mastodon.example/@alice.rss every 5m"
        ),
        "{stdout}"
    );
    let (code, _, stderr) =
        check("[[source]]\nid = \"m\"\nmastodon_tag = \"localhost/nordvent\"\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(":3:16: source \"m\".mastodon_tag: \"localhost\" is not an instance"),
        "{stderr}"
    );
}
