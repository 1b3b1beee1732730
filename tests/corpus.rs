//! Every feed in the shared corpus goes through extraction: it parses, or it is rejected
//! with a clear error — never a panic. Run with `--nocapture` to see the report.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use veille::extract;
use veille::model::SourceId;

/// Fewer parsed files than this is a regression (measured: see the issue note).
const MIN_PARSED: usize = 2_761;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Files that are feeds (not expected-output files, licences, HTML pages or OPML lists).
fn is_feed_candidate(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match ext {
        "xml" | "rss" | "atom" | "rdf" => true,
        "json" => {
            if name.ends_with(".serde.json") || name.ends_with("_expected.json") {
                return false;
            }
            // gofeed keeps the expected parse of `x.xml` in `x.json`.
            if path.with_extension("xml").exists() {
                return false;
            }
            std::fs::read_to_string(path).is_ok_and(|text| text.contains("jsonfeed.org"))
        }
        _ => false,
    }
}

#[test]
fn every_corpus_feed_parses_or_fails_clearly() {
    let root = common::corpus_dir().join("feeds");
    assert!(
        root.is_dir(),
        "the shared corpus is missing at {}",
        root.display()
    );
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.retain(|p| is_feed_candidate(p));
    files.sort();
    let source = SourceId::new("corpus");
    let mut parsed = 0;
    let mut items = 0;
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &files {
        let bytes = std::fs::read(path).expect("read corpus file");
        match extract::feed(&source, &bytes, Some("https://corpus.example/feed")) {
            Ok(found) => {
                parsed += 1;
                items += found.len();
                for item in &found {
                    assert!(
                        !item.identity.is_empty(),
                        "{}: an item without identity",
                        path.display()
                    );
                    assert!(
                        !item.title.contains("<script"),
                        "{}: markup left in a title",
                        path.display()
                    );
                }
            }
            Err(error) => {
                if matches!(error, extract::ExtractError::ParserPanic(_)) {
                    eprintln!("parser panic caught: {}", path.display());
                }
                let message = error.to_string();
                assert!(
                    message.len() > 10,
                    "{}: unclear error {message:?}",
                    path.display()
                );
                let folder = path
                    .strip_prefix(&root)
                    .ok()
                    .and_then(|p| p.parent())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                rejected.entry(folder).or_default().push(format!(
                    "{}: {message}",
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default()
                ));
            }
        }
    }
    let rejected_count: usize = rejected.values().map(Vec::len).sum();
    eprintln!(
        "corpus: {} feed files, {parsed} parsed ({items} items), {rejected_count} rejected",
        files.len()
    );
    for (folder, reasons) in &rejected {
        eprintln!("  {folder}: {} rejected", reasons.len());
        for reason in reasons {
            eprintln!("    {reason}");
        }
    }
    assert!(
        parsed >= MIN_PARSED,
        "only {parsed} of {} corpus feeds parsed",
        files.len()
    );
}

/// feed-rs ships the model it expects for each fixture: our item count must agree.
#[test]
fn feed_rs_fixtures_give_the_expected_number_of_items() {
    let root = common::corpus_dir().join("feeds/feed-rs");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut checked = 0;
    for expected_path in files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".serde.json"))
    {
        let stem = expected_path
            .to_string_lossy()
            .trim_end_matches(".serde.json")
            .to_string();
        let Some(input) = [".xml", ".json"]
            .iter()
            .map(|ext| PathBuf::from(format!("{stem}{ext}")))
            .find(|p| p.exists())
        else {
            continue;
        };
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(expected_path).expect("read expectation"),
        )
        .expect("expectation is JSON");
        let want = expected["entries"].as_array().map_or(0, Vec::len);
        let bytes = std::fs::read(&input).expect("read fixture");
        let got = extract::feed(&SourceId::new("f"), &bytes, None)
            .unwrap_or_else(|e| panic!("{}: {e}", input.display()))
            .len();
        assert_eq!(got, want, "{}", input.display());
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} feed-rs fixtures checked");
}
