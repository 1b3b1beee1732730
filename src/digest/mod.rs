//! Digests: which are due, and what goes in them.
//!
//! A digest's window is "everything since the previous digest of the same id", not "the
//! last 24 hours": windows are delimited by mention ids (a monotonic watermark stored with
//! each run), so a mention stored while a digest is being built lands in exactly one
//! digest, whatever the clocks do. A digest never sent before is due at once and covers
//! everything stored. Building the digest is pure; the store and the outbox are driven by
//! the scheduler.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Config, DigestConfig, WebConfig};
use crate::matching::snippet::{Snippet, snippet};
use crate::matching::{ItemText, Matcher};
use crate::model::{DigestId, Field, MentionId, SourceId, StoryId, TermHit, WatchId};
use crate::model::{DigestRun, MentionRecord, StoryInfo};
use crate::model::{Lang, Reason};

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

/// The end of the window a digest closes `now`, after its previous window `last`. Windows
/// are keyed by their end (to the second): two closed within the same second (a manual send
/// right after a scheduled one) must still be two windows, so the second ends one second
/// after the first.
pub fn window_end(last: Option<&DigestRun>, now: DateTime<Utc>) -> DateTime<Utc> {
    match last {
        Some(last) if now.timestamp() <= last.window_end.timestamp() => {
            last.window_end + chrono::Duration::seconds(1)
        }
        _ => now,
    }
}

/// What the digest is built from: the window's mentions and what the store knows around them.
#[derive(Debug, Clone, Default)]
pub struct DigestInput {
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    /// The window's mentions, of the watches that feed this digest.
    pub mentions: Vec<MentionRecord>,
    /// Mentions per watch in the previous window, when there was a comparable one.
    pub previous_counts: Option<HashMap<WatchId, usize>>,
    /// Sources that are failing, gone or moved, for the footer.
    pub trouble: Vec<SourceTrouble>,
    /// What the store knows of the window's stories (all their items, not only this
    /// window's): representative title, earliest time, outlets.
    pub stories: HashMap<StoryId, StoryInfo>,
}

/// A source in trouble, as the digest footer shows it (only sources this digest's watches
/// read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceTrouble {
    pub source: SourceId,
    pub trouble: Trouble,
}

/// What is wrong with a source, or what got better.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Trouble {
    /// Failing for `failures` polls in a row; still polled, with backoff.
    Failing {
        since: DateTime<Utc>,
        failures: u32,
        last_error: String,
    },
    /// Answered 410 Gone: no longer polled.
    Gone { since: DateTime<Utc> },
    /// Moved permanently: the configuration should name the new URL.
    Redirected { to: String },
    /// Came back since the previous digest (reported once).
    Recovered {
        failing_since: DateTime<Utc>,
        failures: u32,
    },
}

/// A digest ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub id: DigestId,
    pub name: String,
    pub lang: Lang,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    #[serde(skip)]
    pub tz: Tz,
    pub sections: Vec<Section>,
    pub totals: Totals,
    pub trouble: Vec<SourceTrouble>,
}

/// Totals over the whole digest (every watch, before any cap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub stories: usize,
    pub mentions: usize,
    pub sources: usize,
}

/// The stories of one watch in a digest.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub watch: WatchId,
    pub name: String,
    /// At most `max_items` stories, ranked.
    pub stories: Vec<StoryEntry>,
    /// How many stories were left out by the cap.
    pub more: usize,
    /// Mentions of this watch in the window.
    pub mentions: usize,
    /// Mentions of this watch in the previous window (the trend line), when known.
    pub previous: Option<usize>,
}

