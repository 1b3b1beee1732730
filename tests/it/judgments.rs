//! Judging from the terminal and from mail, as people do it: feeds served on 127.0.0.1, mail
//! delivered to an SMTP server on 127.0.0.1, the real `veille` binary, a SQLite file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chrono::Utc;
use veille::judge::token::{self, LinkKey};
use veille::model::Verdict;

use crate::common::{
    self, HttpServer, ReceivedMail, Response, RssItem, SmtpSink, daemon_table, rss, smtp_table,
    source_table,
};

const SECRET: &str = "PJ0aZwadTO1zMClrOz8LLk4IBZitlCAOgLndM+ta2wk=";

fn veille(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("VEILLE_CONFIG")
        .output()
        .expect("run veille")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A feed of (guid, title, text) items, each at `https://news.example/{guid}`, published now.
fn feed(items: &[(&str, &str, &str)]) -> String {
    let now = Utc::now();
    let items: Vec<RssItem> = items
        .iter()
        .map(|&(guid, title, text)| {
            RssItem::new(guid, title)
                .link(format!("https://news.example/{guid}"))
                .description(text)
                .published(now)
        })
        .collect();
    rss(&items)
}

fn write_config(dir: &Path, http: &HttpServer, smtp: &SmtpSink) -> PathBuf {
    std::fs::write(dir.join("web-secret"), format!("{SECRET}\n")).expect("write secret");
    let text = format!(
        r#"{daemon}{smtp}
[web]
base_url = "https://veille.example.org/"
secret_file = "web-secret"

{source}
[[watch]]
id = "nordvent"
name = "Nordvent"
query = "Nordvent"

[[alert]]
id = "astreinte"
to = "crisis@example.org"
lang = "fr"
throttle = "2h"
crisis = true

[[alert]]
id = "comms"
to = "comms@example.org"
throttle = "2h"
"#,
        daemon = daemon_table("veille.db", ""),
        smtp = smtp_table(smtp.addr.port()),
        source = source_table("presse", &http.url("/presse.xml"), "every = \"2m\""),
    );
    common::write_config(dir, &text)
}

const BOYCOTT: &str = "Des associations appellent au boycott de Nordvent après la révélation de factures gonflées pendant trois ans.";

fn to(mail: &ReceivedMail) -> &str {
    mail.to.first().map_or("", String::as_str)
}

/// The URL after `label :` (French typography) in a mail's text part.
fn link_in(text: &str, label: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&format!("{label} : ")))
        .map(str::to_string)
}

