//! Snippets: a short window of an item's text around its best hit, hits marked.
//!
//! [`snippet`] is pure: it takes the field text exactly as it was matched (`Item::text` or
//! `Item::title`) and the [`TermHit`]s of that field (their byte ranges point into it), and
//! returns a [`Snippet`] that renders as HTML ([`Snippet::to_html`], escaped, hits in
//! `<mark>`) or as terminal text ([`Snippet::to_text`], hits in `[…]`).
//!
//! The window is centred on the densest cluster of hits: among all runs of hits that fit in
//! `max_chars`, the one with the most distinct terms wins (the earliest on a tie), because a
//! reader judges relevance best where several of the watch's words meet. The window is then
//! widened evenly on both sides, cut at spaces so no word is chopped, and whitespace runs
//! (newlines, tabs) collapse to one space. `…` marks each side that was cut.
//! Trade-off: sizes are counted in characters, not display width; a CJK text may render
//! wider than `max_chars` columns.

use std::collections::HashSet;

use crate::model::TermHit;

/// A piece of a snippet: plain text or a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnippetPart {
    pub text: String,
    pub hit: bool,
}

/// A window of text with its hits marked. Parts include the `…` of a cut side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    pub parts: Vec<SnippetPart>,
}

impl Snippet {
    /// HTML-escaped text, hits wrapped in `<mark>`.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            if part.hit {
                out.push_str("<mark>");
                escape_html(&part.text, &mut out);
                out.push_str("</mark>");
            } else {
                escape_html(&part.text, &mut out);
            }
        }
        out
    }

    /// Plain text with hits in square brackets, for terminals and text mail.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            if part.hit {
                out.push('[');
                out.push_str(&part.text);
                out.push(']');
            } else {
                out.push_str(&part.text);
            }
        }
        out
    }

    /// The text without marks.
    pub fn plain(&self) -> String {
        self.parts.iter().map(|p| p.text.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A window of at most about `max_chars` characters of `text` around its best hit.
/// `hits` should be the hits of this field; hits whose range does not fit `text` are ignored.
/// With no usable hit, the snippet is the start of the text.
pub fn snippet(text: &str, hits: &[TermHit], max_chars: usize) -> Snippet {
    let mut ranges: Vec<(usize, usize, &str)> = hits
        .iter()
        .filter(|h| {
            h.start < h.end
                && h.end <= text.len()
                && text.is_char_boundary(h.start)
                && text.is_char_boundary(h.end)
        })
        .map(|h| (h.start, h.end, &*h.term))
        .collect();
    ranges.sort_unstable();

    let (core_start, core_end) = best_cluster(text, &ranges, max_chars);
    let (mut start, mut end) = widen(text, core_start, core_end, max_chars);
    if start > 0 {
        start = cut_forward(text, start, core_start);
    }
    if end < text.len() {
        end = cut_backward(text, end, core_end);
    }

    let mut parts = Vec::new();
    let mut at = start;
    for &(hit_start, hit_end, _) in &ranges {
        if hit_end <= at || hit_start >= end {
            continue;
        }
        let hit_start = hit_start.max(at);
        let hit_end = hit_end.min(end);
        push(&mut parts, &text[at..hit_start], false);
        push(&mut parts, &text[hit_start..hit_end], true);
        at = hit_end;
    }
    push(&mut parts, &text[at..end], false);
    trim_edges(&mut parts);
    if !text[..start].trim().is_empty() {
        parts.insert(
            0,
            SnippetPart {
                text: "… ".to_string(),
                hit: false,
            },
        );
    }
    if !text[end..].trim().is_empty() {
        parts.push(SnippetPart {
            text: " …".to_string(),
            hit: false,
        });
    }
    Snippet { parts }
}

/// The byte range from the first to the last hit of the best cluster that fits.
fn best_cluster(text: &str, ranges: &[(usize, usize, &str)], max_chars: usize) -> (usize, usize) {
    let Some(first) = ranges.first() else {
        return (0, 0);
    };
    let mut best = (0usize, first.0, first.1);
    for i in 0..ranges.len() {
        let mut terms: HashSet<&str> = HashSet::new();
        let mut end = ranges[i].1;
        for range in &ranges[i..] {
            let candidate_end = end.max(range.1);
            if text[ranges[i].0..candidate_end].chars().count() > max_chars && !terms.is_empty() {
                break;
            }
            terms.insert(range.2);
            end = candidate_end;
        }
        if terms.len() > best.0 {
            best = (terms.len(), ranges[i].0, end);
        }
    }
    (best.1, best.2)
}

/// Widens `start..end` evenly to about `max_chars` characters, within the text.
fn widen(text: &str, start: usize, end: usize, max_chars: usize) -> (usize, usize) {
    let core = text[start..end].chars().count();
    let spare = max_chars.saturating_sub(core);
    let before = text[..start].chars().count();
    let after = text[end..].chars().count();
    let mut left = spare / 2;
    let mut right = spare - left;
    if before < left {
        right += left - before;
        left = before;
    }
    if after < right {
        left = (left + right - after).min(before);
        right = after;
    }
    let new_start = text[..start]
        .char_indices()
        .rev()
        .nth(left.saturating_sub(1))
        .map_or(start, |(i, _)| if left == 0 { start } else { i });
    let new_end = text[end..]
        .char_indices()
        .nth(right)
        .map_or(text.len(), |(i, _)| end + i);
    (new_start, new_end)
}

/// Moves a cut start to just after the next space, unless that would pass `limit`.
fn cut_forward(text: &str, start: usize, limit: usize) -> usize {
    if text[..start].ends_with(char::is_whitespace) {
        return start;
    }
    match text[start..limit].find(char::is_whitespace) {
        Some(space) => start + space,
        None => start,
    }
}

/// Moves a cut end back to the last space before it, unless that would pass `limit`.
fn cut_backward(text: &str, end: usize, limit: usize) -> usize {
    if text[end..].starts_with(char::is_whitespace) {
        return end;
    }
    match text[limit..end].rfind(char::is_whitespace) {
        Some(space) => limit + space,
        None => end,
    }
}

/// Appends `text` with whitespace runs collapsed to one space.
fn push(parts: &mut Vec<SnippetPart>, text: &str, hit: bool) {
    if text.is_empty() {
        return;
    }
    let mut collapsed = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space {
                collapsed.push(' ');
                space = false;
            }
            collapsed.push(c);
        }
    }
    if space {
        collapsed.push(' ');
    }
    if let Some(last) = parts.last_mut()
        && last.hit == hit
    {
        last.text.push_str(&collapsed);
        return;
    }
    parts.push(SnippetPart {
        text: collapsed,
        hit,
    });
}

