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

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;
    use std::convert::Infallible;

    use chrono::TimeZone;

    use super::*;
    use crate::dedup::boilerplate;

    /// A wire story, long enough to fingerprint (the store's story tests use it too).
    pub(crate) const WIRE: &str = "Le conseil régional a voté mardi le financement d'une nouvelle ligne de \
        tramway entre la gare et le campus universitaire, un projet discuté depuis plus de dix ans. \
        La ligne mesurera douze kilomètres et desservira dix-huit arrêts. Les travaux doivent \
        commencer au printemps prochain et les premières rames circuler trois ans plus tard, selon \
        le président du conseil, qui parle du plus gros investissement dans les transports publics \
        depuis la construction du contournement autoroutier.";

    /// Another story, sharing nothing with [`WIRE`].
    const OTHER: &str = "Le club de football a annoncé jeudi le départ de son entraîneur à la fin \
        de la saison, après quatre années marquées par deux montées et une finale de coupe perdue \
        aux tirs au but. Le conseil d'administration l'a remercié et promet de nommer un \
        successeur en juin, une fois connue la division dans laquelle l'équipe jouera l'an \
        prochain, devant un public fidèle.";

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            + TimeDelta::hours(hours)
    }

    fn article(source: &str, id: &str, url: &str, title: &str, text: &str) -> Item {
        Item {
            source: SourceId::new(source),
            identity: id.to_string(),
            url: Some(url.to_string()),
            title: title.to_string(),
            text: text.to_string(),
            published: None,
            author: None,
            lang: None,
        }
    }

    /// A social post: no title, a link of its own.
    fn post(source: &str, id: &str, text: &str) -> Item {
        let url = format!("https://{source}.example/@x/{id}");
        article(source, id, &url, "", text)
    }

    /// One stored item, as the store keeps what story assignment reads of it.
    #[derive(Debug)]
    struct Row {
        seen_at: DateTime<Utc>,
        canonical: Option<String>,
        /// Its rows in the fingerprint index: sampled hashes, or the exact-wording key.
        index: Vec<u64>,
        candidate: Candidate,
    }

    /// The store in memory: items in id order (`ItemId(n)` is `rows[n - 1]`), the sentence
    /// counts per source, the stories numbered from 1.
    #[derive(Debug, Default)]
    struct Memory {
        rows: Vec<Row>,
        sentences: HashMap<(SourceId, u64), i64>,
        stories: i64,
    }

    /// What became of a new item.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Added {
        story: StoryId,
        /// `None`: a new story.
        rule: Option<Rule>,
    }

    impl Memory {
        /// Decides the story of `item`, seen at `hours`, and stores it as the store does.
        fn add(&mut self, item: &Item, hours: i64) -> Added {
            let canonical = item.url.as_deref().and_then(|u| canonical_link(u, &[]));
            let sentences = self.count_sentences(item);
            let new = NewItem {
                item,
                canonical: canonical.as_deref(),
                sentences: &sentences,
                now: at(hours),
            };
            let Ok(decision) = assign(&new, &DedupSettings::default(), self);
            let story = match decision.joins {
                Some(joined) => joined.story,
                None => self.new_story(),
            };
            let usable = decision.sketch.is_usable();
            let mut index: Vec<u64> = decision.exact.into_iter().collect();
            if usable {
                index.extend(&decision.sketch.hashes);
            }
            self.rows.push(Row {
                seen_at: at(hours),
                canonical,
                index,
                candidate: Candidate {
                    sample: usable.then_some(decision.sketch.hashes.len()),
                    story: Some(story),
                    source: item.source.clone(),
                },
            });
            Added {
                story,
                rule: decision.joins.map(|joined| joined.rule),
            }
        }

        /// Stores an item of its own story with the given fingerprint sample.
        fn add_sample(&mut self, source: &str, hours: i64, hashes: Vec<u64>) -> StoryId {
            let story = self.new_story();
            self.rows.push(Row {
                seen_at: at(hours),
                canonical: None,
                candidate: Candidate {
                    sample: Some(hashes.len()),
                    story: Some(story),
                    source: SourceId::new(source),
                },
                index: hashes,
            });
            story
        }

        fn new_story(&mut self) -> StoryId {
            self.stories += 1;
            StoryId(self.stories)
        }

        fn count_sentences(&mut self, item: &Item) -> Vec<Sentence> {
            let mut seen = HashSet::new();
            boilerplate::segments(&item.title, &item.text)
                .into_iter()
                .filter(|segment| seen.insert(segment.key))
                .map(|segment| {
                    let count = self
                        .sentences
                        .entry((item.source.clone(), segment.key))
                        .or_default();
                    let earlier_items = *count;
                    *count += 1;
                    Sentence {
                        segment,
                        earlier_items,
                    }
                })
                .collect()
        }

        fn ids(&self) -> impl Iterator<Item = (ItemId, &Row)> {
            self.rows
                .iter()
                .enumerate()
                .map(|(n, row)| (ItemId(n as i64 + 1), row))
        }
    }

    impl StoryLookup for Memory {
        type Error = Infallible;

        fn story_at_url(
            &mut self,
            canonical: &str,
            other_than: Option<&SourceId>,
        ) -> Result<Option<StoryId>, Infallible> {
            Ok(self
                .rows
                .iter()
                .filter(|row| row.canonical.as_deref() == Some(canonical))
                .filter(|row| Some(&row.candidate.source) != other_than)
                .find_map(|row| row.candidate.story))
        }

        fn items_sharing(
            &mut self,
            hash: u64,
            since: DateTime<Utc>,
        ) -> Result<impl Iterator<Item = ItemId>, Infallible> {
            let mut found: Vec<(DateTime<Utc>, ItemId)> = self
                .ids()
                .filter(|(_, row)| row.seen_at >= since && row.index.contains(&hash))
                .map(|(id, row)| (row.seen_at, id))
                .collect();
            found.sort_unstable_by(|a, b| b.cmp(a));
            Ok(found.into_iter().map(|(_, id)| id))
        }

        fn candidate(&mut self, item: ItemId) -> Result<Option<&Candidate>, Infallible> {
            let row = usize::try_from(item.0 - 1)
                .ok()
                .and_then(|n| self.rows.get(n));
            Ok(row.map(|row| &row.candidate))
        }

        fn story_with_wording(
            &mut self,
            key: u64,
            other_than: &SourceId,
            since: DateTime<Utc>,
        ) -> Result<Option<StoryId>, Infallible> {
            Ok(self
                .ids()
                .filter(|(_, row)| row.seen_at >= since && row.index.contains(&key))
                .filter(|(_, row)| row.candidate.sample.is_none())
                .filter(|(_, row)| row.candidate.source != *other_than)
                .filter_map(|(id, row)| Some((row.seen_at, id, row.candidate.story?)))
                .min()
                .map(|(_, _, story)| story))
        }
    }

    /// Name, stored items (item, hour seen), the new item and its hour, and what it joins:
    /// the story of the stored item at that position, by that rule (`None`: a new story).
    type Case = (
        &'static str,
        Vec<(Item, i64)>,
        (Item, i64),
        Option<(usize, Rule)>,
    );

    fn check(cases: Vec<Case>) {
        for (name, stored, (new, hours), expected) in cases {
            let mut memory = Memory::default();
            let stories: Vec<StoryId> = stored
                .iter()
                .map(|(item, hours)| memory.add(item, *hours).story)
                .collect();
            let added = memory.add(&new, hours);
            match expected {
                Some((joined, rule)) => assert_eq!(
                    added,
                    Added {
                        story: stories[joined],
                        rule: Some(rule),
                    },
                    "{name}"
                ),
                None => {
                    assert_eq!(added.rule, None, "{name}");
                    assert!(!stories.contains(&added.story), "{name}: {added:?}");
                }
            }
        }
    }

    #[test]
    fn same_url_from_another_source_joins_at_any_age() {
        let first = || {
            article(
                "a",
                "1",
                "http://news.example/x?utm_source=rss",
                "A",
                "short",
            )
        };
        check(vec![
            (
                "another source, another text",
                vec![(first(), 0)],
                (
                    article("b", "9", "https://news.example/x#top", "B", "other"),
                    1,
                ),
                Some((0, Rule::SameUrl)),
            ),
            (
                "outside the story window",
                vec![(first(), 0)],
                (
                    article("b", "9", "https://news.example/x", "B", "other"),
                    1000,
                ),
                Some((0, Rule::SameUrl)),
            ),
            (
                "the first stored item's story",
                vec![
                    (article("a", "1", "https://news.example/y", "A", WIRE), 0),
                    (article("c", "1", "https://news.example/x", "C", OTHER), 1),
                    (article("d", "1", "https://news.example/x", "D", "x"), 2),
                ],
                (article("b", "1", "https://news.example/x", "B", WIRE), 3),
                Some((1, Rule::SameUrl)),
            ),
            (
                "one source's entries sharing a link stay apart",
                vec![(
                    article(
                        "a",
                        "1",
                        "http://blog.example/2017/06/26.html#a080605",
                        "",
                        "Un billet.",
                    ),
                    0,
                )],
                (
                    article(
                        "a",
                        "2",
                        "http://blog.example/2017/06/26.html#a030658",
                        "",
                        "Un autre.",
                    ),
                    1,
                ),
                None,
            ),
        ]);
    }

    #[test]
    fn near_duplicates_join_within_the_window_only() {
        let copy = format!("Enfin une décision. {WIRE} Lire aussi : le budget 2027.");
        let cases = [(5, true), (72, true), (73, false)];
        check(
            cases
                .into_iter()
                .map(|(hours, joins)| -> Case {
                    (
                        if joins { "within" } else { "outside" },
                        vec![(article("a", "1", "https://a.example/1", "Tram", WIRE), 0)],
                        (
                            article("b", "1", "https://b.example/1", "Le tram voté", &copy),
                            hours,
                        ),
                        joins.then_some((0, Rule::NearDuplicate)),
                    )
                })
                .collect(),
        );
    }

    #[test]
    fn rules_apply_in_order() {
        let quoting = |text: &str| {
            post(
                "b",
                "7",
                &format!("Bien vu. RE: https://q.example/@x/1. {text}"),
            )
        };
        check(vec![
            (
                "same URL beats near duplicate",
                vec![
                    (article("a", "1", "https://news.example/x", "A", OTHER), 0),
                    (article("c", "1", "https://c.example/1", "C", WIRE), 1),
                ],
                (article("b", "1", "https://news.example/x", "B", WIRE), 2),
                Some((0, Rule::SameUrl)),
            ),
            (
                "same URL beats a quoted link",
                vec![
                    (post("q", "1", "Nordvent ouvre ses portes"), 0),
                    (article("a", "1", "https://b.example/@x/7", "A", OTHER), 1),
                ],
                (quoting(""), 2),
                Some((1, Rule::SameUrl)),
            ),
            (
                "a quoted link beats near duplicate",
                vec![
                    (article("c", "1", "https://c.example/1", "C", WIRE), 0),
                    (post("q", "1", "Nordvent ouvre ses portes"), 1),
                ],
                (quoting(WIRE), 2),
                Some((1, Rule::QuotedLink)),
            ),
            (
                "near duplicate when no link is stored",
                vec![(article("c", "1", "https://c.example/1", "C", WIRE), 0)],
                (quoting(WIRE), 2),
                Some((0, Rule::NearDuplicate)),
            ),
        ]);
    }

    #[test]
    fn posts_join_a_quoted_item_or_the_same_wording_from_another_source() {
        let wording = "Nordvent recrute 40 techniciens à Brest #emploi";
        check(vec![
            (
                "a quote of a stored post, same source",
                vec![(post("a", "0", "Nordvent ouvre ses portes"), 0)],
                (post("a", "1", "Bonne idée. RE: https://a.example/@x/0."), 1),
                Some((0, Rule::QuotedLink)),
            ),
            (
                "a quote of a stored article, outside the window",
                vec![(
                    article("n", "1", "https://news.example/x?utm_source=m", "A", OTHER),
                    0,
                )],
                (post("a", "1", "À lire (https://news.example/x)"), 500),
                Some((0, Rule::QuotedLink)),
            ),
            (
                "a titled item linking a stored one is not a quote",
                vec![(post("a", "0", "Nordvent ouvre ses portes"), 0)],
                (
                    article(
                        "b",
                        "1",
                        "https://b.example/1",
                        "Titre",
                        "RE: https://a.example/@x/0",
                    ),
                    1,
                ),
                None,
            ),
            (
                "a post's own link is not a quote",
                vec![(
                    article("a", "0", "https://a.example/@x/1", "Titre", "texte"),
                    0,
                )],
                (post("a", "1", "Mon billet : https://a.example/@x/1"), 1),
                None,
            ),
            (
                "same wording, two sources",
                vec![(post("a", "0", wording), 0)],
                (
                    post("b", "1", "Nordvent recrute 40 TECHNICIENS à Brest emploi"),
                    1,
                ),
                Some((0, Rule::SameWording)),
            ),
            (
                "same wording, one source",
                vec![(post("a", "0", wording), 0)],
                (post("a", "1", wording), 1),
                None,
            ),
            (
                "same wording, outside the window",
                vec![(post("a", "0", wording), 0)],
                (post("b", "1", wording), 73),
                None,
            ),
            (
                "too few words",
                vec![(post("a", "0", "Merci Nordvent, bravo !"), 0)],
                (post("b", "1", "Merci Nordvent, bravo !"), 1),
                None,
            ),
            (
                "one word changed",
                vec![(post("a", "0", wording), 0)],
                (
                    post("b", "1", "Nordvent recrute 50 techniciens à Brest #emploi"),
                    1,
                ),
                None,
            ),
        ]);
    }

    /// The sample of [`WIRE`] as a new item of source "b" gets it.
    fn wire_sample() -> Vec<u64> {
        let mut memory = Memory::default();
        memory.add(&article("b", "1", "https://b.example/1", "Tram", WIRE), 0);
        memory.rows.remove(0).index
    }

    /// `shared` hashes of the new item's sample, and odd fillers (sampled hashes are even)
    /// up to `size`.
    fn sample_sharing(wire: &[u64], shared: usize, size: usize) -> Vec<u64> {
        let mut sample: Vec<u64> = wire[..shared].to_vec();
        sample.extend((0..(size - shared) as u64).map(|n| 2 * n + 1));
        sample
    }

    #[test]
    fn near_duplicates_need_the_shared_minimum_and_the_containment() {
        let wire = wire_sample();
        assert!(wire.len() >= 15, "{}", wire.len());
        // (source of the stored item, hashes shared, its sample size, joins)
        let cases = [
            ("a", MIN_SHARED - 1, MIN_SHARED - 1 + 2, false),
            ("a", MIN_SHARED, MIN_SHARED + 2, true),
            ("a", 5, 12, true),
            ("a", 5, 13, false),
            ("b", 9, 10, true),
            ("b", 8, 10, false),
            ("a", 8, 10, true),
        ];
        for (source, shared, size, joins) in cases {
            let mut memory = Memory::default();
            let stored = memory.add_sample(source, 0, sample_sharing(&wire, shared, size));
            let added = memory.add(&article("b", "1", "https://b.example/1", "Tram", WIRE), 1);
            let expected = joins.then_some(Rule::NearDuplicate);
            assert_eq!(added.rule, expected, "{source}: {shared} of {size}");
            assert_eq!(added.story == stored, joins, "{source}: {shared} of {size}");
        }
    }

    #[test]
    fn the_best_candidate_wins_then_the_oldest() {
        let wire = wire_sample();
        // (stored samples as (shared, size), oldest first; which one the new item joins)
        let cases: &[(&[(usize, usize)], usize)] = &[
            (&[(6, 10), (6, 6)], 1),
            (&[(6, 6), (8, 8)], 1),
            (&[(8, 8), (6, 6)], 0),
            (&[(6, 6), (6, 6)], 0),
            (&[(6, 6), (7, 10)], 0),
        ];
        for (stored, joined) in cases {
            let mut memory = Memory::default();
            let stories: Vec<StoryId> = stored
                .iter()
                .enumerate()
                .map(|(n, (shared, size))| {
                    memory.add_sample("a", n as i64, sample_sharing(&wire, *shared, *size))
                })
                .collect();
            let added = memory.add(&article("b", "1", "https://b.example/1", "Tram", WIRE), 5);
            assert_eq!(added.story, stories[*joined], "{stored:?}");
        }
    }

    /// A hash counts only for its [`POSTINGS_CAP`] newest items: shared by more, it is a
    /// stock phrase, and an older copy found only through such hashes is out of reach.
    #[test]
    fn a_hash_shared_by_too_many_newer_items_is_no_evidence() {
        let wire = wire_sample();
        for (newer, joins) in [(0, true), (POSTINGS_CAP - 1, true), (POSTINGS_CAP, false)] {
            let mut memory = Memory::default();
            let copy = memory.add_sample("a", 0, wire[..6].to_vec());
            for hash in &wire[..6] {
                for _ in 0..newer {
                    memory.add_sample("c", 1, sample_sharing(&[*hash], 1, 8));
                }
            }
            let added = memory.add(&article("b", "1", "https://b.example/1", "Tram", WIRE), 2);
            assert_eq!(added.story == copy, joins, "{newer} newer items per hash");
        }
    }

    #[test]
    fn boilerplate_does_not_make_two_stories_look_alike() {
        // Long enough to fingerprint on its own.
        let line = "Cet article vous est offert par la rédaction du Quotidien de la Vallée, \
            votre journal indépendant depuis mille neuf cent douze, chaque matin dans vos boîtes \
            aux lettres et sur votre téléphone, avec les annonces légales du département.";
        let brief = |source: &str, n: i64, line: &str| {
            let text = format!("Brève numéro {n} sans rapport avec les autres. {line}");
            article(
                source,
                &n.to_string(),
                &format!("https://{source}.example/{n}"),
                "Brève",
                &text,
            )
        };
        let footer = format!("Lire aussi : {line}");
        check(vec![
            (
                "a shared line, not boilerplate yet, two sources",
                vec![(brief("a", 0, line), 0)],
                (brief("b", 1, line), 1),
                Some((0, Rule::NearDuplicate)),
            ),
            (
                "a shared footer",
                vec![(brief("a", 0, &footer), 0)],
                (brief("b", 1, &footer), 1),
                None,
            ),
            (
                "a line the source repeated in two earlier items",
                vec![(brief("q", 0, line), 0), (brief("q", 1, line), 1)],
                (brief("q", 2, line), 2),
                None,
            ),
            (
                "a re-post of known lines only is compared whole",
                vec![
                    (article("q", "0", "https://q.example/0", "Tram", WIRE), 0),
                    (article("q", "1", "https://q.example/1", "Tram", WIRE), 1),
                ],
                (article("q", "2", "https://q.example/2", "Tram", WIRE), 2),
                Some((0, Rule::NearDuplicate)),
            ),
        ]);
    }

    #[test]
    fn the_story_text_leaves_out_footers_and_recurring_sentences() {
        let sentences = |text: &str, earlier: &[i64]| -> Vec<Sentence> {
            boilerplate::segments("", text)
                .into_iter()
                .zip(earlier)
                .map(|(segment, earlier_items)| Sentence {
                    segment,
                    earlier_items: *earlier_items,
                })
                .collect()
        };
        let of = |text: &str| {
            let words = crate::matching::normalize::tokens(text);
            sketch(words.iter().map(String::as_str))
        };
        // Each long enough to make a usable sample with one other.
        let [first, second, third] = [
            "Le conseil régional a voté mardi le financement d'une nouvelle ligne de tramway \
             entre la gare et le campus universitaire, un projet discuté depuis plus de dix ans.",
            "La ligne mesurera douze kilomètres et desservira dix-huit arrêts, du quartier de la \
             gare jusqu'aux nouvelles résidences étudiantes construites au nord du campus.",
            "Les travaux doivent commencer au printemps prochain et les premières rames circuler \
             trois ans plus tard, selon le président du conseil régional, confiant dans le budget.",
        ];
        let text = format!("{first} {second} Lire aussi : la grève. {third}");
        let below = RECURRING_MIN - 1;
        // (earlier items per sentence, the text fingerprinted)
        let cases: Vec<([i64; 4], String)> = vec![
            ([0, 0, 0, 0], format!("{first} {second} {third}")),
            (
                [0, below, RECURRING_MIN, 0],
                format!("{first} {second} {third}"),
            ),
            ([0, RECURRING_MIN, 0, 0], format!("{first} {third}")),
            (
                [RECURRING_MIN, 9, 9, RECURRING_MIN],
                format!("{first} {second} {third}"),
            ),
        ];
        for (earlier, expected) in cases {
            let (sketch, exact) = story_fingerprint(&sentences(&text, &earlier));
            assert!(sketch.is_usable(), "{earlier:?}");
            assert_eq!(sketch, of(&expected), "{earlier:?}");
            assert_eq!(exact, None, "{earlier:?}");
        }
        let short = "Nordvent recrute 40 techniciens à Brest. Lire aussi : la grève.";
        let (sketch, exact) = story_fingerprint(&sentences(short, &[0, 0]));
        assert!(!sketch.is_usable());
        assert_eq!(
            exact,
            posts::exact_key("nordvent recrute 40 techniciens a brest".split(' '))
        );
    }
}
