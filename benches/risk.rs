//! Cost of the risk vocabulary: compiling the built-in lists, and `near` on items that
//! matched a watch (the only items it runs on), plus `score` itself.
//!
//! Run with `cargo bench --bench risk`. The text is the French and English articles of
//! `../shared/corpus/pages/readability`, turned into plain text and cut into feed-like items
//! (a title of 12 words, a body of about 250). The watch is `the OR le OR la OR de`, so every
//! item matched and has hits all over its text: more hits than a real watch, which makes
//! `near` check more positions. Each figure is the best of 10 rounds of 0.25 s.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use veille::extract::html_to_text;
use veille::matching::{ItemText, Matcher, Query};
use veille::model::{TermHit, WatchId};
use veille::score::risk::RiskVocabulary;
use veille::score::{Signals, score};

const ARTICLES: &[&str] = &[
    "lemonde-1",
    "rtl-1",
    "rtl-2",
    "guardian-1",
    "bbc-1",
    "nytimes-1",
    "wapo-1",
    "telegraph",
    "cnn",
];

struct Item {
    title: String,
    body: String,
}

fn corpus() -> Vec<Item> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pages/readability");
    let mut items = Vec::new();
    for name in ARTICLES {
        let Ok(html) = std::fs::read_to_string(dir.join(name).join("expected.html")) else {
            continue;
        };
        let text = html_to_text(&html);
        let words: Vec<&str> = text.split_whitespace().collect();
        for chunk in words.chunks(260) {
            let cut = chunk.len().min(12);
            items.push(Item {
                title: chunk[..cut].join(" "),
                body: chunk[cut..].join(" "),
            });
        }
    }
    items
}

/// Best time per call of `f`, over rounds of 0.25 s.
fn best_per_call(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut units = 0;
    for _ in 0..10 {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < Duration::from_millis(250) {
            units = black_box(f());
            calls += 1;
        }
        best = best.min(start.elapsed() / calls);
    }
    (best, units)
}

fn main() {
    let items = corpus();
    if items.is_empty() {
        eprintln!("corpus not found: nothing to measure");
        return;
    }
    let bytes: usize = items.iter().map(|i| i.title.len() + i.body.len()).sum();

    let (compile, terms) = best_per_call(|| RiskVocabulary::builtin().len());
    println!("compile built-in vocabulary ({terms} terms): {compile:.2?}");

    let vocabulary = RiskVocabulary::builtin();
    let watch = Query::parse("the OR le OR la OR de").unwrap_or_else(|e| panic!("{e}"));
    let matcher = Matcher::new(vec![(WatchId::new("w"), watch)]);
    let hits: Vec<Vec<TermHit>> = items
        .iter()
        .map(|i| {
            matcher
                .match_text(ItemText {
                    title: &i.title,
                    body: &i.body,
                })
                .into_iter()
                .flat_map(|m| m.hits)
                .collect()
        })
        .collect();
    let total_hits: usize = hits.iter().map(Vec::len).sum();
    let (pass, found) = best_per_call(|| {
        items
            .iter()
            .zip(&hits)
            .map(|(i, h)| {
                vocabulary
                    .near(
                        ItemText {
                            title: &i.title,
                            body: &i.body,
                        },
                        h,
                    )
                    .len()
            })
            .sum()
    });
    let per_item = pass / items.len() as u32;
    let mb_s = bytes as f64 / pass.as_secs_f64() / 1e6;
    println!(
        "near: {} items ({} kB, {total_hits} watch hits, {found} risk terms found): \
         {per_item:.2?} per item, {mb_s:.0} MB/s",
        items.len(),
        bytes / 1000
    );

    let signals = Signals {
        title_hit: true,
        distinct_terms: 2,
        source_weight: 2.0,
        outlets: 7,
        recent_outlets: 6,
        age_minutes: Some(30),
        risk: vec!["boycott*".into(), "grève*".into()],
        learned: None,
    };
    let (one, _) = best_per_call(|| {
        (0..1000)
            .map(|_| score(black_box(&signals)).reasons.len())
            .sum()
    });
    println!("score: {:.0?} per call", one / 1000);
}
