//! The meta operators (`site:`, `source:`, `tag:`, `author:`, `lang:`): what each one
//! selects, how they combine with words, and that they never change what words match.

use proptest::prelude::*;

use super::*;

/// An item's metadata as a test writes it.
#[derive(Debug, Clone, Default)]
struct Facts {
    link: Option<&'static str>,
    source: Option<&'static str>,
    tags: Vec<String>,
    author: Option<&'static str>,
    lang: Option<&'static str>,
}

fn link(url: &'static str) -> Facts {
    Facts {
        link: Some(url),
        ..Facts::default()
    }
}

fn from(source: &'static str, tags: &[&str]) -> Facts {
    Facts {
        source: Some(source),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Facts::default()
    }
}

fn by(author: &'static str) -> Facts {
    Facts {
        author: Some(author),
        ..Facts::default()
    }
}

fn in_lang(lang: &'static str) -> Facts {
    Facts {
        lang: Some(lang),
        ..Facts::default()
    }
}

fn matches_item(query: &str, text: &str, facts: &Facts) -> bool {
    let parsed = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let meta = ItemMeta {
        link: facts.link,
        source: facts.source,
        tags: &facts.tags,
        author: facts.author,
        lang: facts.lang,
    };
    !Matcher::new(vec![(WatchId::new("w"), parsed)])
        .match_item(
            ItemText {
                title: "",
                body: text,
            },
            &meta,
        )
        .is_empty()
}

