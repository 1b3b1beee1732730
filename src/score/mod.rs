//! The score of a mention (0–1) and the reasons behind it.
//!
//! SKELETON (types only): filled in by the issue-7 score work. See the brief.

pub mod risk;

use serde::{Deserialize, Serialize};

/// Everything the score is computed from, gathered by the pipeline (item side) and the
/// store (story side). Plain values: the score is a pure function of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signals {
    /// A query term hit the title (not only the body).
    pub title_hit: bool,
    /// Distinct query terms that hit.
    pub distinct_terms: usize,
    /// The source's `weight` (0–10, default 1).
    pub source_weight: f64,
    /// Distinct outlets that carry the story now (at least 1).
    pub outlets: usize,
    /// How many of those joined within [`GROWTH_WINDOW_HOURS`] before now.
    pub recent_outlets: usize,
    /// Minutes between publication (else first sight) and now; None when unknown.
    pub age_minutes: Option<i64>,
    /// Risk terms found near a query hit, as written in the vocabulary, first found first.
    pub risk: Vec<String>,
}

/// Window in which a story's new outlets count as growth ("7 outlets in 2 h").
pub const GROWTH_WINDOW_HOURS: i64 = 2;

/// One reason, stored with the mention as JSON and rendered in the reader's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A query term is in the title.
    TitleHit,
    /// Several distinct query terms hit.
    Terms { count: usize },
    /// The source weighs more (or less) than the default.
    Source { weight: f64 },
    /// The story is in several outlets, `recent` of them within `hours`.
    Outlets {
        count: usize,
        recent: usize,
        hours: i64,
    },
    /// Published (or first seen) this many minutes ago.
    Fresh { minutes: i64 },
    /// A risk term near the hit.
    Risk { term: String },
}

/// A score and its reasons, strongest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scored {
    pub score: f64,
    pub reasons: Vec<Reason>,
}
