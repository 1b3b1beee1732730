//! What learning from judgments buys, measured on the judged set in
//! `tests/fixtures/judged/` (three watches where keyword monitoring is noisy: `Orange`,
//! `TotalEnergies OR =Total`, `Renault`; see its README).
//!
//! For each watch the real [`Matcher`] runs the watch's query over the judged items (only
//! matched items count), the base score comes from real [`Signals`] (title hit, distinct
//! terms, built-in risk terms near the hit, 30 minutes old, weight 1, one outlet), and the
//! items are split 60/40 into train and held-out, stratified by verdict, by a hash of the
//! title (so the same wording from two outlets never sits on both sides). The model is
//! trained on the train part only; on the held-out part we measure:
//! - AUC of P(relevant), relevant + crisis against irrelevant, per watch and pooled;
//! - precision of the top 10 entries ranked by the base score, then by the blended score
//!   (`score()` with `learned = Some(p)`), ties counted at their expected value;
//! - the log-loss of P(relevant) (how usable it is as a probability), and how many items
//!   reach the default alert `min_score` before and after (learning must not turn plain
//!   relevance into alerts).
//!
//! Then the same over several split seeds, and over a harder split that keeps every story
//! kind (`group`: all the items written from one template) on one side, so the figure is not
//! the luck of one split nor the echo of near-duplicates.
//!
//! Run `cargo test --test it learning:: -- --nocapture` to see the tables.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;
use veille::matching::{ItemText, Matcher, Query};
use veille::model::{Field, WatchId};
use veille::score::learn::{Example, Features, MIN_JUDGMENTS, Model, features};
use veille::score::risk::RiskVocabulary;
use veille::score::suggest::suggest;
use veille::score::{Signals, score};

const WATCHES: [&str; 3] = ["orange", "totalenergies", "renault"];
const TRAIN_SHARE: f64 = 0.6;
const TOP: usize = 10;
const SEEDS: u64 = 5;
/// The default `min_score` of an alert rule.
const ALERT_MIN_SCORE: f64 = 0.5;

#[derive(Debug, Deserialize)]
struct JudgedFile {
    watch: WatchDef,
    mention: Vec<Mention>,
}

#[derive(Debug, Deserialize)]
struct WatchDef {
    id: String,
    query: String,
}

#[derive(Debug, Deserialize)]
struct Mention {
    group: String,
    verdict: String,
    source: String,
    outlet: String,
    title: String,
    text: String,
}

/// One matched, judged item with its base signals.
struct Item {
    mention: Mention,
    relevant: bool,
    signals: Signals,
}

impl Item {
    fn example(&self) -> Example<'_> {
        Example {
            title: &self.mention.title,
            text: &self.mention.text,
            source: &self.mention.source,
            outlet: Some(&self.mention.outlet),
            relevant: self.relevant,
        }
    }

    fn features(&self) -> Features<'_> {
        self.example().features()
    }
}

struct Watch {
    id: String,
    terms: Vec<String>,
    items: Vec<Item>,
    judged: usize,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/judged")
}

fn load(name: &str, risk: &RiskVocabulary) -> Watch {
    let path = fixture_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let file: JudgedFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let query = Query::parse(&file.watch.query).unwrap_or_else(|e| panic!("{name}: {e}"));
    let terms = query
        .terms()
        .iter()
        .filter(|t| !t.negated)
        .map(|t| t.display.clone())
        .collect();
    let matcher = Matcher::new(vec![(WatchId::new(&file.watch.id), query)]);
    let judged = file.mention.len();
    let mut items = Vec::new();
    for mention in file.mention {
        let relevant = match mention.verdict.as_str() {
            "relevant" | "crisis" => true,
            "irrelevant" => false,
            other => panic!("{name}: unknown verdict {other:?}"),
        };
        let text = ItemText {
            title: &mention.title,
            body: &mention.text,
        };
        let Some(found) = matcher.match_text(text).into_iter().next() else {
            continue;
        };
        let signals = Signals {
            title_hit: found.hits.iter().any(|h| h.field == Field::Title),
            distinct_terms: found.terms().len(),
            source_weight: 1.0,
            outlets: 1,
            recent_outlets: 0,
            age_minutes: Some(30),
            risk: risk.near(text, &found.hits),
            learned: None,
        };
        items.push(Item {
            mention,
            relevant,
            signals,
        });
    }
    Watch {
        id: file.watch.id,
        terms,
        items,
        judged,
    }
}

fn load_all() -> Vec<Watch> {
    let risk = RiskVocabulary::builtin();
    WATCHES.iter().map(|w| load(w, &risk)).collect()
}

