//! The meta operators end to end: two sources on 127.0.0.1, one tagged `presse`, polled by
//! the `veille` binary; the export shows each watch selecting exactly the items it should,
//! and `veille match --replay` selects the same ones from the store.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{
    HttpServer, Response, daemon_table, source_table, succeeds, veille, write_config,
};

/// A daily paper: tagged `presse`, its feed declares French.
const QUOTIDIEN: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Le Quotidien</title><link>https://www.lequotidien.example/</link>
<language>fr-FR</language>
<item><guid>q1</guid><title>Orange augmente ses tarifs</title>
<link>https://www.lequotidien.example/eco/orange-tarifs</link>
<dc:creator>Hélène Dupont</dc:creator>
<description>L’opérateur Orange relève le prix de ses forfaits dès le mois prochain.</description></item>
<item><guid>q2</guid><title>Grève chez Orange</title>
<link>https://social.lequotidien.example/greve-orange</link>
<dc:creator>Marc Petit</dc:creator>
<description>Les salariés d’Orange sont en grève depuis lundi.</description></item>
<item><guid>q3</guid><title>La grève des contrôleurs se poursuit</title>
<link>https://www.lequotidien.example/transports/greve</link>
<dc:creator>Marc Petit</dc:creator>
<description>Les trains restent à quai, sans lien avec les opérateurs télécoms.</description></item>
</channel></rss>"#;

/// The brand's own newsroom: no tag, no declared language.
const NEWSROOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Orange Newsroom</title><link>https://newsroom.orange.example/</link>
<item><guid>n1</guid><title>Orange annonce un rappel de box</title>
<link>https://newsroom.orange.example/rappel-box</link>
<dc:creator>@orange@mastodon.example</dc:creator>
<description>Orange procède au rappel d’un lot de box internet dont l’alimentation peut chauffer. Les clients concernés recevront un nouvel appareil sans frais, et le service client répondra à toutes leurs questions dans les boutiques de la marque.</description></item>
<item><guid>n2</guid><title>Orange announces a recall of some routers</title>
<link>https://newsroom.orange.example/en/router-recall</link>
<dc:creator>@orange@mastodon.example</dc:creator>
<description>Orange is recalling a batch of home routers whose power supply may overheat. Customers who own one of the affected devices will receive a replacement free of charge, and the support team will answer their questions in every shop.</description></item>
</channel></rss>"#;

/// Watch id, query, and the item guids it must select, no more, no less.
const WATCHES: &[(&str, &str, &[&str])] = &[
    (
        "hors-marque",
        "Orange AND -site:orange.example",
        &["q1", "q2"],
    ),
    ("greve-presse", "title:grève AND tag:presse", &["q2", "q3"]),
    ("greve-orange-presse", "grève Orange tag:presse", &["q2"]),
    (
        "rappel-marque",
        "(author:@orange@mastodon.example OR site:marque.example) AND NEAR/5(orange, rappel)",
        &["n1"],
    ),
    ("auteur", "author:\"Hélène Dupont\"", &["q1"]),
    ("journal", "site:lequotidien.example -grève", &["q1"]),
    ("anglais", "lang:en", &["n2"]),
    ("francais-marque", "lang:fr source:newsroom", &["n1"]),
];

