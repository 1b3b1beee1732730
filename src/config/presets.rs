//! Source presets: a platform and a name instead of a feed URL.
//!
//! An admin writes `mastodon_tag = "mastodon.social/veille"` and veille polls
//! `https://mastodon.social/tags/veille.rss`. Every URL pattern lives in [`PRESETS`], one row
//! per preset key, so when a platform moves its feeds the fix is one line (and
//! `config/example.toml` quotes the same patterns, for admins who want to check by hand).
//!
//! Expansion is pure: [`expand`] checks the value's shape (a handle, an instance with a dot,
//! a channel id) and fills the pattern, percent-encoding what goes into the path or the
//! query. The design choice is to validate only the shape, never to ask the platform: `veille
//! check` must work offline, and a well-formed name that does not exist shows up as a
//! failing source (HTTP 404) with its URL, which is as clear. Each preset also carries the
//! platform's polling defaults: its `every`, and for Reddit (which answers 429 to anything
//! faster) one fetch at a time per host.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// Characters left as they are in a path segment or a query value: RFC 3986 unreserved.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One preset key of `[[source]]`: the URL it polls and the platform's polling defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetSpec {
    /// The TOML key (`mastodon_tag`); `reddit_search+subreddit` is `reddit_search` with
    /// `subreddit` given.
    pub key: &'static str,
    /// The URL polled: `{instance}`, `{tag}`, `{user}`, `{handle}`, `{name}`, `{query}`,
    /// `{id}` are filled in, percent-encoded; `{url}` is the value itself.
    pub pattern: &'static str,
    /// What the value looks like, for error messages and the documentation.
    pub example: &'static str,
    /// Default polling interval.
    pub every: Duration,
    /// Fetches at the same time to this preset's host, when the platform needs fewer than
    /// `daemon.per_host_concurrency`.
    pub per_host: Option<usize>,
}

const MINUTE: u64 = 60;

/// Every preset, with the public URL pattern it expands to.
pub const PRESETS: &[PresetSpec] = &[
    PresetSpec {
        key: "mastodon_tag",
        pattern: "https://{instance}/tags/{tag}.rss",
        example: "mastodon.social/veille",
        every: Duration::from_secs(5 * MINUTE),
        per_host: None,
    },
    PresetSpec {
        key: "mastodon_account",
        pattern: "https://{instance}/@{user}.rss",
        example: "@user@mastodon.social",
        every: Duration::from_secs(5 * MINUTE),
        per_host: None,
    },
    PresetSpec {
        key: "bluesky_profile",
        pattern: "https://bsky.app/profile/{handle}/rss",
        example: "handle.bsky.social",
        every: Duration::from_secs(5 * MINUTE),
        per_host: None,
    },
    PresetSpec {
        key: "reddit_subreddit",
        pattern: "https://www.reddit.com/r/{name}/.rss",
        example: "france",
        every: Duration::from_secs(10 * MINUTE),
        per_host: Some(1),
    },
    PresetSpec {
        key: "reddit_search",
        pattern: "https://www.reddit.com/search.rss?q={query}",
        example: "nordvent éolien",
        every: Duration::from_secs(10 * MINUTE),
        per_host: Some(1),
    },
    PresetSpec {
        key: "reddit_search+subreddit",
        pattern: "https://www.reddit.com/r/{name}/search.rss?q={query}&restrict_sr=1",
        example: "nordvent",
        every: Duration::from_secs(10 * MINUTE),
        per_host: Some(1),
    },
    PresetSpec {
        key: "youtube_channel",
        pattern: "https://www.youtube.com/feeds/videos.xml?channel_id={id}",
        example: "UCxxxxxxxxxxxxxxxxxxxxxx",
        every: Duration::from_secs(60 * MINUTE),
        per_host: None,
    },
    PresetSpec {
        key: "google_alerts",
        pattern: "{url}",
        example: "https://www.google.com/alerts/feeds/00000000000000000000/0000000000000000000",
        every: Duration::from_secs(30 * MINUTE),
        per_host: None,
    },
    PresetSpec {
        key: "hn_search",
        pattern: "https://hnrss.org/newest?q={query}",
        example: "nordvent",
        every: Duration::from_secs(10 * MINUTE),
        per_host: None,
    },
];

