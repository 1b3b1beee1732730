//! Text normalization shared by queries and item text.
//!
//! Both sides go through the same tokenizer, so a query matches what a person reading the text
//! would call the same word. The tokenizer reads the text once, left to right, and:
//! - skips HTML tags (`<b>`, `<a href="…">`: attributes are not text; a tag separates words)
//!   and decodes entities (`&eacute;`, `&#233;`, `&rsquo;`) exactly once, so `&amp;lt;` is the
//!   text `&lt;`, never `<`;
//! - folds each character: Unicode compatibility decomposition (full-width letters, `ﬁ`,
//!   non-breaking spaces become their plain forms), lower case, accents removed, and the
//!   letters that do not decompose mapped by hand (`œ` → `oe`, `æ` → `ae`, `ß` → `ss`);
//! - cuts tokens: a token is a maximal run of letters or digits; everything else (spaces,
//!   punctuation, straight or curly apostrophes, hyphens, tags) separates tokens, so
//!   `d’Orange` holds the token `orange`.
//!
//! The output is one buffer per form, tokens separated by single spaces and framed by spaces
//! (` acme corp `): the engine looks each token up, and confirms a phrase by comparing the
//! bytes that follow its first token. Beside the folded form it can keep an *exact* form
//! (NFKC only: case and accents as written) for `=Exact` terms, and every token keeps its
//! byte range in the original text, for snippets.
//!
//! Design choice: characters are folded one at a time (compatibility decomposition, then
//! marks dropped) instead of running NFKC over the whole string. Decomposition is local to a
//! character and the marks it could reorder are dropped anyway, so the result is the same,
//! and it lets ASCII — most of the bytes of French and English news — take a fast path
//! with no Unicode tables and no allocation per token. The trade-off is that a tag always
//! separates words: `Nord<em>vent</em>` is two tokens, which is rare in titles and safer than
//! gluing `Acme<br>Corp` together.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Where one token sits: in the folded and exact buffers, and in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSpan {
    /// Byte offset of the token's first byte in [`Tokens::folded`].
    pub folded: u32,
    /// Byte offset of the token's first byte in [`Tokens::exact`] (0 when not kept).
    pub exact: u32,
    /// Byte range of the token in the original text (tags and entities included as written).
    pub start: u32,
    pub end: u32,
}

/// A text cut into tokens, in the forms the engine searches.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// ` tok tok … ` — folded tokens, framed and separated by single spaces.
    pub folded: Vec<u8>,
    /// The same tokens as written (NFKC only), when asked for; otherwise empty.
    pub exact: Vec<u8>,
    pub spans: Vec<TokenSpan>,
}

impl Tokens {
    /// Tokenizes `text`; `keep_exact` also builds the exact form.
    pub fn new(text: &str, keep_exact: bool) -> Tokens {
        let mut tokens = Tokens::default();
        tokens.fill(text, keep_exact);
        tokens
    }

