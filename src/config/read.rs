//! The TOML file → raw sections: every section and every `[[entry]]` deserialized on its
//! own, so one broken entry is reported and the others are still checked.

use std::collections::HashSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::Report;
use crate::config::raw::{
    RawAlert, RawDaemon, RawDedup, RawDigest, RawSmtp, RawSource, RawWatch, RawWeb,
};

/// The raw sections, each entry paired with its span and (when readable) its `id`.
#[derive(Default)]
pub(super) struct RawConfig {
    pub(super) daemon: Option<RawDaemon>,
    pub(super) smtp: Option<(RawSmtp, Range<usize>)>,
    pub(super) sources: Vec<RawSource>,
    pub(super) watches: Vec<RawWatch>,
    pub(super) digests: Vec<RawDigest>,
    pub(super) alerts: Vec<RawAlert>,
    pub(super) dedup: Option<RawDedup>,
    pub(super) web: Option<(RawWeb, Range<usize>)>,
    /// Ids of entries that failed to deserialize, so references to them are not reported
    /// as missing on top of the real error.
    pub(super) broken_ids: HashSet<String>,
}

const SECTIONS: &str = "daemon, smtp, dedup, web, source, watch, digest, alert";

pub(super) fn read_raw(text: &str, report: &mut Report<'_>) -> RawConfig {
    let mut raw = RawConfig::default();
    let (table, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // Report every syntax error; what the parser recovered is not trusted further.
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            report.at(
                span,
                "(syntax)",
                format!("invalid TOML: {}", e.message().trim()),
            );
        }
        return raw;
    }
    let table = table.into_inner();
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        match name {
            "daemon" => raw.daemon = section(report, "daemon", value),
            "dedup" => raw.dedup = section(report, "dedup", value),
            "web" => {
                let span = value.span();
                raw.web = section(report, "web", value).map(|web| (web, span));
            }
            "smtp" => {
                let span = value.span();
                raw.smtp = section(report, "smtp", value).map(|smtp| (smtp, span));
            }
            "source" => raw.sources = entries(report, "source", value, &mut raw.broken_ids),
            "watch" => raw.watches = entries(report, "watch", value, &mut raw.broken_ids),
            "digest" => raw.digests = entries(report, "digest", value, &mut raw.broken_ids),
            "alert" => raw.alerts = entries(report, "alert", value, &mut raw.broken_ids),
            other => {
                let hint = match other {
                    "sources" => "; did you mean [[source]]?",
                    "watches" => "; did you mean [[watch]]?",
                    "digests" => "; did you mean [[digest]]?",
                    "alerts" => "; did you mean [[alert]]?",
                    _ => "",
                };
                report.at(
                    key.span(),
                    other,
                    format!("unknown section `{other}`; expected one of {SECTIONS}{hint}"),
                );
            }
        }
    }
    raw
}

/// Deserializes one table (`[daemon]`, `[smtp]`, or one `[[source]]` entry).
fn section<T: DeserializeOwned>(
    report: &mut Report<'_>,
    label: &str,
    value: toml::Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    let keys: Vec<(String, Range<usize>, Range<usize>)> = match value.get_ref() {
        DeValue::Table(table) => table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), k.span(), v.span()))
            .collect(),
        other => {
            report.at(
                span,
                label,
                format!("expected a table, found {}", other.type_str()),
            );
            return None;
        }
    };
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            let at = e.span().unwrap_or(span.clone());
            // Name the key whose name or value holds the error, when there is one.
            let key = keys
                .iter()
                .find(|(_, k, v)| contains(k, &at) || contains(v, &at))
                .map(|(name, _, _)| format!("{label}.{name}"))
                .unwrap_or_else(|| label.to_string());
            report.at(at, key, e.message().trim());
            None
        }
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(outer.start + 1)
}

/// Deserializes every entry of an array of tables (`[[source]]`).
fn entries<T: DeserializeOwned>(
    report: &mut Report<'_>,
    name: &str,
    value: toml::Spanned<DeValue<'_>>,
    broken_ids: &mut HashSet<String>,
) -> Vec<T> {
    let span = value.span();
    let DeValue::Array(array) = value.into_inner() else {
        report.at(
            span,
            name,
            format!("`{name}` must be a list of tables: write each entry as [[{name}]]"),
        );
        return Vec::new();
    };
    let mut parsed = Vec::new();
    for (index, entry) in array.into_iter().enumerate() {
        let id = match entry.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .find(|(k, _)| k.get_ref() == "id")
                .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string)),
            _ => None,
        };
        let label = match &id {
            Some(id) => format!("{name} {id:?}"),
            None => format!("{name}[{index}]"),
        };
        match section(report, &label, entry) {
            Some(value) => parsed.push(value),
            None => {
                if let Some(id) = id {
                    broken_ids.insert(id);
                }
            }
        }
    }
    parsed
}
