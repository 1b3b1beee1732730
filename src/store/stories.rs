//! Story assignment and story queries: the SQL side of [`crate::dedup`].
//!
//! [`crate::dedup::assign`] decides which story a new item joins (the rules, their order and
//! their thresholds live there); this module answers its questions from the database (the
//! [`StoryLookup`] implementation below), counts the item's sentences for its source's
//! recurring lines, and writes the item, its story and its index rows.
//!
//! Assignment runs inside `record_run`'s transaction, item by item, so a crash mid-poll
//! leaves either the items with their stories or neither. The near-duplicate lookup probes
//! `story_fingerprints` once per sampled hash of the new item, within the story window, and
//! reads at most [`POSTINGS_CAP`] rows per hash (the newest, all the decision reads): the
//! cost of one assignment is therefore bounded by the sample size times the cap, whatever
//! the number of stored items.
//!
//! Within one batch of source runs (see `store`), the postings read per hash and the
//! candidates read per item are kept in a [`StoryCache`] and brought up to date by this
//! module's own inserts: copies of one story arrive together, and a burst of them probed
//! the same frequent hashes again and again. The cache answers exactly what the index would
//! (the batch's transaction holds the write lock, so nothing else writes meanwhile) and is
//! dropped when the batch ends.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use url::Url;

use super::{Context, Result, Store, StoreError, from_db, to_db};
use crate::dedup::boilerplate::{self, Segment};
use crate::dedup::story::{Candidate, Decision, NewItem, Sentence};
use crate::dedup::{DedupSettings, StoryLookup, canonical_link};
use crate::model::{Item, ItemId, SourceId, StoryId, StoryInfo, WatchId};

pub use crate::dedup::Assignment;
/// Rows read per sampled hash when looking for near duplicates: all that
/// [`crate::dedup::assign`] reads.
pub use crate::dedup::story::POSTINGS_CAP;

/// Posting rows a [`StoryCache`] holds at most (~1 MB); past that it starts again empty.
const CACHE_ROWS: usize = 65_536;

/// What story assignment read from the index in the open batch (see the module doc).
#[derive(Debug, Default)]
pub(super) struct StoryCache {
    /// Per hash: the window start it was read for, and its newest rows in that window as
    /// the index orders them, newest first: `(seen_at, item_id)`, at most [`POSTINGS_CAP`].
    postings: HashMap<u64, (i64, Vec<(i64, i64)>)>,
    rows: usize,
    /// Per stored item: sample size (if fingerprinted), story, source.
    candidates: HashMap<i64, Option<Candidate>>,
    /// The sentences counted in the current run, written once at its end by
    /// [`record_sentences`]: the source, and per sentence key (items before the run, items
    /// of the run).
    /// A feed's template lines recur in most of its items: counted here, they cost one read
    /// and one write per run instead of two statements per item.
    sentences: Option<(String, SentenceCounts)>,
}

type SentenceCounts = HashMap<u64, (i64, i64)>;

impl StoryCache {
    pub(super) fn clear(&mut self) {
        self.postings.clear();
        self.candidates.clear();
        self.sentences = None;
        self.rows = 0;
    }

    /// Records an index insert into the postings already read for its hash.
    fn indexed(&mut self, hash: u64, seen_at: i64, item_id: i64) {
        let Some((window_start, rows)) = self.postings.get_mut(&hash) else {
            return;
        };
        let row = (seen_at, item_id);
        if seen_at < *window_start || rows.contains(&row) {
            return;
        }
        // Newest first: the index's backward order, (seen_at, item_id) descending.
        let at = rows.partition_point(|r| *r > row);
        if at >= POSTINGS_CAP {
            return;
        }
        rows.insert(at, row);
        if rows.len() > POSTINGS_CAP {
            rows.pop();
        } else {
            self.rows += 1;
        }
    }
}

/// Inserts one row of the fingerprint index.
fn index_hash(
    tx: &Connection,
    cache: &mut StoryCache,
    hash: u64,
    seen_at: i64,
    item_id: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO story_fingerprints (hash, seen_at, item_id) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![hash as i64, seen_at, item_id])?;
    cache.indexed(hash, seen_at, item_id);
    Ok(())
}

