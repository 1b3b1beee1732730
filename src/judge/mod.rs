//! People's verdicts on mentions: relevant, irrelevant, crisis.
//!
//! A verdict is given from a mail link (see [`token`]), the review page, or the command line,
//! and is stored with who gave it, when, and an optional note (`crate::store` keeps every
//! verdict; a mention's current verdict is its latest). Relevant and crisis teach the
//! per-watch classifier that an item like this one matters (`crate::score::learn`); a crisis
//! verdict also mails the story to the crisis alert rule at once (`crate::alert::escalate`).
//!
//! A crisis escalates **once per story**: every crisis verdict is recorded, but a story that
//! was escalated before mails again only after someone judged it something other than a
//! crisis and a new mention of it arrived after that judgment (`crate::alert::may_escalate`
//! has the rule and its reasons). Judgment links can be replayed until they expire (the
//! link is the credential, and it stays valid for `web.link_ttl`), so a rule that looked
//! only at the previous verdict let anyone holding a forwarded digest re-page the crisis
//! team by posting its crisis and relevant links in turn.

pub mod learned;
pub mod token;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Lang;
use crate::model::MentionId;

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

/// A verdict someone gives, before it is recorded.
#[derive(Debug, Clone)]
pub struct Given {
    pub mention: MentionId,
    pub verdict: Verdict,
    pub note: Option<String>,
    pub who: String,
    /// "mail", "review" or "cli".
    pub via: &'static str,
}

/// What recording a verdict did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The mentions judged (the story's, of the same watch), the previous verdict, and the
    /// verdict as stored on the mention asked.
    pub judged: crate::store::Judged,
    /// What a crisis verdict did about mail (None for other verdicts).
    pub escalation: Option<crate::alert::Escalation>,
}

impl Recorded {
    /// Outbox ids of the crisis mails queued (empty unless a crisis verdict mailed).
    pub fn escalated(&self) -> &[i64] {
        self.escalation
            .as_ref()
            .map_or(&[], crate::alert::Escalation::queued)
    }
}

/// Records a verdict on a mention and its story (the same watch's copies), and escalates a
/// crisis verdict to the crisis alert rule at once, once per story (see
/// `crate::alert::may_escalate`: a crisis confirmed again, or a crisis link replayed, is
/// recorded and mails nobody). None when the mention does not exist.
/// The web pages and `veille judge` both come here, so a verdict means the same wherever
/// it is given.
pub async fn record(app: &crate::App, given: Given) -> Result<Option<Recorded>, crate::AppError> {
    let at = app.clock.now();
    let (mention, verdict) = (given.mention, given.verdict);
    let stored = {
        let given = given.clone();
        app.db(move |s| {
            s.judge(&crate::store::NewJudgment {
                mention: given.mention,
                verdict: given.verdict,
                note: given.note.as_deref(),
                who: &given.who,
                via: given.via,
                at,
                whole_story: true,
            })
        })
        .await?
    };
    let Some(judged) = stored else {
        return Ok(None);
    };
    tracing::info!(mention = mention.0, verdict = %verdict, via = given.via, who = %given.who, mentions = judged.mentions.len(), "verdict recorded");
    // Whether it mails is the story's escalation history's call, not the previous verdict's:
    // crisis, relevant, crisis again must not page anyone twice.
    let escalation = if verdict == Verdict::Crisis {
        Some(crate::alert::escalate(app, mention, &judged.judgment).await?)
    } else {
        None
    };
    Ok(Some(Recorded { judged, escalation }))
}

/// A one-click judgment link of a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeLink {
    pub verdict: Verdict,
    pub url: String,
}

/// The three judgment links of a mention (relevant, irrelevant, crisis), valid for
/// `web.link_ttl` from `now`. None without `[web]` or its `base_url`: a link nobody can open
/// is worse than none.
pub fn mail_links(
    web: Option<&crate::config::WebConfig>,
    mention: MentionId,
    now: DateTime<Utc>,
) -> Vec<JudgeLink> {
    let Some((web, base)) = web.and_then(|w| w.base_url.as_ref().map(|b| (w, b))) else {
        return Vec::new();
    };
    let expires = now
        + chrono::Duration::from_std(web.link_ttl).unwrap_or_else(|_| chrono::Duration::days(14));
    Verdict::ALL
        .into_iter()
        .filter_map(|verdict| {
            let path = token::link_path(&web.key, mention, verdict, expires);
            base.join(&path).ok().map(|url| JudgeLink {
                verdict,
                url: url.to_string(),
            })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_through_their_words() {
        for verdict in Verdict::ALL {
            assert_eq!(verdict.as_str().parse::<Verdict>(), Ok(verdict));
        }
        let error = "maybe".parse::<Verdict>().unwrap_err();
        assert!(error.contains("relevant, irrelevant or crisis"), "{error}");
        assert!(
            "Relevant".parse::<Verdict>().is_err(),
            "words are lower case"
        );
    }

    #[test]
    fn only_irrelevant_is_negative() {
        assert!(Verdict::Relevant.is_positive());
        assert!(Verdict::Crisis.is_positive());
        assert!(!Verdict::Irrelevant.is_positive());
    }
}
