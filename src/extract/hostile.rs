//! Hostile documents through [`feed_document`] and [`page::page`]: each gives the expected
//! kind of result (items, or the error of the limit it breaks), on a thread with the 2 MiB
//! stack extraction gets in the daemon; and property tests feeding arbitrary bytes and
//! damaged corpus feeds to both, which must never panic. Times are not asserted (the
//! machine is shared); `cargo bench --bench hostile` measures them.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::limits::{
    MAX_AUTHORS, MAX_DEPTH, MAX_FEED_AUTHOR_BYTES, MAX_ITEMS, MAX_MEDIA_GROUPS, MAX_TEXT_BYTES,
    MAX_TITLE_BYTES,
};
use super::testing::{self, nested, on_small_stack};
use super::*;
use crate::extract::select::{PageSelect, Pick};

fn extract(bytes: Vec<u8>, content_type: Option<&'static str>) -> Result<Vec<Item>, ExtractError> {
    on_small_stack(move || {
        feed_document(
            &SourceId::new("hostile"),
            &bytes,
            content_type,
            Some("https://news.example/feed"),
        )
    })
}

fn rss(items: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>T</title>\
         <link>https://news.example/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

fn rss_item(title: &str, description: &str) -> Vec<u8> {
    rss(&format!(
        "<item><title>{title}</title><link>https://news.example/a</link>\
         <description>{description}</description></item>"
    ))
}

fn atom(entries: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>f</id><title>T</title>{entries}</feed>"
    )
    .into_bytes()
}

/// An Atom entry whose xhtml content nests `divs` `<div>`s inside its wrapper `<div>`:
/// `feed` > `entry` > `content` > wrapper is four levels.
fn atom_xhtml(divs: usize) -> Vec<u8> {
    let body = nested("<div>", "</div>", divs, "Nordvent");
    atom(&format!(
        "<entry><id>e</id><title>Nordvent</title><content type=\"xhtml\">\
         <div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div></content></entry>"
    ))
}

fn json_feed(items: &str) -> Vec<u8> {
    format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"items\":[{items}]}}"
    )
    .into_bytes()
}

/// What a case must give.
enum Want {
    /// One item or more, the first one's text checked.
    Text(fn(&str) -> bool),
    Items(usize),
    Error(ExtractError),
    /// Refused as unreadable, whatever the parser's words.
    NotAFeed,
}

fn check(name: &str, got: &Result<Vec<Item>, ExtractError>, want: &Want) {
    match (got, want) {
        (Ok(items), Want::Text(check)) => {
            let text = items.first().map_or("", |i| i.text.as_str());
            assert!(check(text), "{name}: {:.80}", text);
        }
        (Ok(items), Want::Items(n)) => assert_eq!(items.len(), *n, "{name}"),
        (Err(error), Want::Error(want)) => assert_eq!(error, want, "{name}"),
        (Err(ExtractError::NotAFeed(_)), Want::NotAFeed) => {}
        (got, _) => panic!("{name}: unexpected {:.300}", format!("{got:?}")),
    }
}

#[test]
fn nested_markup_in_item_text_is_read() {
    let escaped = |depth| nested("&lt;div&gt;", "&lt;/div&gt;", depth, "Nordvent");
    let cdata = |depth| {
        format!(
            "<![CDATA[{}]]>",
            nested("<div>", "</div>", depth, "Nordvent")
        )
    };
    let nordvent = Want::Text(|t| t == "Nordvent");
    let cases = [
        ("20,000 escaped divs", rss_item("t", &escaped(20_000))),
        ("300,000 escaped divs", rss_item("t", &escaped(300_000))),
        ("20,000 divs in CDATA", rss_item("t", &cdata(20_000))),
        ("300,000 divs in CDATA", rss_item("t", &cdata(300_000))),
        (
            "300,000 divs in a JSON Feed item",
            json_feed(&format!(
                "{{\"id\":\"1\",\"content_html\":\"{}\"}}",
                nested("<div>", "</div>", 300_000, "Nordvent")
            )),
        ),
    ];
    for (name, bytes) in cases {
        check(name, &extract(bytes, None), &nordvent);
    }
}

