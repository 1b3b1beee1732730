//! `/review`: the stories nobody has judged yet, from the last `web.review_days` days,
//! grouped per watch (newest, then highest score, first), each with three buttons.
//!
//! The page is plain HTML forms, so it works without JavaScript: a button POSTs
//! `/review/judge`, which stores the verdict for the whole story and answers 303 back to
//! `/review`, at the next story (a `#m{id}` fragment). `static/review.js` adds the
//! keyboard: `j`/`k` move a highlight, `r`/`i`/`c` press the highlighted story's button.
//! Behind a login when `web.password_hash` is set (see `auth`); every POST carries the
//! session's CSRF token.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::page::{self, Words};
use super::{Web, auth, link};
use crate::alert::Escalation;
use crate::model::MentionId;
use crate::model::Verdict;
use crate::store::ReviewStory;

/// Most stories shown at once: a review page is a to-do list, not an archive.
pub const REVIEW_LIMIT: usize = 300;

/// What the previous judgment did, carried by the redirect (fixed words only: the page
/// never echoes free text from the address).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
    items: Option<usize>,
    alert: Option<String>,
}

/// One story as the page shows it.
#[derive(Debug, Serialize)]
struct StoryView {
    id: i64,
    title: String,
    url: Option<String>,
    source: String,
    outlet: Option<String>,
    age: String,
    score: Option<String>,
    reasons: String,
    outlets: usize,
    /// The story after this one (where the page goes after judging this one).
    next: Option<i64>,
}

#[derive(Debug, Serialize)]
struct WatchView {
    name: String,
    stories: Vec<StoryView>,
}

