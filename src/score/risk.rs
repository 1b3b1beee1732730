//! Risk vocabulary: the words that turn a mention into a possible crisis ("boycott",
//! "fuite de données", "recall"), found near a watch's hit.
//!
//! Design: the vocabulary is compiled once into a one-watch [`Matcher`] whose query is every
//! term joined with OR, so risk terms are folded and cut exactly like watch queries (case,
//! accents, ligatures, apostrophes: "GRÈVE", "grève" and "greve" are one word) and one scan of
//! the item finds them all, whatever the size of the vocabulary. A term is one word, a word
//! with a trailing `*` for its forms (`licenciement*`), an `=Exact` word, or several words,
//! which form a phrase. Each hit is then kept when it is *near* a watch hit: within
//! [`NEAR_TOKENS`] tokens of it in the same field, or anywhere in the title when the watch
//! hit the title (a title is one statement, however long). The title and the lede (the
//! body's first [`NEAR_TOKENS`] tokens) are read together: "Grève chez un sous-traitant"
//! over a lede naming the brand is a risk about the brand, and so is a title naming the
//! brand over a lede about a strike.
//!
//! Trade-off: a word list cannot tell "Acme denies the boycott" from "Acme calls for a
//! boycott", and some words have innocent senses; the score only treats a risk term as a
//! reason for a person to look, never as a verdict. Words whose innocent sense dominates
//! news text are left out of the built-in lists: English `fine` (use `fined`, `fines`),
//! `strike*` (matches "striker"), French `amende*` (matches "amendement"), `panne*`
//! ("panneau").

use crate::matching::normalize;
use crate::matching::{ItemText, Matcher, Node, Query};
use crate::model::{Field, TermHit, WatchId};

/// How far (in tokens, either way) a risk term may be from a watch hit in the same field
/// to count as near it: about a sentence, so the risk is likely about the watched name.
pub const NEAR_TOKENS: usize = 30;

/// Built-in French risk terms.
pub const BUILTIN_FR: &[&str] = &[
    "crise*",
    "scandale*",
    "boycott*",
    "plainte*",
    "fuite de données",
    "fuites de données",
    "piratage*",
    "piraté*",
    "cyberattaque*",
    "rançongiciel*",
    "rappel produit",
    "rappel de produits",
    "rappel conso",
    "grève*",
    "licenciement*",
    "plan social",
    "plans sociaux",
    "enquête*",
    "mise en examen",
    "mis en examen",
    "garde à vue",
    "perquisition*",
    "panne",
    "pannes",
    "polémique*",
    "condamnation*",
    "condamné*",
    "amende",
    "amendes",
    "fraude*",
    "démission*",
    "intoxication*",
    "accident*",
    "décès",
    "procès",
    "faillite*",
    "redressement judiciaire",
    "liquidation judiciaire",
    "corruption",
    "harcèlement",
    "explosion*",
    "incendie*",
];

/// Built-in English risk terms.
pub const BUILTIN_EN: &[&str] = &[
    "crisis",
    "crises",
    "scandal*",
    "boycott*",
    "lawsuit*",
    "sued",
    "complaint*",
    "data breach",
    "breach*",
    "leak*",
    "hack",
    "hacked",
    "hacker*",
    "hacking",
    "cyberattack*",
    "cyber attack",
    "ransomware",
    "recall*",
    "strike",
    "strikes",
    "layoff*",
    "laid off",
    "investigation*",
    "probe",
    "indictment*",
    "indicted",
    "outage*",
    "controversy",
    "controversial",
    "fined",
    "fines",
    "fraud*",
    "resignation*",
    "resigns",
    "poisoning*",
    "accident*",
    "death*",
    "trial",
    "bankruptcy",
    "class action",
    "explosion*",
];

/// What makes two terms the same match: folded tokens, prefix, exactness.
type TermKey = (Vec<String>, bool, bool);

/// Risk terms compiled for one scan per item.
#[derive(Debug, Clone)]
pub struct RiskVocabulary {
    /// The terms as written, in order.
    terms: Vec<String>,
    /// None when the vocabulary is empty (a rule may replace the built-ins with nothing).
    matcher: Option<Matcher>,
}

