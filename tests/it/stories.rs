//! Story clustering against a written near-duplicate set, across a restart, and through the
//! real pipeline (feeds over HTTP on 127.0.0.1, SQLite in a temp folder).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use veille::clock::SystemClock;
use veille::model::{Field, Item, SourceId, StoryId, TermHit, WatchId, WatchMatch};
use veille::pipeline::SourceOutcome;
use veille::scheduler;
use veille::store::{Matched, Parsed, RunRecord, Store, StoreError};

use crate::common::{self, HttpServer, Response, app, daemon_table};

/// One item of `tests/fixtures/stories/set.txt`.
#[derive(Debug, Clone)]
struct Case {
    story: String,
    source: String,
    hours: i64,
    url: String,
    title: String,
    text: String,
}

fn fixture_set() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stories/set.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = Vec::new();
    for block in text.split("=== ").filter(|b| !b.trim().is_empty()) {
        let (header, body) = block.split_once('\n').unwrap_or((block, ""));
        let fields: HashMap<&str, &str> = header
            .split(" | ")
            .filter_map(|f| f.split_once(": "))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let field = |name: &str| {
            fields
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_else(|| panic!("{name} missing in {header}"))
        };
        let (title, text) = body.split_once('\n').unwrap_or((body, ""));
        cases.push(Case {
            story: field("story"),
            source: field("source"),
            hours: field("hours")
                .parse()
                .unwrap_or_else(|e| panic!("{header}: {e}")),
            url: field("url"),
            title: title.trim().to_string(),
            text: text.trim().to_string(),
        });
    }
    cases.sort_by_key(|c| c.hours);
    cases
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn watched() -> Vec<WatchMatch> {
    vec![WatchMatch {
        watch: WatchId::new("all"),
        held: Vec::new(),
        hits: vec![TermHit {
            term: "x".into(),
            field: Field::Title,
            position: 0,
            start: 0,
            end: 1,
        }],
    }]
}

/// Records each case as its own source run, at its time.
fn record(store: &Store, cases: &[Case]) {
    for case in cases {
        let source = SourceId::new(&case.source);
        let item = Item {
            source: source.clone(),
            identity: format!("link:{}", case.url),
            url: Some(case.url.clone()),
            title: case.title.clone(),
            text: case.text.clone(),
            published: None,
            author: None,
            lang: None,
        };
        let now = start() + Duration::hours(case.hours);
        store
            .record_run(&RunRecord {
                source,
                url: format!("https://{}.example/feed.xml", case.source),
                now,
                next_poll_at: now,
                validators: Some(Default::default()),
                body_hash: None,
                redirected_to: None,
                recovered_from: None,
                parsed: Some(Parsed {
                    items: vec![Matched::unscored(item, watched())],
                    backfill: veille::store::Backfill::No,
                    scoring: None,
                }),
            })
            .unwrap_or_else(|e| panic!("{}: {e}", case.url));
    }
}

/// The story given to each stored mention, by item URL.
fn stories_by_url(store: &Store) -> HashMap<String, StoryId> {
    let mut map = HashMap::new();
    store
        .for_each_mention(
            start() - Duration::days(1),
            None,
            |m| -> Result<(), StoreError> {
                map.insert(m.url.unwrap_or_default(), m.story);
                Ok(())
            },
        )
        .expect("store the run");
    map
}

/// Pairwise precision and recall of the assignment against the labels, with the pairs
/// that went wrong.
fn score(cases: &[Case], assigned: &HashMap<String, StoryId>) -> (f64, f64, Vec<String>) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for (i, a) in cases.iter().enumerate() {
        for b in &cases[i + 1..] {
            let truth = a.story == b.story;
            let predicted = assigned.get(&a.url) == assigned.get(&b.url);
            match (truth, predicted) {
                (true, true) => tp += 1,
                (false, true) => {
                    fp += 1;
                    wrong.push(format!(
                        "merged   {} ({}) with {} ({})",
                        a.story, a.source, b.story, b.source
                    ));
                }
                (true, false) => {
                    fn_ += 1;
                    wrong.push(format!(
                        "split    {} ({}) from {} ({})",
                        a.story, a.source, b.story, b.source
                    ));
                }
                (false, false) => {}
            }
        }
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    (precision, recall, wrong)
}

#[test]
fn the_near_duplicate_set_is_clustered_with_high_precision_and_recall() {
    let cases = fixture_set();
    let labels: std::collections::HashSet<&str> = cases.iter().map(|c| c.story.as_str()).collect();
    let stories = labels.iter().filter(|l| !l.starts_with("neg-")).count();
    let negatives = labels.iter().filter(|l| l.starts_with("neg-")).count();
    assert!(
        stories >= 10 && negatives >= 10,
        "{stories} stories, {negatives} negatives"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("veille.db")).expect("open the store");
    record(&store, &cases);
    let assigned = stories_by_url(&store);
    assert_eq!(assigned.len(), cases.len());
    let (precision, recall, wrong) = score(&cases, &assigned);
    println!(
        "story clustering on {} items ({stories} stories, {negatives} hard negatives): precision {precision:.3}, recall {recall:.3}",
        cases.len()
    );
    for line in &wrong {
        println!("  {line}");
    }
    assert!(precision >= 0.98, "precision {precision:.3}: {wrong:#?}");
    assert!(recall >= 0.9, "recall {recall:.3}: {wrong:#?}");
}

