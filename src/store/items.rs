//! Items and source runs: [`Store::record_run`] writes one successful poll whole, inside the
//! open batch (see `store`): the source's state and health, the document's items with their
//! stories, their mentions and scores, and the full-text index.
//!
//! The caller hands each item over with its matches ([`Matched`]) and how to score them
//! ([`Scoring`](crate::model::Scoring)). The story side of a score (outlets, recent outlets)
//! depends on the items written before it in the same run, so it is counted here, in the
//! run's transaction, and the caller's pure scoring function turns it into the number and
//! reasons stored: the store counts, the scorer decides. The trade-off: a second backend
//! must call it at the same point (once the item has its story, before its mentions are
//! written), or the scores would differ.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::mentions::{MentionToStore, insert_mention, story_outlets, write_score};
use super::sources::{succeeded, success_details};
use super::{Context, NewMention, Result, Store, StoreError, from_db, opt_from_db, stories, to_db};
use crate::dedup::DedupSettings;
use crate::fetch::Validators;
use crate::model::{Item, ItemId, Scoring, Signals, SourceId, StoryId, WatchId, WatchMatch};

/// One successful poll of a source, recorded whole by [`Store::record_run`]: the source's
/// new state and health and, when its document was parsed, its items with their stories
/// and mentions.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub source: SourceId,
    /// The source's URL as shown (without userinfo).
    pub url: String,
    pub now: DateTime<Utc>,
    pub next_poll_at: DateTime<Utc>,
    /// The answer's validators; `None` keeps the stored ones (a 304).
    pub validators: Option<Validators>,
    /// The hash of the body parsed (see [`body_hash`](super::body_hash)); `None` keeps the
    /// stored one.
    pub body_hash: Option<String>,
    /// Where a permanent redirect (301/308) pointed, if one did.
    pub redirected_to: Option<String>,
    /// The failure streak this success ends, when it was long enough to be reported:
    /// (first failure, consecutive failures).
    pub recovered_from: Option<(DateTime<Utc>, u32)>,
    /// The parsed document; `None` when the poll found nothing new (a 304, or the same body
    /// as last time).
    pub parsed: Option<Parsed>,
}

/// The items of a parsed document, as a run records them.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Every item of the document, with the watches it matched.
    pub items: Vec<Matched>,
    /// Which new items a backfill found (they never alert nor count toward spikes).
    pub backfill: Backfill,
    /// How the mentions are scored (see [`Scoring`]); `None` stores them without a score.
    pub scoring: Option<Scoring>,
}

/// One item of a document and the watches it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub item: Item,
    pub candidates: Vec<Candidate>,
}

/// A watch that matched an item: a mention to store, unless the item has one for this
/// watch already.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub found: WatchMatch,
    /// The item's side of the mention's score (the store adds the story's, see [`Scoring`]).
    pub signals: Signals,
    /// Per alert rule, in the configuration's order: the risk terms its vocabulary finds near
    /// the hits (`None` when the rule reads another watch). Empty when no rule looks at the
    /// run. The store does not read it: it comes back with the new mention.
    pub rule_risk: Vec<Option<Vec<String>>>,
}

impl Matched {
    /// An item and its matches, stored without scores nor rule risks (tools, tests).
    pub fn unscored(item: Item, matches: Vec<WatchMatch>) -> Matched {
        let candidates = matches
            .into_iter()
            .map(|found| Candidate {
                found,
                signals: Signals::default(),
                rule_risk: Vec::new(),
            })
            .collect();
        Matched { item, candidates }
    }
}

/// Which items of a run were found by a backfill: published before veille looked, so
/// old news to everyone but the database. A mention of an item seen before (a watch added
/// to an old item) is always a backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// A normal poll: every new item is live.
    No,
    /// The source's first successful poll: everything it carries was there before us.
    All,
    /// The first poll after a long outage: items published before this instant (and undated
    /// ones) are backfill; fresher ones are live.
    PublishedBefore(DateTime<Utc>),
}

impl Backfill {
    fn of(self, item: &Item) -> bool {
        match self {
            Backfill::No => false,
            Backfill::All => true,
            Backfill::PublishedBefore(cutoff) => item.published.is_none_or(|p| p < cutoff),
        }
    }
}

/// What a recorded run changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    pub items_new: usize,
    pub items_seen: usize,
    /// New mentions per watch.
    pub mentions: BTreeMap<WatchId, usize>,
    /// Every new mention, in the order of the run's items (what the alert rules look at;
    /// the pipeline hands them to the alert engine and leaves this empty in its report).
    pub new_mentions: Vec<NewMention>,
}

