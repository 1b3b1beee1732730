//! Story assignment cost as the store grows: 1,000 new items against 10,000, 50,000,
//! 100,000 and 200,000 stored items, all inside the story window (the worst case), in a real
//! SQLite file. The work per item is bounded (sampled hashes × `POSTINGS_CAP` index rows),
//! so the time should stay flat but for SQLite's B-tree depth and page-cache misses.
//!
//! Run with `cargo bench --bench stories`. A third of the new items are edited copies of
//! stored ones (another intro, a footer) and must join their story; the rest are new.

use std::collections::HashMap;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use veille::model::MentionRecord;
use veille::model::{Item, SourceId, StoryId, WatchId, WatchMatch};
use veille::store::StoreError;
use veille::store::{Matched, Parsed, RunRecord, Store};

const SOURCES: usize = 40;
const BATCH: usize = 500;
const NEW_ITEMS: usize = 1_000;
const SIZES: [usize; 4] = [10_000, 50_000, 100_000, 200_000];

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards small values, like word frequencies.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

fn vocabulary() -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "an",
        "er", "is", "on", "ur", "tra", "pre", "con", "dis", "mon", "ver",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..20_000)
        .map(|_| {
            let len = 1 + rng.below(3);
            (0..len)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect()
}

/// The text of synthetic story `seed`: 8 sentences of 10 to 17 words.
fn story_text(seed: u64, vocabulary: &[String]) -> (String, String) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let sentence = |rng: &mut Rng| {
        let words = 10 + rng.below(8);
        let mut text: Vec<&str> = (0..words)
            .map(|_| vocabulary[rng.skewed(vocabulary.len())].as_str())
            .collect();
        text.push(".");
        text.join(" ")
    };
    let title = sentence(&mut rng);
    let body: Vec<String> = (0..8).map(|_| sentence(&mut rng)).collect();
    (title, body.join(" "))
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        + Duration::minutes(minutes)
}

fn record(store: &Store, source: usize, now: DateTime<Utc>, items: &[(Item, Vec<WatchMatch>)]) {
    let id = SourceId::new(format!("s{source}"));
    let url = format!("https://outlet{source}.example/feed.xml");
    if let Err(e) = store.record_run(&RunRecord {
        source: id,
        url,
        now,
        next_poll_at: now,
        validators: Some(Default::default()),
        body_hash: None,
        redirected_to: None,
        recovered_from: None,
        parsed: Some(Parsed {
            items: items
                .iter()
                .cloned()
                .map(|(item, matches)| Matched::unscored(item, matches))
                .collect(),
            backfill: veille::store::Backfill::No,
            scoring: None,
        }),
    }) {
        panic!("{e}");
    }
}

fn item(source: usize, key: &str, title: String, text: String) -> (Item, Vec<WatchMatch>) {
    let item = Item {
        source: SourceId::new(format!("s{source}")),
        identity: format!("guid:{key}"),
        url: Some(format!("https://outlet{source}.example/{key}")),
        title,
        text,
        published: None,
        author: None,
        lang: None,
    };
    // Every item is a mention, as in a deployment where watches are broad.
    let watch = WatchMatch {
        watch: WatchId::new("w"),
        held: Vec::new(),
        hits: Vec::new(),
    };
    (item, vec![watch])
}

/// Stores stored items `from..to` (story seeds = their index), in batches, untimed.
fn grow(store: &Store, vocabulary: &[String], from: usize, to: usize) {
    let mut index = from;
    while index < to {
        let end = (index + BATCH).min(to);
        let source = index / BATCH % SOURCES;
        let items: Vec<_> = (index..end)
            .map(|n| {
                let (title, text) = story_text(n as u64, vocabulary);
                item(source, &format!("stored-{n}"), title, text)
            })
            .collect();
        // Spread over the last 48 hours: everything stays inside the 72-hour window.
        record(store, source, at((index * 2880 / to) as i64), &items);
        index = end;
    }
}

/// Assigns stories to NEW_ITEMS new items (one run per 50 items); returns the time taken and
/// how many of the copies joined their original's story.
fn assign_new(
    store: &Store,
    vocabulary: &[String],
    stored: usize,
    round: usize,
) -> (StdDuration, usize, usize) {
    let mut rng = Rng(0xDEAD_BEEF ^ ((round as u64) << 32) ^ stored as u64);
    let mut copies = Vec::new();
    let mut runs = Vec::new();
    for chunk in 0..NEW_ITEMS / 50 {
        let source = SOURCES + chunk % 10;
        let items: Vec<_> = (0..50)
            .map(|k| {
                let n = chunk * 50 + k;
                let key = format!("new-{round}-{n}");
                if n % 3 == 0 {
                    let original = rng.below(stored);
                    let (title, text) = story_text(original as u64, vocabulary);
                    copies.push((
                        format!("https://outlet{source}.example/{key}"),
                        format!(
                            "https://outlet{}.example/stored-{original}",
                            original / BATCH % SOURCES
                        ),
                    ));
                    let text = format!(
                        "Exclusive report from our desk today. {text} Read more on our site."
                    );
                    item(source, &key, format!("Updated: {title}"), text)
                } else {
                    let (title, text) =
                        story_text((10_000_000 + round * NEW_ITEMS + n) as u64, vocabulary);
                    item(source, &key, title, text)
                }
            })
            .collect();
        runs.push((source, items));
    }
    let started = Instant::now();
    for (source, items) in &runs {
        record(store, *source, at(2900), items);
    }
    let elapsed = started.elapsed();

    let mut story_by_url: HashMap<String, StoryId> = HashMap::new();
    let read = store.for_each_mention(
        at(-10_000),
        None,
        |m: MentionRecord| -> Result<(), StoreError> {
            story_by_url.insert(m.url.unwrap_or_default(), m.story);
            Ok(())
        },
    );
    if let Err(e) = read {
        panic!("{e}");
    }
    let joined = copies
        .iter()
        .filter(|(copy, original)| {
            story_by_url.contains_key(copy) && story_by_url.get(copy) == story_by_url.get(original)
        })
        .count();
    (elapsed, joined, copies.len())
}

fn main() {
    let vocabulary = vocabulary();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    };
    let store = match Store::open(&dir.path().join("bench.db")) {
        Ok(store) => store,
        Err(e) => panic!("{e}"),
    };
    println!("story assignment: {NEW_ITEMS} new items (1/3 edited copies) against N stored items");
    let mut stored = 0;
    for (round, size) in SIZES.into_iter().enumerate() {
        let started = Instant::now();
        grow(&store, &vocabulary, stored, size);
        let setup = started.elapsed();
        stored = size;
        // Three batches each, reported with their median: the machine is shared.
        let mut times = Vec::new();
        let (mut joined, mut copies) = (0, 0);
        for batch in 0..3 {
            let (elapsed, j, c) = assign_new(&store, &vocabulary, stored, round * 3 + batch);
            times.push(elapsed);
            joined += j;
            copies += c;
        }
        let all: Vec<String> = times
            .iter()
            .map(|t| format!("{:.0}", t.as_secs_f64() * 1e3))
            .collect();
        times.sort();
        let median = times[1];
        println!(
            "N = {size:>7}: median {:>6.0} ms per {NEW_ITEMS} new items ({:>5.0} µs/item; batches {} ms); copies joined {joined}/{copies}; setup {:.1} s",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / NEW_ITEMS as f64,
            all.join(", "),
            setup.as_secs_f64()
        );
    }
}
