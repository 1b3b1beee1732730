//! `veille suggest`: exclusion terms and noisy sources, read from a watch's judgments.
//!
//! An admin who has judged a few dozen mentions wants to fix the query, not only to let the
//! classifier rank around the noise. This module proposes what to add to the TOML; it never
//! changes anything by itself (the CLI prints the hints).
//!
//! Terms: a word, or a 2–3 word phrase (`jus d'orange`: first and last words carry meaning,
//! the middle one may be an elision or a preposition), written within [`NEAR_WORDS`] words
//! of a query term in at least [`MIN_TERM_MENTIONS`] mentions judged irrelevant, and
//! written **nowhere** in a mention judged relevant or crisis. Stop words, tokens shorter
//! than [`MIN_TERM_LEN`], bare numbers and the watch's own query terms are never proposed as
//! words; a phrase may contain a query term (that is the point of `NOT "jus d'orange"` on a
//! watch for `orange`). A phrase is dropped when a proposed word already excludes it, and a
//! phrase inside another proposed phrase is not proposed twice. Ranked by the number of
//! irrelevant mentions, at most [`MAX_TERMS`], each written the way it was most often
//! written in the judged mentions.
//!
//! Sources: those with at least [`MIN_SOURCE_MENTIONS`] judged mentions of which at least
//! [`NOISY_SHARE`] were irrelevant, most irrelevant first: candidates for a lower `weight`
//! or for leaving the watch.
//!
//! Only words near a query term count because the word that tells the juice from the
//! operator sits next to the name ("jus d'orange", "vigilance orange", "Renault Trucks"),
//! while the rest of a lede is whatever the story is about: without that window, any
//! everyday word of a recurring noise story ("deux", "heures", "officials") would be
//! proposed. The cost: a telling word far from the name is missed (the classifier still
//! learns it).
//!
//! Trade-off: "absent from every relevant mention" is strict — one relevant article that
//! happens to say "jus" hides the word — but an exclusion that would have dropped a relevant
//! mention is exactly what must not be proposed, and the classifier covers the softer cases.

use std::collections::{HashMap, HashSet};

use crate::matching::normalize::{Tokens, tokens};

use super::learn::{Example, is_content_token};

/// A term must occur in at least this many irrelevant mentions.
pub const MIN_TERM_MENTIONS: usize = 3;
/// Terms proposed at most.
pub const MAX_TERMS: usize = 10;
/// A proposed word is at least this long (in bytes, folded).
pub const MIN_TERM_LEN: usize = 3;
/// A source needs this many judged mentions before it can be called noisy.
pub const MIN_SOURCE_MENTIONS: usize = 5;
/// Share of irrelevant mentions from which a source is noisy.
pub const NOISY_SHARE: f64 = 0.8;
/// A candidate word or phrase must start or end this close (in words) to a query term.
pub const NEAR_WORDS: usize = 6;
/// Sources proposed at most.
pub const MAX_SOURCES: usize = 10;

/// What `veille suggest` shows for one watch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suggestions {
    pub terms: Vec<TermSuggestion>,
    pub sources: Vec<SourceSuggestion>,
    /// Judged mentions read.
    pub judged: usize,
}

/// A candidate exclusion: as written in the mentions (`jus`, `jus d'orange`).
#[derive(Debug, Clone, PartialEq)]
pub struct TermSuggestion {
    pub term: String,
    pub irrelevant: usize,
    /// Always 0 today (a term found in a relevant mention is not proposed); kept so the CLI
    /// can show it should the rule soften.
    pub relevant: usize,
}

/// A source whose judged mentions were mostly irrelevant.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSuggestion {
    pub source: String,
    pub irrelevant: usize,
    pub relevant: usize,
}

/// Counts for one candidate term (folded tokens).
#[derive(Default)]
struct Tally {
    irrelevant: usize,
    relevant: usize,
    /// How often each surface form was seen, and the order forms were first seen.
    forms: HashMap<String, (usize, usize)>,
}

