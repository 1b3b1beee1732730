//! Verdicts people give on mentions, and the reads built on them: the review queue, the
//! judged set a watch learns from, the mention list of `veille mentions`.
//!
//! Every verdict is a new row (people change their mind; the history says who decided what
//! and when), and a mention's current verdict is its latest row. A verdict on a story is
//! written on each of the story's mentions of the same watch, so every reader (digests,
//! export, learning) sees it on the mention it reads, without a second notion of "story
//! verdict" to keep in step.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{
    Context, MENTION_SELECT, MentionRecord, Result, Store, from_db, mention_record, to_db,
};
use crate::model::{Judgment, Verdict};
use crate::model::{MentionId, StoryId, WatchId};

/// A verdict to record.
#[derive(Debug, Clone)]
pub struct NewJudgment<'a> {
    pub mention: MentionId,
    pub verdict: Verdict,
    pub note: Option<&'a str>,
    /// The reviewer's login, "mail link", or the system user.
    pub who: &'a str,
    /// "mail", "review" or "cli".
    pub via: &'a str,
    pub at: DateTime<Utc>,
    /// Also judge the story's other mentions of the same watch (a reader judges the story a
    /// digest entry shows, not one copy of it).
    pub whole_story: bool,
}

/// What a verdict was recorded on.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The mentions judged, the one asked first.
    pub mentions: Vec<MentionId>,
    pub watch: WatchId,
    pub story: StoryId,
    /// The mention's verdict before this one, if it had one.
    pub previous: Option<Verdict>,
    /// The verdict as stored on the mention asked.
    pub judgment: Judgment,
}

/// One story waiting for a verdict on the review page.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewStory {
    /// The story's best-scoring mention of the watch (the one the buttons judge, with its
    /// story).
    pub mention: MentionRecord,
    /// Distinct outlets carrying the story.
    pub outlets: usize,
    /// Mentions of the story by this watch in the period.
    pub mentions: usize,
}

/// Which mentions `veille mentions` lists.
#[derive(Debug, Clone, Default)]
pub struct MentionFilter<'a> {
    pub watch: Option<&'a WatchId>,
    pub since: Option<DateTime<Utc>>,
    /// Only mentions of stories nobody judged for that watch.
    pub unjudged: bool,
    pub limit: usize,
}

/// Mentions of (watch, story) pairs nobody judged: `l` is the mention row, `li` its item.
const UNJUDGED: &str = "NOT EXISTS (
    SELECT 1 FROM items si JOIN mentions sm ON sm.item_id = si.id
                           JOIN judgments sj ON sj.mention_id = sm.id
     WHERE si.story_id = li.story_id AND sm.watch_id = l.watch_id)";

impl Store {
    /// Records a verdict. None when the mention does not exist (purged, or a wrong id).
    pub fn judge(&self, judgment: &NewJudgment<'_>) -> Result<Option<Judged>> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting to record a verdict")?;
        let Some((watch, story, previous)) = tx
            .query_row(
                "SELECT m.watch_id, i.story_id,
                        (SELECT verdict FROM judgments WHERE mention_id = m.id ORDER BY id DESC LIMIT 1)
                   FROM mentions m JOIN items i ON i.id = m.item_id WHERE m.id = ?1",
                [judgment.mention.0],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
            .context("reading the mention to judge")?
        else {
            return Ok(None);
        };
        let note = judgment.note.filter(|n| !n.trim().is_empty());
        let mut first_id = None;
        let mut mentions = vec![judgment.mention];
        if judgment.whole_story {
            let mut stmt = tx
                .prepare(
                    "SELECT m.id FROM items i JOIN mentions m ON m.item_id = i.id
                      WHERE i.story_id = ?1 AND m.watch_id = ?2 AND m.id <> ?3 ORDER BY m.id",
                )
                .context("reading the story to judge")?;
            let others = stmt
                .query_map(params![story, watch, judgment.mention.0], |row| {
                    row.get::<_, i64>(0)
                })
                .context("reading the story to judge")?
                .collect::<rusqlite::Result<Vec<_>>>()
                .context("reading the story to judge")?;
            mentions.extend(others.into_iter().map(MentionId));
        }
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO judgments (mention_id, verdict, note, who, via, judged_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .context("recording a verdict")?;
            for mention in &mentions {
                insert
                    .execute(params![
                        mention.0,
                        judgment.verdict.as_str(),
                        note,
                        judgment.who,
                        judgment.via,
                        to_db(judgment.at)
                    ])
                    .context("recording a verdict")?;
                // The mention asked comes first: its row is the judgment returned.
                first_id.get_or_insert(tx.last_insert_rowid());
            }
        }
        tx.commit().context("committing a verdict")?;
        Ok(Some(Judged {
            mentions,
            watch: WatchId::new(watch),
            story: StoryId(story),
            previous: previous.and_then(|v| v.parse().ok()),
            judgment: Judgment {
                id: first_id.unwrap_or_default(),
                mention: judgment.mention,
                verdict: judgment.verdict,
                note: note.map(str::to_string),
                who: judgment.who.to_string(),
                at: judgment.at,
                via: judgment.via.to_string(),
            },
        }))
    }

    /// One mention, if it exists.
    pub fn mention(&self, id: MentionId) -> Result<Option<MentionRecord>> {
        Ok(self.mentions_by_id(&[id])?.pop())
    }

    /// A mention's current verdict (its latest).
    pub fn judgment_of(&self, id: MentionId) -> Result<Option<Judgment>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id, verdict, note, who, via, judged_at FROM judgments
              WHERE mention_id = ?1 ORDER BY id DESC LIMIT 1",
            [id.0],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()
        .context("reading a verdict")
        .map(|row| {
            row.and_then(|(jid, verdict, note, who, via, at)| {
                Some(Judgment {
                    id: jid,
                    mention: id,
                    verdict: verdict.parse().ok()?,
                    note,
                    who,
                    at: from_db(at),
                    via,
                })
            })
        })
    }

