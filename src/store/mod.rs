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

mod alerts;
mod judgments;
mod maintenance;
mod migrations;
mod stories;

pub use stories::{Assignment, POSTINGS_CAP};

pub use alerts::{
    AlertSent, AlertedStory, Awaiting, NewEscalation, Pending, RuleState, WatchHours,
    window_seconds,
};
pub use judgments::{Judged, MentionFilter, NewJudgment, ReviewStory};
pub use maintenance::{Purged, SearchHit};

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::dedup::DedupSettings;
use crate::fetch::Validators;
use crate::model::{
    DigestId, DigestRun, Item, ItemId, MentionId, MentionRecord, Scored, Scoring, Signals,
    SourceId, StoryId, WatchId, WatchMatch,
};

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
    /// `gone` after a 410: never polled again until its URL changes in the configuration.
    pub gone: bool,
    /// First failure of the current streak.
    pub failing_since: Option<DateTime<Utc>>,
    /// Where a permanent redirect (301/308) pointed at the last successful fetch.
    pub redirected_to: Option<String>,
    /// Hash of the last body parsed (see [`body_hash`]).
    pub body_hash: Option<String>,
}

/// The stored fingerprint of a body: a 200 whose body has the same hash is not parsed.
pub fn body_hash(body: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))
}

/// A source that needs the admin's attention (for `veille sources` and the digest footer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHealth {
    pub source: SourceId,
    pub url: String,
    pub problem: SourceProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceProblem {
    /// At least `failing_after` consecutive failures; still polled, with backoff.
    Failing {
        since: DateTime<Utc>,
        consecutive_failures: u32,
        last_error: String,
    },
    /// Answered 410 Gone: no longer polled. Fix or remove the source in the configuration.
    Gone {
        since: DateTime<Utc>,
        last_error: String,
    },
    /// Moved permanently: still polled at the old URL (which redirects); update the TOML.
    Redirected { to: String },
}

/// A source that came back after being reported failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecovery {
    pub source: SourceId,
    pub url: String,
    pub failing_since: DateTime<Utc>,
    pub failures: u32,
    pub recovered_at: DateTime<Utc>,
}

/// One line of `veille sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub source: SourceId,
    pub url: String,
    pub state: SourceState,
    pub items: i64,
    /// When the first of its stored items was found (for the average per day).
    pub first_item_at: Option<DateTime<Utc>>,
}

/// `next_poll_at` of a gone source: never.
const NEVER: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

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
    /// The hash of the body parsed (see [`body_hash`]); `None` keeps the stored one.
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
    /// Its candidate's [`Candidate::rule_risk`].
    pub rule_risk: Vec<Option<Vec<String>>>,
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
/// An outbox row as `veille outbox` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub subject: String,
    pub recipients: Vec<String>,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: String,
}

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
        Err(e) => return Err(StoreError::new(format!("creating {}", path.display()), e)),
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

