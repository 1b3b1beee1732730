//! What a source sends to prove who it is, and where it never goes.
//!
//! A source may log in with HTTP Basic authentication (`username` + `password_file` in its
//! `[[source]]`). The header goes to the source's own origin (the scheme, host and port of
//! its configured URL) and nowhere else: redirects are followed by hand (see the fetcher)
//! and each hop gets the header only when it is on that origin, so a feed that redirects
//! to a CDN, another site or plain http never hands over the password. Basic only: it is
//! what feeds behind a login use; digest or token schemes would need per-source state for
//! little gain, and over plain http the password is readable on the wire (the admin's
//! choice, as with any http source).
//!
//! Userinfo (`user:password@` in a URL) is never used. The configuration refuses it on
//! sources (it would be logged with the URL and stored with it in the database), and a
//! redirect whose `Location` carries one is followed without it ([`without_userinfo`]): so
//! reqwest (which would turn it into a header), the database and the logs never see it.
//! [`redact_userinfo`] does the same for text that did not parse as a URL, before it goes
//! into an error message.

use std::borrow::Cow;
use std::fmt;

use url::Url;

use crate::model::Secret;

/// A source's login: sent as `Authorization: Basic` to its own origin only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: Secret,
}

impl Credentials {
    pub fn new(username: String, password: Secret) -> Credentials {
        Credentials { username, password }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &Secret {
        &self.password
    }

    /// Whether a request to `hop`, reached from the source's configured URL `source`,
    /// carries these credentials: only on the same origin (scheme, host, port).
    pub fn applies_to(&self, source: &Url, hop: &Url) -> bool {
        source.origin() == hop.origin()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// `url` without `user:password@`.
pub fn without_userinfo(url: &Url) -> Cow<'_, Url> {
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(url);
    }
    let mut clean = url.clone();
    // Both fail only for URLs that cannot carry userinfo in the first place.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    Cow::Owned(clean)
}

/// Text that was meant to be a URL, with whatever may be userinfo hidden: everything from
/// `://` to the last `@`. Errs on the side of hiding (a path with an `@` loses its start),
/// since the text did not parse and a password may hold any character.
pub fn redact_userinfo(text: &str) -> Cow<'_, str> {
    let (Some(scheme_end), Some(at)) = (text.find("://"), text.rfind('@')) else {
        return Cow::Borrowed(text);
    };
    let start = scheme_end + "://".len();
    if at < start {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("{}***{}", &text[..start], &text[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn credentials_go_to_the_source_origin_only() {
        let credentials = Credentials::new("veille".to_string(), Secret::new("s3cret"));
        let source = url("https://intranet.example/feeds/news.xml");
        let cases = [
            ("https://intranet.example/other.xml", true),
            ("https://intranet.example:443/feeds/news.xml?page=2", true),
            ("http://intranet.example/feeds/news.xml", false),
            ("https://intranet.example:8443/feeds/news.xml", false),
            ("https://cdn.example/feeds/news.xml", false),
            ("https://www.intranet.example/feeds/news.xml", false),
        ];
        for (hop, sent) in cases {
            assert_eq!(credentials.applies_to(&source, &url(hop)), sent, "{hop}");
        }
        let debug = format!("{credentials:?}");
        assert!(
            debug.contains("veille") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn userinfo_never_survives() {
        let cases = [
            (
                "https://user:pass@news.example/feed",
                "https://news.example/feed",
            ),
            (
                "https://user@news.example/feed",
                "https://news.example/feed",
            ),
            (
                "https://:pass@news.example/feed",
                "https://news.example/feed",
            ),
            (
                "https://news.example/@user.rss",
                "https://news.example/@user.rss",
            ),
        ];
        for (text, clean) in cases {
            assert_eq!(without_userinfo(&url(text)).as_str(), clean, "{text}");
        }
        let texts = [
            ("http://user:pa ss@[bad/feed", "http://***@[bad/feed"),
            ("http://user:pa/ss@host:x/", "http://***@host:x/"),
            ("not a url", "not a url"),
            ("mailto:a@b", "mailto:a@b"),
        ];
        for (text, redacted) in texts {
            assert_eq!(redact_userinfo(text), redacted, "{text}");
        }
    }
}