/// The preset keys of `[[source]]`, in the order `veille check` names them.
pub const PRESET_KEYS: &[&str] = &[
    "mastodon_tag",
    "mastodon_account",
    "bluesky_profile",
    "reddit_search",
    "reddit_subreddit",
    "youtube_channel",
    "google_alerts",
    "hn_search",
];

/// A preset as written in a `[[source]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset<'a> {
    /// `instance.example/tag`.
    MastodonTag(&'a str),
    /// `@user@instance.example`.
    MastodonAccount(&'a str),
    /// `handle.example` (or a `did:plc:…`).
    BlueskyProfile(&'a str),
    RedditSubreddit(&'a str),
    RedditSearch {
        query: &'a str,
        subreddit: Option<&'a str>,
    },
    YoutubeChannel(&'a str),
    /// The feed URL Google Alerts gives ("deliver to: RSS feed").
    GoogleAlerts(&'a str),
    HnSearch(&'a str),
}

impl Preset<'_> {
    /// The row of [`PRESETS`] this preset uses.
    pub fn spec(&self) -> &'static PresetSpec {
        let key = match self {
            Preset::MastodonTag(_) => "mastodon_tag",
            Preset::MastodonAccount(_) => "mastodon_account",
            Preset::BlueskyProfile(_) => "bluesky_profile",
            Preset::RedditSubreddit(_) => "reddit_subreddit",
            Preset::RedditSearch {
                subreddit: None, ..
            } => "reddit_search",
            Preset::RedditSearch {
                subreddit: Some(_), ..
            } => "reddit_search+subreddit",
            Preset::YoutubeChannel(_) => "youtube_channel",
            Preset::GoogleAlerts(_) => "google_alerts",
            Preset::HnSearch(_) => "hn_search",
        };
        spec(key)
    }
}

/// The row of [`PRESETS`] for `key`. Every key used in this module has a row (checked by
/// `every_preset_key_has_a_pattern`), so the fallback is never reached.
fn spec(key: &str) -> &'static PresetSpec {
    PRESETS.iter().find(|p| p.key == key).unwrap_or(&PRESETS[0])
}

/// The URL a preset polls, or why its value is not one the platform would accept.
pub fn expand(preset: &Preset<'_>) -> Result<Url, String> {
    let spec = preset.spec();
    let mut fills: Vec<(&str, String)> = Vec::new();
    match *preset {
        Preset::MastodonTag(value) => {
            let rest = value.trim();
            let rest = rest.strip_prefix("https://").unwrap_or(rest);
            let (instance, tag) = rest.split_once('/').ok_or_else(|| {
                format!(
                    "{value:?} is not instance/tag: write the instance and the tag, like {:?}",
                    spec.example
                )
            })?;
            let instance = instance_host(instance)?;
            let tag = tag.trim().trim_start_matches('#').trim_end_matches('/');
            if tag.is_empty() || !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!(
                    "{tag:?} is not a hashtag: letters, digits and _ only, like {:?}",
                    spec.example
                ));
            }
            fills.push(("instance", instance));
            fills.push(("tag", encode(tag)));
        }
        Preset::MastodonAccount(value) => {
            let handle = value.trim().trim_start_matches('@');
            let (user, instance) = handle.split_once('@').ok_or_else(|| {
                format!(
                    "{value:?} is not a full handle: write @user@instance, like {:?}",
                    spec.example
                )
            })?;
            if user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return Err(format!(
                    "{user:?} is not a Mastodon user name: letters, digits, _ . - only, like {:?}",
                    spec.example
                ));
            }
            fills.push(("instance", instance_host(instance)?));
            fills.push(("user", user.to_string()));
        }
        Preset::BlueskyProfile(value) => {
            let handle = value.trim().trim_start_matches('@');
            let is_did = handle.strip_prefix("did:").is_some_and(|rest| {
                rest.split_once(':').is_some_and(|(method, id)| {
                    !method.is_empty()
                        && !id.is_empty()
                        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == ':')
                })
            });
            if !is_did && !is_host_name(handle) {
                return Err(format!(
                    "{value:?} is not a Bluesky handle: a domain name like {:?} (or a did:plc:… id)",
                    spec.example
                ));
            }
            // Validated above to letters, digits, dots, hyphens and colons: nothing to encode.
            fills.push(("handle", handle.to_ascii_lowercase()));
        }
        Preset::RedditSubreddit(value) => fills.push(("name", subreddit(value)?)),
        Preset::RedditSearch {
            query,
            subreddit: sub,
        } => {
            fills.push(("query", search_query(query)?));
            if let Some(sub) = sub {
                fills.push(("name", subreddit(sub)?));
            }
        }
        Preset::YoutubeChannel(value) => {
            let id = value.trim();
            let well_formed = id.len() == 24
                && id.starts_with("UC")
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !well_formed {
                return Err(format!(
                    "{value:?} is not a YouTube channel id: 24 characters starting with UC \
                     (on the channel page: About → Share channel → Copy channel ID), not a @handle"
                ));
            }
            fills.push(("id", id.to_string()));
        }
        Preset::GoogleAlerts(value) => {
            let url = Url::parse(value.trim())
                .map_err(|e| format!("{value:?} is not a URL ({e}): paste the feed's address"))?;
            let google = url
                .host_str()
                .is_some_and(|h| h == "google.com" || h.ends_with(".google.com"));
            if url.scheme() != "https" || !google || !url.path().starts_with("/alerts/feeds/") {
                return Err(format!(
                    "{value:?} is not a Google Alerts feed: it looks like {:?} \
                     (on google.com/alerts, choose \"Deliver to: RSS feed\" and copy the feed icon's link)",
                    spec.example
                ));
            }
            return Ok(url);
        }
        Preset::HnSearch(query) => fills.push(("query", search_query(query)?)),
    }
    let mut text = spec.pattern.to_string();
    for (name, value) in fills {
        text = text.replace(&format!("{{{name}}}"), &value);
    }
    Url::parse(&text).map_err(|e| format!("the preset expanded to {text:?}, not a URL: {e}"))
}

