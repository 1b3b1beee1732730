//! Canonical URLs: one string per document, whatever link a feed or a share button used.
//!
//! Two links are the same document when they differ only in what the server ignores or what
//! only the publisher's analytics read: the scheme (`http` ≡ `https`), the case of the scheme
//! and host, a default port, the fragment, tracking parameters, the order of the remaining
//! query parameters, and how unreserved characters are percent-encoded. Redirect wrappers
//! that carry their target in the URL (Google Alerts' `google.*/url?url=`, Feedburner's
//! `feedproxy.google.com/...?url=` or a path segment holding the encoded target, Facebook's
//! `l.facebook.com/l.php?u=`) are unwrapped first.
//!
//! The design choice is to be conservative: a false merge hides a distinct article from the
//! reader, a missed merge only shows one more line. So the path is kept as written (no
//! trailing-slash or `index.html` folding, no `www.` removal: `www.example.com` and
//! `example.com` are served by different hosts and occasionally differ), and `ref` is only
//! dropped when its value names a traffic channel (`?ref=rss`), because `?ref=` is also a
//! meaningful parameter on many sites (a git branch, a product reference).

use url::Url;

/// Query parameters that never change the document. Compared case-insensitively.
const TRACKING: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "xtor",
    "xtref",
    "at_medium",
    "at_campaign",
    "at_source",
    "at_content",
    "at_format",
    "at_send_date",
    "at_link",
    "at_ptr_name",
    "ref_src",
    "ref_url",
    "_hsenc",
    "_hsmi",
    "yclid",
    "twclid",
    "ttclid",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "mkt_tok",
    "cmpid",
    "ncid",
    "ito",
];

/// Prefixes of tracking parameters (`utm_source`, `utm_medium`, `utm_anything`).
const TRACKING_PREFIXES: &[&str] = &["utm_", "pk_", "mtm_"];

/// Values of `ref` that name where the click came from, not what to show.
const REF_CHANNELS: &[&str] = &[
    "rss",
    "feed",
    "feeds",
    "feedly",
    "atom",
    "newsletter",
    "email",
    "mail",
    "twitter",
    "tw",
    "x",
    "facebook",
    "fb",
    "linkedin",
    "social",
    "share",
    "homepage",
    "home",
    "hp",
    "nav",
    "menu",
    "sidebar",
    "footer",
    "header",
    "reddit",
    "hackernews",
    "hn",
    "producthunt",
    "mastodon",
    "bluesky",
    "whatsapp",
    "telegram",
    "push",
    "app",
    "google",
    "googlenews",
    "flipboard",
    "msn",
    "yahoo",
];

/// How many redirect wrappers are unwrapped at most (a wrapper of a wrapper of ...).
const MAX_UNWRAP: usize = 3;

/// The canonical form of `url`, as a string: equal strings mean the same document.
///
/// `extra_tracking` adds parameter names to drop (from the configuration); a trailing `*`
/// makes a name a prefix (`"pk_*"`). Non-HTTP URLs are returned as the `url` crate wrote them.
pub fn canonical_url(url: &Url, extra_tracking: &[String]) -> String {
    let mut url = url.clone();
    for _ in 0..MAX_UNWRAP {
        match unwrap_redirect(&url) {
            Some(target) => url = target,
            None => break,
        }
    }
    if !matches!(url.scheme(), "http" | "https") {
        return url.to_string();
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut out = String::with_capacity(url.as_str().len());
    // `http` and `https` of the same path are the same document: write one scheme for both.
    out.push_str("https://");
    out.push_str(&host);
    if let Some(port) = url.port().filter(|p| *p != 80 && *p != 443) {
        out.push(':');
        out.push_str(&port.to_string());
    }
    let path = url.path();
    out.push_str(&normalize_escapes(
        if path.is_empty() { "/" } else { path },
        false,
    ));
    let mut params: Vec<(String, String)> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (normalize_escapes(key, true), normalize_escapes(value, true))
        })
        .filter(|(key, value)| !is_tracking(key, value, extra_tracking))
        .collect();
    params.sort();
    for (index, (key, value)) in params.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(key);
        if !value.is_empty() {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// [`canonical_url`] of a link as found in a feed; `None` when it is not an absolute URL.
pub fn canonical_link(link: &str, extra_tracking: &[String]) -> Option<String> {
    Url::parse(link.trim())
        .ok()
        .map(|url| canonical_url(&url, extra_tracking))
}

fn is_tracking(key: &str, value: &str, extra: &[String]) -> bool {
    let key = percent_decode(key).to_ascii_lowercase();
    if TRACKING.contains(&key.as_str()) || TRACKING_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return true;
    }
    if key == "ref" {
        let value = percent_decode(value).to_ascii_lowercase();
        return REF_CHANNELS.contains(&value.as_str());
    }
    extra.iter().any(|name| {
        let name = name.to_ascii_lowercase();
        match name.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == name,
        }
    })
}

