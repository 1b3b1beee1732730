//! Bytes in any charset → UTF-8 text, for feeds and for pages.
//!
//! Publishers get charsets wrong in every possible way: no declaration, a declaration that
//! contradicts the bytes, an HTTP header that contradicts the declaration, UTF-16 without a
//! byte-order mark. Rather than letting each parser guess (feed-rs trusts the XML
//! declaration, and panics inside quick-xml on UTF-16), veille decides the encoding once,
//! here, transcodes to UTF-8 with encoding_rs, and hands the parsers UTF-8 whose declaration
//! says so.
//!
//! Order for feeds: a byte-order mark; UTF-16/32 recognised from the `<?xml` pattern;
//! valid UTF-8 (a legacy-encoded document with non-ASCII bytes is almost never valid UTF-8
//! by accident, while "UTF-8 declared as ISO-8859-1" is a common publisher mistake); then
//! the HTTP `Content-Type` charset; then the XML declaration; then windows-1252 (the
//! superset browsers use for "ISO-8859-1"). Pages follow the same idea with `<meta
//! charset>` / `http-equiv` searched in the whole head, not only the first 1,024 bytes.
//! The same pass makes the prolog acceptable to feed-rs: comments, DOCTYPE and whitespace
//! before the root are dropped, and an `<rss>` root without a version feed-rs knows is read
//! as RSS 2.0. Trade-off: a declared East-Asian charset whose bytes happen to be valid UTF-8 is read as
//! UTF-8; that is rare and the reverse mistake is far more common.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The encoding decided for a document, and why (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Bom(&'static Encoding),
    Utf32 { big_endian: bool },
    Pattern(&'static Encoding),
    Utf8,
    Http(&'static Encoding),
    Declared(&'static Encoding),
    Fallback(&'static Encoding),
}

/// The `charset` parameter of a `Content-Type` value, as an encoding.
pub fn charset_of_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(['"', '\'']);
        Encoding::for_label(value.as_bytes())
    })
}

/// The `encoding="…"` of an XML declaration at the start of `head` (ASCII-compatible bytes).
fn declared_xml_encoding(head: &[u8]) -> Option<&'static Encoding> {
    let start = head.windows(5).position(|w| w == b"<?xml")?;
    // Comments may come before the declaration in broken files; look a little way in.
    if start > 4096 {
        return None;
    }
    let rest = &head[start..];
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let value = attribute_value(decl, "encoding")?;
    Encoding::for_label(value.as_bytes())
}

/// `name="value"` or `name='value'` inside a tag-like text.
fn attribute_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let rest = text[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote == '"' || quote == '\'' {
            let inner = &rest[1..];
            return inner.find(quote).map(|end| &inner[..end]);
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | ';' | '/'))
            .unwrap_or(rest.len());
        return Some(&rest[..end]);
    }
    None
}

fn sniff_utf16_32(bytes: &[u8]) -> Option<Decided> {
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] => Some(Decided::Utf32 { big_endian: false }),
        [0, 0, 0xFE, 0xFF, ..] => Some(Decided::Utf32 { big_endian: true }),
        [b'<', 0, 0, 0, ..] => Some(Decided::Utf32 { big_endian: false }),
        [0, 0, 0, b'<', ..] => Some(Decided::Utf32 { big_endian: true }),
        _ => {
            if let Some((encoding, _)) = Encoding::for_bom(bytes) {
                return Some(Decided::Bom(encoding));
            }
            match bytes {
                [b'<', 0, b'?', 0, ..] | [b'<', 0, b'r', 0, ..] | [b'<', 0, b'f', 0, ..] => {
                    Some(Decided::Pattern(UTF_16LE))
                }
                [0, b'<', 0, b'?', ..] | [0, b'<', 0, b'r', ..] | [0, b'<', 0, b'f', ..] => {
                    Some(Decided::Pattern(UTF_16BE))
                }
                _ => None,
            }
        }
    }
}

