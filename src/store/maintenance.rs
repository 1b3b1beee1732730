//! Looking after the database: the retention purge, online backups, full-text search and
//! the row counts summaries show.
//!
//! The purge removes items no feed has carried for the retention period, with their
//! mentions (by cascade) and their search entries (by trigger). "Not seen since" rather
//! than "published before": an item still in a feed would come back as new at the next
//! poll and be mentioned twice. It deletes in small batches so the daemon's own writes are
//! never held up for long, then gives freed pages back to the file system a few at a time
//! (`incremental_vacuum`, on databases created with this version or later).
//!
//! A backup is `VACUUM INTO`: SQLite copies one consistent snapshot (a read transaction, so
//! the daemon keeps writing meanwhile) into a new, compacted file, created 0600 like the
//! database. Search runs on an FTS5
//! index kept in step with `items` (migration 2): `record_run` indexes new and edited
//! items in the same transaction as the items themselves, and a trigger removes deleted
//! ones, so it costs nothing at poll time beyond the index update and never drifts from the
//! items.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Context, Result, Store, StoreError, from_db, opt_from_db};
use crate::model::{ItemId, SourceId};

/// An item found by `veille search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub item: ItemId,
    pub source: SourceId,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
}

/// Items to purge, one batch: not seen since the cutoff (?1), and not in a story that a
/// feed carried since then (its items stay together while the story lives).
const PURGEABLE: &str = "SELECT id FROM items
     WHERE last_seen_at < ?1
       AND (story_id IS NULL
            OR story_id NOT IN (SELECT id FROM stories WHERE last_seen_at >= ?1))
     ORDER BY id LIMIT ?2";

/// Rows deleted per purge transaction.
const PURGE_BATCH: i64 = 1_000;
/// Pages given back per purge (4 KiB pages: up to 40 MB).
const VACUUM_PAGES: i64 = 10_000;

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub items: usize,
    pub mentions: usize,
    /// Bodies of sent mail dropped (the rows stay, as the delivery history).
    pub mail_bodies: usize,
}

/// Row counts, for summaries and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub items: i64,
    pub mentions: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
    pub digest_runs: i64,
    /// Sources whose last poll failed.
    pub sources_failing: i64,
}

/// Hourly mention counts are kept this long: twice the spike baseline's reach.
const HOURLY_COUNTS_KEPT_DAYS: i64 = 2 * crate::alert::spike::BASELINE_DAYS;

