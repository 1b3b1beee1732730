//! Page sources: whole-page mode against saved real pages (mozilla/readability's test
//! pages), and selector mode against a Latin-1 page written for this test, served over
//! HTTP through the whole pipeline.

use std::sync::Arc;

use veille::clock::SystemClock;
use veille::extract::page;
use veille::model::SourceId;
use veille::pipeline::SourceOutcome;
use veille::scheduler;

use crate::common::{self, HttpServer, Response, app, daemon_table};

/// (case, a sentence of its article, a string only its scripts contain)
const READABILITY: &[(&str, &str, &str)] = &[
    (
        "bbc-1",
        "Mr Obama said race relations had improved during his presidency",
        "window.bbcdotcom",
    ),
    (
        "lemonde-1",
        "Les députés ont, sans surprise, adopté à une large majorité",
        "function(",
    ),
];

#[test]
fn whole_page_mode_gives_the_readable_text_of_real_pages() {
    let root = common::corpus_dir().join("pages/readability");
    for (case, sentence, script_only) in READABILITY {
        let bytes = std::fs::read(root.join(case).join("source.html")).expect("read page");
        let items = page::page(
            &SourceId::new(*case),
            &bytes,
            None,
            "https://news.example/article",
            None,
        )
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(items.len(), 1, "{case}");
        let item = &items[0];
        assert!(item.text.contains(sentence), "{case}: sentence missing");
        assert!(
            !item.text.contains(script_only),
            "{case}: script text leaked"
        );
        assert!(!item.text.contains('<'), "{case}: markup left");
        assert!(!item.title.is_empty(), "{case}: no title");
        assert!(item.identity.starts_with("page:"), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn selector_page_source_through_the_pipeline() {
    let html = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pages/communiques.html"),
    )
    .expect("fixture");
    let http = HttpServer::start();
    http.route("/presse", Response::ok("text/html", html));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::write_config(
        dir.path(),
        &format!(
            r#"{daemon}
[[source]]
id = "nordvent"
url = "{url}"
kind = "page"
[source.select]
item = "li.release"
title = "h2"
link = "h2 a@href"
summary = "p.chapo"
date = "time@datetime"

[[watch]]
id = "w"
query = "Nordvent éoliennes"
"#,
            daemon = daemon_table("veille.db", ""),
            url = http.url("/presse"),
        ),
    );
    let app = app(&path, Arc::new(SystemClock));
    let summary = scheduler::run_once(&app).await.expect("run");
    match &summary.sources[0].outcome {
        SourceOutcome::Updated(stats) => assert_eq!(stats.items_new, 3),
        other => panic!("{other:?}"),
    }
    let conn = rusqlite::Connection::open(dir.path().join("veille.db")).expect("open");
    let mut stmt = conn
        .prepare("SELECT title, url, text, published_at FROM items ORDER BY id")
        .expect("prepare");
    let rows: Vec<(String, Option<String>, String, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows[0].0, "Nordvent inaugure le parc de Fécamp");
    assert_eq!(
        rows[0].1.as_deref(),
        Some("https://www.nordvent.example/presse/2026/parc-fecamp.html"),
        "relative to <base href>"
    );
    assert_eq!(
        rows[0].2,
        "Soixante-deux éoliennes au large de la Normandie."
    );
    assert_eq!(rows[0].3, Some(1_795_674_600));
    assert_eq!(
        rows[1].1.as_deref(),
        Some("https://www.nordvent.example/investisseurs/resultats-t3.html")
    );
    assert_eq!(rows[1].0, "Résultats du troisième trimestre");
    assert_eq!(rows[2].1.as_deref(), Some("https://autre.example/article"));
    assert_eq!(rows[2].3, None);
}