/// The newest rows of `hash` since `window_start`, newest first, at most [`POSTINGS_CAP`].
fn postings<'c>(
    tx: &Connection,
    cache: &'c mut StoryCache,
    hash: u64,
    window_start: i64,
) -> Result<&'c [(i64, i64)]> {
    let fresh = cache
        .postings
        .get(&hash)
        .is_some_and(|(read_from, _)| *read_from <= window_start);
    if !fresh {
        let rows: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT seen_at, item_id FROM story_fingerprints WHERE hash = ?1 AND seen_at >= ?2
                  ORDER BY seen_at DESC, item_id DESC LIMIT ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![hash as i64, window_start, POSTINGS_CAP as i64],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?
                .collect()
            })
            .context("probing the fingerprint index")?;
        if let Some((_, old)) = cache.postings.remove(&hash) {
            cache.rows -= old.len();
        }
        // Most hashes of a text are new: remembering them would cost memory and save nothing.
        if rows.is_empty() {
            return Ok(&[]);
        }
        if cache.rows + rows.len() > CACHE_ROWS {
            cache.postings.clear();
            cache.candidates.clear();
            cache.rows = 0;
        }
        cache.rows += rows.len();
        cache.postings.insert(hash, (window_start, rows));
    }
    let rows = cache.postings.get(&hash).map_or(&[][..], |(_, rows)| rows);
    // Read for an earlier window start: the rows before this one are the oldest, at the end.
    let within = rows.partition_point(|(seen_at, _)| *seen_at >= window_start);
    Ok(&rows[..within])
}

/// A stored item as a near-duplicate candidate, read from the database.
fn read_candidate(tx: &Connection, item: ItemId) -> Result<Option<Candidate>> {
    tx.prepare_cached(
        "SELECT length(fingerprint) / 8, story_id, source_id FROM items WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([item.0], |row| {
            Ok(Candidate {
                sample: row
                    .get::<_, Option<i64>>(0)?
                    .map(|size| usize::try_from(size).unwrap_or(0)),
                story: row.get::<_, Option<i64>>(1)?.map(StoryId),
                source: SourceId::new(row.get::<_, String>(2)?),
            })
        })
        .optional()
    })
    .context("reading a candidate duplicate")
}

/// Story assignment's questions, answered inside the run's transaction, from the batch's
/// [`StoryCache`] when it holds the answer.
struct Lookup<'a> {
    tx: &'a Connection,
    cache: &'a mut StoryCache,
}

impl StoryLookup for Lookup<'_> {
    type Error = StoreError;

    fn story_at_url(
        &mut self,
        canonical: &str,
        other_than: Option<&SourceId>,
    ) -> Result<Option<StoryId>> {
        let story = match other_than {
            Some(source) => self
                .tx
                .prepare_cached(
                    "SELECT story_id FROM items
                      WHERE canonical_url = ?1 AND source_id <> ?2 AND story_id IS NOT NULL
                      ORDER BY id LIMIT 1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![canonical, source.as_str()], |row| {
                        row.get::<_, i64>(0)
                    })
                    .optional()
                })
                .context("looking up an item by canonical URL")?,
            None => self
                .tx
                .prepare_cached(
                    "SELECT story_id FROM items WHERE canonical_url = ?1 AND story_id IS NOT NULL
                      ORDER BY id LIMIT 1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([canonical], |row| row.get::<_, i64>(0))
                        .optional()
                })
                .context("looking up a quoted item")?,
        };
        Ok(story.map(StoryId))
    }

    fn items_sharing(
        &mut self,
        hash: u64,
        since: DateTime<Utc>,
    ) -> Result<impl Iterator<Item = ItemId>> {
        let rows = postings(self.tx, self.cache, hash, to_db(since))?;
        Ok(rows.iter().map(|(_, item_id)| ItemId(*item_id)))
    }

    fn candidate(&mut self, item: ItemId) -> Result<Option<&Candidate>> {
        let known = match self.cache.candidates.entry(item.0) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(read_candidate(self.tx, item)?),
        };
        Ok(known.as_ref())
    }

    fn story_with_wording(
        &mut self,
        key: u64,
        other_than: &SourceId,
        since: DateTime<Utc>,
    ) -> Result<Option<StoryId>> {
        // Rows of items without a fingerprint are exact-wording keys, not sampled hashes.
        self.tx
            .prepare_cached(
                "SELECT i.story_id FROM story_fingerprints f JOIN items i ON i.id = f.item_id
                  WHERE f.hash = ?1 AND f.seen_at >= ?2 AND i.source_id <> ?3
                    AND i.fingerprint IS NULL AND i.story_id IS NOT NULL
                  ORDER BY f.seen_at LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![key as i64, to_db(since), other_than.as_str()],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
            })
            .context("looking up a post with the same text")
            .map(|story| story.map(StoryId))
    }
}

