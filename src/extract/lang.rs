//! The language of an item: what its source declares, else what its text looks like.
//!
//! A declaration wins: the entry's own (`xml:lang` on an Atom `<entry>`), else the feed's
//! (RSS `<language>`, the Atom root's `xml:lang`, JSON Feed's `language`), else the page's
//! (`<html lang>`, `<meta http-equiv="content-language">`). [`declared`] reduces a
//! declaration to its primary subtag, lowercase, as ISO 639-1 when the language has a
//! two-letter code (`fr-FR`, `fr_FR`, `FRA` → `fr`), and drops what is not a language
//! (`*`, `x-klingon`, `und`, a code ISO 639 does not know, a paragraph): a feed that
//! declares junk is read as one that declares nothing. Trade-off: a declaration is trusted
//! as written; a French blog whose CMS says `en-US` stays `en`.
//!
//! An undeclared item's language is detected ([`detect`]) from a bounded sample
//! ([`SAMPLE_BYTES`] of the title then the text, links and handles left out) with at least
//! [`MIN_LETTERS`] letters. First by its function words (`FUNCTION_WORDS`: `the`, `und`,
//! `les`… of seven languages, each word one language's): when one language has clearly
//! more of them, that is the answer, in a few microseconds. Else by whatlang: character
//! trigram profiles of 69 languages compiled into the binary, nothing loaded at run time;
//! only an answer whatlang deems reliable is kept. A wrong language hides an item from a
//! `lang:` filter, an unknown one need not, so a short title alone stays `None`.
//!
//! Cost, measured in a release build on the 2,341 corpus items (2 cores): whatlang takes
//! some 100 µs for a full sample of Latin-script text, because it scores every sample
//! against all 37 of its Latin-script languages; with the function words first, a detection
//! costs 13 µs on average (22 µs for items of 500 bytes and more), and agrees with the
//! declarations of the 578 items that have one a little more often than whatlang alone
//! (526 agree instead of 523; the same 3 differ: sources whose declaration is wrong; 49
//! unknown). A changed feed is parsed whole at each poll, so detections are remembered by
//! the hash of their sample ([`REMEMBERED`]): an item seen before costs about 2 µs.
//! Trade-off: a few megabytes per process for that memory. Declared items cost nothing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use xxhash_rust::xxh3::xxh3_64;

pub use crate::language::declared;
use crate::language::from_639_3;

/// Bytes of an item (title, then text) the detector reads. On the corpus items whose feed
/// or page declares a language, samples of 300, 500 and 1,000 bytes gave the same answers
/// within a few items (500 bytes: 523 agree, 3 differ, 52 unknown), and whatlang's cost
/// grows with the sample (a fifth more from 300 to 1,000 bytes).
pub const SAMPLE_BYTES: usize = 500;

/// Fewer letters than this in the sample and the detector is not asked: whatlang answers
/// with full confidence for any text in a script only one of its languages uses (a Greek
/// or Hangul word), which is too little to call an item's language.
pub const MIN_LETTERS: usize = 40;

/// How many detections a process remembers, by the hash of their sample. whatlang scores a
/// Latin-script text against the 300 most frequent trigrams of each of its 37 Latin-script
/// languages, which costs the same for a short sample as for a long one, and no public
/// option makes it cheaper without dropping languages (which would turn an unknown into a
/// wrong answer). Remembered, an item seen before costs a hash and a lookup. 24 bytes an
/// entry, some 3 MB with the table's slack when full; the memory is emptied at once when
/// it fills, so the next polls detect again.
pub const REMEMBERED: usize = 65_536;

/// Detections made in this process (a parsing worker's, or the daemon's), by sample hash.
static DETECTED: LazyLock<Mutex<HashMap<u64, Option<&'static str>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The language of an undeclared item, from its title and text; `None` when the sample is
/// too short or whatlang is not sure (see the module doc).
pub fn detect(title: &str, text: &str) -> Option<String> {
    let sample = sample(title, text);
    if sample.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    let key = xxh3_64(sample.as_bytes());
    let known = DETECTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .copied();
    let found = match known {
        Some(found) => found,
        None => {
            let found = by_function_words(&sample).or_else(|| detect_sample(&sample));
            let mut detected = DETECTED.lock().unwrap_or_else(PoisonError::into_inner);
            remember(&mut detected, key, found, REMEMBERED);
            found
        }
    };
    found.map(str::to_string)
}

