//! Watch queries: what an admin writes in `query = "..."`.
//!
//! This first version of the language knows words and `"quoted phrases"`; a watch matches an
//! item when any of them occurs. Each word is cut into tokens the same way as text, so a word
//! like `Alcatel-Lucent` is the phrase "alcatel lucent". The full language (AND/OR/NOT,
//! NEAR, prefixes, exact terms, fields) replaces this module behind the same `Query::parse`.

use std::fmt;

use super::normalize;

/// A query the engine can run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    source: String,
    terms: Vec<Term>,
}

/// One alternative of a query: a sequence of normalized tokens that must follow each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The term as the admin wrote it, for reports.
    pub display: String,
    pub tokens: Vec<String>,
}

/// Why a query was rejected, with the 1-based column (in characters) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl Query {
    pub fn parse(source: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        let mut chars = source.char_indices().enumerate().peekable();
        while let Some((column, (_, c))) = chars.next() {
            if c.is_whitespace() {
                continue;
            }
            let mut text = String::new();
            if c == '"' {
                let mut closed = false;
                for (_, (_, c)) in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    text.push(c);
                }
                if !closed {
                    return Err(QueryError {
                        column: column + 1,
                        message: "unterminated quote: add the closing \"".to_string(),
                    });
                }
            } else {
                text.push(c);
                while let Some((_, (_, next))) = chars.peek() {
                    if next.is_whitespace() || *next == '"' {
                        break;
                    }
                    text.push(*next);
                    chars.next();
                }
            }
            let tokens = normalize::tokens(&text);
            if tokens.is_empty() {
                if c == '"' {
                    return Err(QueryError {
                        column: column + 1,
                        message: "empty phrase: a phrase needs at least one word".to_string(),
                    });
                }
                // Lone punctuation such as `&` or `-` carries nothing to match.
                continue;
            }
            terms.push(Term {
                display: text,
                tokens,
            });
        }
        if terms.is_empty() {
            return Err(QueryError {
                column: 1,
                message: "empty query: write at least one word or \"phrase\"".to_string(),
            });
        }
        Ok(Query {
            source: source.to_string(),
            terms,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
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
    }

    #[test]
    fn rejects_with_column() {
        let cases = [
            ("", 1),
            ("   ", 1),
            ("acme \"open", 6),
            ("\"\" acme", 1),
            ("& -", 1),
        ];
        for (query, column) in cases {
            match Query::parse(query) {
                Ok(q) => panic!("{query:?} accepted as {q:?}"),
                Err(e) => assert_eq!(e.column, column, "{query:?}: {e}"),
            }
        }
    }
}