/// The target of a redirect wrapper, when `url` is one and its target is in the URL.
fn unwrap_redirect(url: &Url) -> Option<Url> {
    let host = url.host_str()?.to_ascii_lowercase();
    let param = |names: &[&str]| {
        url.query_pairs()
            .find(|(k, _)| names.contains(&k.as_ref()))
            .and_then(|(_, v)| http_url(&v))
    };
    if let Some(target) = google_redirect_target(url) {
        return Some(target);
    }
    if host == "feedproxy.google.com" || host.starts_with("feeds.feedburner.") {
        if let Some(target) = param(&["url"]) {
            return Some(target);
        }
        // `/~r/Feed/~3/abc/https%3A%2F%2Fexample.com%2Fpost`: a segment holds the target.
        return url
            .path_segments()?
            .map(percent_decode)
            .find_map(|segment| http_url(&segment));
    }
    if matches!(host.as_str(), "l.facebook.com" | "lm.facebook.com") && url.path() == "/l.php" {
        return param(&["u"]);
    }
    None
}

/// The target of a Google redirect link (`https://www.google.com/url?…&url=TARGET`, as
/// Google Alerts writes every link): only on a `google.*` host, only the `url` or `q`
/// parameter, only an http(s) target. `None` for every other link.
pub fn google_redirect_target(url: &Url) -> Option<Url> {
    let host = url.host_str()?.to_ascii_lowercase();
    let is_google = host
        .trim_start_matches("www.")
        .split('.')
        .next()
        .is_some_and(|label| label == "google");
    if !is_google || url.path() != "/url" {
        return None;
    }
    url.query_pairs()
        .find(|(k, _)| matches!(k.as_ref(), "url" | "q"))
        .and_then(|(_, v)| http_url(&v))
}