/// One story: the window's mentions of one watch that are copies of the same news (the
/// same document, or the same text in several outlets), shown once.
#[derive(Debug, Clone, Serialize)]
pub struct StoryEntry {
    pub story: StoryId,
    /// The mention shown (the earliest of the window); the id people judge.
    pub mention: MentionId,
    /// The story's title: its earliest item's, which is the original more often than not.
    pub title: String,
    pub url: Option<String>,
    /// The text of the mention shown, which the snippet is cut from.
    #[serde(skip)]
    pub text: String,
    /// Sources that carried the story in this window, first seen first.
    pub sources: Vec<SourceId>,
    /// Earliest time of the story (over all its items).
    pub time: DateTime<Utc>,
    /// Latest time in the window, for ranking by recency.
    #[serde(skip)]
    pub latest: DateTime<Utc>,
    pub terms: Vec<String>,
    /// Distinct outlets (hosts) that carried the story, first first.
    pub outlets: Vec<String>,
    /// The outlet of the mention shown (the others are "also in").
    pub shown_outlet: Option<String>,
    /// Who wrote the mention shown (a handle for social posts), when its feed said.
    pub author: Option<String>,
    /// Items in the story (every copy, boost and quote, all time): "shared N times".
    pub copies: usize,
    /// A window of the text around the best hit (filled in for the stories shown).
    #[serde(skip)]
    pub snippet: Option<Snippet>,
    /// The score of the story's best-scored mention in the window (None when no mention
    /// of it was scored); stories are ranked by it first.
    pub score: Option<f64>,
    /// Why that mention scored so, strongest first.
    pub reasons: Vec<Reason>,
    /// One-click judgment links of the mention shown (none without `web.base_url`).
    #[serde(skip)]
    pub links: Vec<crate::model::JudgeLink>,
}

impl Digest {
    /// Nothing found in the window.
    pub fn has_no_mentions(&self) -> bool {
        self.totals.mentions == 0
    }

    /// Nothing to tell at all: no mention and no source in trouble. A digest whose window
    /// found nothing still goes out when a source it reads is failing, gone, moved or back:
    /// someone must be told.
    pub fn is_empty(&self) -> bool {
        self.has_no_mentions() && self.trouble.is_empty()
    }

    /// Stories shown, across sections.
    pub fn shown(&self) -> usize {
        self.sections.iter().map(|s| s.stories.len()).sum()
    }

    /// Keeps at most `cap` stories per section, counting the rest in `more`.
    pub fn cap_sections(&mut self, cap: usize) {
        for section in &mut self.sections {
            if section.stories.len() > cap {
                section.more += section.stories.len() - cap;
                section.stories.truncate(cap);
            }
        }
    }
}

/// Groups a window's mentions by watch (in configuration order) and by story, ranks the
/// stories (best score first, then most outlets, then most recent) and caps each watch at
/// `max_items`.
pub fn build(config: &Config, digest: &DigestConfig, input: DigestInput) -> Digest {
    let DigestInput {
        window_start,
        window_end,
        mentions,
        previous_counts,
        trouble,
        stories: known,
    } = input;
    let mut sections = Vec::new();
    let mut all_stories: HashSet<StoryId> = HashSet::new();
    let mut all_sources: HashSet<&SourceId> = HashSet::new();
    for watch in config.watches_of_digest(&digest.id) {
        let mut of_watch: Vec<&MentionRecord> =
            mentions.iter().filter(|m| m.watch == watch.id).collect();
        if of_watch.is_empty() {
            continue;
        }
        // Oldest first, so each story's entry starts from its earliest mention.
        of_watch.sort_by_key(|m| (m.published.unwrap_or(m.found_at), m.id));
        let mut stories: Vec<StoryEntry> = Vec::new();
        let mut index: HashMap<StoryId, usize> = HashMap::new();
        for m in &of_watch {
            all_stories.insert(m.story);
            all_sources.insert(&m.source);
            let when = m.published.unwrap_or(m.found_at);
            match index.get(&m.story) {
                Some(&i) => merge_into(&mut stories[i], m, when),
                None => {
                    index.insert(m.story, stories.len());
                    stories.push(new_entry(m, when, known.get(&m.story)));
                }
            }
        }
        stories.sort_by(|a, b| {
            b.score
                .unwrap_or(0.0)
                .total_cmp(&a.score.unwrap_or(0.0))
                .then(b.outlets.len().cmp(&a.outlets.len()))
                .then(b.latest.cmp(&a.latest))
                .then(b.mention.cmp(&a.mention))
        });
        let more = stories.len().saturating_sub(digest.max_items);
        stories.truncate(digest.max_items);
        sections.push(Section {
            watch: watch.id.clone(),
            name: watch.name.clone(),
            stories,
            more,
            mentions: of_watch.len(),
            previous: previous_counts
                .as_ref()
                .filter(|_| digest.trend)
                .map(|counts| counts.get(&watch.id).copied().unwrap_or(0)),
        });
    }
    Digest {
        id: digest.id.clone(),
        name: digest.name.clone(),
        lang: digest.lang,
        window_start,
        window_end,
        tz: digest.schedule.tz,
        totals: Totals {
            stories: all_stories.len(),
            mentions: mentions.len(),
            sources: all_sources.len(),
        },
        sections,
        trouble,
    }
}

