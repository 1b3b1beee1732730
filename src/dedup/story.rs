//! Story assignment: which story a new item joins, decided from what the store can tell.
//!
//! The rules, in order (the first that finds a story wins):
//! 1. **Same URL**: an item whose canonical URL is already stored by *another* source, at any
//!    age, joins the story of the first such item. Within one source the identity already
//!    catches re-polls, and two entries of one feed sharing a link are often distinct posts
//!    (every entry pointing at the home page, day pages whose fragment is the permalink).
//! 2. **Quoted link** (see [`super::posts`]): a post (no title of its own) whose text links
//!    a stored item, from any source but at another address than its own, joins that item's
//!    story: the link is explicit.
//! 3. **Near duplicate** (see [`super::fingerprint`]): an item whose fingerprint shares at
//!    least [`MIN_SHARED`] sampled hashes and enough of the smaller sample with an item seen
//!    within the story window joins the story of the best such item (highest containment,
//!    then most hashes shared, then the oldest). Each hash counts only its
//!    [`POSTINGS_CAP`] newest items in the window: a hash shared by more is a stock phrase,
//!    not evidence, and the cap bounds the work of one assignment whatever the number of
//!    stored items.
//! 4. **Same wording** (see [`super::posts`]): a text too short to fingerprint joins another
//!    source's short item with the same normalized wording, seen within the window (the
//!    earliest).
//! 5. Else the item starts a story.
//!
//! The fingerprint is taken from the item's story text (see [`super::boilerplate`]): its
//! sentences minus footers and minus the sentences its source published in at least
//! [`RECURRING_MIN`] earlier items. When no sentence is left, every sentence is one the
//! source repeats: a re-post under a new identity, fingerprinted whole (footers aside) so it
//! can join those earlier items; same-source matches need near-identical text anyway.
//!
//! Design: the decision is a pure function, [`assign`], of the item's facts and of what it
//! asks a [`StoryLookup`]: stories by URL, items sharing a hash, a candidate's sample, short
//! texts by wording. The store implements the lookup with its SQL index and a per-batch
//! cache, and writes what [`assign`] decides; tests implement it in memory. The lookup is a
//! generic parameter, not a trait object: the near-duplicate probe calls it once per sampled
//! hash and per candidate, inside the transaction of a source run. The sentence counts are
//! not a question but part of the item's facts ([`NewItem::sentences`]): the store counts
//! every new item's sentences anyway (it keeps the counts), and hands them over with it.
//! Trade-off: the lookup's contract (ordering, window, "another source") is part of the
//! rules, so the store's queries must keep to what each method's doc promises; the tests'
//! in-memory lookup is written from those docs, not from the SQL.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::boilerplate::{RECURRING_MIN, Segment};
use super::fingerprint::{MIN_SHARED, Sketch, is_near_duplicate, sketch};
use super::{DedupSettings, canonical_link, posts};
use crate::model::{Item, ItemId, SourceId, StoryId};

/// Items read per sampled hash when looking for near duplicates (the newest in the window).
pub const POSTINGS_CAP: usize = 50;

/// One distinct sentence of a new item, with how many earlier items of its source had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub segment: Segment,
    /// Items of the same source, stored before this one, that had this sentence.
    pub earlier_items: i64,
}

/// What the rules read of a new item besides the lookup's answers.
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    pub item: &'a Item,
    /// Its link's canonical form ([`canonical_link`] with the configured extra parameters).
    pub canonical: Option<&'a str>,
    /// Its distinct sentences, title first, in order.
    pub sentences: &'a [Sentence],
    /// When it is first seen: the story window ends here.
    pub now: DateTime<Utc>,
}

/// A stored item as a near-duplicate candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Hashes in its fingerprint sample; `None` when it has no usable fingerprint.
    pub sample: Option<usize>,
    /// `None` for items stored before stories existed.
    pub story: Option<StoryId>,
    pub source: SourceId,
}

/// What story assignment asks of the stored items. Every answer excludes the new item
/// itself (it is not stored until the decision is made).
pub trait StoryLookup {
    type Error;

    /// The story of the first stored item (lowest id) whose canonical URL is `canonical`,
    /// among items that have a story, from a source other than `other_than` when given.
    fn story_at_url(
        &mut self,
        canonical: &str,
        other_than: Option<&SourceId>,
    ) -> Result<Option<StoryId>, Self::Error>;

    /// The items whose fingerprint index holds `hash`, seen at or after `since`, newest
    /// first (then highest id first). [`assign`] reads at most [`POSTINGS_CAP`] of them, so
    /// an implementation may stop there.
    fn items_sharing(
        &mut self,
        hash: u64,
        since: DateTime<Utc>,
    ) -> Result<impl Iterator<Item = ItemId>, Self::Error>;

    /// A stored item as a candidate; `None` when no such item is stored.
    fn candidate(&mut self, item: ItemId) -> Result<Option<&Candidate>, Self::Error>;

    /// The story of the earliest item seen at or after `since` whose exact-wording key
    /// ([`posts::exact_key`]) is `key`, among items from a source other than `other_than`
    /// that have a story and no usable fingerprint.
    fn story_with_wording(
        &mut self,
        key: u64,
        other_than: &SourceId,
        since: DateTime<Utc>,
    ) -> Result<Option<StoryId>, Self::Error>;
}

/// Which rule put a new item into an existing story (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    SameUrl,
    QuotedLink,
    NearDuplicate,
    SameWording,
}

/// An existing story a new item joins, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    pub story: StoryId,
    pub rule: Rule,
}

