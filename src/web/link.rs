//! The one-click judgment links of digests and alerts: `/j/{mention}/{verdict}/{expires}/{sig}`.
//!
//! GET (and HEAD) verify the link and show a confirmation page with one button, and never
//! write: mail scanners open every link of a mail. The button POSTs to the same address
//! with a CSRF field (the MAC of the link's path), which verifies the link again and
//! stores the verdict for the whole story. A link can be used again until it expires: the
//! verdict is replaced and the page says what it changed from, but a crisis mails the crisis
//! managers once per story however often its link is posted (`crate::alert::may_escalate`). Bad links get a refusal page that says
//! what went wrong in the reader's words and what to do instead.
//!
//! [`record`] is the one way a web page stores a verdict (the review page uses it too); it
//! goes through `crate::feedback::record`, so a crisis escalates the same way from mail, the
//! review page and the command line.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::DateTime;
use serde::Deserialize;

use super::Web;
use super::page::{self, Words};
use crate::alert::Escalation;
use crate::app::App;
use crate::feedback::Given;
use crate::judge::token::{self, TokenError};
use crate::model::MentionId;
use crate::model::MentionRecord;
use crate::model::Verdict;

/// Longest note kept (characters); a note is a remark, not an essay.
pub const MAX_NOTE_CHARS: usize = 2000;

/// The four path segments of a link, as received.
#[derive(Debug, Deserialize)]
pub struct LinkPath {
    mention: String,
    verdict: String,
    expires: String,
    sig: String,
}

impl LinkPath {
    /// The signed path, as the CSRF MAC covers it.
    fn path(&self) -> String {
        format!(
            "j/{}/{}/{}/{}",
            self.mention, self.verdict, self.expires, self.sig
        )
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// GET: the confirmation page. Never writes.
pub async fn confirm(State(web): State<Web>, Path(link): Path<LinkPath>) -> Response {
    let app = web.app();
    let Some(key) = super::web_config(&app).map(|w| w.key.clone()) else {
        return super::pages_off();
    };
    let (mention, verdict) = match verify(&app, &key, &link) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    let (record, previous) = match mention_and_verdict(&app, mention).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let expires = link
        .expires
        .parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| super::when(&app, t))
        .unwrap_or_default();
    let words = super::words(&app);
    page::render(
        StatusCode::OK,
        "confirm.html",
        words,
        minijinja::context! {
            title => record.title,
            url => super::http_url(record.url.as_deref()),
            source => record.source.as_str(),
            outlet => record.outlet,
            watch => super::watch_name(&app, &record.watch),
            verdict => verdict.as_str(),
            verdict_label => words.verdict(verdict),
            previous => previous.map(|v| words.verdict(v)),
            csrf => token::mac(&key, "link", link.path().as_bytes()),
            expires,
        },
    )
}

/// POST: the button (the guard checked its origin). Verifies everything again, then
/// stores the verdict.
pub async fn submit(
    State(web): State<Web>,
    Path(link): Path<LinkPath>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let app = web.app();
    let Some(key) = super::web_config(&app).map(|w| w.key.clone()) else {
        return super::pages_off();
    };
    let words = super::words(&app);
    let (mention, verdict) = match verify(&app, &key, &link) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    if !token::mac_eq(&key, "link", link.path().as_bytes(), &form.csrf) {
        return super::csrf_refused(words);
    }
    let note = note(&form.note);
    match record(&app, mention, verdict, note.as_deref(), "mail link", "mail").await {
        Ok(recorded) => recorded.page(words, note.as_deref()),
        Err(refusal) => refusal,
    }
}

/// The note as stored: trimmed, at most [`MAX_NOTE_CHARS`], None when empty.
pub fn note(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_NOTE_CHARS).collect())
}

/// Checks the link's signature and expiry, or says why not, as a page.
fn verify(
    app: &App,
    key: &token::LinkKey,
    link: &LinkPath,
) -> Result<(MentionId, Verdict), Box<Response>> {
    let ttl = super::web_config(app).map_or(crate::config::defaults::LINK_TTL, |w| w.link_ttl);
    token::verify(
        key,
        &link.mention,
        &link.verdict,
        &link.expires,
        &link.sig,
        ttl,
        app.clock.now(),
    )
    .map_err(|e| Box::new(link_refused(app, link, &e)))
}

