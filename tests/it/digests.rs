//! Digests as readers get them: schedules across daylight-saving changes, the size limit,
//! hostile feed text, empty windows, permanent SMTP refusals, and the `digest` and `outbox`
//! commands. Feeds come from an HTTP server on 127.0.0.1, mail goes to an SMTP server on
//! 127.0.0.1, state lives in a SQLite file in a temp folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use veille::clock::{Clock, ManualClock};
use veille::mail::render::MAX_HTML_BYTES;
use veille::notify;
use veille::scheduler;

use crate::common::{
    self, HttpServer, Response, RssItem, SmtpSink, app, daemon_table, rss, smtp_table,
};

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
}

/// A config with one HTTP source, one watch and one digest; `digest_extra` is appended to
/// the `[[digest]]` table and `smtp_port` selects SMTP (else .eml files in `mail/`).
fn write_config(dir: &Path, feed_url: &str, digest_extra: &str, smtp_port: Option<u16>) -> PathBuf {
    let daemon = daemon_table(
        "veille.db",
        "mail_dir = \"mail\"\ntimezone = \"Europe/Paris\"",
    );
    let smtp = smtp_port.map_or(String::new(), smtp_table);
    let text = format!(
        r#"{daemon}{smtp}
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
{digest_extra}
"#
    );
    common::write_config(dir, &text)
}

fn rss_item(n: usize, title: &str, link: &str) -> RssItem {
    RssItem::new(format!("item-{n}"), title)
        .link(link)
        .description(format!("Acme story number {n}."))
        .pub_date("Thu, 26 Nov 2026 07:30:00 +0100")
}

fn eml_bodies(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read eml"))
        .collect()
}

/// A 02:30 daily digest in Paris, stepped through the March and October changes ten
/// minutes at a time: exactly one window closes per local day, at the right instant.
#[tokio::test(flavor = "multi_thread")]
async fn a_daily_digest_closes_once_per_day_across_dst_changes() {
    let http = HttpServer::start();
    http.route("/feed.xml", Response::ok("application/rss+xml", rss(&[])));
    // 2026: clocks spring forward on 29 March (02:00 → 03:00, so 02:30 does not exist) and
    // fall back on 25 October (02:00–03:00 happens twice).
    for (first_day, expected_utc) in [
        (
            NaiveDate::from_ymd_opt(2026, 3, 28),
            [
                utc(2026, 3, 28, 1, 30),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 30, 0, 30),
            ],
        ),
        (
            NaiveDate::from_ymd_opt(2026, 10, 24),
            [
                utc(2026, 10, 24, 0, 30),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 26, 1, 30),
            ],
        ),
    ] {
        let first_day = first_day.expect("date");
        let start = Paris
            .from_local_datetime(&first_day.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("local midnight")
            .with_timezone(&Utc);
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = write_config(
            dir.path(),
            &http.url("/feed.xml"),
            "at = [\"02:30\"]\nempty = \"send\"",
            None,
        );
        // The first run ever is due at once: make it just before the days under test.
        let clock = Arc::new(ManualClock::new(start - Duration::minutes(1)));
        let app = app(&config_path, clock.clone());
        let first = notify::queue_due_digests(&app).await.expect("first");
        assert_eq!(first.len(), 1);
        clock.set(start);
        let mut closed_at = Vec::new();
        while clock.now() < start + Duration::days(3) {
            for queued in notify::queue_due_digests(&app).await.expect("queue") {
                assert_eq!(queued.digest.as_str(), "daily");
                closed_at.push(clock.now());
            }
            clock.advance(Duration::minutes(10));
        }
        // Ten-minute steps: each window closes at the first step at or after its slot.
        assert_eq!(closed_at, expected_utc.to_vec(), "around {first_day}");
    }
}

