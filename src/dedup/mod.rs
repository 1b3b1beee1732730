//! Deduplication: which stored items are the same document or the same story.
//!
//! Pure functions only; the store runs them inside the transaction that records a source
//! run, answers their questions from its index and keeps their results (see
//! `store::stories`).
//!
//! - [`canon`]: exact duplicates across sources, by canonical URL.
//! - [`boilerplate`]: the sentences that say nothing about the story (a source's recurring
//!   lines, "Lire aussi" footers), removed before fingerprinting.
//! - [`fingerprint`]: near duplicates, by a sample of the text's word shingles.
//! - [`posts`]: what groups social posts (quoted links, the same short wording).
//! - [`story`]: story assignment, [`assign`]: the rules above in their order, over a
//!   [`StoryLookup`] that the store implements with SQL and tests in memory.
//!
//! Story assignment, in order: an item whose canonical URL is already stored by another
//! source (any age) joins that item's story; else a post whose text links a stored item
//! joins its story (a quote-post); else an item whose fingerprint is close to one seen
//! within the story window (default 72 h) joins that one's story; else a short text too
//! small to fingerprint joins another source's item with the same wording; else it starts a
//! story (details in [`story`]). The story's representative is its first item; its outlets
//! are the distinct hosts of its items' links (else of their sources' URLs).

pub mod boilerplate;
pub mod canon;
pub mod fingerprint;
pub mod posts;
pub mod story;

pub use canon::{canonical_link, canonical_url};
pub use fingerprint::{Sketch, is_near_duplicate, sketch};
pub use story::{Assignment, StoryLookup, assign};

use std::time::Duration;

/// Default of `[dedup] story_window`: copies seen further apart than this are separate stories.
pub const STORY_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// What story assignment needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupSettings {
    /// Query parameters dropped from URLs on top of the built-in tracking list.
    pub extra_tracking_params: Vec<String>,
    pub story_window: Duration,
}

impl Default for DedupSettings {
    fn default() -> Self {
        DedupSettings {
            extra_tracking_params: Vec::new(),
            story_window: STORY_WINDOW,
        }
    }
}
