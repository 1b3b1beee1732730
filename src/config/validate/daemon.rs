//! `[daemon]`: the database, mail folder, time zone, fetch limits, listener and metrics token.

use std::path::PathBuf;

use chrono_tz::Tz;
use url::Url;

use super::{Validator, parse_network};
use crate::config::raw::{RawDaemon, S};
use crate::config::{DaemonConfig, defaults, format_duration, parse_duration};
use crate::model::Secret;

impl Validator<'_> {
    pub(super) fn daemon(&mut self, raw: RawDaemon) -> DaemonConfig {
        let timezone = match &raw.timezone {
            None => Tz::UTC,
            Some(tz) => tz.get_ref().parse::<Tz>().unwrap_or_else(|_| {
                self.error(
                    tz.span(),
                    "daemon.timezone",
                    format!("unknown time zone {:?}: use an IANA name such as \"Europe/Paris\" or \"UTC\"", tz.get_ref()),
                );
                Tz::UTC
            }),
        };
        let database = raw
            .database
            .map_or_else(|| defaults::DATABASE.to_string(), S::into_inner);
        let mail_dir = raw
            .mail_dir
            .map_or_else(|| defaults::MAIL_DIR.to_string(), S::into_inner);
        let contact_url = match &raw.contact_url {
            Some(c) => match Url::parse(c.get_ref().trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https" | "mailto") => {
                    Some(url.to_string())
                }
                _ => {
                    self.error(
                        c.span(),
                        "daemon.contact_url",
                        format!(
                            "{:?} is not an http, https or mailto URL: write e.g. \"https://intranet.example.org/veille\" or \"mailto:veille-admin@example.org\"",
                            c.get_ref()
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let has_contact = contact_url.is_some() || raw.user_agent.is_some();
        let user_agent = match raw.user_agent {
            Some(ua) if ua.get_ref().trim().is_empty() || ua.get_ref().contains(['\r', '\n']) => {
                self.error(
                    ua.span(),
                    "daemon.user_agent",
                    "the user agent must be one non-empty line",
                );
                defaults::user_agent(contact_url.as_deref())
            }
            Some(ua) => ua.into_inner(),
            None => defaults::user_agent(contact_url.as_deref()),
        };
        let listen = raw.listen.as_ref().and_then(|listen| {
            match listen.get_ref().parse::<std::net::SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    self.error(
                        listen.span(),
                        "daemon.listen",
                        format!(
                            "invalid address {:?}: write an IP address and a port, such as \"127.0.0.1:9480\"",
                            listen.get_ref()
                        ),
                    );
                    None
                }
            }
        });
        let retention = match &raw.retention {
            None => defaults::RETENTION,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d) if d >= defaults::MIN_RETENTION => d,
                Ok(_) => {
                    self.error(
                        text.span(),
                        "daemon.retention",
                        format!(
                            "retention {} is too short: the minimum is {}",
                            text.get_ref(),
                            format_duration(defaults::MIN_RETENTION)
                        ),
                    );
                    defaults::RETENTION
                }
                Err(message) => {
                    self.error(text.span(), "daemon.retention", message);
                    defaults::RETENTION
                }
            },
        };
        let max_concurrent_fetches = self.count(
            raw.max_concurrent_fetches.as_ref(),
            "daemon.max_concurrent_fetches",
            defaults::MAX_CONCURRENT_FETCHES,
        );
        let per_host_concurrency = self.count(
            raw.per_host_concurrency.as_ref(),
            "daemon.per_host_concurrency",
            defaults::PER_HOST_CONCURRENCY,
        );
        let failing_after = self.count(
            raw.failing_after.as_ref(),
            "daemon.failing_after",
            defaults::FAILING_AFTER as usize,
        );
        let connect_timeout = self.timeout(
            raw.connect_timeout.as_ref(),
            "daemon.connect_timeout",
            defaults::CONNECT_TIMEOUT,
        );
        let fetch_timeout = self.timeout(
            raw.fetch_timeout.as_ref(),
            "daemon.fetch_timeout",
            defaults::FETCH_TIMEOUT,
        );
        let allow_private_addresses = raw
            .allow_private_addresses
            .iter()
            .flatten()
            .filter_map(|network| match parse_network(network.get_ref()) {
                Ok(network) => Some(network),
                Err(message) => {
                    self.error(network.span(), "daemon.allow_private_addresses", message);
                    None
                }
            })
            .collect();
        let (metrics_token_file, metrics_token) = raw
            .metrics_token_file
            .as_ref()
            .and_then(|file| self.metrics_token(file))
            .unzip();
        if let (Some(text), Some(addr)) = (&raw.listen, listen)
            && !addr.ip().is_loopback()
            && metrics_token.is_none()
            && raw.metrics_token_file.is_none()
        {
            self.error(
                text.span(),
                "daemon.metrics_token_file",
                format!(
                    "daemon.listen {addr} can be reached from other machines, so /metrics needs a token: set daemon.metrics_token_file to a file holding one (e.g. `head -c 32 /dev/urandom | base64 > metrics-token`; Prometheus sends it as a bearer token), or listen on 127.0.0.1"
                ),
            );
        }
        DaemonConfig {
            database: self.path(&database),
            timezone,
            user_agent,
            has_contact,
            max_concurrent_fetches,
            per_host_concurrency,
            failing_after: u32::try_from(failing_after).unwrap_or(u32::MAX),
            connect_timeout,
            fetch_timeout,
            mail_dir: self.path(&mail_dir),
            listen,
            retention,
            shutdown_grace: self.timeout(
                raw.shutdown_grace.as_ref(),
                "daemon.shutdown_grace",
                defaults::SHUTDOWN_GRACE,
            ),
            allow_private_addresses,
            metrics_token_file,
            metrics_token,
        }
    }

    /// `daemon.metrics_token_file`: one line of at least [`defaults::MIN_METRICS_TOKEN`]
    /// visible characters. Messages never show the token.
    pub(super) fn metrics_token(&mut self, file: &S<String>) -> Option<(PathBuf, Secret)> {
        let (path, token) = self.secret_file(file, "daemon.metrics_token_file")?;
        let length = token.expose().chars().count();
        let message = if length < defaults::MIN_METRICS_TOKEN {
            format!(
                "{} holds {length} characters; a token needs at least {}: make one with `head -c 32 /dev/urandom | base64 > {}`",
                path.display(),
                defaults::MIN_METRICS_TOKEN,
                file.get_ref()
            )
        } else if !token.expose().bytes().all(|b| b.is_ascii_graphic()) {
            format!(
                "{} must hold one line of visible ASCII characters (no spaces): it is sent in an HTTP header",
                path.display()
            )
        } else {
            return Some((path, token));
        };
        self.error(file.span(), "daemon.metrics_token_file", message);
        None
    }
}