/// A Mastodon instance: a host name with a dot (`mastodon.social`), `https://` tolerated.
fn instance_host(instance: &str) -> Result<String, String> {
    let host = instance
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    if !is_host_name(&host) {
        return Err(format!(
            "{instance:?} is not an instance: write its domain name, with a dot, like \"mastodon.social\""
        ));
    }
    Ok(host)
}

/// A DNS name of at least two labels: letters, digits, hyphens (no leading or trailing one).
fn is_host_name(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && text.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

/// A subreddit name, `r/` tolerated: 2 to 21 letters, digits or `_` (`+` joins several).
fn subreddit(value: &str) -> Result<String, String> {
    let name = value
        .trim()
        .trim_start_matches("/r/")
        .trim_start_matches("r/");
    let name = name.trim_end_matches('/');
    let ok = !name.is_empty()
        && name.split('+').all(|part| {
            (2..=21).contains(&part.len())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !ok {
        return Err(format!(
            "{value:?} is not a subreddit name: 2 to 21 letters, digits or _, like \"france\""
        ));
    }
    Ok(name.to_string())
}

fn search_query(query: &str) -> Result<String, String> {
    let query = query.trim();
    if query.is_empty() {
        return Err("empty search query".to_string());
    }
    Ok(encode(query))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_expands_to_its_documented_pattern() {
        let cases: &[(Preset<'_>, &str)] = &[
            (
                Preset::MastodonTag("mastodon.social/veille"),
                "https://mastodon.social/tags/veille.rss",
            ),
            (
                Preset::MastodonTag("https://Piaille.FR/#Éolien"),
                "https://piaille.fr/tags/%C3%89olien.rss",
            ),
            (
                Preset::MastodonAccount("@alice@mastodon.example"),
                "https://mastodon.example/@alice.rss",
            ),
            (
                Preset::MastodonAccount("bob_1@social.example.org"),
                "https://social.example.org/@bob_1.rss",
            ),
            (
                Preset::BlueskyProfile("@Nordvent.bsky.social"),
                "https://bsky.app/profile/nordvent.bsky.social/rss",
            ),
            (
                Preset::BlueskyProfile("did:plc:abc123"),
                "https://bsky.app/profile/did:plc:abc123/rss",
            ),
            (
                Preset::RedditSubreddit("r/france"),
                "https://www.reddit.com/r/france/.rss",
            ),
            (
                Preset::RedditSearch {
                    query: "nordvent éolien",
                    subreddit: None,
                },
                "https://www.reddit.com/search.rss?q=nordvent%20%C3%A9olien",
            ),
            (
                Preset::RedditSearch {
                    query: "\"parc & co\"",
                    subreddit: Some("energy"),
                },
                "https://www.reddit.com/r/energy/search.rss?q=%22parc%20%26%20co%22&restrict_sr=1",
            ),
            (
                Preset::YoutubeChannel("UC_x5XG1OV2P6uZZ5FSM9Ttw"),
                "https://www.youtube.com/feeds/videos.xml?channel_id=UC_x5XG1OV2P6uZZ5FSM9Ttw",
            ),
            (
                Preset::GoogleAlerts(
                    "https://www.google.com/alerts/feeds/06848252655940926398/1470604447442466853",
                ),
                "https://www.google.com/alerts/feeds/06848252655940926398/1470604447442466853",
            ),
            (
                Preset::HnSearch("rust & sqlite"),
                "https://hnrss.org/newest?q=rust%20%26%20sqlite",
            ),
        ];
        for (preset, want) in cases {
            assert_eq!(
                expand(preset).map(|u| u.to_string()).as_deref(),
                Ok(*want),
                "{preset:?}"
            );
        }
    }

    #[test]
    fn malformed_values_say_what_is_expected() {
        let cases: &[(Preset<'_>, &str)] = &[
            (Preset::MastodonTag("localhost/veille"), "with a dot"),
            (Preset::MastodonTag("mastodon.social"), "not instance/tag"),
            (Preset::MastodonTag("mastodon.social/"), "not a hashtag"),
            (
                Preset::MastodonTag("mastodon.social/two words"),
                "not a hashtag",
            ),
            (Preset::MastodonAccount("@alice"), "not a full handle"),
            (Preset::MastodonAccount("@alice@localhost"), "with a dot"),
            (
                Preset::MastodonAccount("@al ice@x.example"),
                "not a Mastodon user name",
            ),
            (Preset::BlueskyProfile("nordvent"), "not a Bluesky handle"),
            (
                Preset::BlueskyProfile("bad..handle"),
                "not a Bluesky handle",
            ),
            (Preset::BlueskyProfile("did:plc:"), "not a Bluesky handle"),
            (Preset::RedditSubreddit("r/"), "not a subreddit"),
            (Preset::RedditSubreddit("no spaces"), "not a subreddit"),
            (
                Preset::RedditSearch {
                    query: "  ",
                    subreddit: None,
                },
                "empty search query",
            ),
            (
                Preset::RedditSearch {
                    query: "x",
                    subreddit: Some("a"),
                },
                "not a subreddit",
            ),
            (
                Preset::YoutubeChannel("@somechannel"),
                "not a YouTube channel id",
            ),
            (
                Preset::YoutubeChannel("UCshort"),
                "not a YouTube channel id",
            ),
            (Preset::GoogleAlerts("not a url"), "not a URL"),
            (
                Preset::GoogleAlerts("https://evil.example/alerts/feeds/1/2"),
                "not a Google Alerts feed",
            ),
            (
                Preset::GoogleAlerts("http://www.google.com/alerts/feeds/1/2"),
                "not a Google Alerts feed",
            ),
            (Preset::HnSearch(""), "empty search query"),
        ];
        for (preset, want) in cases {
            match expand(preset) {
                Err(message) => assert!(message.contains(want), "{preset:?}: {message}"),
                Ok(url) => panic!("{preset:?} expanded to {url}"),
            }
        }
    }

    #[test]
    fn every_preset_key_has_a_pattern() {
        for key in PRESET_KEYS {
            assert!(PRESETS.iter().any(|p| p.key == *key), "{key}");
        }
        let reddit = spec("reddit_search+subreddit");
        assert_eq!(reddit.key, "reddit_search+subreddit");
        assert!(
            PRESETS
                .iter()
                .filter(|p| p.key.starts_with("reddit"))
                .all(|p| p.per_host == Some(1)),
            "Reddit rate-limits hard: one fetch at a time"
        );
    }
}
