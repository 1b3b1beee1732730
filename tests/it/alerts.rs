//! Instant alerts as crisis managers get them: feeds served on 127.0.0.1, mail delivered to
//! an SMTP server on 127.0.0.1, state in a SQLite file, time from a manual clock (except
//! in the latency test, which runs the real daemon loop).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use veille::App;
use veille::alerting;
use veille::clock::{Clock, ManualClock};
use veille::model::{Field, Item, SourceId, TermHit, WatchId, WatchMatch};
use veille::scheduler;
use veille::score::Signals;
use veille::store::{Backfill, Matched, NewMention, Parsed, RunRecord};

use crate::common::{
    self, HttpServer, ReceivedMail, Response, RssItem, SmtpSink, app, daemon_table, rss,
    smtp_table, source_table,
};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .expect("valid time")
}

fn serve(http: &HttpServer, source: &str, items: &[RssItem]) {
    http.route(
        &format!("/{source}.xml"),
        Response::ok("application/rss+xml", rss(items)),
    );
}

const SOURCES: [&str; 4] = ["a", "b", "c", "d"];

/// Four sources, the watch and the alert rule; `alert_extra` goes into the `[[alert]]` table.
fn write_config(dir: &Path, http: &HttpServer, smtp_port: u16, alert_extra: &str) -> PathBuf {
    write_config_for(dir, http, smtp_port, &SOURCES, alert_extra)
}

/// [`write_config`] with the given sources, each served at `/{id}.xml`.
fn write_config_for(
    dir: &Path,
    http: &HttpServer,
    smtp_port: u16,
    sources: &[&str],
    alert_extra: &str,
) -> PathBuf {
    let mut text = daemon_table("veille.db", "mail_dir = \"mail\"") + &smtp_table(smtp_port);
    for source in sources {
        let url = http.url(&format!("/{source}.xml"));
        text.push_str(&source_table(source, &url, "every = \"2m\""));
    }
    text.push_str(&watch_and_alert(alert_extra));
    common::write_config(dir, &text)
}

/// The watch and the alert rule every test here uses; `alert_extra` goes into the rule.
fn watch_and_alert(alert_extra: &str) -> String {
    format!(
        r#"
[[watch]]
id = "nordvent"
name = "Nordvent"
query = "Nordvent"

[[alert]]
id = "crisis"
to = "crisis@example.org"
{alert_extra}
"#
    )
}

const QUIET_TEXT: &str =
    "Le temps restera doux et sec sur l'ensemble du pays cette semaine selon les prévisionnistes.";
const BOYCOTT: &str = "Des associations de consommateurs appellent au boycott de Nordvent après la révélation de factures gonflées pendant trois ans chez des milliers de clients du fournisseur d'énergie, qui dément toute fraude et promet un audit indépendant d'ici la fin du mois.";
const STRIKE: &str = "Les salariés du centre d'appels de Nordvent à Lille entament une grève illimitée pour dénoncer la suppression annoncée de deux cents postes et le recours croissant à la sous-traitance à l'étranger.";

fn alerts_of(mails: &[ReceivedMail]) -> Vec<&ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("crisis@example.org")))
        .collect()
}

