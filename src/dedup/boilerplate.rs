//! Boilerplate: the parts of an item that are the outlet talking, not the story.
//!
//! Two outlets carrying one wire story wrap it differently ("Lire aussi : ...", "Cet article
//! est réservé aux abonnés", a signature line), and one outlet wraps every story the same
//! way. Left in, the wrapping makes copies of one story look less alike, and, worse, makes
//! two different stories of the same outlet or template look alike. Item text reaches us as
//! one line (markup already flattened), so the unit is the sentence: the text is cut at
//! sentence ends, each sentence is keyed by a hash of its normalized words, and a sentence
//! is dropped when it is a known footer ([`is_footer`]) or when the store has seen the same
//! key in [`RECURRING_MIN`] earlier items of the same source.
//!
//! Trade-off: the first items of a new source are fingerprinted with their boilerplate (the
//! store has not seen it repeat yet); the guards of [`crate::dedup::fingerprint`] (minimum
//! shared content) cover that start.

use xxhash_rust::xxh3::xxh3_64;

use crate::matching::normalize;

/// A sentence seen in this many earlier items of the same source is boilerplate.
pub const RECURRING_MIN: i64 = 2;

/// Sentences that start like this link elsewhere or sell something: never the story.
const FOOTER_STARTS: &[&str] = &[
    "lire aussi",
    "a lire aussi",
    "a lire egalement",
    "lire egalement",
    "voir aussi",
    "lire la suite",
    "cet article est reserve",
    "abonnez vous",
    "read more",
    "read also",
    "see also",
    "related",
    "also read",
    "subscribe",
    "sign up",
    "click here",
    "cliquez ici",
];

/// One sentence of an item, with the key under which its recurrence is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub key: u64,
    /// The normalized words of the sentence, joined by single spaces (one allocation per
    /// sentence, not per word: the store holds the sentences of a whole run at once).
    pub words: String,
}

impl Segment {
    /// The normalized words, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.words.split(' ')
    }

    /// Whether the sentence is a footer or link line, whatever the source.
    pub fn is_footer(&self) -> bool {
        is_footer(&self.words)
    }
}

/// Cuts an item's title and text into keyed sentences (empty ones dropped).
pub fn segments(title: &str, text: &str) -> Vec<Segment> {
    std::iter::once(title)
        .chain(text.split_inclusive(['.', '!', '?', '…', '|', '•', '\n']))
        .filter_map(|sentence| {
            let tokens = normalize::tokens(sentence);
            if tokens.is_empty() {
                return None;
            }
            let words = tokens.join(" ");
            Some(Segment {
                key: xxh3_64(words.as_bytes()),
                words,
            })
        })
        .collect()
}

/// Whether normalized words (joined by single spaces) start like a footer ("lire aussi",
/// "read more"): whole words, so "related" is not "relations".
pub fn is_footer(words: &str) -> bool {
    FOOTER_STARTS.iter().any(|start| {
        words
            .strip_prefix(start)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_sentence_ends_and_the_title_is_a_sentence() {
        let segs = segments("Le titre", "Première phrase. Deuxième ! Troisième? Fin");
        let words: Vec<&str> = segs.iter().map(|s| s.words.as_str()).collect();
        assert_eq!(
            words,
            [
                "le titre",
                "premiere phrase",
                "deuxieme",
                "troisieme",
                "fin"
            ]
        );
    }

    #[test]
    fn same_words_same_key_whatever_the_case_and_accents() {
        let a = segments("", "Abonnez-vous à notre lettre.");
        let b = segments("", "ABONNEZ VOUS A NOTRE LETTRE !");
        assert_eq!(a[0].key, b[0].key);
        assert_ne!(
            a[0].key,
            segments("", "Abonnez-vous à notre journal.")[0].key
        );
    }

    #[test]
    fn footers_are_recognized_in_both_languages() {
        let cases: &[(&str, bool)] = &[
            ("Lire aussi : la grève continue", true),
            ("À lire aussi. ", true),
            ("Read more: the strike goes on", true),
            ("Cet article est réservé aux abonnés", true),
            ("Il faut lire aussi le rapport", false),
            ("Relations between the two firms", false),
        ];
        for (sentence, footer) in cases {
            let segs = segments("", sentence);
            assert_eq!(segs[0].is_footer(), *footer, "{sentence}");
        }
    }
}
