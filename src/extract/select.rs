//! What a page source picks (`[source.select]`): the compiled selectors ([`PageSelect`]) and
//! the CSS selector parser, with errors an admin can act on. The configuration validates
//! them once; a parser process compiles them again from [`SelectTexts`].
//!
//! scraper's parser answers "Unexpected error occurred. Please report this to the
//! developer" for selectors that are simply unsupported (a `:has()` inside a `:has()`, a
//! `:hover`), and its errors carry no position. This module says in words what is wrong
//! and where: the position is found by parsing ever longer prefixes of the selector until
//! one fails the same way as the whole (selectors are a line long, so the quadratic cost is
//! nothing), then stepping back to the start of the offending token.

use scraper::Selector;
use scraper::error::SelectorErrorKind;
use selectors::parser::SelectorParseErrorKind as Kind;

/// A selector veille cannot use: the 1-based column (in characters) in the selector's own
/// text, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    pub column: usize,
    pub message: String,
}

/// The longest selector accepted, in characters: real ones are a line; the search for an
/// error's position parses every prefix, which must stay cheap.
pub const MAX_CHARS: usize = 1_000;

/// Parses one selector list (`h2 a, .headline`).
pub fn parse(text: &str) -> Result<Selector, SelectorError> {
    if text.chars().count() > MAX_CHARS {
        return Err(SelectorError {
            column: MAX_CHARS + 1,
            message: format!(
                "the selector is longer than {MAX_CHARS} characters: point it at the part \
                 of the page that matters with a shorter one"
            ),
        });
    }
    let error = match Selector::parse(text) {
        Ok(selector) => return Ok(selector),
        Err(error) => error,
    };
    let column = column_of(text, &error);
    Err(SelectorError {
        column,
        message: message(text, column, &error),
    })
}

/// Whether two errors are the same kind of failure (scraper's kinds carry no data we need
/// to compare but the inner selector kind).
fn same_kind(a: &SelectorErrorKind, b: &SelectorErrorKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && match (a, b) {
            (
                SelectorErrorKind::UnexpectedSelectorParseError(a),
                SelectorErrorKind::UnexpectedSelectorParseError(b),
            ) => std::mem::discriminant(a) == std::mem::discriminant(b),
            _ => true,
        }
}

/// Errors that only say "the text stops too early": every prefix of a valid selector can
/// fail this way, so they never locate anything but the end.
fn is_incomplete(error: &SelectorErrorKind) -> bool {
    matches!(
        error,
        SelectorErrorKind::EndOfLine
            | SelectorErrorKind::UnexpectedSelectorParseError(
                Kind::EmptySelector | Kind::DanglingCombinator
            )
    )
}

fn column_of(text: &str, error: &SelectorErrorKind) -> usize {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    if is_incomplete(error) {
        return chars.len().max(1);
    }
    // The prefixes that fail this way start at the one that ends inside the offending token:
    // shorter ones fail otherwise (the text stops too early) or not at all.
    let prefix_fails = |n: usize| {
        let end = chars.get(n).map_or(text.len(), |(i, _)| *i);
        text.get(..end)
            .and_then(|prefix| Selector::parse(prefix).err())
            .is_some_and(|e| same_kind(&e, error))
    };
    let mut failing = chars.len();
    while failing > 1 && prefix_fails(failing - 1) {
        failing -= 1;
    }
    // Step back to the start of that token: a name (with the `(` of a function right after
    // it), and the `:`, `::`, `.` or `#` before it.
    let mut start = failing.saturating_sub(1);
    if start > 0 && chars.get(start).is_some_and(|(_, c)| *c == '(') {
        start -= 1;
    }
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_');
    while start > 0 && chars.get(start - 1).is_some_and(|(_, c)| is_name(*c)) {
        start -= 1;
    }
    while start > 0
        && chars
            .get(start - 1)
            .is_some_and(|(_, c)| matches!(c, ':' | '.' | '#'))
    {
        start -= 1;
    }
    start + 1
}

