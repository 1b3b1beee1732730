//! Raw sections → typed configuration. One [`Validator`] walks the sections in order
//! (daemon, smtp, sources, digests, watches, alerts, dedup, web), records every problem at
//! its file:line:column with its key and goes on, so one pass reports every error. Each
//! section's rules live in a file of their own; what they share (paths anchored at the
//! file's folder, counts, timeouts, choices, ids, secret files) lives here.

mod alerts;
mod daemon;
mod dedup;
mod digests;
mod smtp;
mod sources;
mod watches;
mod web;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::error::Report;
use crate::config::raw::S;
use crate::config::read::RawConfig;
use crate::config::{Config, ConfigFile, Writes, defaults, parse_duration};
use crate::model::Secret;

pub(super) struct Validator<'a> {
    pub(super) report: Report<'a>,
    pub(super) base: PathBuf,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) writes: Writes,
    /// Ids of entries that have an error of their own: references to them are not reported
    /// again as missing.
    pub(super) broken: HashSet<String>,
}

impl Validator<'_> {
    pub(super) fn error(
        &mut self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.report.at(span, key, message);
    }

    pub(super) fn config(&mut self, mut raw: RawConfig, path: &Path) -> Config {
        self.broken = std::mem::take(&mut raw.broken_ids);
        let files = self.files(&raw);
        let daemon = self.daemon(raw.daemon.unwrap_or_default());
        let smtp = raw.smtp.and_then(|(smtp, span)| self.smtp(smtp, span));
        let sources = self.sources(raw.sources);
        let digests = self.digests(raw.digests, daemon.timezone);
        let watches = self.watches(raw.watches, &sources, &digests);
        let alerts = self.alerts(raw.alerts, &watches, daemon.timezone);
        let dedup = self.dedup(raw.dedup.unwrap_or_default());
        let mut daemon = daemon;
        let web = raw
            .web
            .and_then(|(web, span)| self.web(web, span, &mut daemon));
        Config {
            path: path.to_path_buf(),
            daemon,
            smtp,
            sources,
            watches,
            digests,
            alerts,
            dedup,
            web,
            files,
        }
    }

    /// Which file defines which entry, by where each entry's id is.
    fn files(&self, raw: &RawConfig) -> Vec<ConfigFile> {
        let mut files: Vec<ConfigFile> = (self.report.documents().iter())
            .map(|document| ConfigFile {
                path: document.path.clone(),
                ..ConfigFile::default()
            })
            .collect();
        let mut add = |id: &S<String>, list: fn(&mut ConfigFile) -> &mut Vec<String>| {
            if let Some(file) = files.get_mut(self.report.index_of(id.span().start)) {
                list(file).push(id.get_ref().clone());
            }
        };
        for source in &raw.sources {
            add(&source.id, |file| &mut file.sources);
        }
        for watch in &raw.watches {
            add(&watch.id, |file| &mut file.watches);
        }
        for digest in &raw.digests {
            add(&digest.id, |file| &mut file.digests);
        }
        for alert in &raw.alerts {
            add(&alert.id, |file| &mut file.alerts);
        }
        files
    }

    pub(super) fn path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            lexically_clean(path)
        } else {
            lexically_clean(&self.base.join(path))
        }
    }

    /// Reads a secret file named by `key` (relative to the configuration file): its text
    /// without the final line break, and where it was read from (for the mode check of
    /// `Config::warnings`). A file that cannot be read is an error at `file`.
    pub(super) fn secret_file(&mut self, file: &S<String>, key: &str) -> Option<(PathBuf, Secret)> {
        let path = self.path(file.get_ref());
        match std::fs::read_to_string(&path) {
            Ok(text) => Some((path, Secret::new(text.trim_end_matches(['\r', '\n'])))),
            Err(e) => {
                self.error(
                    file.span(),
                    key,
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    }

    /// A positive count no larger than [`defaults::CONCURRENCY_LIMIT`].
    pub(super) fn count(&mut self, value: Option<&S<i64>>, key: &str, default: usize) -> usize {
        let Some(value) = value else {
            return default;
        };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (1..=defaults::CONCURRENCY_LIMIT).contains(&n) => n,
            _ => {
                self.error(
                    value.span(),
                    key,
                    format!(
                        "{} is out of range: use 1 to {}",
                        value.get_ref(),
                        defaults::CONCURRENCY_LIMIT
                    ),
                );
                default
            }
        }
    }

    /// A timeout: a duration (`"30s"`) or milliseconds (`"300ms"`), from 1 ms to 10 minutes.
    pub(super) fn timeout(
        &mut self,
        value: Option<&S<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let Some(value) = value else {
            return default;
        };
        let text = value.get_ref().trim();
        let parsed = match text.strip_suffix("ms") {
            Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => ms
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("invalid duration {text:?}: {e}")),
            _ => parse_duration(text),
        };
        match parsed {
            Ok(d) if d > Duration::ZERO && d <= Duration::from_secs(600) => d,
            Ok(_) => {
                self.error(
                    value.span(),
                    key,
                    format!("timeout {text:?} is out of range: use \"1ms\" to \"10m\""),
                );
                default
            }
            Err(message) => {
                self.error(value.span(), key, message);
                default
            }
        }
    }

    pub(super) fn id(
        &mut self,
        value: &S<String>,
        section: &str,
        seen: &mut HashMap<String, usize>,
    ) -> bool {
        let id = value.get_ref();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            self.error(
                value.span(),
                format!("{section}.id"),
                format!("invalid id {id:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.'"),
            );
            return false;
        }
        let here = value.span().start;
        if let Some(first) = seen.insert(id.clone(), here) {
            let place = self.report.place(first, here);
            self.error(
                value.span(),
                format!("{section} {id:?}.id"),
                format!("duplicate {section} id {id:?} (first defined on {place})"),
            );
            return false;
        }
        true
    }

    /// One of a fixed set of words (an enum parsed with `FromStr`); `None` after an error.
    pub(super) fn choice<T>(
        &mut self,
        value: &Option<S<String>>,
        key: &str,
        default: &str,
    ) -> Option<T>
    where
        T: std::str::FromStr<Err = String>,
    {
        let Some(value) = value else {
            return default.parse().ok();
        };
        match value.get_ref().parse() {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.error(value.span(), key.to_string(), message);
                None
            }
        }
    }

    /// A score threshold: a number from 0 to 1.
    pub(super) fn score_value(&mut self, value: &Option<S<f64>>, key: &str) -> Option<f64> {
        let value = value.as_ref()?;
        let number = *value.get_ref();
        if !(0.0..=1.0).contains(&number) {
            self.error(
                value.span(),
                key.to_string(),
                format!("score {number} is out of range: scores go from 0 to 1"),
            );
            return None;
        }
        Some(number)
    }

    /// Byte offset in the file of the `column`-th character inside a string value (after its
    /// opening quote). Exact for strings without escapes, close otherwise.
    pub(super) fn offset_in_string(&self, value: &S<String>, column: usize) -> usize {
        let span = value.span();
        let raw = self.report.slice(span.clone());
        let quote_len = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let inner_start = span.start + quote_len;
        let inner = self.report.slice(inner_start.min(span.end)..span.end);
        let within = inner
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(inner.len(), |(i, _)| i);
        inner_start + within
    }
}

/// A network in CIDR notation (`10.20.0.0/16`, `::1/128`), or one address.
pub(super) fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|network| network.trunc())
        .map_err(|_| {
            format!(
                "{text:?} is not a network: write an address with its prefix length, such as \"127.0.0.0/8\", \"::1/128\" or \"10.20.0.0/16\""
            )
        })
}

/// Removes `.` and `..` components without touching the file system (the file need not
/// exist yet), so messages show `/srv/veille/state/veille.db`, not `/srv/veille/conf/../state`.
pub(super) fn lexically_clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !matches!(clean.components().next_back(), Some(Component::Normal(_)))
                    || !clean.pop()
                {
                    clean.push("..");
                }
            }
            other => clean.push(other),
        }
    }
    clean
}

pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