impl RiskVocabulary {
    /// The built-in French and English terms.
    pub fn builtin() -> RiskVocabulary {
        // The built-in terms are tested to compile; should one ever fail, an empty
        // vocabulary is safer than a panic in the daemon.
        RiskVocabulary::new(&[], true).unwrap_or_else(|_| RiskVocabulary {
            terms: Vec::new(),
            matcher: None,
        })
    }

    /// The built-in terms (unless `with_builtin` is false) plus `extra`, a list from the
    /// configuration. An error names the bad term and says why.
    pub fn new(extra: &[String], with_builtin: bool) -> Result<RiskVocabulary, String> {
        let builtin = BUILTIN_FR.iter().chain(BUILTIN_EN).map(|t| t.to_string());
        let all: Vec<String> = if with_builtin {
            builtin.chain(extra.iter().cloned()).collect()
        } else {
            extra.to_vec()
        };
        let mut terms: Vec<String> = Vec::new();
        let mut sources: Vec<String> = Vec::new();
        let mut seen: Vec<TermKey> = Vec::new();
        for written in &all {
            let (source, key) = compile_term(written)?;
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            terms.push(written.trim().to_string());
            sources.push(source);
        }
        if sources.is_empty() {
            return Ok(RiskVocabulary {
                terms,
                matcher: None,
            });
        }
        let query = Query::parse(&sources.join(" OR "))
            .map_err(|e| format!("risk terms do not combine into a query: {e}"))?;
        let matcher = Matcher::new(vec![(WatchId::new("risk"), query)]);
        Ok(RiskVocabulary {
            terms,
            matcher: Some(matcher),
        })
    }

    /// How many distinct terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, as written.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The risk terms near one of `hits` (a watch's hits in the same `item` text): as written
    /// in the vocabulary, each once, in the order of the text (title first).
    pub fn near(&self, item: ItemText<'_>, hits: &[TermHit]) -> Vec<String> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        if hits.is_empty() {
            return Vec::new();
        }
        let title_hit = hits.iter().any(|h| h.field == Field::Title);
        let lede_hit = hits
            .iter()
            .any(|h| h.field == Field::Body && h.position < NEAR_TOKENS);
        let mut found: Vec<String> = Vec::new();
        // Text already claimed by a term: "scandale" is `scandale*` or `scandal*`, and the
        // "breach" of "data breach" is not a second risk.
        let mut claimed: Vec<(Field, usize, usize)> = Vec::new();
        for risk in matcher.match_text(item).iter().flat_map(|m| &m.hits) {
            let in_lede = risk.field == Field::Body && risk.position < NEAR_TOKENS;
            let is_near = (risk.field == Field::Title && (title_hit || lede_hit))
                || (in_lede && title_hit)
                || hits.iter().any(|h| {
                    h.field == risk.field && h.position.abs_diff(risk.position) <= NEAR_TOKENS
                });
            if !is_near {
                continue;
            }
            let overlaps = claimed.iter().any(|&(field, start, end)| {
                field == risk.field && risk.start < end && start < risk.end
            });
            if overlaps {
                continue;
            }
            claimed.push((risk.field, risk.start, risk.end));
            if !found.iter().any(|f| **f == *risk.term) {
                found.push(risk.term.to_string());
            }
        }
        found
    }
}