fn split_recipients(stored: &str) -> Vec<String> {
    stored
        .split('\n')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

fn opt_from_db(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.map(from_db)
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date. The
    /// file is private to veille's user (see [`private_database`]).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::new(format!("creating the folder {}", parent.display()), e)
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

    // ---- sources -------------------------------------------------------------------------

    pub fn source_state(&self, source: &SourceId) -> Result<SourceState> {
        let conn = self.batch_conn();
        conn.prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM source_state WHERE source_id = ?1"
        ))
        .and_then(|mut stmt| {
            stmt.query_row([source.as_str()], |row| state_of(row, 0))
                .optional()
        })
        .context("reading the state of a source")
        .map(Option::unwrap_or_default)
    }

    /// Records a 410 Gone: the source is not polled again until its URL changes.
    pub fn record_gone(
        &self,
        source: &SourceId,
        url: &str,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO source_state (source_id, url, last_polled_at, next_poll_at, consecutive_failures,
                                           last_error, status, gone_at, failing_since)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, 'gone', ?3, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET
                    url = excluded.url, last_polled_at = excluded.last_polled_at,
                    next_poll_at = excluded.next_poll_at,
                    consecutive_failures = source_state.consecutive_failures + 1,
                    last_error = excluded.last_error, status = 'gone',
                    gone_at = COALESCE(source_state.gone_at, excluded.gone_at),
                    failing_since = COALESCE(source_state.failing_since, excluded.failing_since)",
                params![source.as_str(), url, to_db(now), NEVER, error],
            )
            .context("recording a gone source")?;
        Ok(())
    }

    /// Forgets the gone status and permanent redirect of sources whose configured URL
    /// changed (the admin acted on the report): they are polled again at once.
    pub fn reset_moved_sources(&self, configured: &[(SourceId, String)]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting a source reset")?;
        let mut reset = 0;
        for (id, url) in configured {
            reset += tx
                .execute(
                    "UPDATE source_state SET url = ?2, status = 'active', gone_at = NULL,
                        redirected_to = NULL, next_poll_at = NULL, etag = NULL,
                        last_modified = NULL, body_hash = NULL
                     WHERE source_id = ?1 AND url <> ?2",
                    params![id.as_str(), url],
                )
                .context("resetting a moved source")?;
        }
        tx.commit().context("committing a source reset")?;
        Ok(reset)
    }

    /// Sources the admin should hear about: failing (at least `failing_after` consecutive
    /// failures), gone, or permanently redirected. Sorted by source id.
    pub fn sources_in_trouble(&self, failing_after: u32) -> Result<Vec<SourceHealth>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT source_id, url, {STATE_COLUMNS} FROM source_state
                  WHERE status = 'gone' OR consecutive_failures >= ?1 OR redirected_to IS NOT NULL
                  ORDER BY source_id"
            ))
            .context("listing sources in trouble")?;
        let rows = stmt
            .query_map([failing_after.max(1)], |row| {
                Ok((
                    SourceId::new(row.get::<_, String>(0)?),
                    row.get::<_, String>(1)?,
                    state_of(row, 2)?,
                    row.get::<_, Option<i64>>(2 + 13)?,
                ))
            })
            .context("listing sources in trouble")?;
        let mut out = Vec::new();
        for row in rows {
            let (source, url, state, gone_at) = row.context("listing sources in trouble")?;
            let last_error = state.last_error.clone().unwrap_or_default();
            let since = state
                .failing_since
                .or(state.last_polled_at)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if state.gone {
                out.push(SourceHealth {
                    source: source.clone(),
                    url: url.clone(),
                    problem: SourceProblem::Gone {
                        since: opt_from_db(gone_at).unwrap_or(since),
                        last_error,
                    },
                });
            } else if state.consecutive_failures >= failing_after.max(1) {
                out.push(SourceHealth {
                    source: source.clone(),
                    url: url.clone(),
                    problem: SourceProblem::Failing {
                        since,
                        consecutive_failures: state.consecutive_failures,
                        last_error,
                    },
                });
            }
            if let Some(to) = state.redirected_to {
                out.push(SourceHealth {
                    source,
                    url,
                    problem: SourceProblem::Redirected { to },
                });
            }
        }
        Ok(out)
    }

    /// Sources that recovered from a reported failure streak in `(from, to]`: with
    /// consecutive digest windows, each recovery is reported exactly once.
    pub fn sources_recovered_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SourceRecovery>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT source_id, url, recovered_failing_since, recovered_failures, recovered_at
                   FROM source_state
                  WHERE recovered_at > ?1 AND recovered_at <= ?2
                  ORDER BY recovered_at, source_id",
            )
            .context("listing recovered sources")?;
        let rows = stmt
            .query_map(params![to_db(from), to_db(to)], |row| {
                Ok(SourceRecovery {
                    source: SourceId::new(row.get::<_, String>(0)?),
                    url: row.get(1)?,
                    failing_since: opt_from_db(row.get(2)?).unwrap_or(DateTime::<Utc>::MIN_UTC),
                    failures: row.get::<_, Option<u32>>(3)?.unwrap_or(0),
                    recovered_at: from_db(row.get(4)?),
                })
            })
            .context("listing recovered sources")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("listing recovered sources")
    }

    /// Every source veille has polled, with its state and how many items it gave.
    pub fn source_rows(&self) -> Result<Vec<SourceRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT source_id, url, {STATE_COLUMNS},
                        (SELECT COUNT(*) FROM items WHERE items.source_id = source_state.source_id),
                        (SELECT MIN(first_seen_at) FROM items WHERE items.source_id = source_state.source_id)
                   FROM source_state ORDER BY source_id"
            ))
            .context("listing sources")?;
        let rows = stmt
            .query_map([], |row| {
                Ok(SourceRow {
                    source: SourceId::new(row.get::<_, String>(0)?),
                    url: row.get(1)?,
                    state: state_of(row, 2)?,
                    items: row.get(2 + 14)?,
                    first_item_at: opt_from_db(row.get(2 + 15)?),
                })
            })
            .context("listing sources")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("listing sources")
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

    /// Records a successful poll in the open batch (see the module doc): the source's state
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
                "INSERT INTO source_state (source_id, url, last_polled_at, next_poll_at, consecutive_failures, last_error, failing_since)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET
                    url = excluded.url, last_polled_at = excluded.last_polled_at,
                    next_poll_at = excluded.next_poll_at,
                    consecutive_failures = source_state.consecutive_failures + 1,
                    last_error = excluded.last_error,
                    failing_since = COALESCE(source_state.failing_since, excluded.failing_since)
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
                    recipients: split_recipients(&recipients),
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

    /// Gives up on a mail the server refused for good (it stays listed with its error).
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, next_attempt_at = NULL WHERE id = ?1",
                params![id, error],
            )
            .context("marking a mail as failed")?;
        Ok(())
    }

    /// Puts a pending or failed mail back in line for delivery now. Returns false when there
    /// is no such mail or it was already sent.
    pub fn retry_mail(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let changed = self
            .conn()
            .execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?2
                  WHERE id = ?1 AND status IN ('pending', 'failed')",
                params![id, to_db(now)],
            )
            .context("putting a mail back in line")?;
        Ok(changed > 0)
    }

    /// Outbox rows, newest first: pending and failed ones, plus sent ones when asked.
    pub fn outbox_entries(&self, include_sent: bool) -> Result<Vec<OutboxEntry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, key, kind, subject, recipients, status, attempts, last_error,
                        next_attempt_at, created_at, sent_at, message_id
                   FROM outbox WHERE ?1 OR status != 'sent' ORDER BY id DESC",
            )
            .context("listing the outbox")?;
        let rows = stmt
            .query_map([include_sent], |row| {
                let recipients: String = row.get(4)?;
                Ok(OutboxEntry {
                    id: row.get(0)?,
                    key: row.get(1)?,
                    kind: row.get(2)?,
                    subject: row.get(3)?,
                    recipients: split_recipients(&recipients),
                    status: row.get(5)?,
                    attempts: row.get(6)?,
                    last_error: row.get(7)?,
                    next_attempt_at: opt_from_db(row.get(8)?),
                    created_at: from_db(row.get(9)?),
                    sent_at: opt_from_db(row.get(10)?),
                    message_id: row.get(11)?,
                })
            })
            .context("listing the outbox")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the outbox")
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
                "SELECT id, source_id, identity, url, title, text, published_at, first_seen_at, author
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