    /// The unjudged stories found since `since`: one entry per (watch, story), with its
    /// best-scoring mention. Newest day first, then highest score, then newest.
    pub fn review_stories(&self, since: DateTime<Utc>, limit: usize) -> Result<Vec<ReviewStory>> {
        let picked: Vec<(i64, i64)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "WITH open AS (
                         SELECT l.id, l.watch_id, li.story_id, COALESCE(l.score, 0) AS score,
                                l.created_at,
                                ROW_NUMBER() OVER (PARTITION BY l.watch_id, li.story_id
                                                   ORDER BY COALESCE(l.score, 0) DESC, l.id DESC) AS rank,
                                COUNT(*) OVER (PARTITION BY l.watch_id, li.story_id) AS mentions,
                                MAX(l.created_at) OVER (PARTITION BY l.watch_id, li.story_id) AS newest
                           FROM mentions l JOIN items li ON li.id = l.item_id
                          WHERE l.created_at >= ?1 AND {UNJUDGED})
                     SELECT id, mentions FROM open WHERE rank = 1
                      ORDER BY newest / 86400 DESC, score DESC, newest DESC, id DESC
                      LIMIT ?2"
                ))
                .context("reading the review queue")?;
            stmt.query_map(params![to_db(since), limit as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .context("reading the review queue")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading the review queue")?
        };
        let ids: Vec<MentionId> = picked.iter().map(|(id, _)| MentionId(*id)).collect();
        let records = self.mentions_by_id(&ids)?;
        let stories: Vec<StoryId> = records.iter().map(|r| r.story).collect();
        let info = self.stories_info(&stories)?;
        Ok(records
            .into_iter()
            .zip(picked)
            .map(|(mention, (_, count))| ReviewStory {
                outlets: info.get(&mention.story).map_or(1, |s| s.outlets.len()),
                mentions: count as usize,
                mention,
            })
            .collect())
    }

    /// A watch's judged mentions with their current verdicts, oldest first: what its
    /// classifier learns from.
    pub fn judged_mentions(&self, watch: &WatchId) -> Result<Vec<(MentionRecord, Verdict)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{MENTION_SELECT} WHERE m.watch_id = ?1
                   AND EXISTS (SELECT 1 FROM judgments WHERE mention_id = m.id) ORDER BY m.id"
            ))
            .context("reading judged mentions")?;
        let rows = stmt
            .query_map([watch.as_str()], mention_record)
            .context("reading judged mentions")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading judged mentions")?;
        Ok(rows
            .into_iter()
            .filter_map(|record| record.verdict.map(|v| (record, v)))
            .collect())
    }

    /// The latest judgment's id (0 when none): it changes whenever someone judges, so a
    /// cache of what was learned knows when to learn again.
    pub fn judgments_version(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM judgments", [], |row| {
                row.get(0)
            })
            .context("reading the judgments")
    }

    /// Judgments per watch (for `veille suggest` and the learning report).
    pub fn judgment_counts(&self) -> Result<Vec<(WatchId, usize)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT m.watch_id, COUNT(DISTINCT m.id) FROM judgments j
                   JOIN mentions m ON m.id = j.mention_id GROUP BY m.watch_id ORDER BY m.watch_id",
            )
            .context("counting judgments")?;
        stmt.query_map([], |row| {
            Ok((
                WatchId::new(row.get::<_, String>(0)?),
                row.get::<_, i64>(1)? as usize,
            ))
        })
        .context("counting judgments")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("counting judgments")
    }

    /// Mentions for `veille mentions`, newest first.
    pub fn list_mentions(&self, filter: &MentionFilter<'_>) -> Result<Vec<MentionRecord>> {
        let conn = self.conn();
        let unjudged = if filter.unjudged { UNJUDGED } else { "1" };
        // The filter's names: `l` and `li` as in UNJUDGED, then the shared select.
        let mut stmt = conn
            .prepare(&format!(
                "{MENTION_SELECT} WHERE m.id IN (
                     SELECT l.id FROM mentions l JOIN items li ON li.id = l.item_id
                      WHERE l.created_at >= ?1 AND (?2 IS NULL OR l.watch_id = ?2) AND {unjudged})
                  ORDER BY m.id DESC LIMIT ?3"
            ))
            .context("listing mentions")?;
        let since = filter.since.map_or(i64::MIN, to_db);
        stmt.query_map(
            params![
                since,
                filter.watch.map(WatchId::as_str),
                filter.limit.max(1) as i64
            ],
            mention_record,
        )
        .context("listing mentions")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("listing mentions")
    }
}
