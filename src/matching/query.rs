//! Watch queries: what an admin writes in `query = "..."`.
//!
//! The language (the README's "Writing queries" has the admin's view):
//!
//! ```text
//! query  := or
//! or     := and ("OR" and)*
//! and    := unary (["AND"] unary)*          -- juxtaposition is AND
//! unary  := "NOT" unary | "-" unary | near
//! near   := atom ("NEAR/" N atom)*
//! atom   := "(" query ")" | [field ":"] term   -- a field may also prefix a "(" group
//! field  := "title" | "body"
//! term   := word | word "*" | '"' phrase '"' | "=" word | "=" '"' phrase '"'
//! ```
//!
//! A hand-written lexer and recursive-descent parser, because every error must name the
//! column (in characters, 1-based) where the admin should look: unbalanced parentheses,
//! unterminated quotes, operators with nothing on one side, `NEAR/` without a number, empty
//! queries, and queries made only of exclusions (they would match almost every item, and the
//! engine only looks at watches that have at least one term in the text).
//!
//! Operators are upper case (`and` is a word). A `-` means NOT only at the start of a term;
//! inside a word it is a hyphen, and a word is cut into tokens the same way as text, so
//! `Alcatel-Lucent` is the phrase "alcatel lucent". Curly (`“…”`) and French (`«…»`)
//! quotes delimit phrases too, since admins paste queries from documents.

use std::fmt;

use super::normalize;
use crate::model::Field;

/// A parsed query the engine can run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    source: String,
    root: Node,
    terms: Vec<Term>,
}

/// One term of a query: a sequence of tokens that must follow each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The term as the admin wrote it (without quotes), for reports.
    pub display: String,
    /// Normalized tokens, or the tokens as written for an exact term.
    pub tokens: Vec<String>,
    /// `=Term`: compared with the text's case and accents kept.
    pub exact: bool,
    /// `word*`: the last token is a prefix.
    pub prefix: bool,
    /// `title:` / `body:`; `None` looks in both.
    pub field: Option<Field>,
    /// Under a NOT: its hits exclude, they are not reported.
    pub negated: bool,
}

/// The boolean structure of a query; leaves index [`Query::terms`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Term(usize),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// At most `distance` other tokens between a hit of `left` and a hit of `right`, in
    /// either order, in the same field.
    Near {
        left: Box<Node>,
        right: Box<Node>,
        distance: u32,
    },
}

/// Why a query was rejected, with the 1-based column (in characters) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

fn error<T>(column: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        column,
        message: message.into(),
    })
}

