//! Source bytes → [`Item`]s.
//!
//! Feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed) are parsed by feed-rs from raw bytes, never
//! from a decoded string, so the parser can honour the document's own encoding. Everything
//! a watch will read is turned into plain text here (see [`html`]), once, so later stages
//! never see markup. Social posts come out as items too: no title (the digest derives a
//! display title from the text, so `title:` queries still mean the feed's title), an author
//! taken from the post's link or the feed ([`author_of`]), and Google redirect links
//! replaced by their target. Every item gets its language here too ([`lang`]): the one its
//! entry or feed declares, else one detected from its text. Pure: no I/O.
//!
//! Documents come from servers veille does not control, so extraction is bounded: a feed's
//! shape (nesting, item count) is checked by a byte-level pass before feed-rs builds any
//! entry (`prescan`), item text is read without a tree and without limit on nesting
//! ([`html`]), pages are parsed under a depth cap and a time budget ([`page`]), and each
//! item's title and text are cut to a size. Every limit, and why it is where it is, lives
//! in [`limits`]; a document past a limit is refused with an [`ExtractError`] that names it.

pub mod charset;
#[cfg(test)]
mod hostile;
pub mod html;
pub mod lang;
pub mod limits;
pub mod page;
mod prescan;
pub mod select;
mod tags;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod testkit;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, FeedType, Link, Person};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use xxhash_rust::xxh3::xxh3_128;

use crate::model::{Item, SourceId};
use limits::{MAX_ITEMS, MAX_TEXT_BYTES, MAX_TITLE_BYTES, cut, thousands};

pub use html::html_to_text;

/// Why a document gave no items. Shown by `veille sources` as the source's last error, so
/// each message says what was wrong and what the owner of the source can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the document is empty")]
    Empty,
    #[error("not a feed veille can read (RSS, Atom or JSON Feed expected): {0}")]
    NotAFeed(String),
    #[error("the feed parser failed on this document ({0}); it is treated as unreadable")]
    ParserPanic(String),
    /// Elements nested deeper than [`limits::MAX_DEPTH`].
    #[error(
        "nesting deeper than {limit} elements: the document is refused (real feeds and pages nest a few dozen levels, so this one is broken or hostile; check the URL)"
    )]
    TooDeep { limit: usize },
    /// More items than [`limits::MAX_ITEMS`] in one document.
    #[error(
        "more than {} items in one document: it is refused rather than read in part; point the source at a shorter feed (many servers take a limit parameter) or, for a page, make [source.select] item match fewer elements",
        thousands(*.limit)
    )]
    TooManyItems { limit: usize },
    /// A page with more elements than [`limits::MAX_PAGE_ELEMENTS`].
    #[error(
        "more than {} elements in the page: it is refused (its tree would take hundreds of megabytes); point the source at a smaller page",
        thousands(*.limit)
    )]
    TooManyElements { limit: usize },
    /// A part of a feed that the feed parser copies once per item or per group, past its
    /// limit ([`limits::MAX_MEDIA_GROUPS`], [`limits::MAX_AUTHORS`],
    /// [`limits::MAX_FEED_AUTHOR_BYTES`]).
    #[error(
        "more than {} {what}: the document is refused (the feed parser copies that part into every item or group, which could take gigabytes; real feeds stay far below, so check the URL)",
        thousands(*.limit)
    )]
    Amplified { what: &'static str, limit: usize },
    /// Parsing went past [`limits::PARSE_BUDGET`].
    #[error(
        "parsing took longer than {seconds} s: the document is refused (it is unusually large or convoluted; check the URL)"
    )]
    TooSlow { seconds: u64 },
    /// The selected items of a page hold more than [`limits::MAX_PAGE_TEXT_BYTES`] together.
    #[error(
        "the selected items hold more than {} MiB of text together: [source.select] item probably matches elements nested in one another; make it more specific",
        .limit / (1024 * 1024)
    )]
    TooMuchText { limit: usize },
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map(|s| one_line(&s))
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Parses a feed document into items. `base_url` resolves relative links.
pub fn feed(
    source: &SourceId,
    bytes: &[u8],
    base_url: Option<&str>,
) -> Result<Vec<Item>, ExtractError> {
    feed_document(source, bytes, None, base_url)
}