/// FNV-1a: a stable hash (std's hasher may change between releases).
fn hash(text: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Train/held-out indices: per verdict class, items sorted by the hash of `key`, the first
/// 60 % train. Items with the same key land on the same side.
fn split(items: &[Item], key: impl Fn(&Item) -> &str, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut keys: Vec<&str> = items
            .iter()
            .filter(|i| i.relevant == class)
            .map(&key)
            .collect();
        keys.sort_by_key(|k| (hash(k, seed), *k));
        keys.dedup();
        let cut = (keys.len() as f64 * TRAIN_SHARE).round() as usize;
        let train_keys: Vec<&str> = keys[..cut].to_vec();
        for (index, item) in items.iter().enumerate() {
            if item.relevant != class {
                continue;
            }
            if train_keys.contains(&key(item)) {
                train.push(index);
            } else {
                held.push(index);
            }
        }
    }
    (train, held)
}

/// Area under the ROC curve: the chance a random relevant item gets a higher p than a
/// random irrelevant one (ties count half).
fn auc(scored: &[(f64, bool)]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for &(p, positive) in scored {
        if !positive {
            continue;
        }
        for &(q, other) in scored {
            if other {
                continue;
            }
            pairs += 1.0;
            if p > q {
                wins += 1.0;
            } else if p == q {
                wins += 0.5;
            }
        }
    }
    if pairs == 0.0 { 0.5 } else { wins / pairs }
}

/// Precision of the top `TOP` by score; a tie across the cut counts at its expected value
/// (as if the tie were broken at random), so neither ranking profits from the input order.
fn precision_at_top(scored: &[(f64, bool)]) -> f64 {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top = TOP.min(sorted.len());
    let (mut taken, mut relevant) = (0usize, 0.0);
    let mut i = 0;
    while taken < top && i < sorted.len() {
        let group: Vec<&(f64, bool)> = sorted[i..]
            .iter()
            .take_while(|s| s.0 == sorted[i].0)
            .collect();
        let positives = group.iter().filter(|s| s.1).count() as f64;
        let room = (top - taken).min(group.len());
        relevant += positives * room as f64 / group.len() as f64;
        taken += room;
        i += group.len();
    }
    if top == 0 { 0.0 } else { relevant / top as f64 }
}

/// Mean negative log-likelihood of the verdicts under p: how usable p is as a probability
/// (0.693 is a coin toss; over-confident mistakes cost the most).
fn log_loss(scored: &[(f64, bool)]) -> f64 {
    let total: f64 = scored
        .iter()
        .map(|&(p, positive)| -(if positive { p } else { 1.0 - p }).ln())
        .sum();
    total / scored.len().max(1) as f64
}

/// One seed's figures: per watch (AUC, top-10 precision before, after), then the pooled
/// AUC and the mean precisions before and after.
type SeedFigures = (Vec<(f64, f64, f64)>, f64, f64, f64);

/// Figures of one watch on one split.
struct Run {
    held: Vec<(f64, bool)>,
    before: f64,
    after: f64,
    trained_on: usize,
    /// Held-out items at or above the default alert `min_score`, before and after:
    /// (how many, how many relevant).
    alerts_before: (usize, usize),
    alerts_after: (usize, usize),
}

/// How many scores reach the default alert threshold, and how many of those are relevant.
fn alerting(scored: &[(f64, bool)]) -> (usize, usize) {
    let over: Vec<&(f64, bool)> = scored.iter().filter(|s| s.0 >= ALERT_MIN_SCORE).collect();
    (over.len(), over.iter().filter(|s| s.1).count())
}

fn run(watch: &Watch, train: &[usize], held: &[usize]) -> Run {
    let examples: Vec<Example<'_>> = train.iter().map(|&i| watch.items[i].example()).collect();
    let Some(model) = Model::train(&examples) else {
        panic!("{}: no model from {} examples", watch.id, examples.len());
    };
    let mut probabilities = Vec::new();
    let mut base = Vec::new();
    let mut blended = Vec::new();
    for &i in held {
        let item = &watch.items[i];
        let p = model.probability(item.features());
        probabilities.push((p, item.relevant));
        base.push((score(&item.signals).score, item.relevant));
        let signals = Signals {
            learned: Some(p),
            ..item.signals.clone()
        };
        blended.push((score(&signals).score, item.relevant));
    }
    Run {
        held: probabilities,
        before: precision_at_top(&base),
        after: precision_at_top(&blended),
        trained_on: model.judgments(),
        alerts_before: alerting(&base),
        alerts_after: alerting(&blended),
    }
}