fn message(text: &str, column: usize, error: &SelectorErrorKind) -> String {
    let at: String = text.chars().skip(column - 1).take(24).collect();
    let supported = "veille supports element, class, id and attribute selectors, combinators, \
                     and :not(), :is(), :where(), :has(), :nth-child() and the other structural \
                     pseudo-classes";
    match error {
        SelectorErrorKind::UnexpectedSelectorParseError(kind) => match kind {
            Kind::InvalidState if at.starts_with(":has(") => {
                "`:has()` inside `:has()` is not supported (CSS forbids it): put the inner \
                 condition in the outer one, e.g. `li:has(a b)` for `li:has(a:has(b))`"
                    .to_string()
            }
            Kind::InvalidState => {
                "nothing may follow a pseudo-element, and `:has()` cannot appear here".to_string()
            }
            Kind::UnsupportedPseudoClassOrElement | Kind::NoIdentForPseudo => format!(
                "unsupported pseudo-class or pseudo-element {:?}: pages are read as static \
                 HTML, so states (:hover, :visited, :checked…) and pseudo-elements (::before…) \
                 never match; {supported}",
                at.split(['(', ' ', ')', ',', '>']).next().unwrap_or(&at)
            ),
            Kind::EmptySelector => {
                "an empty selector (a stray comma?): write a CSS selector such as \"h2 a\""
                    .to_string()
            }
            Kind::DanglingCombinator => {
                "a combinator (>, +, ~) needs a selector on its right".to_string()
            }
            Kind::ExpectedNamespace | Kind::ExplicitNamespaceUnexpectedToken => {
                "namespaces (`ns|a`) are not supported: pages are HTML, write the element name"
                    .to_string()
            }
            Kind::ClassNeedsIdent => "`.` must be followed by a class name".to_string(),
            Kind::NoQualifiedNameInAttributeSelector
            | Kind::UnexpectedTokenInAttributeSelector
            | Kind::ExpectedBarInAttr
            | Kind::BadValueInAttr
            | Kind::InvalidQualNameInAttr => {
                "invalid attribute selector: write [name], [name=value] or [name^=\"value\"]"
                    .to_string()
            }
            _ => format!("this selector is not supported: {supported}"),
        },
        SelectorErrorKind::EndOfLine => {
            "the selector ends too early: a name, bracket or parenthesis is missing at the end"
                .to_string()
        }
        SelectorErrorKind::TooManyNestedBlocks => {
            "the selector nests too deeply: write it flatter".to_string()
        }
        SelectorErrorKind::ExpectedColonOnPseudoElement
        | SelectorErrorKind::ExpectedIdentityOnPseudoElement => {
            format!("pseudo-elements (::before…) never match page content; {supported}")
        }
        SelectorErrorKind::UnexpectedToken
        | SelectorErrorKind::InvalidAtRule
        | SelectorErrorKind::InvalidAtRuleBody
        | SelectorErrorKind::QualRuleInvalid => {
            format!("unexpected {:?} here", at.chars().next().unwrap_or(' '))
        }
    }
}

/// What to read for one field of a page item: the text of the first element matching
/// `selector` inside the item (the item itself when there is no selector), or its
/// `attribute`.
#[derive(Debug, Clone)]
pub struct Pick {
    pub selector: Option<scraper::Selector>,
    pub attribute: Option<String>,
    /// As written, for messages.
    pub source: String,
}

/// `[source.select]`, validated: one element per item, and where its fields are.
#[derive(Debug, Clone)]
pub struct PageSelect {
    pub item: scraper::Selector,
    /// `item` as written.
    pub item_source: String,
    pub title: Option<Pick>,
    pub link: Option<Pick>,
    pub summary: Option<Pick>,
    pub date: Option<Pick>,
}

