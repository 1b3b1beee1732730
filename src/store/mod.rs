//! Every SQL statement veille runs, and the only module that knows the schema.
//!
//! One SQLite file in WAL mode holds everything that must survive a restart: per-source
//! polling state, items, mentions, digest windows already sent, and the outbox of mails.
//! The connection sits behind a mutex and every call is blocking: async callers go through
//! `App::db`, which runs them on tokio's blocking pool. Writes that belong together (one
//! source run; one digest and its mail) happen in one transaction, so a crash leaves either
//! all of it or none of it. Times are stored as Unix seconds (UTC).

mod migrations;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::model::{DigestId, Item, ItemId, MentionId, SourceId, WatchId, WatchMatch};

/// A database failure, with what veille was doing at the time.
#[derive(Debug, thiserror::Error)]
#[error("database error while {context}: {message}")]
pub struct StoreError {
    pub context: String,
    pub message: String,
}

impl StoreError {
    fn new(context: impl Into<String>, error: impl std::fmt::Display) -> Self {
        StoreError {
            context: context.into(),
            message: error.to_string(),
        }
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// Adds context to rusqlite results without leaking rusqlite types.
trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| StoreError::new(what, e))
    }
}

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

/// What veille remembers about polling one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

/// The result of a successful fetch, to record in one transaction.
#[derive(Debug)]
pub struct FetchedRun<'a> {
    pub source: &'a SourceId,
    pub url: &'a str,
    pub now: DateTime<Utc>,
    pub next_poll_at: DateTime<Utc>,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    /// Every item of the document, with the watches it matched.
    pub items: &'a [(Item, Vec<WatchMatch>)],
}

/// What a recorded run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub items_new: usize,
    pub items_seen: usize,
    /// New mentions per watch.
    pub mentions: BTreeMap<WatchId, usize>,
}

/// One mention with what a digest or an export shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionRecord {
    pub id: MentionId,
    pub watch: WatchId,
    pub item: ItemId,
    pub source: SourceId,
    pub url: Option<String>,
    pub title: String,
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub found_at: DateTime<Utc>,
    /// The query terms that hit, as written in the watch.
    pub terms: Vec<String>,
}

/// The last digest queued for a digest id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRun {
    pub window_end: DateTime<Utc>,
    pub last_mention_id: i64,
}

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

/// A mail to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// Unique per logical mail (`digest:ID:WINDOW_END`): the same mail is never queued twice.
    pub key: String,
    pub kind: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message_id: String,
    /// The whole RFC 5322 message.
    pub body: Vec<u8>,
}

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub key: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message_id: String,
    pub body: Vec<u8>,
    pub attempts: u32,
}

/// Row counts, for summaries and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub items: i64,
    pub mentions: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub digest_runs: i64,
}

