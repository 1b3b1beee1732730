//! Parser processes (`veille::isolation`): a document is parsed by the real `veille` binary
//! started as a worker; a worker that dies or hangs on a document fails that document only,
//! and the next one gets a new worker.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use veille::isolation::{Document, Extractor, extract_here};
use veille::model::SourceId;
use veille::model::SourceKind;

use crate::common::{RssItem, rss};

const VEILLE: &str = env!("CARGO_BIN_EXE_veille");

fn feed(titles: &[&str]) -> Vec<u8> {
    let items: Vec<RssItem> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            RssItem::new(format!("g{i}"), *t)
                .description(format!("&lt;p&gt;{t} &amp;amp; co&lt;/p&gt;"))
        })
        .collect();
    rss(&items).into_bytes()
}

fn document(body: Vec<u8>) -> Document {
    Document {
        kind: SourceKind::Feed,
        content_type: Some("application/rss+xml; charset=utf-8".to_string()),
        base: "https://news.example/feed.xml".to_string(),
        select: None,
        body,
    }
}

/// A stand-in worker: a shell script run instead of the binary.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("set permissions");
    path
}

#[tokio::test]
async fn a_worker_reads_documents_as_this_process_would() {
    let source = SourceId::new("news");
    let pool = Extractor::workers_of(PathBuf::from(VEILLE), 2, Duration::from_secs(20));
    for titles in [
        &["Nordvent ouvre un parc", "Grève chez Acme"][..],
        &["Un autre"],
    ] {
        let body = feed(titles);
        let here = extract_here(&source, &document(body.clone()));
        let there = pool.extract(&source, document(body)).await;
        assert_eq!(there, here);
        assert_eq!(there.map(|items| items.len()), Ok(titles.len()));
    }
    let garbage = pool
        .extract(&source, document(b"<html>no feed</html>".to_vec()))
        .await;
    assert!(
        garbage.as_ref().is_err_and(|e| e.contains("not a feed")),
        "{garbage:?}"
    );
}

#[tokio::test]
async fn a_worker_that_dies_fails_one_document_and_is_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("crashed-once");
    // Dies by SIGABRT (as a stack overflow or an allocation failure would) the first time,
    // then is the real worker.
    let program = script(
        dir.path(),
        "worker",
        &format!(
            "if [ ! -e '{marker}' ]; then touch '{marker}'; head -c 4 >/dev/null; sleep 0.2; kill -ABRT $$; fi\nexec '{VEILLE}' \"$@\"",
            marker = marker.display()
        ),
    );
    let pool = Extractor::workers_of(program, 1, Duration::from_secs(20));
    let source = SourceId::new("s");
    let first = pool.extract(&source, document(feed(&["a"]))).await;
    match first {
        Err(e) => assert!(
            e.contains("crashed the parser") && e.contains("SIGABRT"),
            "{e}"
        ),
        Ok(items) => panic!("a crashed worker gave {items:?}"),
    }
    let second = pool.extract(&source, document(feed(&["b", "c"]))).await;
    assert_eq!(second.map(|items| items.len()), Ok(2));
}

#[tokio::test]
async fn a_worker_that_hangs_is_stopped_at_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = script(dir.path(), "worker", "exec sleep 30");
    let pool = Extractor::workers_of(program, 1, Duration::from_millis(300));
    let started = std::time::Instant::now();
    let result = pool
        .extract(&SourceId::new("s"), document(feed(&["a"])))
        .await;
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.contains("took longer than")),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline held"
    );
}

#[tokio::test]
async fn a_worker_that_cannot_start_fails_the_document_with_the_reason() {
    let pool = Extractor::workers_of(
        PathBuf::from("/nonexistent/veille"),
        1,
        Duration::from_secs(5),
    );
    let result = pool
        .extract(&SourceId::new("s"), document(feed(&["a"])))
        .await;
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.contains("cannot start a parser process")),
        "{result:?}"
    );
}
