//! Digest → subject, plain text and HTML.
//!
//! Templates live in `templates/` and are compiled into the binary. The HTML template is
//! auto-escaped by minijinja, so every piece of feed-supplied text is escaped whatever the
//! template does with it; links are only emitted for http(s) URLs, never `javascript:`.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde::Serialize;

use crate::digest::Digest;

/// A rendered mail body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the {template} template: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

const TEXT_TEMPLATE: &str = "digest.txt";
const HTML_TEMPLATE: &str = "digest.html";

fn environment() -> Result<&'static Environment<'static>, RenderError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        env.add_template(TEXT_TEMPLATE, include_str!("templates/digest.txt"))
            .map_err(|e| e.to_string())?;
        env.add_template(HTML_TEMPLATE, include_str!("templates/digest.html"))
            .map_err(|e| e.to_string())?;
        Ok(env)
    })
    .as_ref()
    .map_err(|message| RenderError {
        template: "digest",
        message: message.clone(),
    })
}

#[derive(Serialize)]
struct View {
    id: String,
    heading: String,
    period: String,
    sections: Vec<SectionView>,
}

#[derive(Serialize)]
struct SectionView {
    name: String,
    count: usize,
    entries: Vec<EntryView>,
    more: usize,
}

#[derive(Serialize)]
struct EntryView {
    title: String,
    url: Option<String>,
    source: String,
    time: String,
    terms: String,
}

/// Renders a digest in both formats.
pub fn render_digest(digest: &Digest) -> Result<Rendered, RenderError> {
    let env = environment()?;
    let view = view_of(digest);
    let render = |name: &'static str| {
        env.get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&view)))
            .map_err(|e| RenderError {
                template: name,
                message: e.to_string(),
            })
    };
    Ok(Rendered {
        subject: subject_of(digest),
        text: render(TEXT_TEMPLATE)?,
        html: render(HTML_TEMPLATE)?,
    })
}

fn subject_of(digest: &Digest) -> String {
    let date = digest
        .window_end
        .with_timezone(&digest.tz)
        .format("%Y-%m-%d");
    format!(
        "[veille] {}: {} — {date}",
        digest.name,
        count_label(digest.total_mentions)
    )
}

fn count_label(count: usize) -> String {
    if count == 1 {
        "1 mention".to_string()
    } else {
        format!("{count} mentions")
    }
}

fn view_of(digest: &Digest) -> View {
    let tz = digest.tz;
    let period = match digest.window_start {
        Some(start) => format!(
            "From {} to {}",
            local(start, tz),
            local(digest.window_end, tz)
        ),
        None => format!("Everything found up to {}", local(digest.window_end, tz)),
    };
    let sections = digest
        .sections
        .iter()
        .map(|section| SectionView {
            name: section.name.clone(),
            count: section.entries.len() + section.more,
            more: section.more,
            entries: section
                .entries
                .iter()
                .map(|entry| EntryView {
                    title: entry.title.clone(),
                    url: entry.url.clone().filter(|u| is_web_link(u)),
                    source: entry.source.to_string(),
                    time: local(entry.published.unwrap_or(entry.found_at), tz),
                    terms: entry.terms.join(", "),
                })
                .collect(),
        })
        .collect();
    View {
        id: digest.id.to_string(),
        heading: format!("{} — {}", digest.name, count_label(digest.total_mentions)),
        period,
        sections,
    }
}

fn local(time: DateTime<Utc>, tz: Tz) -> String {
    time.with_timezone(&tz)
        .format("%a %d %b %Y %H:%M")
        .to_string()
}

/// Only http(s) links are clickable in mail; anything else (`javascript:`, `data:`) is shown
/// as text at most.
fn is_web_link(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}
