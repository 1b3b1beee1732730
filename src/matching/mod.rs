//! Matching item text against every watch.
//!
//! The engine is handed watches (id + compiled [`Query`]) once and items many times. It knows
//! nothing of sources or storage: the caller decides which watches apply to which source.
//!
//! Design: every term of every watch becomes a byte pattern over the normalized token
//! stream (` acme corp ` for a phrase, ` nord` for a prefix; see [`normalize`]), and all
//! patterns go into one aho-corasick automaton (a second one holds `=Exact` terms, searched
//! over the exact form of the text). Identical terms across watches share one pattern. An
//! item is tokenized once per field, each automaton scans it once, and only the watches
//! that own a pattern that occurred have their boolean structure evaluated. So the cost of
//! an item is the scan (linear in the text, independent of the number of watches) plus the
//! work proportional to the hits, never a loop over all watches.
//!
//! Trade-off: the automaton reports overlapping matches (a text with `acme corp` hits both
//! ` acme ` and ` acme corp `), which needs the standard match semantics and rules out the
//! leftmost-first shortcuts; the patterns are framed by spaces so that no match ever needs
//! a word-boundary check afterwards.

pub mod normalize;
pub mod query;
pub mod snippet;

pub use query::{Node, Query, QueryError, Term};
pub use snippet::{Snippet, snippet};

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::model::{Field, TermHit, WatchId, WatchMatch};
use normalize::Tokens;

/// All watches, ready to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    watches: Vec<(WatchId, Query)>,
    folded: Automaton,
    exact: Automaton,
}

/// The text of an item, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub body: &'a str,
}

/// One automaton and, for each of its patterns, the watch terms it stands for.
#[derive(Debug, Clone, Default)]
struct Automaton {
    searcher: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// How many tokens the pattern covers.
    tokens: u32,
    users: Vec<Use>,
}

/// A term of a watch that a pattern stands for.
#[derive(Debug, Clone, Copy)]
struct Use {
    watch: u32,
    term: u32,
    field: Option<Field>,
}

/// A term found in a field, before the watch is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    watch: u32,
    term: u32,
    field: u8,
    position: u32,
    tokens: u32,
}

const FIELDS: [Field; 2] = [Field::Title, Field::Body];

fn field_index(field: Field) -> u8 {
    match field {
        Field::Title => 0,
        Field::Body => 1,
    }
}

/// Collects patterns, sharing identical ones.
#[derive(Default)]
struct PatternSet {
    index: HashMap<Vec<u8>, usize>,
    bytes: Vec<Vec<u8>>,
    patterns: Vec<Pattern>,
}

impl PatternSet {
    fn add(&mut self, term: &query::Term, user: Use) {
        let mut bytes = Vec::with_capacity(2 + term.tokens.iter().map(|t| t.len() + 1).sum::<usize>());
        for token in &term.tokens {
            bytes.push(b' ');
            bytes.extend_from_slice(token.as_bytes());
        }
        if !term.prefix {
            bytes.push(b' ');
        }
        let id = *self.index.entry(bytes.clone()).or_insert_with(|| {
            self.bytes.push(bytes);
            self.patterns.push(Pattern {
                tokens: term.tokens.len() as u32,
                users: Vec::new(),
            });
            self.patterns.len() - 1
        });
        self.patterns[id].users.push(user);
    }

    fn build(self) -> Automaton {
        if self.bytes.is_empty() {
            return Automaton::default();
        }
        // Standard semantics: every occurrence of every pattern, overlapping ones included.
        // Patterns come from validated queries and are short, so building cannot fail in
        // practice; if it ever did, the watches would not match and the log says why.
        let searcher = match AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&self.bytes)
        {
            Ok(searcher) => Some(searcher),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the matching automaton");
                None
            }
        };
        Automaton {
            searcher,
            patterns: self.patterns,
        }
    }
}

impl Matcher {
    pub fn new(watches: Vec<(WatchId, Query)>) -> Matcher {
        let mut folded = PatternSet::default();
        let mut exact = PatternSet::default();
        for (w, (_, query)) in watches.iter().enumerate() {
            for (t, term) in query.terms().iter().enumerate() {
                let user = Use {
                    watch: w as u32,
                    term: t as u32,
                    field: term.field,
                };
                if term.exact {
                    exact.add(term, user);
                } else {
                    folded.add(term, user);
                }
            }
        }
        Matcher {
            watches,
            folded: folded.build(),
            exact: exact.build(),
        }
    }