/// 2,000 matching items in one window: the HTML part stays under the limit and both parts
/// say how many stories were left out.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_window_is_cut_under_the_size_limit_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut items = Vec::new();
    for n in 0..2_000 {
        let title = format!("Acme announces plan number {n} for the regional wind market");
        items.push(rss_item(
            n,
            &title,
            &format!("https://wire.example/news/2026/11/26/acme-plan-{n}"),
        ));
    }
    let http = HttpServer::start();
    http.route(
        "/feed.xml",
        Response::ok("application/rss+xml", rss(&items)),
    );
    let config_path = write_config(dir.path(), &http.url("/feed.xml"), "max_items = 1000", None);
    let clock = Arc::new(ManualClock::new(utc(2026, 11, 27, 13, 0)));
    let app = app(&config_path, clock);

    let summary = scheduler::run_once(&app).await.expect("run");
    assert_eq!(summary.digests.len(), 1);
    let queued = &summary.digests[0];
    assert_eq!(queued.mentions, 2_000);
    assert!(queued.cut_for_size > 0, "{queued:?}");

    let bodies = eml_bodies(&dir.path().join("mail"));
    assert_eq!(bodies.len(), 1);
    let message = mail_parser::MessageParser::default()
        .parse(&bodies[0])
        .expect("parse eml");
    let html = message
        .body_html(0)
        .map(|h| h.to_string())
        .unwrap_or_default();
    let text = message
        .body_text(0)
        .map(|t| t.to_string())
        .unwrap_or_default();
    assert!(html.len() <= MAX_HTML_BYTES, "{} bytes", html.len());
    let shown = html.matches("https://wire.example/news/").count();
    assert!(shown > 50, "still a useful digest: {shown} stories");
    let note = format!("waiting in veille: {} stories.", queued.cut_for_size);
    assert!(html.contains(&note), "the HTML says what was cut");
    assert!(text.contains(&note), "the text says what was cut");
    // What was cut for size plus what is shown is what `max_items` allowed; the rest of the
    // window is counted below the list.
    assert_eq!(shown + queued.cut_for_size, 1_000);
    let more = format!("… and {} more in veille", 2_000 - shown);
    assert!(text.contains(&more), "{more}");
}

/// Feed text is text: tags, attribute breakers and `javascript:` links reach the reader
/// escaped or not at all.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_feed_content_is_escaped_in_the_html_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Atom `type="text"` titles are plain text: the tags below are characters of the title,
    // exactly what a hostile or careless feed can send.
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id><updated>2026-11-27T08:00:00Z</updated>
<entry><title type="text">Acme &lt;script&gt;alert(1)&lt;/script&gt; wins</title><id>urn:wire:1</id>
<link rel="alternate" href="javascript:alert(2)"/><updated>2026-11-26T09:00:00Z</updated><summary>Acme.</summary></entry>
<entry><title type="text">Acme "onerror=alert(3) &lt;img src=x onerror=alert(4)&gt;</title><id>urn:wire:2</id>
<link rel="alternate" href="https://wire.example/a?x=1&amp;y='2'"/><updated>2026-11-26T10:00:00Z</updated><summary>Acme.</summary></entry>
</feed>"#;
    let http = HttpServer::start();
    http.route("/feed.xml", Response::ok("application/atom+xml", atom));
    let smtp = SmtpSink::start();
    let config_path = write_config(
        dir.path(),
        &http.url("/feed.xml"),
        "",
        Some(smtp.addr.port()),
    );
    let clock = Arc::new(ManualClock::new(utc(2026, 11, 27, 13, 0)));
    let app = app(&config_path, clock);
    scheduler::run_once(&app).await.expect("run");

    let mails = smtp.wait_for(1, std::time::Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    let html = mails[0].html();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("javascript:"), "no javascript: link: {html}");
    // Tags in a title are markup to strip (feeds often put HTML in titles), script
    // content included; what is left is escaped text.
    assert!(html.contains("<strong>Acme wins</strong>"), "{html}");
    assert!(
        !html.contains("alert(1)") && !html.contains("alert(4)"),
        "{html}"
    );
    assert!(html.contains(">Acme &quot;onerror=alert(3)</a>"), "{html}");
    assert!(
        html.contains(r#"href="https://wire.example/a?x=1&amp;y=%272%27""#),
        "the link is a parsed, escaped URL: {html}"
    );
    let text = mails[0].text();
    assert!(
        text.contains("* Acme \"onerror=alert(3)"),
        "the text part is plain text: {text}"
    );
}

/// `empty = "skip"` closes an empty window without mail; `empty = "send"` mails a short
/// "nothing new".
#[tokio::test(flavor = "multi_thread")]
async fn empty_windows_follow_the_digest_policy() {
    for (policy, mails) in [("skip", 0), ("send", 1)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let http = HttpServer::start();
        http.route("/feed.xml", Response::ok("application/rss+xml", rss(&[])));
        let config_path = write_config(
            dir.path(),
            &http.url("/feed.xml"),
            &format!("empty = \"{policy}\"\nlang = \"fr\""),
            None,
        );
        let clock = Arc::new(ManualClock::new(utc(2026, 11, 27, 13, 0)));
        let app = app(&config_path, clock);
        let summary = scheduler::run_once(&app).await.expect("run");
        assert_eq!(summary.digests.len(), 1, "the window is closed either way");
        let bodies = eml_bodies(&dir.path().join("mail"));
        assert_eq!(bodies.len(), mails, "policy {policy}");
        if let Some(body) = bodies.first() {
            let message = mail_parser::MessageParser::default()
                .parse(body)
                .expect("parse");
            let text = message
                .body_text(0)
                .map(|t| t.to_string())
                .unwrap_or_default();
            assert!(
                text.contains("Rien de nouveau sur cette période."),
                "{text}"
            );
        }
    }
}

