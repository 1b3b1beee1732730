//! TEMP STUB (lead's integration only; replaced by the mail branch).
#![allow(dead_code)]
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::Mailbox;

use super::NotifyError;
use crate::digest::Lang;
use crate::model::{AlertId, MentionId, SourceId, StoryId};
use crate::store::NewMail;

pub struct AlertEntry {
    pub story: StoryId,
    pub mention: MentionId,
    pub watch_name: String,
    pub title: String,
    pub url: Option<String>,
    pub source: SourceId,
    pub author: Option<String>,
    pub time: DateTime<Utc>,
    pub outlets: Vec<String>,
    pub copies: usize,
    pub reasons_line: String,
    pub snippet: Option<crate::matching::Snippet>,
}
pub struct AlertUpdate {
    pub entry: AlertEntry,
    pub previous_outlets: usize,
}
pub enum AlertBody {
    Stories {
        headline: AlertEntry,
        also: Vec<AlertEntry>,
        updates: Vec<AlertUpdate>,
        folded_mentions: usize,
    },
    Spike {
        watch_name: String,
        count: u64,
        usual: f64,
        window_minutes: i64,
        top: Vec<AlertEntry>,
        updates: Vec<AlertUpdate>,
        folded_mentions: usize,
    },
}
pub struct Thread {
    pub in_reply_to: String,
    pub references: Vec<String>,
}
pub struct AlertMail {
    pub key: String,
    pub rule: AlertId,
    pub lang: Lang,
    pub timezone: chrono_tz::Tz,
    pub body: AlertBody,
    pub thread: Option<Thread>,
}

pub fn compose_alert(
    alert: &AlertMail,
    from: &Mailbox,
    to: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<NewMail, NotifyError> {
    let (subject, mut text) = match &alert.body {
        AlertBody::Stories {
            headline,
            also,
            updates,
            folded_mentions,
        } => {
            let mut text = format!("{}\n{}\n", headline.title, headline.reasons_line);
            for a in also {
                text.push_str(&format!("also: {}\n", a.title));
            }
            for u in updates {
                text.push_str(&format!(
                    "update: {} now in {} outlets (+{})\n",
                    u.entry.title,
                    u.entry.outlets.len(),
                    u.entry.outlets.len().saturating_sub(u.previous_outlets)
                ));
            }
            if *folded_mentions > 0 {
                text.push_str(&format!(
                    "+{folded_mentions} new mentions since the last alert\n"
                ));
            }
            (
                format!(
                    "[veille] {}: {} ({} outlet{})",
                    headline.watch_name,
                    headline.title,
                    headline.outlets.len(),
                    if headline.outlets.len() == 1 { "" } else { "s" }
                ),
                text,
            )
        }
        AlertBody::Spike {
            watch_name,
            count,
            usual,
            window_minutes,
            top,
            ..
        } => (
            format!(
                "[veille] {watch_name}: spike, {count} mentions in {window_minutes} min (usually {usual})"
            ),
            top.iter()
                .map(|t| t.title.clone())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    };
    text.push('\n');
    let message_id = format!(
        "<veille.{}.{}@{}>",
        alert.key.replace(':', "."),
        now.timestamp_nanos_opt().unwrap_or(0),
        from.email.domain()
    );
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject.clone())
        .message_id(Some(message_id.clone()))
        .date(now.into());
    if let Some(thread) = &alert.thread {
        builder = builder
            .in_reply_to(thread.in_reply_to.clone())
            .references(thread.references.join(" "));
    }
    for m in to {
        builder = builder.to(m.clone());
    }
    let message = builder
        .body(text)
        .map_err(|e| NotifyError::Compose(e.to_string()))?;
    Ok(NewMail {
        key: alert.key.clone(),
        kind: "alert".to_string(),
        sender: from.email.to_string(),
        recipients: to.iter().map(|m| m.email.to_string()).collect(),
        subject,
        message_id,
        body: message.formatted(),
    })
}