fn header(mail: &ReceivedMail, name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&mail.data);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek()
                && next.starts_with([' ', '\t'])
            {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            }
            return Some(value);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_risk_item_alerts_once_and_its_copies_only_update_the_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port(), "");
    let clock = Arc::new(ManualClock::new(start()));
    let app = app(&config_path, clock.clone());

    // First poll: a backfill. Even yesterday's boycott story does not alert.
    for source in SOURCES {
        let mut entries = vec![
            RssItem::new("weather", "Météo de la semaine")
                .link(format!("https://{source}.example/meteo"))
                .description(QUIET_TEXT)
                .published(start() - Duration::hours(3)),
        ];
        if source == "a" {
            entries.push(
                RssItem::new("old", "Nordvent : appel au boycott")
                    .link("https://a.example/old-boycott")
                    .description(BOYCOTT)
                    .published(start() - Duration::days(1)),
            );
        }
        serve(&http, source, &entries);
    }
    scheduler::run_once(&app).await.expect("first run");
    assert!(
        alerts_of(&smtp.received()).is_empty(),
        "a backfill never alerts"
    );

    // A risk item appears on one source: one alert, at once.
    clock.set(start() + Duration::minutes(5));
    let story = |source: &str| {
        RssItem::new(
            "boycott",
            "Nordvent : appel au boycott après des factures gonflées",
        )
        .link(format!("https://{source}.example/nordvent-boycott"))
        .description(BOYCOTT)
        .published(start() + Duration::minutes(4))
    };
    serve(&http, "a", &[story("a")]);
    scheduler::run_once(&app).await.expect("second run");
    let mails = smtp.received();
    let alerts = alerts_of(&mails);
    assert_eq!(alerts.len(), 1, "one alert for the risk item");
    let first = alerts[0];
    assert_eq!(
        first.subject(),
        "[veille] Nordvent: Nordvent : appel au boycott après des factures gonflées (1 outlet)"
    );
    assert!(header(first, "In-Reply-To").is_none());
    assert!(first.text().to_lowercase().contains("boycott"));

    // The same story on three more feeds: no new alert.
    clock.set(start() + Duration::minutes(10));
    for source in ["b", "c", "d"] {
        serve(&http, source, &[story(source)]);
    }
    scheduler::run_once(&app).await.expect("third run");
    assert_eq!(
        alerts_of(&smtp.received()).len(),
        1,
        "copies of an alerted story never alert again"
    );

    // After the throttle window, the next alert (another story) shows the first one grown
    // to 4 outlets, and the three copies folded.
    clock.set(start() + Duration::minutes(40));
    serve(
        &http,
        "a",
        &[
            story("a"),
            RssItem::new("strike", "Grève chez Nordvent")
                .link("https://a.example/nordvent-greve")
                .description(STRIKE)
                .published(start() + Duration::minutes(39)),
        ],
    );
    scheduler::run_once(&app).await.expect("fourth run");
    let mails = smtp.received();
    let alerts = alerts_of(&mails);
    assert_eq!(alerts.len(), 2);
    let second = alerts[1];
    assert!(
        second.subject().contains("Grève chez Nordvent"),
        "{}",
        second.subject()
    );
    let text = second.text();
    assert!(text.contains("4 outlets"), "{text}");
    assert!(text.contains("+3"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stories_during_the_throttle_window_fold_into_one_mail_when_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port(), "throttle = \"30m\"");
    let clock = Arc::new(ManualClock::new(start()));
    let app = app(&config_path, clock.clone());
    for source in SOURCES {
        serve(&http, source, &[]);
    }
    scheduler::run_once(&app).await.expect("first run");

    let texts = [
        ("boycott", "Boycott Nordvent", BOYCOTT),
        ("strike", "Grève chez Nordvent", STRIKE),
        (
            "scandal",
            "Scandale des compteurs Nordvent",
            "Un rapport interne révèle que Nordvent connaissait depuis deux ans les défauts de ses compteurs communicants, un scandale qui touche plus de cinquante mille foyers du Nord et de la Picardie selon les syndicats.",
        ),
    ];
    let mut served = Vec::new();
    for (minute, (guid, title, text)) in [0, 5, 10].into_iter().zip(texts) {
        clock.set(start() + Duration::minutes(minute + 1));
        served.push(
            RssItem::new(guid, title)
                .link(format!("https://a.example/{guid}"))
                .description(text)
                .published(start() + Duration::minutes(minute)),
        );
        serve(&http, "a", &served);
        scheduler::run_once(&app).await.expect("run");
    }
    let mails = smtp.received();
    assert_eq!(
        alerts_of(&mails).len(),
        1,
        "the throttle holds stories 2 and 3"
    );

    // Nothing new at minute 31: the window is over, the waiting stories go in one mail.
    clock.set(start() + Duration::minutes(32));
    scheduler::run_once(&app).await.expect("flush run");
    let mails = smtp.received();
    let alerts = alerts_of(&mails);
    assert_eq!(alerts.len(), 2, "one mail for the folded stories");
    let text = alerts[1].text();
    assert!(
        text.contains("Grève chez Nordvent") && text.contains("Scandale des compteurs Nordvent"),
        "{text}"
    );

    // Nothing waits any more: later runs send nothing.
    clock.set(start() + Duration::minutes(70));
    scheduler::run_once(&app).await.expect("quiet run");
    assert_eq!(alerts_of(&smtp.received()).len(), 2);
}