/// Decides the encoding of a feed document.
pub fn decide_feed(bytes: &[u8], content_type: Option<&str>) -> Decided {
    if let Some(decided) = sniff_utf16_32(bytes) {
        return decided;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return Decided::Utf8;
    }
    if let Some(encoding) = content_type.and_then(charset_of_content_type)
        && encoding != UTF_8
    {
        return Decided::Http(encoding);
    }
    let head = &bytes[..bytes.len().min(8192)];
    if let Some(encoding) = declared_xml_encoding(head)
        && encoding != UTF_8
        && !is_utf16(encoding)
    {
        return Decided::Declared(encoding);
    }
    Decided::Fallback(WINDOWS_1252)
}

/// Decides the encoding of an HTML page.
pub fn decide_page(bytes: &[u8], content_type: Option<&str>) -> Decided {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return Decided::Bom(encoding);
    }
    if let Some(encoding) = content_type.and_then(charset_of_content_type) {
        // A UTF-16 label on an ASCII-compatible page is a known server mistake (HTML spec).
        if !is_utf16(encoding) {
            return Decided::Http(encoding);
        }
    }
    if let Some(encoding) = meta_charset(bytes) {
        return Decided::Declared(encoding);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return Decided::Utf8;
    }
    Decided::Fallback(WINDOWS_1252)
}

fn is_utf16(encoding: &'static Encoding) -> bool {
    encoding == UTF_16LE || encoding == UTF_16BE
}

/// `<meta charset="…">` or `<meta http-equiv="Content-Type" content="…; charset=…">`
/// anywhere before `</head>` (or the body, when there is no head end).
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
    let head_end = find(&lower, b"</head")
        .or_else(|| find(&lower, b"<body"))
        .unwrap_or(lower.len());
    let head = &lower[..head_end];
    let mut from = 0;
    while let Some(found) = find(&head[from..], b"<meta") {
        let start = from + found;
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |e| start + e);
        from = end;
        let tag = String::from_utf8_lossy(&head[start..end]);
        if let Some(value) = attribute_value(&tag, "charset")
            && let Some(encoding) = Encoding::for_label(value.trim().as_bytes())
        {
            // A page cannot declare itself UTF-16 in ASCII bytes: the HTML spec reads UTF-8.
            return Some(if is_utf16(encoding) { UTF_8 } else { encoding });
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    super::find_from(haystack, 0, needle)
}

/// Decodes with a decided encoding. Malformed sequences become U+FFFD.
pub fn decode(bytes: &[u8], decided: Decided) -> Cow<'_, str> {
    let encoding = match decided {
        Decided::Utf32 { big_endian } => return Cow::Owned(decode_utf32(bytes, big_endian)),
        Decided::Utf8 => UTF_8,
        Decided::Bom(e)
        | Decided::Pattern(e)
        | Decided::Http(e)
        | Decided::Declared(e)
        | Decided::Fallback(e) => e,
    };
    // Strips a BOM of the same encoding; keeps everything else.
    let (text, _) = encoding.decode_with_bom_removal(bytes);
    text
}

fn decode_utf32(bytes: &[u8], big_endian: bool) -> String {
    let body = match (big_endian, bytes) {
        (false, [0xFF, 0xFE, 0, 0, rest @ ..]) | (true, [0, 0, 0xFE, 0xFF, rest @ ..]) => rest,
        _ => bytes,
    };
    body.chunks_exact(4)
        .map(|c| {
            let value = if big_endian {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            };
            char::from_u32(value).unwrap_or('\u{FFFD}')
        })
        .collect()
}

