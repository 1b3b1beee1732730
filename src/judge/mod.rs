//! People's verdicts on mentions (relevant, irrelevant, crisis): the signed one-click links
//! that give them ([`token`], [`mail_links`]) and what the classifiers learn from them
//! ([`learned`]). The verdict itself is plain data (`crate::model::Verdict`); recording one
//! is `crate::feedback::record`.
//!
//! A verdict is given from a mail link, the review page, or the command line,
//! and is stored with who gave it, when, and an optional note (`crate::store` keeps every
//! verdict; a mention's current verdict is its latest). Relevant and crisis teach the
//! per-watch classifier that an item like this one matters (`crate::score::learn`); a crisis
//! verdict also mails the story to the crisis alert rule at once (`crate::alerting::escalate`).
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

use crate::model::MentionId;
use crate::model::{JudgeLink, Verdict};

/// Where judgment links point and what signs them: `[web]`'s `base_url`, key and
/// `link_ttl` (see `crate::config::WebConfig::link_base`).
#[derive(Debug, Clone, Copy)]
pub struct LinkBase<'a> {
    pub url: &'a url::Url,
    pub key: &'a token::LinkKey,
    pub ttl: std::time::Duration,
}

/// The three judgment links of a mention (relevant, irrelevant, crisis), valid for
/// `web.link_ttl` from `now`. None without `[web]` or its `base_url`: a link nobody can open
/// is worse than none.
pub fn mail_links(
    base: Option<LinkBase<'_>>,
    mention: MentionId,
    now: DateTime<Utc>,
) -> Vec<JudgeLink> {
    let Some(base) = base else {
        return Vec::new();
    };
    let expires =
        now + chrono::Duration::from_std(base.ttl).unwrap_or_else(|_| chrono::Duration::days(14));
    Verdict::ALL
        .into_iter()
        .filter_map(|verdict| {
            let path = token::link_path(base.key, mention, verdict, expires);
            base.url.join(&path).ok().map(|url| JudgeLink {
                verdict,
                url: url.to_string(),
            })
        })
        .collect()
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