/// What story assignment needs of an item that no query decides: its canonical URL, its
/// outlet and its sentences. Computed by [`prepare`] before the store is locked, in the
/// caller's thread, for every item of a run (most turn out to be stored already: cheap
/// work spent outside the one lock, rather than less work inside it).
#[derive(Debug)]
pub(super) struct Prepared {
    canonical: Option<String>,
    outlet: String,
    /// Distinct sentences, in order.
    segments: Vec<Segment>,
}

pub(super) fn prepare(item: &Item, source_url: &str, settings: &DedupSettings) -> Prepared {
    let canonical = item
        .url
        .as_deref()
        .and_then(|url| canonical_link(url, &settings.extra_tracking_params));
    let outlet = outlet_of(canonical.as_deref(), source_url, item.source.as_str());
    let mut segments = boilerplate::segments(&item.title, &item.text);
    let mut seen_keys = std::collections::HashSet::new();
    segments.retain(|s| seen_keys.insert(s.key));
    Prepared {
        canonical,
        outlet,
        segments,
    }
}

/// Stores a new item with its canonical URL, fingerprint, outlet and story; returns its id.
///
/// The story is decided ([`crate::dedup::assign`]) before the item is written, so the item
/// goes in whole, in one insert (an update after the insert rewrote the row and two of its
/// index entries); the decision's lookups cannot see the new item. The id is the one SQLite
/// would have chosen (one past the largest), taken explicitly so that a new story can name
/// the item as its representative before the item exists.
pub(super) fn store_new_item(
    tx: &Connection,
    cache: &mut StoryCache,
    item: &Item,
    prepared: Prepared,
    now: DateTime<Utc>,
    settings: &DedupSettings,
) -> Result<(i64, Assignment)> {
    let Prepared {
        canonical,
        outlet,
        segments,
    } = prepared;
    let sentences = count_sentences(tx, cache, item, segments, now)?;
    let new = NewItem {
        item,
        canonical: canonical.as_deref(),
        sentences: &sentences,
        now,
    };
    let Decision {
        joins,
        sketch,
        exact,
    } = crate::dedup::assign(&new, settings, &mut Lookup { tx, cache })?;
    let item_id: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM items")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .context("numbering a new item")?;
    let assignment = match joins {
        Some(joined) => {
            tx.prepare_cached(
                "UPDATE stories SET items = items + 1, last_seen_at = MAX(last_seen_at, ?2) WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![joined.story.0, to_db(now)]))
            .context("adding an item to a story")?;
            Assignment::joined(joined)
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO stories (representative_item_id, first_seen_at, last_seen_at, items)
                 VALUES (?1, ?2, ?2, 1)",
            )
            .and_then(|mut stmt| stmt.execute(params![item_id, to_db(now)]))
            .context("starting a story")?;
            Assignment::New(StoryId(tx.last_insert_rowid()))
        }
    };
    let usable = sketch.is_usable();
    tx.prepare_cached(
        "INSERT INTO items (id, source_id, identity, url, title, text, published_at, first_seen_at,
                           last_seen_at, author, canonical_url, outlet, fingerprint,
                           fingerprint_shingles, story_id, lang)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            item_id,
            item.source.as_str(),
            item.identity,
            item.url,
            item.title,
            item.text,
            item.published.map(to_db),
            to_db(now),
            item.author,
            canonical,
            outlet,
            usable.then(|| sketch.to_bytes()),
            sketch.shingles as i64,
            assignment.story().0,
            item.lang
        ])
    })
    .context("storing an item")?;
    if let Some(key) = exact {
        // In the fingerprint index, under its own seed; the item keeps no fingerprint, which
        // is how `story_with_wording` tells these rows from sampled hashes.
        index_hash(tx, cache, key, to_db(now), item_id).context("indexing a short text")?;
    }
    if usable {
        for hash in &sketch.hashes {
            index_hash(tx, cache, *hash, to_db(now), item_id).context("indexing a fingerprint")?;
        }
    }
    Ok((item_id, assignment))
}