    /// Tokenizes `text` into this value, reusing its buffers.
    pub fn fill(&mut self, text: &str, keep_exact: bool) {
        self.folded.clear();
        self.exact.clear();
        self.spans.clear();
        self.folded.reserve(text.len() + 2);
        self.folded.push(b' ');
        if keep_exact {
            self.exact.reserve(text.len() + 2);
            self.exact.push(b' ');
        }
        let mut cutter = Cutter {
            out: self,
            keep_exact,
            open: false,
            exact_ascii: true,
        };
        cutter.run(text);
        cutter.close();
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The token index that starts at byte `offset` of the folded buffer (the byte after a
    /// separating space), if any.
    pub fn at_folded(&self, offset: usize) -> Option<usize> {
        self.spans
            .binary_search_by_key(&offset, |s| s.folded as usize)
            .ok()
    }

    /// The token index that starts at byte `offset` of the exact buffer, if any.
    pub fn at_exact(&self, offset: usize) -> Option<usize> {
        self.spans
            .binary_search_by_key(&offset, |s| s.exact as usize)
            .ok()
    }

    /// The folded tokens as strings (allocates; for queries and tests).
    pub fn folded_words(&self) -> Vec<String> {
        words(&self.folded)
    }

    /// The exact tokens as strings (allocates; for queries and tests).
    pub fn exact_words(&self) -> Vec<String> {
        words(&self.exact)
    }
}

fn words(buffer: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(buffer)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The normalized tokens of a text, in order.
pub fn tokens(text: &str) -> Vec<String> {
    Tokens::new(text, false).folded_words()
}

/// The tokens of a text as written (NFKC only, case and accents kept), for `=Exact` terms.
pub fn exact_tokens(text: &str) -> Vec<String> {
    Tokens::new(text, true).exact_words()
}

/// The matching form of a text: its normalized tokens joined by single spaces.
/// Normalizing the result again gives the same string.
pub fn fold(text: &str) -> String {
    tokens(text).join(" ")
}

/// Folds one non-ASCII character into `out`: compatibility decomposition, lower case, marks
/// dropped, the letters that do not decompose mapped by hand.
fn fold_char(c: char, out: &mut String) {
    decompose_compatible(c, |base| {
        for lower in base.to_lowercase() {
            // Lower-casing can produce a precomposed letter again (rare); decompose it too.
            decompose_compatible(lower, |part| {
                if is_combining_mark(part) {
                    return;
                }
                match part {
                    'œ' => out.push_str("oe"),
                    'æ' => out.push_str("ae"),
                    'ß' => out.push_str("ss"),
                    'ø' => out.push('o'),
                    'ł' => out.push('l'),
                    'đ' => out.push('d'),
                    'ı' => out.push('i'),
                    'ð' => out.push('d'),
                    'þ' => out.push_str("th"),
                    other => out.push(other),
                }
            });
        }
    });
}

/// How a character folds, precomputed for the scripts most news is written in.
#[derive(Debug, Clone, Copy)]
enum Folded {
    /// Nothing is left (a combining mark): it belongs to the token before it.
    Nothing,
    /// Only letters or digits, as UTF-8.
    Letters { bytes: [u8; 8], len: u8 },
    /// Only separators (spaces, punctuation, curly apostrophes).
    Separator,
    /// Letters and separators, or too long for the table: fold it the slow way.
    Mixed,
}

/// Characters below this code point (Latin, Greek, Cyrillic, general punctuation) are looked
/// up in the table instead of decomposed one by one.
const TABLE_END: u32 = 0x2070;

fn table() -> &'static [Folded] {
    static TABLE: std::sync::OnceLock<Vec<Folded>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut scratch = String::new();
        (0..TABLE_END)
            .map(|code| {
                let Some(c) = char::from_u32(code) else {
                    return Folded::Mixed;
                };
                scratch.clear();
                fold_char(c, &mut scratch);
                if scratch.is_empty() {
                    Folded::Nothing
                } else if scratch.chars().all(char::is_alphanumeric) && scratch.len() <= 8 {
                    let mut bytes = [0u8; 8];
                    bytes[..scratch.len()].copy_from_slice(scratch.as_bytes());
                    Folded::Letters {
                        bytes,
                        len: scratch.len() as u8,
                    }
                } else if !scratch.chars().any(char::is_alphanumeric) {
                    Folded::Separator
                } else {
                    Folded::Mixed
                }
            })
            .collect()
    })
}

/// The state of one tokenizer pass.
struct Cutter<'a> {
    out: &'a mut Tokens,
    keep_exact: bool,
    /// Whether a token is open (the last character was part of one).
    open: bool,
    /// Whether the open token's exact form is plain ASCII (no NFKC needed).
    exact_ascii: bool,
}