/// The query text of one term, and what identifies it, or why it cannot be a risk term.
fn compile_term(written: &str) -> Result<(String, TermKey), String> {
    let term = written.trim();
    if term.is_empty() {
        return Err("empty risk term: remove it or write a word".to_string());
    }
    if term.contains(['"', '“', '”', '«', '»', '(', ')']) {
        return Err(format!(
            "risk term {written:?}: write it plainly, without quotes or parentheses \
             (several words already form a phrase)"
        ));
    }
    // Several words form a phrase, so `grève OR crise` would silently become one.
    let operator = term
        .split_whitespace()
        .any(|w| matches!(w, "AND" | "OR" | "NOT") || w.starts_with("NEAR/"));
    if operator {
        return Err(format!(
            "risk term {written:?} must be one word or phrase, not a query (no operators \
             such as OR, NOT, -, NEAR/ or title:): list each term separately"
        ));
    }
    let exact = term.starts_with('=');
    let prefix = term.ends_with('*');
    let bare = term.trim_start_matches('=').trim_end_matches('*');
    let words = normalize::tokens(bare);
    if words.is_empty() {
        return Err(format!(
            "risk term {written:?} has no letter or digit to look for"
        ));
    }
    let source = if words.len() > 1 {
        if prefix {
            return Err(format!(
                "risk term {written:?}: a * can only end a single word, not a phrase"
            ));
        }
        if exact {
            format!("=\"{bare}\"")
        } else {
            format!("\"{bare}\"")
        }
    } else {
        term.to_string()
    };
    let query =
        Query::parse(&source).map_err(|e| format!("risk term {written:?} does not parse: {e}"))?;
    let single = matches!(query.root(), Node::Term(_))
        && query
            .terms()
            .first()
            .is_some_and(|t| t.field.is_none() && !t.negated);
    if !single {
        return Err(format!(
            "risk term {written:?} must be one word or phrase, not a query (no operators \
             such as OR, NOT, -, NEAR/ or title:)"
        ));
    }
    Ok((source, (words, prefix, exact)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::Query;

    /// The hits of the watch `query` in the item, as the pipeline would pass them.
    fn watch_hits(query: &str, item: ItemText<'_>) -> Vec<TermHit> {
        let query = Query::parse(query).unwrap_or_else(|e| panic!("{e}"));
        Matcher::new(vec![(WatchId::new("w"), query)])
            .match_text(item)
            .into_iter()
            .flat_map(|m| m.hits)
            .collect()
    }

    fn near(vocabulary: &RiskVocabulary, query: &str, title: &str, body: &str) -> Vec<String> {
        let item = ItemText { title, body };
        vocabulary.near(item, &watch_hits(query, item))
    }

    #[test]
    fn builtin_terms_are_found_near_the_hit_with_query_normalization() {
        let builtin = RiskVocabulary::builtin();
        assert!(builtin.len() >= 60, "{}", builtin.len());
        let deep = format!("{}Acme a publié ses comptes.", "mot ".repeat(40));
        let far = format!(
            "Acme a publié ses comptes. {} La grève continue.",
            "mot ".repeat(40)
        );
        // (what, title, body, expected risk terms)
        let table: [(&str, &str, &str, &[&str]); 9] = [
            ("upper case and accent", "", "GRÈVE chez Acme", &["grève*"]),
            (
                "no accent in the text",
                "",
                "Acme: greve illimitee",
                &["grève*"],
            ),
            (
                "plural through the prefix",
                "",
                "Acme annonce des licenciements",
                &["licenciement*"],
            ),
            (
                "multi-word term, apostrophe and ligature around it",
                "",
                "L’œuvre d’Acme : une FUITE DE DONNÉES massive",
                &["fuite de données"],
            ),
            ("far from the hit in the body", "", &far, &[]),
            (
                "risk in the title with a title hit",
                "Acme : les salariés votent, la direction parle d'un scandale",
                "",
                &["scandale*"],
            ),
            (
                "risk in the title but the hit only deep in the body",
                "Scandale à la mairie",
                &deep,
                &[],
            ),
            (
                "several terms once each, text order",
                "",
                "Acme recall after the data breach; another recall follows",
                &["recall*", "data breach"],
            ),
            (
                "no risk at all",
                "Acme ouvre un parc",
                "Acme recrute à Brest",
                &[],
            ),
        ];
        for (what, title, body, want) in table {
            let got = near(&builtin, "Acme", title, body);
            assert_eq!(got, want.to_vec(), "{what}");
        }
    }

    #[test]
    fn a_term_far_in_tokens_is_not_near_but_one_just_within_is() {
        let builtin = RiskVocabulary::builtin();
        let within = format!("Acme {}boycott", "mot ".repeat(NEAR_TOKENS - 1));
        let beyond = format!("Acme {}boycott", "mot ".repeat(NEAR_TOKENS + 1));
        assert_eq!(near(&builtin, "Acme", "", &within), vec!["boycott*"]);
        assert_eq!(near(&builtin, "Acme", "", &beyond), Vec::<String>::new());
        // No hit, nothing is near.
        let item = ItemText {
            title: "",
            body: "boycott",
        };
        assert_eq!(builtin.near(item, &[]), Vec::<String>::new());
    }

    #[test]
    fn the_title_and_the_lede_are_read_together() {
        let builtin = RiskVocabulary::builtin();
        let lede =
            "Le mouvement touche l'usine de Cherbourg : les commandes d'Acme sont concernées.";
        assert_eq!(
            near(&builtin, "Acme", "Grève chez un sous-traitant", lede),
            vec!["grève*"],
            "a title risk over a lede naming the brand"
        );
        assert_eq!(
            near(
                &builtin,
                "Acme",
                "Acme revoit ses commandes",
                "Une grève paralyse l'usine."
            ),
            vec!["grève*"],
            "a lede risk under a title naming the brand"
        );
        let late = format!(
            "{}les commandes d'Acme sont concernées.",
            "mot ".repeat(NEAR_TOKENS)
        );
        assert!(
            near(&builtin, "Acme", "Grève chez un sous-traitant", &late).is_empty(),
            "a brand named only after the lede is not what the title is about"
        );
        let far_risk = format!("{}une grève.", "mot ".repeat(NEAR_TOKENS + 5));
        assert!(
            near(&builtin, "Acme", "Acme revoit ses commandes", &far_risk).is_empty(),
            "a risk deep in the body is not near a title hit"
        );
    }

    #[test]
    fn extra_terms_add_to_or_replace_the_builtins() {
        let extra = vec!["rupture de stock".to_string(), "  Sabotage ".to_string()];
        let with = RiskVocabulary::new(&extra, true).unwrap_or_else(|e| panic!("{e}"));
        let without = RiskVocabulary::new(&extra, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with.len(), RiskVocabulary::builtin().len() + 2);
        assert_eq!(without.len(), 2);
        let body = "Acme: rupture de stock, grève et sabotage";
        assert_eq!(
            near(&with, "Acme", "", body),
            vec!["rupture de stock", "grève*", "Sabotage"]
        );
        assert_eq!(
            near(&without, "Acme", "", body),
            vec!["rupture de stock", "Sabotage"]
        );
        // A term already in the list is not counted twice.
        let dup =
            RiskVocabulary::new(&["GREVE*".to_string()], true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dup.len(), RiskVocabulary::builtin().len());
        let none = RiskVocabulary::new(&[], false).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
        assert_eq!(near(&none, "Acme", "", body), Vec::<String>::new());
    }

    #[test]
    fn a_bad_extra_term_is_named_with_the_reason() {
        // (term, words the error must contain)
        let table: [(&str, &[&str]); 8] = [
            ("!!!", &["\"!!!\"", "no letter or digit"]),
            ("   ", &["empty risk term"]),
            ("\"boycott", &["\"\\\"boycott\"", "without quotes"]),
            ("grève OR crise", &["\"grève OR crise\"", "not a query"]),
            ("OR", &["\"OR\"", "not a query"]),
            ("NEAR", &["\"NEAR\"", "does not parse", "distance"]),
            ("-boycott", &["\"-boycott\"", "does not parse"]),
            ("fuite de donn*", &["\"fuite de donn*\"", "single word"]),
        ];
        for (term, words) in table {
            let Err(error) = RiskVocabulary::new(&[term.to_string()], true) else {
                panic!("{term:?} was accepted");
            };
            for word in words {
                assert!(error.contains(word), "{term:?}: {error}");
            }
        }
    }

    #[test]
    fn builtin_lists_avoid_words_with_a_common_innocent_sense() {
        let builtin = RiskVocabulary::builtin();
        // (text that must not look risky)
        let table = [
            "Acme installe un panneau solaire",
            "Acme soutient un amendement",
            "Acme signs a striker",
            "Acme had a fine quarter",
            "Acme: le processus de recrutement",
        ];
        for body in table {
            assert_eq!(
                near(&builtin, "Acme", "", body),
                Vec::<String>::new(),
                "{body}"
            );
        }
    }
}
