//! Alert mails: what an alert rule sends when a story passes it or a watch spikes.
//!
//! The alert engine decides *whether* and *what* to send (rules, throttle, folding, one
//! alert per story, spikes) and hands an [`AlertMail`] over; this module only turns it into
//! an outbox row: a one-line subject, a short text + HTML body, and the threading headers.
//!
//! Design choices:
//! - Short first. A crisis manager reads an alert on a phone, so the headline story comes
//!   first with everything needed to judge it (source, time, outlets, reasons, snippet);
//!   the other stories folded into the mail are one short block each, and the lists are
//!   capped ([`LIST_SHOWN`], [`UPDATES_SHOWN`]) with a "… and N more in veille" line rather
//!   than growing without bound when a throttle window collects a burst.
//! - Same words, escaping and dates as digests: labels, `is_web_link` and the HTML formatter
//!   come from [`super::render`], so an alert and a digest never disagree on how a story is
//!   described, and feed text is escaped by minijinja whatever the template does.
//! - Subjects are built from feed text, which can hold line breaks, control characters and
//!   bidirectional overrides: they are flattened to one line and long headlines are cut at a
//!   word boundary, so a hostile or sloppy feed cannot inject headers or spoof a subject.
//! - Threading follows RFC 5322 §3.6.4: `In-Reply-To` names the mail replied to and
//!   `References` the chain, ending with that mail. The chain is capped at
//!   [`MAX_REFERENCES`] ids (the first one, the story's first alert, is always kept) because
//!   a story followed for days would otherwise grow a header some servers reject.
//!
//! Trade-off: the engine passes the reasons line already rendered, so this module cannot
//! re-word or shorten reasons; in exchange digests and alerts show the very same line.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::Serialize;

use super::render::{
    Labels, LinkView, OUTLETS_NAMED, RenderError, Rendered, is_web_link, render_both,
};
use super::{MailError, compose_with};
use crate::matching::Snippet;
use crate::model::Lang;
use crate::model::{AlertId, MentionId, SourceId, StoryId};
use crate::store::NewMail;

/// Other stories shown in one mail (folded new stories, or the top stories of a spike).
pub const LIST_SHOWN: usize = 5;
/// Grown stories shown in one mail.
pub const UPDATES_SHOWN: usize = 5;
/// Longest headline in a subject, in characters, before it is cut at a word boundary.
pub const SUBJECT_HEADLINE_CHARS: usize = 80;
/// Most message ids in a `References` header.
pub const MAX_REFERENCES: usize = 12;

/// One story as an alert shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEntry {
    pub story: StoryId,
    pub mention: MentionId,
    /// The watch's display name.
    pub watch_name: String,
    /// Display title (already never empty).
    pub title: String,
    /// Only http(s) becomes a link.
    pub url: Option<String>,
    pub source: SourceId,
    /// The outlet of the mention shown (the others are "also in"); when `None`, the host of
    /// `url` stands for it.
    pub outlet: Option<String>,
    pub author: Option<String>,
    /// Published, else first seen.
    pub time: DateTime<Utc>,
    /// Distinct outlets, first first (len >= 1 normally).
    pub outlets: Vec<String>,
    /// Items in the story ("shared N times" when more than outlets).
    pub copies: usize,
    /// Already rendered in the mail's language ("" = none).
    pub reasons_line: String,
    /// Rendered like digests render it.
    pub snippet: Option<Snippet>,
    /// One-click judgment links (none without `web.base_url`).
    pub links: Vec<crate::model::JudgeLink>,
}

/// A story that was alerted before and grew since its last mail.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertUpdate {
    pub entry: AlertEntry,
    pub previous_outlets: usize,
}

/// What an alert mail is about.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertBody {
    /// New stories that passed the rule. `headline` is the best one; `also` are the other
    /// new stories folded into this mail (shown shorter); `folded_mentions` counts the
    /// mentions since the last alert that are not shown as entries (0 = no line).
    Stories {
        headline: AlertEntry,
        also: Vec<AlertEntry>,
        updates: Vec<AlertUpdate>,
        folded_mentions: usize,
    },
    /// A story a person marked as a crisis: sent at once, whatever the throttle.
    Crisis {
        headline: AlertEntry,
        /// Who gave the verdict, and their note.
        who: String,
        note: Option<String>,
    },
    /// A volume spike on one watch.
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

/// Where the mail goes in a thread: the story's first alert mail and the chain since.
/// Message ids carry their angle brackets, as `super::message_id` makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub in_reply_to: String,
    pub references: Vec<String>,
}

/// An alert ready to compose.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertMail {
    /// Outbox key, given by the engine (`alert:RULE:…`).
    pub key: String,
    pub rule: AlertId,
    pub lang: Lang,
    pub timezone: Tz,
    pub body: AlertBody,
    pub thread: Option<Thread>,
}

