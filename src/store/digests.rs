//! Digest windows: the last window queued per digest (its `last_mention_id` is the
//! watermark the next window starts after), the mentions of a window, the previous window's
//! counts for the trend line, and a window queued with its mail in one transaction, so a
//! crash queues both or neither.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{
    Context, MENTION_SELECT, NewMail, Result, Store, from_db, insert_mail, mention_record,
    opt_from_db, to_db,
};
use crate::model::{DigestId, DigestRun, MentionRecord, WatchId};

/// A digest window to record, with its mail when it is not empty.
#[derive(Debug)]
pub struct NewDigestRun<'a> {
    pub digest: &'a DigestId,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    pub last_mention_id: i64,
    pub mentions: usize,
    pub mail: Option<NewMail>,
}

impl Store {
    pub fn last_digest_run(&self, digest: &DigestId) -> Result<Option<DigestRun>> {
        self.conn()
            .query_row(
                "SELECT window_start, window_end, last_mention_id FROM digest_runs WHERE digest_id = ?1 ORDER BY window_end DESC, id DESC LIMIT 1",
                [digest.as_str()],
                |row| {
                    Ok(DigestRun {
                        window_start: opt_from_db(row.get(0)?),
                        window_end: from_db(row.get(1)?),
                        last_mention_id: row.get(2)?,
                    })
                },
            )
            .optional()
            .context("reading the last digest run")
    }

    /// Mentions per watch in the last window sent for `digest`, for the trend line. None when
    /// there is no comparable window: no run yet, or only the first run (which covered
    /// everything stored, not one period).
    pub fn previous_window_counts(
        &self,
        digest: &DigestId,
        watches: &[WatchId],
    ) -> Result<Option<HashMap<WatchId, usize>>> {
        let conn = self.conn();
        let mut runs = conn
            .prepare(
                "SELECT window_start, last_mention_id FROM digest_runs WHERE digest_id = ?1
                  ORDER BY window_end DESC, id DESC LIMIT 2",
            )
            .context("reading digest runs")?;
        let runs: Vec<(Option<i64>, i64)> = runs
            .query_map([digest.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .context("reading digest runs")?
            .collect::<rusqlite::Result<_>>()
            .context("reading digest runs")?;
        let (after, up_to) = match runs.as_slice() {
            [(Some(_), up_to), (_, after)] => (*after, *up_to),
            [(Some(_), up_to)] => (0, *up_to),
            _ => return Ok(None),
        };
        let mut count = conn
            .prepare("SELECT COUNT(*) FROM mentions WHERE watch_id = ?1 AND id > ?2 AND id <= ?3")
            .context("counting the previous window")?;
        let mut counts = HashMap::new();
        for watch in watches {
            let n: i64 = count
                .query_row(params![watch.as_str(), after, up_to], |row| row.get(0))
                .context("counting the previous window")?;
            counts.insert(watch.clone(), usize::try_from(n).unwrap_or(0));
        }
        Ok(Some(counts))
    }

    /// The highest mention id so far (0 when there is none): the end of a digest window.
    pub fn last_mention_id(&self) -> Result<i64> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM mentions", [], |row| {
                row.get(0)
            })
            .context("reading the last mention id")
    }

    /// Mentions of `watches` with ids in `(after, up_to]`, newest published first.
    pub fn mentions_between(
        &self,
        watches: &[WatchId],
        after: i64,
        up_to: i64,
    ) -> Result<Vec<MentionRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{MENTION_SELECT} WHERE m.id > ?1 AND m.id <= ?2 AND m.watch_id = ?3
                 ORDER BY COALESCE(i.published_at, m.created_at) DESC, m.id DESC"
            ))
            .context("selecting digest mentions")?;
        let mut all = Vec::new();
        for watch in watches {
            let rows = stmt
                .query_map(params![after, up_to, watch.as_str()], mention_record)
                .context("selecting digest mentions")?;
            for row in rows {
                all.push(row.context("reading a digest mention")?);
            }
        }
        Ok(all)
    }

    /// Records a digest window and queues its mail, in one transaction. Returns the outbox id
    /// of the queued mail, or `None` when the window was empty or this exact mail was queued
    /// before.
    pub fn queue_digest(&self, run: NewDigestRun<'_>) -> Result<Option<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting to queue a digest")?;
        let outbox_id = match &run.mail {
            Some(mail) => insert_mail(&tx, mail, run.window_end)?,
            None => None,
        };
        tx.execute(
            "INSERT INTO digest_runs (digest_id, window_start, window_end, last_mention_id, mentions, outbox_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (digest_id, window_end) DO NOTHING",
            params![
                run.digest.as_str(),
                run.window_start.map(to_db),
                to_db(run.window_end),
                run.last_mention_id,
                run.mentions as i64,
                outbox_id
            ],
        )
        .context("recording a digest window")?;
        tx.commit().context("committing a digest")?;
        Ok(outbox_id)
    }
}