fn to_db(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

fn from_db(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn opt_from_db(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.map(from_db)
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::new(format!("creating the folder {}", parent.display()), e)
            })?;
        }
        let conn = Connection::open(path).context(&format!("opening {}", path.display()))?;
        Self::setup(conn)
    }

    /// A private in-memory database, for tests of code above the store.
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory().context("opening an in-memory database")?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .context("enabling WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .context("enabling foreign keys")?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .context("setting synchronous")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .context("setting the busy timeout")?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .context("reading the schema version")?;
        let known = migrations::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::new(
                "checking the schema version",
                format!(
                    "the database has schema version {version} but this veille knows only {known}: it was written by a newer veille"
                ),
            ));
        }
        for (index, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(version as usize)
        {
            let tx = conn.transaction().context("starting a migration")?;
            tx.execute_batch(sql)
                .context(&format!("applying migration {}", index + 1))?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .context("recording the schema version")?;
            tx.commit().context("committing a migration")?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- sources -------------------------------------------------------------------------

    pub fn source_state(&self, source: &SourceId) -> Result<SourceState> {
        let conn = self.conn();
        conn.query_row(
            "SELECT etag, last_modified, last_polled_at, last_success_at, next_poll_at,
                    consecutive_failures, last_error
               FROM source_state WHERE source_id = ?1",
            [source.as_str()],
            |row| {
                Ok(SourceState {
                    etag: row.get(0)?,
                    last_modified: row.get(1)?,
                    last_polled_at: opt_from_db(row.get(2)?),
                    last_success_at: opt_from_db(row.get(3)?),
                    next_poll_at: opt_from_db(row.get(4)?),
                    consecutive_failures: row.get(5)?,
                    last_error: row.get(6)?,
                })
            },
        )
        .optional()
        .context("reading the state of a source")
        .map(Option::unwrap_or_default)
    }

    /// When each known source is next due (sources never polled are absent: due now).
    pub fn next_polls(&self) -> Result<HashMap<SourceId, DateTime<Utc>>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT source_id, next_poll_at FROM source_state WHERE next_poll_at IS NOT NULL",
            )
            .context("listing next polls")?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    SourceId::new(row.get::<_, String>(0)?),
                    from_db(row.get(1)?),
                ))
            })
            .context("listing next polls")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("listing next polls")
    }

    /// The sources among `configured` whose next poll is at or before `now`.
    pub fn due_sources(
        &self,
        configured: &[SourceId],
        now: DateTime<Utc>,
    ) -> Result<Vec<SourceId>> {
        let next = self.next_polls()?;
        Ok(configured
            .iter()
            .filter(|id| next.get(*id).is_none_or(|at| *at <= now))
            .cloned()
            .collect())
    }

    /// Records a fetched document: items, their mentions and the source state, atomically.
    pub fn record_fetched(&self, run: &FetchedRun<'_>) -> Result<RunStats> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting a source run")?;
        let mut stats = RunStats::default();
        for (item, matches) in run.items {
            let (item_id, is_new) = upsert_item(&tx, item, run.now)?;
            if is_new {
                stats.items_new += 1;
            } else {
                stats.items_seen += 1;
            }
            for found in matches {
                let terms =
                    serde_json::to_string(&found.terms()).unwrap_or_else(|_| "[]".to_string());
                let inserted = tx
                    .execute(
                        "INSERT INTO mentions (item_id, watch_id, terms, created_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (item_id, watch_id) DO NOTHING",
                        params![item_id, found.watch.as_str(), terms, to_db(run.now)],
                    )
                    .context("storing a mention")?;
                if inserted > 0 {
                    *stats.mentions.entry(found.watch.clone()).or_default() += 1;
                }
            }
        }
        tx.execute(
            "INSERT INTO source_state (source_id, url, etag, last_modified, last_polled_at, last_success_at,
                                       next_poll_at, consecutive_failures, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 0, NULL)
             ON CONFLICT (source_id) DO UPDATE SET
                url = excluded.url, etag = excluded.etag, last_modified = excluded.last_modified,
                last_polled_at = excluded.last_polled_at, last_success_at = excluded.last_success_at,
                next_poll_at = excluded.next_poll_at, consecutive_failures = 0, last_error = NULL",
            params![run.source.as_str(), run.url, run.etag, run.last_modified, to_db(run.now), to_db(run.next_poll_at)],
        )
        .context("recording a successful poll")?;
        tx.commit().context("committing a source run")?;
        Ok(stats)
    }

    /// Records a 304: the source is healthy and unchanged.
    pub fn record_not_modified(
        &self,
        source: &SourceId,
        url: &str,
        now: DateTime<Utc>,
        next_poll_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO source_state (source_id, url, last_polled_at, last_success_at, next_poll_at, consecutive_failures)
                 VALUES (?1, ?2, ?3, ?3, ?4, 0)
                 ON CONFLICT (source_id) DO UPDATE SET
                    url = excluded.url, last_polled_at = excluded.last_polled_at,
                    last_success_at = excluded.last_success_at, next_poll_at = excluded.next_poll_at,
                    consecutive_failures = 0, last_error = NULL",
                params![source.as_str(), url, to_db(now), to_db(next_poll_at)],
            )
            .context("recording an unchanged poll")?;
        Ok(())
    }

    /// Records a failed poll; returns the number of consecutive failures now.
    pub fn record_failure(
        &self,
        source: &SourceId,
        url: &str,
        now: DateTime<Utc>,
        error: &str,
        next_poll_at: DateTime<Utc>,
    ) -> Result<u32> {
        self.conn()
            .query_row(
                "INSERT INTO source_state (source_id, url, last_polled_at, next_poll_at, consecutive_failures, last_error)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)
                 ON CONFLICT (source_id) DO UPDATE SET
                    url = excluded.url, last_polled_at = excluded.last_polled_at,
                    next_poll_at = excluded.next_poll_at,
                    consecutive_failures = source_state.consecutive_failures + 1,
                    last_error = excluded.last_error
                 RETURNING consecutive_failures",
                params![source.as_str(), url, to_db(now), to_db(next_poll_at), error],
                |row| row.get(0),
            )
            .context("recording a failed poll")
    }

    // ---- digests -------------------------------------------------------------------------

    pub fn last_digest_run(&self, digest: &DigestId) -> Result<Option<DigestRun>> {
        self.conn()
            .query_row(
                "SELECT window_end, last_mention_id FROM digest_runs WHERE digest_id = ?1 ORDER BY window_end DESC, id DESC LIMIT 1",
                [digest.as_str()],
                |row| {
                    Ok(DigestRun {
                        window_end: from_db(row.get(0)?),
                        last_mention_id: row.get(1)?,
                    })
                },
            )
            .optional()
            .context("reading the last digest run")
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

    // ---- outbox --------------------------------------------------------------------------

    /// Pending mails whose next attempt is due, oldest first.
    pub fn pending_mails(&self, now: DateTime<Utc>) -> Result<Vec<OutboxMail>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, key, sender, recipients, subject, message_id, body, attempts FROM outbox
                  WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                  ORDER BY id",
            )
            .context("listing pending mails")?;
        let rows = stmt
            .query_map([to_db(now)], |row| {
                let recipients: String = row.get(3)?;
                Ok(OutboxMail {
                    id: row.get(0)?,
                    key: row.get(1)?,
                    sender: row.get(2)?,
                    recipients: recipients
                        .split('\n')
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .collect(),
                    subject: row.get(4)?,
                    message_id: row.get(5)?,
                    body: row.get(6)?,
                    attempts: row.get(7)?,
                })
            })
            .context("listing pending mails")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading pending mails")
    }

    /// When the next pending mail should be tried (None when nothing is pending).
    pub fn next_mail_attempt(&self) -> Result<Option<DateTime<Utc>>> {
        self.conn()
            .query_row(
                "SELECT MIN(COALESCE(next_attempt_at, 0)) FROM outbox WHERE status = 'pending'",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .context("reading the next mail attempt")
            .map(opt_from_db)
    }

    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>, receipt: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?2, receipt = ?3, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![id, to_db(now), receipt],
            )
            .context("marking a mail as sent")?;
        Ok(())
    }

    pub fn mark_attempt_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, to_db(next_attempt_at)],
            )
            .context("recording a failed delivery")?;
        Ok(())
    }

    // ---- export and counts ---------------------------------------------------------------

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
                "SELECT id, source_id, identity, url, title, text, published_at, first_seen_at
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

    pub fn counts(&self) -> Result<Counts> {
        self.conn()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM mentions),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'pending'),
                        (SELECT COUNT(*) FROM outbox WHERE status = 'sent'),
                        (SELECT COUNT(*) FROM digest_runs)",
                [],
                |row| {
                    Ok(Counts {
                        items: row.get(0)?,
                        mentions: row.get(1)?,
                        outbox_pending: row.get(2)?,
                        outbox_sent: row.get(3)?,
                        digest_runs: row.get(4)?,
                    })
                },
            )
            .context("counting rows")
    }
}