#[test]
fn a_crisis_verdict_from_the_terminal_reaches_the_crisis_rule_at_once_in_its_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config = write_config(dir.path(), &http, &smtp);

    // First poll: a backfill, no alert. Second: a boycott story alerts both rules, whose
    // throttle windows (2 h) start.
    http.route(
        "/presse.xml",
        Response::ok(
            "application/rss+xml",
            feed(&[(
                "old",
                "Nordvent publie ses résultats",
                "Le chiffre d'affaires de Nordvent progresse.",
            )]),
        ),
    );
    let first = veille(&config, &["run", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    http.route(
        "/presse.xml",
        Response::ok(
            "application/rss+xml",
            feed(&[
                (
                    "old",
                    "Nordvent publie ses résultats",
                    "Le chiffre d'affaires de Nordvent progresse.",
                ),
                ("boycott", "Appel au boycott de Nordvent", BOYCOTT),
            ]),
        ),
    );
    let second = veille(&config, &["run", "--once"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let alerts = smtp.wait_for(2, Duration::from_secs(5));
    assert_eq!(alerts.len(), 2, "one alert per rule");
    let alert = alerts
        .iter()
        .find(|m| to(m) == "crisis@example.org")
        .expect("the crisis rule's alert");
    let alert_id = alert
        .parsed()
        .message_id()
        .map(|id| format!("<{id}>"))
        .expect("a Message-ID");

    // The alert carries three signed links; the crisis one names the boycott mention.
    let text = alert.text();
    let link = link_in(&text, "Crise").unwrap_or_else(|| panic!("a crisis link in:\n{text}"));
    assert!(link.starts_with("https://veille.example.org/j/"), "{link}");
    let parts: Vec<&str> = link
        .trim_start_matches("https://veille.example.org/j/")
        .split('/')
        .collect();
    let key = LinkKey::from_bytes(SECRET.as_bytes()).expect("key");
    let (mention, verdict) = token::verify(
        &key,
        parts[0],
        parts[1],
        parts[2],
        parts[3],
        veille::config::defaults::LINK_TTL,
        Utc::now(),
    )
    .unwrap_or_else(|e| panic!("{link}: {e}"));
    assert_eq!(verdict, Verdict::Crisis);
    assert!(link_in(&text, "Pertinent").is_some() && link_in(&text, "Hors sujet").is_some());
    assert!(
        alert.html().contains(&format!("href=\"{link}\"")),
        "{}",
        alert.html()
    );

    // The terminal lists it, unjudged, with that id.
    let listed = veille(&config, &["mentions", "--unjudged", "--since", "1d"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let list = stdout(&listed);
    let line = list
        .lines()
        .find(|l| l.contains("Appel au boycott de Nordvent"))
        .unwrap_or_else(|| panic!("listed:\n{list}"));
    assert_eq!(
        line.split_whitespace().next(),
        Some(mention.0.to_string().as_str()),
        "{line}"
    );
    assert!(line.contains(" - "), "no verdict yet: {line}");

    // Crisis: mailed at once, throttle or not, to the crisis rule only, in the story's thread.
    let id = mention.0.to_string();
    let judged = veille(
        &config,
        &[
            "judge",
            &id,
            "crisis",
            "--note",
            "appeler le juridique",
            "--who",
            "alice",
        ],
    );
    assert!(judged.status.success(), "{}", stderr(&judged));
    assert!(
        stdout(&judged).contains("crisis mail: 1 of 1 sent now"),
        "{}",
        stdout(&judged)
    );
    let mails = smtp.wait_for(3, Duration::from_secs(5));
    assert_eq!(mails.len(), 3);
    let crisis = &mails[2];
    assert_eq!(
        to(crisis),
        "crisis@example.org",
        "the rule marked crisis = true only"
    );
    let subject = crisis.subject();
    assert!(
        subject.starts_with("[veille] CRISE : Nordvent : Appel au boycott de Nordvent"),
        "{subject}"
    );
    assert!(
        crisis
            .text()
            .contains("Signalé comme crise par alice : « appeler le juridique »"),
        "{}",
        crisis.text()
    );
    let raw = String::from_utf8_lossy(&crisis.data).into_owned();
    assert!(raw.contains(&format!("In-Reply-To: {alert_id}")), "{raw}");

    // Confirming the crisis again mails nobody; a changed mind is recorded.
    let again = veille(&config, &["judge", &id, "crisis"]);
    assert!(again.status.success(), "{}", stderr(&again));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.received().len(), 3, "no second crisis mail");
    let changed = veille(&config, &["judge", &id, "irrelevant", "--who", "bob"]);
    assert!(changed.status.success(), "{}", stderr(&changed));
    assert!(
        stdout(&changed).contains("judged irrelevant; it was crisis"),
        "{}",
        stdout(&changed)
    );

    // The verdict shows in the list and the export; nothing is left to judge but the old story.
    let unjudged = stdout(&veille(
        &config,
        &["mentions", "--unjudged", "--since", "1d"],
    ));
    assert!(!unjudged.contains("Appel au boycott"), "{unjudged}");
    assert!(
        unjudged.contains("Nordvent publie ses résultats"),
        "{unjudged}"
    );
    let export = veille(&config, &["export", "--since", "1d", "--format", "json"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&export.stdout).expect("json export");
    let verdicts: Vec<(String, serde_json::Value)> = records
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap_or("").to_string(),
                r["verdict"].clone(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&(
            "Appel au boycott de Nordvent".to_string(),
            serde_json::json!("irrelevant")
        )) && verdicts.contains(&(
            "Nordvent publie ses résultats".to_string(),
            serde_json::Value::Null
        )),
        "{verdicts:?}"
    );

    // Wrong ids and words are refused with a clear message, exit code 2.
    let unknown = veille(&config, &["judge", "999999", "relevant"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no mention 999999"),
        "{}",
        stderr(&unknown)
    );
    let word = veille(&config, &["judge", &id, "maybe"]);
    assert_eq!(word.status.code(), Some(2));
    assert!(
        stderr(&word).contains("relevant, irrelevant or crisis"),
        "{}",
        stderr(&word)
    );
}

#[test]
fn a_digest_carries_links_only_when_the_web_address_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route(
        "/presse.xml",
        Response::ok(
            "application/rss+xml",
            feed(&[(
                "a",
                "Nordvent ouvre une agence",
                "Nordvent ouvre une agence à Lille.",
            )]),
        ),
    );
    let smtp = SmtpSink::start();
    let config = write_config(dir.path(), &http, &smtp);
    let text = std::fs::read_to_string(&config).expect("read config");
    let with_digest =
        format!("{text}\n[[digest]]\nid = \"matin\"\nto = \"equipe@example.org\"\nlang = \"fr\"\n");
    std::fs::write(&config, &with_digest).expect("write config");
    let run = veille(&config, &["run", "--once"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let sent = veille(&config, &["digest", "send", "matin"]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let mails = smtp.wait_for(1, Duration::from_secs(5));
    let digest = mails
        .iter()
        .find(|m| to(m) == "equipe@example.org")
        .unwrap_or_else(|| panic!("a digest among {} mails", mails.len()));
    let text = digest.text();
    for label in ["Pertinent", "Hors sujet", "Crise"] {
        let link = link_in(&text, label).unwrap_or_else(|| panic!("{label} in\n{text}"));
        assert!(link.starts_with("https://veille.example.org/j/"), "{link}");
    }
    assert!(text.contains("Jugez un sujet avec ses liens"), "{text}");

    // Without base_url, no links and the old hint.
    http.route(
        "/presse.xml",
        Response::ok(
            "application/rss+xml",
            feed(&[
                (
                    "a",
                    "Nordvent ouvre une agence",
                    "Nordvent ouvre une agence à Lille.",
                ),
                (
                    "b",
                    "Nordvent recrute",
                    "Nordvent recrute cent techniciens.",
                ),
            ]),
        ),
    );
    let without = with_digest.replace("base_url = \"https://veille.example.org/\"\n", "");
    std::fs::write(&config, without).expect("write config");
    let run = veille(&config, &["run", "--once"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let sent = veille(&config, &["digest", "send", "matin"]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let mails = smtp.wait_for(2, Duration::from_secs(5));
    let digests: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|m| to(m) == "equipe@example.org")
        .collect();
    assert_eq!(digests.len(), 2, "a second digest");
    let second = digests[1];
    assert!(
        second.text().contains("Nordvent recrute"),
        "{}",
        second.text()
    );
    assert!(!second.text().contains("/j/"), "{}", second.text());
    assert!(second.text().contains("réf. "), "{}", second.text());
}

/// Twelve lines about the operator, twelve about the fruit: a watch's judged history.
fn orange_history() -> Vec<(String, String, String, Verdict)> {
    let places = [
        "Lyon", "Lille", "Nantes", "Rennes", "Brest", "Metz", "Nice", "Dijon", "Tours", "Caen",
        "Reims", "Pau",
    ];
    let mut items = Vec::new();
    for (i, place) in places.iter().enumerate() {
        items.push((
            format!("op{i}"),
            format!("Orange déploie la fibre à {place}"),
            format!("L'opérateur Orange raccorde {i}000 foyers de plus au réseau fibre à {place}, annonce l'opérateur télécom."),
            Verdict::Relevant,
        ));
        items.push((
            format!("fruit{i}"),
            format!("Recette : tarte à l'orange de {place}"),
            format!("Pressez une orange, ajoutez le sucre et le zeste : la recette de la tarte à l'orange, dessert de {place}."),
            Verdict::Irrelevant,
        ));
    }
    items
}

fn feed_of(items: &[(String, String, String, Verdict)]) -> String {
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, x, _)| (g.as_str(), t.as_str(), x.as_str()))
        .collect();
    feed(&refs)
}

#[test]
fn after_twenty_judgments_new_mentions_are_scored_like_the_ones_judged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    let smtp = SmtpSink::start();
    let config = write_config(dir.path(), &http, &smtp);
    let text = std::fs::read_to_string(&config)
        .expect("read config")
        .replace("query = \"Nordvent\"", "query = \"Orange\"");
    std::fs::write(&config, text).expect("write config");

    let mut items = orange_history();
    http.route(
        "/presse.xml",
        Response::ok("application/rss+xml", feed_of(&items)),
    );
    let run = veille(&config, &["run", "--once"]);
    assert!(run.status.success(), "{}", stderr(&run));

    // Judge every stored mention as its kind says.
    let export = veille(&config, &["export", "--since", "1d", "--format", "json"]);
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&export.stdout).expect("json export");
    assert_eq!(records.len(), 24);
    for record in &records {
        let title = record["title"].as_str().unwrap_or_default();
        let verdict = if title.starts_with("Recette") {
            "irrelevant"
        } else {
            "relevant"
        };
        let id = record["mention_id"].to_string();
        let judged = veille(&config, &["judge", &id, verdict]);
        assert!(judged.status.success(), "{}", stderr(&judged));
    }

    // Suggestions name the fruit's words with counts, and change nothing.
    let before = std::fs::read(&config).expect("read config");
    let suggested = veille(&config, &["suggest", "--watch", "nordvent"]);
    assert!(suggested.status.success(), "{}", stderr(&suggested));
    let hints = stdout(&suggested);
    assert!(
        hints.contains("24 judged mention(s), 12 relevant or crisis, 12 irrelevant"),
        "{hints}"
    );
    assert!(hints.contains("classifier is on"), "{hints}");
    let line = hints
        .lines()
        .find(|l| l.trim_start().starts_with("recette") || l.trim_start().starts_with("tarte"))
        .unwrap_or_else(|| panic!("a fruit word among the terms:\n{hints}"));
    assert!(line.contains("12 irrelevant, 0 relevant"), "{line}");
    assert!(
        !hints.contains("  orange "),
        "never the watch's own term: {hints}"
    );
    assert_eq!(
        std::fs::read(&config).expect("read config"),
        before,
        "the TOML is untouched"
    );
    let unknown = veille(&config, &["suggest", "--watch", "nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));

    // Two new items, one of each kind.
    items.push((
        "fruit-new".to_string(),
        "Recette : cake à l'orange".to_string(),
        "Pressez une orange, ajoutez le sucre et le zeste pour un cake moelleux.".to_string(),
        Verdict::Irrelevant,
    ));
    items.push((
        "op-new".to_string(),
        "Orange déploie la fibre à Toulon".to_string(),
        "L'opérateur Orange raccorde 9000 foyers au réseau fibre à Toulon.".to_string(),
        Verdict::Relevant,
    ));
    http.route(
        "/presse.xml",
        Response::ok("application/rss+xml", feed_of(&items)),
    );
    let run = veille(&config, &["run", "--once"]);
    assert!(run.status.success(), "{}", stderr(&run));

    let export = veille(&config, &["export", "--since", "1d", "--format", "json"]);
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&export.stdout).expect("json export");
    let of = |title: &str| {
        records
            .iter()
            .find(|r| r["title"] == title)
            .unwrap_or_else(|| panic!("{title} in {records:?}"))
            .clone()
    };
    let cake = of("Recette : cake à l'orange");
    let fibre = of("Orange déploie la fibre à Toulon");
    let old_recipe = of("Recette : tarte à l'orange de Lyon");
    let reasons = |r: &serde_json::Value| r["reasons"].to_string();
    assert!(
        reasons(&cake).contains("looks like items you marked irrelevant"),
        "{cake}"
    );
    assert!(
        reasons(&fibre).contains("looks like items you marked relevant"),
        "{fibre}"
    );
    let score = |r: &serde_json::Value| r["score"].as_f64().unwrap_or(f64::NAN);
    // The recipes scored alike before learning (a title hit, fresh, one outlet); the new one
    // now scores far lower, and below the operator's news.
    assert!(
        score(&cake) < score(&old_recipe) * 0.6,
        "learned {} vs unlearned {}",
        score(&cake),
        score(&old_recipe)
    );
    assert!(score(&fibre) > score(&cake) * 2.0, "{fibre} vs {cake}");
    assert!(
        !reasons(&old_recipe).contains("looks like"),
        "scores found before the model stay as they were: {old_recipe}"
    );
}
