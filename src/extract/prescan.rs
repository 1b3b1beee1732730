//! The shape of a feed, checked before feed-rs parses it: nesting depth and item count.
//!
//! feed-rs builds every entry of a document before returning any, so a 100,000-item feed
//! costs hundreds of megabytes, and a document nested 300,000 elements deep is where a
//! parser (or the HTML reader after it) is most likely to hit a limit of its own. One
//! byte-level pass refuses both before anything is allocated: it follows the XML syntax
//! just enough to tell elements from what only looks like them (comments, CDATA sections,
//! processing instructions, the DOCTYPE with its internal subset, quoted attribute values),
//! counts the open elements, and counts `item`/`entry` elements under any prefix
//! (`rss:item`, `atom:entry`). A JSON Feed's `items` are counted by serde without building
//! them; its nesting needs no check (serde_json refuses more than 128 levels in what it
//! builds and skips the rest without recursion).
//!
//! The same pass refuses what feed-rs would copy out of proportion: it copies an item's
//! Media RSS details (description, thumbnails…) into each of the item's `media:group`s,
//! recursing into nested groups, and a JSON Feed's feed-level authors into every item
//! without one (after de-duplicating authors by comparing each with all the others). A
//! 5 MB description and 100,000 groups would be half a terabyte of copies; past
//! [`MAX_MEDIA_GROUPS`], [`MAX_AUTHORS`] and [`MAX_FEED_AUTHOR_BYTES`] the feed is refused.
//!
//! The same walk finds what feed-rs does not read of an Atom entry: its own `xml:lang`
//! ([`atom_entry_langs`], a second pass made only for Atom feeds that use the attribute).
//!
//! Trade-off: the pass is lenient where XML is not (it does not match end tags to start
//! tags), so a malformed document may be counted a little differently than feed-rs would
//! read it; feed-rs still rejects it afterwards. Escaped HTML inside a description is text
//! here, whatever its nesting: the item reader handles that (see [`super::html`]).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::limits::{MAX_AUTHORS, MAX_DEPTH, MAX_FEED_AUTHOR_BYTES, MAX_ITEMS, MAX_MEDIA_GROUPS};
use super::{ExtractError, find_from};

/// Refuses a feed document (UTF-8, prolog cleaned) that nests too deep or holds too many
/// items; JSON when it starts with `{`.
pub(crate) fn check(utf8: &[u8]) -> Result<(), ExtractError> {
    let start = utf8.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|at| utf8[at]) {
        Some(b'{') => check_json(utf8),
        _ => check_xml(utf8, MAX_DEPTH, MAX_ITEMS),
    }
}

pub(super) fn check_xml(b: &[u8], max_depth: usize, max_items: usize) -> Result<(), ExtractError> {
    let mut items: usize = 0;
    // `group` elements (Media RSS) since the current item started.
    let mut groups: usize = 0;
    walk_xml(b, max_depth, |local, _, _| {
        if local == b"item" || local == b"entry" {
            items += 1;
            groups = 0;
            if items > max_items {
                return Err(ExtractError::TooManyItems { limit: max_items });
            }
        } else if local == b"group" {
            groups += 1;
            if groups > MAX_MEDIA_GROUPS {
                return Err(ExtractError::Amplified {
                    what: "media:group elements in one item",
                    limit: MAX_MEDIA_GROUPS,
                });
            }
        }
        Ok(())
    })
}

/// The `xml:lang` of each `entry` element right under the root of an Atom document, in
/// order (`None` for an entry without one), as written: feed-rs reads the root's and the
/// content's `xml:lang`, not the entry's. The caller pairs them with feed-rs's entries
/// only when the counts agree. Run on a document [`check`] accepted; a value longer than
/// [`MAX_LANG_BYTES`] is not kept (no language tag is that long).
pub(crate) fn atom_entry_langs(b: &[u8]) -> Vec<Option<String>> {
    let mut langs = Vec::new();
    let walked = walk_xml(b, MAX_DEPTH, |local, depth, tag| {
        if local == b"entry" && depth == 1 {
            langs.push(
                attribute(tag, b"xml:lang")
                    .filter(|value| value.len() <= MAX_LANG_BYTES)
                    .map(|value| String::from_utf8_lossy(value).into_owned()),
            );
        }
        Ok(())
    });
    // Only the depth limit can stop the walk, and `check` passed it.
    if walked.is_err() {
        langs.clear();
    }
    langs
}