/// Counts an item's sentences for its source's recurring lines (written at the run's end
/// by [`record_sentences`]) and returns each with the number of the source's items, before
/// this one, that had it.
fn count_sentences(
    tx: &Connection,
    cache: &mut StoryCache,
    item: &Item,
    segments: Vec<Segment>,
    now: DateTime<Utc>,
) -> Result<Vec<Sentence>> {
    if cache
        .sentences
        .as_ref()
        .is_some_and(|(source, _)| source != item.source.as_str())
    {
        record_sentences(tx, cache, now)?;
    }
    let (_, counted) = cache
        .sentences
        .get_or_insert_with(|| (item.source.as_str().to_string(), HashMap::new()));
    let mut lookup = tx
        .prepare_cached("SELECT items FROM source_sentences WHERE source_id = ?1 AND key = ?2")
        .context("reading recurring sentences")?;
    let mut sentences = Vec::with_capacity(segments.len());
    for segment in segments {
        let (before, this_run) = match counted.entry(segment.key) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let before: i64 = lookup
                    .query_row(params![item.source.as_str(), segment.key as i64], |row| {
                        row.get(0)
                    })
                    .optional()
                    .context("reading recurring sentences")?
                    .unwrap_or(0);
                new.insert((before, 0))
            }
        };
        let earlier_items = *before + *this_run;
        *this_run += 1;
        sentences.push(Sentence {
            segment,
            earlier_items,
        });
    }
    Ok(sentences)
}

/// Writes the sentence counts of the current run (see [`StoryCache`]), in key order.
pub(super) fn record_sentences(
    tx: &Connection,
    cache: &mut StoryCache,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some((source, counted)) = cache.sentences.take() else {
        return Ok(());
    };
    let mut counted: Vec<(u64, i64)> = counted
        .into_iter()
        .map(|(key, (_, this_run))| (key, this_run))
        .collect();
    counted.sort_unstable_by_key(|(key, _)| *key as i64);
    let mut count = tx
        .prepare_cached(
            "INSERT INTO source_sentences (source_id, key, items, last_seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source_id, key) DO UPDATE SET items = items + excluded.items,
                                                        last_seen_at = excluded.last_seen_at",
        )
        .context("counting recurring sentences")?;
    for (key, items) in counted {
        count
            .execute(params![source, key as i64, items, to_db(now)])
            .context("counting recurring sentences")?;
    }
    Ok(())
}

/// The outlet an item counts for: its link's host, else the source's host, else the source.
fn outlet_of(canonical: Option<&str>, source_url: &str, source_id: &str) -> String {
    let host = |link: &str| {
        Url::parse(link)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches("www.").to_string())
            })
            .filter(|h| !h.is_empty())
    };
    canonical
        .and_then(host)
        .or_else(|| host(source_url))
        .unwrap_or_else(|| source_id.to_string())
}

/// The story of a stored item, on a connection or inside a transaction.
pub(super) fn item_story(conn: &Connection, item: crate::model::ItemId) -> Result<Option<StoryId>> {
    conn.prepare_cached("SELECT story_id FROM items WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([item.0], |row| row.get::<_, Option<i64>>(0))
                .optional()
        })
        .context("reading an item's story")
        .map(|id| id.flatten().map(StoryId))
}