/// A recipient the server refuses for good is not retried forever: the mail is marked
/// failed with the reason, listed by `veille outbox`, and `veille outbox retry` puts it
/// back in line.
#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_refusal_marks_the_mail_failed_and_outbox_lists_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route(
        "/feed.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[rss_item(1, "Acme news", "https://wire.example/1")]),
        ),
    );
    let smtp = SmtpSink::start();
    let config_path = write_config(
        dir.path(),
        &http.url("/feed.xml"),
        "",
        Some(smtp.addr.port()),
    );
    let text = std::fs::read_to_string(&config_path)
        .expect("read")
        .replace(
            "to = \"comms@example.org\"",
            "to = \"rejected@example.org\"",
        );
    std::fs::write(&config_path, text).expect("write");
    let clock = Arc::new(ManualClock::new(utc(2026, 11, 27, 13, 0)));
    let app = app(&config_path, clock.clone());

    let summary = scheduler::run_once(&app).await.expect("run");
    let error = summary.deliveries[0].result.clone().expect_err("refused");
    assert!(error.contains("recipient or sender rejected"), "{error}");
    let counts = app.store.counts().expect("counts");
    assert_eq!((counts.outbox_pending, counts.outbox_failed), (0, 1));
    clock.advance(Duration::hours(3));
    assert!(
        notify::deliver_pending(&app)
            .await
            .expect("deliver")
            .is_empty(),
        "not retried"
    );

    let listing = veille_cmd()
        .args(["outbox", "--config"])
        .arg(&config_path)
        .output()
        .expect("outbox");
    let stdout = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.status.success(), "{stdout}");
    assert!(stdout.contains("failed"), "{stdout}");
    assert!(stdout.contains("last error: SMTP 127.0.0.1"), "{stdout}");
    assert!(stdout.contains("rejected@example.org"), "{stdout}");

    let id = app.store.outbox_entries(false).expect("entries")[0].id;
    let retry = veille_cmd()
        .args(["outbox", "retry", &id.to_string(), "--config"])
        .arg(&config_path)
        .output()
        .expect("retry");
    assert!(retry.status.success());
    let entries = app.store.outbox_entries(false).expect("entries");
    assert_eq!(entries[0].status, "pending");
    let missing = veille_cmd()
        .args(["outbox", "retry", "999", "--config"])
        .arg(&config_path)
        .output()
        .expect("retry missing");
    assert_eq!(missing.status.code(), Some(1));
}

fn veille_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_veille"));
    cmd.env_remove("VEILLE_CONFIG").env_remove("RUST_LOG");
    cmd
}

