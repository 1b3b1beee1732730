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
//! atom   := "(" query ")" | [field ":"] term | meta  -- a field may also prefix a "(" group
//! field  := "title" | "body"
//! term   := word | word "*" | '"' phrase '"' | "=" word | "=" '"' phrase '"'
//! meta   := ("site" | "source" | "tag" | "author" | "lang") ":" (word | '"' phrase '"')
//! ```
//!
//! A *meta* operator looks at where an item comes from or who wrote it, not at its words
//! (see [`Meta`]). Any other `name:` before a word is an error, so `sit:lemonde.fr` is
//! reported instead of silently searching the words "sit lemonde fr"; a colon meant as text
//! goes in quotes (`"re:invent"`).
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
    metas: Vec<MetaTerm>,
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

/// A condition on an item's origin or author rather than on its words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Meta {
    /// `site:lemonde.fr`: the host of the item's link is this domain or under it
    /// (`newsroom.orange.com` is under `orange.com`). Held in ASCII (IDNs as punycode),
    /// lower case, without a leading `www.` (ignored on both sides).
    Site(String),
    /// `source:ID`: the item comes from the configured source with this id.
    Source(String),
    /// `tag:presse`: the item's source has this tag.
    Tag(String),
    /// `author:…`: these folded tokens follow each other in the item's author (a handle
    /// such as `@user@instance`, or a byline).
    Author(Vec<String>),
    /// `lang:fr`: the item's language, as an ISO 639 code in lower case.
    Lang(String),
}

impl Meta {
    /// The operator's name, as written before the colon.
    pub fn name(&self) -> &'static str {
        match self {
            Meta::Site(_) => "site",
            Meta::Source(_) => "source",
            Meta::Tag(_) => "tag",
            Meta::Author(_) => "author",
            Meta::Lang(_) => "lang",
        }
    }
}

/// A meta operator of a query, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaTerm {
    pub meta: Meta,
    /// The operator as the admin wrote it (`site:lemonde.fr`), for reports.
    pub display: String,
    /// 1-based column (in characters) of the operator, for errors about its value that
    /// only the configuration can see (an unknown source or tag).
    pub column: usize,
    /// Under a NOT.
    pub negated: bool,
}

