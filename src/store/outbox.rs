//! The outbox: mails queued under a unique key in the transaction of the decision that made
//! them (a digest window, an alert flush, an escalation), so the same mail is never queued
//! twice; then delivered one row at a time, retried with backoff, or marked failed with the
//! server's answer (`veille outbox`).

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::{Context, Result, Store, from_db, opt_from_db, to_db};

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

impl Store {
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
}

fn split_recipients(stored: &str) -> Vec<String> {
    stored
        .split('\n')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// Inserts a mail unless one with the same key exists; returns its new id.
pub(super) fn insert_mail(
    tx: &Transaction<'_>,
    mail: &NewMail,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
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
