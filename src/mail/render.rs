//! Digest → subject, plain text and HTML.
//!
//! Templates live in `templates/` and are compiled into the binary. The HTML template is
//! auto-escaped by minijinja, so every piece of feed-supplied text is escaped whatever the
//! template does with it; links are only emitted for http(s) URLs, never `javascript:`.
//!
//! Labels and dates follow the digest's language (`en` or `fr`). The HTML part is kept under
//! [`MAX_HTML_BYTES`] because Gmail clips messages above about 102 KB and hides the rest
//! behind a link nobody clicks: when a digest would be larger, fewer stories are shown per
//! watch and both parts say how many were left out. The text part follows the same cut so
//! both parts tell the same story.

use std::sync::OnceLock;

use chrono::{DateTime, Locale, Utc};
use chrono_tz::Tz;
use minijinja::{AutoEscape, Environment, Error, Output, State, Value};
use serde::Serialize;

use crate::digest::{Digest, Trouble};
use crate::model::Lang;
use crate::score::reasons_line;

/// Dates in subjects, and dates with times in the body.
const DATE: &str = "%a %-d %b %Y";
const DATE_TIME: &str = "%a %-d %b %Y %H:%M";

/// Outlets named in "also in N outlets: …"; the rest are counted.
pub(crate) const OUTLETS_NAMED: usize = 4;

/// Largest HTML part we send (Gmail clips at about 102 KB).
pub const MAX_HTML_BYTES: usize = 100_000;

/// A rendered mail body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stories left out to keep the HTML under [`MAX_HTML_BYTES`] (0 when nothing was cut).
    pub cut_for_size: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the {template} template: {message}")]
pub struct RenderError {
    pub template: &'static str,
    pub message: String,
}

const TEXT_TEMPLATE: &str = "digest.txt";
const HTML_TEMPLATE: &str = "digest.html";

/// An empty template environment with the block syntax every veille template is written
/// for (a `{% tag %}` line leaves no blank line or indent behind): mail and web pages alike.
pub(crate) fn template_environment() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| e.to_string())?;
    env.set_syntax(syntax);
    Ok(env)
}

/// The template environment of every mail (digests and alerts), built once.
fn environment() -> Result<&'static Environment<'static>, RenderError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = template_environment()?;
        env.set_formatter(compact_html_formatter);
        env.add_template(TEXT_TEMPLATE, include_str!("templates/digest.txt"))
            .map_err(|e| e.to_string())?;
        env.add_template(HTML_TEMPLATE, include_str!("templates/digest.html"))
            .map_err(|e| e.to_string())?;
        env.add_template(
            super::alert::TEXT_TEMPLATE,
            include_str!("templates/alert.txt"),
        )
        .map_err(|e| e.to_string())?;
        env.add_template(
            super::alert::HTML_TEMPLATE,
            include_str!("templates/alert.html"),
        )
        .map_err(|e| e.to_string())?;
        Ok(env)
    })
    .as_ref()
    .map_err(|message| RenderError {
        template: "mail",
        message: message.clone(),
    })
}

/// minijinja's HTML escaping also escapes `/`, which is safe but makes every URL longer and
/// eats into the size budget. Escaping `& < > " '` is what HTML needs in text and in quoted
/// attributes; everything else goes through the default formatter.
fn compact_html_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if matches!(state.auto_escape(), AutoEscape::Html)
        && !value.is_safe()
        && let Some(text) = value.as_str()
    {
        let escaped = escape_html(text);
        return out
            .write_str(&escaped)
            .map_err(|e| Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()));
    }
    minijinja::escape_formatter(out, state, value)
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Everything a template shows, already in the reader's language.
#[derive(Serialize)]
struct View {
    lang: &'static str,
    id: String,
    heading: String,
    summary: String,
    period: String,
    sections: Vec<SectionView>,
    nothing_new: Option<&'static str>,
    cut_note: Option<String>,
    trouble_heading: &'static str,
    trouble: Vec<TroubleView>,
    judge_hint: String,
    footer: String,
}