fn new_entry(m: &MentionRecord, when: DateTime<Utc>, info: Option<&StoryInfo>) -> StoryEntry {
    // The earliest copy in the window speaks for the story (the original, more often than
    // not); the store adds what it knows of the other copies: outlets, earliest time.
    let mut outlets = info.map(|i| i.outlets.clone()).unwrap_or_default();
    if let Some(outlet) = &m.outlet
        && !outlets.contains(outlet)
    {
        outlets.insert(0, outlet.clone());
    }
    StoryEntry {
        story: m.story,
        mention: m.id,
        title: display_title(&m.title, &m.text),
        url: m.url.clone(),
        text: m.text.clone(),
        sources: vec![m.source.clone()],
        time: info.map_or(when, |i| i.earliest.min(when)),
        latest: when,
        terms: m.terms.clone(),
        outlets,
        shown_outlet: m.outlet.clone(),
        author: m.author.clone(),
        copies: info.map_or(1, |i| i.items),
        snippet: None,
        score: m.score,
        reasons: m.reasons.clone(),
        links: Vec::new(),
    }
}

fn merge_into(story: &mut StoryEntry, m: &MentionRecord, when: DateTime<Utc>) {
    story.latest = story.latest.max(when);
    // The story is as alarming as its best copy: a later copy may hit the title, or come
    // when the story has spread.
    if let Some(score) = m.score
        && story.score.is_none_or(|best| score > best)
    {
        story.score = Some(score);
        story.reasons = m.reasons.clone();
    }
    if !story.sources.contains(&m.source) {
        story.sources.push(m.source.clone());
    }
    if let Some(outlet) = &m.outlet
        && !story.outlets.contains(outlet)
    {
        story.outlets.push(outlet.clone());
    }
    for term in &m.terms {
        if !story.terms.contains(term) {
            story.terms.push(term.clone());
        }
    }
}

/// Longest snippet shown under a story, in characters.
pub const SNIPPET_CHARS: usize = 220;

/// Cuts each shown story's snippet around its best hit. `matcher` finds the hits again in
/// the stored text (positions are not stored); a story whose only hits are in its title
/// shows the start of its text.
pub fn add_snippets(digest: &mut Digest, matcher: &Matcher) {
    for section in &mut digest.sections {
        for story in &mut section.stories {
            if story.text.trim().is_empty() {
                continue;
            }
            story.snippet = snippet_of(matcher, &section.watch, &story.text);
        }
    }
}

/// Gives each story shown its judgment links (see [`crate::judge::mail_links`]).
pub fn add_links(digest: &mut Digest, web: Option<&WebConfig>, now: DateTime<Utc>) {
    for section in &mut digest.sections {
        for story in &mut section.stories {
            story.links =
                crate::judge::mail_links(web.and_then(WebConfig::link_base), story.mention, now);
        }
    }
}