#[test]
fn stories_and_counts_survive_a_restart_and_keep_growing() {
    let cases = fixture_set();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("veille.db");
    // Before the restart: everything seen in the first 9 hours (three of the four copies of
    // the tram story).
    let (before, after): (Vec<Case>, Vec<Case>) = cases.iter().cloned().partition(|c| c.hours < 9);
    assert!(!before.is_empty() && !after.is_empty());
    let (first_stories, tram) = {
        let store = Store::open(&path).expect("open the store");
        record(&store, &before);
        let tram = stories_by_url(&store)[&before
            .iter()
            .find(|c| c.story == "tram")
            .map(|c| c.url.clone())
            .unwrap_or_default()];
        let info = store.stories_info(&[tram]).expect("stories info");
        (
            store.story_count().expect("story count"),
            (tram, info[&tram].clone()),
        )
    };
    let store = Store::open(&path).expect("open the store");
    assert_eq!(store.story_count().expect("story count"), first_stories);
    let reopened = store.stories_info(&[tram.0]).expect("stories info");
    assert_eq!(
        reopened[&tram.0], tram.1,
        "a story reads the same after a restart"
    );

    record(&store, &after);
    let assigned = stories_by_url(&store);
    let (precision, recall, wrong) = score(&cases, &assigned);
    assert!(
        precision >= 0.98 && recall >= 0.9,
        "{precision} {recall}: {wrong:#?}"
    );
    let labels: std::collections::HashSet<&str> = cases.iter().map(|c| c.story.as_str()).collect();
    let total = store.story_count().expect("story count");
    assert!(
        total > first_stories,
        "{total} stories after, {first_stories} before"
    );
    assert!(
        total as usize <= labels.len() + 2,
        "{total} stories for {} labels",
        labels.len()
    );
    // The tram story started before the restart and kept growing after it.
    let grown = store.stories_info(&[tram.0]).expect("stories info");
    let tram_cases = cases.iter().filter(|c| c.story == "tram").count();
    assert_eq!(grown[&tram.0].items, tram_cases);
    assert!(
        grown[&tram.0].outlets.len() > tram.1.outlets.len(),
        "{:?}",
        grown[&tram.0]
    );
    assert_eq!(
        grown[&tram.0].title, tram.1.title,
        "the representative stays the earliest item"
    );
}

const FEED_A: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>A</title><link>https://a-news.example/</link><description>d</description>
<item><title>Nordvent inaugure le parc éolien de Fécamp</title><link>https://a-news.example/eolien-fecamp?utm_source=rss</link><guid>a-1</guid>
<description>Le développeur Nordvent a inauguré jeudi le parc éolien en mer de Fécamp, soixante-deux éoliennes installées à plus de treize kilomètres des côtes normandes. Le parc produira l'équivalent de la consommation électrique de 770 000 personnes, selon l'entreprise, qui a investi deux milliards d'euros dans le projet. Les pêcheurs de la région, longtemps opposés au chantier, ont obtenu un fonds d'indemnisation de trente millions d'euros.</description></item>
<item><title>Le marché de Noël ouvre vendredi</title><link>https://a-news.example/noel</link><guid>a-2</guid>
<description>Cent vingt chalets sur la place de la mairie, une patinoire et des concerts tous les soirs jusqu'au 24 décembre : le marché de Noël ouvre vendredi à 17 heures.</description></item>
</channel></rss>"#;

const FEED_B: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>B</title><link>https://b-info.example/</link><description>d</description>
<item><title>Fécamp : les éoliennes de Nordvent tournent</title><link>https://b-info.example/2026/11/27/fecamp</link><guid>b-1</guid>
<description>Une étape pour la filière. Le développeur Nordvent a inauguré jeudi le parc éolien en mer de Fécamp, soixante-deux éoliennes installées à plus de treize kilomètres des côtes normandes. Le parc produira l'équivalent de la consommation électrique de 770 000 personnes, selon l'entreprise, qui a investi deux milliards d'euros dans le projet. Lire aussi : la carte des parcs en mer.</description></item>
</channel></rss>"#;

