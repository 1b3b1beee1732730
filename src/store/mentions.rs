//! Mentions: a run's new ones (one per item and watch), the story side of their score, and
//! reading them back as [`MentionRecord`]s for digests, alerts, the review page and the
//! export.
//!
//! A new item's mentions are scored before they are inserted, so each row is written once;
//! a mention of an item seen before (a watch added since) is scored after its insert, once
//! it is known to be new. The outlet count reads a story's latest [`OUTLET_SCAN`] items
//! only: the score's outlet part saturates long before.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Context, Result, Store, StoreError, from_db, opt_from_db, to_db};
use crate::model::{
    ItemId, MentionId, MentionRecord, Scored, Scoring, Signals, SourceId, StoryId, WatchId,
};

/// A mention a run created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMention {
    pub id: MentionId,
    pub watch: WatchId,
    pub story: StoryId,
    pub backfill: bool,
    /// The whole set of signals (item and story side), when the run was scored: each alert
    /// rule scores them again with its own risk vocabulary.
    pub signals: Option<Signals>,
    /// Its candidate's [`Candidate::rule_risk`](super::Candidate::rule_risk).
    pub rule_risk: Vec<Option<Vec<String>>>,
}

impl Store {
    /// Streams mentions found since `since` (optionally of one watch), oldest first, to `each`.
    /// Returns how many were written.
    pub fn for_each_mention<E>(
        &self,
        since: DateTime<Utc>,
        watch: Option<&WatchId>,
        mut each: impl FnMut(MentionRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{MENTION_SELECT} WHERE m.created_at >= ?1 AND (?2 IS NULL OR m.watch_id = ?2) ORDER BY m.id"
            ))
            .context("exporting mentions")?;
        let rows = stmt
            .query_map(
                params![to_db(since), watch.map(WatchId::as_str)],
                mention_record,
            )
            .context("exporting mentions")?;
        let mut count = 0;
        for row in rows {
            each(row.context("reading a mention")?)?;
            count += 1;
        }
        Ok(count)
    }
}

/// A mention as [`insert_mention`] writes it.
pub(super) struct MentionToStore<'a> {
    pub(super) item: i64,
    pub(super) watch: &'a WatchId,
    pub(super) terms: &'a [&'a str],
    pub(super) backfill: bool,
    pub(super) now: DateTime<Utc>,
    pub(super) scored: Option<&'a Scored>,
}

/// Inserts a mention unless the item already has one for this watch; returns its id when
/// new. A live (not backfill) mention also counts in its watch's hour (the spike baseline).
pub(super) fn insert_mention(
    tx: &Connection,
    mention: &MentionToStore<'_>,
) -> Result<Option<MentionId>> {
    let terms = serde_json::to_string(mention.terms).unwrap_or_else(|_| "[]".to_string());
    // Not RETURNING: SQLite builds a result table for it, a few dozen allocations per row.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO mentions (item_id, watch_id, terms, created_at, backfill, awaiting_alerts, score, reasons)
             VALUES (?1, ?2, ?3, ?4, ?5, NOT ?5, ?6, ?7)
             ON CONFLICT (item_id, watch_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                mention.item,
                mention.watch.as_str(),
                terms,
                to_db(mention.now),
                mention.backfill,
                mention.scored.map(|s| s.score),
                mention.scored.map(|s| reasons_json(&s.reasons)),
            ])
        })
        .context("storing a mention")?;
    let id = (inserted > 0).then(|| tx.last_insert_rowid());
    if id.is_some() && !mention.backfill {
        tx.prepare_cached(
            "INSERT INTO watch_hours (watch_id, hour, mentions) VALUES (?1, ?2, 1)
             ON CONFLICT (watch_id, hour) DO UPDATE SET mentions = mentions + 1",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                mention.watch.as_str(),
                to_db(mention.now).div_euclid(3600)
            ])
        })
        .context("counting a mention in its hour")?;
    }
    Ok(id.map(MentionId))
}

/// Items of a story the score's outlet count looks at: its latest ones. The score's outlet
/// part saturates long before, and a wire story carried by thousands of items would
/// otherwise cost a scan of all of them for each new mention.
const OUTLET_SCAN: i64 = 100;

/// The story side of a score: distinct outlets (over the story's latest [`OUTLET_SCAN`]
/// items), and how many of them carried an item first seen within the scoring's growth
/// window.
pub(super) fn story_outlets(
    tx: &Connection,
    story: StoryId,
    now: DateTime<Utc>,
    scoring: &Scoring,
) -> Result<(usize, usize)> {
    let since = to_db(now) - scoring.growth_window_hours * 3600;
    tx.prepare_cached(
        "SELECT COUNT(DISTINCT o), COUNT(DISTINCT CASE WHEN first_seen_at >= ?2 THEN o END)
           FROM (SELECT COALESCE(outlet, source_id) AS o, first_seen_at FROM items
                  WHERE story_id = ?1 ORDER BY id DESC LIMIT ?3)",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![story.0, since, OUTLET_SCAN], |row| {
            Ok((
                usize::try_from(row.get::<_, i64>(0)?).unwrap_or(0).max(1),
                usize::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })
    })
    .context("counting a story's outlets")
}

fn reasons_json(reasons: &[crate::model::Reason]) -> String {
    serde_json::to_string(reasons).unwrap_or_else(|_| "[]".to_string())
}

pub(super) fn write_score(tx: &Connection, mention: MentionId, scored: &Scored) -> Result<()> {
    let reasons = reasons_json(&scored.reasons);
    tx.prepare_cached("UPDATE mentions SET score = ?2, reasons = ?3 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![mention.0, scored.score, reasons]))
        .context("storing a mention's score")?;
    Ok(())
}

pub(super) const MENTION_SELECT: &str =
    "SELECT m.id, m.watch_id, i.id, i.source_id, i.url, i.title, i.text, i.published_at,
        m.created_at, m.terms, i.story_id, i.outlet, i.author, m.score, m.reasons,
        (SELECT verdict FROM judgments WHERE mention_id = m.id ORDER BY id DESC LIMIT 1), i.lang
   FROM mentions m JOIN items i ON i.id = m.item_id";

pub(super) fn mention_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<MentionRecord> {
    let terms: String = row.get(9)?;
    Ok(MentionRecord {
        id: MentionId(row.get(0)?),
        watch: WatchId::new(row.get::<_, String>(1)?),
        item: ItemId(row.get(2)?),
        story: StoryId(row.get(10)?),
        source: SourceId::new(row.get::<_, String>(3)?),
        url: row.get(4)?,
        title: row.get(5)?,
        text: row.get(6)?,
        published: opt_from_db(row.get(7)?),
        found_at: from_db(row.get(8)?),
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        outlet: row.get(11)?,
        author: row.get(12)?,
        score: row.get(13)?,
        // Reasons are written by veille itself; an unreadable list (a newer version's reason
        // kind) is shown as no reasons rather than failing the digest.
        reasons: row
            .get::<_, Option<String>>(14)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default(),
        verdict: row
            .get::<_, Option<String>>(15)?
            .and_then(|word| word.parse().ok()),
        lang: row.get(16)?,
    })
}
