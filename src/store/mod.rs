//! Every SQL statement veille runs, and the only module that knows the schema.
//!
//! One SQLite file in WAL mode holds everything that must survive a restart: per-source
//! polling state, items, mentions, digest windows already sent, and the outbox of mails.
//! The connection sits behind a mutex and every call is blocking: async callers go through
//! `App::db`, which runs them on tokio's blocking pool. Writes that belong together (one
//! source run; one digest and its mail) happen in one transaction, so a crash leaves either
//! all of it or none of it. Times are stored as Unix seconds (UTC). The file, its -wal and
//! -shm, and backups are private to veille's user (mode 0600), whatever the umask: a looser
//! existing file is tightened when opened, with a warning.
//!
//! Source runs are group-committed: a run writes into a transaction that stays open while
//! other callers wait for the connection, and the last of them commits it (or the run that
//! fills [`BATCH_RUNS`]). A burst of polls then writes each page of the scattered indexes
//! (fingerprints, stories, items by link and by story) to the WAL once per batch instead of
//! once per run, and story lookups can reuse what earlier runs of the batch read.
//! Every other call commits an open batch before it runs, so it sees and does exactly what
//! it did before. The trade-off is the unit of failure: a run reports success before its
//! batch commits, and a batch is all or nothing. A run that fails (a database error), or a
//! commit that fails (disk full), rolls back the whole batch, logged: items, mentions and
//! the sources' poll state together, so those sources are still due and are polled again
//! at the next tick; nothing is half-stored, nothing is sent twice. Runs are not savepoints:
//! a savepoint copies every page it changes to a sub-journal first, which, on the poll
//! bench, cost all that the batch saved (sub-journal in a file) or 4 MB at peak (in memory).
//!
//! The store stores and reads; it does not decide. A run's scores come from the caller's
//! [`Scoring`](crate::model::Scoring), which the store calls once an item has its story
//! (see `items`); what an alert rule or a digest does with the rows is theirs.
//!
//! This file holds the connection, the group commit, the time helpers and the error type;
//! the statements live with their tables: `sources` (polling state and health), `items`
//! (items and source runs), `mentions`, `stories`, `digests`, `outbox`, `alerts` (rule
//! state, escalations, spikes), `judgments`, `maintenance` (purge, backup, search, counts)
//! and `migrations`.
//!
//! # The storage seam
//!
//! Everything above this module sees `Store`'s methods and plain values (`crate::model`, the
//! row types here, [`StoreError`] with [`StoreError::is_busy`] and
//! [`StoreError::is_constraint`]); no rusqlite type is public. A second backend (PostgreSQL,
//! say, for an installation that outgrows one machine) would implement the same method
//! families, each call with the same transaction boundary:
//!
//! - **opening**: `open` (create, then migrate: its own migration list, since the SQL here
//!   is SQLite's dialect), `set_dedup`, `integrity_ok`.
//! - **sources and runs**: `due_sources` and `next_polls`, `source_state`, `record_run` (a
//!   whole successful poll in one transaction: source state and health, items, story
//!   assignment, mentions, scores from the caller's `Scoring`, the search index),
//!   `record_failure`, `record_gone`, `reset_moved_sources`, and the health reports
//!   (`sources_in_trouble`, `sources_recovered_between`, `source_rows`).
//! - **stories**: `stories_info`, `stories_since`, `story_of`, `story`, `story_count`.
//! - **mentions and items read back**: `for_each_mention`, `for_each_item_since`, `search`,
//!   `counts`.
//! - **digests**: the watermark (`last_digest_run`, `last_mention_id`), `mentions_between`,
//!   `previous_window_counts`, and `queue_digest` (a window and its mail together).
//! - **outbox**: `pending_mails`, `next_mail_attempt`, `mark_sent`, `mark_attempt_failed`,
//!   `mark_failed`, `retry_mail`, `outbox_entries`.
//! - **alerts**: the intake (`alert_intake`, `mentions_awaiting_alerts`,
//!   `mentions_taken_in`), a rule's state and mails (`alert_rule_state`, `rules_waiting`,
//!   `record_alert`, `drop_pending`, `alerted_stories`, `alerted_story`), spikes
//!   (`watch_hours`, `top_stories`, `spike_in_progress`, `end_spike`), escalations
//!   (`record_escalation`), and the mentions they show (`mentions_by_id`,
//!   `latest_mention_of_story`).
//! - **judgments**: `judge`, `mention`, `judgment_of`, `judgments_version`,
//!   `judgment_counts`, `judged_mentions`, `review_stories`, `list_mentions`.
//! - **maintenance**: `purge`, `backup_to`.
//!
//! What is SQLite's own today, to be rethought rather than ported:
//!
//! - **One connection behind a blocking mutex**, reached through `App::db` (on tokio's
//!   blocking pool) and `App::db_now`. A server backend would hold a pool of connections;
//!   the callers' closures over `&Store` can stay as they are.
//! - **The group commit** (above), and the story cache that rides on it (`stories`): both
//!   are right only because the batch's transaction holds SQLite's single write lock, so
//!   nothing else writes meanwhile. On PostgreSQL each run would commit alone (the server's
//!   `commit_delay` groups the flushes), and story assignment, which reads recent
//!   fingerprints and then writes, would need a lock (an advisory lock per story window, or
//!   `SERIALIZABLE` and a retry when [`StoreError::is_busy`]): otherwise two copies polled
//!   at the same moment by two daemons start two stories.
//! - **One daemon per database.** "What is due" is read by the only daemon, and alert
//!   decisions are serialized by `App::alert_lock`, a mutex in memory. Several daemons on
//!   one PostgreSQL database would each claim their due sources with `SELECT … FOR UPDATE
//!   SKIP LOCKED` and a lease (claimed until; `record_run` and `record_failure` release it)
//!   so that no source is polled twice, claim pending mails the same way before sending
//!   them, and lock an alert rule's state row (`SELECT … FOR UPDATE`) for its decision.
//! - **FTS5 search** (`maintenance`): an external-content index that `record_run` writes
//!   and a trigger cleans; PostgreSQL would use a `tsvector` column, `unaccent` and a GIN
//!   index.
//! - **The file**: WAL mode; mode 0600 on the file, its -wal and -shm, and backups
//!   (`private_database`); backups by `VACUUM INTO`; `incremental_vacuum` after a purge. A
//!   server has credentials, `pg_dump` and autovacuum instead.
//! - **`PRAGMA`s and connection settings** (`setup`): the busy timeout, `BEGIN IMMEDIATE`
//!   for every transaction (how several processes queue for the lock), foreign keys,
//!   `synchronous`, the checkpoint interval, the statement cache, fixed query plans, and
//!   `user_version` as the schema version.
//! - **Dialect**: `INSERT … ON CONFLICT DO NOTHING` then `last_insert_rowid()` (PostgreSQL:
//!   `RETURNING id`), `WITHOUT ROWID` tables, times as Unix seconds in INTEGER columns.
//! - **Errors**: [`StoreError::is_busy`] is SQLite's BUSY or LOCKED. A PostgreSQL store
//!   would map lock timeouts, deadlocks and serialization failures to it, and SQLSTATE
//!   class 23 to [`StoreError::is_constraint`].