/// Turns an alert into an outbox row (`kind = "alert"`), threaded when `alert.thread` says.
pub fn compose_alert(
    alert: &AlertMail,
    from: &Mailbox,
    to: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<NewMail, MailError> {
    let rendered = render_alert(alert, now)?;
    let thread = alert.thread.as_ref().and_then(thread_headers);
    compose_with(
        alert.key.clone(),
        "alert",
        &rendered,
        from,
        to,
        now,
        |builder| match thread {
            Some((in_reply_to, references)) => {
                builder.in_reply_to(in_reply_to).references(references)
            }
            None => builder,
        },
    )
}

/// The subject and both bodies of an alert. `now` is when it is sent (a spike's window
/// ends then).
pub fn render_alert(alert: &AlertMail, now: DateTime<Utc>) -> Result<Rendered, RenderError> {
    let (text, html) = render_both(TEXT_TEMPLATE, HTML_TEMPLATE, &view_of(alert, now))?;
    Ok(Rendered {
        subject: alert_subject(alert),
        text,
        html,
        cut_for_size: 0,
    })
}

/// `[veille] WATCH: headline (N outlets)` or `[veille] WATCH: spike, 40 mentions in 1 h
/// (usually 3)`, in the alert's language, on one line.
pub fn alert_subject(alert: &AlertMail) -> String {
    let words = Words {
        labels: Labels { lang: alert.lang },
    };
    let colon = match alert.lang {
        Lang::En => ":",
        Lang::Fr => " :",
    };
    match &alert.body {
        AlertBody::Stories { headline, .. } => format!(
            "[veille] {}{colon} {} ({})",
            one_line(&headline.watch_name),
            cut_at_word(&one_line(&headline.title), SUBJECT_HEADLINE_CHARS),
            words.outlets(headline.outlets.len().max(1))
        ),
        AlertBody::Crisis { headline, .. } => format!(
            "[veille] {}{colon} {}{colon} {} ({})",
            words.crisis_word(),
            one_line(&headline.watch_name),
            cut_at_word(&one_line(&headline.title), SUBJECT_HEADLINE_CHARS),
            words.outlets(headline.outlets.len().max(1))
        ),
        AlertBody::Spike {
            watch_name,
            count,
            usual,
            window_minutes,
            ..
        } => format!(
            "[veille] {}{colon} {}",
            one_line(watch_name),
            words.spike(*count, *usual, *window_minutes)
        ),
    }
}

pub(crate) const TEXT_TEMPLATE: &str = "alert.txt";
pub(crate) const HTML_TEMPLATE: &str = "alert.html";

/// Everything the alert templates show, already in the reader's language.
#[derive(Serialize)]
struct View {
    lang: &'static str,
    heading: String,
    /// A spike's numbers.
    intro: Option<String>,
    headline: Option<EntryView>,
    list_heading: &'static str,
    list: Vec<EntryView>,
    list_more: Option<String>,
    updates_heading: &'static str,
    updates: Vec<UpdateView>,
    updates_more: Option<String>,
    folded: Option<String>,
    footer: String,
}

#[derive(Serialize)]
struct EntryView {
    title: String,
    url: Option<String>,
    meta: String,
    also_in: Option<String>,
    reasons: Option<String>,
    judge: String,
    links: Vec<LinkView>,
    /// Plain text, hits in \[brackets\].
    snippet_text: Option<String>,
    /// Already escaped, hits in `<mark>`: emitted as is.
    snippet_html: Option<String>,
}

#[derive(Serialize)]
struct UpdateView {
    title: String,
    url: Option<String>,
    growth: String,
    judge: String,
    links: Vec<LinkView>,
}

fn view_of(alert: &AlertMail, now: DateTime<Utc>) -> View {
    let words = Words {
        labels: Labels { lang: alert.lang },
    };
    let tz = alert.timezone;
    // The mail's own watch: short entries name theirs only when it differs.
    let (heading, intro, headline, list_heading, list, watch, updates, folded) = match &alert.body {
        AlertBody::Stories {
            headline,
            also,
            updates,
            folded_mentions,
        } => (
            one_line(&headline.watch_name),
            None,
            Some(words.entry(headline, tz, true, None)),
            words.also_heading(),
            &also[..],
            &headline.watch_name,
            &updates[..],
            *folded_mentions,
        ),
        AlertBody::Crisis {
            headline,
            who,
            note,
        } => (
            format!(
                "{}{} {}",
                words.crisis_word(),
                if words.fr() { " :" } else { ":" },
                one_line(&headline.watch_name)
            ),
            Some(words.crisis_intro(who, note.as_deref())),
            Some(words.entry(headline, tz, true, None)),
            words.also_heading(),
            &[][..],
            &headline.watch_name,
            &[][..],
            0,
        ),
        AlertBody::Spike {
            watch_name,
            count,
            usual,
            window_minutes,
            top,
            updates,
            folded_mentions,
        } => (
            words.spike_heading(watch_name),
            Some(words.spike_intro(*count, *usual, *window_minutes, now, tz)),
            None,
            words.top_heading(),
            &top[..],
            watch_name,
            &updates[..],
            *folded_mentions,
        ),
    };
    let (list, list_more) = capped(list, LIST_SHOWN);
    let (updates, updates_more) = capped(updates, UPDATES_SHOWN);
    View {
        lang: words.labels.code(),
        heading,
        intro,
        headline,
        list_heading,
        list: list
            .iter()
            .map(|e| words.entry(e, tz, false, Some(watch)))
            .collect(),
        list_more: list_more.map(|n| words.labels.more(n)),
        updates_heading: words.updates_heading(),
        updates: updates.iter().map(|u| words.update(u)).collect(),
        updates_more: updates_more.map(|n| words.labels.more(n)),
        folded: (folded > 0).then(|| words.folded(folded)),
        footer: words.footer(alert.rule.as_str()),
    }
}

/// The first `cap` items, and how many were left out (when any).
fn capped<T>(items: &[T], cap: usize) -> (&[T], Option<usize>) {
    let left_out = items.len().saturating_sub(cap);
    (
        &items[..items.len() - left_out],
        (left_out > 0).then_some(left_out),
    )
}

/// The alert's own words; shared ones come from the digest's [`Labels`].
struct Words {
    labels: Labels,
}

impl Words {
    fn fr(&self) -> bool {
        self.labels.lang == Lang::Fr
    }

    fn outlets(&self, n: usize) -> String {
        self.labels
            .count(n, ("outlet", "outlets"), ("média", "médias"))
    }

    /// "spike, 40 mentions in 1 h (usually 3)".
    fn spike(&self, count: u64, usual: f64, window_minutes: i64) -> String {
        let mentions = self
            .labels
            .mentions(usize::try_from(count).unwrap_or(usize::MAX));
        let window = window(window_minutes);
        let usual = self.number(usual);
        if self.fr() {
            format!("pic, {mentions} en {window} (habituellement {usual})")
        } else {
            format!("spike, {mentions} in {window} (usually {usual})")
        }
    }

    fn spike_heading(&self, watch_name: &str) -> String {
        if self.fr() {
            format!("Pic : {}", one_line(watch_name))
        } else {
            format!("Spike: {}", one_line(watch_name))
        }
    }

    /// "40 mentions in 1 h, up to Fri 27 Nov 2026 14:05 (usually 3)".
    fn spike_intro(
        &self,
        count: u64,
        usual: f64,
        window_minutes: i64,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> String {
        let mentions = self
            .labels
            .mentions(usize::try_from(count).unwrap_or(usize::MAX));
        let window = window(window_minutes);
        let end = self.labels.local(now, tz);
        let usual = self.number(usual);
        if self.fr() {
            format!("{mentions} en {window}, jusqu’à {end} (habituellement {usual})")
        } else {
            format!("{mentions} in {window}, up to {end} (usually {usual})")
        }
    }

    /// A baseline: whole when it is, else one decimal (with a decimal comma in French).
    fn number(&self, value: f64) -> String {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        let tenths = (value * 10.0).round() / 10.0;
        let text = if tenths.fract() == 0.0 {
            format!("{tenths:.0}")
        } else {
            format!("{tenths:.1}")
        };
        if self.fr() {
            text.replace('.', ",")
        } else {
            text
        }
    }

    fn also_heading(&self) -> &'static str {
        if self.fr() {
            "Aussi nouveau"
        } else {
            "Also new"
        }
    }

    fn top_heading(&self) -> &'static str {
        if self.fr() {
            "Sujets en tête"
        } else {
            "Top stories"
        }
    }

    fn updates_heading(&self) -> &'static str {
        if self.fr() {
            "Sujets qui s’étendent"
        } else {
            "Spreading"
        }
    }

    /// "+12 new mentions since the last alert".
    fn folded(&self, n: usize) -> String {
        match (self.fr(), n == 1) {
            (false, true) => "+1 new mention since the last alert".to_string(),
            (false, false) => format!("+{n} new mentions since the last alert"),
            (true, true) => "+1 nouvelle mention depuis la dernière alerte".to_string(),
            (true, false) => format!("+{n} nouvelles mentions depuis la dernière alerte"),
        }
    }

    fn crisis_word(&self) -> &'static str {
        if self.fr() { "CRISE" } else { "CRISIS" }
    }

    /// "Marked as a crisis by alice: “call legal”".
    fn crisis_intro(&self, who: &str, note: Option<&str>) -> String {
        let who = one_line(who);
        let mut intro = if self.fr() {
            format!("Signalé comme crise par {who}")
        } else {
            format!("Marked as a crisis by {who}")
        };
        if let Some(note) = note.map(one_line).filter(|n| !n.is_empty()) {
            if self.fr() {
                intro.push_str(&format!(" : « {note} »"));
            } else {
                intro.push_str(&format!(": “{note}”"));
            }
        }
        intro
    }

    fn footer(&self, rule: &str) -> String {
        if self.fr() {
            format!("veille · alerte « {rule} »")
        } else {
            format!("veille · alert “{rule}”")
        }
    }

    /// A story: in full for the headline (author, time, snippet), shorter otherwise. The
    /// watch is named in short entries when it is not the mail's own.
    fn entry(&self, entry: &AlertEntry, tz: Tz, full: bool, watch: Option<&str>) -> EntryView {
        let mut meta = Vec::new();
        if let Some(watch) = watch
            && entry.watch_name != watch
        {
            meta.push(one_line(&entry.watch_name));
        }
        meta.push(entry.source.to_string());
        if full {
            if let Some(author) = entry.author.as_deref().map(one_line)
                && !author.is_empty()
            {
                meta.push(author);
            }
            meta.push(self.labels.local(entry.time, tz));
        }
        // More copies than outlets: boosts, reposts and quotes of one post.
        if entry.copies > entry.outlets.len().max(1) {
            meta.push(self.labels.shared(entry.copies));
        }
        let shown = shown_outlet(entry);
        let others: Vec<String> = entry
            .outlets
            .iter()
            .filter(|o| shown.as_deref() != Some(o.as_str()))
            .map(|o| one_line(o))
            .collect();
        let mut also_in = (!others.is_empty()).then(|| self.labels.also_in(&others));
        // Short entries keep to two lines: the outlets go on the meta line.
        if !full && let Some(also_in) = also_in.take() {
            meta.push(also_in);
        }
        let reasons = one_line(&entry.reasons_line);
        EntryView {
            title: one_line(&entry.title),
            url: entry.url.clone().filter(|u| is_web_link(u)),
            meta: meta.join(" · "),
            also_in,
            reasons: (!reasons.is_empty()).then_some(reasons),
            judge: self.labels.judge(entry.mention.0),
            links: self.labels.links(&entry.links),
            snippet_text: entry.snippet.as_ref().filter(|_| full).map(|s| s.to_text()),
            snippet_html: entry.snippet.as_ref().filter(|_| full).map(|s| s.to_html()),
        }
    }

    /// "now in 4 outlets (+3): b.example, c.example, d.example".
    fn update(&self, update: &AlertUpdate) -> UpdateView {
        let entry = &update.entry;
        let now = entry.outlets.len();
        let gained = now.saturating_sub(update.previous_outlets);
        let mut growth = if self.fr() {
            format!("maintenant dans {}", self.outlets(now))
        } else {
            format!("now in {}", self.outlets(now))
        };
        if gained > 0 {
            growth.push_str(&format!(" (+{gained})"));
            // Outlets are first first: the ones gained since the last mail are the last.
            let new: Vec<String> = entry.outlets[now - gained..]
                .iter()
                .take(OUTLETS_NAMED)
                .map(|o| one_line(o))
                .collect();
            let colon = if self.fr() { " :" } else { ":" };
            growth.push_str(&format!("{colon} {}", new.join(", ")));
            if gained > OUTLETS_NAMED {
                growth.push_str(", …");
            }
        }
        if entry.copies > now.max(1) {
            growth.push_str(&format!(" · {}", self.labels.shared(entry.copies)));
        }
        UpdateView {
            title: one_line(&entry.title),
            url: entry.url.clone().filter(|u| is_web_link(u)),
            growth,
            judge: self.labels.judge(entry.mention.0),
            links: self.labels.links(&entry.links),
        }
    }
}

