//! The one-click judgment links of digests and alerts: `/j/{mention}/{verdict}/{expires}/{sig}`.
//!
//! GET (and HEAD) verify the link and show a confirmation page with one button, and never
//! write: mail scanners open every link of a mail. The button POSTs to the same address
//! with a CSRF field (the MAC of the link's path), which verifies the link again and
//! stores the verdict for the whole story. A link can be used again: the verdict is
//! replaced and the page says what it changed from. Bad links get a refusal page that says
//! what went wrong in the reader's words and what to do instead.
//!
//! [`record`] is the one way a web page stores a verdict (the review page uses it too); it
//! goes through `crate::judge::record`, so a crisis escalates the same way from mail, the
//! review page and the command line.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::DateTime;
use serde::Deserialize;

use super::{Web, auth, page};
use crate::app::App;
use crate::judge::token::{self, TokenError};
use crate::judge::{Given, Verdict};
use crate::model::MentionId;
use crate::store::MentionRecord;

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
    page::render(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            title => record.title,
            url => super::http_url(record.url.as_deref()),
            source => record.source.as_str(),
            outlet => record.outlet,
            watch => super::watch_name(&app, &record.watch),
            verdict => verdict.as_str(),
            verdict_label => super::label(verdict),
            previous => previous.map(super::label),
            csrf => token::mac(&key, "link", link.path().as_bytes()),
            expires,
        },
    )
}

/// POST: the button. Verifies everything again, then stores the verdict.
pub async fn submit(
    State(web): State<Web>,
    Path(link): Path<LinkPath>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let app = web.app();
    let Some(key) = super::web_config(&app).map(|w| w.key.clone()) else {
        return super::pages_off();
    };
    if !auth::same_origin(&headers) {
        return super::cross_site();
    }
    let (mention, verdict) = match verify(&app, &key, &link) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    if !token::mac_eq(&key, "link", link.path().as_bytes(), &form.csrf) {
        return super::csrf_refused();
    }
    let note = note(&form.note);
    match record(&app, mention, verdict, note.as_deref(), "mail link", "mail").await {
        Ok(recorded) => recorded.page(note.as_deref()),
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
    token::verify(
        key,
        &link.mention,
        &link.verdict,
        &link.expires,
        &link.sig,
        app.clock.now(),
    )
    .map_err(|e| Box::new(link_refused(app, &e)))
}

/// A bad link in the reader's words.
fn link_refused(app: &App, error: &TokenError) -> Response {
    const ASK: &str = "Judge it on the review page, or use the links of a newer digest.";
    match error {
        TokenError::Expired { at } => page::refused(
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "This link has expired (it was valid until {}).",
                super::when(app, *at)
            ),
            Some("Judge it on the review page or ask for a new digest."),
        ),
        TokenError::UnknownVerdict(word) => page::refused(
            StatusCode::BAD_REQUEST,
            "Unknown verdict",
            &format!(
                "This link asks for the verdict “{word}”, which veille does not know \
                 (it knows relevant, irrelevant and crisis)."
            ),
            Some(ASK),
        ),
        TokenError::Forged => page::refused(
            StatusCode::FORBIDDEN,
            "This link is not valid",
            "This link was changed or cut after veille sent it, so it cannot be trusted \
             (copy the whole link from the mail).",
            Some(ASK),
        ),
        TokenError::Malformed => page::refused(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "This link does not have the form of a veille judgment link; it was probably cut \
             by a mail program.",
            Some(ASK),
        ),
        TokenError::KeyFile { .. } => {
            tracing::error!(error = %error, "the link key is unusable");
            page::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Judgment links are unavailable",
                "veille cannot check links right now; its log says why.",
                None,
            )
        }
    }
}

/// The mention a link or form names, with its current verdict; 404 when it is gone.
async fn mention_and_verdict(
    app: &App,
    mention: MentionId,
) -> Result<(MentionRecord, Option<Verdict>), Response> {
    let found = app
        .db(move |s| {
            let record = s.mention(mention)?;
            let judgment = s.judgment_of(mention)?;
            Ok((record, judgment.map(|j| j.verdict)))
        })
        .await;
    match found {
        Ok((Some(record), previous)) => Ok((record, previous)),
        Ok((None, _)) => Err(gone()),
        Err(e) => Err(super::store_failed(&e)),
    }
}

fn gone() -> Response {
    page::refused(
        StatusCode::NOT_FOUND,
        "This item is gone",
        "veille no longer has this item: it was removed by the retention policy, or the link \
         is for another veille.",
        None,
    )
}

/// What storing a verdict did, for the page that says so.
pub struct Recorded {
    pub title: String,
    pub verdict: Verdict,
    pub previous: Option<Verdict>,
    /// Mentions judged (the whole story within the watch).
    pub mentions: usize,
    /// Crisis mails queued (crisis verdicts only).
    pub escalated: usize,
}

impl Recorded {
    /// The thank-you page of a judgment link.
    fn page(&self, note: Option<&str>) -> Response {
        let (escalation, escalation_failed) = self.escalation_line();
        page::render(
            StatusCode::OK,
            "recorded.html",
            minijinja::context! {
                title => &self.title,
                verdict_label => super::label(self.verdict),
                previous => self.previous.map(super::label),
                mentions => self.mentions,
                escalation,
                escalation_failed,
                note,
            },
        )
    }

    /// One line about the crisis escalation (None when the verdict is not a crisis), and
    /// whether it is a warning.
    pub fn escalation_line(&self) -> (Option<String>, bool) {
        if self.verdict != Verdict::Crisis {
            return (None, false);
        }
        if self.previous == Some(Verdict::Crisis) {
            return (
                Some("It already was a crisis: the crisis managers were alerted then.".to_string()),
                false,
            );
        }
        if self.escalated == 0 {
            return (
                Some(
                    "No crisis alert rule covers this watch, so nobody else was alerted \
                     (an admin can set crisis = true on an [[alert]] rule)."
                        .to_string(),
                ),
                true,
            );
        }
        (
            Some("The crisis managers were alerted by mail.".to_string()),
            false,
        )
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
    let given = Given {
        mention,
        verdict,
        note: note.map(str::to_string),
        who: who.to_string(),
        via,
    };
    match crate::judge::record(app, given).await {
        Ok(Some(recorded)) => Ok(Recorded {
            title: found.title,
            verdict,
            previous: recorded.judged.previous,
            mentions: recorded.judged.mentions.len(),
            escalated: recorded.escalated.len(),
        }),
        // Removed between the two reads (a retention purge).
        Ok(None) => Err(gone()),
        Err(e) => {
            tracing::error!(mention = mention.0, error = %e, "cannot record a verdict");
            Err(page::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not finished",
                &format!("veille could not finish recording this verdict: {e}"),
                Some("Check the review page: if the story is still there, judge it again."),
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