#[test]
fn nesting_in_the_xml_itself_is_refused_past_the_limit() {
    let deep = Want::Error(ExtractError::TooDeep { limit: MAX_DEPTH });
    let groups = ExtractError::Amplified {
        what: "media:group elements in one item",
        limit: MAX_MEDIA_GROUPS,
    };
    // rss > channel > item is three levels; then unknown extension elements.
    let extension = |levels| {
        rss(&format!(
            "<item xmlns:x=\"urn:x\"><title>t</title><description>Nordvent</description>{}</item>",
            nested("<x:n>", "</x:n>", levels, "x")
        ))
    };
    let media_group = |levels| {
        rss(&format!(
            "<item xmlns:media=\"http://search.yahoo.com/mrss/\"><title>t</title><media:group>\
             <media:description>Nordvent</media:description>{}</media:group></item>",
            nested("<media:group>", "</media:group>", levels, "x")
        ))
    };
    let cases = [
        ("20,000 divs in Atom xhtml", atom_xhtml(20_000), deep),
        (
            "300,000 divs in Atom xhtml",
            atom_xhtml(300_000),
            Want::Error(ExtractError::TooDeep { limit: MAX_DEPTH }),
        ),
        (
            "Atom xhtml at the limit",
            atom_xhtml(MAX_DEPTH - 4),
            Want::Text(|t| t == "Nordvent"),
        ),
        (
            "Atom xhtml past the limit",
            atom_xhtml(MAX_DEPTH - 3),
            Want::Error(ExtractError::TooDeep { limit: MAX_DEPTH }),
        ),
        (
            "extension elements at the limit",
            extension(MAX_DEPTH - 3),
            Want::Text(|t| t == "Nordvent"),
        ),
        (
            "extension elements past the limit",
            extension(MAX_DEPTH - 2),
            Want::Error(ExtractError::TooDeep { limit: MAX_DEPTH }),
        ),
        // feed-rs recurses into nested groups and copies into each: few are allowed.
        (
            "media:group nested to the group limit",
            media_group(MAX_MEDIA_GROUPS - 1),
            Want::Items(1),
        ),
        (
            "media:group nested past the group limit",
            media_group(MAX_MEDIA_GROUPS),
            Want::Error(groups.clone()),
        ),
        (
            "media:group nested to the depth limit",
            media_group(MAX_DEPTH - 4),
            Want::Error(groups),
        ),
    ];
    for (name, bytes, want) in cases {
        check(name, &extract(bytes, None), &want);
    }
}

