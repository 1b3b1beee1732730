//! Plain data shared by the pipeline stages.
//!
//! Everything here is a value: no I/O and no dependency on another veille module, so every
//! stage can take and return these types without pulling in the others. Identifiers are
//! newtypes so a source id can never be passed where a watch id is expected.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(Arc::from(id.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// The `id` of a `[[source]]` in the configuration.
    SourceId
);
string_id!(
    /// The `id` of a `[[watch]]` in the configuration.
    WatchId
);
string_id!(
    /// The `id` of a `[[digest]]` in the configuration.
    DigestId
);
string_id!(
    /// The `id` of an `[[alert]]` rule in the configuration.
    AlertId
);

/// Row id of a stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ItemId(pub i64);

/// Row id of a stored mention (one item matched by one watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MentionId(pub i64);

/// Row id of a story: the items that are one document or copies of one news story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StoryId(pub i64);

/// One entry of a source (a feed entry, later a page block), as extracted, before storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub source: SourceId,
    /// What makes this item unique within its source: the GUID, else the link, else a hash
    /// of title and text (see `extract::identity`).
    pub identity: String,
    pub url: Option<String>,
    /// Plain text, never HTML. May be empty for title-less posts.
    pub title: String,
    /// Plain text of the content (or summary when there is no content).
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    /// Who wrote it, when the feed says: a handle for social posts (`@alice@mastodon.example`,
    /// `/u/alice`), a name for articles (see `extract::author_of`).
    pub author: Option<String>,
    /// Its language as an ISO 639 code, two letters when ISO 639-1 has them (`fr`, `en`,
    /// else three: `gsw`): as the source declares it, else as detected from the text; None
    /// when neither says (see `extract::lang`).
    pub lang: Option<String>,
}

/// Which part of an item a query term was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Body,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
        }
    }
}

/// One query term found in an item: the term as the admin wrote it, where, and at which
/// token position (so later stages can build snippets around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermHit {
    /// Shared with the compiled query: a hit costs no allocation.
    pub term: Arc<str>,
    pub field: Field,
    pub position: usize,
    /// Byte range of the hit in the field's text as it was matched (`Item::title` or
    /// `Item::text`), always on character boundaries: what a snippet highlights.
    pub start: usize,
    pub end: usize,
}

/// A watch that matched an item, with the terms that made it match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchMatch {
    pub watch: WatchId,
    pub hits: Vec<TermHit>,
    /// The query's meta operators that held (`site:lemonde.fr`, `tag:presse`; never one
    /// under a NOT), as written: part of why it matched, though not words of the text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Arc<str>>,
}

impl WatchMatch {
    /// Why it matched, for people: the distinct terms that hit, then the meta operators
    /// that held.
    pub fn described(&self) -> Vec<&str> {
        let mut all = self.terms();
        all.extend(self.held.iter().map(|h| &**h));
        all
    }

    /// The distinct terms that hit, in the order they were first found.
    pub fn terms(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for hit in &self.hits {
            if !seen.contains(&&*hit.term) {
                seen.push(&hit.term);
            }
        }
        seen
    }
}

/// Language of a digest's labels and dates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(text: &str) -> Result<Lang, String> {
        match text {
            "en" => Ok(Lang::En),
            "fr" => Ok(Lang::Fr),
            other => Err(format!("unknown language {other:?}: use \"en\" or \"fr\"")),
        }
    }
}

/// What a person decided about a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// About us, worth reading.
    Relevant,
    /// Noise: a homonym, an unrelated use of the word.
    Irrelevant,
    /// About us and serious: crisis managers must see it now.
    Crisis,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Relevant, Verdict::Irrelevant, Verdict::Crisis];

    /// The word stored, typed and put in links.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Relevant => "relevant",
            Verdict::Irrelevant => "irrelevant",
            Verdict::Crisis => "crisis",
        }
    }

    /// The verdict as a button or a mail link reads.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Verdict::Relevant, Lang::En) => "Relevant",
            (Verdict::Relevant, Lang::Fr) => "Pertinent",
            (Verdict::Irrelevant, Lang::En) => "Irrelevant",
            (Verdict::Irrelevant, Lang::Fr) => "Hors sujet",
            (Verdict::Crisis, Lang::En) => "Crisis",
            (Verdict::Crisis, Lang::Fr) => "Crise",
        }
    }

    /// Relevant and crisis both say "this matters": the classifier learns them as relevant.
    pub fn is_positive(self) -> bool {
        !matches!(self, Verdict::Irrelevant)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;

    fn from_str(text: &str) -> Result<Verdict, String> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| format!("unknown verdict {text:?}: use relevant, irrelevant or crisis"))
    }
}

