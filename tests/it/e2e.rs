//! The whole pipeline against real servers: feeds served over HTTP on 127.0.0.1, mail
//! delivered to an SMTP server on 127.0.0.1, state in a SQLite file in a temp folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use veille::clock::{ManualClock, SystemClock};
use veille::notify;
use veille::pipeline::SourceOutcome;
use veille::scheduler;

use crate::common::{self, HttpServer, Response, SmtpSink, app, daemon_table, outcome};

const FRENCH_RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Le Quotidien</title><link>https://fr.example/</link><description>d</description>
<item><title>Nordvent Énergie inaugure le parc de Fécamp</title><link>https://fr.example/a</link><guid>fr-1</guid>
<pubDate>Thu, 26 Nov 2026 07:30:00 +0100</pubDate><description>&lt;p&gt;Soixante-deux éoliennes.&lt;/p&gt;</description></item>
<item><title>Le prix de l’électricité recule</title><link>https://fr.example/b</link><guid>fr-2</guid>
<pubDate>Thu, 26 Nov 2026 14:20:00 +0100</pubDate><description>Rien sur notre marque.</description></item>
<item><title>Grève chez un sous-traitant</title><link>https://fr.example/c</link><guid>fr-3</guid>
<pubDate>Thu, 26 Nov 2026 11:05:00 +0100</pubDate><description>D’après la CGT, les commandes de NORDVENT sont concernées.</description></item>
</channel></rss>"#;

const ENGLISH_ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Windpower</title><id>urn:w</id><updated>2026-11-27T08:00:00Z</updated>
<entry><title>Nordvent &amp; "partners" say 5 &lt; 6</title><id>urn:w:1</id>
<link rel="alternate" href="https://en.example/nordvent?x=1&amp;y=2"/><updated>2026-11-26T09:00:00Z</updated>
<summary>French developer Nordvent commissions a wind farm.</summary></entry>
<entry><title>Grid operator approves interconnector</title><id>urn:w:2</id>
<link rel="alternate" href="https://en.example/grid"/><updated>2026-11-27T07:15:00Z</updated><summary>No brand here.</summary></entry>
</feed>"#;

/// The database in a subfolder, and a sender with a display name.
fn write_config(dir: &Path, http: &HttpServer, smtp_port: u16) -> PathBuf {
    let daemon = daemon_table("state/veille.db", "timezone = \"Europe/Paris\"");
    let text = format!(
        r#"{daemon}
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "Veille <veille@example.org>"

[[source]]
id = "fr"
url = "{fr}"

[[source]]
id = "en"
url = "{en}"

[[source]]
id = "broken"
url = "{broken}"

[[watch]]
id = "nordvent"
name = "Nordvent"
query = 'Nordvent'

[[digest]]
id = "daily"
name = "Daily"
to = ["comms@example.org", "Direction <boss@example.org>"]
at = ["08:00"]
"#,
        fr = http.url("/fr.xml"),
        en = http.url("/en.atom"),
        broken = http.url("/broken.xml"),
    );
    common::write_config(dir, &text)
}

fn feeds() -> HttpServer {
    let http = HttpServer::start();
    http.route(
        "/fr.xml",
        Response::ok("application/rss+xml; charset=utf-8", FRENCH_RSS),
    );
    http.route(
        "/en.atom",
        Response::ok("application/atom+xml", ENGLISH_ATOM),
    );
    http.route("/broken.xml", Response::status(500));
    http
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_arrives_once_with_the_right_mentions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = feeds();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port());
    // Friday 14:00 in Paris: the first digest goes at once, the next one is Saturday 08:00.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0)
            .single()
            .expect("time"),
    ));
    let app = app(&config_path, clock.clone());

    let summary = scheduler::run_once(&app).await.expect("first run");
    match outcome(&summary, "broken") {
        SourceOutcome::Failed {
            error,
            consecutive_failures,
        } => {
            assert!(error.contains("500"), "{error}");
            assert_eq!(consecutive_failures, 1);
        }
        other => panic!("broken source: {other:?}"),
    }
    match outcome(&summary, "fr") {
        SourceOutcome::Updated(stats) => assert_eq!(
            (stats.items_new, stats.mentions.values().sum::<usize>()),
            (3, 2)
        ),
        other => panic!("fr: {other:?}"),
    }
    assert_eq!(summary.deliveries.len(), 1);
    assert!(
        summary.deliveries[0].result.is_ok(),
        "{:?}",
        summary.deliveries[0].result
    );

    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "one digest");
    let mail = &mails[0];
    assert_eq!(mail.from, "veille@example.org");
    assert_eq!(mail.to, vec!["comms@example.org", "boss@example.org"]);
    assert!(mail.subject().contains(" stories — "), "{}", mail.subject());
    let text = mail.text();
    assert!(text.contains("3 mentions · 2 sources"), "{text}");
    for expected in [
        "Nordvent Énergie inaugure le parc de Fécamp",
        "Grève chez un sous-traitant",
        "Nordvent & \"partners\" say 5 < 6",
    ] {
        assert!(
            text.contains(expected),
            "text part lacks {expected:?}:\n{text}"
        );
    }
    for unexpected in ["électricité recule", "interconnector"] {
        assert!(
            !text.contains(unexpected),
            "text part has {unexpected:?}:\n{text}"
        );
    }
    let html = mail.html();
    assert!(
        html.contains("Nordvent &amp; &quot;partners&quot; say 5 &lt; 6"),
        "feed text is escaped in HTML:\n{html}"
    );
    assert!(!html.contains("5 < 6"), "raw feed text leaked into HTML");
    assert!(
        mail.parsed()
            .message_id()
            .is_some_and(|id| id.ends_with("@example.org"))
    );

    let counts_after_first = app.store.counts().expect("counts");
    assert_eq!(
        (counts_after_first.items, counts_after_first.mentions),
        (5, 3)
    );

    // Second run: nothing new, nothing sent twice, no duplicate rows.
    clock.advance(chrono::Duration::hours(1));
    let summary = scheduler::run_once(&app).await.expect("second run");
    assert!(summary.deliveries.is_empty());
    assert!(
        summary.digests.is_empty(),
        "the digest is not due again before its next 08:00"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(smtp.received().len(), 1, "no second mail");
    let counts = app.store.counts().expect("counts");
    assert_eq!(
        (counts.items, counts.mentions, counts.outbox_sent),
        (5, 3, 1)
    );
}