/// A feed as UTF-8 bytes whose prolog a strict XML parser accepts: the encoding decided
/// and transcoded, the declaration saying UTF-8, and comments, whitespace and a DOCTYPE
/// before the root element removed (many real feeds start with a comment, which feed-rs
/// rejects as "no root element").
pub fn feed_to_utf8<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    let decided = decide_feed(bytes, content_type);
    let text = decode(bytes, decided);
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // JSON Feed: UTF-8 text, no prolog.
        return match text {
            Cow::Borrowed(_) if decided == Decided::Utf8 => Cow::Borrowed(bytes),
            other => Cow::Owned(other.into_owned().into_bytes()),
        };
    }
    let (declaration, rest) = split_prolog(trimmed);
    let root_fix = rss_root_fix(rest);
    if declaration.is_none()
        && rest.len() == text.len()
        && decided == Decided::Utf8
        && root_fix.is_none()
    {
        return Cow::Borrowed(bytes);
    }
    let mut out = String::with_capacity(rest.len() + 64);
    out.push_str(&utf8_declaration(declaration));
    match root_fix {
        Some((tag_end, fixed)) => {
            out.push_str(&fixed);
            out.push_str(&rest[tag_end..]);
        }
        None => out.push_str(rest),
    }
    Cow::Owned(out.into_bytes())
}

/// feed-rs reads `<rss>` only with version 2.0, 0.91 or 0.92; RSS 0.93/0.94/2.01 and a
/// missing version are the same format in practice. Returns the end of the start tag and
/// the tag rewritten with `version="2.0"`, when a rewrite is needed.
fn rss_root_fix(rest: &str) -> Option<(usize, String)> {
    let after = rest.strip_prefix("<rss")?;
    if !after.starts_with([' ', '\t', '\r', '\n', '>', '/']) {
        return None;
    }
    let tag_end = rest.find('>')?;
    let tag = &rest[..tag_end];
    match attribute_value(tag, "version") {
        Some("2.0" | "" | "0.91" | "0.92") => None,
        Some(other) => {
            let at = tag.find("version")?;
            let value_at = at + tag[at..].find(other)?;
            let fixed = format!("{}2.0{}", &tag[..value_at], &tag[value_at + other.len()..]);
            Some((tag_end, fixed))
        }
        None => Some((
            tag_end,
            format!("<rss version=\"2.0\"{after_name}", after_name = &tag[4..]),
        )),
    }
}

/// Splits `<?xml …?>`, comments, processing instructions, a DOCTYPE and whitespace off
/// the front; returns the declaration (if any) and the text from the root element on.
fn split_prolog(text: &str) -> (Option<&str>, &str) {
    let mut declaration = None;
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
        if rest.starts_with("<?xml ") || rest.starts_with("<?xml?") {
            let Some(end) = rest.find("?>") else { break };
            if declaration.is_none() {
                declaration = Some(&rest[..end + 2]);
            }
            rest = &rest[end + 2..];
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let Some(end) = after.find("-->") else { break };
            rest = &after[end + 3..];
        } else if rest
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("<!DOCTYPE"))
        {
            // Internal subsets (`[ … ]`) can hold `>`: skip to the `>` after the `]`. The
            // `[` is looked for before the first `>` only, so that a run of DOCTYPEs costs
            // one pass, not one pass per DOCTYPE.
            let Some(close) = rest.find('>') else { break };
            let end = match rest[..close].find('[') {
                Some(open) => rest[open..]
                    .find(']')
                    .and_then(|c| rest[open + c..].find('>').map(|g| open + c + g)),
                None => Some(close),
            };
            let Some(end) = end else { break };
            rest = &rest[end + 1..];
        } else {
            break;
        }
    }
    (declaration, rest)
}

/// The declaration with its encoding replaced by UTF-8 (version and standalone kept).
fn utf8_declaration(declaration: Option<&str>) -> String {
    let version = declaration
        .and_then(|d| attribute_value(d, "version"))
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !v.is_empty())
        .unwrap_or("1.0");
    format!("<?xml version=\"{version}\" encoding=\"UTF-8\"?>\n")
}