impl Store {
    /// Deletes what is older than `retention` at `now`: items last seen before the cutoff
    /// (with their mentions), unless their story is still active; stories left empty; the
    /// near-duplicate index beyond the story window; boilerplate statistics not seen since
    /// the cutoff; and the stored bodies of mail sent before it.
    pub fn purge(&self, now: DateTime<Utc>, retention: chrono::Duration) -> Result<Purged> {
        let cutoff = (now - retention).timestamp();
        let window = self
            .dedup
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .story_window;
        let fingerprints_cutoff = (now
            - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(30)))
        .timestamp()
        .min(now.timestamp());
        let mut purged = Purged::default();
        loop {
            let mut conn = self.conn();
            let tx = conn.transaction().context("starting a purge")?;
            let mentions: i64 = tx
                .query_row(
                    &format!("SELECT COUNT(*) FROM mentions WHERE item_id IN ({PURGEABLE})"),
                    params![cutoff, PURGE_BATCH],
                    |row| row.get(0),
                )
                .context("counting mentions to purge")?;
            let items = tx
                .execute(
                    &format!("DELETE FROM items WHERE id IN ({PURGEABLE})"),
                    params![cutoff, PURGE_BATCH],
                )
                .context("purging old items")?;
            tx.commit().context("committing a purge")?;
            purged.items += items;
            purged.mentions += usize::try_from(mentions).unwrap_or(0);
            if (items as i64) < PURGE_BATCH {
                break;
            }
        }
        let conn = self.conn();
        conn.execute(
            "DELETE FROM stories WHERE last_seen_at < ?1
               AND NOT EXISTS (SELECT 1 FROM items WHERE items.story_id = stories.id)",
            [cutoff],
        )
        .context("purging empty stories")?;
        conn.execute(
            "DELETE FROM story_fingerprints WHERE seen_at < ?1",
            [fingerprints_cutoff],
        )
        .context("purging the near-duplicate index")?;
        conn.execute(
            "DELETE FROM source_sentences WHERE last_seen_at < ?1",
            [cutoff],
        )
        .context("purging boilerplate statistics")?;
        // Alert state: hourly counts older than any spike baseline reads, and stories a rule
        // mailed about that left the retention window (their items are gone).
        conn.execute(
            "DELETE FROM watch_hours WHERE hour < ?1",
            [(now.timestamp() - HOURLY_COUNTS_KEPT_DAYS * 86_400).div_euclid(3600)],
        )
        .context("purging old hourly counts")?;
        conn.execute("DELETE FROM alert_stories WHERE alerted_at < ?1", [cutoff])
            .context("purging old alert threads")?;
        // A story's escalation is kept while any of its items is: nobody can judge it after.
        conn.execute(
            "DELETE FROM crisis_escalations WHERE escalated_at < ?1
               AND NOT EXISTS (SELECT 1 FROM items WHERE items.story_id = crisis_escalations.story_id)",
            [cutoff],
        )
        .context("purging old crisis escalations")?;
        purged.mail_bodies = conn
            .execute(
                "UPDATE outbox SET body = x'' WHERE status = 'sent' AND sent_at < ?1 AND length(body) > 0",
                [cutoff],
            )
            .context("dropping old mail bodies")?;
        conn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            .context("giving freed pages back")?;
        Ok(purged)
    }

    /// SQLite's own check of the file (pages, indexes, constraints): true when it says "ok".
    pub fn integrity_ok(&self) -> Result<bool> {
        let verdict: String = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .context("checking the database")?;
        Ok(verdict == "ok")
    }

    /// Writes a consistent copy of the database to `target`, which must not exist yet. The
    /// copy is as private as the database: `target` is created empty with mode 0600 first
    /// (`VACUUM INTO` fills an empty file), which also makes "never overwrites" atomic.
    pub fn backup_to(&self, target: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let context = format!("backing up to {}", target.display());
        let text = target
            .to_str()
            .ok_or_else(|| StoreError::other(&context, "the path is not valid UTF-8"))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StoreError::other(
                    &context,
                    "the file exists; choose a new name (a backup never overwrites)",
                ),
                _ => StoreError::io(&context, e),
            })?;
        let copied = self.conn().execute("VACUUM INTO ?1", [text]);
        if copied.is_err() {
            let _ = std::fs::remove_file(target);
        }
        copied.context(&context)?;
        Ok(())
    }

    /// Items whose title or text hold every word of `words` (accents and case ignored; a
    /// word ending in `*` is a prefix), newest first.
    pub fn search(&self, words: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(query) = fts_query(words) else {
            return Ok(Vec::new());
        };
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT i.id, i.source_id, i.title, i.url, i.published_at, i.first_seen_at
                   FROM items_fts f JOIN items i ON i.id = f.rowid
                  WHERE items_fts MATCH ?1
                  ORDER BY COALESCE(i.published_at, i.first_seen_at) DESC, i.id DESC
                  LIMIT ?2",
            )
            .context("searching items")?;
        let rows = stmt
            .query_map(params![query, limit as i64], |row| {
                Ok(SearchHit {
                    item: ItemId(row.get(0)?),
                    source: SourceId::new(row.get::<_, String>(1)?),
                    title: row.get(2)?,
                    url: row.get(3)?,
                    published: opt_from_db(row.get(4)?),
                    first_seen: from_db(row.get(5)?),
                })
            })
            .context("searching items")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading search results")
    }

    pub fn counts(&self) -> Result<Counts> {
        self.conn()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM mentions),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'pending'),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'sent'),
                        (SELECT COUNT(*) FROM digest_runs),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'failed'),
                        (SELECT COUNT(*) FROM source_state WHERE consecutive_failures > 0)",
                [],
                |row| {
                    Ok(Counts {
                        items: row.get(0)?,
                        mentions: row.get(1)?,
                        outbox_pending: row.get(2)?,
                        outbox_sent: row.get(3)?,
                        digest_runs: row.get(4)?,
                        outbox_failed: row.get(5)?,
                        sources_failing: row.get(6)?,
                    })
                },
            )
            .context("counting rows")
    }
}

/// The FTS5 query for what a person typed: every word must appear; words are quoted so
/// that FTS5 operators and punctuation in them are plain text. None when there is no word.
fn fts_query(words: &str) -> Option<String> {
    let terms: Vec<String> = words
        .split_whitespace()
        .filter_map(|word| {
            let (word, prefix) = match word.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (word, false),
            };
            if !word.chars().any(char::is_alphanumeric) {
                return None;
            }
            let quoted = format!("\"{}\"", word.replace('"', "\"\""));
            Some(if prefix { format!("{quoted}*") } else { quoted })
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_a_safe_fts_query() {
        assert_eq!(
            fts_query("grève  Nordvent").as_deref(),
            Some("\"grève\" \"Nordvent\"")
        );
        assert_eq!(fts_query("éolien*").as_deref(), Some("\"éolien\"*"));
        assert_eq!(
            fts_query("a\"b OR NEAR(").as_deref(),
            Some("\"a\"\"b\" \"OR\" \"NEAR(\"")
        );
        assert_eq!(fts_query("  - * "), None);
    }
}