/// The boolean structure of a query; leaves index [`Query::terms`] and [`Query::metas`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Term(usize),
    Meta(usize),
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
            metas: Vec::new(),
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
        let mut metas = parser.metas;
        mark_negated(&root, false, &mut terms, &mut metas);
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
            metas,
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

    /// The meta operators (`site:`, `source:`…); [`Node::Meta`] indexes this.
    pub fn metas(&self) -> &[MetaTerm] {
        &self.metas
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The first meta operator under `node`.
fn first_meta(node: &Node) -> Option<usize> {
    match node {
        Node::Meta(m) => Some(*m),
        Node::Term(_) => None,
        Node::And(children) | Node::Or(children) => children.iter().find_map(first_meta),
        Node::Not(inner) => first_meta(inner),
        Node::Near { left, right, .. } => first_meta(left).or_else(|| first_meta(right)),
    }
}

/// Whether the node can only be true when at least one of its terms occurs in the text or
/// one of its meta operators holds (not under a NOT).
fn needs_a_hit(node: &Node) -> bool {
    match node {
        Node::Term(_) | Node::Meta(_) | Node::Near { .. } => true,
        Node::And(children) => children.iter().any(needs_a_hit),
        Node::Or(children) => children.iter().all(needs_a_hit),
        Node::Not(_) => false,
    }
}

fn mark_negated(node: &Node, negated: bool, terms: &mut [Term], metas: &mut [MetaTerm]) {
    match node {
        Node::Term(i) => {
            if let Some(term) = terms.get_mut(*i) {
                term.negated = negated;
            }
        }
        Node::Meta(i) => {
            if let Some(meta) = metas.get_mut(*i) {
                meta.negated = negated;
            }
        }
        Node::And(children) | Node::Or(children) => {
            for child in children {
                mark_negated(child, negated, terms, metas);
            }
        }
        Node::Not(inner) => mark_negated(inner, true, terms, metas),
        Node::Near { left, right, .. } => {
            mark_negated(left, negated, terms, metas);
            mark_negated(right, negated, terms, metas);
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
    /// Between the two arguments of `NEAR/n(a, b)`.
    Comma,
    Field(Field),
    Term(RawTerm),
    Meta(MetaTerm),
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
    // For each open parenthesis, whether it opens the arguments of `NEAR/n(a, b)`: a comma
    // separates them there, and is punctuation everywhere else.
    let mut parens: Vec<bool> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let in_call = parens.last() == Some(&true);
        if c.is_whitespace() {
            term_start = true;
            i += 1;
            continue;
        }
        match c {
            '(' => {
                // `NEAR/5(`, without a space: the function form.
                let call = matches!(
                    out.last(),
                    Some(Lexed {
                        tok: Tok::Near(_),
                        ..
                    })
                ) && i > 0
                    && !chars[i - 1].is_whitespace();
                parens.push(call);
                out.push(Lexed {
                    tok: Tok::LParen,
                    column,
                });
                term_start = true;
                i += 1;
                continue;
            }
            ')' => {
                parens.pop();
                out.push(Lexed {
                    tok: Tok::RParen,
                    column,
                });
                term_start = false;
                i += 1;
                continue;
            }
            ',' if in_call => {
                out.push(Lexed {
                    tok: Tok::Comma,
                    column,
                });
                term_start = true;
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
        let operator = if exact {
            None
        } else {
            operator_prefix(&chars[start..])
        };
        if let Some(name) = &operator
            && field_of(name).is_none()
        {
            let (meta, end) = meta_token(&chars, start, name)?;
            out.push(Lexed {
                tok: Tok::Meta(meta),
                column,
            });
            i = end;
            continue;
        }
        if let Some(name) = operator
            && let Some(field) = field_of(&name)
        {
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
            .position(|&c| ends_word(c) || (in_call && c == ','))
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

/// The operator name a word starts with: ASCII letters followed by a colon (`title:`,
/// `site:`, or a misspelt `sit:`), as written. Looked at before the word is cut out, so
/// `title:title:…` costs one step per prefix.
fn operator_prefix(chars: &[char]) -> Option<String> {
    let len = chars.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    (len > 0 && chars.get(len) == Some(&':')).then(|| chars[..len].iter().collect())
}

/// The field an operator name selects (`title`, `body`, in any case).
fn field_of(name: &str) -> Option<Field> {
    if name.eq_ignore_ascii_case("title") {
        Some(Field::Title)
    } else if name.eq_ignore_ascii_case("body") {
        Some(Field::Body)
    } else {
        None
    }
}

/// Every operator a query may use, for errors.
const OPERATORS: &[&str] = &["title", "body", "site", "source", "tag", "author", "lang"];

/// Lexes the meta operator `name:` at `start` and its value; returns it and the index after.
fn meta_token(chars: &[char], start: usize, name: &str) -> Result<(MetaTerm, usize), QueryError> {
    let column = start + 1;
    let lower = name.to_ascii_lowercase();
    if !OPERATORS.contains(&lower.as_str()) {
        let known = OPERATORS
            .iter()
            .map(|o| format!("{o}:"))
            .collect::<Vec<_>>()
            .join(" ");
        let guess = OPERATORS
            .iter()
            .map(|o| (strsim::levenshtein(o, &lower), o))
            .filter(|(distance, _)| *distance <= 2)
            .min()
            .map(|(_, o)| format!("did you mean {o}:? "))
            .unwrap_or_default();
        let word: String = chars[start..]
            .iter()
            .take_while(|&&c| !ends_word(c))
            .collect();
        return error(
            column,
            format!(
                "unknown operator {name}: {guess}(operators: {known}); to look for the text \
                 itself, put it in quotes: \"{word}\""
            ),
        );
    }
    let at = start + name.chars().count() + 1;
    let value_column = at + 1;
    let (value, quoted, end) = match chars.get(at) {
        Some(&open) if closing_quote(open).is_some() => {
            let close = closing_quote(open).unwrap_or('"');
            let Some(len) = chars[at + 1..].iter().position(|&q| q == close) else {
                return error(
                    value_column,
                    format!("unterminated quote: add the closing {close}"),
                );
            };
            let value: String = chars[at + 1..at + 1 + len].iter().collect();
            (value, true, at + 1 + len + 1)
        }
        Some(&next) if !next.is_whitespace() && next != ')' && next != '(' => {
            let len = chars[at..]
                .iter()
                .position(|&c| ends_word(c))
                .unwrap_or(chars.len() - at);
            (chars[at..at + len].iter().collect(), false, at + len)
        }
        _ => {
            return error(
                column,
                format!(
                    "{name}: must be followed by a value, without a space: `{lower}:{}`",
                    example(&lower)
                ),
            );
        }
    };
    let meta = meta_value(&lower, value.trim()).map_err(|message| QueryError {
        column: value_column,
        message,
    })?;
    let written: String = chars[start..end].iter().collect();
    let display = if quoted {
        written
    } else {
        format!("{lower}:{value}")
    };
    Ok((
        MetaTerm {
            meta,
            display,
            column,
            negated: false,
        },
        end,
    ))
}

/// A value to show in errors about operator `name`.
fn example(name: &str) -> &'static str {
    match name {
        "site" => "lemonde.fr",
        "source" => "communiques",
        "tag" => "presse",
        "author" => "@marque@mastodon.social",
        "lang" => "fr",
        _ => "acme",
    }
}

/// The condition `name:value` stands for, or why the value cannot be one.
fn meta_value(name: &str, value: &str) -> Result<Meta, String> {
    if value.is_empty() {
        return Err(format!(
            "{name}: needs a value, e.g. `{name}:{}`",
            example(name)
        ));
    }
    match name {
        "site" => site(value).map(Meta::Site),
        "source" => Ok(Meta::Source(value.to_string())),
        "tag" => Ok(Meta::Tag(value.to_string())),
        "author" => {
            let tokens = normalize::tokens(value);
            if tokens.is_empty() {
                return Err(format!("author:{value} has no letter or digit to look for"));
            }
            Ok(Meta::Author(tokens))
        }
        _ => crate::language::declared(value)
            .map(Meta::Lang)
            .ok_or_else(|| {
                format!("lang: takes a language code such as fr, en or es (ISO 639), not {value:?}")
            }),
    }
}

/// The domain `site:` compares hosts with: `value` (a host, or a URL of a whole site) in
/// ASCII and lower case, without a leading `www.`, `*.` or `.`.
fn site(value: &str) -> Result<String, String> {
    let bare = value.trim_start_matches("*.").trim_start_matches('.');
    let url = if bare.contains("://") {
        bare.to_string()
    } else {
        format!("http://{bare}")
    };
    let parsed = url::Url::parse(&url).map_err(|e| {
        format!("site: takes a host name such as lemonde.fr; {value:?} is not one ({e})")
    })?;
    if parsed.port().is_some() {
        return Err(format!(
            "site: takes a host name without a port: any port of the host matches (`site:{}`)",
            parsed.host_str().unwrap_or("lemonde.fr")
        ));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "site: matches a whole host, not a page or a folder: write `site:{}`",
            parsed.host_str().unwrap_or("lemonde.fr")
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("site: takes a host name, without user or password".to_string());
    }
    match parsed.host() {
        Some(url::Host::Domain(domain)) if site_form(domain).split('.').any(str::is_empty) => {
            Err(format!(
                "site: takes a host name such as lemonde.fr; {value:?} is not one (an empty \
                 part between dots)"
            ))
        }
        Some(url::Host::Domain(domain)) => Ok(site_form(domain).to_string()),
        Some(host) => Ok(host.to_string()),
        None => Err(format!(
            "site: takes a host name such as lemonde.fr; {value:?} has none"
        )),
    }
}

/// A host as `site:` compares it: without a trailing dot or a leading `www.`.
pub fn site_form(host: &str) -> &str {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.strip_prefix("www.").unwrap_or(host)
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
    metas: Vec<MetaTerm>,
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
        Tok::Comma => ",".into(),
        Tok::Field(f) => format!("{}:", f.as_str()),
        Tok::Term(t) => t.text.clone(),
        Tok::Meta(m) => m.display.clone(),
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

    /// Whether the token at `at` is the `NEAR/n` of the function form `NEAR/n(a, b)`: its
    /// parenthesis has a comma at its own level (the lexer only makes commas there).
    fn is_call(&self, at: usize) -> bool {
        if !matches!(self.tokens.get(at).map(|l| &l.tok), Some(Tok::Near(_)))
            || self.tokens.get(at + 1).map(|l| &l.tok) != Some(&Tok::LParen)
        {
            return false;
        }
        let mut depth = 0usize;
        for lexed in &self.tokens[at + 1..] {
            match lexed.tok {
                Tok::LParen => depth += 1,
                Tok::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return false;
                    }
                }
                Tok::Comma if depth == 1 => return true,
                _ => {}
            }
        }
        false
    }

    fn starts_unary(&self) -> bool {
        if self.is_call(self.pos) {
            return true;
        }
        matches!(
            self.peek().map(|l| &l.tok),
            Some(Tok::LParen | Tok::Not | Tok::Minus | Tok::Field(_) | Tok::Term(_) | Tok::Meta(_))
        )
    }

    fn starts_atom(&self) -> bool {
        if self.is_call(self.pos) {
            return true;
        }
        matches!(
            self.peek().map(|l| &l.tok),
            Some(Tok::LParen | Tok::Field(_) | Tok::Term(_) | Tok::Meta(_))
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
            .filter(|l| matches!(l.tok, Tok::Near(_)) && !self.is_call(self.pos))
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
            self.words_only(&left, &op)?;
            self.words_only(&right, &op)?;
            left = Node::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
            };
        }
        self.leave(links);
        Ok(left)
    }

    /// The function form `NEAR/n(a, b)`, from its `(`: the same as `(a) NEAR/n (b)`.
    fn near_call(&mut self, op: &Lexed, distance: u32) -> Result<Node, QueryError> {
        self.pos += 1;
        self.enter(op.column)?;
        let left = self.or()?;
        match self.peek() {
            Some(l) if l.tok == Tok::Comma => self.pos += 1,
            _ => {
                return error(
                    op.column,
                    format!(
                        "{}( takes two parts separated by a comma: {}(marque, rappel)",
                        describe(&op.tok),
                        describe(&op.tok)
                    ),
                );
            }
        }
        if !self.starts_unary() {
            return Err(self.missing_right(op));
        }
        let right = self.or()?;
        match self.peek() {
            Some(l) if l.tok == Tok::RParen => self.pos += 1,
            Some(l) if l.tok == Tok::Comma => {
                return error(
                    l.column,
                    format!("{}( takes exactly two parts", describe(&op.tok)),
                );
            }
            _ => {
                return error(
                    op.column + describe(&op.tok).chars().count(),
                    "unbalanced parenthesis: this ( is never closed",
                );
            }
        }
        self.leave(1);
        self.words_only(&left, op)?;
        self.words_only(&right, op)?;
        Ok(Node::Near {
            left: Box::new(left),
            right: Box::new(right),
            distance,
        })
    }

    /// NEAR measures distances between words: a meta operator has no place in the text.
    fn words_only(&self, node: &Node, op: &Lexed) -> Result<(), QueryError> {
        match first_meta(node).and_then(|m| self.metas.get(m)) {
            Some(meta) => error(
                meta.column,
                format!(
                    "{} cannot stand in {}: NEAR measures distances between words; \
                     put it beside, e.g. `{} AND (a NEAR/5 b)`",
                    meta.display,
                    describe(&op.tok),
                    meta.display
                ),
            ),
            None => Ok(()),
        }
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
            Tok::Meta(meta) => {
                if let Some(field) = self.field {
                    return error(
                        meta.column,
                        format!(
                            "{}: looks in the words of the {}; {} looks at the item itself: \
                             write it beside, not inside",
                            field.as_str(),
                            field.as_str(),
                            meta.display
                        ),
                    );
                }
                self.metas.push(meta);
                Ok(Node::Meta(self.metas.len() - 1))
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
            Tok::Near(distance) if self.is_call(self.pos - 1) => self.near_call(&lexed, distance),
            Tok::Near(_) if self.peek().is_some_and(|l| l.tok == Tok::LParen) => error(
                lexed.column,
                format!(
                    "{}( takes two parts separated by a comma: {}(marque, rappel)",
                    describe(&lexed.tok),
                    describe(&lexed.tok)
                ),
            ),
            Tok::Comma => error(
                lexed.column,
                "a comma here needs a term before it: write NEAR/5(marque, rappel)",
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