/// `digest preview` shows the open window and records nothing; `digest send` closes it and
/// delivers; a second preview is then empty.
#[test]
fn preview_changes_nothing_and_send_closes_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut items: Vec<RssItem> = (0..3)
        .map(|n| {
            rss_item(
                n,
                &format!("Acme item {n}"),
                &format!("https://wire.example/{n}"),
            )
        })
        .collect();
    let http = HttpServer::start();
    http.route(
        "/feed.xml",
        Response::ok("application/rss+xml", rss(&items)),
    );
    // A schedule far away, so only `send` closes the window... but the first digest is
    // due at once: poll with `run --once` first, which sends that first digest, then add
    // items and look at the next one.
    let config_path = write_config(dir.path(), &http.url("/feed.xml"), "", None);
    let run = |args: &[&str]| {
        veille_cmd()
            .args(args)
            .arg("--config")
            .arg(&config_path)
            .output()
            .expect("run veille")
    };
    assert!(run(&["run", "--once"]).status.success());
    items.push(rss_item(7, "Acme late news", "https://wire.example/7"));
    http.route(
        "/feed.xml",
        Response::ok("application/rss+xml", rss(&items)),
    );
    // Poll again: the daily digest is not due before tomorrow 08:00, so the new mention
    // waits in the open window.
    assert!(run(&["run", "--once"]).status.success());
    let mail_dir = dir.path().join("mail");
    assert_eq!(eml_bodies(&mail_dir).len(), 1);

    let html = dir.path().join("preview.html");
    let preview = veille_cmd()
        .args(["digest", "preview", "daily", "--config"])
        .arg(&config_path)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("preview");
    let stdout = String::from_utf8_lossy(&preview.stdout);
    assert!(preview.status.success(), "{stdout}");
    assert!(stdout.contains("Acme late news"), "{stdout}");
    assert!(
        !stdout.contains("Acme item 0"),
        "only the open window: {stdout}"
    );
    let html_text = std::fs::read_to_string(&html).expect("html written");
    assert!(html_text.contains("Acme late news"));
    assert_eq!(eml_bodies(&mail_dir).len(), 1, "preview sends nothing");

    let again = run(&["digest", "preview", "daily"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("Acme late news"),
        "preview recorded nothing"
    );

    let send = run(&["digest", "send", "daily"]);
    let stdout = String::from_utf8_lossy(&send.stdout);
    assert!(send.status.success(), "{stdout}");
    assert!(stdout.contains("stories: 1, mentions: 1, sent"), "{stdout}");
    assert_eq!(eml_bodies(&mail_dir).len(), 2);

    let after = run(&["digest", "preview", "daily"]);
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert!(stdout.contains("Nothing new in this period."), "{stdout}");

    let unknown = run(&["digest", "send", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known: daily"));
}

/// The footer tells the team which of its sources are failing, and once, when one is back;
/// a window with nothing found still goes out when there is such news.
#[tokio::test(flavor = "multi_thread")]
async fn the_footer_reports_failing_sources_and_their_recovery_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route(
        "/feed.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[rss_item(1, "Acme news", "https://wire.example/1")]),
        ),
    );
    http.route("/broken.xml", Response::status(500));
    let daemon = daemon_table(
        "veille.db",
        "mail_dir = \"mail\"\ntimezone = \"Europe/Paris\"\nfailing_after = 2",
    );
    let config_path = common::write_config(
        dir.path(),
        &format!(
            r#"{daemon}
[[source]]
id = "wire"
url = "{wire}"

[[source]]
id = "broken"
url = "{broken}"

[[watch]]
id = "acme"
query = "Acme"

[[digest]]
id = "daily"
to = "comms@example.org"
lang = "fr"
"#,
            wire = http.url("/feed.xml"),
            broken = http.url("/broken.xml"),
        ),
    );
    let clock = Arc::new(ManualClock::new(utc(2026, 11, 23, 13, 0)));
    let app = app(&config_path, clock.clone());
    let mail_dir = dir.path().join("mail");
    // File names are random: the newest mail is the one not seen before.
    let seen = std::cell::RefCell::new(Vec::<Vec<u8>>::new());
    let last_text = || {
        let bodies = eml_bodies(&mail_dir);
        let mut seen = seen.borrow_mut();
        let newest = bodies
            .iter()
            .find(|b| !seen.contains(b))
            .cloned()
            .unwrap_or_default();
        seen.push(newest.clone());
        mail_parser::MessageParser::default()
            .parse(&newest)
            .and_then(|m| m.body_text(0).map(|t| t.to_string()))
            .unwrap_or_default()
    };

    // Day 1: one failure, below failing_after: not reported yet.
    scheduler::run_once(&app).await.expect("day 1");
    assert_eq!(eml_bodies(&mail_dir).len(), 1);
    let text = last_text();
    assert!(text.contains("Acme news"), "{text}");
    assert!(!text.contains("Sources en difficulté"), "{text}");

    // Day 2: the second failure in a row. Nothing new was found, but the mail goes out.
    clock.advance(Duration::days(1));
    scheduler::run_once(&app).await.expect("day 2");
    assert_eq!(eml_bodies(&mail_dir).len(), 2);
    let text = last_text();
    assert!(
        text.contains("Rien de nouveau sur cette période."),
        "{text}"
    );
    assert!(text.contains("== Sources en difficulté =="), "{text}");
    assert!(
        text.contains("* broken: en échec depuis le 23 nov. 14:00 (2 relevés de suite)"),
        "{text}"
    );
    assert!(!text.contains("* wire"), "{text}");

    // Day 3: back. Reported once...
    http.route(
        "/broken.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[rss_item(9, "Other", "https://b.example/9")]),
        ),
    );
    clock.advance(Duration::days(1));
    scheduler::run_once(&app).await.expect("day 3");
    assert_eq!(eml_bodies(&mail_dir).len(), 3);
    let text = last_text();
    assert!(
        text.contains("* broken: rétablie (en échec 2 fois depuis le 23 nov. 14:00)"),
        "{text}"
    );

    // ... and not again: day 4 has nothing to say, so no mail (empty = "skip").
    clock.advance(Duration::days(1));
    scheduler::run_once(&app).await.expect("day 4");
    assert_eq!(eml_bodies(&mail_dir).len(), 3);
}