/// Mentions of `watch` recorded straight into the store at `now` (as a poll of `source`
/// would), returned as the alert engine sees them.
fn record(
    app: &App,
    source: &str,
    now: DateTime<Utc>,
    entries: &[(String, String, String)],
    backfill: Backfill,
) -> Vec<NewMention> {
    record_scored(app, source, now, entries, backfill, None)
}

/// [`record`], scoring each mention with [`risk_signals`] of `risk` when given.
fn record_scored(
    app: &App,
    source: &str,
    now: DateTime<Utc>,
    entries: &[(String, String, String)],
    backfill: Backfill,
    risk: Option<&[&str]>,
) -> Vec<NewMention> {
    let source_id = SourceId::new(source);
    let watch = WatchId::new("nordvent");
    let items: Vec<(Item, Vec<WatchMatch>)> = entries
        .iter()
        .map(|(guid, url, text)| {
            let item = Item {
                source: source_id.clone(),
                identity: guid.clone(),
                url: Some(url.clone()),
                title: format!("Nordvent {guid}"),
                text: text.clone(),
                published: Some(now),
                author: None,
                lang: None,
            };
            let hit = TermHit {
                term: Arc::from("Nordvent"),
                field: Field::Title,
                position: 0,
                start: 0,
                end: 8,
            };
            let found = WatchMatch {
                watch: watch.clone(),
                held: Vec::new(),
                hits: vec![hit],
            };
            (item, vec![found])
        })
        .collect();
    let items: Vec<Matched> = items
        .into_iter()
        .map(|(item, matches)| {
            let mut matched = Matched::unscored(item, matches);
            for candidate in &mut matched.candidates {
                candidate.signals = risk.map(risk_signals).unwrap_or_default();
            }
            matched
        })
        .collect();
    let stats = app
        .store
        .record_run(&RunRecord {
            source: source_id,
            url: format!("https://{source}.example/feed.xml"),
            now,
            next_poll_at: now,
            validators: Some(Default::default()),
            body_hash: None,
            redirected_to: None,
            recovered_from: None,
            parsed: Some(Parsed {
                items,
                backfill,
                scoring: risk.map(|_| veille::score::SCORING),
            }),
        })
        .expect("record the run");
    stats.new_mentions
}

/// A distinct text per (day, hour, n), so every mention is its own story.
fn filler(day: i64, hour: i64, n: usize) -> (String, String, String) {
    let guid = format!("d{day}h{hour}n{n}");
    let text = format!(
        "Dépêche {guid} : Nordvent publie une note de marché numéro {day}{hour}{n} sur les prix de gros, sans autre détail ni commentaire."
    );
    (guid.clone(), format!("https://wire.example/{guid}"), text)
}

/// An app with one alert rule on one watch, its history filled hour by hour over 14 days
/// with `per_hour(day_index, hour)` mentions (day 0 is 14 days ago).
fn with_history(
    dir: &Path,
    alert_extra: &str,
    per_hour: impl Fn(i64, i64) -> usize,
) -> (App, Arc<ManualClock>) {
    let text = format!(
        r#"
[daemon]
database = "veille.db"
mail_dir = "mail"

[[source]]
id = "wire"
url = "https://wire.example/feed.xml"
{}"#,
        watch_and_alert(alert_extra)
    );
    let path = common::write_config(dir, &text);
    let now = start() + Duration::days(14);
    let clock = Arc::new(ManualClock::new(now));
    let app = app(&path, clock.clone());
    // The watch's history starts with a backfill 14 days ago.
    record(
        &app,
        "wire",
        now - Duration::days(14) - Duration::hours(2),
        &[filler(-1, 0, 0)],
        Backfill::All,
    );
    for day in 0..14 {
        for hour in 0..24 {
            let at = now - Duration::days(14 - day) + Duration::hours(hour) - Duration::minutes(30);
            let entries: Vec<_> = (0..per_hour(day, hour))
                .map(|n| filler(day, hour, n))
                .collect();
            if !entries.is_empty() {
                record(&app, "wire", at, &entries, Backfill::No);
            }
        }
    }
    (app, clock)
}