/// Proposes exclusion terms and noisy sources for one watch from its judged mentions.
/// `watch_terms` are the watch's query terms as written ([`crate::matching::Term::display`]:
/// `orange`, `=Total`, `renault*`, `jus d'orange`): never proposed back.
pub fn suggest(examples: &[Example<'_>], watch_terms: &[String]) -> Suggestions {
    let excluded = WatchTerms::new(watch_terms);
    let mut tallies: HashMap<Vec<String>, Tally> = HashMap::new();
    let mut seen_forms = 0usize;
    for example in examples {
        let mut grams: HashMap<Vec<String>, String> = HashMap::new();
        // A relevant mention vetoes a term wherever it says it; an irrelevant one proposes
        // only what it says near the query term.
        for field in [example.title, example.text] {
            collect_grams(field, &excluded, !example.relevant, &mut grams);
        }
        for (gram, form) in grams {
            let tally = tallies.entry(gram).or_default();
            if example.relevant {
                tally.relevant += 1;
            } else {
                tally.irrelevant += 1;
                let entry = tally.forms.entry(form).or_insert((0, seen_forms));
                entry.0 += 1;
                seen_forms += 1;
            }
        }
    }

    let mut candidates: Vec<(Vec<String>, Tally)> = tallies
        .into_iter()
        .filter(|(_, t)| t.relevant == 0 && t.irrelevant >= MIN_TERM_MENTIONS)
        .collect();
    // Most irrelevant mentions first; at equal count a word before a phrase, so the phrase
    // is dropped as already covered; then by text, for a stable order.
    candidates.sort_by(|(a, ta), (b, tb)| {
        tb.irrelevant
            .cmp(&ta.irrelevant)
            .then(a.len().cmp(&b.len()))
            .then(a.cmp(b))
    });
    let mut chosen: Vec<(Vec<String>, TermSuggestion)> = Vec::new();
    for (gram, tally) in candidates {
        if chosen.len() >= MAX_TERMS {
            break;
        }
        let covered = chosen.iter().any(|(picked, _)| {
            (picked.len() == 1 && gram.contains(&picked[0]))
                || contains_run(picked, &gram)
                || contains_run(&gram, picked)
        });
        if covered {
            continue;
        }
        let term = written_form(&tally.forms).unwrap_or_else(|| gram.join(" "));
        chosen.push((
            gram,
            TermSuggestion {
                term,
                irrelevant: tally.irrelevant,
                relevant: tally.relevant,
            },
        ));
    }

    let mut by_source: HashMap<&str, (usize, usize)> = HashMap::new();
    for example in examples {
        let counts = by_source.entry(example.source).or_default();
        if example.relevant {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }
    let mut sources: Vec<SourceSuggestion> = by_source
        .into_iter()
        .filter(|(_, (irrelevant, relevant))| {
            let total = irrelevant + relevant;
            total >= MIN_SOURCE_MENTIONS && *irrelevant as f64 >= NOISY_SHARE * total as f64
        })
        .map(|(source, (irrelevant, relevant))| SourceSuggestion {
            source: source.to_string(),
            irrelevant,
            relevant,
        })
        .collect();
    sources.sort_by(|a, b| {
        b.irrelevant
            .cmp(&a.irrelevant)
            .then(a.relevant.cmp(&b.relevant))
            .then(a.source.cmp(&b.source))
    });
    sources.truncate(MAX_SOURCES);

    Suggestions {
        terms: chosen.into_iter().map(|(_, t)| t).collect(),
        sources,
        judged: examples.len(),
    }
}

/// The form to show: the spelling seen most often, compared without case; in lower case
/// when it was ever written so (a sentence-initial "Jus" is the word "jus"), else as written
/// (a name: "Trucks", "Eclipse").
fn written_form(forms: &HashMap<String, (usize, usize)>) -> Option<String> {
    /// The forms of one word that differ only by case.
    struct Spelling<'a> {
        count: usize,
        first: usize,
        has_lower: bool,
        /// The most frequent form, (count, first seen, form).
        best: (usize, usize, &'a str),
    }
    let mut by_lower: HashMap<String, Spelling<'_>> = HashMap::new();
    for (form, &(count, first)) in forms {
        let lower = form.to_lowercase();
        let entry = by_lower.entry(lower.clone()).or_insert(Spelling {
            count: 0,
            first: usize::MAX,
            has_lower: false,
            best: (0, usize::MAX, form.as_str()),
        });
        entry.count += count;
        entry.first = entry.first.min(first);
        entry.has_lower |= *form == lower;
        if (count, std::cmp::Reverse(first)) > (entry.best.0, std::cmp::Reverse(entry.best.1)) {
            entry.best = (count, first, form.as_str());
        }
    }
    by_lower
        .into_iter()
        .max_by(|(_, a), (_, b)| a.count.cmp(&b.count).then(b.first.cmp(&a.first)))
        .map(|(lower, spelling)| {
            if spelling.has_lower {
                lower
            } else {
                spelling.best.2.to_string()
            }
        })
}

/// Whether `inner` occurs as a run of consecutive tokens in `outer` (and is shorter).
fn contains_run(outer: &[String], inner: &[String]) -> bool {
    inner.len() < outer.len() && outer.windows(inner.len()).any(|w| w == inner)
}

/// The watch's own terms, folded: never proposed as exclusions.
struct WatchTerms {
    /// Every token of every term.
    tokens: HashSet<String>,
    /// Prefix terms (`renault*`): a token starting with one is the watch's own word.
    prefixes: Vec<String>,
    /// Whole multi-word terms.
    phrases: HashSet<Vec<String>>,
}

impl WatchTerms {
    fn new(written: &[String]) -> WatchTerms {
        let mut out = WatchTerms {
            tokens: HashSet::new(),
            prefixes: Vec::new(),
            phrases: HashSet::new(),
        };
        for term in written {
            let folded = tokens(term);
            if term.trim().trim_end_matches(['"', '”', '»']).ends_with('*')
                && let Some(last) = folded.last()
            {
                out.prefixes.push(last.clone());
            }
            out.tokens.extend(folded.iter().cloned());
            out.phrases.insert(folded);
        }
        out
    }

    fn is_own_word(&self, token: &str) -> bool {
        self.tokens.contains(token) || self.prefixes.iter().any(|p| token.starts_with(p.as_str()))
    }
}

/// Adds the candidate words and phrases of one field, with the form each was written in.
fn collect_grams(
    text: &str,
    watch: &WatchTerms,
    near_only: bool,
    out: &mut HashMap<Vec<String>, String>,
) {
    let cut = Tokens::new(text, false);
    let words = cut.folded_words();
    let own: Vec<usize> = (0..words.len())
        .filter(|&i| watch.is_own_word(&words[i]))
        .collect();
    if near_only && own.is_empty() {
        return;
    }
    let near = |from: usize, to: usize| {
        !near_only
            || own
                .iter()
                .any(|&o| o + NEAR_WORDS >= from && o <= to + NEAR_WORDS)
    };
    let meaningful = |w: &str| is_content_token(w) && w.len() >= MIN_TERM_LEN;
    let form = |from: usize, to: usize| -> Option<String> {
        let start = cut.spans.get(from)?.start as usize;
        let end = cut.spans.get(to)?.end as usize;
        text.get(start..end).map(str::to_string)
    };
    for (i, word) in words.iter().enumerate() {
        if !near(i, i) {
            continue;
        }
        if meaningful(word)
            && !watch.is_own_word(word)
            && let Some(written) = form(i, i)
        {
            out.entry(vec![word.clone()]).or_insert(written);
        }
        // Phrases: meaningful first and last words (a query term counts as meaningful
        // here: `jus d'orange`), anything short in the middle.
        let anchor = |w: &str| meaningful(w) || watch.tokens.contains(w);
        if !anchor(word) {
            continue;
        }
        for len in [2usize, 3] {
            let Some(gram) = words.get(i..i + len) else {
                break;
            };
            let last = &gram[len - 1];
            if !anchor(last) || (len == 3 && gram[1].len() > 3) {
                continue;
            }
            // A phrase made only of the watch's own words is the query itself.
            if gram.iter().all(|w| watch.is_own_word(w)) || watch.phrases.contains(gram) {
                continue;
            }
            if let Some(written) = form(i, i + len - 1) {
                out.entry(gram.to_vec()).or_insert(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(
        title: &'static str,
        text: &'static str,
        source: &'static str,
        relevant: bool,
    ) -> Example<'static> {
        Example {
            title,
            text,
            source,
            outlet: None,
            relevant,
        }
    }

    fn table() -> Vec<Example<'static>> {
        vec![
            ex(
                "Orange relève ses tarifs",
                "L'opérateur Orange annonce une hausse.",
                "eco",
                true,
            ),
            ex(
                "Orange et la fibre",
                "Le déploiement de la fibre accélère.",
                "eco",
                true,
            ),
            ex(
                "Panne du réseau Orange",
                "Des milliers d'abonnés privés de mobile.",
                "tech",
                true,
            ),
            ex(
                "Orange recrute",
                "L'opérateur embauche des techniciens.",
                "eco",
                true,
            ),
            ex(
                "Orange : grève",
                "Les syndicats de l'opérateur appellent à la grève.",
                "tech",
                true,
            ),
            ex(
                "Le jus d'orange du matin",
                "Un jus pressé, riche en vitamines.",
                "cuisine",
                false,
            ),
            ex(
                "Recette : canard à l'orange",
                "Le canard et son jus d'orange.",
                "cuisine",
                false,
            ),
            ex(
                "Gâteau à l'orange",
                "Un gâteau moelleux au Jus d'orange frais.",
                "cuisine",
                false,
            ),
            ex(
                "Cocktail orange",
                "Du jus d'orange et de la grenadine.",
                "cuisine",
                false,
            ),
            ex(
                "Orange: concert au théâtre antique",
                "Le festival d'Orange ouvre.",
                "agenda",
                false,
            ),
            ex(
                "Ville d'Orange",
                "Le maire d'Orange inaugure la place.",
                "agenda",
                false,
            ),
            ex(
                "Orange, Vaucluse",
                "Le marché d'Orange du jeudi.",
                "cuisine",
                true,
            ),
        ]
    }

    #[test]
    fn finds_the_planted_noise_term_and_source_never_a_watch_term() {
        let got = suggest(&table(), &["orange".to_string()]);
        assert_eq!(got.judged, 12);
        let terms: Vec<&str> = got.terms.iter().map(|t| t.term.as_str()).collect();
        // "jus" is in four irrelevant mentions and no relevant one: first, as written most.
        assert_eq!(
            got.terms.first().map(|t| t.term.as_str()),
            Some("jus"),
            "{terms:?}"
        );
        assert_eq!(got.terms[0].irrelevant, 4);
        assert_eq!(got.terms[0].relevant, 0);
        // "jus d'orange" is covered by "jus"; "orange" is the watch's own term.
        for term in &terms {
            let folded = tokens(term);
            assert!(
                !folded.contains(&"jus".to_string()) || *term == "jus",
                "{terms:?}"
            );
            assert_ne!(folded, vec!["orange".to_string()], "{terms:?}");
        }
        // "opérateur" is in relevant mentions: never an exclusion.
        assert!(
            !terms.iter().any(|t| tokens(t) == ["operateur"]),
            "{terms:?}"
        );
        assert_eq!(
            got.sources,
            vec![SourceSuggestion {
                source: "cuisine".into(),
                irrelevant: 4,
                relevant: 1,
            }]
        );
    }

    #[test]
    fn a_phrase_with_the_watch_term_is_proposed_when_no_word_covers_it() {
        let mut examples = table();
        // "jus" now occurs in a relevant mention: the phrase is what excludes the juice.
        examples.push(ex("Orange presse le jus de ses forfaits", "", "eco", true));
        let got = suggest(&examples, &["orange".to_string()]);
        let terms: Vec<&str> = got.terms.iter().map(|t| t.term.as_str()).collect();
        assert!(terms.contains(&"jus d'orange"), "{terms:?}");
        assert!(!terms.contains(&"jus"), "{terms:?}");
    }

    #[test]
    fn watch_terms_as_written_are_never_proposed() {
        let examples: Vec<Example<'static>> = (0..6)
            .map(|i| {
                ex(
                    "Renault Sport et Renaultsport en piste",
                    "Total de points",
                    if i % 2 == 0 { "f1" } else { "auto" },
                    false,
                )
            })
            .collect();
        let got = suggest(&examples, &["renault*".to_string(), "=Total".to_string()]);
        let terms: Vec<String> = got.terms.iter().map(|t| t.term.to_lowercase()).collect();
        for own in ["renault", "renaultsport", "total"] {
            assert!(!terms.contains(&own.to_string()), "{terms:?}");
        }
        assert!(terms.contains(&"sport".to_string()), "{terms:?}");
        assert!(terms.contains(&"piste".to_string()), "{terms:?}");
    }

    #[test]
    fn few_or_mixed_judgments_propose_nothing() {
        let examples = vec![
            ex("Orange juice", "", "food", false),
            ex("Orange juice again", "", "food", false),
            ex("Orange network", "", "food", true),
        ];
        let got = suggest(&examples, &["orange".to_string()]);
        assert_eq!(got.terms, Vec::new());
        assert_eq!(got.sources, Vec::new());
        assert_eq!(got.judged, 3);
    }
}