impl Query {
    pub fn parse(source: &str) -> Result<Query, QueryError> {
        let lexed = lex(source)?;
        if lexed.is_empty() {
            return error(
                1,
                "empty query: write at least one word or \"phrase\" to look for",
            );
        }
        let end_column = source.chars().count() + 1;
        let mut parser = Parser {
            tokens: &lexed,
            pos: 0,
            depth: 0,
            terms: Vec::new(),
            field: None,
            end_column,
        };
        let root = parser.or()?;
        if let Some(extra) = parser.peek() {
            return match extra.tok {
                Tok::RParen => error(
                    extra.column,
                    "unbalanced parenthesis: this ) has no matching (",
                ),
                _ => error(extra.column, "unexpected text here"),
            };
        }
        let mut terms = parser.terms;
        mark_negated(&root, false, &mut terms);
        if !needs_a_hit(&root) {
            return error(
                1,
                "this query only excludes: it would match every item without those words; \
                 add a term that must appear, e.g. `acme -recrutement`",
            );
        }
        Ok(Query {
            source: source.to_string(),
            root,
            terms,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn root(&self) -> &Node {
        &self.root
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether the node can only be true when at least one of its terms occurs in the text.
fn needs_a_hit(node: &Node) -> bool {
    match node {
        Node::Term(_) | Node::Near { .. } => true,
        Node::And(children) => children.iter().any(needs_a_hit),
        Node::Or(children) => children.iter().all(needs_a_hit),
        Node::Not(_) => false,
    }
}

fn mark_negated(node: &Node, negated: bool, terms: &mut [Term]) {
    match node {
        Node::Term(i) => {
            if let Some(term) = terms.get_mut(*i) {
                term.negated = negated;
            }
        }
        Node::And(children) | Node::Or(children) => {
            for child in children {
                mark_negated(child, negated, terms);
            }
        }
        Node::Not(inner) => mark_negated(inner, true, terms),
        Node::Near { left, right, .. } => {
            mark_negated(left, negated, terms);
            mark_negated(right, negated, terms);
        }
    }
}

// ---- lexer ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Near(u32),
    Field(Field),
    Term(RawTerm),
}

#[derive(Debug, Clone, PartialEq)]
struct RawTerm {
    text: String,
    phrase: bool,
    exact: bool,
    prefix: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Lexed {
    tok: Tok,
    /// 1-based column of the token's first character.
    column: usize,
}

fn closing_quote(open: char) -> Option<char> {
    match open {
        '"' => Some('"'),
        '“' => Some('”'),
        '«' => Some('»'),
        _ => None,
    }
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || closing_quote(c).is_some()
}

fn lex(source: &str) -> Result<Vec<Lexed>, QueryError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<Lexed> = Vec::new();
    let mut i = 0;
    // Whether a `-` here starts a term (after a space, a parenthesis or the start).
    let mut term_start = true;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            term_start = true;
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push(Lexed {
                    tok: Tok::LParen,
                    column,
                });
                term_start = true;
                i += 1;
                continue;
            }
            ')' => {
                out.push(Lexed {
                    tok: Tok::RParen,
                    column,
                });
                term_start = false;
                i += 1;
                continue;
            }
            '-' if term_start => {
                if chars
                    .get(i + 1)
                    .is_none_or(|&n| n.is_whitespace() || n == ')')
                {
                    return error(
                        column,
                        "dangling -: put the term to exclude right after it, e.g. `-recrutement`",
                    );
                }
                out.push(Lexed {
                    tok: Tok::Minus,
                    column,
                });
                i += 1;
                continue;
            }
            _ => {}
        }
        term_start = false;
        let (exact, start) = if c == '=' { (true, i + 1) } else { (false, i) };
        let Some(&first) = chars.get(start) else {
            return error(column, "dangling =: write =Word or =\"Exact phrase\"");
        };
        if let Some(close) = closing_quote(first) {
            let Some(len) = chars[start + 1..].iter().position(|&q| q == close) else {
                return error(
                    start + 1,
                    format!("unterminated quote: add the closing {close}"),
                );
            };
            let text: String = chars[start + 1..start + 1 + len].iter().collect();
            out.push(term_token(
                RawTerm {
                    text,
                    phrase: true,
                    exact,
                    prefix: false,
                },
                column,
            )?);
            i = start + 1 + len + 1;
            continue;
        }
        if exact && ends_word(first) {
            return error(column, "dangling =: write =Word or =\"Exact phrase\"");
        }
        if !exact && let Some((field, name)) = field_prefix(&chars[start..]) {
            out.push(Lexed {
                tok: Tok::Field(field),
                column,
            });
            let after = start + name.len() + 1;
            match chars.get(after) {
                // Lex what follows the colon as a term of its own; a `-` right after it
                // is a hyphen, as inside a word, unless a quote or parenthesis came first.
                Some(&next) if !next.is_whitespace() && next != ')' => {
                    term_start = ends_word(next);
                }
                _ => {
                    return error(
                        column,
                        format!(
                            "{name}: must be followed by a term, without a space: `{name}:acme`"
                        ),
                    );
                }
            }
            i = after;
            continue;
        }
        let len = chars[start..]
            .iter()
            .position(|&c| ends_word(c))
            .unwrap_or(chars.len() - start);
        let word: String = chars[start..start + len].iter().collect();
        i = start + len;
        if !exact {
            match word.as_str() {
                "AND" => {
                    out.push(Lexed {
                        tok: Tok::And,
                        column,
                    });
                    continue;
                }
                "OR" => {
                    out.push(Lexed {
                        tok: Tok::Or,
                        column,
                    });
                    continue;
                }
                "NOT" => {
                    out.push(Lexed {
                        tok: Tok::Not,
                        column,
                    });
                    continue;
                }
                "NEAR" => {
                    return error(
                        column,
                        "NEAR needs a distance: write `a NEAR/5 b` (at most 5 words between)",
                    );
                }
                _ => {}
            }
            if let Some(number) = word.strip_prefix("NEAR/") {
                let Ok(distance) = number.parse::<u32>() else {
                    return error(
                        column + 5,
                        "NEAR/ needs a number of words: write `a NEAR/5 b`",
                    );
                };
                out.push(Lexed {
                    tok: Tok::Near(distance),
                    column,
                });
                continue;
            }
        }
        let stars = word.chars().rev().take_while(|&c| c == '*').count();
        let bare: String = word.chars().take(word.chars().count() - stars).collect();
        if bare.is_empty() {
            return error(
                column,
                "a * must end a word: `nord*` matches nordvent, nordique…",
            );
        }
        let display = if exact { format!("={word}") } else { word };
        let raw = RawTerm {
            text: bare,
            phrase: false,
            exact,
            prefix: stars > 0,
        };
        if !exact && normalize::tokens(&raw.text).is_empty() {
            // Lone punctuation such as `&` in `Procter & Gamble` carries nothing to match;
            // it is skipped unless an operator needs it.
            if matches!(out.last().map(|l| &l.tok), Some(Tok::Minus | Tok::Field(_))) {
                return error(
                    column,
                    format!("{display:?} has no letter or digit to look for"),
                );
            }
            continue;
        }
        let mut lexed = term_token(raw, column)?;
        if let Tok::Term(term) = &mut lexed.tok {
            term.text = display;
        }
        out.push(lexed);
    }
    Ok(out)
}

/// The field a word starts with (`title:`, `body:`, in any case), and the name as written.
/// Looked at before the word is cut out, so `title:title:…` costs one step per prefix.
fn field_prefix(chars: &[char]) -> Option<(Field, String)> {
    [("title", Field::Title), ("body", Field::Body)]
        .into_iter()
        .find_map(|(name, field)| {
            let written = chars.get(..name.len())?;
            let matches = written
                .iter()
                .zip(name.chars())
                .all(|(c, n)| c.eq_ignore_ascii_case(&n));
            (matches && chars.get(name.len()) == Some(&':'))
                .then(|| (field, written.iter().collect()))
        })
}

/// Checks that a term has tokens to look for.
fn term_token(raw: RawTerm, column: usize) -> Result<Lexed, QueryError> {
    let tokens = if raw.exact {
        normalize::exact_tokens(&raw.text)
    } else {
        normalize::tokens(&raw.text)
    };
    if tokens.is_empty() {
        let what = if raw.phrase { "phrase" } else { "term" };
        return error(
            column,
            format!("empty {what}: it needs at least one letter or digit"),
        );
    }
    Ok(Lexed {
        tok: Tok::Term(raw),
        column,
    })
}

// ---- parser -----------------------------------------------------------------------------

/// The deepest nesting a query may have: parentheses, NOT and `-`, `field:` prefixes and the
/// links of one NEAR chain, all counted together. The parser and every walk over the tree
/// recurse, and a configuration file is untrusted input too: a query of 100,000 `(` must be
/// an error with a column, not a stack overflow in `veille check` or in a reload. Real
/// queries nest a handful of levels.
pub const MAX_NESTING: usize = 64;

struct Parser<'a> {
    tokens: &'a [Lexed],
    pos: usize,
    /// How deep the parser is now (see [`MAX_NESTING`]).
    depth: usize,
    terms: Vec<Term>,
    /// The field of an enclosing `title:(…)`.
    field: Option<Field>,
    end_column: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Minus => "-".into(),
        Tok::Near(n) => format!("NEAR/{n}"),
        Tok::Field(f) => format!("{}:", f.as_str()),
        Tok::Term(t) => t.text.clone(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexed> {
        self.tokens.get(self.pos)
    }

    /// One level deeper, at the token in `column`; undone by [`Parser::leave`].
    fn enter(&mut self, column: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return error(
                column,
                format!(
                    "the query nests deeper than {MAX_NESTING} levels (parentheses, NOT, \
                     field: and NEAR links together): write it flatter"
                ),
            );
        }
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth = self.depth.saturating_sub(levels);
    }