/// Parses a feed document served with `content_type` (its charset counts when the
/// document's own declaration is missing or wrong; see [`charset`]).
pub fn feed_document(
    source: &SourceId,
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<Vec<Item>, ExtractError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ExtractError::Empty);
    }
    let mut utf8 = charset::feed_to_utf8(bytes, content_type);
    // Refused here, in one linear pass, before feed-rs allocates every entry.
    prescan::check(&utf8)?;
    let mut retries = 0;
    let parsed = loop {
        let bytes: &[u8] = &utf8;
        // feed-rs invents ids for entries without one; we want to know, to build our own
        // identity. A fresh parser per attempt: one that failed keeps state and panics.
        let parser = feed_rs::parser::Builder::new()
            .base_uri(base_url)
            .id_generator(|_, _, _| String::new())
            .build();
        // feed-rs (through quick-xml) can panic on some malformed documents; one bad feed
        // must never take the daemon down, so a panic becomes an ordinary extraction error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(bytes)))
            .map_err(|panic| ExtractError::ParserPanic(panic_message(panic.as_ref())))?;
        match result {
            Ok(parsed) => break parsed,
            // feed-rs says "no root element" for an `<rss>` without a `<channel>`: a feed
            // that is (for now) empty, not an unreadable one.
            Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))
                if is_channelless_rss(bytes) =>
            {
                return Ok(Vec::new());
            }
            // feed-rs rejects the whole feed for one Atom text construct of a type it does
            // not know (base64 `application/octet-stream`, `x-custom`, empty): read those
            // as plain text rather than lose every entry.
            Err(ParseFeedError::ParseError(ParseErrorKind::UnknownMimeType { mime, .. }))
                if retries < 8 =>
            {
                retries += 1;
                let text = String::from_utf8_lossy(bytes);
                let fixed = text
                    .replace(&format!("type=\"{mime}\""), "type=\"text\"")
                    .replace(&format!("type='{mime}'"), "type=\"text\"");
                if fixed == text {
                    return Err(ExtractError::NotAFeed(format!(
                        "unsupported content type {mime:?}"
                    )));
                }
                utf8 = std::borrow::Cow::Owned(fixed.into_bytes());
            }
            Err(e) => return Err(ExtractError::NotAFeed(one_line(&e.to_string()))),
        }
    };
    // The pre-scan counted the same elements; this only guards a document it read
    // differently (a malformed one feed-rs still accepted).
    if parsed.entries.len() > MAX_ITEMS {
        return Err(ExtractError::TooManyItems { limit: MAX_ITEMS });
    }
    // An account's or profile's own feed names its owner once, in the channel link.
    let feed_author = best_link(&parsed.links)
        .and_then(|link| url::Url::parse(link).ok())
        .and_then(|link| handle_in(&link));
    let feed_lang = parsed.language.as_deref().and_then(lang::declared);
    let feed = FeedWide {
        author: feed_author.as_deref(),
        lang: feed_lang.as_deref(),
    };
    // feed-rs reads the `xml:lang` of an Atom feed and of an entry's content, not the
    // entry's own: read those in a second byte-level pass, when there can be any.
    let mut entry_langs = Vec::new();
    if parsed.feed_type == FeedType::Atom && memchr::memmem::find(&utf8, b"xml:lang").is_some() {
        entry_langs = prescan::atom_entry_langs(&utf8);
        // Paired by position: if the scan saw other entries than feed-rs kept, none count.
        if entry_langs.len() != parsed.entries.len() {
            entry_langs.clear();
        }
    }
    let mut entry_langs = entry_langs.into_iter();
    Ok(parsed
        .entries
        .into_iter()
        .map(|entry| {
            let entry_lang = entry_langs.next().flatten();
            item_from_entry(source, entry, entry_lang.as_deref(), &feed)
        })
        .collect())
}

fn is_channelless_rss(utf8: &[u8]) -> bool {
    let text = String::from_utf8_lossy(utf8);
    let rest = text
        .split_once("?>")
        .map_or(text.as_ref(), |(_, rest)| rest)
        .trim_start();
    rest.starts_with("<rss") && !text.contains("<channel")
}

/// What a feed says once for all its entries.
struct FeedWide<'a> {
    /// The account a social feed belongs to (see [`author_of`]).
    author: Option<&'a str>,
    /// The feed's declared language, normalized ([`lang::declared`]).
    lang: Option<&'a str>,
}