async fn spike_mails(app: &App) -> Vec<(String, Vec<u8>)> {
    app.store
        .pending_mails(DateTime::<Utc>::MAX_UTC)
        .expect("pending mails")
        .into_iter()
        .filter(|m| m.key.contains(":spike:"))
        .map(|m| (m.subject, m.body))
        .collect()
}

/// `n` new live mentions now, fed to the alert engine.
async fn burst(app: &App, clock: &ManualClock, tag: &str, n: usize) {
    let entries: Vec<_> = (0..n)
        .map(|i| filler(100, 0, i))
        .map(|(g, u, t)| {
            (
                format!("{tag}{g}"),
                format!("{u}{tag}"),
                format!("{tag} {t}"),
            )
        })
        .collect();
    let findings = record(app, "wire", clock.now(), &entries, Backfill::No);
    alerting::after_run(app, findings).await.expect("after run");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_spike_fires_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two mentions an hour, every hour, for 14 days.
    let (app, clock) = with_history(dir.path(), "", |_, _| 2);
    burst(&app, &clock, "a", 3).await;
    assert!(
        spike_mails(&app).await.is_empty(),
        "3 in the hour is not a spike"
    );
    clock.advance(Duration::seconds(600));
    burst(&app, &clock, "b", 20).await;
    let mails = spike_mails(&app).await;
    assert_eq!(
        mails.len(),
        1,
        "23 in the hour against a usual 2 is a spike"
    );
    assert!(mails[0].0.contains("23"), "{}", mails[0].0);
    // More of the same spike: still one mail.
    clock.advance(Duration::seconds(300));
    burst(&app, &clock, "c", 10).await;
    assert_eq!(
        spike_mails(&app).await.len(),
        1,
        "one mail per spike episode"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gradual_rise_does_not_spike() {
    let dir = tempfile::tempdir().expect("tempdir");
    // From 2 an hour to about 7 an hour over two weeks (+10% a day).
    let (app, clock) = with_history(dir.path(), "", |day, _| {
        (2.0 * 1.1f64.powi(day as i32)).round() as usize
    });
    burst(&app, &clock, "a", 8).await;
    assert!(
        spike_mails(&app).await.is_empty(),
        "8 after a steady climb is not a spike"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_watch_obeys_min_mentions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, clock) = with_history(dir.path(), "", |_, _| 0);
    burst(&app, &clock, "a", 2).await;
    assert!(
        spike_mails(&app).await.is_empty(),
        "2 mentions: under min_mentions (5)"
    );
    clock.advance(Duration::seconds(60));
    burst(&app, &clock, "b", 4).await;
    let mails = spike_mails(&app).await;
    assert_eq!(mails.len(), 1, "6 mentions: a spike on a quiet watch");

    let other = tempfile::tempdir().expect("tempdir");
    let (app, clock) = with_history(other.path(), "spike = { min_mentions = 10 }", |_, _| 0);
    burst(&app, &clock, "a", 6).await;
    assert!(
        spike_mails(&app).await.is_empty(),
        "6 mentions with min_mentions = 10"
    );
}

fn outbox(app: &App) -> Vec<veille::store::OutboxMail> {
    app.store
        .pending_mails(DateTime::<Utc>::MAX_UTC)
        .expect("pending mails")
}

/// The plain-text part of a queued mail, decoded.
fn text_of(body: &[u8]) -> String {
    ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data: body.to_vec(),
        login: None,
    }
    .text()
}

fn header_in(body: &[u8], name: &str) -> Option<String> {
    header(
        &ReceivedMail {
            from: String::new(),
            to: Vec::new(),
            data: body.to_vec(),
            login: None,
        },
        name,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spike_driven_by_an_alerted_story_continues_its_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, clock) = with_history(dir.path(), "", |_, _| 0);
    let story = (
        "recall".to_string(),
        "https://news.example/nordvent-rappel".to_string(),
        BOYCOTT.to_string(),
    );
    let findings = record_scored(
        &app,
        "wire",
        clock.now(),
        std::slice::from_ref(&story),
        Backfill::No,
        Some(&["boycott"]),
    );
    alerting::after_run(&app, findings)
        .await
        .expect("after run");
    let mails = outbox(&app);
    assert_eq!(mails.len(), 1, "the story alerts");
    let root = mails[0].message_id.clone();
    assert!(
        header_in(&mails[0].body, "In-Reply-To").is_none(),
        "a new story starts a thread"
    );

    // Six more outlets carry the same link within the hour: copies never alert, but on a
    // quiet watch seven mentions are a spike, and its mail joins the story's thread.
    clock.advance(Duration::minutes(10));
    for n in 1..=6 {
        let findings = record_scored(
            &app,
            &format!("outlet{n}"),
            clock.now(),
            std::slice::from_ref(&story),
            Backfill::No,
            Some(&["boycott"]),
        );
        alerting::after_run(&app, findings)
            .await
            .expect("after run");
    }
    let mails = outbox(&app);
    assert_eq!(
        mails.len(),
        2,
        "no story alert for the copies, one spike mail"
    );
    let spike = &mails[1];
    assert!(spike.key.contains(":spike:"), "{}", spike.key);
    assert_eq!(header_in(&spike.body, "In-Reply-To"), Some(root.clone()));
    let references = header_in(&spike.body, "References").unwrap_or_default();
    assert!(references.contains(&root), "{references}");
}

/// A title hit with these risk terms, 5 minutes old.
fn risk_signals(terms: &[&str]) -> Signals {
    Signals {
        title_hit: true,
        distinct_terms: 1,
        source_weight: 1.0,
        outlets: 1,
        recent_outlets: 1,
        age_minutes: Some(5),
        risk: terms.iter().map(|t| t.to_string()).collect(),
        learned: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_hours_hold_alerts_except_high_scores_and_release_them_after() {
    // A bar between a story with one risk term and one with three.
    let one = veille::score::score(&risk_signals(&["boycott"])).score;
    let three = veille::score::score(&risk_signals(&["boycott", "scandale", "plainte"])).score;
    assert!(one < three, "{one} {three}");
    let bar = (one + three) / 2.0;
    // 09:00 UTC is inside 08:00–10:00.
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, clock) = with_history(
        dir.path(),
        &format!(
            "quiet_hours = {{ from = \"08:00\", to = \"10:00\", unless_score = {bar:.4} }}\nspike = {{ enabled = false }}"
        ),
        |_, _| 0,
    );
    let story = |guid: &str, text: &str| {
        (
            guid.to_string(),
            format!("https://news.example/{guid}"),
            text.to_string(),
        )
    };
    let findings = record_scored(
        &app,
        "wire",
        clock.now(),
        &[story("one", BOYCOTT)],
        Backfill::No,
        Some(&["boycott"]),
    );
    alerting::after_run(&app, findings)
        .await
        .expect("after run");
    assert!(outbox(&app).is_empty(), "held by quiet hours");

    // A worse story breaks through, and takes the waiting one with it.
    clock.advance(Duration::minutes(10));
    let findings = record_scored(
        &app,
        "wire",
        clock.now(),
        &[story("three", STRIKE)],
        Backfill::No,
        Some(&["boycott", "scandale", "plainte"]),
    );
    alerting::after_run(&app, findings)
        .await
        .expect("after run");
    let mails = outbox(&app);
    assert_eq!(mails.len(), 1, "a score above unless_score is not held");
    let text = text_of(&mails[0].body);
    assert!(
        mails[0].subject.contains("Nordvent three"),
        "{}",
        mails[0].subject
    );
    assert!(
        text.contains("Nordvent one"),
        "the waiting story comes along: {text}"
    );

    // Another ordinary story is held again, and goes out when quiet hours end (the
    // throttle window is over by then too).
    clock.advance(Duration::minutes(10));
    let findings = record_scored(
        &app,
        "wire",
        clock.now(),
        &[story("later", QUIET_TEXT)],
        Backfill::No,
        Some(&["boycott"]),
    );
    alerting::after_run(&app, findings)
        .await
        .expect("after run");
    assert_eq!(outbox(&app).len(), 1, "held by quiet hours");
    clock.advance(Duration::minutes(45));
    alerting::flush_due(&app).await.expect("flush due");
    assert_eq!(outbox(&app).len(), 2, "released when quiet hours end");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_long_outage_only_fresh_items_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port(), "");
    let clock = Arc::new(ManualClock::new(start()));
    let app = app(&config_path, clock.clone());
    for source in SOURCES {
        serve(&http, source, &[]);
    }
    scheduler::run_once(&app).await.expect("first run");

    // veille was down for 7 hours: what was published meanwhile is backfill, what was
    // published within the last polling interval is news.
    clock.set(start() + Duration::hours(7));
    serve(
        &http,
        "a",
        &[
            RssItem::new("during", "Nordvent : appel au boycott")
                .link("https://a.example/boycott")
                .description(BOYCOTT)
                .published(start() + Duration::hours(3)),
            RssItem::new("now", "Grève chez Nordvent")
                .link("https://a.example/greve")
                .description(STRIKE)
                .published(start() + Duration::hours(7) - Duration::minutes(1)),
        ],
    );
    scheduler::run_once(&app)
        .await
        .expect("run after the outage");
    let mails = smtp.received();
    let alerts = alerts_of(&mails);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].subject().contains("Grève chez Nordvent"),
        "{}",
        alerts[0].subject()
    );
    assert!(
        !alerts[0].text().contains("appel au boycott"),
        "{}",
        alerts[0].text()
    );
}