/// A bad link in the reader's words.
fn link_refused(app: &App, link: &LinkPath, error: &TokenError) -> Response {
    let words = super::words(app);
    match error {
        TokenError::Expired { at } => page::refused(
            StatusCode::GONE,
            words,
            words.expired_heading,
            &words.expired(&super::when(app, *at)),
            Some(words.expired_hint),
        ),
        TokenError::BeyondLifetime { at } => {
            // Only a holder of the key can sign: either the key leaked (a copied demo key, a
            // stolen file) or link_ttl was shortened since the link was mailed.
            tracing::warn!(mention = %link.mention, verdict = %link.verdict, expires = %at, "refused a correctly signed judgment link valid longer than web.link_ttl allows: if link_ttl was not shortened, the link key has leaked (replace web.secret_file)");
            page::refused(
                StatusCode::FORBIDDEN,
                words,
                words.beyond_lifetime_heading,
                &words.beyond_lifetime(&super::when(app, *at)),
                Some(words.expired_hint),
            )
        }
        TokenError::UnknownVerdict(word) => page::refused(
            StatusCode::BAD_REQUEST,
            words,
            words.unknown_verdict_heading,
            &words.unknown_verdict(word),
            Some(words.ask_elsewhere),
        ),
        TokenError::Forged => page::refusal(StatusCode::FORBIDDEN, words, &words.forged),
        TokenError::Malformed => page::refusal(StatusCode::BAD_REQUEST, words, &words.malformed),
        TokenError::KeyFile { .. } => {
            tracing::error!(error = %super::OneLine(&error), "the link key is unusable");
            page::refusal(StatusCode::SERVICE_UNAVAILABLE, words, &words.key_unusable)
        }
    }
}

/// The mention a link or form names, with its current verdict; 404 when it is gone.
async fn mention_and_verdict(
    app: &App,
    mention: MentionId,
) -> Result<(MentionRecord, Option<Verdict>), Response> {
    // A mention record carries its current verdict.
    match app.db(move |s| s.mention(mention)).await {
        Ok(Some(record)) => {
            let previous = record.verdict;
            Ok((record, previous))
        }
        Ok(None) => Err(gone(super::words(app))),
        Err(e) => Err(super::store_failed(super::words(app), &e)),
    }
}

fn gone(words: &Words) -> Response {
    page::refusal(StatusCode::NOT_FOUND, words, &words.gone)
}

/// What storing a verdict did, for the page that says so.
pub struct Recorded {
    pub title: String,
    pub verdict: Verdict,
    pub previous: Option<Verdict>,
    /// Mentions judged (the whole story within the watch).
    pub mentions: usize,
    /// What a crisis verdict did about mail (None for other verdicts).
    pub escalation: Option<Escalation>,
}

impl Recorded {
    /// The thank-you page of a judgment link.
    fn page(&self, words: &Words, note: Option<&str>) -> Response {
        let (escalation, escalation_failed) = self.escalation_line(words);
        page::render(
            StatusCode::OK,
            "recorded.html",
            words,
            minijinja::context! {
                title => &self.title,
                verdict_label => words.verdict(self.verdict),
                previous => self.previous.map(|v| words.verdict(v)),
                more => words.more_items(self.mentions.saturating_sub(1)),
                escalation,
                escalation_failed,
                note,
            },
        )
    }

    /// One line about the crisis escalation (None when the verdict is not a crisis), and
    /// whether it is a warning.
    pub fn escalation_line(&self, words: &Words) -> (Option<String>, bool) {
        let (line, failed) = match &self.escalation {
            None => return (None, false),
            Some(Escalation::AlreadyEscalated) => (words.already_escalated, false),
            Some(Escalation::Mailed(queued)) if !queued.is_empty() => (words.alerted, false),
            // Queued before under the same key (a verdict recorded twice at once): the mail
            // is on its way.
            Some(Escalation::Mailed(_)) => (words.already_escalated, false),
            Some(Escalation::NoRule) => (words.no_crisis_rule, true),
        };
        (Some(line.to_string()), failed)
    }
}

/// Stores a verdict for `mention`'s whole story (escalating a crisis), or says why not, as
/// a page.
pub async fn record(
    app: &App,
    mention: MentionId,
    verdict: Verdict,
    note: Option<&str>,
    who: &str,
    via: &'static str,
) -> Result<Recorded, Response> {
    let (found, _) = mention_and_verdict(app, mention).await?;
    let words = super::words(app);
    let given = Given {
        mention,
        verdict,
        note: note.map(str::to_string),
        who: who.to_string(),
        via,
    };
    match crate::feedback::record(app, given).await {
        Ok(Some(recorded)) => Ok(Recorded {
            title: found.title,
            verdict,
            previous: recorded.judged.previous,
            mentions: recorded.judged.mentions.len(),
            escalation: recorded.escalation,
        }),
        // Removed between the two reads (a retention purge).
        Ok(None) => Err(gone(words)),
        Err(e) => {
            tracing::error!(mention = mention.0, error = %super::OneLine(&e), "cannot record a verdict");
            Err(page::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                words,
                words.not_finished_heading,
                &words.not_finished(&e),
                Some(words.not_finished_hint),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_trimmed_capped_and_optional() {
        let long = "x".repeat(MAX_NOTE_CHARS + 10);
        for (given, expected) in [
            ("", None),
            ("   \n", None),
            ("  seen it  ", Some("seen it".to_string())),
            (long.as_str(), Some("x".repeat(MAX_NOTE_CHARS))),
        ] {
            assert_eq!(note(given), expected, "{given:?}");
        }
    }
}