impl Cutter<'_> {
    fn run(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut scratch = String::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphanumeric() {
                // The fast path: a whole run of ASCII letters and digits at once.
                let run = bytes[i..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .unwrap_or(bytes.len() - i);
                self.ascii(&bytes[i..i + run], i);
                i += run;
            } else if b < 0x80 {
                if b == b'<'
                    && let Some(end) = tag_end(bytes, i)
                {
                    self.close();
                    i = end;
                    continue;
                }
                if b == b'&'
                    && let Some((c, len)) = entity(&text[i..])
                {
                    self.char(c, i, i + len, &mut scratch);
                    i += len;
                    continue;
                }
                self.close();
                i += 1;
            } else {
                let c = text[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                let len = c.len_utf8();
                self.char(c, i, i + len, &mut scratch);
                i += len;
            }
        }
    }

    fn open(&mut self, start: usize) {
        if !self.open {
            self.open = true;
            self.exact_ascii = true;
            self.out.spans.push(TokenSpan {
                folded: self.out.folded.len() as u32,
                exact: self.out.exact.len() as u32,
                start: start as u32,
                end: start as u32,
            });
        }
    }

    fn extend(&mut self, end: usize) {
        if let Some(span) = self.out.spans.last_mut() {
            span.end = end as u32;
        }
    }

    fn ascii(&mut self, run: &[u8], at: usize) {
        self.open(at);
        self.out
            .folded
            .extend(run.iter().map(|b| b.to_ascii_lowercase()));
        if self.keep_exact {
            self.out.exact.extend_from_slice(run);
        }
        self.extend(at + run.len());
    }

    /// One decoded character that is not ASCII alphanumeric, spanning `start..end` of the text.
    fn char(&mut self, c: char, start: usize, end: usize, scratch: &mut String) {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                self.open(start);
                self.out.folded.push(c.to_ascii_lowercase() as u8);
                if self.keep_exact {
                    self.out.exact.push(c as u8);
                }
                self.extend(end);
            } else {
                self.close();
            }
            return;
        }
        if let Some(folded) = table().get(c as usize) {
            match folded {
                Folded::Letters { bytes, len } => {
                    self.open(start);
                    self.out.folded.extend_from_slice(&bytes[..*len as usize]);
                    self.extend(end);
                    self.push_exact(c);
                    return;
                }
                Folded::Separator => {
                    self.close();
                    return;
                }
                Folded::Nothing | Folded::Mixed => {}
            }
        }
        scratch.clear();
        fold_char(c, scratch);
        if scratch.is_empty() {
            // A combining mark (or a character that folds to nothing): it belongs to the
            // token it follows, and separates nothing.
            if self.open {
                self.push_exact(c);
                self.extend(end);
            }
            return;
        }
        let mut contributed = false;
        for folded in scratch.chars() {
            if folded.is_alphanumeric() {
                self.open(start);
                let mut buf = [0u8; 4];
                self.out
                    .folded
                    .extend_from_slice(folded.encode_utf8(&mut buf).as_bytes());
                self.extend(end);
                contributed = true;
            } else {
                self.close();
            }
        }
        if contributed && self.open {
            self.push_exact(c);
        }
    }

    fn push_exact(&mut self, c: char) {
        if self.keep_exact {
            let mut buf = [0u8; 4];
            self.out
                .exact
                .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            self.exact_ascii = false;
        }
    }

    fn close(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        self.out.folded.push(b' ');
        if self.keep_exact {
            if !self.exact_ascii
                && let Some(span) = self.out.spans.last()
            {
                let from = span.exact as usize;
                let written = String::from_utf8_lossy(&self.out.exact[from..]).into_owned();
                let composed: String = written.nfkc().collect();
                self.out.exact.truncate(from);
                // NFKC can split a character into pieces that are not letters (`½` → `1⁄2`);
                // keep the token one token in the exact form, whatever it holds.
                for c in composed.chars() {
                    let mut buf = [0u8; 4];
                    let c = if c == ' ' { '_' } else { c };
                    self.out
                        .exact
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            self.out.exact.push(b' ');
        }
    }
}

/// If an HTML tag (or comment, or declaration) starts at `at`, the offset just after it.
/// A `<` that does not start a tag (`a < b`, `<3`) is text.
fn tag_end(bytes: &[u8], at: usize) -> Option<usize> {
    let next = *bytes.get(at + 1)?;
    if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?') {
        return None;
    }
    if bytes[at + 1..].starts_with(b"!--") {
        let rest = &bytes[at + 4..];
        let close = rest.windows(3).position(|w| w == b"-->")?;
        return Some(at + 4 + close + 3);
    }
    let mut quote = None;
    for (offset, &b) in bytes[at + 1..].iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(at + 1 + offset + 1),
            None if b == b'<' => return None,
            None => {}
        }
    }
    None
}