fn write_config(dir: &Path, http: &HttpServer) -> PathBuf {
    let daemon = daemon_table("state/veille.db", "");
    let text = format!(
        r#"{daemon}
[dedup]
story_window = "48h"
extra_tracking_params = ["xtcr"]

[[source]]
id = "a"
url = "{a}"

[[source]]
id = "b"
url = "{b}"

[[watch]]
id = "nordvent"
query = 'Nordvent OR noel'
"#,
        a = http.url("/a.xml"),
        b = http.url("/b.xml"),
    );
    common::write_config(dir, &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_feeds_carrying_one_story_make_one_story_with_two_outlets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = HttpServer::start();
    http.route("/a.xml", Response::ok("application/rss+xml", FEED_A));
    http.route("/b.xml", Response::ok("application/rss+xml", FEED_B));
    let config_path = write_config(dir.path(), &http);
    let app = app(&config_path, Arc::new(SystemClock));
    // One source after the other, so the representative (the earliest item) is known.
    for source in ["a", "b"] {
        let reports = scheduler::poll_sources(&app, &[SourceId::new(source)]).await;
        assert!(
            matches!(reports[0].outcome, SourceOutcome::Updated(_)),
            "{reports:?}"
        );
    }

    let mut mentions = Vec::new();
    app.store
        .for_each_mention(
            Utc::now() - Duration::days(1),
            None,
            |m| -> Result<(), StoreError> {
                mentions.push(m);
                Ok(())
            },
        )
        .expect("store the run");
    assert_eq!(mentions.len(), 3, "{mentions:#?}");
    let story_of = |url_part: &str| {
        mentions
            .iter()
            .find(|m| m.url.as_deref().is_some_and(|u| u.contains(url_part)))
            .map(|m| m.story)
            .unwrap_or_else(|| panic!("no mention of {url_part}"))
    };
    let wind = story_of("eolien-fecamp");
    assert_eq!(story_of("b-info.example/2026/11/27/fecamp"), wind);
    assert_ne!(story_of("noel"), wind);
    let info = app.store.stories_info(&[wind]).expect("stories info");
    assert_eq!(info[&wind].outlets, ["a-news.example", "b-info.example"]);
    assert_eq!(
        info[&wind].title,
        "Nordvent inaugure le parc éolien de Fécamp"
    );

    // The admin's view of the same thing.
    let output = assert_cmd::Command::cargo_bin("veille")
        .expect("the veille binary")
        .args([
            "stories", "--since", "24h", "--watch", "nordvent", "--config",
        ])
        .arg(&config_path)
        .output()
        .expect("run veille");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("story {}", wind.0)) && first.contains("2 outlets"),
        "{stdout}"
    );
    assert!(
        stdout.contains("in: a-news.example, b-info.example"),
        "{stdout}"
    );
    assert!(stdout.contains("2 stories since 24h"), "{stdout}");
}

fn feed_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            feed_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The shared corpus holds the same real feeds in several variants (parser test files): their
/// entries must meet in stories, and nothing else may. Every feed file is a source here.
#[test]
fn corpus_feeds_group_only_copies_of_one_entry() {
    let mut files = Vec::new();
    feed_files(&common::corpus_dir().join("feeds"), &mut files);
    files.sort();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("veille.db")).expect("open the store");
    let now = start();
    let mut items = 0;
    for (index, path) in files.iter().enumerate() {
        // Small files are parser edge cases with one or two placeholder entries.
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if bytes.len() < 3_000 {
            continue;
        }
        let source = SourceId::new(format!("f{index}"));
        let Ok(parsed) = veille::extract::feed(&source, &bytes, Some("https://base.example/"))
        else {
            continue;
        };
        let parsed: Vec<_> = parsed
            .into_iter()
            .map(|item| Matched::unscored(item, watched()))
            .collect();
        items += parsed.len();
        store
            .record_run(&RunRecord {
                url: format!("https://{source}.example/feed.xml"),
                source,
                now,
                next_poll_at: now,
                validators: Some(Default::default()),
                body_hash: None,
                redirected_to: None,
                recovered_from: None,
                parsed: Some(Parsed {
                    items: parsed,
                    backfill: veille::store::Backfill::No,
                    scoring: None,
                }),
            })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let mut titles: HashMap<StoryId, Vec<String>> = HashMap::new();
    store
        .for_each_mention(
            now - Duration::days(1),
            None,
            |m| -> Result<(), StoreError> {
                titles.entry(m.story).or_default().push(m.title);
                Ok(())
            },
        )
        .expect("store the run");
    let grouped = titles.values().filter(|t| t.len() > 1).count();
    println!(
        "corpus: {items} entries, {} stories, {grouped} with several entries",
        titles.len()
    );
    assert!(items > 500, "{items} entries: is the corpus there?");
    assert!(
        grouped > 20,
        "the corpus' feed variants should meet: {grouped}"
    );
    for (story, list) in &titles {
        assert!(
            list.iter().all(|t| t == &list[0]),
            "story {} mixes entries: {list:?}",
            story.0
        );
    }
}