/// A mention as [`insert_mention`] writes it.
struct MentionToStore<'a> {
    item: i64,
    watch: &'a WatchId,
    terms: &'a [&'a str],
    backfill: bool,
    now: DateTime<Utc>,
    scored: Option<&'a Scored>,
}

/// Inserts a mention unless the item already has one for this watch; returns its id when
/// new. A live (not backfill) mention also counts in its watch's hour (the spike baseline).
fn insert_mention(tx: &Connection, mention: &MentionToStore<'_>) -> Result<Option<MentionId>> {
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
fn story_outlets(
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

fn write_score(tx: &Connection, mention: MentionId, scored: &Scored) -> Result<()> {
    let reasons = reasons_json(&scored.reasons);
    tx.prepare_cached("UPDATE mentions SET score = ?2, reasons = ?3 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![mention.0, scored.score, reasons]))
        .context("storing a mention's score")?;
    Ok(())
}

const MENTION_SELECT: &str =
    "SELECT m.id, m.watch_id, i.id, i.source_id, i.url, i.title, i.text, i.published_at,
        m.created_at, m.terms, i.story_id, i.outlet, i.author, m.score, m.reasons,
        (SELECT verdict FROM judgments WHERE mention_id = m.id ORDER BY id DESC LIMIT 1)
   FROM mentions m JOIN items i ON i.id = m.item_id";

/// The columns [`state_of`] reads, in order (13 of them, then `gone_at`).
const STATE_COLUMNS: &str = "etag, last_modified, last_polled_at, last_success_at, next_poll_at,
    consecutive_failures, last_error, status, failing_since, redirected_to, body_hash,
    recovered_at, recovered_failures, gone_at";

fn state_of(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<SourceState> {
    Ok(SourceState {
        etag: row.get(at)?,
        last_modified: row.get(at + 1)?,
        last_polled_at: opt_from_db(row.get(at + 2)?),
        last_success_at: opt_from_db(row.get(at + 3)?),
        next_poll_at: opt_from_db(row.get(at + 4)?),
        consecutive_failures: row.get(at + 5)?,
        last_error: row.get(at + 6)?,
        gone: row.get::<_, String>(at + 7)? == "gone",
        failing_since: opt_from_db(row.get(at + 8)?),
        redirected_to: row.get(at + 9)?,
        body_hash: row.get(at + 10)?,
    })
}

fn mention_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<MentionRecord> {
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
    })
}

/// A successful poll's source state: polled, healthy, next poll (validators are written by
/// [`success_details`]).
fn succeeded(conn: &Connection, run: &RunRecord) -> Result<()> {
    conn
            .prepare_cached(
                "INSERT INTO source_state (source_id, url, last_polled_at, last_success_at, next_poll_at, consecutive_failures)
                 VALUES (?1, ?2, ?3, ?3, ?4, 0)
                 ON CONFLICT (source_id) DO UPDATE SET
                    url = excluded.url, last_polled_at = excluded.last_polled_at,
                    last_success_at = excluded.last_success_at, next_poll_at = excluded.next_poll_at,
                    consecutive_failures = 0, last_error = NULL",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![run.source.as_str(), run.url, to_db(run.now), to_db(run.next_poll_at)])
            })
            .context("recording a successful poll")?;
    Ok(())
}

/// Clears a failure streak and a gone status, and records a recovery worth reporting, the
/// permanent redirect, the validators and the body hash.
fn success_details(conn: &Connection, run: &RunRecord) -> Result<()> {
    let (recovered_since, recovered_failures) = run
        .recovered_from
        .map_or((None, None), |(since, n)| (Some(to_db(since)), Some(n)));
    let (update_validators, etag, last_modified) = match &run.validators {
        Some(v) => (true, v.etag.as_deref(), v.last_modified.as_deref()),
        None => (false, None, None),
    };
    conn.prepare_cached(
        "UPDATE source_state SET
                status = 'active', gone_at = NULL, failing_since = NULL,
                body_hash = COALESCE(?2, body_hash),
                redirected_to = ?3,
                etag = CASE WHEN ?4 THEN ?5 ELSE etag END,
                last_modified = CASE WHEN ?4 THEN ?6 ELSE last_modified END,
                recovered_at = CASE WHEN ?7 IS NULL THEN recovered_at ELSE ?9 END,
                recovered_failing_since = COALESCE(?7, recovered_failing_since),
                recovered_failures = COALESCE(?8, recovered_failures)
             WHERE source_id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            run.source.as_str(),
            run.body_hash,
            run.redirected_to,
            update_validators,
            etag,
            last_modified,
            recovered_since,
            recovered_failures,
            to_db(run.now),
        ])
    })
    .context("recording the health of a source")?;
    Ok(())
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
                terms: &found.terms(),
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
                                 author = COALESCE(?7, author)
                  WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![id, item.url, item.title, item.text, item.published.map(to_db), to_db(now), item.author])
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