#[derive(Serialize)]
struct SectionView {
    name: String,
    count: String,
    trend: Option<String>,
    stories: Vec<StoryView>,
    more: Option<String>,
}

#[derive(Serialize)]
struct StoryView {
    title: String,
    url: Option<String>,
    meta: String,
    also_in: Option<String>,
    terms: Option<String>,
    /// Why the story scored so, in one short line.
    reasons: Option<String>,
    judge: String,
    links: Vec<LinkView>,
    /// Plain text, hits in \[brackets\].
    snippet_text: Option<String>,
    /// Already escaped, hits in `<mark>`: emitted as is.
    snippet_html: Option<String>,
}

/// A judgment link in a mail: "Relevant" → its URL.
#[derive(Serialize)]
pub(crate) struct LinkView {
    label: &'static str,
    /// The label and its colon, for the text part ("Pertinent :", "Relevant:").
    lead: String,
    url: String,
}

#[derive(Serialize)]
struct TroubleView {
    source: String,
    status: String,
}

/// Renders a digest in both formats, shortening it when the HTML would be too large.
pub fn render_digest(digest: &Digest) -> Result<Rendered, RenderError> {
    let rendered = render_once(digest, 0)?;
    if rendered.html.len() <= MAX_HTML_BYTES {
        return Ok(rendered);
    }
    let mut rendered = rendered;
    let full = digest.shown();
    let mut shown = full;
    // Only a digest over the limit is copied, to be cut down.
    let mut digest = digest.clone();
    // Each pass keeps a proportionally smaller number of stories per watch; the sizes are
    // close to linear in the number of stories, so this converges in two or three passes.
    while rendered.html.len() > MAX_HTML_BYTES && shown > 0 {
        let ratio = MAX_HTML_BYTES as f64 / rendered.html.len() as f64 * 0.9;
        let largest = digest
            .sections
            .iter()
            .map(|s| s.stories.len())
            .max()
            .unwrap_or(0);
        let cap = ((largest as f64 * ratio) as usize).min(largest.saturating_sub(1));
        digest.cap_sections(cap);
        shown = digest.shown();
        rendered = render_once(&digest, full - shown)?;
    }
    Ok(rendered)
}

fn render_once(digest: &Digest, cut_for_size: usize) -> Result<Rendered, RenderError> {
    let (text, html) = render_both(TEXT_TEMPLATE, HTML_TEMPLATE, &view_of(digest, cut_for_size))?;
    Ok(Rendered {
        subject: subject_of(digest),
        text,
        html,
        cut_for_size,
    })
}

/// Renders one view with a mail's text and HTML templates.
pub(crate) fn render_both(
    text: &'static str,
    html: &'static str,
    view: &impl Serialize,
) -> Result<(String, String), RenderError> {
    let env = environment()?;
    let render = |name: &'static str| {
        env.get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(view)))
            .map_err(|e| RenderError {
                template: name,
                message: e.to_string(),
            })
    };
    Ok((render(text)?, render(html)?))
}

/// The words of a digest, per language.
pub(crate) struct Labels {
    pub(crate) lang: Lang,
}