/// Function words of the languages most news veille reads is written in, each word
/// belonging to one language only (words two of them share, like `de`, `en`, `que`, `con`,
/// are left out, so a hit is a vote for one language).
const FUNCTION_WORDS: &[(&str, &[&str])] = &[
    (
        "fr",
        &[
            "le", "la", "les", "des", "du", "et", "est", "une", "dans", "pour", "qui", "sur", "au",
            "aux", "avec", "pas", "ce", "cette", "sont", "ont", "été", "mais", "leur", "ses",
            "son", "ou", "il", "elle", "nous", "vous", "ils", "qu",
        ],
    ),
    (
        "en",
        &[
            "the", "and", "of", "to", "is", "that", "for", "with", "was", "are", "from", "this",
            "have", "has", "will", "which", "by", "be", "it", "its", "were", "been", "their",
            "said", "at", "an", "they", "he", "she", "would", "not",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "del", "y", "una", "por", "para", "es", "se", "al", "lo", "como",
            "más", "pero", "sus", "fue", "han", "está", "también", "su",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "nicht", "mit", "den", "dem", "von", "zu", "ein",
            "eine", "auf", "für", "sich", "auch", "wird", "sind", "bei", "im",
        ],
    ),
    (
        "it",
        &[
            "il", "di", "è", "della", "delle", "degli", "gli", "per", "sono", "nel", "nella",
            "non", "anche", "alla", "dei", "dal", "questo", "questa",
        ],
    ),
    (
        "pt",
        &[
            "os", "da", "do", "das", "dos", "em", "não", "uma", "com", "ao", "mais", "foi", "são",
            "pela", "pelo", "também", "seu", "sua",
        ],
    ),
    (
        "nl",
        &[
            "het", "een", "van", "niet", "met", "op", "voor", "zijn", "dat", "worden", "wordt",
            "ook", "bij", "naar", "werd", "hun",
        ],
    ),
];

/// At least this many function words of the winning language, and this many times as many
/// as of any other, for [`by_function_words`] to answer.
const FUNCTION_WORD_HITS: usize = 4;
const FUNCTION_WORD_MARGIN: usize = 4;

/// The language of a sample whose function words leave no doubt, without whatlang: a few
/// microseconds instead of some 100, for most news in the languages of [`FUNCTION_WORDS`].
/// `None` when the count is close or low (a short or mixed text), which whatlang then reads.
fn by_function_words(sample: &str) -> Option<&'static str> {
    let mut counts = [0usize; FUNCTION_WORDS.len()];
    let mut lower = String::new();
    for word in sample.split(|c: char| !c.is_alphabetic()) {
        if word.is_empty() || word.len() > 12 {
            continue;
        }
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        // A word is in one list at most (see FUNCTION_WORDS), except il (fr and it): then
        // it counts for neither.
        let mut found = None;
        for (i, (_, words)) in FUNCTION_WORDS.iter().enumerate() {
            if words.contains(&lower.as_str()) {
                found = if found.is_none() { Some(i) } else { None };
                if found.is_none() {
                    break;
                }
            }
        }
        if let Some(i) = found {
            counts[i] += 1;
        }
    }
    let (best, &hits) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
    let runner_up = counts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best)
        .map(|(_, c)| *c)
        .max()
        .unwrap_or(0);
    (hits >= FUNCTION_WORD_HITS && hits >= FUNCTION_WORD_MARGIN * runner_up.max(1))
        .then(|| FUNCTION_WORDS[best].0)
}

/// What whatlang says of a sample, when it is sure.
fn detect_sample(sample: &str) -> Option<&'static str> {
    // whatlang's own bar: a confidence above 0.9, where 1 means the best language's score
    // beat the second's by a margin that shrinks as the sample grows. On the corpus items
    // whose source declares a language (578), answers under 0.5 disagreed with the
    // declaration more often than not (8 agree, 11 differ), those from 0.5 to 0.9 were too
    // few to loosen the bar for (9 and 1), and those above agreed 521 times out of 524 (the
    // 3 others: an English text in a feed declared German, French ones on pages declared
    // English).
    whatlang::detect(sample)
        .filter(whatlang::Info::is_reliable)
        .and_then(|info| from_639_3(info.lang().code()))
}

/// Remembers a detection, emptying the memory first when it holds `capacity` of them.
fn remember(
    detected: &mut HashMap<u64, Option<&'static str>>,
    key: u64,
    found: Option<&'static str>,
    capacity: usize,
) {
    if detected.len() >= capacity {
        detected.clear();
    }
    detected.insert(key, found);
}