/// The alert's latency through the real daemon loop and a real SMTP conversation: from the
/// moment the daemon is told to poll (which includes the poll itself) to the mail's arrival
/// at the SMTP server. Printed, not asserted tightly: the issue's target is 2 s after the
/// end of the poll. Run with `cargo test --test it alerts::latency -- --nocapture`.
#[tokio::test(flavor = "multi_thread")]
async fn latency_from_poll_to_alert_mail_through_the_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config_path = write_config(dir.path(), &http, smtp.addr.port(), "");
    for source in SOURCES {
        serve(&http, source, &[]);
    }
    let app = app(&config_path, Arc::new(veille::clock::SystemClock));
    let (control, receiver) = tokio::sync::mpsc::channel(4);
    let daemon = tokio::spawn(veille::daemon::run(app.clone(), receiver, None));

    let polled = |app: &App| {
        SOURCES.iter().all(|s| {
            app.store
                .source_state(&SourceId::new(*s))
                .is_ok_and(|state| state.last_success_at.is_some())
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !polled(&app) {
        assert!(
            std::time::Instant::now() < deadline,
            "first polls did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    serve(
        &http,
        "a",
        &[RssItem::new("boycott", "Nordvent : appel au boycott")
            .link("https://a.example/boycott")
            .description(BOYCOTT)
            .published(Utc::now())],
    );
    // Make the source due now, and wake the loop.
    let db = rusqlite::Connection::open(dir.path().join("veille.db")).expect("open the database");
    db.execute(
        "UPDATE source_state SET next_poll_at = 0 WHERE source_id = 'a'",
        [],
    )
    .expect("make the source due");
    let told = std::time::Instant::now();
    control
        .send(veille::daemon::Control::Reload)
        .await
        .expect("wake the daemon");
    let mails = tokio::task::spawn_blocking(move || {
        let mails = smtp.wait_for(1, std::time::Duration::from_secs(20));
        (mails, told.elapsed())
    })
    .await
    .expect("wait for the mail");
    let (mails, latency) = mails;
    assert_eq!(alerts_of(&mails).len(), 1, "the alert arrived");
    eprintln!(
        "alert latency, poll included: {} ms (target: 2 s after the poll)",
        latency.as_millis()
    );
    assert!(latency < std::time::Duration::from_secs(20));
    control
        .send(veille::daemon::Control::Shutdown)
        .await
        .expect("stop the daemon");
    daemon.await.expect("daemon stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_stored_just_before_a_crash_still_alerts_at_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, clock) = with_history(dir.path(), "spike = { enabled = false }", |_, _| 0);
    // Stored, then the process dies before the alert engine sees the run.
    let story = (
        "crash".to_string(),
        "https://news.example/crash".to_string(),
        BOYCOTT.to_string(),
    );
    drop(record_scored(
        &app,
        "wire",
        clock.now(),
        &[story],
        Backfill::No,
        Some(&["boycott"]),
    ));
    assert!(outbox(&app).is_empty());
    let config_path = dir.path().join("veille.toml");
    drop(app);

    let restarted = self::app(&config_path, clock.clone());
    let queued = alerting::recover(&restarted).await.expect("recover");
    assert_eq!(queued, 1);
    assert_eq!(outbox(&restarted).len(), 1);
    // Taken in once: a second start finds nothing left.
    assert_eq!(alerting::recover(&restarted).await.expect("recover"), 0);
}

const PARK: &str = "Nordvent inaugure ce matin un parc éolien en mer de soixante turbines au large de Dunkerque, le premier du fournisseur, qui doit alimenter trois cent mille foyers à partir du printemps prochain.";

#[tokio::test(flavor = "multi_thread")]
async fn a_story_without_risk_alerts_once_it_spreads_fast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let sources = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let config_path = write_config_for(dir.path(), &http, smtp.addr.port(), &sources, "");
    let clock = Arc::new(ManualClock::new(start()));
    let app = app(&config_path, clock.clone());
    for source in sources {
        serve(&http, source, &[]);
    }
    scheduler::run_once(&app).await.expect("first run");

    // One outlet after another carries the same news, a minute apart.
    let mut alerted_at = None;
    for (n, source) in sources.iter().enumerate() {
        clock.set(start() + Duration::minutes(n as i64 + 1));
        serve(
            &http,
            source,
            &[
                RssItem::new("park", "Nordvent inaugure son premier parc éolien en mer")
                    .link(format!("https://{source}.example/parc-eolien"))
                    .description(PARK)
                    .published(start()),
            ],
        );
        scheduler::run_once(&app).await.expect("run");
        if alerted_at.is_none() && !alerts_of(&smtp.received()).is_empty() {
            alerted_at = Some(n + 1);
        }
    }
    let mails = smtp.received();
    let alerts = alerts_of(&mails);
    assert_eq!(alerts.len(), 1, "the story alerts once");
    let outlets = alerted_at.unwrap_or_else(|| panic!("never alerted"));
    assert!(
        outlets > 1,
        "one outlet with no risk term is not an alert (alerted at {outlets})"
    );
    assert!(
        alerts[0]
            .subject()
            .contains(&format!("({outlets} outlets)")),
        "{}",
        alerts[0].subject()
    );
    assert!(
        alerts[0].text().contains("outlets in 2 h"),
        "{}",
        alerts[0].text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_queued_while_the_mail_server_is_down_goes_out_once_it_is_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let port = {
        let smtp = SmtpSink::start();
        smtp.addr.port()
    };
    let config_path = write_config(dir.path(), &http, port, "");
    let clock = Arc::new(ManualClock::new(start()));
    let app = app(&config_path, clock.clone());
    for source in SOURCES {
        serve(&http, source, &[]);
    }
    scheduler::run_once(&app).await.expect("first run");
    clock.set(start() + Duration::minutes(5));
    serve(
        &http,
        "a",
        &[RssItem::new("boycott", "Nordvent : appel au boycott")
            .link("https://a.example/boycott")
            .description(BOYCOTT)
            .published(start() + Duration::minutes(4))],
    );
    let summary = scheduler::run_once(&app)
        .await
        .expect("run while SMTP is down");
    assert_eq!(summary.deliveries.len(), 1);
    assert!(summary.deliveries[0].result.is_err(), "nothing listens");
    assert_eq!(app.store.counts().map(|c| c.outbox_pending).unwrap_or(0), 1);

    let smtp = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr"));
    clock.set(start() + Duration::minutes(10));
    scheduler::run_once(&app)
        .await
        .expect("run after SMTP is back");
    clock.set(start() + Duration::minutes(20));
    scheduler::run_once(&app).await.expect("one more run");
    let mails = smtp.received();
    assert_eq!(
        alerts_of(&mails).len(),
        1,
        "delivered once, not lost, not queued twice"
    );
    assert!(alerts_of(&mails)[0].subject().contains("appel au boycott"));
}