/// Runs a table of (query, text, item metadata, expected); every case that fails, described.
fn table(cases: &[(&str, &str, &Facts, bool)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter(|(query, text, facts, expected)| matches_item(query, text, facts) != *expected)
        .map(|(query, text, facts, expected)| {
            format!("{query} on {text:?} {facts:?}: expected {expected}")
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn site_is_the_link_host_or_a_parent_domain() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "site:lemonde.fr",
            "https://lemonde.fr/economie/a.html",
            true,
        ),
        ("site:lemonde.fr", "https://www.lemonde.fr/a", true),
        ("site:lemonde.fr", "https://abonnes.lemonde.fr/a", true),
        ("site:lemonde.fr", "http://lemonde.fr:8443/a", true),
        ("site:lemonde.fr", "https://LEMONDE.FR./a", true),
        ("site:LeMonde.fr", "https://lemonde.fr/a", true),
        ("site:www.lemonde.fr", "https://lemonde.fr/a", true),
        ("site:lemonde.fr", "https://notlemonde.fr/a", false),
        ("site:lemonde.fr", "https://lemonde.fr.example.net/a", false),
        ("site:lemonde.fr", "https://monde.fr/a", false),
        ("site:abonnes.lemonde.fr", "https://lemonde.fr/a", false),
        (
            "site:abonnes.lemonde.fr",
            "https://www.abonnes.lemonde.fr/a",
            true,
        ),
        ("site:orange.com", "https://newsroom.orange.com/x", true),
        ("site:*.orange.com", "https://newsroom.orange.com/x", true),
        ("site:https://www.lemonde.fr/", "https://lemonde.fr/a", true),
        // Internationalized names: written in Unicode or as punycode, on either side.
        ("site:élysée.fr", "https://www.élysée.fr/x", true),
        ("site:élysée.fr", "https://xn--lyse-9oad.fr/x", true),
        ("site:xn--lyse-9oad.fr", "https://élysée.fr/x", true),
        ("site:ÉLYSÉE.fr", "https://elysee.fr/x", false),
        // Addresses match themselves only.
        ("site:127.0.0.1", "http://127.0.0.1:8080/feed", true),
        ("site:0.0.1", "http://127.0.0.1/feed", false),
        ("site:[::1]", "http://[::1]:80/feed", true),
        // No link, or one that is not a URL: no site.
        ("site:lemonde.fr", "", false),
        ("site:lemonde.fr", "lemonde.fr/a", false),
    ];
    let facts: Vec<Facts> = cases
        .iter()
        .map(|(_, url, _)| {
            if url.is_empty() {
                Facts::default()
            } else {
                link(url)
            }
        })
        .collect();
    let cases: Vec<(&str, &str, &Facts, bool)> = cases
        .iter()
        .zip(&facts)
        .map(|((query, _, expected), facts)| (*query, "", facts, *expected))
        .collect();
    table(&cases);
}

#[test]
fn source_tag_author_and_lang_select_what_they_name() {
    let cases: &[(&str, Facts, bool)] = &[
        ("source:communiques", from("communiques", &[]), true),
        (
            "source:communiques",
            from("quotidien", &["communiques"]),
            false,
        ),
        ("source:Communiques", from("communiques", &[]), false),
        ("tag:presse", from("quotidien", &["presse", "eco"]), true),
        ("tag:presse", from("quotidien", &["eco"]), false),
        ("tag:presse", from("presse", &[]), false),
        ("tag:presse", Facts::default(), false),
        // Authors are folded like words: case, accents and the handle's punctuation.
        (
            "author:@marque@mastodon.social",
            by("@Marque@mastodon.social"),
            true,
        ),
        (
            "author:@marque@mastodon.social",
            by("@marque@mastodon.example"),
            false,
        ),
        ("author:marque", by("@marque@mastodon.social"), true),
        ("author:\"Hélène Dupont\"", by("helene dupont"), true),
        ("author:\"Hélène Dupont\"", by("Dupont, Hélène"), false),
        ("author:dupont", by("Hélène Dupont"), true),
        ("author:dupon", by("Hélène Dupont"), false),
        ("author:dupont", Facts::default(), false),
        ("lang:fr", in_lang("fr"), true),
        ("lang:FR-fr", in_lang("fr"), true),
        ("lang:fr", in_lang("en"), false),
        ("lang:fr", Facts::default(), false),
    ];
    let cases: Vec<(&str, &str, &Facts, bool)> = cases
        .iter()
        .map(|(query, facts, expected)| (*query, "", facts, *expected))
        .collect();
    table(&cases);
}

#[test]
fn meta_operators_combine_with_every_operator() {
    let newsroom = link("https://newsroom.orange.com/prix");
    let press = Facts {
        link: Some("https://www.lemonde.fr/eco"),
        source: Some("lemonde"),
        tags: vec!["presse".into()],
        author: Some("Hélène Dupont"),
        lang: Some("fr"),
    };
    let marque = Facts {
        author: Some("@marque@mastodon.social"),
        ..Facts::default()
    };
    let cases: &[(&str, &str, &Facts, bool)] = &[
        (
            "Orange AND -site:orange.com",
            "Orange augmente ses prix",
            &newsroom,
            false,
        ),
        (
            "Orange AND -site:orange.com",
            "Orange augmente ses prix",
            &press,
            true,
        ),
        (
            "Orange -site:orange.com",
            "Orange augmente ses prix",
            &Facts::default(),
            true,
        ),
        ("Orange NOT site:orange.com", "un jus", &press, false),
        ("grève AND tag:presse", "la grève continue", &press, true),
        (
            "grève AND tag:presse",
            "la grève continue",
            &newsroom,
            false,
        ),
        (
            "grève AND (tag:presse OR site:orange.com)",
            "la grève",
            &newsroom,
            true,
        ),
        ("grève OR source:lemonde", "rien à voir", &press, true),
        ("grève OR source:lemonde", "rien à voir", &newsroom, false),
        (
            "(author:@marque@mastodon.social OR site:marque.fr) AND NEAR/5(marque, rappel)",
            "la marque annonce un rappel de produits",
            &marque,
            true,
        ),
        (
            "(author:@marque@mastodon.social OR site:marque.fr) AND NEAR/5(marque, rappel)",
            "la marque annonce un rappel de produits",
            &press,
            false,
        ),
        (
            "(author:@marque@mastodon.social OR site:marque.fr) AND NEAR/5(marque, rappel)",
            "la marque, dans un long article sans rapport, finit par parler de rappel",
            &marque,
            false,
        ),
        ("lang:fr -lang:en grève", "grève", &press, true),
        ("author:dupont title:grève", "grève", &press, false),
        // Only meta operators: no word needed.
        ("site:lemonde.fr", "", &press, true),
        ("site:lemonde.fr lang:fr tag:presse", "", &press, true),
        ("site:lemonde.fr -author:dupont", "", &press, false),
        ("site:lemonde.fr OR site:orange.com", "", &newsroom, true),
    ];
    table(cases);
}

#[test]
fn a_match_reports_the_meta_operators_that_held() {
    let m = Matcher::new(vec![
        (
            WatchId::new("w"),
            Query::parse("acme tag:presse -site:acme.com").unwrap_or_else(|e| panic!("{e}")),
        ),
        (
            WatchId::new("site"),
            Query::parse("site:lemonde.fr").unwrap_or_else(|e| panic!("{e}")),
        ),
    ]);
    let tags = vec!["presse".to_string()];
    let meta = ItemMeta {
        link: Some("https://www.lemonde.fr/a"),
        tags: &tags,
        ..ItemMeta::default()
    };
    let found = m.match_item(
        ItemText {
            title: "Acme",
            body: "",
        },
        &meta,
    );
    let described: Vec<Vec<&str>> = found.iter().map(WatchMatch::described).collect();
    assert_eq!(
        described,
        vec![vec!["acme", "tag:presse"], vec!["site:lemonde.fr"]]
    );
    // Without what it knows of the item, a watch that needs no word is not reported, and
    // a meta operator neither passes nor fails a watch that has words.
    let found = m.match_text(ItemText {
        title: "Acme",
        body: "",
    });
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].described(), vec!["acme"]);
}

