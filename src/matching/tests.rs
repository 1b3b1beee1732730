//! The engine against the language: one table of what a person means, plus property tests.

use proptest::prelude::*;

use super::*;

fn matcher(watches: &[(&str, &str)]) -> Matcher {
    Matcher::new(
        watches
            .iter()
            .map(|(id, q)| {
                let query = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
                (WatchId::new(*id), query)
            })
            .collect(),
    )
}

fn matches(query: &str, title: &str, body: &str) -> bool {
    !matcher(&[("w", query)])
        .match_text(ItemText { title, body })
        .is_empty()
}

#[test]
fn matches_what_a_reader_means() {
    // (query, title, body, expected)
    let cases: &[(&str, &str, &str, bool)] = &[
        // Words: case, accents, whole words only.
        ("acme", "ACME rachète un concurrent", "", true),
        ("acme", "Acmeville fête ses 100 ans", "", false),
        ("acme", "", "Le groupe acme.", true),
        ("électricité", "Electricite de France", "", true),
        ("electricite", "", "L'ÉLECTRICITÉ coûte cher", true),
        ("Noël", "Les ventes de noel", "", true),
        ("naïve", "", "une approche naive", true),
        // Ligatures and special letters, in text and query.
        ("coeur", "", "Au cœur du dossier", true),
        ("cœur", "", "Au COEUR du dossier", true),
        ("oeuvre", "", "Une Œuvre majeure", true),
        ("strasse", "", "Straße 5", true),
        ("strasse", "", "Hauptstraße 5", false),
        ("finance", "", "ﬁnance publique", true),
        ("aesop", "", "Æsop ouvre une boutique", true),
        // Elisions and typographic apostrophes.
        ("orange", "", "le jus d'orange", true),
        ("Oréal", "", "l’Oréal publie ses comptes", true),
        ("\"l'oreal\"", "", "L’ORÉAL publie", true),
        ("\"d’Orange\"", "", "l'action d'Orange", true),
        // Hyphens: a hyphenated word is the phrase of its parts.
        ("Alcatel-Lucent", "", "Alcatel Lucent ferme un site", true),
        ("Alcatel-Lucent", "", "alcatel-lucent ferme un site", true),
        ("Alcatel-Lucent", "", "Lucent et Alcatel", false),
        ("e-réputation", "", "votre e-reputation en ligne", true),
        ("\"alcatel lucent\"", "", "Alcatel–Lucent", true),
        // Phrases.
        (
            "\"électricité de france\"",
            "",
            "ÉLECTRICITÉ DE FRANCE",
            true,
        ),
        (
            "\"électricité de france\"",
            "France: électricité de retour",
            "",
            false,
        ),
        ("“Nordvent Énergie”", "", "nordvent energie recrute", true),
        (
            "« Nordvent Énergie »",
            "",
            "La société Nordvent Énergie",
            true,
        ),
        ("\"nordvent energie\"", "", "Nordvent, énergie", true),
        // Prefixes vs whole words.
        ("nord*", "", "Nordvent et Nordique", true),
        ("nord*", "", "Le grand Nord", true),
        ("nord*", "", "Un vent du sud", false),
        ("nord", "", "Nordvent", false),
        ("éolien*", "", "Les éoliennes en mer", true),
        ("\"parc éolien*\"", "", "le parc éolien", true),
        // =Exact: case and accents as written.
        ("=Orange", "", "Orange relève ses tarifs", true),
        ("=Orange", "", "un jus d'orange pressé", false),
        ("=Orange", "", "l'action d'Orange recule", true),
        ("=Orange", "", "ORANGE", false),
        ("=Société", "", "Société Générale", true),
        ("=Société", "", "Societe Generale", false),
        (
            "=\"Crédit Agricole\"",
            "",
            "le Crédit Agricole, banque",
            true,
        ),
        (
            "=\"Crédit Agricole\"",
            "",
            "le crédit agricole en crise",
            false,
        ),
        (
            "=Orange -\"jus d'orange\"",
            "",
            "Orange et le jus d'orange",
            false,
        ),
        ("=Apple OR =APPLE", "", "APPLE INC", true),
        // AND (implicit and explicit), OR, NOT, -.
        ("acme corp", "", "Corp et Acme", true),
        ("acme corp", "", "Acme seul", false),
        ("acme AND corp", "", "acme, puis corp", true),
        ("acme OR nordvent", "", "Nordvent seul", true),
        ("acme OR nordvent", "", "personne", false),
        ("acme -recrutement", "", "Acme recrute", true),
        ("acme -recrutement", "", "Acme: recrutement massif", false),
        ("acme NOT recrutement", "", "Acme: recrutement", false),
        ("acme and corp", "", "acme sans l'autre", false),
        ("acme and corp", "", "acme and corp", true),
        (
            "(acme OR nordvent) (éolien OR éolienne)",
            "",
            "Nordvent pose une éolienne",
            true,
        ),
        (
            "(acme OR nordvent) (éolien OR éolienne)",
            "",
            "Nordvent recrute",
            false,
        ),
        ("acme OR nordvent éolienne", "", "Acme", true),
        ("NOT (a OR b) acme", "", "acme et b", false),
        ("Procter & Gamble", "", "Procter and Gamble", true),
        ("acme -Acme-Corp", "", "acme corp", false),
        // NEAR, both orders, distance counted in tokens between.
        (
            "acme NEAR/2 rachat",
            "",
            "le rachat de la société acme",
            false,
        ),
        (
            "acme NEAR/3 rachat",
            "",
            "le rachat de la société acme",
            true,
        ),
        ("acme NEAR/3 rachat", "", "acme annonce le rachat", true),
        ("acme NEAR/1 rachat", "", "acme annonce le rachat", false),
        ("acme NEAR/0 corp", "", "acme corp", true),
        ("acme NEAR/3 rachat", "acme", "rachat", false),
        (
            "\"nordvent énergie\" NEAR/5 (parc OR permis)",
            "",
            "Nordvent Énergie obtient le permis",
            true,
        ),
        ("rachat NEAR/3 acm*", "", "Acmé annonce un rachat", true),
        // Fields.
        ("title:acme", "Acme rachète", "", true),
        ("title:acme", "Rachat", "acme", false),
        ("body:acme", "Acme", "", false),
        ("body:acme", "", "acme", true),
        ("title:acme body:rachat", "Acme", "un rachat", true),
        ("title:(acme OR corp)", "Corp", "acme", true),
        ("acme -title:rumeur", "Rumeur", "acme", false),
        ("acme -title:rumeur", "Vrai", "acme et rumeur", true),
        // HTML entities and tags in titles and text given raw.
        (
            "Société Générale",
            "Soci&eacute;t&eacute; G&eacute;n&eacute;rale",
            "",
            true,
        ),
        ("\"l'oreal\"", "L&rsquo;Or&eacute;al", "", true),
        ("acme", "<b>Acme</b> rachète", "", true),
        (
            "nordvent",
            "<a href=\"https://nordvent.example\">lien</a>",
            "",
            false,
        ),
        ("script", "<script>alert(1)</script>", "", false),
        ("\"lt b\"", "&amp;lt;b&amp;gt;", "", true),
        ("acme corp", "Acme<br>Corp", "", true),
        // Other scripts and digits.
        ("2026", "", "Bilan 2026 d'Acme", true),
        ("ＡＣＭＥ", "", "acme", true),
        ("Москва", "", "в москве", false),
        ("москв*", "", "в Москве", true),
    ];
    assert!(cases.len() >= 60, "the table must stay large");
    let mut failures = Vec::new();
    for (query, title, body, expected) in cases {
        if matches(query, title, body) != *expected {
            failures.push(format!(
                "{query:?} on title {title:?} body {body:?}: expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_queries_name_the_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "empty query"),
        ("(acme OR corp", 1, "never closed"),
        ("acme) corp", 5, "no matching ("),
        ("acme \"open phrase", 6, "unterminated quote"),
        ("acme «ouvert", 6, "unterminated quote"),
        ("acme OR", 6, "dangling operator OR"),
        ("OR acme", 1, "dangling operator OR"),
        ("acme AND AND corp", 6, "dangling operator AND"),
        ("acme NOT", 6, "dangling operator NOT"),
        ("acme NEAR/ corp", 11, "NEAR/ needs a number"),
        ("acme NEAR/deux corp", 11, "NEAR/ needs a number"),
        ("acme NEAR corp", 6, "NEAR needs a distance"),
        ("acme NEAR/3", 6, "dangling operator NEAR/3"),
        ("-acme", 1, "only excludes"),
        ("acme - corp", 6, "dangling -"),
        ("acme =", 6, "dangling ="),
        ("acme ( )", 6, "empty parentheses"),
        ("body: acme", 1, "must be followed by a term"),
        ("\"\"", 1, "empty phrase"),
    ];
    for (query, column, message) in cases {
        match Query::parse(query) {
            Ok(q) => panic!("{query:?} accepted as {:?}", q.root()),
            Err(e) => {
                assert_eq!(e.column, *column, "{query:?}: {e}");
                assert!(e.message.contains(message), "{query:?}: {e}");
            }
        }
    }
}

#[test]
fn reports_field_position_and_offsets() {
    let m = matcher(&[("acme", "\"acme corp\" -rumeur"), ("other", "zzz")]);
    let title = "News: Acme Corp";
    let body = "we met ACME CORP today";
    let found = m.match_text(ItemText { title, body });
    assert_eq!(found.len(), 1);
    let hits: Vec<(Field, usize, &str)> = found[0]
        .hits
        .iter()
        .map(|h| {
            let text = if h.field == Field::Title { title } else { body };
            (h.field, h.position, &text[h.start..h.end])
        })
        .collect();
    assert_eq!(
        hits,
        vec![
            (Field::Title, 1, "Acme Corp"),
            (Field::Body, 2, "ACME CORP")
        ]
    );
}

#[test]
fn reports_only_terms_that_count() {
    let m = matcher(&[("w", "(acme OR nord*) -(rumeur) title:zut OR acme")]);
    let found = m.match_text(ItemText {
        title: "",
        body: "Acme et Nordvent, sans zut",
    });
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].terms(), vec!["acme", "nord*"]);
}

#[test]
fn many_watches_share_one_scan() {
    let mut watches: Vec<(String, String)> = (0..500)
        .map(|i| (format!("w{i}"), format!("marque{i} -exclu{i}")))
        .collect();
    watches.push(("acme".into(), "acme NEAR/2 corp".into()));
    let watches: Vec<(&str, &str)> = watches
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let m = matcher(&watches);
    let found: Vec<String> = m
        .match_text(ItemText {
            title: "marque7 et marque42",
            body: "exclu42; Acme, the corp",
        })
        .into_iter()
        .map(|w| w.watch.to_string())
        .collect();
    assert_eq!(found, vec!["w7", "acme"]);
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "acme",
        "Énergie",
        "cœur",
        "d’Orange",
        "l'Oréal",
        "NORD",
        "vent",
        "2026",
        "Straße",
        "ﬁn",
        "e-réputation",
        "&amp;",
        "<b>",
        "naïve",
        "Москва",
        "x",
    ])
    .prop_map(str::to_string)
}