/// What [`assign`] decided for a new item, and what the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `None`: the item starts a story.
    pub joins: Option<Joined>,
    /// Its story text's fingerprint, indexed when usable.
    pub sketch: Sketch,
    /// The exact-wording key of a text too short to fingerprint, indexed when present.
    pub exact: Option<u64>,
}

/// How a new item found its story, for logs and tests: an explicit link (same URL or a
/// quoted one), similar text (near duplicate or same wording), or a story of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    SameUrl(StoryId),
    NearDuplicate(StoryId),
    New(StoryId),
}

impl Assignment {
    pub fn story(self) -> StoryId {
        match self {
            Assignment::SameUrl(id) | Assignment::NearDuplicate(id) | Assignment::New(id) => id,
        }
    }

    /// The assignment of an item that joined a story.
    pub fn joined(joined: Joined) -> Assignment {
        match joined.rule {
            Rule::SameUrl | Rule::QuotedLink => Assignment::SameUrl(joined.story),
            Rule::NearDuplicate | Rule::SameWording => Assignment::NearDuplicate(joined.story),
        }
    }
}

/// Decides which story a new item joins, by the rules of the module doc, in their order.
pub fn assign<L: StoryLookup>(
    new: &NewItem<'_>,
    settings: &DedupSettings,
    lookup: &mut L,
) -> Result<Decision, L::Error> {
    let (sketch, exact) = story_fingerprint(new.sentences);
    let source = &new.item.source;
    let since = window_start(new.now, settings.story_window);
    let joined = |story: Option<StoryId>, rule| story.map(|story| Joined { story, rule });

    let mut joins = None;
    if let Some(canonical) = new.canonical {
        joins = joined(lookup.story_at_url(canonical, Some(source))?, Rule::SameUrl);
    }
    if joins.is_none() && new.item.title.trim().is_empty() {
        joins = joined(quoted(new, settings, lookup)?, Rule::QuotedLink);
    }
    if joins.is_none() && sketch.is_usable() {
        joins = joined(
            near_duplicate(&sketch, source, since, lookup)?,
            Rule::NearDuplicate,
        );
    }
    if joins.is_none()
        && let Some(key) = exact
    {
        joins = joined(
            lookup.story_with_wording(key, source, since)?,
            Rule::SameWording,
        );
    }
    Ok(Decision {
        joins,
        sketch,
        exact,
    })
}

/// The fingerprint of an item's story text (see the module doc), and the exact-wording key
/// of a text too short to fingerprint.
pub fn story_fingerprint(sentences: &[Sentence]) -> (Sketch, Option<u64>) {
    let mut kept: Vec<&str> = Vec::new();
    let mut whole: Vec<&str> = Vec::new();
    for sentence in sentences {
        if sentence.segment.is_footer() {
            continue;
        }
        whole.extend(sentence.segment.tokens());
        if sentence.earlier_items < RECURRING_MIN {
            kept.extend(sentence.segment.tokens());
        }
    }
    let fingerprint = if kept.is_empty() {
        sketch(whole.iter().copied())
    } else {
        sketch(kept)
    };
    let exact = if fingerprint.is_usable() {
        None
    } else {
        posts::exact_key(whole)
    };
    (fingerprint, exact)
}

/// The start of the story window that ends at `now`.
fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    i64::try_from(window.as_secs())
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|window| now.checked_sub_signed(window))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The story of a stored item at one of the addresses a post's text links.
fn quoted<L: StoryLookup>(
    new: &NewItem<'_>,
    settings: &DedupSettings,
    lookup: &mut L,
) -> Result<Option<StoryId>, L::Error> {
    for link in posts::linked_urls(&new.item.text) {
        let Some(canonical) = canonical_link(link, &settings.extra_tracking_params) else {
            continue;
        };
        if Some(canonical.as_str()) == new.canonical {
            continue;
        }
        if let Some(story) = lookup.story_at_url(&canonical, None)? {
            return Ok(Some(story));
        }
    }
    Ok(None)
}

/// The story of the stored item most like `sketch`, seen since `since`, if any is a near
/// duplicate.
fn near_duplicate<L: StoryLookup>(
    sketch: &Sketch,
    source: &SourceId,
    since: DateTime<Utc>,
    lookup: &mut L,
) -> Result<Option<StoryId>, L::Error> {
    let mut shared: HashMap<ItemId, usize> = HashMap::new();
    for hash in &sketch.hashes {
        for item in lookup.items_sharing(*hash, since)?.take(POSTINGS_CAP) {
            *shared.entry(item).or_default() += 1;
        }
    }
    // Best: highest containment, then most shared, then the oldest item.
    type Rank = (f64, usize, Reverse<ItemId>);
    let mut best: Option<(Rank, StoryId)> = None;
    for (item, count) in shared {
        // Needed by `is_near_duplicate` anyway: checked first, it spares most candidate reads.
        if count < MIN_SHARED {
            continue;
        }
        let Some(Candidate {
            sample: Some(size),
            story: Some(story),
            source: candidate_source,
        }) = lookup.candidate(item)?
        else {
            continue;
        };
        let (size, story) = (*size, *story);
        if !is_near_duplicate(count, size, sketch.hashes.len(), candidate_source == source) {
            continue;
        }
        let containment = count as f64 / size.min(sketch.hashes.len()).max(1) as f64;
        let rank = (containment, count, Reverse(item));
        if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
            best = Some((rank, story));
        }
    }
    Ok(best.map(|(_, story)| story))
}