/// One entry as an item, its title cut to [`MAX_TITLE_BYTES`] and its text to
/// [`MAX_TEXT_BYTES`] (the item is kept: a long article is legitimate). Its language is
/// the first declared of its content's, the entry's own (`entry_lang`, as written) and the
/// feed's, else detected from its text ([`lang`]).
fn item_from_entry(
    source: &SourceId,
    entry: Entry,
    entry_lang: Option<&str>,
    feed: &FeedWide<'_>,
) -> Item {
    let mut title = entry
        .title
        .as_ref()
        .map(|t| text_of(&t.content, t.content_type.as_ref()))
        .unwrap_or_default();
    let content = entry.content.as_ref().and_then(|c| {
        c.body
            .as_ref()
            .map(|body| text_of(body, c.content_type.as_ref()))
    });
    let summary = entry
        .summary
        .as_ref()
        .map(|s| text_of(&s.content, s.content_type.as_ref()));
    // Prefer the full content; fall back to the summary when the content is missing or empty.
    let mut text = match (content, summary) {
        (Some(content), _) if !content.is_empty() => content,
        (_, Some(summary)) => summary,
        (Some(content), None) => content,
        // YouTube (and podcasts) describe an entry only in its media group.
        (None, None) => entry
            .media
            .iter()
            .find_map(|m| m.description.as_ref())
            .map(|d| text_of(&d.content, d.content_type.as_ref()))
            .unwrap_or_default(),
    };
    cut(&mut title, MAX_TITLE_BYTES);
    cut(&mut text, MAX_TEXT_BYTES);
    let link = best_link(&entry.links);
    let identity = identity(&entry.id, link, &title, &text);
    let parsed = link.and_then(|link| url::Url::parse(link).ok());
    // Google Alerts wraps every link in a google.com/url redirect: keep the article's own
    // address, for the digest and for grouping copies (the identity keeps the link as
    // the feed wrote it, so items stored before this stay the same items).
    let url = link.map(|link| {
        parsed
            .as_ref()
            .and_then(crate::dedup::canon::google_redirect_target)
            .map_or_else(|| link.to_string(), |target| target.to_string())
    });
    let author =
        author_of(&entry.authors, parsed.as_ref()).or_else(|| feed.author.map(str::to_string));
    let lang = [entry.language.as_deref(), entry_lang]
        .into_iter()
        .flatten()
        .find_map(lang::declared)
        .or_else(|| feed.lang.map(str::to_string))
        .or_else(|| lang::detect(&title, &text));
    Item {
        source: source.clone(),
        identity,
        url,
        title,
        text,
        published: published_of(&entry),
        author,
        lang,
    }
}

/// Longest author kept, in characters (a feed can put anything there).
const AUTHOR_MAX_CHARS: usize = 100;

/// Who wrote an entry. A social post's link names its author more reliably than the feed
/// does, so it comes first: `https://HOST/@user/123` (Mastodon) gives `@user@HOST`,
/// `https://bsky.app/profile/HANDLE/post/ID` gives `@HANDLE`. Then the entry's own author
/// (Reddit's `/u/name`, a YouTube channel, an article's byline): its name, else its URI,
/// else its e-mail. The caller falls back on the feed's owner (an account's feed).
pub fn author_of(authors: &[Person], link: Option<&url::Url>) -> Option<String> {
    let from_link = link.and_then(|link| {
        let segments: Vec<&str> = link.path_segments()?.collect();
        // Only a post permalink: `/@user` alone is a profile, `/@user/slug` a blog (Medium).
        match segments.as_slice() {
            [user, id] if user.starts_with('@') && is_post_id(id) => handle_in(link),
            ["profile", _, "post", _] => handle_in(link),
            _ => None,
        }
    });
    let named = || {
        authors.iter().find_map(|person| {
            [
                person.name.as_ref(),
                person.uri.as_ref(),
                person.email.as_ref(),
            ]
            .into_iter()
            .flatten()
            .map(|text| html::collapse_whitespace(text))
            .find(|text| !text.is_empty())
        })
    };
    from_link
        .or_else(named)
        .map(|author| author.chars().take(AUTHOR_MAX_CHARS).collect())
}