impl Store {
    /// Records a successful poll in the open batch (see `store`): the source's state
    /// and health and, when its document was parsed, its items (each new one given its story,
    /// see `stories`), their mentions and their scores, atomically.
    pub fn record_run(&self, run: &RunRecord) -> Result<RunStats> {
        let dedup = self.dedup.read().unwrap_or_else(|p| p.into_inner()).clone();
        let prepared: Vec<stories::Prepared> = run
            .parsed
            .iter()
            .flat_map(|parsed| &parsed.items)
            .map(|matched| stories::prepare(&matched.item, &run.url, &dedup))
            .collect();
        self.batch_conn().in_batch(|tx, cache| {
            let Some(parsed) = &run.parsed else {
                succeeded(tx, run)?;
                success_details(tx, run)?;
                return Ok(RunStats::default());
            };
            let (stats, to_index) = write_items(tx, cache, run, parsed, prepared, &dedup)?;
            succeeded(tx, run)?;
            success_details(tx, run)?;
            stories::record_sentences(tx, cache, run.now)?;
            index_text(tx, &to_index)?;
            Ok(stats)
        })
    }

    /// Streams the items first seen since `since`, oldest first, to `each` (for replaying a
    /// query over what was stored). Returns how many were read.
    pub fn for_each_item_since<E>(
        &self,
        since: DateTime<Utc>,
        mut each: impl FnMut(ItemId, Item, DateTime<Utc>) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, source_id, identity, url, title, text, published_at, first_seen_at, author,
                        lang
                   FROM items WHERE first_seen_at >= ?1 ORDER BY first_seen_at, id",
            )
            .context("reading stored items")?;
        let rows = stmt
            .query_map(params![to_db(since)], |row| {
                let item = Item {
                    source: SourceId::new(row.get::<_, String>(1)?),
                    identity: row.get(2)?,
                    url: row.get(3)?,
                    title: row.get(4)?,
                    text: row.get(5)?,
                    published: opt_from_db(row.get(6)?),
                    author: row.get(8)?,
                    lang: row.get(9)?,
                };
                Ok((ItemId(row.get(0)?), item, from_db(row.get(7)?)))
            })
            .context("reading stored items")?;
        let mut count = 0;
        for row in rows {
            let (id, item, first_seen) = row.context("reading an item")?;
            each(id, item, first_seen)?;
            count += 1;
        }
        Ok(count)
    }
}

/// Writes a parsed run's items, stories and mentions, and scores the new mentions (see
/// [`Scoring`]); returns what it changed and the full-text index writes to make.
fn write_items<'r>(
    tx: &Connection,
    cache: &mut stories::StoryCache,
    run: &RunRecord,
    parsed: &'r Parsed,
    prepared: Vec<stories::Prepared>,
    dedup: &DedupSettings,
) -> Result<(RunStats, Vec<IndexWrite<'r>>)> {
    let mut stats = RunStats::default();
    // Full-text index writes, in item order, made once every other write of the run is
    // done: an FTS5 table flushes its pending terms at each statement savepoint, and the
    // item and story writes open one each (see migration "the full-text index is written
    // by record_run"). Not deferred to the batch's commit: a batch's worth of pending
    // terms took 4 MB more at peak, for no measurable gain.
    let mut to_index: Vec<IndexWrite<'r>> = Vec::new();
    for (Matched { item, candidates }, prepared) in parsed.items.iter().zip(prepared) {
        let (item_id, story, is_new) = match upsert_item(tx, item, run.now)? {
            Upserted::New => {
                let (id, assignment) =
                    stories::store_new_item(tx, cache, item, prepared, run.now, dedup)?;
                stats.items_new += 1;
                to_index.push((id, None, item));
                (id, Some(assignment.story()), true)
            }
            Upserted::Seen { id, replaced } => {
                stats.items_seen += 1;
                if replaced.is_some() {
                    to_index.push((id, replaced, item));
                }
                (id, None, false)
            }
        };
        if candidates.is_empty() {
            continue;
        }
        let backfill = !is_new || parsed.backfill.of(item);
        // Read only when a mention is new: most matches of a re-polled feed are not.
        let mut story = story;
        let mut story_side: Option<(usize, usize)> = None;
        for Candidate {
            found,
            signals,
            rule_risk,
        } in candidates
        {
            let mut signals = parsed.scoring.map(|_| signals.clone());
            // A new item's mentions are all new: scored before the insert, so each
            // row is written once. A seen item's are scored only when inserted.
            let mut scored = None;
            if let (true, Some(signals), Some(story), Some(scoring)) =
                (is_new, signals.as_mut(), story, parsed.scoring)
            {
                let side = match story_side {
                    Some(side) => side,
                    None => *story_side.insert(story_outlets(tx, story, run.now, &scoring)?),
                };
                (signals.outlets, signals.recent_outlets) = side;
                scored = Some((scoring.score)(signals));
            }
            let mention = MentionToStore {
                item: item_id,
                watch: &found.watch,
                terms: &found.described(),
                backfill,
                now: run.now,
                scored: scored.as_ref(),
            };
            let Some(id) = insert_mention(tx, &mention)? else {
                continue;
            };
            *stats.mentions.entry(found.watch.clone()).or_default() += 1;
            let story = match story {
                Some(story) => story,
                // Items stored before stories existed are their own story.
                None => *story
                    .insert(stories::item_story(tx, ItemId(item_id))?.unwrap_or(StoryId(item_id))),
            };
            if scored.is_none()
                && let (Some(signals), Some(scoring)) = (signals.as_mut(), parsed.scoring)
            {
                let side = match story_side {
                    Some(side) => side,
                    None => *story_side.insert(story_outlets(tx, story, run.now, &scoring)?),
                };
                (signals.outlets, signals.recent_outlets) = side;
                write_score(tx, id, &(scoring.score)(signals))?;
            }
            stats.new_mentions.push(NewMention {
                id,
                watch: found.watch.clone(),
                story,
                backfill,
                signals,
                rule_risk: rule_risk.clone(),
            });
        }
    }
    Ok((stats, to_index))
}

