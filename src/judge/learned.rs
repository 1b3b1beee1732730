//! The per-watch classifiers the score blends in, kept in memory and retrained when
//! someone judges.
//!
//! Training (`crate::feedback::refresh_models`) reads a watch's judged mentions from the
//! store and runs the pure `crate::score::learn::Model::train`; a watch with fewer than
//! `learn::MIN_JUDGMENTS` judgments (or too few of one class) has no model, and its scores
//! are exactly the unlearned ones. Verdicts arrive from the web pages, which live in the
//! daemon, and from `veille judge`, another process: so rather than being told, the cache
//! compares the store's judgments version (the latest judgment id, one indexed read) before
//! each poll pass and retrains every watch when it moved. Retraining is cheap (a few
//! milliseconds for hundreds of judgments), and rare next to polls.
//!
//! A model judges mentions found after it was trained: the score is computed when a mention
//! is stored, so a verdict changes the ranking of what comes next, never silently rewrites
//! what a digest already showed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::model::MentionRecord;
use crate::model::Verdict;
use crate::model::{Item, WatchId};
use crate::score::learn::{Example, Features, Model};

/// The models of every watch that has one, and the judgments version they were trained on.
#[derive(Debug, Default)]
pub struct Learned {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// None before the first training.
    version: Option<i64>,
    /// The watches trained for: a reload that adds a watch trains it too.
    watches: Vec<WatchId>,
    models: Arc<Models>,
}

/// A snapshot of the models, for one source run.
pub type Models = HashMap<WatchId, Arc<Model>>;

impl Learned {
    pub fn new() -> Learned {
        Learned::default()
    }

    /// The current models: a shared snapshot, so a source run takes it for the cost of a
    /// reference count, however many watches have a model.
    pub fn models(&self) -> Arc<Models> {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .models
            .clone()
    }

    /// Whether the models were trained on judgments `version` for exactly `watches`.
    pub fn is_current(&self, version: i64, watches: &[WatchId]) -> bool {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.version == Some(version) && state.watches == watches
    }

    /// Puts in the models trained on judgments `version` for `watches`.
    pub fn replace(&self, version: i64, watches: Vec<WatchId>, models: Models) {
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = State {
            version: Some(version),
            watches,
            models: Arc::new(models),
        };
    }
}

/// Judged mentions as the classifier (and `veille suggest`) read them: relevant and crisis
/// are the relevant class.
pub fn examples(judged: &[(MentionRecord, Verdict)]) -> Vec<Example<'_>> {
    judged
        .iter()
        .map(|(m, verdict)| Example {
            title: &m.title,
            text: &m.text,
            source: m.source.as_str(),
            outlet: m.outlet.as_deref(),
            relevant: verdict.is_positive(),
        })
        .collect()
}

/// What a model reads of a new item: the outlet is its link's host (without `www.`), as
/// the store names outlets.
pub fn probability(model: &Model, item: &Item) -> f64 {
    let outlet = item
        .url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_string())
        });
    model.probability(Features {
        title: &item.title,
        text: &item.text,
        source: item.source.as_str(),
        outlet: outlet.as_deref(),
    })
}