/// A page as UTF-8 text.
pub fn page_to_utf8<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    decode(bytes, decide_page(bytes, content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_text(bytes: &[u8], content_type: Option<&str>) -> String {
        String::from_utf8(feed_to_utf8(bytes, content_type).into_owned())
            .unwrap_or_else(|e| panic!("not UTF-8: {e}"))
    }

    #[test]
    fn feed_encodings_are_decided_in_order() {
        let latin1_undeclared: &[u8] = b"<rss><title>caf\xe9</title></rss>";
        let cases: &[(&str, &[u8], Option<&str>, Decided)] = &[
            (
                "utf-8 bytes",
                "<rss>café</rss>".as_bytes(),
                None,
                Decided::Utf8,
            ),
            (
                "utf-8 declared latin-1",
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>café</rss>".as_bytes(),
                None,
                Decided::Utf8,
            ),
            (
                "latin-1 undeclared",
                latin1_undeclared,
                None,
                Decided::Fallback(WINDOWS_1252),
            ),
            (
                "http charset",
                b"<rss>\xea</rss>",
                Some("application/rss+xml; charset=koi8-r"),
                Decided::Http(encoding_rs::KOI8_R),
            ),
            (
                "declared",
                b"<?xml version='1.0' encoding='koi8-r'?><rss>\xea</rss>",
                Some("text/xml"),
                Decided::Declared(encoding_rs::KOI8_R),
            ),
            (
                "utf-16le bom",
                b"\xff\xfe<\0r\0",
                None,
                Decided::Bom(UTF_16LE),
            ),
            (
                "utf-16be no bom",
                b"\0<\0?\0x",
                None,
                Decided::Pattern(UTF_16BE),
            ),
            (
                "utf-32le",
                b"<\0\0\0?\0\0\0",
                None,
                Decided::Utf32 { big_endian: false },
            ),
        ];
        for (name, bytes, content_type, want) in cases {
            assert_eq!(decide_feed(bytes, *content_type), *want, "{name}");
        }
    }

    #[test]
    fn transcoded_feeds_declare_utf8_and_lose_leading_comments() {
        let cases: &[(&str, &[u8], &str)] = &[
            (
                "latin-1 with declaration",
                b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<rss>caf\xe9</rss>",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">caf\u{e9}</rss>",
            ),
            (
                "comment before declaration",
                b"<!-- hi -->\n<?xml version=\"1.0\"?><!-- again --><rss/>",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"/>",
            ),
            (
                "doctype with internal subset",
                b"<!DOCTYPE rss [<!ENTITY a \"b\">]>\n<feed/>",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed/>",
            ),
            (
                "utf-16le",
                b"\xff\xfe<\0r\0s\0s\0 \0v\0e\0r\0s\0i\0o\0n\0=\0'\x002\0.\x000\0'\0/\0>\0",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version='2.0'/>",
            ),
            (
                "rss without version",
                b"<rss>\n<channel/></rss>",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel/></rss>",
            ),
            (
                "rss 0.94",
                b"<rss version=\"0.94\"><channel/></rss>",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel/></rss>",
            ),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(feed_text(bytes, None), *want, "{name}");
        }
        let plain = b"<rss version=\"2.0\"><channel/></rss>";
        assert!(matches!(feed_to_utf8(plain, None), Cow::Borrowed(_)));
        // One pass for the lot (this took time quadratic in their number).
        let doctypes = format!("{}<rss version=\"2.0\"/>", "<!DOCTYPE a>\n".repeat(200_000));
        assert_eq!(
            feed_text(doctypes.as_bytes(), None),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"/>"
        );
    }

    #[test]
    fn page_charset_comes_from_header_then_meta_anywhere_in_head() {
        let mut late_meta = b"<html><head><title>t</title>".to_vec();
        late_meta.extend(std::iter::repeat_n(b' ', 2000));
        late_meta.extend_from_slice(b"<meta charset=\"iso-8859-1\"></head><body>\xe9</body>");
        let cases: &[(&str, &[u8], Option<&str>, &str)] = &[
            ("header", b"<p>\xe9</p>", Some("text/html; charset=ISO-8859-1"), "é"),
            ("meta after 1024 bytes", &late_meta, None, "é"),
            (
                "http-equiv",
                b"<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head>\x80",
                None,
                "€",
            ),
            ("utf-8 valid", "<p>é</p>".as_bytes(), None, "é"),
            ("undeclared latin-1", b"<p>\xe9</p>", None, "é"),
        ];
        for (name, bytes, content_type, want) in cases {
            let text = page_to_utf8(bytes, *content_type);
            assert!(text.contains(want), "{name}: {text}");
        }
    }
}
