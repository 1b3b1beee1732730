//! Plain data shared by the pipeline stages.
//!
//! Everything here is a value: no I/O and no dependency on another veille module, so every
//! stage can take and return these types without pulling in the others. Identifiers are
//! newtypes so a source id can never be passed where a watch id is expected.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(Arc::from(id.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// The `id` of a `[[source]]` in the configuration.
    SourceId
);
string_id!(
    /// The `id` of a `[[watch]]` in the configuration.
    WatchId
);
string_id!(
    /// The `id` of a `[[digest]]` in the configuration.
    DigestId
);
string_id!(
    /// The `id` of an `[[alert]]` rule in the configuration.
    AlertId
);

/// Row id of a stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ItemId(pub i64);

/// Row id of a stored mention (one item matched by one watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MentionId(pub i64);

/// Row id of a story: the items that are one document or copies of one news story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StoryId(pub i64);

/// One entry of a source (a feed entry, later a page block), as extracted, before storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub source: SourceId,
    /// What makes this item unique within its source: the GUID, else the link, else a hash
    /// of title and text (see `extract::identity`).
    pub identity: String,
    pub url: Option<String>,
    /// Plain text, never HTML. May be empty for title-less posts.
    pub title: String,
    /// Plain text of the content (or summary when there is no content).
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    /// Who wrote it, when the feed says: a handle for social posts (`@alice@mastodon.example`,
    /// `/u/alice`), a name for articles (see `extract::author_of`).
    pub author: Option<String>,
}

/// Which part of an item a query term was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
        }
    }
}

/// One query term found in an item: the term as the admin wrote it, where, and at which
/// token position (so later stages can build snippets around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermHit {
    /// Shared with the compiled query: a hit costs no allocation.
    pub term: Arc<str>,
    pub field: Field,
    pub position: usize,
    /// Byte range of the hit in the field's text as it was matched (`Item::title` or
    /// `Item::text`), always on character boundaries: what a snippet highlights.
    pub start: usize,
    pub end: usize,
}

/// A watch that matched an item, with the terms that made it match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchMatch {
    pub watch: WatchId,
    pub hits: Vec<TermHit>,
}

impl WatchMatch {
    /// The distinct terms that hit, in the order they were first found.
    pub fn terms(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for hit in &self.hits {
            if !seen.contains(&&*hit.term) {
                seen.push(&hit.term);
            }
        }
        seen
    }
}
