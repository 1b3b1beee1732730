//! Matching item text against every watch.
//!
//! The engine is handed watches (id + compiled [`Query`]) once and items many times. It knows
//! nothing of sources or storage: the caller decides which watches apply to which source.
//! This first engine tokenizes each item once and looks for every term's token sequence;
//! its cost grows with the number of watches, which the automaton-based engine removes
//! without changing this interface.

pub mod normalize;
pub mod query;

pub use query::{Query, QueryError};

use crate::model::{Field, TermHit, WatchId, WatchMatch};

/// All watches, ready to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    watches: Vec<(WatchId, Query)>,
}

/// The text of an item, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub body: &'a str,
}

impl Matcher {
    pub fn new(watches: Vec<(WatchId, Query)>) -> Matcher {
        Matcher { watches }
    }

    /// Every watch that matches the text, with the terms that hit.
    pub fn match_text(&self, text: ItemText<'_>) -> Vec<WatchMatch> {
        let fields = [
            (Field::Title, normalize::tokens(text.title)),
            (Field::Body, normalize::tokens(text.body)),
        ];
        let mut matches = Vec::new();
        for (watch, query) in &self.watches {
            let mut hits = Vec::new();
            for term in query.terms() {
                for (field, tokens) in &fields {
                    for position in find_sequence(tokens, &term.tokens) {
                        hits.push(TermHit {
                            term: term.display.clone(),
                            field: *field,
                            position,
                        });
                    }
                }
            }
            if !hits.is_empty() {
                matches.push(WatchMatch {
                    watch: watch.clone(),
                    hits,
                });
            }
        }
        matches
    }
}

/// Start positions of `needle` as consecutive tokens in `haystack`.
fn find_sequence(haystack: &[String], needle: &[String]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return Vec::new();
    }
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(position, _)| position)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(watches: &[(&str, &str)]) -> Matcher {
        Matcher::new(
            watches
                .iter()
                .map(|(id, q)| {
                    let query = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
                    (WatchId::new(*id), query)
                })
                .collect(),
        )
    }

    fn matched(m: &Matcher, title: &str, body: &str) -> Vec<String> {
        m.match_text(ItemText { title, body })
            .into_iter()
            .map(|w| w.watch.to_string())
            .collect()
    }

    #[test]
    fn matches_like_a_reader() {
        let m = matcher(&[
            ("acme", "acme \"acme corp\""),
            ("edf", "\"électricité de france\""),
            ("alcatel", "Alcatel-Lucent"),
        ]);
        let cases: &[(&str, &str, &[&str])] = &[
            ("ACME rachète un concurrent", "", &["acme"]),
            ("", "L’action d’Acme recule", &["acme"]),
            ("Electricite de France investit", "", &["edf"]),
            ("", "ÉLECTRICITÉ DE FRANCE", &["edf"]),
            ("Alcatel Lucent", "", &["alcatel"]),
            ("alcatel-lucent and acme", "", &["acme", "alcatel"]),
            ("Acmeville fête ses 100 ans", "", &[]),
            ("France: électricité de retour", "", &[]),
        ];
        for (title, body, expected) in cases {
            assert_eq!(
                matched(&m, title, body),
                *expected,
                "title {title:?} body {body:?}"
            );
        }
    }

    #[test]
    fn reports_field_and_position() {
        let m = matcher(&[("acme", "\"acme corp\"")]);
        let found = m.match_text(ItemText {
            title: "News: Acme Corp",
            body: "we met acme corp today",
        });
        assert_eq!(found.len(), 1);
        let hits: Vec<(Field, usize)> = found[0]
            .hits
            .iter()
            .map(|h| (h.field, h.position))
            .collect();
        assert_eq!(hits, vec![(Field::Title, 1), (Field::Body, 2)]);
    }
}