mod alerts;
mod digests;
mod items;
mod judgments;
mod maintenance;
mod mentions;
mod migrations;
mod outbox;
mod sources;
mod stories;

pub use stories::{Assignment, POSTINGS_CAP};

pub use alerts::{
    AlertSent, AlertedStory, Awaiting, NewEscalation, Pending, RuleState, WatchHours,
    window_seconds,
};
pub use digests::NewDigestRun;
pub use items::{Backfill, Candidate, Matched, Parsed, RunRecord, RunStats};
pub use judgments::{Judged, MentionFilter, NewJudgment, ReviewStory};
pub use maintenance::{Counts, Purged, SearchHit};
pub use mentions::NewMention;
pub use outbox::{NewMail, OutboxEntry, OutboxMail};
pub use sources::{SourceHealth, SourceProblem, SourceRecovery, SourceRow, SourceState, body_hash};

use mentions::{MENTION_SELECT, mention_record};
use outbox::insert_mail;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

use crate::dedup::DedupSettings;
use crate::model::MentionRecord;

/// A database failure, with what veille was doing at the time and what failed underneath.
///
/// The underlying error is kept as the [`source`](std::error::Error::source) (SQLite's, or
/// the file system's), so the message reads whole through `crate::error_chain`, and a
/// caller can tell a passing condition ([`StoreError::is_busy`]: another process holds the
/// write lock) from a broken invariant ([`StoreError::is_constraint`]) without knowing that
/// the store is SQLite: no rusqlite type is public.
#[derive(Debug)]
pub struct StoreError {
    context: String,
    cause: Cause,
}

/// What failed under a [`StoreError`].
#[derive(Debug)]
enum Cause {
    Sqlite(rusqlite::Error),
    /// The file system: the database's folder, its mode, a backup's target.
    Io(std::io::Error),
    /// A check of veille's own (a newer schema, a path that is not UTF-8, a call that did
    /// not finish).
    Other(String),
}

impl StoreError {
    fn sqlite(context: impl Into<String>, error: rusqlite::Error) -> Self {
        StoreError {
            context: context.into(),
            cause: Cause::Sqlite(error),
        }
    }

    fn io(context: impl Into<String>, error: std::io::Error) -> Self {
        StoreError {
            context: context.into(),
            cause: Cause::Io(error),
        }
    }