/// One wire story carried by three outlets is one entry in the digest: the earliest
/// outlet's title, "also in 2 outlets" with their names, and a snippet around the hit.
#[tokio::test(flavor = "multi_thread")]
async fn a_story_in_three_outlets_is_one_entry_with_its_outlets() {
    let wire = "Le groupe industriel Acme a annoncé mercredi la suppression de 300 emplois dans \
                son usine de Vénissieux, près de Lyon, soit près d'un tiers des effectifs du \
                site. La direction invoque la chute des commandes de compresseurs pour \
                l'automobile et la concurrence des fabricants asiatiques. Un plan de départs \
                volontaires sera proposé dans un premier temps, avant d'éventuels licenciements \
                au second semestre 2027.";
    let item = |guid: &str, title: &str, link: &str, hour: u32, intro: &str| {
        RssItem::new(guid, title)
            .link(link)
            .description(format!("{intro}{wire}"))
            .pub_date(format!("Thu, 26 Nov 2026 {hour:02}:00:00 +0000"))
    };
    let http = HttpServer::start();
    http.route(
        "/agence.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[item(
                "a1",
                "Acme annonce la suppression de 300 emplois à Lyon",
                "https://agence.example/depeches/acme-lyon",
                8,
                "",
            )]),
        ),
    );
    http.route(
        "/quotidien.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[item(
                "q1",
                "Vénissieux : Acme va supprimer 300 postes",
                "https://www.lequotidien.example/eco/acme-300-postes?xtor=RSS-1",
                9,
                "Coup dur pour l'industrie lyonnaise. ",
            )]),
        ),
    );
    http.route(
        "/business.xml",
        Response::ok(
            "application/rss+xml",
            rss(&[item(
                "b1",
                "Plan social chez Acme",
                "https://businessnow.example/fr/acme-plan-social?utm_source=rss",
                10,
                "Les syndicats dénoncent un plan décidé depuis des mois. ",
            )]),
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = daemon_table("veille.db", "mail_dir = \"mail\"");
    let config_path = common::write_config(
        dir.path(),
        &format!(
            r#"{daemon}
[[source]]
id = "agence"
url = "{a}"

[[source]]
id = "quotidien"
url = "{q}"

[[source]]
id = "business"
url = "{b}"

[[watch]]
id = "acme"
name = "Acme"
query = "Acme"

[[digest]]
id = "daily"
to = "comms@example.org"
"#,
            a = http.url("/agence.xml"),
            q = http.url("/quotidien.xml"),
            b = http.url("/business.xml"),
        ),
    );
    let app = app(
        &config_path,
        Arc::new(ManualClock::new(utc(2026, 11, 27, 13, 0))),
    );
    let summary = scheduler::run_once(&app).await.expect("run");
    assert_eq!(summary.digests[0].mentions, 3);
    assert_eq!(summary.digests[0].stories, 1, "{summary:?}");

    let bodies = eml_bodies(&dir.path().join("mail"));
    assert_eq!(bodies.len(), 1);
    let message = mail_parser::MessageParser::default()
        .parse(&bodies[0])
        .expect("parse");
    let text = message
        .body_text(0)
        .map(|t| t.to_string())
        .unwrap_or_default();
    assert!(text.contains("1 story · 3 mentions · 3 sources"), "{text}");
    assert_eq!(text.matches("\n* ").count(), 1, "one entry: {text}");
    assert!(
        text.contains("* Acme annonce la suppression de 300 emplois à Lyon"),
        "the earliest outlet's title: {text}"
    );
    // The three feeds are polled at once: the order the other two joined in varies.
    let also = text
        .lines()
        .find(|l| l.contains("also in 2 outlets: "))
        .unwrap_or_else(|| panic!("an also-in line: {text}"));
    assert!(
        also.contains("lequotidien.example") && also.contains("businessnow.example"),
        "{text}"
    );
    assert!(
        text.contains("[Acme]"),
        "a snippet with the hit marked: {text}"
    );
    let html = message
        .body_html(0)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(html.contains("<mark>Acme</mark>"), "{html}");
}