const MENTION_SELECT: &str =
    "SELECT m.id, m.watch_id, i.id, i.source_id, i.url, i.title, i.text, i.published_at,
        m.created_at, m.terms
   FROM mentions m JOIN items i ON i.id = m.item_id";

fn mention_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<MentionRecord> {
    let terms: String = row.get(9)?;
    Ok(MentionRecord {
        id: MentionId(row.get(0)?),
        watch: WatchId::new(row.get::<_, String>(1)?),
        item: ItemId(row.get(2)?),
        source: SourceId::new(row.get::<_, String>(3)?),
        url: row.get(4)?,
        title: row.get(5)?,
        text: row.get(6)?,
        published: opt_from_db(row.get(7)?),
        found_at: from_db(row.get(8)?),
        terms: serde_json::from_str(&terms).unwrap_or_default(),
    })
}

/// Inserts or refreshes an item; returns its id and whether it is new.
fn upsert_item(tx: &Transaction<'_>, item: &Item, now: DateTime<Utc>) -> Result<(i64, bool)> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM items WHERE source_id = ?1 AND identity = ?2",
            params![item.source.as_str(), item.identity],
            |row| row.get(0),
        )
        .optional()
        .context("looking up an item")?;
    match existing {
        Some(id) => {
            // A re-titled or edited entry updates the stored item; it is not a new one.
            tx.execute(
                "UPDATE items SET url = ?2, title = ?3, text = ?4, published_at = COALESCE(?5, published_at), last_seen_at = ?6
                  WHERE id = ?1",
                params![id, item.url, item.title, item.text, item.published.map(to_db), to_db(now)],
            )
            .context("updating an item")?;
            Ok((id, false))
        }
        None => {
            tx.execute(
                "INSERT INTO items (source_id, identity, url, title, text, published_at, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![item.source.as_str(), item.identity, item.url, item.title, item.text, item.published.map(to_db), to_db(now)],
            )
            .context("storing an item")?;
            Ok((tx.last_insert_rowid(), true))
        }
    }
}

/// Inserts a mail unless one with the same key exists; returns its new id.
fn insert_mail(tx: &Transaction<'_>, mail: &NewMail, now: DateTime<Utc>) -> Result<Option<i64>> {
    let inserted = tx
        .execute(
            "INSERT INTO outbox (key, kind, sender, recipients, subject, message_id, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (key) DO NOTHING",
            params![
                mail.key,
                mail.kind,
                mail.sender,
                mail.recipients.join("\n"),
                mail.subject,
                mail.message_id,
                mail.body,
                to_db(now)
            ],
        )
        .context("queueing a mail")?;
    Ok((inserted > 0).then(|| tx.last_insert_rowid()))
}

#[cfg(test)]
mod tests;