/// The longest `xml:lang` value [`atom_entry_langs`] keeps.
const MAX_LANG_BYTES: usize = 64;

/// Walks the elements of an XML document in one byte-level pass (see the module doc), and
/// calls `start` with the local name of each start tag, the number of elements open around
/// it (0 for the root) and the rest of the tag after its name (its attributes); refuses a
/// document nested deeper than `max_depth`, or whatever `start` refuses.
fn walk_xml(
    b: &[u8],
    max_depth: usize,
    mut start: impl FnMut(&[u8], usize, &[u8]) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    let mut depth: usize = 0;
    let mut i = 0;
    while let Some(lt) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'<'))
    {
        let at = i + lt;
        let rest = &b[at..];
        i = if rest.starts_with(b"<!--") {
            find_from(b, at + 4, b"-->").map_or(b.len(), |e| e + 3)
        } else if rest.starts_with(b"<![CDATA[") {
            find_from(b, at + 9, b"]]>").map_or(b.len(), |e| e + 3)
        } else if rest.starts_with(b"<?") {
            find_from(b, at + 2, b"?>").map_or(b.len(), |e| e + 2)
        } else if rest.starts_with(b"<!") {
            declaration_end(b, at + 2)
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            tag_end(b, at + 2).0
        } else if rest.get(1).is_some_and(|&c| is_name_start(c)) {
            let name_end = at
                + 1
                + rest[1..]
                    .iter()
                    .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
                    .unwrap_or(rest.len() - 1);
            let name = &b[at + 1..name_end];
            let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
            let (end, self_closing) = tag_end(b, name_end);
            start(local, depth, &b[name_end..end])?;
            if !self_closing {
                depth += 1;
                if depth > max_depth {
                    return Err(ExtractError::TooDeep { limit: max_depth });
                }
            }
            end
        } else {
            at + 1
        };
    }
    Ok(())
}

/// The value of attribute `name` in `tag` (what follows an element's name, up to its `>`),
/// read attribute by attribute so that a quoted value that looks like one is not taken
/// for it. Entities are left as written.
fn attribute<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    loop {
        while tag.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        let name_start = i;
        while tag
            .get(i)
            .is_some_and(|&c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'/'))
        {
            i += 1;
        }
        if i == name_start {
            return None;
        }
        let this = &tag[name_start..i];
        while tag.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if tag.get(i) != Some(&b'=') {
            // An attribute without a value (not XML): nothing to skip.
            continue;
        }
        i += 1;
        while tag.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        let quote = *tag.get(i).filter(|&&c| c == b'"' || c == b'\'')?;
        let value_start = i + 1;
        let value_end = value_start + tag.get(value_start..)?.iter().position(|&c| c == quote)?;
        if this == name {
            return Some(&tag[value_start..value_end]);
        }
        i = value_end + 1;
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

/// From inside a tag: the index after its `>` (quoted attribute values may hold `>`), and
/// whether it ends with `/>`.
fn tag_end(b: &[u8], from: usize) -> (usize, bool) {
    let mut i = from;
    let mut last = 0u8;
    while i < b.len() {
        match b[i] {
            quote @ (b'"' | b'\'') => {
                let Some(close) = b[i + 1..].iter().position(|&c| c == quote) else {
                    return (b.len(), false);
                };
                i += close + 2;
                last = quote;
                continue;
            }
            b'>' => return (i + 1, last == b'/'),
            c if !c.is_ascii_whitespace() => last = c,
            _ => {}
        }
        i += 1;
    }
    (b.len(), false)
}

