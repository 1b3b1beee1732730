//! RSS documents for the test HTTP server to serve.
//!
//! The channel is always the same: veille reads a feed's items and, from the channel, only
//! its link (for an account's own feed), which here names no account.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// One `<item>`. Text is written as given, so markup in it must be escaped as a feed would
/// (`&lt;p&gt;`); the optional elements are left out when `None`.
#[derive(Clone, Debug, Default)]
pub struct RssItem {
    pub guid: String,
    pub title: String,
    pub link: Option<String>,
    pub description: Option<String>,
    /// As RSS writes dates (RFC 2822).
    pub pub_date: Option<String>,
}

impl RssItem {
    pub fn new(guid: impl Into<String>, title: impl Into<String>) -> RssItem {
        RssItem {
            guid: guid.into(),
            title: title.into(),
            ..RssItem::default()
        }
    }

    pub fn link(self, link: impl Into<String>) -> RssItem {
        RssItem {
            link: Some(link.into()),
            ..self
        }
    }

    pub fn description(self, text: impl Into<String>) -> RssItem {
        RssItem {
            description: Some(text.into()),
            ..self
        }
    }

    /// The date as written in the feed (`Thu, 26 Nov 2026 07:30:00 +0100`).
    pub fn pub_date(self, date: impl Into<String>) -> RssItem {
        RssItem {
            pub_date: Some(date.into()),
            ..self
        }
    }

    pub fn published(self, at: DateTime<Utc>) -> RssItem {
        self.pub_date(at.to_rfc2822())
    }
}

/// An RSS 2.0 feed in UTF-8 holding `items`, in order.
pub fn rss(items: &[RssItem]) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>"#,
    );
    for item in items {
        let _ = write!(
            out,
            "<item><guid>{}</guid><title>{}</title>",
            item.guid, item.title
        );
        if let Some(link) = &item.link {
            let _ = write!(out, "<link>{link}</link>");
        }
        if let Some(text) = &item.description {
            let _ = write!(out, "<description>{text}</description>");
        }
        if let Some(date) = &item.pub_date {
            let _ = write!(out, "<pubDate>{date}</pubDate>");
        }
        out.push_str("</item>");
    }
    out.push_str("</channel></rss>");
    out
}