/// A window of `text` around the hits of `watch`, None when the text shows none.
pub fn snippet_of(matcher: &Matcher, watch: &WatchId, text: &str) -> Option<Snippet> {
    if text.trim().is_empty() {
        return None;
    }
    let hits: Vec<TermHit> = matcher
        .match_text(ItemText {
            title: "",
            body: text,
        })
        .into_iter()
        .filter(|m| &m.watch == watch)
        .flat_map(|m| m.hits)
        .filter(|h| h.field == Field::Body)
        .collect();
    let cut = snippet(text, &hits, SNIPPET_CHARS);
    (!cut.is_empty()).then_some(cut)
}

/// The title to show: the item's own, else the start of its text cut at a word boundary.
pub fn display_title(title: &str, text: &str) -> String {
    if !title.trim().is_empty() {
        return title.trim().to_string();
    }
    let text = text.trim();
    // A post's first sentence reads as its headline, when it is one.
    if let Some(end) = first_sentence_end(text)
        && end < text.len()
        && text[..end].chars().count() <= UNTITLED_MAX_CHARS
    {
        return text[..end].trim_end().to_string();
    }
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

/// The byte offset just past the first sentence's final mark (`.`, `!`, `?`, `…`) when it is
/// followed by a space, and the sentence has at least three words (so "M. Dupont" or
/// "1. Intro" do not end a sentence).
fn first_sentence_end(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '…')
            && chars.peek().is_some_and(|(_, next)| next.is_whitespace())
            && text[..at].split_whitespace().count() >= 3
        {
            return Some(at + c.len_utf8());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemId;
    use chrono::TimeZone;

    /// A mention of watch `acme` in its own story (`story`), published at 08:`minute`.
    fn mention(
        id: i64,
        story: i64,
        minute: u32,
        score: Option<f64>,
        reasons: Vec<Reason>,
    ) -> MentionRecord {
        MentionRecord {
            id: MentionId(id),
            watch: WatchId::new("acme"),
            item: ItemId(id),
            story: StoryId(story),
            source: SourceId::new("wire"),
            url: Some(format!("https://wire.example/{id}")),
            title: format!("Acme story {story} copy {id}"),
            text: format!("Acme text {id}"),
            published: Utc.with_ymd_and_hms(2026, 11, 27, 8, minute, 0).single(),
            found_at: Utc
                .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
                .single()
                .unwrap_or_default(),
            terms: vec!["Acme".to_string()],
            outlet: Some(format!("outlet{id}.example")),
            author: None,
            lang: None,
            score,
            reasons,
            verdict: None,
        }
    }

    fn risk(term: &str) -> Reason {
        Reason::Risk {
            term: term.to_string(),
        }
    }

    #[test]
    fn stories_rank_by_their_best_score_and_show_its_reasons() {
        let config = crate::config::load_str(
            "[[source]]\nid = \"wire\"\nurl = \"https://wire.example/feed\"\n\n\
             [[watch]]\nid = \"acme\"\nname = \"Acme\"\nquery = \"Acme\"\n\n\
             [[digest]]\nid = \"daily\"\nto = \"a@example.org\"\nlang = \"fr\"\n",
            std::path::Path::new("veille.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(daily) = config.digest(&DigestId::new("daily")) else {
            panic!("no digest");
        };
        let mentions = vec![
            // Story 1: oldest, one outlet; its second copy scored best.
            mention(1, 1, 0, Some(0.2), vec![Reason::TitleHit]),
            mention(
                2,
                1,
                5,
                Some(0.81),
                vec![risk("<boycott>"), Reason::Fresh { minutes: 12 }],
            ),
            // Story 2: two outlets, middling score.
            mention(
                3,
                2,
                10,
                Some(0.4),
                vec![Reason::Outlets {
                    count: 2,
                    recent: 1,
                    hours: 2,
                }],
            ),
            mention(4, 2, 11, None, Vec::new()),
            // Story 3: newest, never scored.
            mention(5, 3, 30, None, Vec::new()),
            // Story 4: scored 0 (an unscored story ties with it and is newer).
            mention(6, 4, 20, Some(0.0), Vec::new()),
        ];
        let input = DigestInput {
            window_end: Utc
                .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
                .single()
                .unwrap_or_default(),
            mentions,
            ..DigestInput::default()
        };
        let digest = build(&config, daily, input);
        let stories = &digest.sections[0].stories;
        let order: Vec<i64> = stories.iter().map(|s| s.story.0).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        assert_eq!(stories[0].score, Some(0.81));
        assert_eq!(stories[0].reasons[0], risk("<boycott>"));
        assert_eq!(
            stories[0].mention,
            MentionId(1),
            "the earliest copy is still shown"
        );
        assert_eq!(stories[1].score, Some(0.4));
        assert_eq!(stories[2].score, None);

        let rendered =
            crate::mail::render::render_digest(&digest).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            rendered
                .text
                .contains("\n  risque : « <boycott> » · vu 12 min après parution\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered.text.contains("\n  2 médias en 2 h\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .html
                .contains("risque : « &lt;boycott&gt; » · vu 12 min après parution</div>"),
            "{}",
            rendered.html
        );
        assert!(!rendered.html.contains("<boycott>"), "escaped");
        // Unscored stories have no reasons line.
        assert_eq!(rendered.html.matches("font-style:italic").count(), 2);
    }

    #[test]
    fn a_window_closed_within_the_second_of_the_last_ends_one_second_later() {
        let at = |h: u32, m: u32, s: u32| {
            Utc.with_ymd_and_hms(2026, 12, 3, h, m, s)
                .single()
                .unwrap_or_else(|| panic!("a valid time"))
        };
        let last = |end| DigestRun {
            window_start: None,
            window_end: end,
            last_mention_id: 7,
        };
        let cases = [
            ("first window", None, at(8, 0, 0), at(8, 0, 0)),
            (
                "a day later",
                Some(last(at(8, 0, 0))),
                at(9, 0, 0),
                at(9, 0, 0),
            ),
            (
                "same second",
                Some(last(at(8, 0, 0))),
                at(8, 0, 0),
                at(8, 0, 1),
            ),
            (
                "clock stepped back",
                Some(last(at(8, 0, 5))),
                at(8, 0, 0),
                at(8, 0, 6),
            ),
        ];
        for (case, previous, now, expected) in cases {
            assert_eq!(window_end(previous.as_ref(), now), expected, "{case}");
        }
    }

    #[test]
    fn titles_fall_back_to_text() {
        assert_eq!(display_title(" Acme ", "body"), "Acme");
        assert_eq!(display_title("", "short post"), "short post");
        assert_eq!(display_title("", ""), "(untitled)");
        let long = "word ".repeat(40);
        let shown = display_title("", &long);
        assert!(shown.ends_with("word…"), "{shown}");
        assert!(shown.chars().count() <= UNTITLED_MAX_CHARS + 1);
        let cases = [
            (
                "Nordvent ouvre un parc à Brest! Lien dans le fil #eolien",
                "Nordvent ouvre un parc à Brest!",
            ),
            (
                "M. Dupont parle de Nordvent ce soir",
                "M. Dupont parle de Nordvent ce soir",
            ),
            (
                "Short. Then more text follows here.",
                "Short. Then more text follows here.",
            ),
            ("Une seule phrase sans fin", "Une seule phrase sans fin"),
        ];
        for (text, want) in cases {
            assert_eq!(display_title("", text), want, "{text}");
        }
        let long_first = format!("{} end. Second.", "word ".repeat(30));
        assert!(display_title("", &long_first).ends_with("word…"));
    }
}