#[test]
fn meta_operators_are_checked_with_a_caret() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "sit:lemonde.fr acme",
            1,
            "unknown operator sit: did you mean site:?",
        ),
        ("acme Sourc:x", 6, "did you mean source:?"),
        ("acme http://x.fr", 6, "put it in quotes: \"http://x.fr\""),
        ("acme site: lemonde.fr", 6, "must be followed by a value"),
        ("acme site:", 6, "must be followed by a value"),
        ("acme site:\"\"", 11, "needs a value"),
        ("acme site:lemonde.fr:8080", 11, "without a port"),
        (
            "acme site:https://lemonde.fr/eco",
            11,
            "not a page or a folder",
        ),
        ("acme site:lemonde.fr/eco", 11, "not a page or a folder"),
        ("acme site:a..b", 11, "not one"),
        ("acme lang:français", 11, "language code"),
        ("acme lang:x", 11, "language code"),
        ("acme author:@@", 13, "no letter or digit"),
        ("-site:lemonde.fr", 1, "only excludes"),
        ("acme NEAR/3 site:x.fr", 13, "cannot stand in NEAR/3"),
        ("NEAR/3(acme, tag:presse)", 14, "cannot stand in NEAR/3"),
        ("title:site:x.fr", 7, "write it beside"),
        ("title:(acme OR lang:fr)", 16, "write it beside"),
        ("NEAR/5(marque rappel)", 1, "two parts separated by a comma"),
        ("NEAR/5(a, b, c)", 12, "exactly two parts"),
        ("NEAR/5(a, b", 7, "never closed"),
        ("NEAR/5(a,)", 1, "dangling operator NEAR/5"),
    ];
    let mut failures = Vec::new();
    for (query, column, message) in cases {
        match Query::parse(query) {
            Ok(q) => failures.push(format!("{query:?} accepted as {:?}", q.root())),
            Err(e) if e.column != *column || !e.message.contains(message) => {
                failures.push(format!(
                    "{query:?}: column {column} {message:?} expected, got {e}"
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_colon_in_quotes_or_digits_is_text() {
    assert!(matches_item(
        "\"re:invent\"",
        "AWS re:Invent opens",
        &Facts::default()
    ));
    assert!(matches_item("10:30", "à 10:30 ce matin", &Facts::default()));
    assert!(matches_item(
        "=\"Orange:\" tarifs",
        "Orange: tarifs",
        &Facts::default()
    ));
}

#[test]
fn near_has_a_function_form() {
    let text = "la marque annonce un rappel";
    for query in [
        "NEAR/5(marque, rappel)",
        "NEAR/5(rappel,marque)",
        "marque NEAR/5 rappel",
        "NEAR/5((marque OR enseigne), rappel)",
        "marque NEAR/5(rappel OR retrait)",
    ] {
        assert!(matches_item(query, text, &Facts::default()), "{query}");
    }
    assert!(!matches_item(
        "NEAR/1(marque, rappel)",
        text,
        &Facts::default()
    ));
    // A comma outside NEAR/n(…) stays punctuation, as it always was.
    assert!(matches_item("marque, rappel", text, &Facts::default()));
}

/// A watch anchored on words, with the metadata operators it is combined with.
fn metadata() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "site:lemonde.fr",
        "-site:lemonde.fr",
        "tag:presse",
        "-tag:presse",
        "source:quotidien",
        "lang:fr",
        "-lang:en",
        "author:dupont",
        "(site:orange.com OR tag:presse)",
    ])
    .prop_map(str::to_string)
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "acme", "grève", "Orange", "rappel", "marque", "énergie", "le", "nord",
    ])
    .prop_map(str::to_string)
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        prop::sample::select(vec![
            None,
            Some("https://www.lemonde.fr/a"),
            Some("https://newsroom.orange.com/b"),
            Some("not a url"),
        ]),
        prop::sample::select(vec![None, Some("quotidien"), Some("communiques")]),
        prop::sample::select(vec![vec![], vec!["presse".to_string()]]),
        prop::sample::select(vec![
            None,
            Some("Jean Dupont"),
            Some("@marque@social.example"),
        ]),
        prop::sample::select(vec![None, Some("fr"), Some("en")]),
    )
        .prop_map(|(link, source, tags, author, lang)| Facts {
            link,
            source,
            tags,
            author,
            lang,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Adding watches with metadata operators beside word-only watches never changes what
    /// the word-only watches match, whatever the item's metadata; and a word query ANDed
    /// with a metadata operator matches exactly when both do.
    #[test]
    fn metadata_never_changes_what_words_match(
        words in prop::collection::vec((word(), word()), 1..6),
        extra in prop::collection::vec(metadata(), 1..6),
        text in prop::collection::vec(word(), 0..10),
        facts in facts(),
    ) {
        let text = text.join(" ");
        let word_queries: Vec<String> =
            words.iter().map(|(a, b)| format!("{a} OR \"{b} {a}\"")).collect();
        let meta = ItemMeta {
            link: facts.link,
            source: facts.source,
            tags: &facts.tags,
            author: facts.author,
            lang: facts.lang,
        };
        let item = ItemText { title: "", body: &text };
        let parse = |q: &str| Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let alone = Matcher::new(
            word_queries.iter().enumerate()
                .map(|(i, q)| (WatchId::new(format!("w{i}")), parse(q)))
                .collect(),
        );
        let mut all: Vec<(WatchId, Query)> = word_queries.iter().enumerate()
            .map(|(i, q)| (WatchId::new(format!("w{i}")), parse(q)))
            .collect();
        for (i, m) in extra.iter().enumerate() {
            let (a, _) = &words[i % words.len()];
            all.push((WatchId::new(format!("m{i}")), parse(&format!("{a} AND {m}"))));
            if !m.starts_with('-') {
                all.push((WatchId::new(format!("o{i}")), parse(&format!("{m} OR {a}"))));
            }
        }
        let together = Matcher::new(all);
        let words_alone = alone.match_item(item, &meta);
        let found = together.match_item(item, &meta);
        let words_together: Vec<&WatchMatch> =
            found.iter().filter(|m| m.watch.as_str().starts_with('w')).collect();
        prop_assert_eq!(words_together, words_alone.iter().collect::<Vec<_>>());
        prop_assert_eq!(&alone.match_text(item), &words_alone);
        for (i, m) in extra.iter().enumerate() {
            let (a, _) = &words[i % words.len()];
            let word_hit = !Matcher::new(vec![(WatchId::new("a"), parse(a))])
                .match_item(item, &meta).is_empty();
            let and = found.iter().any(|f| f.watch.as_str() == format!("m{i}"));
            if let Some(positive) = m.strip_prefix('-') {
                let excluded = !Matcher::new(vec![(WatchId::new("m"), parse(positive))])
                    .match_item(item, &meta).is_empty();
                prop_assert_eq!(and, word_hit && !excluded, "{} AND {}", a, m);
            } else {
                let holds = !Matcher::new(vec![(WatchId::new("m"), parse(m))])
                    .match_item(item, &meta).is_empty();
                let or = found.iter().any(|f| f.watch.as_str() == format!("o{i}"));
                prop_assert_eq!(and, word_hit && holds, "{} AND {}", a, m);
                prop_assert_eq!(or, word_hit || holds, "{} OR {}", m, a);
            }
        }
    }

    /// The shortcut for plain hosts reads every link as the URL parser does.
    #[test]
    fn plain_hosts_are_read_as_the_url_parser_reads_them(
        parts in prop::collection::vec(prop::sample::select(vec![
            "http://", "HTTPS://", "ftp://", "www.", "Le", "monde", ".", "-", "fr", ":", "8080",
            "/", "?q=1", "#x", "@", "user", "0x7f", "1", "127", "xn--lyse-9oad", "é", "%41",
            "\\", "[::1]", " ",
        ]), 1..10)
    ) {
        let link = parts.concat();
        let parsed = url::Url::parse(&link).ok().and_then(|url| match url.host()? {
            url::Host::Domain(domain) => Some(domain.to_ascii_lowercase()),
            ip => Some(ip.to_string()),
        });
        if let Some(host) = plain_host(&link) {
            prop_assert_eq!(Some(host), parsed, "{}", link);
        }
    }

    #[test]
    fn the_parser_never_panics_on_operator_like_input(
        parts in prop::collection::vec(prop::sample::select(vec![
            "acme", "(", ")", "\"", ",", "-", "site:", "sit:", "tag:", "lang:", "author:",
            "NEAR/2", "NEAR/2(", "lemonde.fr", "fr", "é", ":", " ", "//", "[::1]", "xn--",
        ]), 0..16)
    ) {
        let source: String = parts.concat();
        if let Ok(query) = Query::parse(&source) {
            let m = Matcher::new(vec![(WatchId::new("w"), query)]);
            let tags = vec!["fr".to_string()];
            let meta = ItemMeta {
                link: Some("http://[::1]:8080/acme"),
                source: Some("acme"),
                tags: &tags,
                author: Some(&source),
                lang: Some("fr"),
            };
            let _ = m.match_item(ItemText { title: &source, body: "acme é" }, &meta);
        }
    }
}