/// Drops the whitespace at both ends of the window.
fn trim_edges(parts: &mut Vec<SnippetPart>) {
    if let Some(part) = parts.first_mut() {
        part.text = part.text.trim_start().to_string();
    }
    if let Some(part) = parts.last_mut() {
        part.text = part.text.trim_end().to_string();
    }
    parts.retain(|p| !p.text.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn hit(text: &str, word: &str, nth: usize) -> TermHit {
        let start = text
            .match_indices(word)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("{word:?} not in {text:?}"));
        TermHit {
            term: word.to_lowercase().into(),
            field: Field::Body,
            position: 0,
            start,
            end: start + word.len(),
        }
    }

    #[test]
    fn windows_around_hits() {
        let long = "Le conseil municipal a voté hier soir. Après trois heures de débat, \
                    la société Nordvent Énergie obtient le permis pour ses éoliennes au large \
                    de Fécamp, malgré l'opposition des pêcheurs. La suite au prochain numéro.";
        let cases: Vec<(&str, Vec<TermHit>, usize, &str)> = vec![
            (
                "Acme rachète Nordvent",
                vec![hit("Acme rachète Nordvent", "Nordvent", 0)],
                80,
                "Acme rachète [Nordvent]",
            ),
            (
                long,
                vec![hit(long, "Nordvent", 0), hit(long, "éoliennes", 0)],
                60,
                "… [Nordvent] Énergie obtient le permis pour ses [éoliennes] au …",
            ),
            (
                long,
                vec![hit(long, "Fécamp", 0)],
                30,
                "… au large de [Fécamp], malgré …",
            ),
            (long, vec![], 30, "Le conseil municipal a voté …"),
            (
                "a  \n\n b Acme\tc",
                vec![hit("a  \n\n b Acme\tc", "Acme", 0)],
                80,
                "a b [Acme] c",
            ),
            (
                "short",
                vec![TermHit {
                    term: "x".into(),
                    field: Field::Body,
                    position: 0,
                    start: 3,
                    end: 99,
                }],
                80,
                "short",
            ),
        ];
        for (text, hits, max, expected) in cases {
            assert_eq!(
                snippet(text, &hits, max).to_text(),
                expected,
                "{text:?} / {max}"
            );
        }
    }

    #[test]
    fn prefers_the_cluster_with_most_distinct_terms() {
        let text = "acme here. filler filler filler filler filler filler filler filler filler \
                    filler. acme and corp together. filler filler filler filler filler filler.";
        let hits = vec![
            hit(text, "acme", 0),
            hit(text, "acme", 1),
            hit(text, "corp", 0),
        ];
        let s = snippet(text, &hits, 40).to_text();
        assert!(s.contains("[acme] and [corp]"), "{s}");
    }

    #[test]
    fn html_is_escaped_and_marked() {
        let text = "<script>x</script> & Acme \"Corp\"";
        let hits = vec![hit(text, "Acme", 0)];
        assert_eq!(
            snippet(text, &hits, 200).to_html(),
            "&lt;script&gt;x&lt;/script&gt; &amp; <mark>Acme</mark> &quot;Corp&quot;"
        );
    }
}
