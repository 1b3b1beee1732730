//! The TOML files → raw sections: every section and every `[[entry]]` deserialized on its
//! own, so one broken entry is reported and the others are still checked. The entries of
//! included files join the main file's.

use std::collections::HashSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use toml::Spanned;

use super::error::{Document, Report};
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

const SECTIONS: &str = "include, daemon, smtp, dedup, web, source, watch, digest, alert";

/// Reads every document: the main file's sections, then the entries of the files it
/// includes (spans shifted into the shared offset space, see [`Document`]).
pub(super) fn read_raw(documents: &[Document], report: &mut Report<'_>) -> RawConfig {
    let mut raw = RawConfig::default();
    for (index, document) in documents.iter().enumerate() {
        read_document(document, index == 0, report, &mut raw);
    }
    raw
}

fn read_document(document: &Document, main: bool, report: &mut Report<'_>, raw: &mut RawConfig) {
    let by = document.start;
    let (table, syntax_errors) = DeTable::parse_recoverable(&document.text);
    if !syntax_errors.is_empty() {
        // Report every syntax error; what the parser recovered is not trusted further.
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            report.at(
                span.start + by..span.end + by,
                "(syntax)",
                format!("invalid TOML: {}", e.message().trim()),
            );
        }
        return;
    }
    for (key, value) in table.into_inner() {
        let (key, value) = (moved(key, by), shift(value, by, 0));
        let name = key.get_ref().as_ref();
        match name {
            "include" if main => {} // read by `include::gather`
            "include" => report.at(
                key.span(),
                "include",
                "includes do not nest: list every pattern in the main configuration file",
            ),
            "daemon" | "dedup" | "web" | "smtp" if !main => report.at(
                key.span(),
                name,
                format!("[{name}] belongs in the main configuration file; an included file holds [[source]], [[watch]], [[digest]] and [[alert]] entries"),
            ),
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
            "source" => raw
                .sources
                .extend(entries(report, "source", value, &mut raw.broken_ids)),
            "watch" => raw
                .watches
                .extend(entries(report, "watch", value, &mut raw.broken_ids)),
            "digest" => raw
                .digests
                .extend(entries(report, "digest", value, &mut raw.broken_ids)),
            "alert" => raw
                .alerts
                .extend(entries(report, "alert", value, &mut raw.broken_ids)),
            other => {
                let hint = match other {
                    "sources" => "; did you mean [[source]]?",
                    "watches" => "; did you mean [[watch]]?",
                    "digests" => "; did you mean [[digest]]?",
                    "alerts" => "; did you mean [[alert]]?",
                    "includes" => "; did you mean include?",
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
}

/// Nesting deeper than this is left unshifted: no configuration value nests past a few
/// levels, so anything deeper fails to deserialize at an outer level (whose span is right),
/// and a hostile file cannot make this recursion overflow the stack.
const SHIFT_DEPTH: usize = 32;

/// A value of an included file with its spans (and its children's) moved `by` bytes into
/// the shared offset space.
fn shift(value: Spanned<DeValue<'_>>, by: usize, depth: usize) -> Spanned<DeValue<'_>> {
    if by == 0 {
        return value;
    }
    let span = value.span();
    let inner = match value.into_inner() {
        DeValue::Array(mut array) if depth < SHIFT_DEPTH => {
            for item in array.iter_mut() {
                let taken = std::mem::replace(item, Spanned::new(0..0, DeValue::Boolean(false)));
                *item = shift(taken, by, depth + 1);
            }
            DeValue::Array(array)
        }
        DeValue::Table(table) if depth < SHIFT_DEPTH => DeValue::Table(
            table
                .into_iter()
                .map(|(key, value)| (moved(key, by), shift(value, by, depth + 1)))
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, inner)
}

fn moved<T>(value: Spanned<T>, by: usize) -> Spanned<T> {
    if by == 0 {
        return value;
    }
    let span = value.span();
    Spanned::new(span.start + by..span.end + by, value.into_inner())
}

/// Deserializes one table (`[daemon]`, `[smtp]`, or one `[[source]]` entry).
fn section<T: DeserializeOwned>(
    report: &mut Report<'_>,
    label: &str,
    value: Spanned<DeValue<'_>>,
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
    value: Spanned<DeValue<'_>>,
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