/// What [`upsert_item`] did.
enum Upserted {
    /// Not stored yet: the caller stores it with its story (`stories::store_new_item`).
    New,
    /// Already stored; `replaced` holds the previous title and text when they changed (the
    /// full-text index must forget them).
    Seen {
        id: i64,
        replaced: Option<(String, String)>,
    },
}

/// Refreshes a stored item (without touching the full-text index: see [`index_text`]).
fn upsert_item(tx: &Connection, item: &Item, now: DateTime<Utc>) -> Result<Upserted> {
    let existing: Option<(i64, Option<(String, String)>)> = tx
        .prepare_cached("SELECT id, title, text FROM items WHERE source_id = ?1 AND identity = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![item.source.as_str(), item.identity], |row| {
                let title = row.get_ref(1)?.as_str()?;
                let text = row.get_ref(2)?.as_str()?;
                let replaced = (title != item.title || text != item.text)
                    .then(|| (title.to_string(), text.to_string()));
                Ok((row.get(0)?, replaced))
            })
            .optional()
        })
        .context("looking up an item")?;
    match existing {
        Some((id, replaced)) => {
            // A re-titled or edited entry updates the stored item; it is not a new one.
            tx.prepare_cached(
                "UPDATE items SET url = ?2, title = ?3, text = ?4, published_at = COALESCE(?5, published_at), last_seen_at = ?6,
                                 author = COALESCE(?7, author), lang = COALESCE(?8, lang)
                  WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![id, item.url, item.title, item.text, item.published.map(to_db), to_db(now), item.author, item.lang])
            })
            .context("updating an item")?;
            Ok(Upserted::Seen { id, replaced })
        }
        None => Ok(Upserted::New),
    }
}

/// One full-text index write of a run: item id, its previous title and text when it had
/// some (an edit), the item as stored now.
type IndexWrite<'a> = (i64, Option<(String, String)>, &'a Item);

/// Brings the full-text index in step with the items a run inserted or edited, in the order
/// they were written: `(item id, its previous title and text if it had some, the item)`.
/// Each write is a single-row VALUES insert, which opens no statement savepoint, so the
/// terms of the whole run reach the index as one segment at commit.
fn index_text(tx: &Connection, writes: &[IndexWrite<'_>]) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut insert = tx
        .prepare_cached("INSERT INTO items_fts (rowid, title, text) VALUES (?1, ?2, ?3)")
        .context("indexing an item for search")?;
    for (id, replaced, item) in writes {
        if let Some((title, text)) = replaced {
            tx.prepare_cached(
                "INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', ?1, ?2, ?3)",
            )
            .and_then(|mut stmt| stmt.execute(params![id, title, text]))
            .context("removing an edited item from the search index")?;
        }
        insert
            .execute(params![id, item.title, item.text])
            .context("indexing an item for search")?;
    }
    Ok(())
}
