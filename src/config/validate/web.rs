//! `[web]`: the judgment pages, their address, key and login.

use std::ops::Range;
use std::time::Duration;

use url::Url;

use super::Validator;
use crate::config::raw::RawWeb;
use crate::config::{DaemonConfig, WebConfig, Writes, defaults, parse_duration};

impl Validator<'_> {
    /// `[web]`: the key file must hold a usable key; the listener defaults to loopback, and a
    /// listener others can reach requires a login.
    pub(super) fn web(
        &mut self,
        raw: RawWeb,
        span: Range<usize>,
        daemon: &mut DaemonConfig,
    ) -> Option<WebConfig> {
        let start_errors = self.report.count();
        let base_url = raw.base_url.as_ref().and_then(|text| {
            match Url::parse(text.get_ref()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    // Links are joined to it: without the final slash, `…/veille` + `j/…`
                    // would drop `veille`.
                    let mut url = url;
                    if !url.path().ends_with('/') {
                        url.set_path(&format!("{}/", url.path()));
                    }
                    Some(url)
                }
                _ => {
                    self.error(
                        text.span(),
                        "web.base_url",
                        format!(
                            "{:?} is not an http or https URL: write the address readers use to reach veille, e.g. \"https://veille.example.org/\"",
                            text.get_ref()
                        ),
                    );
                    None
                }
            }
        });
        let secret_file = self.path(raw.secret_file.get_ref());
        let create_secret = raw.create_secret.as_ref().is_some_and(|c| *c.get_ref());
        let key = match crate::judge::token::LinkKey::open(
            &secret_file,
            create_secret,
            self.writes == Writes::Allowed,
        ) {
            Ok((key, origin)) => Some((std::sync::Arc::new(key), origin)),
            Err(e) => {
                self.error(raw.secret_file.span(), "web.secret_file", e.to_string());
                None
            }
        };
        let link_ttl = match &raw.link_ttl {
            None => defaults::LINK_TTL,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d) if d >= Duration::from_secs(3600) => d,
                Ok(_) => {
                    self.error(
                        text.span(),
                        "web.link_ttl",
                        "links must stay valid at least 1h (default 14d)",
                    );
                    defaults::LINK_TTL
                }
                Err(message) => {
                    self.error(text.span(), "web.link_ttl", message);
                    defaults::LINK_TTL
                }
            },
        };
        let review_days = match &raw.review_days {
            None => defaults::REVIEW_DAYS,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if (1..=defaults::REVIEW_MAX_DAYS).contains(&n) => n,
                _ => {
                    self.error(
                        n.span(),
                        "web.review_days",
                        format!(
                            "review_days must be from 1 to {} (default {})",
                            defaults::REVIEW_MAX_DAYS,
                            defaults::REVIEW_DAYS
                        ),
                    );
                    defaults::REVIEW_DAYS
                }
            },
        };
        let user = match raw.user {
            None => defaults::WEB_USER.to_string(),
            Some(user) => {
                let name = user.get_ref().trim();
                if name.is_empty() || name.contains(['|', '\n', '\r']) {
                    self.error(
                        user.span(),
                        "web.user",
                        "the login name must be one non-empty line without `|`",
                    );
                }
                name.to_string()
            }
        };
        let password_hash = raw.password_hash.and_then(|hash| {
            if hash.get_ref().starts_with("$argon2") {
                Some(hash.into_inner())
            } else {
                self.error(
                    hash.span(),
                    "web.password_hash",
                    "not an argon2 hash: write the line `veille hash-password` prints (it starts with $argon2id$); never the password itself",
                );
                None
            }
        });
        let lang = self.choice(&raw.lang, "web.lang", "en").unwrap_or_default();
        let listen = *daemon.listen.get_or_insert_with(|| {
            defaults::WEB_LISTEN
                .parse()
                .unwrap_or_else(|_| unreachable!("the default address parses"))
        });
        if !listen.ip().is_loopback()
            && password_hash.is_none()
            && self.report.count() == start_errors
        {
            self.error(
                span,
                "web.password_hash",
                format!(
                    "daemon.listen {listen} can be reached from other machines, so the review page needs a login: set web.password_hash (see `veille hash-password`), or listen on 127.0.0.1"
                ),
            );
        }
        if self.report.count() > start_errors {
            return None;
        }
        let (key, key_origin) = key?;
        Some(WebConfig {
            base_url,
            secret_file,
            create_secret,
            key,
            key_origin,
            link_ttl,
            review_days,
            user,
            password_hash,
            lang,
        })
    }
}
