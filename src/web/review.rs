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

use super::{Web, auth, judge, page};
use crate::digest::Lang;
use crate::judge::Verdict;
use crate::model::MentionId;
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
    if web.password_hash.is_none() && auth::proxied(&headers) {
        return auth::needs_password();
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
        Err(e) => return super::store_failed(&e),
    };
    let watches = group(&app, stories, now);
    let (done_line, escalation, escalation_failed) = done_lines(&done);
    let logged_in = web.password_hash.is_some() && session.logged_in;
    let mut response = page::render(
        StatusCode::OK,
        "review.html",
        minijinja::context! {
            watches => minijinja::Value::from(minijinja::value::Serde(&watches)),
            days => web.review_days,
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
fn group(app: &crate::App, stories: Vec<ReviewStory>, now: DateTime<Utc>) -> Vec<WatchView> {
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
                        age: age(now, m.published.unwrap_or(m.found_at)),
                        score: m.score.map(|s| format!("{s:.2}")),
                        reasons: crate::score::reasons_line(&m.reasons, Lang::En),
                        outlets: story.outlets,
                        next: ids.get(position).copied(),
                        title: m.title,
                    }
                })
                .collect(),
        })
        .collect()
}

/// How old an item is, in the words a reader skims.
pub fn age(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let minutes = (now - at).num_minutes();
    match minutes {
        ..=0 => "just now".to_string(),
        1..60 => format!("{minutes} min ago"),
        60..1440 => format!("{} h ago", minutes / 60),
        1440..2880 => "yesterday".to_string(),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// The lines about the previous judgment: what was recorded, and the crisis escalation.
fn done_lines(done: &Done) -> (Option<String>, Option<String>, bool) {
    let Some(verdict) = done.done.as_deref().and_then(|v| v.parse::<Verdict>().ok()) else {
        return (None, None, false);
    };
    let items = done.items.unwrap_or(1);
    let recorded = if items > 1 {
        format!(
            "Marked {} ({items} items of the story).",
            super::label(verdict)
        )
    } else {
        format!("Marked {}.", super::label(verdict))
    };
    let (escalation, failed) = match done.alert.as_deref() {
        Some("sent") => (Some("The crisis managers were alerted by mail."), false),
        Some("already") => (Some("It already was a crisis: no new alert."), false),
        Some("none") => (
            Some(
                "No crisis alert rule covers this watch, so nobody else was alerted (an admin \
                 can set crisis = true on an [[alert]] rule).",
            ),
            true,
        ),
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
    if web.password_hash.is_none() && auth::proxied(&headers) {
        return auth::needs_password();
    }
    let session = match auth::check_post(&state, web, &headers, &form.csrf, app.clock.now()) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let Some(who) = auth::reviewer(web, Some(&session)) else {
        return auth::see_other("/login", None);
    };
    let Ok(mention) = form.mention.parse::<i64>() else {
        return page::refused(
            StatusCode::BAD_REQUEST,
            "Which story?",
            "This form does not say which story to judge.",
            Some("Reload the review page and try again."),
        );
    };
    let verdict = match form.verdict.parse::<Verdict>() {
        Ok(verdict) => verdict,
        Err(e) => return page::refused(StatusCode::BAD_REQUEST, "Unknown verdict", &e, None),
    };
    let recorded =
        match judge::record(&app, MentionId(mention), verdict, None, &who, "review").await {
            Ok(recorded) => recorded,
            Err(refused) => return refused,
        };
    let alert = match (verdict, recorded.previous, recorded.escalated) {
        (Verdict::Crisis, Some(Verdict::Crisis), _) => "&alert=already",
        (Verdict::Crisis, _, 0) => "&alert=none",
        (Verdict::Crisis, _, _) => "&alert=sent",
        _ => "",
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
    use chrono::TimeZone;

    #[test]
    fn ages_read_like_a_person_says_them() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time");
        for (minutes, expected) in [
            (-5, "just now"),
            (0, "just now"),
            (7, "7 min ago"),
            (60, "1 h ago"),
            (23 * 60 + 59, "23 h ago"),
            (30 * 60, "yesterday"),
            (3 * 1440 + 5, "3 days ago"),
        ] {
            assert_eq!(age(now, now - chrono::Duration::minutes(minutes)), expected);
        }
    }

    #[test]
    fn the_done_line_takes_only_known_words() {
        let done = |done: &str, items, alert: &str| Done {
            done: Some(done.to_string()),
            items: Some(items),
            alert: Some(alert.to_string()),
        };
        assert_eq!(
            done_lines(&done("relevant", 1, "")),
            (Some("Marked Relevant.".to_string()), None, false)
        );
        let (line, escalation, failed) = done_lines(&done("crisis", 3, "none"));
        assert_eq!(
            line.as_deref(),
            Some("Marked Crisis (3 items of the story).")
        );
        assert!(escalation.is_some_and(|e| e.contains("No crisis alert rule")) && failed);
        assert_eq!(
            done_lines(&done("<script>", 1, "sent")),
            (None, None, false)
        );
        assert_eq!(done_lines(&Done::default()), (None, None, false));
    }
}