/// Per-watch runs for one way of splitting, and the pooled AUC and mean precisions.
fn evaluate(
    watches: &[Watch],
    key: impl Fn(&Item) -> &str + Copy,
    seed: u64,
) -> (Vec<Run>, f64, f64, f64) {
    let runs: Vec<Run> = watches
        .iter()
        .map(|w| {
            let (train, held) = split(&w.items, key, seed);
            run(w, &train, &held)
        })
        .collect();
    let pooled: Vec<(f64, bool)> = runs.iter().flat_map(|r| r.held.clone()).collect();
    let n = runs.len() as f64;
    let before = runs.iter().map(|r| r.before).sum::<f64>() / n;
    let after = runs.iter().map(|r| r.after).sum::<f64>() / n;
    (runs, auc(&pooled), before, after)
}

fn by_title(item: &Item) -> &str {
    &item.mention.title
}

fn by_group(item: &Item) -> &str {
    &item.mention.group
}

/// The feature that alone best predicts the verdicts, and its accuracy.
fn best_single_feature(items: &[Item]) -> (String, f64) {
    let sets: Vec<(Vec<String>, bool)> = items
        .iter()
        .map(|i| (features(i.features()), i.relevant))
        .collect();
    let mut best = (String::new(), 0.0);
    for feature in sets.iter().flat_map(|(f, _)| f.iter()) {
        let right = sets
            .iter()
            .filter(|(f, relevant)| f.contains(feature) == *relevant)
            .count() as f64;
        let accuracy = (right / sets.len() as f64).max(1.0 - right / sets.len() as f64);
        if accuracy > best.1 {
            best = (feature.clone(), accuracy);
        }
    }
    best
}

#[test]
fn the_judged_set_is_large_mixed_and_matched() {
    let watches = load_all();
    let total: usize = watches.iter().map(|w| w.judged).sum();
    assert!(total >= 240, "{total} judged mentions");
    for watch in &watches {
        let matched = watch.items.len();
        let relevant = watch.items.iter().filter(|i| i.relevant).count();
        let share = relevant as f64 / matched as f64;
        // Nearly every judged mention is one the query finds (they were judged from it).
        assert!(
            matched * 10 >= watch.judged * 9,
            "{}: {matched}/{}",
            watch.id,
            watch.judged
        );
        assert!((0.4..=0.6).contains(&share), "{}: {share}", watch.id);
        let crisis = watch
            .items
            .iter()
            .filter(|i| i.mention.verdict == "crisis")
            .count();
        assert!(crisis >= 3, "{}: {crisis} crisis", watch.id);
        let sources: HashMap<&str, usize> = watch.items.iter().fold(HashMap::new(), |mut m, i| {
            *m.entry(i.mention.source.as_str()).or_default() += 1;
            m
        });
        assert!(sources.len() >= 6, "{}: {sources:?}", watch.id);
        // Noise that carries risk words is what learning must demote below the real risks.
        let with_risk_irrelevant = watch
            .items
            .iter()
            .filter(|i| !i.relevant && !i.signals.risk.is_empty())
            .count();
        assert!(
            with_risk_irrelevant >= 3,
            "{}: {with_risk_irrelevant}",
            watch.id
        );
        // Not trivially separable: no single feature (word, source, host), present or
        // absent, sorts the verdicts right more than 80 % of the time.
        let (best, accuracy) = best_single_feature(&watch.items);
        assert!(
            accuracy < 0.8,
            "{}: {best:?} alone is {accuracy:.2} accurate",
            watch.id
        );
    }
}