/// The outlet the entry's own source counts for: as given, else its link's host (the way
/// the store names outlets, without `www.`).
fn shown_outlet(entry: &AlertEntry) -> Option<String> {
    entry.outlet.clone().or_else(|| {
        let url = url::Url::parse(entry.url.as_deref()?).ok()?;
        url.host_str()
            .map(|h| h.trim_start_matches("www.").to_string())
    })
}

/// A window length as people say it: `30 min`, `1 h`, `2 h 30`.
fn window(minutes: i64) -> String {
    let minutes = minutes.max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

/// Feed text on one line: line breaks, tabs and other control characters become spaces,
/// bidirectional overrides (which can make a subject read backwards) are dropped, and runs
/// of spaces collapse.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if is_bidi_control(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// At most `max` characters, cut at the last word boundary when there is one in the second
/// half (a headline in one long word is cut where it must), ending with "…".
fn cut_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let at_word = match cut.rfind(' ') {
        Some(i) if cut[..i].chars().count() >= max / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        at_word.trim_end_matches([',', ';', ':', ' ', '-', '–', '—'])
    )
}

/// The `In-Reply-To` and `References` values of a thread, or `None` when it names no usable
/// message id. Ids that are not one `<…>` token (a damaged row) are dropped rather than
/// allowed to break the header; the replied-to id ends the chain, as RFC 5322 asks.
fn thread_headers(thread: &Thread) -> Option<(String, String)> {
    let mut chain: Vec<String> = Vec::new();
    for id in thread.references.iter().filter_map(|r| message_id(r)) {
        if !chain.contains(&id) {
            chain.push(id);
        }
    }
    let in_reply_to = message_id(&thread.in_reply_to).or_else(|| chain.last().cloned())?;
    chain.retain(|id| *id != in_reply_to);
    chain.push(in_reply_to.clone());
    if chain.len() > MAX_REFERENCES {
        // Keep the root (the story's first alert) and the most recent ones.
        chain.drain(1..chain.len() - (MAX_REFERENCES - 1));
    }
    Some((in_reply_to, chain.join(" ")))
}