/// A one-click judgment link of a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeLink {
    pub verdict: Verdict,
    pub url: String,
}

/// One verdict as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgment {
    pub id: i64,
    pub mention: MentionId,
    pub verdict: Verdict,
    pub note: Option<String>,
    /// The reviewer's login, "mail link", or the system user for the command line.
    pub who: String,
    pub at: DateTime<Utc>,
    /// Where it was given: "mail", "review" or "cli".
    pub via: String,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceKind {
    Feed,
    /// A web page: items picked by CSS selectors, or the whole page's text.
    Page,
}

/// One reason, stored with the mention as JSON and rendered in the reader's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A query term is in the title.
    TitleHit,
    /// Several distinct query terms hit.
    Terms { count: usize },
    /// The source weighs more (or less) than the default.
    Source { weight: f64 },
    /// The story is in several outlets, `recent` of them within `hours`.
    Outlets {
        count: usize,
        recent: usize,
        hours: i64,
    },
    /// Published (or first seen) this many minutes ago.
    Fresh { minutes: i64 },
    /// A risk term near the hit.
    Risk { term: String },
    /// The watch's classifier is fairly sure the item is (or is not) relevant.
    Learned { relevant: bool },
}

impl Reason {
    /// The reason in a few words, as digests and alerts show it.
    pub fn render(&self, lang: Lang) -> String {
        match (self, lang) {
            (Reason::TitleHit, Lang::En) => "title hit".to_string(),
            (Reason::TitleHit, Lang::Fr) => "dans le titre".to_string(),
            (Reason::Terms { count }, Lang::En) => format!("{count} terms"),
            (Reason::Terms { count }, Lang::Fr) => format!("{count} termes"),
            (Reason::Source { weight }, Lang::En) => {
                format!("source weight {}", number(*weight, lang))
            }
            (Reason::Source { weight }, Lang::Fr) => {
                format!("source de poids {}", number(*weight, lang))
            }
            (
                Reason::Outlets {
                    count,
                    recent,
                    hours,
                },
                Lang::En,
            ) => {
                if *recent > 0 {
                    format!("{count} outlets in {hours} h")
                } else {
                    format!("{count} outlets")
                }
            }
            (
                Reason::Outlets {
                    count,
                    recent,
                    hours,
                },
                Lang::Fr,
            ) => {
                if *recent > 0 {
                    format!("{count} médias en {hours} h")
                } else {
                    format!("{count} médias")
                }
            }
            // The age when the mention was found: a digest read hours later must not say
            // "12 min ago" about something that is no longer 12 minutes old.
            (Reason::Fresh { minutes }, Lang::En) => {
                format!("{} old when found", age(*minutes, lang))
            }
            (Reason::Fresh { minutes }, Lang::Fr) => {
                format!("vu {} après parution", age(*minutes, lang))
            }
            // A prefix term reads as the word a person would say ("boycott*" → "boycott").
            (Reason::Risk { term }, Lang::En) => {
                format!("risk: \"{}\"", term.trim_end_matches('*'))
            }
            (Reason::Risk { term }, Lang::Fr) => {
                format!("risque : « {} »", term.trim_end_matches('*'))
            }
            (Reason::Learned { relevant: true }, Lang::En) => {
                "looks like items you marked relevant".to_string()
            }
            (Reason::Learned { relevant: false }, Lang::En) => {
                "looks like items you marked irrelevant".to_string()
            }
            (Reason::Learned { relevant: true }, Lang::Fr) => {
                "ressemble aux articles jugés pertinents".to_string()
            }
            (Reason::Learned { relevant: false }, Lang::Fr) => {
                "ressemble aux articles jugés hors sujet".to_string()
            }
        }
    }
}

/// Everything a mention's score is computed from, gathered by the pipeline (item side) and
/// the store (story side, see [`Scoring`]). Plain values: the score is a pure function of
/// them (`crate::score::score`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signals {
    /// A query term hit the title (not only the body).
    pub title_hit: bool,
    /// Distinct query terms that hit.
    pub distinct_terms: usize,
    /// The source's `weight` (0–10, default 1).
    pub source_weight: f64,
    /// Distinct outlets that carry the story now (at least 1).
    pub outlets: usize,
    /// How many of those joined within the growth window before now
    /// (`crate::score::GROWTH_WINDOW_HOURS`; the story's first outlet may be counted or not:
    /// growth never counts more than `outlets − 1`).
    pub recent_outlets: usize,
    /// Minutes between publication (else first sight) and now; None when unknown.
    pub age_minutes: Option<i64>,
    /// Risk terms found near a query hit, as written in the vocabulary, first found first
    /// (what `crate::score::risk::RiskVocabulary::near` returns); the first
    /// `crate::score::MAX_RISK_TERMS` count.
    pub risk: Vec<String>,
    /// P(relevant) from the watch's classifier (`crate::score::learn::Model::probability`);
    /// None when the watch has no model yet.
    pub learned: Option<f64>,
}