fn sentence() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 1..12)
}

/// A query of one or two of [`word`]s, with one of the operators.
fn small_query() -> impl Strategy<Value = String> {
    (0..9usize, word(), word()).prop_map(|(shape, a, b)| match shape {
        0 => a,
        1 => format!("{a} {b}"),
        2 => format!("{a} OR {b}"),
        3 => format!("{a} -{b}"),
        4 => format!("\"{a} {b}\""),
        5 => format!("{a} NEAR/2 {b}"),
        6 => format!("{a}*"),
        7 => format!("={a} OR title:{b}"),
        _ => format!("({a} OR {b}) -body:{b}"),
    })
}

/// Hostile nesting is an error with a column, parsed on half the stack of a tokio thread
/// (unoptimized): no recursion is as deep as the input.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let cases = [
        format!("{}acme{}", "(".repeat(deep), ")".repeat(deep)),
        format!("{}acme", "NOT ".repeat(deep)),
        format!("x {}acme", "-".repeat(deep)),
        format!("{}acme", "title:".repeat(deep)),
        format!("{}acme", "acme NEAR/1 ".repeat(deep)),
        format!("{}acme{}", "NEAR/1(a, ".repeat(deep), ")".repeat(deep)),
    ];
    let parsed = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            cases
                .iter()
                .map(|q| Query::parse(q).map(|_| ()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .join()
        .unwrap_or_else(|_| panic!("the parser overflowed its stack"));
    for result in parsed {
        match result {
            Ok(()) => panic!("a query nested {deep} deep was accepted"),
            Err(e) => assert!(e.message.contains("deeper than 64 levels"), "{e}"),
        }
    }
    let at_limit = format!("{}acme{}", "(".repeat(64), ")".repeat(64));
    assert!(Query::parse(&at_limit).is_ok());
    let over = format!("{}acme{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(Query::parse(&over).map_err(|e| e.column), Err(65));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn normalization_is_idempotent(text in any::<String>()) {
        let once = normalize::fold(&text);
        prop_assert_eq!(normalize::fold(&once), once.clone());
        prop_assert_eq!(normalize::tokens(&once), normalize::tokens(&text));
    }

    #[test]
    fn normalization_is_idempotent_on_words(words in sentence()) {
        let text = words.join(" ");
        let once = normalize::fold(&text);
        prop_assert_eq!(normalize::fold(&once), once);
    }

    #[test]
    fn a_phrase_matches_the_text_it_was_cut_from(
        words in sentence(),
        cut in (0usize..12, 1usize..6),
    ) {
        let text = words.join(" ");
        let from = cut.0 % words.len();
        let to = (from + cut.1).min(words.len());
        let phrase = words[from..to].join(" ").replace('"', " ");
        // A cut made only of punctuation has nothing to look for.
        prop_assume!(!normalize::tokens(&phrase).is_empty());
        let query = format!("\"{phrase}\"");
        prop_assert!(matches(&query, "", &text), "{} in {}", query, text);
        prop_assert!(matches(&format!("={query}"), "", &text), "={} in {}", query, text);
    }

    #[test]
    fn a_phrase_cut_from_arbitrary_text_matches_it(text in "[a-zA-Zéèœ’' ,.-]{1,60}") {
        let tokens = normalize::tokens(&text);
        prop_assume!(!tokens.is_empty());
        let query = format!("\"{}\"", tokens.join(" "));
        prop_assert!(matches(&query, &text, ""), "{} in {}", query, text);
    }

    /// Watches that share terms (a term one watch needs as an anchor is only context for
    /// another, and is then looked for later) match together exactly as each does alone.
    #[test]
    fn watches_match_together_as_they_do_alone(
        queries in prop::collection::vec(small_query(), 1..12),
        title in sentence(),
        body in sentence(),
    ) {
        let watches: Vec<(String, Query)> = queries
            .iter()
            .enumerate()
            .filter_map(|(i, q)| Some((format!("w{i}"), Query::parse(q).ok()?)))
            .collect();
        let (title, body) = (title.join(" "), body.join(" "));
        let text = ItemText { title: &title, body: &body };
        let together = Matcher::new(
            watches.iter().map(|(id, q)| (WatchId::new(id.as_str()), q.clone())).collect(),
        )
        .match_text(text);
        let alone: Vec<WatchMatch> = watches
            .iter()
            .flat_map(|(id, q)| {
                Matcher::new(vec![(WatchId::new(id.as_str()), q.clone())]).match_text(text)
            })
            .collect();
        prop_assert_eq!(together, alone);
    }

    #[test]
    fn the_parser_never_panics(source in any::<String>()) {
        let _ = Query::parse(&source);
    }

    #[test]
    fn the_parser_never_panics_on_query_like_input(
        parts in prop::collection::vec(prop::sample::select(vec![
            "acme", "(", ")", "\"", "=", "-", "*", "AND", "OR", "NOT", "NEAR/2", "NEAR/",
            "title:", "body:", " ", "«", "»", "“", "é", ":",
        ]), 0..16)
    ) {
        let source: String = parts.concat();
        if let Ok(query) = Query::parse(&source) {
            let m = Matcher::new(vec![(WatchId::new("w"), query)]);
            let _ = m.match_text(ItemText { title: &source, body: "acme é" });
        }
    }
}