    fn starts_unary(&self) -> bool {
        matches!(
            self.peek().map(|l| &l.tok),
            Some(Tok::LParen | Tok::Not | Tok::Minus | Tok::Field(_) | Tok::Term(_))
        )
    }

    fn starts_atom(&self) -> bool {
        matches!(
            self.peek().map(|l| &l.tok),
            Some(Tok::LParen | Tok::Field(_) | Tok::Term(_))
        )
    }

    /// The error for an operator at `op` with nothing usable on its right.
    fn missing_right(&self, op: &Lexed) -> QueryError {
        let name = describe(&op.tok);
        let message = match self.peek() {
            None => format!("dangling operator {name}: it needs a term on its right"),
            Some(next) => format!(
                "dangling operator {name}: it needs a term on its right, not {}",
                describe(&next.tok)
            ),
        };
        QueryError {
            column: op.column,
            message,
        }
    }

    fn or(&mut self) -> Result<Node, QueryError> {
        let mut children = vec![self.and()?];
        while let Some(op) = self.peek().filter(|l| l.tok == Tok::Or).cloned() {
            self.pos += 1;
            if !self.starts_unary() {
                return Err(self.missing_right(&op));
            }
            children.push(self.and()?);
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Node::Or(children)
        })
    }

    fn and(&mut self) -> Result<Node, QueryError> {
        let mut children = vec![self.unary()?];
        loop {
            if let Some(op) = self.peek().filter(|l| l.tok == Tok::And).cloned() {
                self.pos += 1;
                if !self.starts_unary() {
                    return Err(self.missing_right(&op));
                }
                children.push(self.unary()?);
            } else if self.starts_unary() {
                children.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if children.len() == 1 {
            children.remove(0)
        } else {
            Node::And(children)
        })
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        if let Some(op) = self
            .peek()
            .filter(|l| matches!(l.tok, Tok::Not | Tok::Minus))
            .cloned()
        {
            self.pos += 1;
            if !self.starts_unary() {
                return Err(self.missing_right(&op));
            }
            self.enter(op.column)?;
            let inner = self.unary()?;
            self.leave(1);
            return Ok(Node::Not(Box::new(inner)));
        }
        self.near()
    }

    fn near(&mut self) -> Result<Node, QueryError> {
        let mut left = self.atom()?;
        // Each link nests the chain one level deeper (`(a NEAR b) NEAR c`).
        let mut links = 0;
        while let Some(op) = self
            .peek()
            .filter(|l| matches!(l.tok, Tok::Near(_)))
            .cloned()
        {
            let Tok::Near(distance) = op.tok else {
                break;
            };
            self.pos += 1;
            if !self.starts_atom() {
                return Err(self.missing_right(&op));
            }
            self.enter(op.column)?;
            links += 1;
            let right = self.atom()?;
            left = Node::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
            };
        }
        self.leave(links);
        Ok(left)
    }

    fn atom(&mut self) -> Result<Node, QueryError> {
        let Some(lexed) = self.peek().cloned() else {
            return error(self.end_column, "the query ends where a term was expected");
        };
        self.pos += 1;
        match lexed.tok {
            Tok::LParen => {
                if self.peek().is_some_and(|l| l.tok == Tok::RParen) {
                    return error(
                        lexed.column,
                        "empty parentheses: put at least one term inside",
                    );
                }
                self.enter(lexed.column)?;
                let inner = self.or()?;
                self.leave(1);
                match self.peek() {
                    Some(l) if l.tok == Tok::RParen => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => error(
                        lexed.column,
                        "unbalanced parenthesis: this ( is never closed",
                    ),
                }
            }
            Tok::Field(field) => {
                self.enter(lexed.column)?;
                let outer = self.field.replace(field);
                let node = self.atom();
                self.field = outer;
                self.leave(1);
                node
            }
            Tok::Term(raw) => {
                let tokens = if raw.exact {
                    normalize::exact_tokens(raw.text.trim_start_matches('='))
                } else {
                    normalize::tokens(&raw.text)
                };
                self.terms.push(Term {
                    display: raw.text,
                    tokens,
                    exact: raw.exact,
                    prefix: raw.prefix,
                    field: self.field,
                    negated: false,
                });
                Ok(Node::Term(self.terms.len() - 1))
            }
            Tok::RParen => error(
                lexed.column,
                "unbalanced parenthesis: this ) has no matching (",
            ),
            Tok::And | Tok::Or | Tok::Near(_) => error(
                lexed.column,
                format!(
                    "dangling operator {}: it needs a term on its left",
                    describe(&lexed.tok)
                ),
            ),
            Tok::Not | Tok::Minus => error(
                lexed.column,
                format!(
                    "{} cannot stand here: NEAR takes terms, not exclusions",
                    describe(&lexed.tok)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_lists(query: &str) -> Vec<Vec<String>> {
        match Query::parse(query) {
            Ok(q) => q.terms().iter().map(|t| t.tokens.clone()).collect(),
            Err(e) => panic!("{query:?} rejected: {e}"),
        }
    }

    #[test]
    fn words_and_phrases() {
        assert_eq!(token_lists("acme"), vec![vec!["acme"]]);
        assert_eq!(
            token_lists("Acme \"Nordvent Énergie\""),
            vec![
                vec!["acme".to_string()],
                vec!["nordvent".into(), "energie".into()]
            ]
        );
        assert_eq!(
            token_lists("Alcatel-Lucent"),
            vec![vec!["alcatel", "lucent"]]
        );
        assert_eq!(token_lists("acme & co"), vec![vec!["acme"], vec!["co"]]);
        assert_eq!(
            token_lists("“Nordvent Énergie” OR «\u{a0}Acme\u{a0}»"),
            vec![vec!["nordvent", "energie"], vec!["acme"]]
        );
        assert_eq!(token_lists("=Orange"), vec![vec!["Orange"]]);
    }

    #[test]
    fn builds_the_tree_by_precedence() {
        let q = Query::parse("a b OR NOT c d NEAR/3 e").unwrap_or_else(|e| panic!("{e}"));
        let expected = Node::Or(vec![
            Node::And(vec![Node::Term(0), Node::Term(1)]),
            Node::And(vec![
                Node::Not(Box::new(Node::Term(2))),
                Node::Near {
                    left: Box::new(Node::Term(3)),
                    right: Box::new(Node::Term(4)),
                    distance: 3,
                },
            ]),
        ]);
        assert_eq!(q.root(), &expected);
        assert!(q.terms()[2].negated);
        assert!(!q.terms()[3].negated);
    }

    #[test]
    fn reads_fields_prefixes_and_exact_terms() {
        let q = Query::parse("title:nord* body:(=Orange OR \"jus d'orange\") -test")
            .unwrap_or_else(|e| panic!("{e}"));
        let summary: Vec<(String, bool, bool, Option<Field>, bool)> = q
            .terms()
            .iter()
            .map(|t| (t.display.clone(), t.exact, t.prefix, t.field, t.negated))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("nord*".to_string(), false, true, Some(Field::Title), false),
                ("=Orange".to_string(), true, false, Some(Field::Body), false),
                (
                    "jus d'orange".to_string(),
                    false,
                    false,
                    Some(Field::Body),
                    false
                ),
                ("test".to_string(), false, false, None, true),
            ]
        );
    }

    #[test]
    fn rejects_with_column() {
        let cases = [
            ("", 1),
            ("   ", 1),
            ("acme \"open", 6),
            ("\"\" acme", 1),
            ("& -", 3),
            ("(acme OR corp", 1),
            ("acme)", 5),
            ("acme OR", 6),
            ("AND acme", 1),
            ("acme NEAR/ corp", 11),
            ("acme NEAR/x corp", 11),
            ("acme NEAR corp", 6),
            ("-acme", 1),
            ("NOT acme -corp", 1),
            ("acme ()", 6),
            ("title: acme", 1),
            ("acme = corp", 6),
            ("* acme", 1),
            ("acme NEAR/3 -corp", 6),
        ];
        for (query, column) in cases {
            match Query::parse(query) {
                Ok(q) => panic!("{query:?} accepted as {q:?}"),
                Err(e) => assert_eq!(e.column, column, "{query:?}: {e}"),
            }
        }
    }
}