/// GET /review.
pub async fn page(
    State(state): State<Web>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Response {
    let app = state.app();
    let Some(web) = super::web_config(&app) else {
        return super::pages_off();
    };
    let words = super::words(&app);
    if let Some(refused) = auth::open_through_proxy(web, &headers) {
        return refused;
    }
    let now = app.clock.now();
    let existing = auth::session_of(&state, web, &headers, now);
    let Some(user) = auth::reviewer(web, existing.as_ref()) else {
        return auth::see_other("/login", None);
    };
    let (session, cookie) = auth::session_or_new(&state, web, &headers, now);
    let since = now - chrono::Duration::days(i64::from(web.review_days));
    let stories = match app.db(move |s| s.review_stories(since, REVIEW_LIMIT)).await {
        Ok(stories) => stories,
        Err(e) => return super::store_failed(words, &e),
    };
    let watches = group(&app, words, stories, now);
    let (done_line, escalation, escalation_failed) = done_lines(words, &done);
    let logged_in = web.password_hash.is_some() && session.logged_in;
    let mut response = page::render(
        StatusCode::OK,
        "review.html",
        words,
        minijinja::context! {
            watches => minijinja::Value::from(minijinja::value::Serde(&watches)),
            empty => words.nothing_left(web.review_days),
            csrf => session.csrf(&web.key),
            user,
            logout_csrf => logged_in.then(|| session.csrf(&web.key)),
            done => done_line,
            escalation,
            escalation_failed,
        },
    );
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Stories per watch, watches in configuration order, stories in the store's order; each
/// story knows the one after it.
fn group(
    app: &crate::App,
    words: &Words,
    stories: Vec<ReviewStory>,
    now: DateTime<Utc>,
) -> Vec<WatchView> {
    let mut watches: Vec<(crate::model::WatchId, Vec<ReviewStory>)> = Vec::new();
    for story in stories {
        match watches.iter_mut().find(|(w, _)| *w == story.mention.watch) {
            Some((_, list)) => list.push(story),
            None => watches.push((story.mention.watch.clone(), vec![story])),
        }
    }
    let order = |w: &crate::model::WatchId| {
        app.config
            .watches
            .iter()
            .position(|c| &c.id == w)
            .unwrap_or(usize::MAX)
    };
    watches.sort_by_key(|(w, _)| order(w));
    let ids: Vec<i64> = watches
        .iter()
        .flat_map(|(_, list)| list.iter().map(|s| s.mention.id.0))
        .collect();
    let mut position = 0;
    watches
        .into_iter()
        .map(|(watch, list)| WatchView {
            name: super::watch_name(app, &watch),
            stories: list
                .into_iter()
                .map(|story| {
                    position += 1;
                    let m = story.mention;
                    StoryView {
                        id: m.id.0,
                        url: super::http_url(m.url.as_deref()),
                        source: m.source.as_str().to_string(),
                        outlet: m.outlet,
                        age: words.age(now, m.published.unwrap_or(m.found_at)),
                        score: m.score.map(|s| words.score_of(s)),
                        reasons: crate::score::reasons_line(&m.reasons, words.language),
                        outlets: story.outlets,
                        next: ids.get(position).copied(),
                        title: m.title,
                    }
                })
                .collect(),
        })
        .collect()
}

/// The lines about the previous judgment: what was recorded, and the crisis escalation.
fn done_lines(words: &Words, done: &Done) -> (Option<String>, Option<String>, bool) {
    let Some(verdict) = done.done.as_deref().and_then(|v| v.parse::<Verdict>().ok()) else {
        return (None, None, false);
    };
    let recorded = words.marked(verdict, done.items.unwrap_or(1));
    let (escalation, failed) = match done.alert.as_deref() {
        Some("sent") => (Some(words.alerted), false),
        Some("already") => (Some(words.already_escalated), false),
        Some("none") => (Some(words.no_crisis_rule), true),
        _ => (None, false),
    };
    (Some(recorded), escalation.map(str::to_string), failed)
}

#[derive(Debug, Deserialize)]
pub struct JudgeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mention: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    next: String,
}

/// POST /review/judge: one button of the review page.
pub async fn judge(
    State(state): State<Web>,
    headers: HeaderMap,
    Form(form): Form<JudgeForm>,
) -> Response {
    let app = state.app();
    let Some(web) = super::web_config(&app) else {
        return super::pages_off();
    };
    let words = super::words(&app);
    if let Some(refused) = auth::open_through_proxy(web, &headers) {
        return refused;
    }
    let session = match auth::check_post(&state, web, &headers, &form.csrf, app.clock.now()) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let Some(who) = auth::reviewer(web, Some(&session)) else {
        return auth::see_other("/login", None);
    };
    let Ok(mention) = form.mention.parse::<i64>() else {
        return page::refusal(StatusCode::BAD_REQUEST, words, &words.which_story);
    };
    let verdict = match form.verdict.parse::<Verdict>() {
        Ok(verdict) => verdict,
        Err(_) => {
            return page::refused(
                StatusCode::BAD_REQUEST,
                words,
                words.unknown_verdict_heading,
                &words.unknown_verdict(&form.verdict),
                None,
            );
        }
    };
    let recorded = match link::record(&app, MentionId(mention), verdict, None, &who, "review").await
    {
        Ok(recorded) => recorded,
        Err(refused) => return refused,
    };
    let alert = match &recorded.escalation {
        None => "",
        Some(Escalation::Mailed(queued)) if !queued.is_empty() => "&alert=sent",
        Some(Escalation::Mailed(_) | Escalation::AlreadyEscalated) => "&alert=already",
        Some(Escalation::NoRule) => "&alert=none",
    };
    // Only digits reach the fragment: it is ours, but it came back through a form.
    let fragment = form
        .next
        .parse::<i64>()
        .map_or_else(|_| String::new(), |next| format!("#m{next}"));
    auth::see_other(
        &format!(
            "/review?done={}&items={}{alert}{fragment}",
            verdict.as_str(),
            recorded.mentions
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Lang;

    #[test]
    fn the_done_line_takes_only_known_words() {
        let done = |done: &str, items, alert: &str| Done {
            done: Some(done.to_string()),
            items: Some(items),
            alert: Some(alert.to_string()),
        };
        let (en, fr) = (Words::of(Lang::En), Words::of(Lang::Fr));
        assert_eq!(
            done_lines(en, &done("relevant", 1, "")),
            (Some("Marked Relevant.".to_string()), None, false)
        );
        assert_eq!(
            done_lines(fr, &done("irrelevant", 1, "")),
            (Some("Marqué Hors sujet.".to_string()), None, false)
        );
        for (words, marked, rule) in [
            (
                en,
                "Marked Crisis (3 items of the story).",
                "No crisis alert rule",
            ),
            (
                fr,
                "Marqué Crise (3 articles du sujet).",
                "Aucune règle d’alerte",
            ),
        ] {
            let (line, escalation, failed) = done_lines(words, &done("crisis", 3, "none"));
            assert_eq!(line.as_deref(), Some(marked));
            assert!(escalation.is_some_and(|e| e.contains(rule)) && failed);
            assert_eq!(
                done_lines(words, &done("<script>", 1, "sent")),
                (None, None, false)
            );
            assert_eq!(done_lines(words, &Done::default()), (None, None, false));
        }
    }
}