#[test]
fn each_watch_selects_exactly_its_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route(
        "/quotidien.rss",
        Response::ok("application/rss+xml", QUOTIDIEN),
    );
    http.route(
        "/newsroom.rss",
        Response::ok("application/rss+xml", NEWSROOM),
    );
    let mut text = daemon_table("veille.db", "");
    text.push_str(&source_table(
        "quotidien",
        &http.url("/quotidien.rss"),
        "tags = [\"presse\"]",
    ));
    text.push_str(&source_table("newsroom", &http.url("/newsroom.rss"), ""));
    for (id, query, _) in WATCHES {
        text.push_str(&format!("\n[[watch]]\nid = \"{id}\"\nquery = '{query}'\n"));
    }
    let config = write_config(dir.path(), &text);

    succeeds(veille().args(["check", "--config"]).arg(&config));
    succeeds(veille().args(["run", "--once", "--config"]).arg(&config));
    let export = succeeds(
        veille()
            .args(["export", "--since", "3650d", "--format", "json", "--config"])
            .arg(&config),
    );
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&export.stdout).expect("the export is a JSON array");
    let guid = |url: &str| -> String {
        let all = [QUOTIDIEN, NEWSROOM].concat();
        let at = all
            .find(&format!("<link>{url}</link>"))
            .unwrap_or_else(|| panic!("{url} is in no feed"));
        let start = all[..at].rfind("<guid>").expect("a guid before the link") + 6;
        let end = all[start..].find('<').expect("the guid ends") + start;
        all[start..end].to_string()
    };
    let mut selected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut langs: BTreeMap<String, String> = BTreeMap::new();
    for record in &records {
        let url = record["url"].as_str().expect("an exported url");
        selected
            .entry(record["watch_id"].as_str().expect("a watch id").to_string())
            .or_default()
            .insert(guid(url));
        langs.insert(guid(url), record["lang"].as_str().unwrap_or("").to_string());
    }
    for (id, query, expected) in WATCHES {
        let expected: BTreeSet<String> = expected.iter().map(|g| g.to_string()).collect();
        assert_eq!(
            selected.get(*id).cloned().unwrap_or_default(),
            expected,
            "watch {id} ({query})"
        );
    }
    // The language: declared by the paper's feed, detected in the newsroom's items.
    for (guid, lang) in [("q1", "fr"), ("q2", "fr"), ("n1", "fr"), ("n2", "en")] {
        assert_eq!(langs.get(guid).map(String::as_str), Some(lang), "{guid}");
    }
    // The terms of a mention say which operators held.
    let journal = records
        .iter()
        .find(|r| r["watch_id"] == "journal")
        .expect("a mention of journal");
    assert!(
        journal.to_string().contains("site:lequotidien.example"),
        "{journal}"
    );

    // `match --replay` selects the same items from the store.
    for (id, _, expected) in WATCHES {
        let replay = veille()
            .args([
                "match", "--replay", "3650d", "--json", "--watch", id, "--config",
            ])
            .arg(&config)
            .output()
            .expect("match --replay");
        let report: serde_json::Value =
            serde_json::from_slice(&replay.stdout).expect("a JSON report");
        assert_eq!(
            report["matched"].as_u64(),
            Some(expected.len() as u64),
            "replay of {id}: {report}"
        );
    }
}

#[test]
fn match_tries_the_operators_on_one_text() {
    let cases: &[(&[&str], bool)] = &[
        (
            &[
                "-q",
                "Orange -site:orange.com",
                "--title",
                "Orange",
                "--link",
                "https://newsroom.orange.com/a",
            ],
            false,
        ),
        (
            &[
                "-q",
                "Orange -site:orange.com",
                "--title",
                "Orange",
                "--link",
                "https://www.lemonde.fr/a",
            ],
            true,
        ),
        (
            &[
                "-q",
                "site:lemonde.fr",
                "--link",
                "http://LEMONDE.fr:8080/x",
            ],
            true,
        ),
        (
            &[
                "-q",
                "tag:presse orange",
                "--title",
                "Orange",
                "--tag",
                "presse",
            ],
            true,
        ),
        (&["-q", "tag:presse orange", "--title", "Orange"], false),
        (&["-q", "source:afp", "--source", "afp"], true),
        (&["-q", "author:dupont", "--author", "Hélène Dupont"], true),
        (&["-q", "lang:fr", "--lang", "fr-FR"], true),
        (&["-q", "lang:fr", "--lang", "en"], false),
    ];
    for (args, matched) in cases {
        let out = veille().arg("match").args(*args).output().expect("match");
        assert_eq!(
            out.status.code(),
            Some(if *matched { 0 } else { 1 }),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = veille()
        .args([
            "match",
            "-q",
            "Orange AND -sit:orange.com",
            "--title",
            "Orange",
        ])
        .output()
        .expect("match");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown operator sit: did you mean site:?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  Orange AND -sit:orange.com\n              ^"),
        "{stderr}"
    );
}

#[test]
fn check_points_at_a_misspelt_operator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = daemon_table("veille.db", "");
    text.push_str(&source_table(
        "quotidien",
        "https://quotidien.example/feed.xml",
        "tags = [\"presse\"]",
    ));
    text.push_str("\n[[watch]]\nid = \"w\"\nquery = \"Orange AND -sit:orange.com\"\n");
    text.push_str("\n[[watch]]\nid = \"x\"\nquery = \"grève tag:prese\"\n");
    let config = write_config(dir.path(), &text);
    let out = veille()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("check");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown operator sit: did you mean site:?")
            && stderr
                .contains("\n  query = \"Orange AND -sit:orange.com\"\n                       ^\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no source has the tag \"prese\" (tags: presse)")
            && stderr.contains("\n  query = \"grève tag:prese\"\n                 ^\n"),
        "{stderr}"
    );
}