/// A message id as one `<…>` token: brackets added when missing; `None` when empty or
/// holding spaces, control or non-ASCII characters.
fn message_id(text: &str) -> Option<String> {
    let text = text.trim();
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let valid = !inner.is_empty()
        && inner.contains('@')
        && inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>'));
    valid.then(|| format!("<{inner}>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::snippet::SnippetPart;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn entry(id: i64, title: &str, outlets: &[&str]) -> AlertEntry {
        AlertEntry {
            story: StoryId(id),
            mention: MentionId(100 + id),
            watch_name: "Acme".to_string(),
            title: title.to_string(),
            url: Some(format!("https://{}/story/{id}", outlets[0])),
            source: SourceId::new(format!("src{id}")),
            outlet: None,
            author: Some("J. Dupont".to_string()),
            time: time("2026-11-27T13:05:00Z"),
            outlets: outlets.iter().map(|o| o.to_string()).collect(),
            copies: outlets.len(),
            reasons_line: "title hit · risk: \"boycott\"".to_string(),
            snippet: Some(Snippet {
                parts: vec![
                    SnippetPart {
                        text: "calls to ".to_string(),
                        hit: false,
                    },
                    SnippetPart {
                        text: "boycott".to_string(),
                        hit: true,
                    },
                    SnippetPart {
                        text: " Acme <b>".to_string(),
                        hit: false,
                    },
                ],
            }),
            links: Vec::new(),
        }
    }

    fn stories(lang: Lang, headline: AlertEntry) -> AlertMail {
        AlertMail {
            key: "alert:crisis:1".to_string(),
            rule: AlertId::new("crisis"),
            lang,
            timezone: chrono_tz::Europe::Paris,
            body: AlertBody::Stories {
                headline,
                also: Vec::new(),
                updates: Vec::new(),
                folded_mentions: 0,
            },
            thread: None,
        }
    }

    fn spike(lang: Lang, count: u64, usual: f64, window_minutes: i64) -> AlertMail {
        AlertMail {
            body: AlertBody::Spike {
                watch_name: "Acme".to_string(),
                count,
                usual,
                window_minutes,
                top: vec![
                    entry(1, "Acme recalls kettles", &["a.example", "b.example"]),
                    entry(2, "Kettle fires", &["c.example"]),
                ],
                updates: Vec::new(),
                folded_mentions: 0,
            },
            ..stories(lang, entry(1, "x", &["a.example"]))
        }
    }

    fn sender() -> Result<Mailbox, MailError> {
        "veille <veille@example.org>"
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Compose(e.to_string()))
    }

    /// Header lines of a formatted message, unfolded, in order.
    fn headers(body: &[u8]) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(body);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = out.last_mut() {
                    last.1.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                out.push((name.to_string(), value.trim_start().to_string()));
            }
        }
        out
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn subjects_say_watch_headline_and_outlets_in_the_mail_language() {
        let long = "Acme under fire: consumer groups call for a nationwide boycott after \
                    the kettle recall reveals years of ignored complaints";
        let cases = [
            (
                Lang::En,
                "Acme recalls kettles",
                vec!["a.example"],
                "[veille] Acme: Acme recalls kettles (1 outlet)",
            ),
            (
                Lang::Fr,
                "Acme rappelle ses bouilloires",
                vec!["a.example"],
                "[veille] Acme : Acme rappelle ses bouilloires (1 média)",
            ),
            (
                Lang::En,
                "Acme recalls kettles",
                vec!["a.example", "b.example", "c.example"],
                "[veille] Acme: Acme recalls kettles (3 outlets)",
            ),
            (
                Lang::Fr,
                "Acme rappelle\r\nses bouilloires",
                vec!["a.example", "b.example"],
                "[veille] Acme : Acme rappelle ses bouilloires (2 médias)",
            ),
            (
                Lang::En,
                "Line\none\r\n\tand\u{7}\u{202E}two",
                vec!["a.example"],
                "[veille] Acme: Line one and two (1 outlet)",
            ),
            (
                Lang::En,
                long,
                vec!["a.example", "b.example"],
                "[veille] Acme: Acme under fire: consumer groups call for a nationwide boycott \
                 after the… (2 outlets)",
            ),
        ];
        for (lang, title, outlets, expected) in cases {
            let subject = alert_subject(&stories(lang, entry(1, title, &outlets)));
            assert_eq!(subject, expected, "{title:?}");
            assert!(!subject.contains(['\r', '\n']), "{subject:?}");
        }
    }

    #[test]
    fn long_headlines_are_cut_at_a_word_within_the_limit() {
        let cases = [
            ("short title", 20, "short title"),
            ("exactly twenty chars", 20, "exactly twenty chars"),
            ("one two three four five six", 20, "one two three four…"),
            ("clauses, commas, and more words", 20, "clauses, commas…"),
            ("averyveryverylongwordwithoutspaces", 10, "averyvery…"),
            ("éèêë àâä ôö ùûü ïî ç", 12, "éèêë àâä…"),
        ];
        for (text, max, expected) in cases {
            let cut = cut_at_word(text, max);
            assert_eq!(cut, expected, "{text:?}");
            assert!(cut.chars().count() <= max, "{cut:?}");
        }
    }

    #[test]
    fn spike_subjects_give_count_window_and_usual_volume() {
        let cases = [
            (
                Lang::En,
                40,
                3.0,
                60,
                "[veille] Acme: spike, 40 mentions in 1 h (usually 3)",
            ),
            (
                Lang::Fr,
                40,
                3.0,
                60,
                "[veille] Acme : pic, 40 mentions en 1 h (habituellement 3)",
            ),
            (
                Lang::En,
                12,
                2.44,
                30,
                "[veille] Acme: spike, 12 mentions in 30 min (usually 2.4)",
            ),
            (
                Lang::Fr,
                12,
                2.44,
                150,
                "[veille] Acme : pic, 12 mentions en 2 h 30 (habituellement 2,4)",
            ),
            (
                Lang::En,
                6,
                0.0,
                120,
                "[veille] Acme: spike, 6 mentions in 2 h (usually 0)",
            ),
            (
                Lang::En,
                1,
                f64::NAN,
                65,
                "[veille] Acme: spike, 1 mention in 1 h 05 (usually 0)",
            ),
        ];
        for (lang, count, usual, minutes, expected) in cases {
            assert_eq!(alert_subject(&spike(lang, count, usual, minutes)), expected);
        }
    }

    #[test]
    fn threading_headers_are_present_exactly_when_threaded() -> Result<(), MailError> {
        let now = time("2026-11-27T13:06:00Z");
        let from = sender()?;
        let to = [sender()?];
        let plain = stories(Lang::En, entry(1, "Acme recalls kettles", &["a.example"]));
        let first = "<veille.0000000000000001@example.org>".to_string();
        let second = "<veille.0000000000000002@example.org>".to_string();
        let cases = [
            (None, None, None),
            (
                Some(Thread {
                    in_reply_to: first.clone(),
                    references: vec![first.clone()],
                }),
                Some(first.clone()),
                Some(first.clone()),
            ),
            (
                Some(Thread {
                    in_reply_to: second.clone(),
                    references: vec![first.clone(), second.clone()],
                }),
                Some(second.clone()),
                Some(format!("{first} {second}")),
            ),
            // The replied-to mail missing from the chain is appended to it.
            (
                Some(Thread {
                    in_reply_to: second.clone(),
                    references: vec![first.clone()],
                }),
                Some(second.clone()),
                Some(format!("{first} {second}")),
            ),
            // A damaged id is dropped, not written into the header.
            (
                Some(Thread {
                    in_reply_to: "not an id\r\nBcc: x@y".to_string(),
                    references: vec![first.clone()],
                }),
                Some(first.clone()),
                Some(first.clone()),
            ),
            (
                Some(Thread {
                    in_reply_to: String::new(),
                    references: Vec::new(),
                }),
                None,
                None,
            ),
        ];
        for (thread, in_reply_to, references) in cases {
            let alert = AlertMail {
                thread: thread.clone(),
                ..plain.clone()
            };
            let mail = compose_alert(&alert, &from, &to, now)?;
            let headers = headers(&mail.body);
            assert_eq!(
                header(&headers, "In-Reply-To"),
                in_reply_to.iter().map(String::as_str).collect::<Vec<_>>(),
                "{thread:?}"
            );
            let references_found: Vec<String> = header(&headers, "References")
                .iter()
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            assert_eq!(
                references_found,
                references.iter().cloned().collect::<Vec<_>>(),
                "{thread:?}"
            );
            assert_eq!(header(&headers, "Bcc"), Vec::<&str>::new());
        }
        Ok(())
    }

    #[test]
    fn long_reference_chains_keep_the_root_and_the_latest() {
        let ids: Vec<String> = (0..30).map(|i| format!("<m{i}@example.org>")).collect();
        let thread = Thread {
            in_reply_to: ids[29].clone(),
            references: ids.clone(),
        };
        let Some((in_reply_to, references)) = thread_headers(&thread) else {
            panic!("a valid thread gives headers");
        };
        assert_eq!(in_reply_to, "<m29@example.org>");
        let chain: Vec<&str> = references.split(' ').collect();
        assert_eq!(chain.len(), MAX_REFERENCES);
        assert_eq!(chain[0], "<m0@example.org>");
        assert_eq!(
            chain[1],
            format!("<m{}@example.org>", 30 - (MAX_REFERENCES - 1))
        );
        assert_eq!(chain.last().copied(), Some("<m29@example.org>"));
    }

    #[test]
    fn the_mail_is_a_valid_multipart_alert() -> Result<(), MailError> {
        let now = time("2026-11-27T13:06:00Z");
        let from = sender()?;
        let to = [sender()?];
        let alert = AlertMail {
            thread: Some(Thread {
                in_reply_to: "<veille.1@example.org>".to_string(),
                references: vec!["<veille.1@example.org>".to_string()],
            }),
            ..stories(
                Lang::Fr,
                entry(
                    1,
                    "Acme : appel au boycott\r\nBcc: evil@example.com",
                    &["a.example"],
                ),
            )
        };
        let mail = compose_alert(&alert, &from, &to, now)?;
        assert_eq!(mail.kind, "alert");
        assert_eq!(mail.key, "alert:crisis:1");
        assert_eq!(mail.recipients, ["veille@example.org"]);
        assert!(
            mail.message_id.starts_with("<veille.") && mail.message_id.ends_with("@example.org>")
        );
        let text = String::from_utf8_lossy(&mail.body);
        let (head, _) = text.split_once("\r\n\r\n").unwrap_or_default();
        for line in text.split("\r\n") {
            assert!(line.len() <= 998, "line too long: {}", line.len());
            assert!(
                !line.contains('\n') && !line.contains('\r'),
                "bare line break"
            );
        }
        let headers = headers(&mail.body);
        for name in [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
        ] {
            assert_eq!(header(&headers, name).len(), 1, "{name} in {head}");
        }
        assert_eq!(header(&headers, "Message-ID"), [mail.message_id.as_str()]);
        assert!(header(&headers, "Content-Type")[0].starts_with("multipart/alternative"));
        assert!(header(&headers, "Bcc").is_empty(), "{head}");
        assert!(!mail.subject.contains(['\r', '\n']));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(text.contains("Content-Type: text/html; charset=utf-8"));
        Ok(())
    }

    #[test]
    fn html_escapes_feed_text_and_links_only_web_urls() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:06:00Z");
        let mut hostile = entry(1, "<script>alert(1)</script> Acme", &["a.example"]);
        hostile.url = Some("javascript:alert(1)".to_string());
        hostile.author = Some("<img src=x onerror=alert(1)>".to_string());
        hostile.reasons_line = "risk: \"<b>boycott</b>\"".to_string();
        let mut web = entry(2, "Acme & friends", &["b.example"]);
        web.url = Some("https://b.example/a?x=1&y=2".to_string());
        let alert = AlertMail {
            body: AlertBody::Stories {
                headline: hostile,
                also: vec![web],
                updates: Vec::new(),
                folded_mentions: 0,
            },
            ..stories(Lang::En, entry(9, "x", &["z.example"]))
        };
        let rendered = render_alert(&alert, now)?;
        let html = &rendered.html;
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Acme"));
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(
            html.contains("href=\"https://b.example/a?x=1&amp;y=2\""),
            "{html}"
        );
        assert!(html.contains("Acme &amp; friends"));
        // The snippet's own markup survives, its text is escaped.
        assert!(
            html.contains("<mark>boycott</mark> Acme &lt;b&gt;"),
            "{html}"
        );
        assert!(!rendered.text.contains("javascript:"), "{}", rendered.text);
        Ok(())
    }

    #[test]
    fn story_mails_show_the_headline_then_the_rest_shorter() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:06:00Z");
        let mut headline = entry(
            1,
            "Acme recalls kettles",
            &["a.example", "b.example", "c.example"],
        );
        headline.copies = 9;
        let mut other_watch = entry(2, "Kettle fires in Lyon", &["d.example"]);
        other_watch.watch_name = "Kettles".to_string();
        other_watch.reasons_line = String::new();
        let alert = |lang| AlertMail {
            body: AlertBody::Stories {
                headline: headline.clone(),
                also: vec![other_watch.clone()],
                updates: Vec::new(),
                folded_mentions: 0,
            },
            ..stories(lang, entry(9, "x", &["z.example"]))
        };
        let cases = [
            (
                Lang::En,
                vec![
                    "Acme\n\nAcme recalls kettles\n",
                    "src1 · J. Dupont · Fri 27 Nov 2026 14:05 · shared 9 times\n",
                    "also in 2 outlets: b.example, c.example\n",
                    "calls to [boycott] Acme <b>\n",
                    "title hit · risk: \"boycott\" · ID 101\n",
                    "https://a.example/story/1\n",
                    "== Also new ==\n\n* Kettle fires in Lyon\n  Kettles · src2\n  ID 102\n",
                    "veille · alert “crisis”",
                ],
            ),
            (
                Lang::Fr,
                vec![
                    "src1 · J. Dupont · ven. 27 nov. 2026 14:05 · partagé 9 fois\n",
                    "repris par 2 autres médias : b.example, c.example\n",
                    "== Aussi nouveau ==\n",
                    "veille · alerte « crisis »",
                ],
            ),
        ];
        for (lang, expected) in cases {
            let rendered = render_alert(&alert(lang), now)?;
            for line in expected {
                assert!(
                    rendered.text.contains(line),
                    "{line:?} in\n{}",
                    rendered.text
                );
            }
            // The short entries carry no snippet nor time.
            assert_eq!(
                rendered.text.matches("[boycott]").count(),
                1,
                "{}",
                rendered.text
            );
            assert_eq!(rendered.html.matches("<mark>").count(), 1);
        }
        Ok(())
    }

    #[test]
    fn updates_say_how_far_a_story_spread() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:06:00Z");
        let grown = |previous, outlets: &[&str]| AlertUpdate {
            entry: entry(3, "Acme recalls kettles", outlets),
            previous_outlets: previous,
        };
        let four = ["a.example", "b.example", "c.example", "d.example"];
        let cases = [
            (
                Lang::En,
                grown(1, &four),
                "now in 4 outlets (+3): b.example, c.example, d.example · ID 103",
            ),
            (
                Lang::Fr,
                grown(1, &four),
                "maintenant dans 4 médias (+3) : b.example, c.example, d.example · réf. 103",
            ),
            (Lang::En, grown(4, &four), "now in 4 outlets · ID 103"),
            (
                Lang::Fr,
                grown(0, &["a.example"]),
                "maintenant dans 1 média (+1) : a.example",
            ),
        ];
        for (lang, update, expected) in cases {
            let alert = AlertMail {
                body: AlertBody::Stories {
                    headline: entry(1, "Kettle fires", &["z.example"]),
                    also: Vec::new(),
                    updates: vec![update],
                    folded_mentions: 0,
                },
                ..stories(lang, entry(9, "x", &["z.example"]))
            };
            let rendered = render_alert(&alert, now)?;
            assert!(
                rendered.text.contains(expected),
                "{expected:?} in\n{}",
                rendered.text
            );
            assert!(
                rendered.html.contains(&escape(expected)),
                "{expected:?} in\n{}",
                rendered.html
            );
        }
        Ok(())
    }

    fn escape(text: &str) -> String {
        super::super::render::escape_html(text)
    }

    #[test]
    fn the_folded_line_is_there_iff_mentions_were_folded() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:06:00Z");
        let cases = [
            (Lang::En, 0, None),
            (Lang::En, 1, Some("+1 new mention since the last alert")),
            (Lang::En, 12, Some("+12 new mentions since the last alert")),
            (Lang::Fr, 0, None),
            (
                Lang::Fr,
                1,
                Some("+1 nouvelle mention depuis la dernière alerte"),
            ),
            (
                Lang::Fr,
                12,
                Some("+12 nouvelles mentions depuis la dernière alerte"),
            ),
        ];
        for (lang, folded, expected) in cases {
            for mut alert in [
                stories(lang, entry(1, "Acme recalls kettles", &["a.example"])),
                spike(lang, 40, 3.0, 60),
            ] {
                match &mut alert.body {
                    AlertBody::Stories {
                        folded_mentions, ..
                    }
                    | AlertBody::Spike {
                        folded_mentions, ..
                    } => *folded_mentions = folded,
                    AlertBody::Crisis { .. } => unreachable!("only stories and spikes here"),
                }
                let rendered = render_alert(&alert, now)?;
                for part in [&rendered.text, &rendered.html] {
                    let found = part.contains("since the last alert")
                        || part.contains("depuis la dernière alerte");
                    assert_eq!(found, expected.is_some(), "{folded} in\n{part}");
                    if let Some(line) = expected {
                        assert!(part.contains(line), "{line:?} in\n{part}");
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn spike_mails_give_the_numbers_then_the_top_stories() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:00:00Z");
        let cases = [
            (
                Lang::En,
                vec![
                    "Spike: Acme\n40 mentions in 1 h, up to Fri 27 Nov 2026 14:00 (usually 3)\n",
                    "== Top stories ==\n\n* Acme recalls kettles\n  src1 · also in 1 outlet: b.example\n",
                    "* Kettle fires\n  src2\n",
                ],
            ),
            (
                Lang::Fr,
                vec![
                    "Pic : Acme\n40 mentions en 1 h, jusqu’à ven. 27 nov. 2026 14:00 (habituellement 3)\n",
                    "== Sujets en tête ==\n",
                    "repris par 1 autre média : b.example",
                ],
            ),
        ];
        for (lang, expected) in cases {
            let rendered = render_alert(&spike(lang, 40, 3.0, 60), now)?;
            for line in expected {
                assert!(
                    rendered.text.contains(line),
                    "{line:?} in\n{}",
                    rendered.text
                );
            }
            assert!(rendered.html.contains("Acme recalls kettles"));
            assert!(rendered.html.contains("href=\"https://c.example/story/2\""));
        }
        Ok(())
    }

    #[test]
    fn long_lists_are_capped_and_counted() -> Result<(), RenderError> {
        let now = time("2026-11-27T13:06:00Z");
        let also: Vec<AlertEntry> = (1..=8)
            .map(|i| entry(10 + i, &format!("New story {i}"), &["a.example"]))
            .collect();
        let updates: Vec<AlertUpdate> = (1..=7)
            .map(|i| AlertUpdate {
                entry: entry(
                    30 + i,
                    &format!("Grown story {i}"),
                    &["a.example", "b.example"],
                ),
                previous_outlets: 1,
            })
            .collect();
        let alert = AlertMail {
            body: AlertBody::Stories {
                headline: entry(1, "Acme recalls kettles", &["a.example"]),
                also,
                updates,
                folded_mentions: 0,
            },
            ..stories(Lang::En, entry(9, "x", &["z.example"]))
        };
        let rendered = render_alert(&alert, now)?;
        let cases = [
            ("New story", LIST_SHOWN, 8),
            ("Grown story", UPDATES_SHOWN, 7),
        ];
        for (title, shown, total) in cases {
            for part in [&rendered.text, &rendered.html] {
                assert!(part.contains(&format!("{title} {shown}")), "{part}");
                assert!(!part.contains(&format!("{title} {}", shown + 1)), "{part}");
                let more = format!("… and {} more in veille", total - shown);
                assert_eq!(part.matches(&more).count(), 1, "{more:?} in {part}");
            }
        }
        Ok(())
    }

    #[test]
    fn windows_read_as_people_say_them() {
        let cases = [
            (30, "30 min"),
            (60, "1 h"),
            (150, "2 h 30"),
            (65, "1 h 05"),
            (0, "0 min"),
            (-5, "0 min"),
            (1440, "24 h"),
        ];
        for (minutes, expected) in cases {
            assert_eq!(window(minutes), expected);
        }
    }

    #[test]
    fn a_crisis_verdict_mail_names_who_and_carries_the_links() -> Result<(), RenderError> {
        let now = time("2026-11-27T14:00:00Z");
        let mut headline = entry(1, "Acme recalls kettles", &["a.example", "b.example"]);
        headline.links = crate::model::Verdict::ALL
            .into_iter()
            .map(|verdict| crate::model::JudgeLink {
                verdict,
                url: format!("https://veille.example/j/101/{verdict}/1/sig"),
            })
            .collect();
        for (lang, subject, intro, label) in [
            (
                Lang::En,
                "[veille] CRISIS: Acme: Acme recalls kettles (2 outlets)",
                "Marked as a crisis by alice: “call legal &lt;now&gt;”",
                "Irrelevant",
            ),
            (
                Lang::Fr,
                "[veille] CRISE : Acme : Acme recalls kettles (2 médias)",
                "Signalé comme crise par alice : « call legal &lt;now&gt; »",
                "Hors sujet",
            ),
        ] {
            let mut alert = stories(lang, headline.clone());
            alert.body = AlertBody::Crisis {
                headline: headline.clone(),
                who: "alice".to_string(),
                note: Some("call legal <now>".to_string()),
            };
            assert_eq!(alert_subject(&alert), subject);
            let rendered = render_alert(&alert, now)?;
            assert!(
                rendered.html.contains(intro),
                "{intro} in\n{}",
                rendered.html
            );
            assert!(
                rendered
                    .text
                    .contains(&intro.replace("&lt;", "<").replace("&gt;", ">")),
                "{}",
                rendered.text
            );
            let link = format!(
                "<a href=\"https://veille.example/j/101/irrelevant/1/sig\" style=\"color:#1a5fb4;\">{label}</a>"
            );
            assert!(
                rendered.html.contains(&link),
                "{link} in\n{}",
                rendered.html
            );
            let colon = if lang == Lang::Fr { " :" } else { ":" };
            assert!(
                rendered.text.contains(&format!(
                    "{label}{colon} https://veille.example/j/101/irrelevant/1/sig"
                )),
                "{}",
                rendered.text
            );
        }
        Ok(())
    }
}