/// The one window delivery leaves open: the server accepted a mail, and veille stopped before
/// recording it as sent (the row is put back as it was before the send). The restarted
/// sender sends it again, as the very same mail: same bytes, same Message-ID, so mail clients
/// can tell the copy from a new mail. Then it is sent, and never again.
#[tokio::test(flavor = "multi_thread")]
async fn a_mail_resent_after_a_crash_is_the_same_mail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = feeds();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0)
            .single()
            .expect("time"),
    ));
    let first = app(&config_path, clock.clone());
    let summary = scheduler::run_once(&first).await.expect("run");
    assert_eq!(summary.deliveries.len(), 1);
    assert_eq!(smtp.received().len(), 1);
    let outbox_id = summary.deliveries[0].outbox_id;
    drop(first);

    // The crash between the server's 250 and the mark, as the database sees it afterwards.
    let db = rusqlite::Connection::open(dir.path().join("state/veille.db")).expect("open");
    let reset = db
        .execute(
            "UPDATE outbox SET status = 'pending', sent_at = NULL, receipt = NULL,
                    attempts = attempts - 1 WHERE id = ?1 AND status = 'sent'",
            [outbox_id],
        )
        .expect("reset");
    assert_eq!(reset, 1);

    clock.advance(chrono::Duration::minutes(1));
    let restarted = app(&config_path, clock.clone());
    let deliveries = notify::deliver_all_pending(&restarted)
        .await
        .expect("deliver");
    assert_eq!(deliveries.len(), 1);
    let mails = smtp.wait_for(2, Duration::from_secs(5));
    assert_eq!(mails.len(), 2, "sent again");
    let id = |n: usize| mails[n].parsed().message_id().map(str::to_string);
    assert!(id(0).is_some());
    assert_eq!(id(0), id(1), "the same Message-ID");
    assert_eq!(mails[0].data, mails[1].data, "the same bytes");

    let status: String = db
        .query_row(
            "SELECT status FROM outbox WHERE id = ?1",
            [outbox_id],
            |row| row.get(0),
        )
        .expect("status");
    assert_eq!(status, "sent");
    let again = notify::deliver_all_pending(&restarted)
        .await
        .expect("deliver");
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(smtp.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_waits_in_the_outbox_while_smtp_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = feeds();
    // The mail server was up, then stopped: its port has nothing listening any more.
    let port = {
        let smtp = SmtpSink::start();
        smtp.addr.port()
    };
    let config_path = write_config(dir.path(), &http, port);
    let start = Utc
        .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .expect("time");
    let clock = Arc::new(ManualClock::new(start));
    let app = app(&config_path, clock.clone());

    let summary = scheduler::run_once(&app).await.expect("run with SMTP down");
    assert_eq!(summary.deliveries.len(), 1);
    let error = summary.deliveries[0]
        .result
        .clone()
        .expect_err("delivery must fail");
    assert!(
        error.contains("connection refused"),
        "an actionable error: {error}"
    );
    assert_eq!(
        app.store.counts().map(|c| c.outbox_pending).unwrap_or(0),
        1,
        "the mail is kept"
    );

    // Before the retry time nothing is attempted.
    assert!(
        notify::deliver_pending(&app)
            .await
            .expect("deliver")
            .is_empty()
    );

    let smtp = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr"));
    clock.advance(chrono::Duration::minutes(2));
    let deliveries = notify::deliver_pending(&app)
        .await
        .expect("deliver after recovery");
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].result.is_ok(), "{:?}", deliveries[0].result);
    clock.advance(chrono::Duration::hours(2));
    assert!(
        notify::deliver_pending(&app)
            .await
            .expect("deliver")
            .is_empty()
    );
    assert_eq!(smtp.received().len(), 1, "exactly one delivery");
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_feeds_are_not_parsed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.handle("/fr.xml", |request| {
        if request.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            return Response::status(304);
        }
        let mut response = Response::ok("application/rss+xml", FRENCH_RSS);
        response
            .headers
            .push(("ETag".to_string(), "\"v1\"".to_string()));
        response
    });
    http.route(
        "/en.atom",
        Response::ok("application/atom+xml", ENGLISH_ATOM),
    );
    http.route(
        "/broken.xml",
        Response::ok("text/html", "<html><body>not a feed</body></html>"),
    );
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port());
    let app = app(&config_path, Arc::new(SystemClock));

    let first = scheduler::run_once(&app).await.expect("first run");
    let broken = outcome(&first, "broken");
    assert!(
        matches!(&broken, SourceOutcome::Failed { error, .. } if error.contains("not a feed")),
        "an HTML page instead of a feed is a clear failure: {broken:?}"
    );
    let second = scheduler::run_once(&app).await.expect("second run");
    let fr = outcome(&second, "fr");
    assert_eq!(fr, SourceOutcome::NotModified);
    let requests = http.requests_for("/fr.xml");
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0]
            .headers
            .get("user-agent")
            .is_some_and(|ua| ua.starts_with("veille/"))
    );
}
