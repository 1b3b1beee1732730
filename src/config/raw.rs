//! The configuration file as written: serde types that mirror the TOML, with positions.
//!
//! Every field an admin can get wrong is kept [`Spanned`] so validation can point at it.
//! Values that need parsing (durations, times, addresses, time zones) stay strings here and
//! are checked in `validate`, so one bad value does not hide the others.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;

/// A string, or a list of strings (`to = "a@x"` or `to = ["a@x", "b@x"]`).
///
/// Deserialized by hand: serde's untagged enums buffer their input, which loses the
/// positions `Spanned` needs.
#[derive(Debug)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<S<String>>),
}

/// The strings of a spanned [`OneOrMany`], each with its own position (a single string
/// takes the position of the whole value).
pub(crate) fn list(value: S<OneOrMany>) -> Vec<S<String>> {
    let span = value.span();
    match value.into_inner() {
        OneOrMany::One(one) => vec![Spanned::new(span, one)],
        OneOrMany::Many(many) => many,
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(value.to_string()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<S<String>>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub database: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub user_agent: Option<S<String>>,
    pub contact_url: Option<S<String>>,
    pub mail_dir: Option<S<String>>,
    pub listen: Option<S<String>>,
    pub retention: Option<S<String>>,
    pub shutdown_grace: Option<S<String>>,
    pub max_concurrent_fetches: Option<S<i64>>,
    pub per_host_concurrency: Option<S<i64>>,
    pub failing_after: Option<S<i64>>,
    pub connect_timeout: Option<S<String>>,
    pub fetch_timeout: Option<S<String>>,
    pub allow_private_addresses: Option<Vec<S<String>>>,
    pub metrics_token_file: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDedup {
    pub extra_tracking_params: Option<Vec<S<String>>>,
    pub story_window: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSmtp {
    pub host: S<String>,
    pub port: Option<S<i64>>,
    pub security: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password_file: Option<S<String>>,
    /// Present only to reject it with a helpful message: passwords never live in the file.
    pub password: Option<S<toml::Value>>,
    pub from: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub id: S<String>,
    /// Exactly one of `url` and the preset keys below (see `config::presets`).
    pub url: Option<S<String>>,
    pub mastodon_tag: Option<S<String>>,
    pub mastodon_account: Option<S<String>>,
    pub bluesky_profile: Option<S<String>>,
    pub reddit_search: Option<S<String>>,
    /// Narrows `reddit_search` to one subreddit.
    pub subreddit: Option<S<String>>,
    pub reddit_subreddit: Option<S<String>>,
    pub youtube_channel: Option<S<String>>,
    pub google_alerts: Option<S<String>>,
    pub hn_search: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub every: Option<S<String>>,
    pub tags: Option<Vec<S<String>>>,
    pub weight: Option<S<f64>>,
    pub select: Option<S<RawSelect>>,
    /// HTTP Basic login: both or neither.
    pub username: Option<S<String>>,
    pub password_file: Option<S<String>>,
    /// Present only to reject it with a helpful message: passwords never live in the file.
    pub password: Option<S<toml::Value>>,
}

/// `[source.select]`: CSS selectors of a page source (`selector@attribute` reads an
/// attribute instead of the text).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSelect {
    pub item: S<String>,
    pub title: Option<S<String>>,
    pub link: Option<S<String>>,
    pub summary: Option<S<String>>,
    pub date: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatch {
    pub id: S<String>,
    pub name: Option<S<String>>,
    pub query: S<String>,
    pub sources: Option<S<OneOrMany>>,
    #[serde(alias = "digest")]
    pub digests: Option<S<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDigest {
    pub id: S<String>,
    pub name: Option<S<String>>,
    pub to: S<OneOrMany>,
    pub at: Option<S<OneOrMany>>,
    pub days: Option<S<OneOrMany>>,
    pub max_items: Option<S<i64>>,
    pub lang: Option<S<String>>,
    pub empty: Option<S<String>>,
    pub trend: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlert {
    pub id: S<String>,
    pub to: S<OneOrMany>,
    pub watches: Option<S<OneOrMany>>,
    pub min_score: Option<S<f64>>,
    pub risk_terms: Option<S<OneOrMany>>,
    pub builtin_risk_terms: Option<S<bool>>,
    pub throttle: Option<S<String>>,
    pub lang: Option<S<String>>,
    pub spike: Option<S<RawSpike>>,
    pub quiet_hours: Option<S<RawQuietHours>>,
    pub crisis: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpike {
    pub enabled: Option<S<bool>>,
    pub factor: Option<S<f64>>,
    pub window: Option<S<String>>,
    pub min_mentions: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuietHours {
    pub from: S<String>,
    pub to: S<String>,
    pub unless_score: Option<S<f64>>,
}

/// `[web]`: the judgment pages and the links in mail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeb {
    pub base_url: Option<S<String>>,
    pub secret_file: S<String>,
    pub create_secret: Option<S<bool>>,
    pub link_ttl: Option<S<String>>,
    pub review_days: Option<S<i64>>,
    pub user: Option<S<String>>,
    pub password_hash: Option<S<String>>,
    pub lang: Option<S<String>>,
}