fn http_url(text: &str) -> Option<Url> {
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters (`%7E` → `~`) and upper-cases the others
/// (`%c3%a9` → `%C3%A9`), so two spellings of one path compare equal. In a query, `+` is a
/// space and is written `%20`.
fn normalize_escapes(text: &str, in_query: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%'
            && let Some(decoded) = hex_pair(bytes.get(i + 1..i + 3))
        {
            if is_unreserved(decoded) {
                out.push(decoded as char);
            } else {
                out.push_str(&format!("%{decoded:02X}"));
            }
            i += 3;
            continue;
        }
        if in_query && byte == b'+' {
            out.push_str("%20");
        } else {
            // Multi-byte characters cannot occur: the url crate has escaped them already.
            out.push(byte as char);
        }
        i += 1;
    }
    out
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = std::str::from_utf8(pair?).ok()?;
    u8::from_str_radix(pair, 16).ok()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(link: &str) -> String {
        canonical_link(link, &["xtcr".to_string(), "partner_*".to_string()])
            .unwrap_or_else(|| panic!("not a URL: {link}"))
    }

    #[test]
    fn equivalent_links_have_one_canonical_form() {
        let same: &[(&str, &str)] = &[
            ("https://Example.COM/a", "https://example.com/a"),
            ("HTTPS://example.com/a", "https://example.com/a"),
            ("http://example.com/a", "https://example.com/a"),
            ("https://example.com:443/a", "https://example.com/a"),
            ("http://example.com:80/a", "https://example.com/a"),
            ("http://example.com:443/a", "https://example.com/a"),
            ("https://example.com/a#comments", "https://example.com/a"),
            ("https://example.com", "https://example.com/"),
            ("https://example.com./a", "https://example.com/a"),
            (
                "https://example.com/a?utm_source=rss&utm_medium=feed",
                "https://example.com/a",
            ),
            (
                "https://example.com/a?UTM_Campaign=x",
                "https://example.com/a",
            ),
            (
                "https://example.com/a?fbclid=IwAR0abc",
                "https://example.com/a",
            ),
            (
                "https://example.com/a?gclid=1&dclid=2",
                "https://example.com/a",
            ),
            ("https://example.com/a?msclkid=9", "https://example.com/a"),
            (
                "https://example.com/a?mc_cid=1&mc_eid=2",
                "https://example.com/a",
            ),
            ("https://example.com/a?igshid=MzRl", "https://example.com/a"),
            ("https://example.com/a?xtor=RSS-3", "https://example.com/a"),
            (
                "https://example.com/a?at_medium=x&at_campaign=y",
                "https://example.com/a",
            ),
            ("https://example.com/a?ref=rss", "https://example.com/a"),
            (
                "https://example.com/a?ref_src=twsrc%5Etfw",
                "https://example.com/a",
            ),
            (
                "https://example.com/a?b=2&a=1",
                "https://example.com/a?a=1&b=2",
            ),
            (
                "https://example.com/a?a=1&&b=2&",
                "https://example.com/a?a=1&b=2",
            ),
            (
                "https://example.com/%7Euser/a",
                "https://example.com/~user/a",
            ),
            (
                "https://example.com/caf%c3%a9",
                "https://example.com/caf%C3%A9",
            ),
            ("https://example.com/café", "https://example.com/caf%C3%A9"),
            (
                "https://example.com/s?q=a+b",
                "https://example.com/s?q=a%20b",
            ),
            ("https://example.com/s?q=%61", "https://example.com/s?q=a"),
            ("https://example.com/a?xtcr=4", "https://example.com/a"),
            (
                "https://example.com/a?partner_id=4",
                "https://example.com/a",
            ),
            (
                "https://www.google.com/url?rct=j&sa=t&url=https://news.example/story%3Fid%3D7%26utm_source%3Dalerts&ct=ga",
                "https://news.example/story?id=7",
            ),
            (
                "https://www.google.fr/url?q=http://news.example/a&sa=U",
                "https://news.example/a",
            ),
            (
                "http://feedproxy.google.com/~r/Site/~3/abc/?url=https%3A%2F%2Fnews.example%2Fa",
                "https://news.example/a",
            ),
            (
                "http://feedproxy.google.com/~r/Site/~3/abc/https%3A%2F%2Fnews.example%2Fa%3Futm_medium%3Drss",
                "https://news.example/a",
            ),
            (
                "https://l.facebook.com/l.php?u=https%3A%2F%2Fnews.example%2Fa%3Ffbclid%3Dx&h=AT0",
                "https://news.example/a",
            ),
            (
                "https://example.com/a?id=3&utm_source=x",
                "https://example.com/a?id=3",
            ),
        ];
        for (link, expected) in same {
            assert_eq!(canon(link), *expected, "canonical form of {link}");
        }
    }

    #[test]
    fn different_documents_stay_different() {
        let different: &[(&str, &str)] = &[
            ("https://example.com/a", "https://example.com/b"),
            ("https://example.com/a", "https://example.com/a/"),
            ("https://example.com/a", "https://www.example.com/a"),
            ("https://example.com/a", "https://example.org/a"),
            (
                "https://example.com/article?id=1",
                "https://example.com/article?id=2",
            ),
            (
                "https://example.com/article?id=1",
                "https://example.com/article",
            ),
            ("https://example.com/a?page=2", "https://example.com/a"),
            ("https://example.com/a", "https://example.com/A"),
            ("https://example.com:8080/a", "https://example.com/a"),
            (
                "https://example.com/tree?ref=main",
                "https://example.com/tree",
            ),
            ("https://example.com/a%2Fb", "https://example.com/a/b"),
            (
                "https://www.google.com/search?q=acme",
                "https://www.google.com/search?q=other",
            ),
            (
                "https://feedproxy.google.com/~r/Site/~3/abc/",
                "https://feedproxy.google.com/~r/Site/~3/def/",
            ),
        ];
        for (a, b) in different {
            assert_ne!(canon(a), canon(b), "{a} and {b} are different documents");
        }
    }

    #[test]
    fn non_http_and_relative_links() {
        assert_eq!(canonical_link("/relative", &[]), None);
        assert_eq!(canonical_link("not a url", &[]), None);
        assert_eq!(
            canonical_link("file:///tmp/a.xml", &[]).as_deref(),
            Some("file:///tmp/a.xml")
        );
    }
}