/// A Mastodon status id: digits (older instances and other servers use other shapes,
/// which then fall back on the feed's author).
fn is_post_id(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The handle a profile or post link names: `https://HOST/@user[/…]` → `@user@HOST` (a
/// remote account shown on another instance, `/@user@other/…`, keeps its own instance);
/// `https://bsky.app/profile/HANDLE[/…]` → `@HANDLE`, unless HANDLE is a `did:` (not a
/// name anyone reads).
fn handle_in(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let mut segments = url.path_segments()?;
    let first = segments.next()?;
    if let Some(user) = first.strip_prefix('@') {
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        };
        return match user.split_once('@') {
            Some((name, instance)) if valid(name) && valid(instance) => Some(format!("@{user}")),
            None if valid(user) => Some(format!("@{user}@{host}")),
            _ => None,
        };
    }
    if host == "bsky.app" && first == "profile" {
        let handle = segments.next()?;
        if !handle.is_empty() && !handle.starts_with("did:") && handle.contains('.') {
            return Some(format!("@{handle}"));
        }
    }
    None
}

/// What makes an item unique within its source: the GUID, else the link, else a hash of the
/// title and text. The prefix says which, so identities of different kinds never collide.
pub fn identity(guid: &str, url: Option<&str>, title: &str, text: &str) -> String {
    let guid = guid.trim();
    if !guid.is_empty() {
        return format!("guid:{guid}");
    }
    if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) {
        return format!("link:{url}");
    }
    let mut bytes = Vec::with_capacity(title.len() + text.len() + 1);
    bytes.extend_from_slice(title.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(text.as_bytes());
    format!("hash:{:032x}", xxh3_128(&bytes))
}

/// The entry's own page: an `alternate` link (or one without `rel`), else the first link.
fn best_link(links: &[Link]) -> Option<&str> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.as_str())
        .filter(|href| !href.trim().is_empty())
}

fn published_of(entry: &Entry) -> Option<DateTime<Utc>> {
    entry.published.or(entry.updated)
}

/// Plain text of a feed text construct: markup removed when it is (or looks like) HTML.
fn text_of(content: &str, media_type: &str) -> String {
    if media_type.contains("html") || html::looks_like_html(content) {
        html_to_text(content)
    } else {
        html::collapse_whitespace(content)
    }
}

/// Where `needle` first occurs in `haystack` at or after `from` (memchr's substring search,
/// linear), for the byte scanners of this module.
pub(crate) fn find_from(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack.get(from..)?, needle).map(|at| from + at)
}