    /// A failure that is not the database's own: `context` says what veille was doing,
    /// `message` what went wrong.
    pub fn other(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        StoreError {
            context: context.into(),
            cause: Cause::Other(message.to_string()),
        }
    }

    /// The database was busy: another connection or process held the lock for longer than
    /// the busy timeout. Trying again later may succeed.
    pub fn is_busy(&self) -> bool {
        matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    /// A constraint refused the write (a unique key, a foreign key, a check): trying again
    /// gives the same answer.
    pub fn is_constraint(&self) -> bool {
        self.sqlite_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
    }

    fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match &self.cause {
            Cause::Sqlite(error) => error.sqlite_error_code(),
            Cause::Io(_) | Cause::Other(_) => None,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The cause is in the message too: most callers log or store `to_string()` alone.
        write!(f, "database error while {}: ", self.context)?;
        match &self.cause {
            Cause::Sqlite(error) => write!(f, "{error}"),
            Cause::Io(error) => write!(f, "{error}"),
            Cause::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Sqlite(error) => Some(error),
            Cause::Io(error) => Some(error),
            Cause::Other(_) => None,
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
        self.map_err(|e| StoreError::sqlite(what, e))
    }
}

/// Source runs one group commit holds at most: bounds how long other processes (`veille
/// outbox`, `veille backup`) wait for the write lock during a burst of polls, and what the
/// batch holds in memory. On the poll bench, 32 was no faster than 16 and took ~0.6 MB more
/// at peak; 8 was ~10 % slower.
pub const BATCH_RUNS: usize = 16;

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Db>,
    /// Callers waiting for the connection: while there are some, a batch stays open.
    waiting: AtomicUsize,
    /// Story settings; replaced on a configuration reload.
    dedup: RwLock<DedupSettings>,
}

/// The connection and the open batch of source runs, if any (see the module doc).
#[derive(Debug)]
struct Db {
    conn: Connection,
    /// Runs written into the open transaction since it began.
    batched: usize,
    /// What story assignment read in the open batch (valid until it ends).
    stories: stories::StoryCache,
}

impl Db {
    /// Whether a batch transaction is open (no other transaction outlives a call).
    fn in_batch(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Commits the open batch; on failure, rolls it back.
    fn commit_batch(&mut self) {
        self.stories.clear();
        if !self.in_batch() {
            self.batched = 0;
            return;
        }
        if let Err(error) = self.conn.execute_batch("COMMIT") {
            self.abandon_batch(&error.to_string());
        }
        self.batched = 0;
    }

    /// Rolls back the open batch: its runs are lost together, and their sources, still
    /// due, are polled again.
    fn abandon_batch(&mut self, error: &str) {
        let runs = std::mem::take(&mut self.batched);
        self.stories.clear();
        tracing::error!(
            %error,
            runs,
            "a batch of source runs is rolled back: its sources will be polled again"
        );
        if !self.conn.is_autocommit()
            && let Err(error) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "cannot roll back a batch of source runs");
        }
    }
}

/// The locked connection. Released by the last caller in line, it commits the open batch.
struct Conn<'a> {
    db: MutexGuard<'a, Db>,
    waiting: &'a AtomicUsize,
}

impl Conn<'_> {
    /// Runs `write` (one source run) in the open batch, which begins here if none is. An
    /// error rolls the batch back (see the module doc); a full batch is committed at once.
    fn in_batch<T>(
        &mut self,
        write: impl FnOnce(&Connection, &mut stories::StoryCache) -> Result<T>,
    ) -> Result<T> {
        if !self.db.in_batch() {
            self.db
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .context("starting a batch of source runs")?;
        }
        let db = &mut *self.db;
        match write(&db.conn, &mut db.stories) {
            Ok(done) => {
                self.db.batched += 1;
                if self.db.batched >= BATCH_RUNS {
                    self.db.commit_batch();
                }
                Ok(done)
            }
            Err(error) => {
                self.db.abandon_batch(&error.to_string());
                Err(error)
            }
        }
    }
}

impl Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.db.conn
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.db.conn
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if !self.db.in_batch() {
            return;
        }
        if std::thread::panicking() {
            // A run cut short may have written half of itself: the batch goes as a whole.
            self.db.abandon_batch("a source run panicked");
        } else if self.waiting.load(Ordering::SeqCst) == 0 {
            // Otherwise someone counted in `waiting` takes the lock after us, and commits.
            self.db.commit_batch();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let db = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        db.commit_batch();
    }
}

