//! `[[source]]`: where to read, how often, with which credentials and selectors.

use std::collections::HashMap;
use std::path::PathBuf;

use url::Url;

use super::{Validator, percent_decode};
use crate::config::raw::{RawSelect, RawSource, S};
use crate::config::{SourceConfig, defaults, format_duration, parse_duration, presets};
use crate::extract::select::{self as selector, PageSelect, Pick, parse_pick};
use crate::model::{SourceId, SourceKind};

impl Validator<'_> {
    pub(super) fn sources(&mut self, raw: Vec<RawSource>) -> Vec<SourceConfig> {
        let mut seen = HashMap::new();
        let mut sources = Vec::new();
        for source in raw {
            let id_ok = self.id(&source.id, "source", &mut seen);
            let label = format!("source {:?}", source.id.get_ref());
            let (url, preset) = match self.source_location(&source, &label) {
                Some((url, preset)) => (Some(url), preset),
                None => (None, None),
            };
            if preset.is_some()
                && let Some(kind) = &source.kind
                && kind.get_ref() != "feed"
            {
                self.error(
                    kind.span(),
                    format!("{label}.kind"),
                    "a preset source is a feed: remove `kind` or give a raw `url`",
                );
            }
            let kind = match source.kind.as_ref().map(|k| k.get_ref().as_str()) {
                None | Some("feed") => Some(SourceKind::Feed),
                Some("page") => Some(SourceKind::Page),
                Some(other) => {
                    let span = source.kind.as_ref().map_or(0..0, S::span);
                    self.error(
                        span,
                        format!("{label}.kind"),
                        format!("unknown kind {other:?}: use \"feed\" or \"page\""),
                    );
                    None
                }
            };
            let mut select_ok = true;
            let select = match (&source.select, kind) {
                (None, _) => None,
                (Some(select), Some(SourceKind::Page)) => {
                    let errors = self.report.count();
                    let parsed = self.page_select(select, &label);
                    select_ok = self.report.count() == errors;
                    parsed
                }
                (Some(select), _) => {
                    self.error(
                        select.span(),
                        format!("{label}.select"),
                        "selectors apply to page sources only: add kind = \"page\" or remove [source.select]",
                    );
                    select_ok = false;
                    None
                }
            };
            let every = match &source.every {
                None => Some(preset.map_or(defaults::EVERY, |p| p.every)),
                Some(every) => match parse_duration(every.get_ref()) {
                    Ok(d) if d < defaults::MIN_EVERY => {
                        self.error(
                            every.span(),
                            format!("{label}.every"),
                            format!(
                                "polling every {} is too often: the minimum is {}",
                                every.get_ref(),
                                format_duration(defaults::MIN_EVERY)
                            ),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(message) => {
                        self.error(every.span(), format!("{label}.every"), message);
                        None
                    }
                },
            };
            let weight = match &source.weight {
                None => defaults::SOURCE_WEIGHT,
                Some(w) => {
                    let value = *w.get_ref();
                    if !(0.0..=defaults::MAX_SOURCE_WEIGHT).contains(&value) {
                        self.error(
                            w.span(),
                            format!("{label}.weight"),
                            format!(
                                "weight {value} is out of range: use 0 to {}",
                                defaults::MAX_SOURCE_WEIGHT
                            ),
                        );
                    }
                    value
                }
            };
            let errors = self.report.count();
            let (credentials, password_file) = self
                .source_credentials(&source, &label, url.as_ref())
                .unzip();
            let credentials_ok = self.report.count() == errors;
            let mut tags = Vec::new();
            for tag in source.tags.unwrap_or_default() {
                if tag.get_ref().trim().is_empty() {
                    self.error(tag.span(), format!("{label}.tags"), "empty tag");
                } else {
                    tags.push(tag.into_inner());
                }
            }
            if !id_ok {
                continue;
            }
            let (Some(url), Some(kind), Some(every), true, true) =
                (url, kind, every, select_ok, credentials_ok)
            else {
                self.broken.insert(source.id.into_inner());
                continue;
            };
            sources.push(SourceConfig {
                id: SourceId::new(source.id.into_inner()),
                url,
                kind,
                every,
                tags,
                weight,
                select,
                preset: preset.map(|p| p.key.split('+').next().unwrap_or(p.key)),
                per_host: preset.and_then(|p| p.per_host),
                password_file,
                credentials,
            });
        }
        sources
    }

    /// `username` + `password_file` (read now, relative to this file), for http(s) sources,
    /// with the password file's path.
    pub(super) fn source_credentials(
        &mut self,
        source: &RawSource,
        label: &str,
        url: Option<&Url>,
    ) -> Option<(crate::fetch::credentials::Credentials, PathBuf)> {
        if let Some(password) = &source.password {
            self.error(
                password.span(),
                format!("{label}.password"),
                "passwords are never written in the configuration: put it in a file named by `password_file` (mode 0600), next to `username`",
            );
        }
        let (username, file) = match (&source.username, &source.password_file) {
            (None, None) => return None,
            (Some(username), Some(file)) => (username, file),
            (Some(username), None) => {
                self.error(
                    username.span(),
                    format!("{label}.username"),
                    "a username is set but no password: set `password_file` to a file holding the password",
                );
                return None;
            }
            (None, Some(file)) => {
                self.error(
                    file.span(),
                    format!("{label}.password_file"),
                    "a password file is set but no username: set `username` too",
                );
                return None;
            }
        };
        if url.is_some_and(|url| !matches!(url.scheme(), "http" | "https")) {
            self.error(
                username.span(),
                format!("{label}.username"),
                "only http and https sources log in: remove `username` and `password_file`",
            );
            return None;
        }
        let name = username.get_ref();
        // RFC 7617: the user-id of Basic authentication cannot contain a colon.
        if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
            self.error(
                username.span(),
                format!("{label}.username"),
                "the username must be one non-empty line without `:` (HTTP Basic cannot carry one)",
            );
            return None;
        }
        let (path, password) = self.secret_file(file, &format!("{label}.password_file"))?;
        Some((
            crate::fetch::credentials::Credentials::new(name.clone(), password),
            path,
        ))
    }

    /// The URL a source polls: its `url`, or what its one preset key expands to (with the
    /// preset's defaults). Exactly one of them must be given.
    pub(super) fn source_location(
        &mut self,
        source: &RawSource,
        label: &str,
    ) -> Option<(Url, Option<&'static presets::PresetSpec>)> {
        use presets::Preset;
        let given: Vec<(&str, &S<String>)> = [
            ("url", &source.url),
            ("mastodon_tag", &source.mastodon_tag),
            ("mastodon_account", &source.mastodon_account),
            ("bluesky_profile", &source.bluesky_profile),
            ("reddit_search", &source.reddit_search),
            ("reddit_subreddit", &source.reddit_subreddit),
            ("youtube_channel", &source.youtube_channel),
            ("google_alerts", &source.google_alerts),
            ("hn_search", &source.hn_search),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
        .collect();
        if let Some(sub) = &source.subreddit
            && source.reddit_search.is_none()
        {
            self.error(
                sub.span(),
                format!("{label}.subreddit"),
                "`subreddit` narrows a `reddit_search`: add reddit_search = \"…\", or use reddit_subreddit = \"NAME\" for the whole subreddit",
            );
            return None;
        }
        let (key, value) = match given.as_slice() {
            [] => {
                self.error(
                    source.id.span(),
                    label.to_string(),
                    format!(
                        "no feed to poll: give `url`, or one preset key ({})",
                        presets::PRESET_KEYS.join(", ")
                    ),
                );
                return None;
            }
            [one] => *one,
            [(first, _), (second, value), ..] => {
                self.error(
                    value.span(),
                    format!("{label}.{second}"),
                    format!("`{first}` and `{second}` both say what to poll: keep one"),
                );
                return None;
            }
        };
        let text = value.get_ref().as_str();
        let preset = match key {
            "url" => return self.source_url(value, label).map(|url| (url, None)),
            "mastodon_tag" => Preset::MastodonTag(text),
            "mastodon_account" => Preset::MastodonAccount(text),
            "bluesky_profile" => Preset::BlueskyProfile(text),
            "reddit_search" => Preset::RedditSearch {
                query: text,
                subreddit: source.subreddit.as_ref().map(|s| s.get_ref().as_str()),
            },
            "reddit_subreddit" => Preset::RedditSubreddit(text),
            "youtube_channel" => Preset::YoutubeChannel(text),
            "google_alerts" => Preset::GoogleAlerts(text),
            _ => Preset::HnSearch(text),
        };
        match presets::expand(&preset) {
            Ok(url) => Some((url, Some(preset.spec()))),
            Err(message) => {
                // A bad `subreddit` is reported on its own line, not on the query's.
                let span = match (&preset, &source.subreddit) {
                    (Preset::RedditSearch { .. }, Some(sub)) if message.contains("subreddit") => {
                        sub.span()
                    }
                    _ => value.span(),
                };
                let key = if span == value.span() {
                    key
                } else {
                    "subreddit"
                };
                self.error(span, format!("{label}.{key}"), message);
                None
            }
        }
    }

    pub(super) fn page_select(&mut self, raw: &S<RawSelect>, label: &str) -> Option<PageSelect> {
        let raw = raw.get_ref();
        let key = |field: &str| format!("{label}.select.{field}");
        let item = match selector::parse(raw.item.get_ref()) {
            Ok(selector) => Some(selector),
            Err(e) => {
                let offset = self.offset_in_string(&raw.item, e.column);
                self.report.at_offset(
                    offset,
                    key("item"),
                    format!(
                        "invalid CSS selector {:?}: {}",
                        raw.item.get_ref(),
                        e.message
                    ),
                );
                None
            }
        };
        let mut pick = |value: &Option<S<String>>, field: &str| -> Option<Pick> {
            let value = value.as_ref()?;
            match parse_pick(value.get_ref()) {
                Ok(pick) => Some(pick),
                Err((column, message)) => {
                    let offset = self.offset_in_string(value, column);
                    self.report.at_offset(offset, key(field), message);
                    None
                }
            }
        };
        let title = pick(&raw.title, "title");
        let link = pick(&raw.link, "link");
        let summary = pick(&raw.summary, "summary");
        let date = pick(&raw.date, "date");
        Some(PageSelect {
            item: item?,
            item_source: raw.item.get_ref().clone(),
            title,
            link,
            summary,
            date,
        })
    }

    pub(super) fn source_url(&mut self, value: &S<String>, label: &str) -> Option<Url> {
        let text = value.get_ref().trim();
        let key = format!("{label}.url");
        if let Some(rest) = text.strip_prefix("file:") {
            // `file:demo/acme.xml` (relative to this file), `file:/abs`, `file:///abs`.
            let path_text = match rest.strip_prefix("//") {
                Some(after) if after.starts_with('/') => after,
                Some(after) => match after.strip_prefix("localhost") {
                    Some(local) if local.starts_with('/') => local,
                    _ => {
                        self.error(value.span(), key, format!("file URL {text:?} names a host: write file:relative/path or file:///absolute/path"));
                        return None;
                    }
                },
                None => rest,
            };
            if path_text.is_empty() {
                self.error(value.span(), key, "file URL without a path");
                return None;
            }
            let decoded = percent_decode(path_text);
            let path = self.path(&decoded);
            return match Url::from_file_path(&path) {
                Ok(url) => Some(url),
                Err(()) => {
                    self.error(
                        value.span(),
                        key,
                        format!("cannot turn {} into a file URL", path.display()),
                    );
                    None
                }
            };
        }
        // The text may hold a password (refused below): messages show it without.
        let shown = crate::fetch::credentials::redact_userinfo(text);
        match Url::parse(text) {
            Ok(url) if url.password().is_some() => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "the URL carries a password, which would be logged and stored with it: write the URL without `user:password@` and set username = {:?} and password_file = \"FILE\" (a file holding the password)",
                        url.username()
                    ),
                );
                None
            }
            Ok(url) if !url.username().is_empty() => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "the URL carries a user name, which would be logged and stored with it: write the URL without `{}@` and set username and password_file",
                        url.username()
                    ),
                );
                None
            }
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Some(url)
            }
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                self.error(value.span(), key, format!("URL {shown:?} has no host"));
                None
            }
            Ok(url) => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "unsupported scheme {:?}: use http, https or file",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(value.span(), key, format!("invalid URL {shown:?}: {e}"));
                None
            }
        }
    }
}