/// From after `<!` (a DOCTYPE or a declaration in its internal subset): the index after the
/// `>` that ends it, past quoted strings, comments and a `[ … ]` subset.
fn declaration_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    let mut brackets: usize = 0;
    while i < b.len() {
        match b[i] {
            quote @ (b'"' | b'\'') => {
                let Some(close) = b[i + 1..].iter().position(|&c| c == quote) else {
                    return b.len();
                };
                i += close + 2;
                continue;
            }
            b'<' if b[i..].starts_with(b"<!--") => {
                i = find_from(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
                continue;
            }
            b'[' => brackets += 1,
            b']' => brackets = brackets.saturating_sub(1),
            b'>' if brackets == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// What of a JSON Feed matters to its cost: how many items, and the authors feed-rs
/// compares with each other (a quadratic de-duplication) and copies into every item that
/// names none. Deserialized without building the items.
#[derive(Deserialize)]
struct JsonShape {
    #[serde(default)]
    items: Vec<JsonItemShape>,
    #[serde(default)]
    author: Option<JsonAuthorShape>,
    #[serde(default)]
    authors: Vec<JsonAuthorShape>,
}

#[derive(Deserialize)]
struct JsonItemShape {
    #[serde(default)]
    authors: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct JsonAuthorShape {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
}

impl JsonAuthorShape {
    fn bytes(&self) -> usize {
        [&self.name, &self.url, &self.avatar]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum()
    }
}

fn check_json(utf8: &[u8]) -> Result<(), ExtractError> {
    // A document serde cannot read this way is left to feed-rs, which says why.
    let Ok(shape) = serde_json::from_slice::<JsonShape>(utf8) else {
        return Ok(());
    };
    if shape.items.len() > MAX_ITEMS {
        return Err(ExtractError::TooManyItems { limit: MAX_ITEMS });
    }
    let feed_authors = shape.authors.len() + usize::from(shape.author.is_some());
    let most_authors = shape
        .items
        .iter()
        .map(|i| i.authors.len())
        .max()
        .unwrap_or(0);
    if feed_authors.max(most_authors) > MAX_AUTHORS {
        return Err(ExtractError::Amplified {
            what: "authors in one JSON Feed item or feed",
            limit: MAX_AUTHORS,
        });
    }
    let author_bytes: usize = shape
        .authors
        .iter()
        .chain(&shape.author)
        .map(JsonAuthorShape::bytes)
        .sum();
    if author_bytes > MAX_FEED_AUTHOR_BYTES {
        return Err(ExtractError::Amplified {
            what: "bytes of feed-level authors in a JSON Feed",
            limit: MAX_FEED_AUTHOR_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_with(items: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>"
        )
    }

    /// An RSS document whose deepest element is `depth` levels down (`rss` is level 1).
    fn rss_of_depth(depth: usize) -> String {
        // rss > channel > item > description-like extension, then nesting.
        let inner = crate::extract::testing::nested("<x:n>", "</x:n>", depth - 3, "Nordvent");
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:x=\"urn:x\"><channel><item>{inner}</item></channel></rss>"
        )
    }

    #[test]
    fn depth_is_refused_past_the_limit_only() {
        assert_eq!(check(rss_of_depth(MAX_DEPTH).as_bytes()), Ok(()));
        assert_eq!(
            check(rss_of_depth(MAX_DEPTH + 1).as_bytes()),
            Err(ExtractError::TooDeep { limit: MAX_DEPTH })
        );
        // Siblings and self-closed elements do not add depth.
        let wide = rss_with(&"<item><title>t</title><x/><y /></item>".repeat(2_000));
        assert_eq!(check(wide.as_bytes()), Ok(()));
    }

    #[test]
    fn items_are_counted_under_any_prefix() {
        let cases = [
            ("<item><title>t</title></item>", MAX_ITEMS, Ok(())),
            (
                "<item><title>t</title></item>",
                MAX_ITEMS + 1,
                Err(ExtractError::TooManyItems { limit: MAX_ITEMS }),
            ),
            (
                "<rss:item/>",
                MAX_ITEMS + 1,
                Err(ExtractError::TooManyItems { limit: MAX_ITEMS }),
            ),
            (
                "<atom:entry></atom:entry>",
                MAX_ITEMS + 1,
                Err(ExtractError::TooManyItems { limit: MAX_ITEMS }),
            ),
            ("<items/><itemized/><x:entryway/>", MAX_ITEMS + 1, Ok(())),
        ];
        for (item, count, want) in cases {
            let document = rss_with(&item.repeat(count));
            assert_eq!(check(document.as_bytes()), want, "{item} × {count}");
        }
    }

    #[test]
    fn what_only_looks_like_elements_is_not_counted() {
        let n = MAX_ITEMS + 1;
        let many = |s: &str| s.repeat(n);
        let cases = [
            format!("<!-- {} -->", many("<item>")),
            format!(
                "<description><![CDATA[{}]]></description>",
                many("<item><div>")
            ),
            format!(
                "<description>{}</description>",
                many("&lt;item&gt;&lt;div&gt;")
            ),
            format!("<?pi {} ?>", many("<item>")),
            format!("<a title=\"{}\" b='{}'/>", many("<item>"), many("<entry>")),
        ];
        for body in cases {
            assert_eq!(check(rss_with(&body).as_bytes()), Ok(()), "{body:.40}");
        }
        let doctype = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"]>\"><!-- ] > --><!ELEMENT item ANY>{}]>{}",
            many("<!ENTITY b '<item>'>"),
            rss_with("<item/>")
        );
        assert_eq!(check(doctype.as_bytes()), Ok(()));
    }

    #[test]
    fn atom_entry_langs_are_read_from_entries_under_the_root() {
        let atom = |entries: &str| {
            format!(
                "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\"><title>T</title>{entries}</feed>"
            )
        };
        let long = format!("<entry xml:lang=\"{}\"/>", "x".repeat(MAX_LANG_BYTES + 1));
        let cases: Vec<(String, Vec<Option<&str>>)> = vec![
            ("<entry/>".to_string(), vec![None]),
            (
                "<entry xml:lang=\"fr\"><title>t</title></entry><entry id='2'/>".to_string(),
                vec![Some("fr"), None],
            ),
            ("<entry  xml:lang = 'de-DE' >x</entry>".to_string(), vec![Some("de-DE")]),
            // A value that only looks like the attribute is not it.
            (
                "<entry title=\"a xml:lang='x' b\" lang=\"y\"/>".to_string(),
                vec![None],
            ),
            // Entries deeper than the root's children (in content, in a source) do not count.
            (
                "<entry xml:lang=\"fr\"><content type=\"xhtml\"><div><entry xml:lang=\"it\"/></div></content></entry>"
                    .to_string(),
                vec![Some("fr")],
            ),
            ("<!-- <entry xml:lang=\"it\"/> --><entry/>".to_string(), vec![None]),
            (long, vec![None]),
            ("<entry xml:lang=\"fr/>".to_string(), vec![None]),
        ];
        for (entries, want) in cases {
            let got = atom_entry_langs(atom(&entries).as_bytes());
            let got: Vec<Option<&str>> = got.iter().map(Option::as_deref).collect();
            assert_eq!(got, want, "{entries}");
        }
    }

    fn json_feed(items: usize) -> String {
        let item = "{\"id\":\"1\",\"content_text\":\"Nordvent\",\"_x\":{\"items\":[1,2,3]}}";
        format!(
            "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"items\":[{}]}}",
            vec![item; items].join(",")
        )
    }

    #[test]
    fn json_feed_items_are_counted() {
        assert_eq!(check(json_feed(MAX_ITEMS).as_bytes()), Ok(()));
        assert_eq!(
            check(json_feed(MAX_ITEMS + 1).as_bytes()),
            Err(ExtractError::TooManyItems { limit: MAX_ITEMS })
        );
        // What serde cannot read is left to feed-rs, which says why.
        for broken in ["{\"items\": 3}", "{\"items\": [", "{]"] {
            assert_eq!(check(broken.as_bytes()), Ok(()), "{broken}");
        }
    }
}