/// A score and its reasons, strongest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scored {
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// How a source run's mentions are scored, handed to the store by the caller
/// (`crate::score::SCORING`). Part of a score is the story's: how many outlets carry it and
/// how many joined lately, which is known only once the item is written with its story,
/// inside the run's transaction. So the store counts the story's outlets (over
/// `growth_window_hours` for the recent ones), puts them in the mention's [`Signals`], and
/// writes what `score` returns: the store stores, the scorer decides.
#[derive(Debug, Clone, Copy)]
pub struct Scoring {
    /// Outlets that carried an item of the story first seen within this many hours count as
    /// recent ([`Signals::recent_outlets`]).
    pub growth_window_hours: i64,
    /// The score of a mention from its complete signals: a pure function.
    pub score: fn(&Signals) -> Scored,
}

/// One mention with what a digest or an export shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionRecord {
    pub id: MentionId,
    pub watch: WatchId,
    pub item: ItemId,
    /// The story the item belongs to (see `crate::dedup`).
    pub story: StoryId,
    pub source: SourceId,
    pub url: Option<String>,
    pub title: String,
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub found_at: DateTime<Utc>,
    /// The query terms that hit, as written in the watch.
    pub terms: Vec<String>,
    /// The outlet (host) the item counts for in its story.
    pub outlet: Option<String>,
    /// Who wrote the item, when its feed said.
    pub author: Option<String>,
    /// The item's language (see `Item::lang`), None when unknown.
    pub lang: Option<String>,
    /// The mention's score (0–1), None for mentions stored before scoring existed.
    pub score: Option<f64>,
    /// Why it scored so, strongest first (see `crate::score`).
    pub reasons: Vec<crate::model::Reason>,
    /// Its current verdict, when someone judged it.
    pub verdict: Option<crate::model::Verdict>,
}

/// The last digest queued for a digest id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRun {
    /// None for a digest's first run, which covered everything stored.
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: DateTime<Utc>,
    pub last_mention_id: i64,
}

/// What a digest or `veille stories` shows of a story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryInfo {
    pub id: StoryId,
    /// Title and link of the story's representative (its earliest item).
    pub title: String,
    pub url: Option<String>,
    /// The earliest time of its items (published, else first seen).
    pub earliest: DateTime<Utc>,
    /// When its latest item was first seen.
    pub last_seen: DateTime<Utc>,
    /// Distinct outlets (hosts, without `www.`), in the order they carried the story.
    pub outlets: Vec<String>,
    /// Items in the story.
    pub items: usize,
}

/// A new live mention of a watch a rule reads, as the rule judged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    pub mention: MentionId,
    pub story: StoryId,
    pub score: f64,
    pub reasons: Vec<Reason>,
    /// The score reached the rule's `min_score`.
    pub passes: bool,
}

/// A story's last crisis escalation, and what happened to the story since: what the alert
/// engine decides a new escalation on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastEscalation {
    /// The crisis verdict that escalated.
    pub judgment: i64,
    pub at: DateTime<Utc>,
    /// When the story (this watch's mentions of it) was first judged something other than
    /// a crisis after that escalation, if it was.
    pub cleared_at: Option<DateTime<Utc>>,
    /// When the watch's newest mention of the story was found.
    pub newest_mention_at: Option<DateTime<Utc>>,
}
/// A weight as people write it: `2`, `0.5` (`0,5` in French).
fn number(value: f64, lang: Lang) -> String {
    let text = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{}", (value * 100.0).round() / 100.0)
    };
    match lang {
        Lang::En => text,
        Lang::Fr => text.replace('.', ","),
    }
}

/// `12 min`, `3 h`, `2 d` (`2 j` in French).
fn age(minutes: i64, lang: Lang) -> String {
    let minutes = minutes.max(0);
    if minutes < 1 {
        "< 1 min".to_string()
    } else if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        let days = minutes / (24 * 60);
        match lang {
            Lang::En => format!("{days} d"),
            Lang::Fr => format!("{days} j"),
        }
    }
}