/// `[source.select]` as written: what a parser process compiles again (see
/// `crate::isolation`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelectTexts {
    pub item: String,
    pub title: Option<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub date: Option<String>,
}

impl PageSelect {
    /// The selectors as written.
    pub fn texts(&self) -> SelectTexts {
        let text = |pick: &Option<Pick>| pick.as_ref().map(|p| p.source.clone());
        SelectTexts {
            item: self.item_source.clone(),
            title: text(&self.title),
            link: text(&self.link),
            summary: text(&self.summary),
            date: text(&self.date),
        }
    }

    /// Compiles selectors written as [`PageSelect::texts`] gives them (they passed the
    /// configuration's validation once; an error here names the selector).
    pub fn from_texts(texts: &SelectTexts) -> Result<PageSelect, String> {
        let item = parse(&texts.item)
            .map_err(|e| format!("invalid CSS selector {:?}: {}", texts.item, e.message))?;
        let pick = |text: &Option<String>| -> Result<Option<Pick>, String> {
            text.as_deref()
                .map(parse_pick)
                .transpose()
                .map_err(|(_, message)| message)
        };
        Ok(PageSelect {
            item,
            item_source: texts.item.clone(),
            title: pick(&texts.title)?,
            link: pick(&texts.link)?,
            summary: pick(&texts.summary)?,
            date: pick(&texts.date)?,
        })
    }
}

/// What a `[source.select]` field picks: `h2 a` (text of the element), `a@href` (an
/// attribute), `@href` (attribute of the item element itself). An error comes with the
/// 1-based column in `text` where it lies.
pub fn parse_pick(text: &str) -> Result<Pick, (usize, String)> {
    let trimmed = text.trim();
    let lead = text.chars().take_while(|c| c.is_whitespace()).count();
    let is_attribute = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
    };
    let (selector_text, attribute) = match trimmed.rsplit_once('@') {
        Some((selector, attribute)) if is_attribute(attribute.trim()) => {
            (selector.trim(), Some(attribute.trim().to_string()))
        }
        Some((selector, _)) => {
            return Err((
                lead + selector.chars().count() + 2,
                format!("invalid attribute in {text:?}: write selector@attribute, e.g. \"a@href\""),
            ));
        }
        None => (trimmed, None),
    };
    let selector = if selector_text.is_empty() {
        if attribute.is_none() {
            return Err((
                1,
                "empty selector: write a CSS selector such as \"h2 a\"".to_string(),
            ));
        }
        None
    } else {
        Some(parse(selector_text).map_err(|e| {
            (
                lead + e.column,
                format!("invalid CSS selector {selector_text:?}: {}", e.message),
            )
        })?)
    };
    Ok(Pick {
        selector,
        attribute,
        source: trimmed.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_is_unsupported_and_where() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "li:has(a:has(b))",
                9,
                "`:has()` inside `:has()` is not supported",
            ),
            (
                "a:hover",
                2,
                "unsupported pseudo-class or pseudo-element \":hover\"",
            ),
            ("article a::before", 10, "unsupported pseudo-class"),
            ("li, ", 4, "an empty selector"),
            ("", 1, "an empty selector"),
            ("ul >", 4, "a combinator"),
            ("ns|a", 1, "namespaces"),
            (&"a ".repeat(600), 1001, "longer than 1000 characters"),
            ("a:nth-child(x)", 13, "unexpected"),
            (".", 1, "ends too early"),
        ];
        for (text, column, words) in cases {
            match parse(text) {
                Ok(_) => panic!("{text:?} accepted"),
                Err(e) => {
                    assert!(e.message.contains(words), "{text:?}: {}", e.message);
                    assert!(!e.message.contains('\n'), "{text:?}: {}", e.message);
                    assert_eq!(e.column, *column, "{text:?}: {}", e.message);
                }
            }
        }
        for good in [
            "h2 a",
            "li:has(> a.title)",
            "a:not(:has(b))",
            "main article:nth-child(2n+1)",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }
}
