//! Sources: what veille remembers about polling each one (validators, body hash, failure
//! streak, gone or redirected) and the questions asked of it: what is due, what needs the
//! admin's attention, what came back.
//!
//! "What is due" is a query over `next_poll_at`, not a timer in memory, so a restart resumes
//! where the last process stopped. A gone source is given a next poll of [`NEVER`] rather
//! than a flag every query must remember; it is reset when its configured URL changes. A
//! successful run writes its source state with the run ([`succeeded`], [`success_details`],
//! called by `Store::record_run`), so the state never says "polled" for items not stored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Context, Result, RunRecord, Store, from_db, opt_from_db, to_db};
use crate::model::SourceId;

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

impl Store {
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
}

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

/// A successful poll's source state: polled, healthy, next poll (validators are written by
/// [`success_details`]).
pub(super) fn succeeded(conn: &Connection, run: &RunRecord) -> Result<()> {
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
pub(super) fn success_details(conn: &Connection, run: &RunRecord) -> Result<()> {
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