impl Labels {
    pub(crate) fn locale(&self) -> Locale {
        match self.lang {
            Lang::En => Locale::en_GB,
            Lang::Fr => Locale::fr_FR,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self.lang {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub(crate) fn count(&self, n: usize, en: (&str, &str), fr: (&str, &str)) -> String {
        let (one, many) = match self.lang {
            Lang::En => en,
            Lang::Fr => fr,
        };
        // French uses the singular for 0 and 1, English only for 1.
        let singular = match self.lang {
            Lang::En => n == 1,
            Lang::Fr => n <= 1,
        };
        format!("{n} {}", if singular { one } else { many })
    }

    fn stories(&self, n: usize) -> String {
        self.count(n, ("story", "stories"), ("sujet", "sujets"))
    }

    pub(crate) fn mentions(&self, n: usize) -> String {
        self.count(n, ("mention", "mentions"), ("mention", "mentions"))
    }

    fn sources(&self, n: usize) -> String {
        self.count(n, ("source", "sources"), ("source", "sources"))
    }

    fn period(&self, start: Option<String>, end: String) -> String {
        match (self.lang, start) {
            (Lang::En, Some(start)) => format!("From {start} to {end}"),
            (Lang::Fr, Some(start)) => format!("Du {start} au {end}"),
            (Lang::En, None) => format!("Everything found up to {end}"),
            (Lang::Fr, None) => format!("Tout ce qui a été trouvé jusqu’au {end}"),
        }
    }

    /// "shared 3 times": copies, boosts and quotes of one post.
    pub(crate) fn shared(&self, copies: usize) -> String {
        match self.lang {
            Lang::En => format!("shared {copies} times"),
            Lang::Fr => format!("partagé {copies} fois"),
        }
    }

    /// "also in 3 outlets: a.example, b.example, c.example" (at most [`OUTLETS_NAMED`]
    /// names).
    pub(crate) fn also_in(&self, others: &[String]) -> String {
        let n = others.len();
        let count = match self.lang {
            Lang::En => format!("also in {}", self.count(n, ("outlet", "outlets"), ("", ""))),
            Lang::Fr => format!(
                "repris par {}",
                self.count(n, ("", ""), ("autre média", "autres médias"))
            ),
        };
        let mut names = others
            .iter()
            .take(OUTLETS_NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if n > OUTLETS_NAMED {
            names.push_str(", …");
        }
        let colon = if self.lang == Lang::Fr { " :" } else { ":" };
        format!("{count}{colon} {names}")
    }

    pub(crate) fn more(&self, n: usize) -> String {
        match self.lang {
            Lang::En => format!("… and {n} more in veille"),
            Lang::Fr => format!("… et {n} de plus dans veille"),
        }
    }

    fn trend(&self, now: usize, previous: usize) -> String {
        let arrow = match now.cmp(&previous) {
            std::cmp::Ordering::Greater => "↑",
            std::cmp::Ordering::Less => "↓",
            std::cmp::Ordering::Equal => "=",
        };
        match self.lang {
            Lang::En => format!(
                "{arrow} {} (previous digest: {previous})",
                self.mentions(now)
            ),
            Lang::Fr => format!(
                "{arrow} {} (digest précédent : {previous})",
                self.mentions(now)
            ),
        }
    }

    fn nothing_new(&self) -> &'static str {
        match self.lang {
            Lang::En => "Nothing new in this period.",
            Lang::Fr => "Rien de nouveau sur cette période.",
        }
    }

    fn cut_note(&self, n: usize) -> String {
        match self.lang {
            Lang::En => format!(
                "This digest was shortened to stay under mail size limits. \
                 Left out here, and waiting in veille: {}.",
                self.stories(n)
            ),
            Lang::Fr => format!(
                "Ce digest a été raccourci pour rester sous la taille limite des mails. \
                 Laissés de côté ici, et disponibles dans veille : {}.",
                self.stories(n)
            ),
        }
    }

    fn trouble_heading(&self) -> &'static str {
        match self.lang {
            Lang::En => "Sources in trouble",
            Lang::Fr => "Sources en difficulté",
        }
    }

    fn trouble(&self, trouble: &Trouble, tz: Tz) -> String {
        let day = |t: DateTime<Utc>| {
            t.with_timezone(&tz)
                .format_localized("%-d %b %H:%M", self.locale())
                .to_string()
        };
        match (self.lang, trouble) {
            (
                Lang::En,
                Trouble::Failing {
                    since,
                    failures,
                    last_error,
                },
            ) => format!(
                "failing since {} ({failures} polls in a row): {last_error}",
                day(*since)
            ),
            (
                Lang::Fr,
                Trouble::Failing {
                    since,
                    failures,
                    last_error,
                },
            ) => format!(
                "en échec depuis le {} ({failures} relevés de suite) : {last_error}",
                day(*since)
            ),
            (Lang::En, Trouble::Gone { since }) => format!(
                "gone since {} (the server answers 410): no longer polled; fix or remove it in the configuration",
                day(*since)
            ),
            (Lang::Fr, Trouble::Gone { since }) => format!(
                "disparue depuis le {} (le serveur répond 410) : plus relevée ; corrigez-la ou retirez-la de la configuration",
                day(*since)
            ),
            (Lang::En, Trouble::Redirected { to }) => {
                format!("moved permanently to {to}: update its url in the configuration")
            }
            (Lang::Fr, Trouble::Redirected { to }) => {
                format!(
                    "déplacée définitivement vers {to} : mettez à jour son url dans la configuration"
                )
            }
            (
                Lang::En,
                Trouble::Recovered {
                    failing_since,
                    failures,
                },
            ) => format!(
                "back to normal (had failed {failures} times since {})",
                day(*failing_since)
            ),
            (
                Lang::Fr,
                Trouble::Recovered {
                    failing_since,
                    failures,
                },
            ) => format!(
                "rétablie (en échec {failures} fois depuis le {})",
                day(*failing_since)
            ),
        }
    }

    pub(crate) fn judge(&self, mention: i64) -> String {
        match self.lang {
            Lang::En => format!("ID {mention}"),
            Lang::Fr => format!("réf. {mention}"),
        }
    }

    /// The judgment links as the templates show them: the verdict in words, and the URL.
    pub(crate) fn links(&self, links: &[crate::model::JudgeLink]) -> Vec<LinkView> {
        links
            .iter()
            .map(|link| {
                let label = link.verdict.label(self.lang);
                LinkView {
                    label,
                    lead: match self.lang {
                        Lang::En => format!("{label}:"),
                        Lang::Fr => format!("{label} :"),
                    },
                    url: link.url.clone(),
                }
            })
            .collect()
    }

    fn judge_hint(&self, with_links: bool) -> String {
        if with_links {
            return match self.lang {
                Lang::En => "Judge a story with its links (relevant, irrelevant, crisis): a page \
                             asks you to confirm. veille learns from your verdicts."
                    .to_string(),
                Lang::Fr => "Jugez un sujet avec ses liens (pertinent, hors sujet, crise) : une \
                             page vous demande de confirmer. veille apprend de vos avis."
                    .to_string(),
            };
        }
        match self.lang {
            Lang::En => "Each story carries an ID: quote it to the veille admin to judge it \
                         (relevant, irrelevant, crisis)."
                .to_string(),
            Lang::Fr => "Chaque sujet porte une référence : citez-la à l’administrateur de veille \
                         pour le juger (pertinent, hors sujet, crise)."
                .to_string(),
        }
    }

    fn footer(&self, id: &str) -> String {
        format!("veille · digest “{id}”")
    }

    /// A local date and time, with day and month names in the digest's language (the same
    /// pattern reads well in both: "Fri 27 Nov 2026 08:05", "ven. 27 nov. 2026 08:05").
    pub(crate) fn local(&self, time: DateTime<Utc>, tz: Tz) -> String {
        time.with_timezone(&tz)
            .format_localized(DATE_TIME, self.locale())
            .to_string()
    }
}

fn subject_of(digest: &Digest) -> String {
    let labels = Labels { lang: digest.lang };
    let date = digest
        .window_end
        .with_timezone(&digest.tz)
        .format_localized(DATE, labels.locale());
    let separator = match digest.lang {
        Lang::En => ":",
        Lang::Fr => " :",
    };
    let what = if digest.has_no_mentions() {
        labels.nothing_new().trim_end_matches('.').to_string()
    } else {
        labels.stories(digest.totals.stories)
    };
    format!("[veille] {}{separator} {what} — {date}", digest.name)
}

fn view_of(digest: &Digest, cut_for_size: usize) -> View {
    let labels = Labels { lang: digest.lang };
    let tz = digest.tz;
    let period = labels.period(
        digest.window_start.map(|t| labels.local(t, tz)),
        labels.local(digest.window_end, tz),
    );
    let totals = digest.totals;
    let summary = format!(
        "{} · {} · {}",
        labels.stories(totals.stories),
        labels.mentions(totals.mentions),
        labels.sources(totals.sources)
    );
    let sections = digest
        .sections
        .iter()
        .map(|section| SectionView {
            name: section.name.clone(),
            count: labels.stories(section.stories.len() + section.more),
            trend: section.previous.map(|p| labels.trend(section.mentions, p)),
            more: (section.more > 0).then(|| labels.more(section.more)),
            stories: section
                .stories
                .iter()
                .map(|story| StoryView {
                    title: story.title.clone(),
                    url: story.url.clone().filter(|u| is_web_link(u)),
                    meta: format!(
                        "{}{} · {}{}",
                        story
                            .author
                            .as_deref()
                            .map(|a| format!("{a} · "))
                            .unwrap_or_default(),
                        story
                            .sources
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        labels.local(story.time, tz),
                        // More copies than outlets: boosts, reposts and quotes of one post.
                        if story.copies > story.outlets.len().max(1) {
                            format!(" · {}", labels.shared(story.copies))
                        } else {
                            String::new()
                        },
                    ),
                    also_in: {
                        let others: Vec<String> = story
                            .outlets
                            .iter()
                            .filter(|o| story.shown_outlet.as_ref() != Some(*o))
                            .cloned()
                            .collect();
                        (!others.is_empty()).then(|| labels.also_in(&others))
                    },
                    terms: (!story.terms.is_empty()).then(|| story.terms.join(", ")),
                    reasons: (!story.reasons.is_empty())
                        .then(|| reasons_line(&story.reasons, digest.lang)),
                    judge: labels.judge(story.mention.0),
                    links: labels.links(&story.links),
                    snippet_text: story.snippet.as_ref().map(|s| s.to_text()),
                    snippet_html: story.snippet.as_ref().map(|s| s.to_html()),
                })
                .collect(),
        })
        .collect();
    View {
        lang: labels.code(),
        id: digest.id.to_string(),
        heading: digest.name.clone(),
        summary,
        period,
        sections,
        nothing_new: digest.has_no_mentions().then(|| labels.nothing_new()),
        cut_note: (cut_for_size > 0).then(|| labels.cut_note(cut_for_size)),
        trouble_heading: labels.trouble_heading(),
        trouble: digest
            .trouble
            .iter()
            .map(|t| TroubleView {
                source: t.source.to_string(),
                status: labels.trouble(&t.trouble, tz),
            })
            .collect(),
        judge_hint: labels.judge_hint(
            digest
                .sections
                .iter()
                .any(|s| s.stories.iter().any(|story| !story.links.is_empty())),
        ),
        footer: labels.footer(digest.id.as_str()),
    }
}

/// Only http(s) links are clickable in mail; anything else (`javascript:`, `data:`) is shown
/// as text at most.
pub(crate) fn is_web_link(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape_html(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape_html("https://a.example/x"), "https://a.example/x");
    }

    #[test]
    fn french_counts_use_the_singular_for_zero_and_one() {
        let fr = Labels { lang: Lang::Fr };
        let en = Labels { lang: Lang::En };
        assert_eq!(fr.stories(0), "0 sujet");
        assert_eq!(fr.stories(2), "2 sujets");
        assert_eq!(en.stories(0), "0 stories");
        assert_eq!(en.stories(1), "1 story");
        let outlets = |n: usize| (0..n).map(|i| format!("o{i}.example")).collect::<Vec<_>>();
        assert_eq!(en.also_in(&outlets(1)), "also in 1 outlet: o0.example");
        assert_eq!(
            fr.also_in(&outlets(5)),
            "repris par 5 autres médias : o0.example, o1.example, o2.example, o3.example, …"
        );
    }

    #[test]
    fn dates_follow_the_language() {
        let time = DateTime::parse_from_rfc3339("2026-11-27T07:05:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let tz: Tz = chrono_tz::Europe::Paris;
        assert_eq!(
            Labels { lang: Lang::En }.local(time, tz),
            "Fri 27 Nov 2026 08:05"
        );
        assert_eq!(
            Labels { lang: Lang::Fr }.local(time, tz),
            "ven. 27 nov. 2026 08:05"
        );
    }
}
