//! Digests: which are due, and what goes in them.
//!
//! A digest's window is "everything since the previous digest of the same id", not "the
//! last 24 hours": windows are delimited by mention ids (a monotonic watermark stored with
//! each run), so a mention stored while a digest is being built lands in exactly one
//! digest, whatever the clocks do. A digest never sent before is due at once and covers
//! everything stored. Building the digest is pure; the store and the outbox are driven by
//! the scheduler.

pub mod schedule;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Config, DigestConfig};
use crate::model::{DigestId, MentionId, SourceId, WatchId};
use crate::store::{DigestRun, MentionRecord};

/// Longest title shown for an item that has none of its own (taken from its text).
const UNTITLED_MAX_CHARS: usize = 100;

/// Whether a digest should be sent now.
pub fn is_due(digest: &DigestConfig, last: Option<&DigestRun>, now: DateTime<Utc>) -> bool {
    match last {
        None => true,
        Some(last) => digest
            .schedule
            .next_after(last.window_end)
            .is_some_and(|next| next <= now),
    }
}

/// The next instant a digest becomes due (for the daemon's sleep).
pub fn next_due(
    digest: &DigestConfig,
    last: Option<&DigestRun>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match last {
        None => Some(now),
        Some(last) => digest.schedule.next_after(last.window_end),
    }
}

/// A digest ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub id: DigestId,
    pub name: String,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    #[serde(skip)]
    pub tz: Tz,
    pub sections: Vec<Section>,
    pub total_mentions: usize,
}

/// The mentions of one watch in a digest.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub watch: WatchId,
    pub name: String,
    /// At most `max_items` entries, newest first.
    pub entries: Vec<Entry>,
    /// How many were left out by the cap.
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub mention: MentionId,
    pub title: String,
    pub url: Option<String>,
    pub source: SourceId,
    pub published: Option<DateTime<Utc>>,
    pub found_at: DateTime<Utc>,
    pub terms: Vec<String>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.total_mentions == 0
    }
}

/// Groups a window's mentions by watch (in configuration order), newest first, capped.
pub fn build(
    config: &Config,
    digest: &DigestConfig,
    window_start: Option<DateTime<Utc>>,
    window_end: DateTime<Utc>,
    mentions: Vec<MentionRecord>,
) -> Digest {
    let total_mentions = mentions.len();
    let mut sections = Vec::new();
    for watch in config.watches_of_digest(&digest.id) {
        let mut of_watch: Vec<&MentionRecord> =
            mentions.iter().filter(|m| m.watch == watch.id).collect();
        if of_watch.is_empty() {
            continue;
        }
        of_watch.sort_by(|a, b| {
            let when = |m: &MentionRecord| m.published.unwrap_or(m.found_at);
            when(b).cmp(&when(a)).then(b.id.cmp(&a.id))
        });
        let more = of_watch.len().saturating_sub(digest.max_items);
        let entries = of_watch
            .into_iter()
            .take(digest.max_items)
            .map(|m| Entry {
                mention: m.id,
                title: display_title(&m.title, &m.text),
                url: m.url.clone(),
                source: m.source.clone(),
                published: m.published,
                found_at: m.found_at,
                terms: m.terms.clone(),
            })
            .collect();
        sections.push(Section {
            watch: watch.id.clone(),
            name: watch.name.clone(),
            entries,
            more,
        });
    }
    Digest {
        id: digest.id.clone(),
        name: digest.name.clone(),
        window_start,
        window_end,
        tz: digest.schedule.tz,
        sections,
        total_mentions,
    }
}

/// The title to show: the item's own, else the start of its text cut at a word boundary.
pub fn display_title(title: &str, text: &str) -> String {
    if !title.trim().is_empty() {
        return title.trim().to_string();
    }
    let text = text.trim();
    if text.chars().count() <= UNTITLED_MAX_CHARS {
        return if text.is_empty() {
            "(untitled)".to_string()
        } else {
            text.to_string()
        };
    }
    let cut: String = text.chars().take(UNTITLED_MAX_CHARS).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_word.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_fall_back_to_text() {
        assert_eq!(display_title(" Acme ", "body"), "Acme");
        assert_eq!(display_title("", "short post"), "short post");
        assert_eq!(display_title("", ""), "(untitled)");
        let long = "word ".repeat(40);
        let shown = display_title("", &long);
        assert!(shown.ends_with("word…"), "{shown}");
        assert!(shown.chars().count() <= UNTITLED_MAX_CHARS + 1);
    }
}
