//! What the alert engine keeps between polls: hourly counts for spikes, stories waiting for
//! a rule's next mail, stories already mailed (with their thread), and spike episodes.
//!
//! The engine (`crate::alert`) decides; this file only reads and writes, each change in one
//! transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{
    Context, MENTION_SELECT, MentionRecord, NewMail, Result, Store, from_db, insert_mail,
    mention_record, to_db,
};
use crate::model::Reason;
use crate::model::{AlertId, Intake, MentionId, PastEscalation, StoryId, WatchId};

/// A watch's recent volume, as [`Store::watch_hours`] reads it; times are unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchHours {
    /// The end of the current window (now) and its length.
    pub end: i64,
    pub length: i64,
    /// Live mentions in the current window.
    pub current: u64,
    /// When the watch's first mention was stored.
    pub history_start: Option<i64>,
    /// `(hour, mentions)`: the hour's start in hours since the epoch, and its live mentions.
    pub hours: Vec<(i64, i64)>,
}

/// The length of a spike window in seconds, at least a minute.
pub fn window_seconds(window: Duration) -> i64 {
    i64::try_from(window.as_secs()).unwrap_or(3600).max(60)
}

/// A live mention the alert engine has not taken in yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Awaiting {
    pub mention: MentionId,
    pub watch: WatchId,
    pub story: StoryId,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// A story waiting for a rule's next mail.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub story: StoryId,
    pub mention: MentionId,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// A rule's state: its last story mail, the mentions folded since, the stories waiting.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleState {
    pub last_mail_at: Option<DateTime<Utc>>,
    pub folded: u64,
    /// Best score first.
    pub pending: Vec<Pending>,
}

/// A story a rule has mailed about.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertedStory {
    pub story: StoryId,
    pub last_message_id: String,
    /// The thread so far, oldest first (the first mail's id first).
    pub references: Vec<String>,
    /// The outlet count the last mail showed.
    pub outlets: usize,
}

/// A crisis escalation to queue: the story (as one watch reads it), the crisis verdict that
/// asks for it, and one mail per crisis rule.
#[derive(Debug, Clone, Copy)]
pub struct NewEscalation<'a> {
    pub watch: &'a WatchId,
    pub story: StoryId,
    /// The id of the crisis verdict's judgment row.
    pub judgment: i64,
    /// The story's outlet count, as the mails show it.
    pub outlets: usize,
    pub now: DateTime<Utc>,
    pub mails: &'a [(AlertId, NewMail)],
}

/// A queued alert mail and what it settles.
#[derive(Debug)]
pub struct AlertSent<'a> {
    pub rule: &'a AlertId,
    pub mail: &'a NewMail,
    pub now: DateTime<Utc>,
    /// Stories the mail shows for the first time (they never alert again), with the
    /// outlet count shown.
    pub new_stories: Vec<(StoryId, usize)>,
    /// Stories shown again as grown, with the outlet count shown now.
    pub updates: Vec<(StoryId, usize)>,
    /// The story whose thread this mail continues, if any.
    pub continues: Option<StoryId>,
    /// A spike mail: the watch whose episode starts.
    pub spike: Option<&'a WatchId>,
}

