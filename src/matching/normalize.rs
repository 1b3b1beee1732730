//! Text normalization shared by queries and item text.
//!
//! Both sides go through the same function, so a query matches what a person reading the text
//! would call the same word: Unicode NFKC (full-width letters, `ﬁ` ligatures, non-breaking
//! spaces become their plain forms), lower case, accents removed (`é` → `e`), and the letters
//! that do not decompose folded by hand (`œ` → `oe`, `æ` → `ae`, `ß` → `ss`). A token is a
//! maximal run of letters or digits; everything else (spaces, punctuation, straight or curly
//! apostrophes, hyphens) separates tokens, so `d’Orange` holds the token `orange`.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Folds text to its matching form: NFKC, lower case, accents and ligatures removed.
/// Separators are kept as they are; use [`tokens`] to split.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        for lower in c.to_lowercase() {
            decompose_canonical(lower, |base| {
                if is_combining_mark(base) {
                    return;
                }
                match base {
                    'œ' => out.push_str("oe"),
                    'æ' => out.push_str("ae"),
                    'ß' => out.push_str("ss"),
                    'ø' => out.push('o'),
                    'ł' => out.push('l'),
                    'đ' => out.push('d'),
                    'ı' => out.push('i'),
                    other => out.push(other),
                }
            });
        }
    }
    out
}

/// The normalized tokens of a text, in order.
pub fn tokens(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_the_way_a_reader_would() {
        let cases: &[(&str, &[&str])] = &[
            ("Électricité de France", &["electricite", "de", "france"]),
            ("d’Orange et l'Oréal", &["d", "orange", "et", "l", "oreal"]),
            ("Cœur, Æsop, Straße", &["coeur", "aesop", "strasse"]),
            ("e-réputation", &["e", "reputation"]),
            ("ﬁnance\u{a0}publique", &["finance", "publique"]),
            ("ＡＣＭＥ corp", &["acme", "corp"]),
            ("Alcatel-Lucent, 2026", &["alcatel", "lucent", "2026"]),
            ("", &[]),
            ("  ... !!", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(tokens(text), *expected, "tokens of {text:?}");
        }
    }

    #[test]
    fn fold_is_idempotent_on_samples() {
        for text in ["Œuvre d’art", "ÉCOLE", "naïve façade", "ǅ digraph"] {
            let once = fold(text);
            assert_eq!(fold(&once), once, "{text:?}");
        }
    }
}