fn one_line(text: &str) -> String {
    html::collapse_whitespace(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title><link>https://news.example/</link><description>d</description>
<item><title>Acme &amp; Co : la &lt;b&gt;crise&lt;/b&gt;</title><link>https://news.example/a</link>
<guid>tag:news.example,2026:1</guid><description>&lt;p&gt;Le PDG d&amp;rsquo;Acme&lt;/p&gt;&lt;p&gt;parle.&lt;/p&gt;</description>
<pubDate>Fri, 27 Nov 2026 08:00:00 +0100</pubDate></item>
<item><title>Sans guid</title><link>/relative/b</link></item>
<item><description>Ni titre ni lien</description></item>
</channel></rss>"#;

    #[test]
    fn rss_items_become_plain_text_items() {
        let source = SourceId::new("news");
        let items = feed(
            &source,
            RSS.as_bytes(),
            Some("https://news.example/feed.xml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].title, "Acme & Co : la crise");
        assert_eq!(items[0].text, "Le PDG d\u{2019}Acme parle.");
        assert_eq!(items[0].identity, "guid:tag:news.example,2026:1");
        assert_eq!(
            items[0].published.map(|d| d.to_rfc3339()),
            Some("2026-11-27T07:00:00+00:00".to_string())
        );
        assert_eq!(items[1].identity, "link:https://news.example/relative/b");
        assert!(
            items[2].identity.starts_with("hash:"),
            "{}",
            items[2].identity
        );
        assert_eq!(items[2].url, None);
    }

    const FRENCH_NEWS: &str = "Soixante-deux éoliennes ont été mises en service mercredi au \
        large de Fécamp, après sept ans de procédures. Le groupe normand prévoit d'en \
        construire deux autres d'ici la fin de la décennie, malgré l'opposition des pêcheurs.";
    const ENGLISH_NEWS: &str = "The link will carry power from three offshore wind farms to \
        the mainland grid from next winter. Officials said the decision followed two years of \
        consultation with local fishing groups, who had opposed the route.";

    fn langs_of(document: &str) -> Vec<Option<String>> {
        feed(&SourceId::new("s"), document.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|item| item.lang)
            .collect()
    }

    fn rss(language: Option<&str>, items: &[(&str, &str)]) -> String {
        let language = language.map_or(String::new(), |l| format!("<language>{l}</language>"));
        let items: String = items
            .iter()
            .enumerate()
            .map(|(i, (title, text))| {
                format!("<item><guid>{i}</guid><title>{title}</title><description>{text}</description></item>")
            })
            .collect();
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{language}{items}</channel></rss>"
        )
    }

    fn some(lang: &str) -> Option<String> {
        Some(lang.to_string())
    }

    #[test]
    fn a_feed_language_is_every_item_language() {
        // Declared wins over the text: the English item of a feed declared French is French.
        let document = rss(
            Some("fr-FR"),
            &[
                ("Nordvent inaugure son parc", FRENCH_NEWS),
                ("Regulators approve the interconnector", ENGLISH_NEWS),
                ("Brève", ""),
            ],
        );
        assert_eq!(langs_of(&document), vec![some("fr"); 3]);

        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "T", "language": "en-GB",
            "items": [{"id": "1", "content_text": "Short."}, {"id": "2", "title": "Another"}]}"#;
        assert_eq!(langs_of(json), vec![some("en"); 2]);
    }

    #[test]
    fn an_atom_entry_language_overrides_the_feed_language() {
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<id>f</id><title>T</title><updated>2026-11-27T08:00:00Z</updated>
<entry><id>1</id><title>Wind farm opens</title><updated>2026-11-27T08:00:00Z</updated></entry>
<entry xml:lang="fr"><id>2</id><title>Le parc ouvre</title><updated>2026-11-27T08:00:00Z</updated></entry>
<entry xml:lang="*"><id>3</id><title>Junk declared</title><updated>2026-11-27T08:00:00Z</updated></entry>
<entry><id>4</id><title>Another</title><updated>2026-11-27T08:00:00Z</updated></entry>
<entry xml:lang="fr"><id>5</id><title>Zitat</title><content xml:lang="de-AT">Ein Zitat.</content></entry>
</feed>"#;
        // The content's own language, where it says, is the text's.
        assert_eq!(
            langs_of(atom),
            vec![some("en"), some("fr"), some("en"), some("en"), some("de")]
        );
    }

    #[test]
    fn undeclared_items_are_detected_from_their_text() {
        let items = [
            ("Nordvent inaugure son parc éolien en mer", FRENCH_NEWS),
            ("Regulators approve the new interconnector", ENGLISH_NEWS),
            ("Nordvent Fécamp 2026", ""),
        ];
        let want = vec![some("fr"), some("en"), None];
        assert_eq!(langs_of(&rss(None, &items)), want);
        // A declaration that names no language is no declaration.
        for junk in ["x-klingon", "*", "", &"z".repeat(200)] {
            assert_eq!(langs_of(&rss(Some(junk), &items)), want, "{junk:?}");
        }
    }

    #[test]
    fn identity_prefers_guid_then_link_then_content() {
        assert_eq!(identity(" g1 ", Some("https://x/1"), "t", "b"), "guid:g1");
        assert_eq!(
            identity("", Some("https://x/1"), "t", "b"),
            "link:https://x/1"
        );
        let a = identity("", None, "title", "body");
        assert_eq!(a, identity("", None, "title", "body"));
        assert_ne!(a, identity("", None, "titlebody", ""));
    }

    fn parse(link: &str) -> url::Url {
        url::Url::parse(link).unwrap_or_else(|e| panic!("{link}: {e}"))
    }

    #[test]
    fn authors_come_from_post_links_then_the_feed() {
        let person = |name: &str, uri: Option<&str>| Person {
            name: Some(name.to_string()),
            uri: uri.map(str::to_string),
            email: None,
            role: None,
        };
        let cases: &[(&[Person], Option<&str>, Option<&str>)] = &[
            (
                &[],
                Some("https://mastodon.example/@alice/1134"),
                Some("@alice@mastodon.example"),
            ),
            (
                &[],
                Some("https://mastodon.example/@bob@other.example/1134"),
                Some("@bob@other.example"),
            ),
            (
                &[],
                Some("https://bsky.app/profile/nordvent.example/post/3kabc"),
                Some("@nordvent.example"),
            ),
            (
                &[],
                Some("https://bsky.app/profile/did:plc:abc/post/3kabc"),
                None,
            ),
            (&[], Some("https://medium.com/@writer/a-story-1a2b3c"), None),
            (
                &[person(
                    "/u/someone",
                    Some("https://www.reddit.com/user/someone"),
                )],
                Some("https://www.reddit.com/r/x/comments/1/t/"),
                Some("/u/someone"),
            ),
            (
                &[person(" ", Some("https://www.reddit.com/user/anon"))],
                None,
                Some("https://www.reddit.com/user/anon"),
            ),
            (
                &[person("Jeanne Martin", None)],
                Some("https://news.example/a"),
                Some("Jeanne Martin"),
            ),
            (&[], Some("https://news.example/a"), None),
        ];
        for (authors, link, want) in cases {
            let link = link.and_then(|link| url::Url::parse(link).ok());
            assert_eq!(
                author_of(authors, link.as_ref()).as_deref(),
                *want,
                "{link:?}"
            );
        }
        assert_eq!(
            handle_in(&parse("https://mastodon.example/@alice")).as_deref(),
            Some("@alice@mastodon.example")
        );
        assert_eq!(
            handle_in(&parse("https://mastodon.example/tags/acme")),
            None
        );
    }

    #[test]
    fn google_redirect_links_become_their_target() {
        let rss = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>g</id><title>Alerts</title>
<entry><id>tag:google.com,2013:googlealerts/feed:1</id><title type="html">Nordvent</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example/a%3Fid%3D1&amp;ct=ga&amp;cd=X&amp;usg=Y"/></entry>
<entry><id>2</id><title>Other</title><link href="https://www.google.com/url?url=javascript:alert(1)"/></entry>
<entry><id>3</id><title>Plain</title><link href="https://evil.example/url?url=https://news.example/b"/></entry>
</feed>"#;
        let items =
            feed(&SourceId::new("g"), rss.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        let urls: Vec<Option<&str>> = items.iter().map(|i| i.url.as_deref()).collect();
        assert_eq!(
            urls,
            vec![
                Some("https://news.example/a?id=1"),
                Some("https://www.google.com/url?url=javascript:alert(1)"),
                Some("https://evil.example/url?url=https://news.example/b"),
            ]
        );
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let source = SourceId::new("s");
        assert_eq!(feed(&source, b"  \n", None), Err(ExtractError::Empty));
        match feed(&source, b"<html><body>not a feed</body></html>", None) {
            Err(ExtractError::NotAFeed(message)) => assert!(!message.is_empty()),
            other => panic!("expected NotAFeed, got {other:?}"),
        }
    }

    #[test]
    fn limit_errors_name_the_limit_and_what_to_do() {
        let cases = [
            (
                ExtractError::TooDeep {
                    limit: limits::MAX_DEPTH,
                },
                "nesting deeper than 512 elements: ",
                "check the URL",
            ),
            (
                ExtractError::TooManyItems {
                    limit: limits::MAX_ITEMS,
                },
                "more than 5,000 items in one document: ",
                "[source.select] item",
            ),
            (
                ExtractError::TooManyElements {
                    limit: limits::MAX_PAGE_ELEMENTS,
                },
                "more than 250,000 elements in the page: ",
                "smaller page",
            ),
            (
                ExtractError::TooMuchText {
                    limit: limits::MAX_PAGE_TEXT_BYTES,
                },
                "the selected items hold more than 16 MiB of text together: ",
                "more specific",
            ),
            (
                ExtractError::Amplified {
                    what: "media:group elements in one item",
                    limit: limits::MAX_MEDIA_GROUPS,
                },
                "more than 16 media:group elements in one item: ",
                "check the URL",
            ),
            (
                ExtractError::TooSlow {
                    seconds: limits::PARSE_BUDGET.as_secs(),
                },
                "parsing took longer than 10 s: ",
                "check the URL",
            ),
        ];
        for (error, starts, advice) in cases {
            let message = error.to_string();
            assert!(message.starts_with(starts), "{message}");
            assert!(message.contains(advice), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