/// The words of the title then the text, at most [`SAMPLE_BYTES`], without links, handles
/// and hashtags (their trigrams are no language's, and a post is often half made of them).
fn sample(title: &str, text: &str) -> String {
    let mut out = String::with_capacity(SAMPLE_BYTES + 4);
    let words = title.split_whitespace().chain(text.split_whitespace());
    for word in words {
        if word.contains("://") || word.starts_with(['@', '#']) || word.starts_with("www.") {
            continue;
        }
        let room = SAMPLE_BYTES.saturating_sub(out.len() + 1);
        if room == 0 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word[..word.floor_char_boundary(room)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRENCH: (&str, &str) = (
        "Nordvent Énergie inaugure son parc éolien au large de Fécamp",
        "Soixante-deux éoliennes ont été mises en service mercredi, après sept ans de \
         procédures. Le groupe normand prévoit d'en construire deux autres d'ici la fin de \
         la décennie, malgré l'opposition des pêcheurs.",
    );
    const ENGLISH: (&str, &str) = (
        "Regulators approve the new offshore wind interconnector",
        "The link will carry power from three wind farms to the mainland grid from next \
         winter. Officials said the decision followed two years of consultation with local \
         fishing groups, who had opposed the route.",
    );

    #[test]
    fn function_words_answer_only_when_they_leave_no_doubt() {
        let clear: &[(&str, &str)] = &[
            (FRENCH.1, "fr"),
            (ENGLISH.1, "en"),
            (
                "Il governo ha approvato il piano per l'energia eolica: sono previsti tre \
                 parchi nella regione, e anche gli investitori della zona non si oppongono \
                 alla decisione dei sindaci.",
                "it",
            ),
        ];
        for (text, want) in clear {
            assert_eq!(by_function_words(text), Some(*want), "{text}");
        }
        let unsure = [
            // Too few function words: whatlang decides.
            "Nordvent Fécamp éoliennes mercredi",
            // Half French, half English.
            "Le parc est ouvert et la ville est contente. The farm is open and the town is happy.",
            "",
        ];
        for text in unsure {
            assert_eq!(by_function_words(text), None, "{text}");
        }
    }

    #[test]
    fn news_items_are_detected() {
        let cases: &[((&str, &str), &str)] = &[
            (FRENCH, "fr"),
            (ENGLISH, "en"),
            (
                (
                    "Windkraft: Neuer Rekord im dritten Quartal",
                    "Die Anlagen in der Nordsee haben so viel Strom erzeugt wie nie zuvor. \
                     Der Verband rechnet damit, dass der Ausbau im kommenden Jahr weiter \
                     zunimmt.",
                ),
                "de",
            ),
            (
                (
                    "El Gobierno aprueba el nuevo plan eólico marino",
                    "El plan prevé la instalación de tres parques frente a las costas de \
                     Galicia y Canarias antes de 2030. Los pescadores han anunciado que \
                     recurrirán la decisión ante los tribunales.",
                ),
                "es",
            ),
        ];
        for ((title, text), want) in cases {
            assert_eq!(detect(title, text).as_deref(), Some(*want), "{title}");
            // Remembered: the same answer again.
            assert_eq!(
                detect(title, text).as_deref(),
                Some(*want),
                "{title}, again"
            );
        }
    }

    #[test]
    fn the_memory_of_detections_is_emptied_when_full() {
        let mut detected = HashMap::new();
        remember(&mut detected, 1, Some("fr"), 2);
        remember(&mut detected, 2, None, 2);
        assert_eq!(detected.len(), 2);
        remember(&mut detected, 3, Some("en"), 2);
        assert_eq!(detected, HashMap::from([(3, Some("en"))]));
    }

    #[test]
    fn too_little_text_stays_unknown() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("Nordvent inaugure Fécamp", ""),
            ("Storm warning issued", ""),
            ("Ωραία μέρα", ""),
            (
                "",
                "https://news.example/a @alice@mastodon.example #nordvent",
            ),
            ("2026-11-27", "12:30 — 4 % — 500 MW"),
        ];
        for (title, text) in cases {
            assert_eq!(detect(title, text), None, "{title:?} {text:?}");
        }
    }

    #[test]
    fn the_sample_is_bounded_and_skips_links_and_handles() {
        let text = format!("{} {}", "mot ".repeat(1_000), "é".repeat(5_000));
        let got = sample("Titre", &text);
        assert!(got.len() <= SAMPLE_BYTES, "{}", got.len());
        assert!(got.starts_with("Titre mot mot"), "{got:.40}");
        // One 10 kB word is cut inside, on a character boundary.
        let got = sample("", &"é".repeat(5_000));
        assert!(
            got.len() <= SAMPLE_BYTES && got.len() >= SAMPLE_BYTES - 2,
            "{}",
            got.len()
        );
        assert_eq!(
            sample(
                "Nordvent @alice #eolien",
                "voir https://x.example/a et www.x.example"
            ),
            "Nordvent voir et"
        );
    }
}
