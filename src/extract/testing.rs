//! Inputs for the tests of `extract`: the shared corpus, hostile documents, and a thread
//! with the stack extraction gets in the daemon.

use std::path::{Path, PathBuf};

pub(crate) use super::testkit::{billion_laughs_doctype, nested};

/// The shared test corpus (`../shared/corpus`), read in place.
pub(crate) fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// Every file under `dir`, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The corpus feeds: files feed-rs may read (not licences, notes or expected outputs).
pub(crate) fn corpus_feeds() -> Vec<PathBuf> {
    files_under(&corpus().join("feeds"))
        .into_iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            ["xml", "rss", "atom", "rdf", "json"]
                .iter()
                .any(|ext| p.extension().is_some_and(|e| e == *ext))
                && !name.ends_with("_expected.json")
                && !name.ends_with(".serde.json")
        })
        .collect()
}

/// The corpus pages (`source.html` of the readability cases).
pub(crate) fn corpus_pages() -> Vec<PathBuf> {
    files_under(&corpus().join("pages"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "source.html"))
        .collect()
}

/// The HTML the corpus gives `html_to_text`: every text construct of every entry feed-rs
/// reads in the corpus feeds, and the readability pages whole; with where each came from.
pub(crate) fn corpus_html() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in corpus_pages() {
        if let Ok(bytes) = std::fs::read(&path) {
            let html = String::from_utf8_lossy(&bytes).into_owned();
            out.push((path.display().to_string(), html));
        }
    }
    for path in corpus_feeds() {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let utf8 = super::charset::feed_to_utf8(&bytes, None);
        let Ok(feed) = feed_rs::parser::parse(&utf8[..]) else {
            continue;
        };
        for entry in feed.entries {
            let texts = [
                entry.title.map(|t| t.content),
                entry.summary.map(|t| t.content),
                entry.content.and_then(|c| c.body),
            ];
            let name = path.display().to_string();
            out.extend(texts.into_iter().flatten().map(|t| (name.clone(), t)));
        }
    }
    out
}

/// Runs `f` on a thread with a 2 MiB stack, like tokio's blocking threads, and returns
/// its result (a panic in `f` fails the test with its message).
pub(crate) fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start a thread: {e}"))
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