    /// Every watch that matches the text, in the order the watches were given, with the
    /// terms that hit (terms under a NOT are never reported).
    pub fn match_text(&self, text: ItemText<'_>) -> Vec<WatchMatch> {
        let keep_exact = self.exact.searcher.is_some();
        let fields = [
            Tokens::new(text.title, keep_exact),
            Tokens::new(text.body, keep_exact),
        ];
        let mut found = Vec::new();
        for (field, tokens) in FIELDS.iter().zip(&fields) {
            scan(&self.folded, *field, tokens, false, &mut found);
            if keep_exact {
                scan(&self.exact, *field, tokens, true, &mut found);
            }
        }
        if found.is_empty() {
            return Vec::new();
        }
        found.sort_unstable();
        found.dedup();

        let mut matches = Vec::new();
        for group in found.chunk_by(|a, b| a.watch == b.watch) {
            let Some((watch, query)) = self.watches.get(group[0].watch as usize) else {
                continue;
            };
            if !(Eval { found: group }).is_true(query.root()) {
                continue;
            }
            let mut hits: Vec<&Found> = group
                .iter()
                .filter(|f| {
                    query
                        .terms()
                        .get(f.term as usize)
                        .is_some_and(|t| !t.negated)
                })
                .collect();
            hits.sort_by_key(|f| (f.field, f.position, f.term));
            let hits = hits
                .into_iter()
                .filter_map(|f| {
                    let tokens = &fields[f.field as usize];
                    let first = tokens.spans.get(f.position as usize)?;
                    let last = tokens
                        .spans
                        .get((f.position + f.tokens).saturating_sub(1) as usize)?;
                    Some(TermHit {
                        term: query.terms().get(f.term as usize)?.display.clone(),
                        field: FIELDS[f.field as usize],
                        position: f.position as usize,
                        start: first.start as usize,
                        end: last.end as usize,
                    })
                })
                .collect();
            matches.push(WatchMatch {
                watch: watch.clone(),
                hits,
            });
        }
        matches
    }
}

/// Runs one automaton over one form of one field, recording what each pattern stands for.
fn scan(automaton: &Automaton, field: Field, tokens: &Tokens, exact: bool, out: &mut Vec<Found>) {
    let Some(searcher) = &automaton.searcher else {
        return;
    };
    let haystack = if exact { &tokens.exact } else { &tokens.folded };
    for m in searcher.find_overlapping_iter(haystack) {
        let Some(pattern) = automaton.patterns.get(m.pattern().as_usize()) else {
            continue;
        };
        // Every pattern starts with the space before its first token.
        let at = m.start() + 1;
        let position = if exact {
            tokens.at_exact(at)
        } else {
            tokens.at_folded(at)
        };
        let Some(position) = position else {
            continue;
        };
        for user in &pattern.users {
            if user.field.is_none_or(|f| f == field) {
                out.push(Found {
                    watch: user.watch,
                    term: user.term,
                    field: field_index(field),
                    position: position as u32,
                    tokens: pattern.tokens,
                });
            }
        }
    }
}

/// A query evaluated against the hits of one watch (sorted by term).
struct Eval<'a> {
    found: &'a [Found],
}

/// Where a sub-query holds: field and token range `[start, end)`.
type Span = (u8, u32, u32);

impl Eval<'_> {
    fn hits(&self, term: usize) -> &[Found] {
        let from = self.found.partition_point(|f| (f.term as usize) < term);
        let to = self.found.partition_point(|f| (f.term as usize) <= term);
        &self.found[from..to]
    }

    fn is_true(&self, node: &Node) -> bool {
        match node {
            Node::Term(t) => !self.hits(*t).is_empty(),
            Node::And(children) => children.iter().all(|c| self.is_true(c)),
            Node::Or(children) => children.iter().any(|c| self.is_true(c)),
            Node::Not(inner) => !self.is_true(inner),
            Node::Near { .. } => !self.spans(node).is_empty(),
        }
    }

    fn spans(&self, node: &Node) -> Vec<Span> {
        match node {
            Node::Term(t) => self
                .hits(*t)
                .iter()
                .map(|f| (f.field, f.position, f.position + f.tokens))
                .collect(),
            Node::And(children) => {
                if children.iter().all(|c| self.is_true(c)) {
                    children.iter().flat_map(|c| self.spans(c)).collect()
                } else {
                    Vec::new()
                }
            }
            Node::Or(children) => children.iter().flat_map(|c| self.spans(c)).collect(),
            Node::Not(_) => Vec::new(),
            Node::Near {
                left,
                right,
                distance,
            } => {
                let left = self.spans(left);
                let right = self.spans(right);
                let mut near = Vec::new();
                for a in &left {
                    for b in &right {
                        if a.0 != b.0 {
                            continue;
                        }
                        let (first, second) = if a.1 <= b.1 { (a, b) } else { (b, a) };
                        // Two distinct places, with at most `distance` tokens between them.
                        if second.1 >= first.2 && second.1 - first.2 <= *distance {
                            near.push((a.0, first.1, first.2.max(second.2)));
                        }
                    }
                }
                near
            }
        }
    }
}

#[cfg(test)]
mod tests;