fn to_db(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

fn from_db(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Makes the database file private before SQLite opens it: a new one is created empty with
/// mode 0600 (SQLite then gives its -wal and -shm files the same mode, whatever the umask),
/// and an existing one, or its -wal and -shm, that others could read is set back to its
/// owner's bits, with a warning. Everything veille knows is in there: mentions, verdicts and
/// notes, mail with its recipients. A file that cannot be changed (another owner) is logged
/// and opened as it is.
fn private_database(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StoreError::io(format!("creating {}", path.display()), e)),
    }
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        let Ok(mode) = std::fs::metadata(&file).map(|m| m.permissions().mode()) else {
            continue;
        };
        if mode & 0o077 == 0 {
            continue;
        }
        let private = mode & 0o700;
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(private)) {
            Ok(()) => tracing::warn!(
                path = %file.display(),
                was = format!("{:o}", mode & 0o777),
                now = format!("{private:o}"),
                "the database could be read by other users: it is now private to veille's user"
            ),
            Err(e) => tracing::warn!(
                path = %file.display(),
                mode = format!("{:o}", mode & 0o777),
                error = %e,
                "the database can be read by other users and veille cannot change that: chmod 600 it"
            ),
        }
    }
    Ok(())
}

fn opt_from_db(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.map(from_db)
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date. The
    /// file is private to veille's user (see `private_database`).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::io(format!("creating the folder {}", parent.display()), e)
            })?;
        }
        private_database(path)?;
        let conn = Connection::open(path).context(&format!("opening {}", path.display()))?;
        Self::setup(conn)
    }

    /// A private in-memory database, for tests of code above the store.
    pub fn open_in_memory() -> Result<Store> {
        Self::setup(Connection::open_in_memory().context("opening an in-memory database")?)
    }

    fn setup(mut conn: Connection) -> Result<Store> {
        // First, so that every statement below waits for another process (a daemon starting
        // at the same time as `veille outbox`) instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .context("setting the busy timeout")?;
        // A new, empty database gives freed pages back in small steps after each purge
        // (auto_vacuum can only be chosen before the file is first written: before WAL).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .context("choosing incremental vacuum")?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .context("enabling WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .context("enabling foreign keys")?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .context("setting synchronous")?;
        // A checkpoint runs inside the commit that crosses the threshold, with the store's
        // lock held, and fsyncs: every 4,000 pages (a WAL of up to 16 MB) instead of 1,000,
        // a first poll of 1,000 feeds runs ~25 of them instead of ~100, and a page written
        // by several runs in between is copied to the database once.
        conn.pragma_update(None, "wal_autocheckpoint", 4000)
            .context("setting the checkpoint interval")?;
        // Every transaction takes the write lock when it begins. With WAL and several
        // processes (the daemon, `veille outbox`, `veille backup`), a transaction that
        // reads first and writes later fails at once with "database is locked" if another
        // process wrote in between; one that starts with the lock waits (busy_timeout).
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        // A source run uses about twenty statements (items, stories, mentions, state): with
        // the default of 16 they evicted each other and were parsed again every run.
        conn.set_prepared_statement_cache_capacity(64);
        // Query plans that do not depend on the values bound. Without this, a statement whose
        // plan looked at a bound value (ORDER BY over an equality, a LIMIT parameter) is
        // marked for a full re-parse each time the cache clears its bindings: the story
        // lookups were parsed again for every item.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .context("fixing query plans")?;
        let known = migrations::MIGRATIONS.len() as i64;
        let current: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .context("reading the schema version")?;
        if current == known {
            return Ok(Store::with(conn));
        }
        // The version is read again inside a write transaction, so two processes opening a
        // new database together apply each migration once: the second waits, then sees it
        // done.
        let tx = conn.transaction().context("starting the schema update")?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .context("reading the schema version")?;
        if version > known {
            return Err(StoreError::other(
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
            tx.execute_batch(sql)
                .context(&format!("applying migration {}", index + 1))?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .context("recording the schema version")?;
        }
        tx.commit().context("committing the schema")?;
        Ok(Store::with(conn))
    }

    fn with(conn: Connection) -> Store {
        Store {
            conn: Mutex::new(Db {
                conn,
                batched: 0,
                stories: stories::StoryCache::default(),
            }),
            waiting: AtomicUsize::new(0),
            dedup: RwLock::default(),
        }
    }

    /// Replaces the story settings (a configuration reload), for items stored from now.
    pub fn set_dedup(&self, settings: DedupSettings) {
        *self.dedup.write().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// The connection, outside any batch: an open one is committed first.
    fn conn(&self) -> Conn<'_> {
        let mut conn = self.lock();
        conn.db.commit_batch();
        conn
    }

    /// The connection, inside the open batch if there is one: for source runs, and for the
    /// reads that come before them (they see the batch's writes, as they will be committed).
    fn batch_conn(&self) -> Conn<'_> {
        self.lock()
    }

    fn lock(&self) -> Conn<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // A panic while holding the lock leaves SQLite itself consistent (transactions roll
        // back on drop, and so does a batch, see `Conn`), so a poisoned lock is safe to reuse.
        let db = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        Conn {
            db,
            waiting: &self.waiting,
        }
    }
}

#[cfg(test)]
mod tests;