/// Decodes the entity at the start of `text` (which starts with `&`): the character and the
/// entity's length in bytes. Named entities need their `;`; numeric ones too.
fn entity(text: &str) -> Option<(char, usize)> {
    let bytes = text.as_bytes();
    let semicolon = bytes.iter().take(40).position(|&b| b == b';')?;
    let name = &text[1..semicolon];
    let c = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        char::from_u32(code).filter(|&c| c != '\0')?
    } else {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (first, _) = *markup5ever::data::NAMED_ENTITIES.get(&text[1..=semicolon])?;
        char::from_u32(first).filter(|&c| c != '\0')?
    };
    Some((c, semicolon + 1))
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
            ("Cafe\u{301} noir", &["cafe", "noir"]),
            ("", &[]),
            ("  ... !!", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(tokens(text), *expected, "tokens of {text:?}");
        }
    }

    #[test]
    fn strips_tags_and_decodes_entities_once() {
        let cases: &[(&str, &[&str])] = &[
            ("<b>Acme</b> Corp", &["acme", "corp"]),
            ("<a href=\"https://nordvent.example\">lien</a>", &["lien"]),
            ("<img alt='Acme logo'>", &[]),
            ("Acme<br>Corp", &["acme", "corp"]),
            (
                "Soci&eacute;t&eacute; G&#233;n&#xE9;rale",
                &["societe", "generale"],
            ),
            ("l&rsquo;Or&eacute;al", &["l", "oreal"]),
            ("&amp;lt;b&amp;gt;", &["lt", "b", "gt"]),
            ("&lt;b&gt;gras&lt;/b&gt;", &["b", "gras", "b"]),
            ("a < b et c > d", &["a", "b", "et", "c", "d"]),
            ("AT&T &unknown; &#xZZ;", &["at", "t", "unknown", "xzz"]),
            ("<!-- Acme --> visible", &["visible"]),
            ("C&oelig;ur", &["coeur"]),
        ];
        for (text, expected) in cases {
            assert_eq!(tokens(text), *expected, "tokens of {text:?}");
        }
    }

    #[test]
    fn exact_form_keeps_case_and_accents() {
        let cases: &[(&str, &[&str])] = &[
            ("d’Orange", &["d", "Orange"]),
            ("Soci&eacute;t&eacute;", &["Société"]),
            ("Société", &["Société"]),
            ("Socie\u{301}te\u{301}", &["Société"]),
            ("ＡＣＭＥ", &["ACME"]),
            ("ﬁnance", &["finance"]),
        ];
        for (text, expected) in cases {
            assert_eq!(exact_tokens(text), *expected, "exact tokens of {text:?}");
        }
    }

    #[test]
    fn spans_point_into_the_original_text() {
        let text = "L’<b>Oréal</b> &amp; Soci&eacute;t&eacute;";
        let tokens = Tokens::new(text, true);
        let pieces: Vec<&str> = tokens
            .spans
            .iter()
            .map(|s| &text[s.start as usize..s.end as usize])
            .collect();
        assert_eq!(pieces, vec!["L", "Oréal", "Soci&eacute;t&eacute;"]);
        assert_eq!(tokens.at_folded(1), Some(0));
        assert_eq!(tokens.at_folded(3), Some(1));
        assert_eq!(tokens.at_folded(2), None);
    }

    #[test]
    fn fold_is_idempotent_on_samples() {
        for text in [
            "Œuvre d’art",
            "ÉCOLE",
            "naïve façade",
            "ǅ digraph",
            "İstanbul",
        ] {
            let once = fold(text);
            assert_eq!(fold(&once), once, "{text:?}");
        }
    }
}