#[test]
fn learning_ranks_held_out_mentions_better_than_the_base_score() {
    let watches = load_all();
    // One report, printed at once: the tests of this file run in parallel.
    let mut out = String::new();
    let judged: usize = watches.iter().map(|w| w.judged).sum();
    let matched: usize = watches.iter().map(|w| w.items.len()).sum();
    let _ = writeln!(
        out,
        "\nJudged set: {judged} mentions, {matched} matched by their watch's query."
    );
    let _ = writeln!(
        out,
        "\nSplit by title hash (seed 0): 60 % train / 40 % held out, stratified by verdict."
    );
    let _ = writeln!(
        out,
        "| watch | trained on | held out | AUC | log-loss | P@{TOP} base | P@{TOP} learned |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let (runs, pooled, before, after) = evaluate(&watches, by_title, 0);
    for (watch, r) in watches.iter().zip(&runs) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.3} | {:.2} | {:.2} |",
            watch.id,
            r.trained_on,
            r.held.len(),
            auc(&r.held),
            log_loss(&r.held),
            r.before,
            r.after
        );
        assert!(r.trained_on >= MIN_JUDGMENTS);
    }
    let all: Vec<(f64, bool)> = runs.iter().flat_map(|r| r.held.clone()).collect();
    let sum = |f: fn(&Run) -> (usize, usize)| {
        runs.iter()
            .map(f)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    };
    let (alerts_before, alerts_after) = (sum(|r| r.alerts_before), sum(|r| r.alerts_after));
    let _ = writeln!(
        out,
        "| pooled / mean | | {} | {pooled:.3} | {:.3} | {before:.2} | {after:.2} |",
        all.len(),
        log_loss(&all)
    );

    let _ = writeln!(
        out,
        "Held-out items scoring ≥ {ALERT_MIN_SCORE} (an alert by default): {} ({} relevant) \
         before, {} ({} relevant) after.",
        alerts_before.0, alerts_before.1, alerts_after.0, alerts_after.1
    );
    let _ = writeln!(out, "\nMean over {SEEDS} split seeds (min in parentheses):");
    let _ = writeln!(
        out,
        "| split | watch | AUC | P@{TOP} base | P@{TOP} learned |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mut checks = Vec::new();
    for (what, key) in [
        ("title hash", by_title as fn(&Item) -> &str),
        ("story kind", by_group),
    ] {
        // Per seed: (per-watch (auc, before, after), pooled auc, mean before, mean after).
        let seeds: Vec<SeedFigures> = (0..SEEDS)
            .map(|seed| {
                let (runs, pooled, before, after) = evaluate(&watches, key, seed);
                let per = runs
                    .iter()
                    .map(|r| (auc(&r.held), r.before, r.after))
                    .collect();
                (per, pooled, before, after)
            })
            .collect();
        let stat = |values: Vec<f64>| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            (mean, min)
        };
        for (w, watch) in watches.iter().enumerate() {
            let a = stat(seeds.iter().map(|s| s.0[w].0).collect());
            let b = stat(seeds.iter().map(|s| s.0[w].1).collect());
            let c = stat(seeds.iter().map(|s| s.0[w].2).collect());
            let _ = writeln!(
                out,
                "| {what} | {} | {:.3} ({:.3}) | {:.2} ({:.2}) | {:.2} ({:.2}) |",
                watch.id, a.0, a.1, b.0, b.1, c.0, c.1
            );
        }
        let a = stat(seeds.iter().map(|s| s.1).collect());
        let b = stat(seeds.iter().map(|s| s.2).collect());
        let c = stat(seeds.iter().map(|s| s.3).collect());
        let _ = writeln!(
            out,
            "| {what} | pooled / mean | {:.3} ({:.3}) | {:.2} ({:.2}) | {:.2} ({:.2}) |",
            a.0, a.1, b.0, b.1, c.0, c.1
        );
        checks.push((what, a.0, b.0, c.0));
    }
    println!("{out}");

    assert!(pooled >= 0.75, "pooled AUC {pooled:.3}");
    // Clearly better, not merely no worse: a tenth of the top 10 at least.
    assert!(
        after >= before + 0.1,
        "top-{TOP} precision: {before:.2} -> {after:.2}"
    );
    // Learning must not turn relevance into alerts: no more items cross the alert
    // threshold, and no relevant one drops below it.
    assert!(
        alerts_after.0 <= alerts_before.0,
        "{alerts_before:?} -> {alerts_after:?}"
    );
    assert!(
        alerts_after.1 >= alerts_before.1,
        "{alerts_before:?} -> {alerts_after:?}"
    );
    for (what, auc, before, after) in checks {
        assert!(auc >= 0.75, "{what}: mean pooled AUC {auc:.3}");
        assert!(
            after >= before + 0.1,
            "{what}: mean top-{TOP} precision {before:.2} -> {after:.2}"
        );
    }
}

#[test]
fn suggestions_on_the_judged_set_name_the_noise() {
    let watches = load_all();
    println!();
    for watch in &watches {
        let examples: Vec<Example<'_>> = watch.items.iter().map(Item::example).collect();
        let got = suggest(&examples, &watch.terms);
        assert_eq!(got.judged, watch.items.len());
        let terms: Vec<String> = got
            .terms
            .iter()
            .map(|t| format!("{} ({})", t.term, t.irrelevant))
            .collect();
        let sources: Vec<String> = got
            .sources
            .iter()
            .map(|s| {
                format!(
                    "{} ({}/{})",
                    s.source,
                    s.irrelevant,
                    s.irrelevant + s.relevant
                )
            })
            .collect();
        println!("{}: terms {terms:?}", watch.id);
        println!("{}: sources {sources:?}", watch.id);
        assert!(!got.terms.is_empty(), "{}: no term suggested", watch.id);
        assert!(!got.sources.is_empty(), "{}: no noisy source", watch.id);
        for term in &got.terms {
            let folded = veille::matching::normalize::fold(&term.term);
            for own in &watch.terms {
                assert_ne!(
                    folded,
                    veille::matching::normalize::fold(own),
                    "{}",
                    watch.id
                );
            }
            // Every proposed exclusion would have dropped no relevant mention.
            assert_eq!(term.relevant, 0);
        }
    }
}