impl Store {
    /// What a spike decision on `watch` is computed from (see
    /// `crate::alert::spike::window_counts`): its live mentions in `(now - window, now]`,
    /// when its history starts, and its hourly counts over the `days` days before.
    pub fn watch_hours(
        &self,
        watch: &WatchId,
        now: DateTime<Utc>,
        window: Duration,
        days: i64,
    ) -> Result<WatchHours> {
        let conn = self.conn();
        let end = to_db(now);
        let length = window_seconds(window);
        let current: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM mentions
                  WHERE watch_id = ?1 AND backfill = 0 AND created_at > ?2 AND created_at <= ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![watch.as_str(), end - length, end], |row| row.get(0))
            })
            .context("counting a watch's current window")?;
        let history_start: Option<i64> = conn
            .prepare_cached("SELECT MIN(created_at) FROM mentions WHERE watch_id = ?1")
            .and_then(|mut stmt| stmt.query_row([watch.as_str()], |row| row.get(0)))
            .context("reading when a watch's history starts")?;
        let first = end - days.max(0) * 86_400 - length;
        let last = end - 86_400;
        let mut stmt = conn
            .prepare_cached(
                "SELECT hour, mentions FROM watch_hours
                  WHERE watch_id = ?1 AND hour >= ?2 AND hour <= ?3 ORDER BY hour",
            )
            .context("reading a watch's hourly counts")?;
        let hours = stmt
            .query_map(
                params![
                    watch.as_str(),
                    first.div_euclid(3600),
                    last.div_euclid(3600)
                ],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .context("reading a watch's hourly counts")?;
        Ok(WatchHours {
            end,
            length,
            current: u64::try_from(current).unwrap_or(0),
            history_start,
            hours,
        })
    }

    /// The stories with the most live mentions of `watch` in `(from, to]`: story, its latest
    /// mention, and the count.
    pub fn top_stories(
        &self,
        watch: &WatchId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(StoryId, MentionId, u64)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT COALESCE(i.story_id, i.id), MAX(m.id), COUNT(*) AS n
                   FROM mentions m JOIN items i ON i.id = m.item_id
                  WHERE m.watch_id = ?1 AND m.backfill = 0 AND m.created_at > ?2 AND m.created_at <= ?3
                  GROUP BY 1 ORDER BY n DESC, MAX(m.id) DESC LIMIT ?4",
            )
            .context("reading a spike's stories")?;
        let rows = stmt
            .query_map(
                params![watch.as_str(), to_db(from), to_db(to), limit as i64],
                |row| {
                    Ok((
                        StoryId(row.get(0)?),
                        MentionId(row.get(1)?),
                        u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    ))
                },
            )
            .context("reading a spike's stories")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .context("reading a spike's stories")
    }

    /// Mentions by id, in the order asked (unknown ids are left out).
    pub fn mentions_by_id(&self, ids: &[MentionId]) -> Result<Vec<MentionRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("{MENTION_SELECT} WHERE m.id = ?1"))
            .context("reading a mention")?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = stmt
                .query_row([id.0], mention_record)
                .optional()
                .context("reading a mention")?
            {
                found.push(record);
            }
        }
        Ok(found)
    }

    /// The latest mention of `story` by one of `watches`.
    pub fn latest_mention_of_story(
        &self,
        story: StoryId,
        watches: &[WatchId],
    ) -> Result<Option<MentionRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{MENTION_SELECT} WHERE i.story_id = ?1 AND m.watch_id = ?2 ORDER BY m.id DESC LIMIT 1"
            ))
            .context("reading a story's mention")?;
        let mut latest: Option<MentionRecord> = None;
        for watch in watches {
            if let Some(record) = stmt
                .query_row(params![story.0, watch.as_str()], mention_record)
                .optional()
                .context("reading a story's mention")?
                && latest.as_ref().is_none_or(|l| record.id > l.id)
            {
                latest = Some(record);
            }
        }
        Ok(latest)
    }

    /// Forgets a rule's waiting stories (their mentions are gone).
    pub fn drop_pending(&self, rule: &AlertId) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM alert_pending WHERE rule_id = ?1",
                [rule.as_str()],
            )
            .context("dropping waiting stories")?;
        Ok(())
    }

    /// Takes in a run's mentions for one rule: a story mailed before or a mention under the
    /// rule's score is folded (counted for the next mail); a passing new story waits for
    /// the next mail, with its best mention.
    pub fn alert_intake(
        &self,
        rule: &AlertId,
        now: DateTime<Utc>,
        intake: &[Intake],
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting an alert intake")?;
        let mut folded = 0i64;
        for entry in intake {
            let alerted: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM alert_stories WHERE rule_id = ?1 AND story_id = ?2)",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![rule.as_str(), entry.story.0], |row| row.get(0))
                })
                .context("reading alerted stories")?;
            if alerted || !entry.passes {
                folded += 1;
                continue;
            }
            let reasons = serde_json::to_string(&entry.reasons).unwrap_or_else(|_| "[]".into());
            // A second passing mention of a waiting story: the better one is kept, the
            // other is folded.
            let waiting: Option<f64> = tx
                .prepare_cached(
                    "SELECT score FROM alert_pending WHERE rule_id = ?1 AND story_id = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![rule.as_str(), entry.story.0], |row| row.get(0))
                        .optional()
                })
                .context("reading waiting stories")?;
            if waiting.is_some() {
                folded += 1;
            }
            if waiting.is_none_or(|score| entry.score > score) {
                tx.prepare_cached(
                    "INSERT INTO alert_pending (rule_id, story_id, mention_id, score, reasons, queued_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (rule_id, story_id) DO UPDATE SET
                        mention_id = excluded.mention_id, score = excluded.score, reasons = excluded.reasons",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        rule.as_str(),
                        entry.story.0,
                        entry.mention.0,
                        entry.score,
                        reasons,
                        to_db(now)
                    ])
                })
                .context("queueing a story for an alert")?;
            }
        }
        if folded > 0 {
            tx.execute(
                "INSERT INTO alert_rules (rule_id, folded) VALUES (?1, ?2)
                 ON CONFLICT (rule_id) DO UPDATE SET folded = folded + excluded.folded",
                params![rule.as_str(), folded],
            )
            .context("counting folded mentions")?;
        }
        tx.commit().context("committing an alert intake")
    }

    /// Live mentions the alert engine has not taken in (a crash came between storing them
    /// and their intake), oldest first: id, watch, story, stored score and reasons.
    pub fn mentions_awaiting_alerts(&self) -> Result<Vec<Awaiting>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT m.id, m.watch_id, COALESCE(i.story_id, i.id), m.score, m.reasons
                   FROM mentions m JOIN items i ON i.id = m.item_id
                  WHERE m.awaiting_alerts = 1 ORDER BY m.id",
            )
            .context("reading mentions awaiting alerts")?;
        let rows = stmt
            .query_map([], |row| {
                let reasons: Option<String> = row.get(4)?;
                Ok(Awaiting {
                    mention: MentionId(row.get(0)?),
                    watch: WatchId::new(row.get::<_, String>(1)?),
                    story: StoryId(row.get(2)?),
                    score: row.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
                    reasons: reasons
                        .and_then(|r| serde_json::from_str(&r).ok())
                        .unwrap_or_default(),
                })
            })
            .context("reading mentions awaiting alerts")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .context("reading mentions awaiting alerts")
    }

    /// Marks mentions as taken in by the alert engine.
    pub fn mentions_taken_in(&self, ids: &[MentionId]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("marking mentions taken in")?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE mentions SET awaiting_alerts = 0 WHERE id = ?1")
                .context("marking mentions taken in")?;
            for id in ids {
                stmt.execute([id.0]).context("marking mentions taken in")?;
            }
        }
        tx.commit().context("marking mentions taken in")
    }

    /// A rule's last mail, folded count and waiting stories.
    pub fn alert_rule_state(&self, rule: &AlertId) -> Result<RuleState> {
        let conn = self.conn();
        let (last_mail_at, folded) = conn
            .query_row(
                "SELECT last_mail_at, folded FROM alert_rules WHERE rule_id = ?1",
                [rule.as_str()],
                |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, i64>(1)?)),
            )
            .optional()
            .context("reading an alert rule's state")?
            .unwrap_or((None, 0));
        let mut stmt = conn
            .prepare_cached(
                "SELECT story_id, mention_id, score, reasons FROM alert_pending
                  WHERE rule_id = ?1 ORDER BY score DESC, mention_id",
            )
            .context("reading waiting stories")?;
        let pending = stmt
            .query_map([rule.as_str()], |row| {
                let reasons: String = row.get(3)?;
                Ok(Pending {
                    story: StoryId(row.get(0)?),
                    mention: MentionId(row.get(1)?),
                    score: row.get(2)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                })
            })
            .context("reading waiting stories")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading waiting stories")?;
        Ok(RuleState {
            last_mail_at: last_mail_at.map(from_db),
            folded: u64::try_from(folded).unwrap_or(0),
            pending,
        })
    }

    /// The stories `rule` mailed about since `since`, most recent first.
    pub fn alerted_stories(
        &self,
        rule: &AlertId,
        since: DateTime<Utc>,
    ) -> Result<Vec<AlertedStory>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT story_id, last_message_id, refs, outlets FROM alert_stories
                  WHERE rule_id = ?1 AND alerted_at >= ?2 ORDER BY alerted_at DESC, story_id",
            )
            .context("reading alerted stories")?;
        let rows = stmt
            .query_map(params![rule.as_str(), to_db(since)], alerted_story)
            .context("reading alerted stories")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .context("reading alerted stories")
    }

    /// One story a rule mailed about, if it did.
    pub fn alerted_story(&self, rule: &AlertId, story: StoryId) -> Result<Option<AlertedStory>> {
        self.conn()
            .query_row(
                "SELECT story_id, last_message_id, refs, outlets FROM alert_stories
                  WHERE rule_id = ?1 AND story_id = ?2",
                params![rule.as_str(), story.0],
                alerted_story,
            )
            .optional()
            .context("reading an alerted story")
    }

    /// Whether a spike episode of `watch` is in progress for `rule`.
    pub fn spike_in_progress(&self, rule: &AlertId, watch: &WatchId) -> Result<bool> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM alert_spikes WHERE rule_id = ?1 AND watch_id = ?2)",
                params![rule.as_str(), watch.as_str()],
                |row| row.get(0),
            )
            .context("reading a spike episode")
    }

    /// Ends a spike episode (the count fell back under the threshold).
    pub fn end_spike(&self, rule: &AlertId, watch: &WatchId) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM alert_spikes WHERE rule_id = ?1 AND watch_id = ?2",
                params![rule.as_str(), watch.as_str()],
            )
            .context("ending a spike episode")?;
        Ok(())
    }

    /// Queues an alert mail and records what it settles, in one transaction: the stories it
    /// shows never alert again, the waiting ones leave the queue, the folded count restarts,
    /// the threads grow. Returns the outbox id (None when this exact mail was queued before).
    pub fn record_alert(&self, sent: &AlertSent<'_>) -> Result<Option<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("starting to queue an alert")?;
        let outbox_id = insert_mail(&tx, sent.mail, sent.now)?;
        let rule = sent.rule.as_str();
        let id = &sent.mail.message_id;
        for (story, outlets) in &sent.new_stories {
            tx.execute(
                "INSERT INTO alert_stories (rule_id, story_id, first_message_id, last_message_id, refs, outlets, alerted_at)
                 VALUES (?1, ?2, ?3, ?3, ?3, ?4, ?5)
                 ON CONFLICT (rule_id, story_id) DO NOTHING",
                params![rule, story.0, id, *outlets as i64, to_db(sent.now)],
            )
            .context("recording an alerted story")?;
            tx.execute(
                "DELETE FROM alert_pending WHERE rule_id = ?1 AND story_id = ?2",
                params![rule, story.0],
            )
            .context("recording an alerted story")?;
        }
        for (story, outlets) in &sent.updates {
            tx.execute(
                "UPDATE alert_stories SET outlets = ?3 WHERE rule_id = ?1 AND story_id = ?2",
                params![rule, story.0, *outlets as i64],
            )
            .context("recording a story update")?;
        }
        if let Some(story) = sent.continues {
            tx.execute(
                "UPDATE alert_stories SET last_message_id = ?3, refs = refs || ' ' || ?3
                  WHERE rule_id = ?1 AND story_id = ?2",
                params![rule, story.0, id],
            )
            .context("recording an alert thread")?;
        }
        tx.execute(
            "INSERT INTO alert_rules (rule_id, last_mail_at, folded) VALUES (?1, ?2, 0)
             ON CONFLICT (rule_id) DO UPDATE SET last_mail_at = excluded.last_mail_at, folded = 0",
            params![rule, to_db(sent.now)],
        )
        .context("recording an alert mail")?;
        if let Some(watch) = sent.spike {
            tx.execute(
                "INSERT INTO alert_spikes (rule_id, watch_id, since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (rule_id, watch_id) DO NOTHING",
                params![rule, watch.as_str(), to_db(sent.now)],
            )
            .context("recording a spike episode")?;
        }
        tx.commit().context("committing an alert")?;
        Ok(outbox_id)
    }

    /// Queues the crisis escalation of a story (one mail per crisis rule), if `may_escalate`
    /// agrees given the story's last escalation, all in one transaction: the decision, the
    /// escalation recorded as the story's last, and its mails. Each rule's story joins its
    /// mailed stories (or its thread grows) and leaves its queue; the rules' throttles are left
    /// alone (an escalation is not one of their alerts). The transaction takes the write lock
    /// when it begins, so two verdicts given at once (two processes, two clicks) cannot both
    /// see "never escalated". Returns the outbox ids queued, or None when `may_escalate`
    /// said no (nothing is written then).
    pub fn record_escalation(
        &self,
        escalation: &NewEscalation<'_>,
        may_escalate: impl FnOnce(Option<&PastEscalation>) -> bool,
    ) -> Result<Option<Vec<i64>>> {
        let NewEscalation {
            watch,
            story,
            judgment,
            outlets,
            now,
            mails,
        } = *escalation;
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .context("starting to queue an escalation")?;
        let past = tx
            .query_row(
                "SELECT e.judgment_id, e.escalated_at,
                        (SELECT MIN(j.judged_at) FROM judgments j
                           JOIN mentions m ON m.id = j.mention_id JOIN items i ON i.id = m.item_id
                          WHERE i.story_id = e.story_id AND m.watch_id = e.watch_id
                            AND j.id > e.judgment_id AND j.verdict <> 'crisis'),
                        (SELECT MAX(m.created_at) FROM mentions m JOIN items i ON i.id = m.item_id
                          WHERE i.story_id = e.story_id AND m.watch_id = e.watch_id)
                   FROM crisis_escalations e WHERE e.watch_id = ?1 AND e.story_id = ?2",
                params![watch.as_str(), story.0],
                |row| {
                    Ok(PastEscalation {
                        judgment: row.get(0)?,
                        at: from_db(row.get(1)?),
                        cleared_at: row.get::<_, Option<i64>>(2)?.map(from_db),
                        newest_mention_at: row.get::<_, Option<i64>>(3)?.map(from_db),
                    })
                },
            )
            .optional()
            .context("reading the story's last escalation")?;
        if !may_escalate(past.as_ref()) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO crisis_escalations (watch_id, story_id, judgment_id, escalated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (watch_id, story_id) DO UPDATE
                SET judgment_id = excluded.judgment_id, escalated_at = excluded.escalated_at",
            params![watch.as_str(), story.0, judgment, to_db(now)],
        )
        .context("recording an escalation")?;
        let mut queued = Vec::new();
        for (rule, mail) in mails {
            if let Some(id) = insert_mail(&tx, mail, now)? {
                queued.push(id);
            }
            let id = &mail.message_id;
            tx.execute(
                "INSERT INTO alert_stories (rule_id, story_id, first_message_id, last_message_id, refs, outlets, alerted_at)
                 VALUES (?1, ?2, ?3, ?3, ?3, ?4, ?5)
                 ON CONFLICT (rule_id, story_id) DO UPDATE
                    SET last_message_id = excluded.last_message_id,
                        refs = refs || ' ' || excluded.last_message_id,
                        outlets = excluded.outlets",
                params![rule.as_str(), story.0, id, outlets as i64, to_db(now)],
            )
            .context("recording an escalated story")?;
            tx.execute(
                "DELETE FROM alert_pending WHERE rule_id = ?1 AND story_id = ?2",
                params![rule.as_str(), story.0],
            )
            .context("recording an escalated story")?;
        }
        tx.commit().context("committing an escalation")?;
        Ok(Some(queued))
    }

    /// When the earliest throttled rule may mail again: rules with waiting stories, by the
    /// time of their last mail (the caller adds each rule's throttle).
    pub fn rules_waiting(&self) -> Result<Vec<(AlertId, Option<DateTime<Utc>>)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT p.rule_id, r.last_mail_at FROM (SELECT DISTINCT rule_id FROM alert_pending) p
                   LEFT JOIN alert_rules r ON r.rule_id = p.rule_id",
            )
            .context("reading waiting alerts")?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    AlertId::new(row.get::<_, String>(0)?),
                    row.get::<_, Option<i64>>(1)?.map(from_db),
                ))
            })
            .context("reading waiting alerts")?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .context("reading waiting alerts")
    }
}

fn alerted_story(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertedStory> {
    let refs: String = row.get(2)?;
    Ok(AlertedStory {
        story: StoryId(row.get(0)?),
        last_message_id: row.get(1)?,
        references: refs.split_whitespace().map(str::to_string).collect(),
        outlets: usize::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
    })
}