#[test]
fn item_counts_are_refused_past_the_limit() {
    let many = Want::Error(ExtractError::TooManyItems { limit: MAX_ITEMS });
    let rss_items = |n| {
        rss(&(0..n)
            .map(|i| format!("<item><title>Item {i}</title><guid>{i}</guid></item>"))
            .collect::<String>())
    };
    let atom_entries = |n| {
        atom(
            &(0..n)
                .map(|i| format!("<entry><id>e{i}</id><title>Item {i}</title></entry>"))
                .collect::<String>(),
        )
    };
    let json_items = |n| {
        json_feed(
            &(0..n)
                .map(|i| format!("{{\"id\":\"{i}\",\"content_text\":\"Item {i}\"}}"))
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    let cases = [
        (
            "5,000 RSS items",
            rss_items(MAX_ITEMS),
            Want::Items(MAX_ITEMS),
        ),
        ("100,000 RSS items", rss_items(100_000), many),
        (
            "100,000 Atom entries",
            atom_entries(100_000),
            Want::Error(ExtractError::TooManyItems { limit: MAX_ITEMS }),
        ),
        (
            "100,000 JSON Feed items",
            json_items(100_000),
            Want::Error(ExtractError::TooManyItems { limit: MAX_ITEMS }),
        ),
    ];
    for (name, bytes, want) in cases {
        check(name, &extract(bytes, None), &want);
    }
}

#[test]
fn what_the_feed_parser_would_copy_per_item_is_bounded() {
    let description = "Nordvent ".repeat(1 << 17);
    let groups = |n: usize| {
        rss(&format!(
            "<item xmlns:media=\"http://search.yahoo.com/mrss/\"><title>t</title>\
             <media:description>{description}</media:description>{}</item>",
            "<media:group><media:content url=\"https://x.example/v\"/></media:group>".repeat(n)
        ))
    };
    let author = |name: &str| format!("{{\"name\":\"{name}\"}}");
    let json = |authors: &str, item_authors: &str| {
        format!(
            "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"authors\":[{authors}],\
             \"items\":[{{\"id\":\"1\",\"content_text\":\"Nordvent\",\"authors\":[{item_authors}]}},\
             {{\"id\":\"2\",\"content_text\":\"Nordvent\"}}]}}"
        )
        .into_bytes()
    };
    let names = |n: usize| {
        (0..n)
            .map(|i| author(&format!("a{i}")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cases = [
        ("16 media groups", groups(MAX_MEDIA_GROUPS), Want::Items(1)),
        (
            "100,000 media groups",
            groups(100_000),
            Want::Error(ExtractError::Amplified {
                what: "media:group elements in one item",
                limit: MAX_MEDIA_GROUPS,
            }),
        ),
        (
            "64 authors",
            json(&names(MAX_AUTHORS), &names(MAX_AUTHORS)),
            Want::Items(2),
        ),
        (
            "100,000 authors in an item",
            json("", &names(100_000)),
            Want::Error(ExtractError::Amplified {
                what: "authors in one JSON Feed item or feed",
                limit: MAX_AUTHORS,
            }),
        ),
        (
            "a 5 MB feed author",
            json(&author(&"x".repeat(5 << 20)), ""),
            Want::Error(ExtractError::Amplified {
                what: "bytes of feed-level authors in a JSON Feed",
                limit: MAX_FEED_AUTHOR_BYTES,
            }),
        ),
    ];
    for (name, bytes, want) in cases {
        check(name, &extract(bytes, None), &want);
    }
}

#[test]
fn long_items_are_kept_and_cut() {
    let words = "Nordvent éolien ".repeat(10 << 20 >> 4);
    let got = extract(rss_item(&"Titre ".repeat(2_000), &words), None);
    let item = got
        .as_ref()
        .ok()
        .and_then(|items| items.first())
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(
        item.text.len() <= MAX_TEXT_BYTES && item.text.len() > MAX_TEXT_BYTES - 32,
        "{}",
        item.text.len()
    );
    assert!(item.text.starts_with("Nordvent éolien Nordvent"));
    assert!(
        item.title.len() <= MAX_TITLE_BYTES && item.title.len() > MAX_TITLE_BYTES - 8,
        "{}",
        item.title.len()
    );
}

#[test]
fn odd_bytes_and_entities_give_items_or_a_clear_refusal() {
    let laughs = testing::billion_laughs_doctype();
    let declaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    let billion_laughs = String::from_utf8_lossy(&rss_item("t", "&lol9;"))
        .replacen(declaration, &format!("{declaration}{laughs}"), 1)
        .into_bytes();

    let mut invalid_utf8 = rss_item("Caf\u{e9}", "cr\u{e8}me");
    invalid_utf8.extend_from_slice(b"<!-- \xff\xfe -->");
    // Every character of this document is below U+0100: one byte each in Latin-1.
    let latin1_declared_utf8: Vec<u8> =
        String::from_utf8_lossy(&rss_item("Caf\u{e9}", "cr\u{e8}me"))
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect();
    let utf16: Vec<u8> = String::from_utf8_lossy(&rss_item("Caf\u{e9}", "cr\u{e8}me"))
        .replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();

    let cases: Vec<(&str, Vec<u8>, Option<&'static str>, Want)> = vec![
        (
            "a 10 MB attribute",
            rss(&format!(
                "<item x=\"{}\"><title>t</title><description>Nordvent</description></item>",
                "a".repeat(10 << 20)
            )),
            None,
            Want::Text(|t| t == "Nordvent"),
        ),
        (
            "a 10 MB attribute in escaped HTML",
            rss_item(
                "t",
                &format!(
                    "&lt;a href=\"{}\"&gt;Nordvent&lt;/a&gt;",
                    "x".repeat(10 << 20)
                ),
            ),
            None,
            Want::Text(|t| t == "Nordvent"),
        ),
        (
            "a billion laughs",
            billion_laughs,
            None,
            Want::Text(|t| t == "&lol9;"),
        ),
        (
            "HTML entity tricks",
            rss_item(
                "t",
                "&amp;#x110000;&amp;#0;&amp;eacute&amp;amp&amp;unknown;",
            ),
            None,
            Want::Text(|t| t == "\u{FFFD}\u{FFFD}é&&unknown;"),
        ),
        (
            "100,000 entities",
            rss_item("t", &"&amp;eacute;&amp;#x110000;&amp;lt".repeat(100_000)),
            None,
            Want::Text(|t| t.chars().count() == 300_000),
        ),
        (
            "an XML reference to a code point that does not exist",
            rss_item("t", "&#x110000;"),
            None,
            Want::NotAFeed,
        ),
        (
            "an XML reference to U+0000",
            rss_item("t", "&#0;"),
            None,
            Want::NotAFeed,
        ),
        (
            "an unterminated XML entity",
            rss_item("t", "AT&T &amp"),
            None,
            Want::NotAFeed,
        ),
        // Not UTF-8 after all: read as Windows-1252, every byte a character (see charset).
        (
            "invalid UTF-8",
            invalid_utf8,
            None,
            Want::Text(|t| t == "cr\u{c3}\u{a8}me"),
        ),
        (
            "Latin-1 bytes declared UTF-8",
            latin1_declared_utf8,
            None,
            Want::Text(|t| t == "cr\u{e8}me"),
        ),
        (
            "UTF-8 served as UTF-16",
            rss_item("Caf\u{e9}", "cr\u{e8}me"),
            Some("application/rss+xml; charset=utf-16"),
            Want::Text(|t| t == "cr\u{e8}me"),
        ),
        (
            "UTF-16 without a byte-order mark",
            utf16,
            None,
            Want::Text(|t| t == "cr\u{e8}me"),
        ),
        (
            "JSON nested 100,000 deep where no field is expected",
            json_feed(&format!(
                "{{\"id\":\"1\",\"content_text\":\"Nordvent\",\"_x\":{}}}",
                nested("[", "]", 100_000, "")
            )),
            None,
            Want::Text(|t| t == "Nordvent"),
        ),
        (
            "JSON nested 100,000 deep in a field",
            json_feed(&format!(
                "{{\"id\":\"1\",\"content_text\":\"Nordvent\",\"attachments\":{}}}",
                nested("[", "]", 100_000, "")
            )),
            None,
            Want::NotAFeed,
        ),
    ];
    for (name, bytes, content_type, want) in cases {
        check(name, &extract(bytes, content_type), &want);
    }
}

/// Corpus feeds small enough for property tests to parse many times (most of them).
fn small_corpus_feeds() -> &'static [Vec<u8>] {
    static FEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FEEDS.get_or_init(|| {
        testing::corpus_feeds()
            .into_iter()
            .filter_map(|path| std::fs::read(path).ok())
            .filter(|bytes| bytes.len() <= 16 * 1024)
            .collect()
    })
}

fn article_select() -> PageSelect {
    let selector = |s: &str| scraper::Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    PageSelect {
        item: selector("item, entry, article, div"),
        item_source: "item, entry, article, div".to_string(),
        title: Some(Pick {
            selector: Some(selector("title, h2")),
            attribute: None,
            source: "title, h2".to_string(),
        }),
        link: Some(Pick {
            selector: Some(selector("link, a")),
            attribute: Some("href".to_string()),
            source: "link, a@href".to_string(),
        }),
        summary: Some(Pick {
            selector: None,
            attribute: None,
            source: String::new(),
        }),
        date: None,
    }
}

/// Everything extraction does with untrusted bytes, none of which may panic.
fn every_reading(bytes: &[u8]) {
    let source = SourceId::new("p");
    let select = article_select();
    let _ = feed_document(&source, bytes, None, Some("https://x.example/f"));
    let _ = feed_document(&source, bytes, Some("text/xml; charset=utf-16"), None);
    let _ = page::page(&source, bytes, None, "https://x.example/p", None);
    let _ = page::page(&source, bytes, None, "https://x.example/p", Some(&select));
    let _ = html_to_text(&String::from_utf8_lossy(bytes));
}

/// Markup that has broken parsers, spliced into corpus feeds.
const SPLICES: &[&str] = &[
    "<div>",
    "</item>",
    "<item>",
    "<entry>",
    "<!--",
    "<![CDATA[",
    "]]>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<!DOCTYPE x [<!ENTITY a \"&a;\">]>",
    "&#x110000;",
    "&#0;",
    "&",
    "\u{0}",
    "\u{feff}",
    "<svg><math><template>",
    "content type=\"xhtml\"",
    "\"",
    "<",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1_024)) {
        every_reading(&bytes);
    }

    #[test]
    fn damaged_corpus_feeds_never_panic(
        pick in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        splices in proptest::collection::vec(
            (any::<prop::sample::Index>(), proptest::sample::select(SPLICES)),
            0..4,
        ),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let feeds = small_corpus_feeds();
        prop_assume!(!feeds.is_empty());
        let mut bytes = feeds[pick.index(feeds.len())].clone();
        for (at, byte) in flips {
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
        }
        for (at, splice) in splices {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, splice.bytes());
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        every_reading(&bytes);
    }
}