impl Store {
    /// What digests show of each story: representative title and link, earliest time,
    /// outlets and item count. Unknown ids are absent from the map.
    pub fn stories_info(&self, ids: &[StoryId]) -> Result<HashMap<StoryId, StoryInfo>> {
        let conn = self.conn();
        let mut head = conn
            .prepare_cached(
                "SELECT i.title, i.url, s.last_seen_at, s.first_seen_at,
                        (SELECT MIN(COALESCE(published_at, first_seen_at)) FROM items WHERE story_id = s.id),
                        (SELECT COUNT(*) FROM items WHERE story_id = s.id)
                   FROM stories s JOIN items i ON i.id = s.representative_item_id
                  WHERE s.id = ?1",
            )
            .context("reading a story")?;
        let mut outlets = conn
            .prepare_cached(
                "SELECT COALESCE(outlet, source_id) AS o FROM items WHERE story_id = ?1
                  GROUP BY o ORDER BY MIN(id)",
            )
            .context("reading a story's outlets")?;
        let mut infos = HashMap::with_capacity(ids.len());
        for id in ids {
            let Some(row) = head
                .query_row([id.0], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, Option<i64>>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .optional()
                .context("reading a story")?
            else {
                continue;
            };
            let (title, url, last_seen, first_seen, earliest, items) = row;
            let names = outlets
                .query_map([id.0], |row| row.get::<_, String>(0))
                .context("reading a story's outlets")?
                .collect::<rusqlite::Result<Vec<_>>>()
                .context("reading a story's outlets")?;
            infos.insert(
                *id,
                StoryInfo {
                    id: *id,
                    title,
                    url,
                    earliest: from_db(earliest.unwrap_or(first_seen).min(first_seen)),
                    last_seen: from_db(last_seen),
                    outlets: names,
                    items: items as usize,
                },
            );
        }
        Ok(infos)
    }

    /// Stories that gained an item since `since` (only those with a mention of `watch`, when
    /// given), biggest (most outlets, then items) and newest first.
    pub fn stories_since(
        &self,
        since: DateTime<Utc>,
        watch: Option<&WatchId>,
    ) -> Result<Vec<StoryInfo>> {
        let ids: Vec<StoryId> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT s.id FROM stories s
                      WHERE s.last_seen_at >= ?1
                        AND (?2 IS NULL OR EXISTS (
                              SELECT 1 FROM items i JOIN mentions m ON m.item_id = i.id
                               WHERE i.story_id = s.id AND m.watch_id = ?2))",
                )
                .context("listing stories")?;
            stmt.query_map(params![to_db(since), watch.map(WatchId::as_str)], |row| {
                Ok(StoryId(row.get(0)?))
            })
            .context("listing stories")?
            .collect::<rusqlite::Result<_>>()
            .context("listing stories")?
        };
        let infos = self.stories_info(&ids)?;
        let mut list: Vec<StoryInfo> = infos.into_values().collect();
        list.sort_by(|a, b| {
            (b.outlets.len(), b.items, b.last_seen, b.id).cmp(&(
                a.outlets.len(),
                a.items,
                a.last_seen,
                a.id,
            ))
        });
        Ok(list)
    }

    /// The story of a stored item.
    pub fn story_of(&self, item: crate::model::ItemId) -> Result<Option<StoryId>> {
        item_story(&self.conn(), item)
    }

    /// Number of stories stored.
    pub fn story_count(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM stories", [], |row| row.get(0))
            .context("counting stories")
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::dedup::story::tests::WIRE;
    use crate::model::{Field, SourceId, TermHit, WatchMatch};
    use crate::store::{Matched, Parsed, RunRecord};

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
            + Duration::hours(hours)
    }

    fn item(source: &str, identity: &str, url: &str, title: &str, text: &str) -> Item {
        Item {
            source: SourceId::new(source),
            identity: identity.to_string(),
            url: Some(url.to_string()),
            title: title.to_string(),
            text: text.to_string(),
            published: None,
            author: None,
            lang: None,
        }
    }

    fn hit() -> Vec<WatchMatch> {
        vec![WatchMatch {
            watch: WatchId::new("tram"),
            held: Vec::new(),
            hits: vec![TermHit {
                term: "tramway".into(),
                field: Field::Body,
                position: 0,
                start: 0,
                end: 7,
            }],
        }]
    }

    fn record(store: &Store, source: &str, now: DateTime<Utc>, items: Vec<Item>) {
        let id = SourceId::new(source);
        let items: Vec<Matched> = items
            .into_iter()
            .map(|i| Matched::unscored(i, hit()))
            .collect();
        store
            .record_run(&RunRecord {
                source: id,
                url: format!("https://{source}.example/feed.xml"),
                now,
                next_poll_at: now,
                validators: Some(Default::default()),
                body_hash: None,
                redirected_to: None,
                recovered_from: None,
                parsed: Some(Parsed {
                    items,
                    backfill: crate::store::Backfill::No,
                    scoring: None,
                }),
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn stories_of(store: &Store) -> Vec<StoryId> {
        let mut ids = Vec::new();
        store
            .for_each_mention(at(-1000), None, |m| -> Result<()> {
                ids.push(m.story);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        ids
    }

    fn open() -> Store {
        Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Short posts: grouped by their exact wording across sources, never within one source,
    /// never below the word minimum; a post linking a stored item joins its story.
    #[test]
    fn posts_join_by_wording_and_by_quoted_link() {
        let post = |source: &str, id: &str, text: &str| {
            item(
                source,
                id,
                &format!("https://{source}.example/@x/{id}"),
                "",
                text,
            )
        };
        /// Name, posts (source, text) recorded in order, whether the first two share a story.
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case<'_>] = &[
            (
                "same wording, two sources",
                &[
                    ("a", "Nordvent recrute 40 techniciens à Brest #emploi"),
                    ("b", "Nordvent recrute 40 TECHNICIENS à Brest emploi"),
                ],
                true,
            ),
            (
                "same wording, one source",
                &[
                    ("a", "Nordvent recrute 40 techniciens à Brest #emploi"),
                    ("a", "Nordvent recrute 40 techniciens à Brest #emploi"),
                ],
                false,
            ),
            (
                "too few words",
                &[
                    ("a", "Merci Nordvent, bravo !"),
                    ("b", "Merci Nordvent, bravo !"),
                ],
                false,
            ),
            (
                "one word changed",
                &[
                    ("a", "Nordvent recrute 40 techniciens à Brest #emploi"),
                    ("b", "Nordvent recrute 50 techniciens à Brest #emploi"),
                ],
                false,
            ),
            (
                "a quote of the first post",
                &[
                    ("a", "Nordvent ouvre ses portes"),
                    ("a", "Bonne idée. RE: https://a.example/@x/0."),
                ],
                true,
            ),
        ];
        for (name, posts, joined) in cases {
            let store = open();
            for (n, (source, text)) in posts.iter().enumerate() {
                record(
                    &store,
                    source,
                    at(n as i64),
                    vec![post(source, &n.to_string(), text)],
                );
            }
            let stories = stories_of(&store);
            assert_eq!(stories.len(), 2, "{name}");
            assert_eq!(stories[0] == stories[1], *joined, "{name}");
        }
    }

    #[test]
    fn same_canonical_url_joins_the_story_whatever_the_text() {
        let store = open();
        record(
            &store,
            "a",
            at(0),
            vec![item(
                "a",
                "1",
                "http://news.example/x?utm_source=rss",
                "A",
                "short",
            )],
        );
        record(
            &store,
            "b",
            at(1),
            vec![item("b", "9", "https://news.example/x#top", "B", "other")],
        );
        let stories = stories_of(&store);
        assert_eq!(stories.len(), 2);
        assert_eq!(stories[0], stories[1]);
    }

    #[test]
    fn entries_of_one_feed_sharing_a_link_stay_apart() {
        let store = open();
        record(
            &store,
            "a",
            at(0),
            vec![
                item(
                    "a",
                    "1",
                    "http://blog.example/2017/06/26.html#a080605",
                    "",
                    "Un billet.",
                ),
                item(
                    "a",
                    "2",
                    "http://blog.example/2017/06/26.html#a030658",
                    "",
                    "Un autre.",
                ),
            ],
        );
        let stories = stories_of(&store);
        assert_ne!(stories[0], stories[1]);
    }

    #[test]
    fn near_duplicates_join_within_the_window_only() {
        let store = open();
        record(
            &store,
            "a",
            at(0),
            vec![item("a", "1", "https://a.example/1", "Tram", WIRE)],
        );
        let copy = format!("Enfin une décision. {WIRE} Lire aussi : le budget 2027.");
        record(
            &store,
            "b",
            at(5),
            vec![item("b", "1", "https://b.example/1", "Le tram voté", &copy)],
        );
        record(
            &store,
            "c",
            at(5 + 73),
            vec![item("c", "1", "https://c.example/1", "Tram", WIRE)],
        );
        let stories = stories_of(&store);
        assert_eq!(stories[0], stories[1], "copy within 72 h");
        assert_ne!(stories[0], stories[2], "copy seen 78 h after the first");
        let info = store
            .stories_info(&[stories[0]])
            .unwrap_or_else(|e| panic!("{e}"));
        let info = &info[&stories[0]];
        assert_eq!(info.title, "Tram");
        assert_eq!(info.outlets, ["a.example", "b.example"]);
        assert_eq!(info.items, 2);
        assert_eq!(info.earliest, at(0));
    }

    #[test]
    fn a_retitled_repoll_updates_the_item_without_a_new_mention_or_story() {
        let store = open();
        record(
            &store,
            "a",
            at(0),
            vec![item("a", "g1", "https://a.example/1", "Tram", WIRE)],
        );
        record(
            &store,
            "a",
            at(1),
            vec![item(
                "a",
                "g1",
                "https://a.example/1",
                "Tram (mis à jour)",
                WIRE,
            )],
        );
        let counts = store.counts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((counts.items, counts.mentions), (1, 1));
        assert_eq!(store.story_count().unwrap_or_else(|e| panic!("{e}")), 1);
        let stories = stories_of(&store);
        let info = store
            .stories_info(&stories)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info[&stories[0]].title, "Tram (mis à jour)");
    }

    #[test]
    fn items_stored_before_stories_existed_become_stories_of_their_own() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(super::super::migrations::MIGRATIONS[0])
                .and_then(|()| conn.pragma_update(None, "user_version", 1))
                .and_then(|()| {
                    conn.execute_batch(
                        "INSERT INTO items (id, source_id, identity, url, title, text, first_seen_at, last_seen_at)
                         VALUES (7, 'a', 'guid:1', 'https://a.example/1', 'Old', 'old text', 0, 0);
                         INSERT INTO mentions (item_id, watch_id, terms, created_at) VALUES (7, 'tram', '[]', 0);",
                    )
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut stories = Vec::new();
        store
            .for_each_mention(from_db(0), None, |m| -> Result<()> {
                stories.push(m.story);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stories, [StoryId(7)]);
        let info = store
            .stories_info(&stories)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            info[&StoryId(7)].outlets,
            ["a"],
            "no outlet recorded: the source id stands in"
        );
        // A new copy of the old item's link joins nothing (old items have no canonical URL)
        // but gets a story of its own, and the ids do not collide.
        record(
            &store,
            "b",
            at(0),
            vec![item("b", "1", "https://a.example/1", "New", WIRE)],
        );
        assert_eq!(store.story_count().unwrap_or_else(|e| panic!("{e}")), 2);
    }

    /// Runs written into one batch (while another caller waits for the connection) find
    /// the same stories as runs committed one by one, though the batch answers its lookups
    /// from its cache; a full batch is committed without waiting for the burst to end, and
    /// the rest when the last caller leaves.
    #[test]
    fn batched_runs_find_the_same_stories_and_commit_when_full() {
        let sentences = [
            "Le conseil régional finance une nouvelle ligne de tramway vers le campus",
            "La ligne mesurera douze kilomètres et desservira dix-huit arrêts en ville",
            "Les travaux commenceront au printemps prochain selon le président du conseil",
            "Les syndicats appellent à la grève dans les transports publics de la région",
            "Le budget prévoit aussi des pistes cyclables le long de la nouvelle ligne",
        ];
        let runs: Vec<(String, Vec<Item>)> = (0..2 * super::super::BATCH_RUNS + 3)
            .map(|s| {
                let source = format!("s{s}");
                let items = (0..10)
                    .map(|j| {
                        let text = format!(
                            "{}. {} {}",
                            sentences[(s + j) % 5],
                            sentences[(s + j + 1) % 5],
                            sentences[(s + j + 2) % 5]
                        );
                        let title = format!("{} ({s}-{j})", sentences[(s + j) % 5]);
                        let url = format!("https://{source}.example/{j}");
                        item(&source, &j.to_string(), &url, &title, &text)
                    })
                    .collect();
                (source, items)
            })
            .collect();
        let stored = |path: &std::path::Path| -> i64 {
            rusqlite::Connection::open(path)
                .and_then(|c| c.query_row("SELECT COUNT(*) FROM items", [], |row| row.get(0)))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let stories = |batched: bool| -> Vec<StoryId> {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("batch.db");
            let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
            if batched {
                store
                    .waiting
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            for (n, (source, items)) in runs.iter().enumerate() {
                record(
                    &store,
                    source,
                    at(0) + Duration::seconds(n as i64),
                    items.clone(),
                );
                let committed = if batched {
                    (n + 1) / super::super::BATCH_RUNS * super::super::BATCH_RUNS
                } else {
                    n + 1
                };
                assert_eq!(
                    stored(&path),
                    committed as i64 * 10,
                    "batched {batched}, run {n}"
                );
            }
            if batched {
                store
                    .waiting
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
            // Any other call commits an open batch first.
            let stories = stories_of(&store);
            assert_eq!(stored(&path), runs.len() as i64 * 10);
            stories
        };
        let one_by_one = stories(false);
        let distinct: std::collections::HashSet<_> = one_by_one.iter().collect();
        assert!(distinct.len() < one_by_one.len() / 2, "copies make stories");
        assert_eq!(stories(true), one_by_one);
    }

    /// A run that panics halfway may have written half of itself: its whole batch is
    /// rolled back (the runs before it too), and the store goes on.
    #[test]
    fn a_run_cut_short_by_a_panic_leaves_nothing_of_its_batch() {
        let store = open();
        // Another caller "waits": the batch stays open after the first run.
        store
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        record(
            &store,
            "a",
            at(0),
            vec![item("a", "1", "https://a.example/1", "Tram", WIRE)],
        );
        let cut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.batch_conn().in_batch(|tx, _| -> Result<()> {
                tx.execute(
                    "INSERT INTO items (source_id, identity, title, text, first_seen_at, last_seen_at)
                     VALUES ('b', 'half', 't', 't', 0, 0)",
                    [],
                )
                .context("writing half a run")?;
                panic!("cut short");
            })
        }));
        assert!(cut.is_err());
        store
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let counts = store.counts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((counts.items, counts.mentions), (0, 0));
        record(
            &store,
            "a",
            at(1),
            vec![item("a", "1", "https://a.example/1", "Tram", WIRE)],
        );
        let counts = store.counts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((counts.items, counts.mentions), (1, 1));
    }

    #[test]
    fn a_source_reposting_one_text_under_new_identities_keeps_one_story() {
        let store = open();
        for n in 0..4 {
            record(
                &store,
                "a",
                at(n),
                vec![item(
                    "a",
                    &format!("g{n}"),
                    &format!("https://a.example/{n}"),
                    "Tram",
                    WIRE,
                )],
            );
        }
        let stories = stories_of(&store);
        assert_eq!(stories.len(), 4);
        assert!(stories.iter().all(|s| *s == stories[0]), "{stories:?}");
    }

    #[test]
    fn a_sentence_a_source_repeats_stops_counting() {
        let store = open();
        let footer = "Cet article vous est offert par la rédaction du Quotidien de la Vallée, \
            votre journal indépendant depuis mille neuf cent douze, chaque matin dans vos boîtes \
            aux lettres et sur votre téléphone, avec les annonces légales du département.";
        for n in 0..3 {
            let text = format!("Brève numéro {n} sans rapport avec les autres. {footer}");
            record(
                &store,
                "q",
                at(n),
                vec![item(
                    "q",
                    &n.to_string(),
                    &format!("https://q.example/{n}"),
                    "Brève",
                    &text,
                )],
            );
        }
        let stories = stories_of(&store);
        assert_eq!(stories.len(), 3);
        // The first two share the footer before it is known as boilerplate (the documented
        // start-up weakness); from the third item on, the footer is stripped.
        assert_ne!(stories[2], stories[0], "{stories:?}");
        assert_ne!(stories[2], stories[1], "{stories:?}");
    }
}
