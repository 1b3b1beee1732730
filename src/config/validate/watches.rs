//! `[[watch]]`: queries, the sources they read and the digests they feed.

use std::collections::HashMap;

use super::Validator;
use crate::config::raw;
use crate::config::raw::{RawWatch, S};
use crate::config::types::selectable;
use crate::config::{DigestConfig, SourceConfig, SourceSet, WatchConfig};
use crate::matching::{Meta, Query};
use crate::model::{DigestId, SourceId, WatchId};

impl Validator<'_> {
    pub(super) fn watches(
        &mut self,
        raw: Vec<RawWatch>,
        sources: &[SourceConfig],
        digests: &[DigestConfig],
    ) -> Vec<WatchConfig> {
        let mut seen = HashMap::new();
        let mut watches = Vec::new();
        let every = SourceSet::of(sources.iter().map(|s| s.id.clone()).collect());
        let named = selectable(sources);
        for watch in raw {
            let id_ok = self.id(&watch.id, "watch", &mut seen);
            let label = format!("watch {:?}", watch.id.get_ref());
            let query = match Query::parse(watch.query.get_ref()) {
                Ok(q) => Some(q),
                Err(e) => {
                    let offset = self.offset_in_string(&watch.query, e.column);
                    self.report.at_offset(
                        offset,
                        format!("{label}.query"),
                        format!("invalid query: {}", e.message),
                    );
                    None
                }
            };
            let selected = match watch.sources {
                None => every.clone(),
                Some(list) => {
                    let span = list.span();
                    let names = raw::list(list);
                    if names.is_empty() {
                        self.error(
                            span,
                            format!("{label}.sources"),
                            "an empty list selects no source: remove the key to watch every source",
                        );
                    }
                    let mut selected = SourceSet::default();
                    for name in names {
                        match named.get(name.get_ref()) {
                            Some(part) => selected.add(part),
                            None if self.broken.contains(name.get_ref()) => {}
                            None => self.error(
                                name.span(),
                                format!("{label}.sources"),
                                format!("no source id or tag {:?}", name.get_ref()),
                            ),
                        }
                    }
                    selected
                }
            };
            if let Some(query) = &query {
                self.meta_operators(&watch.query, query, &label, sources, &selected);
            }
            let feeds: Vec<DigestId> = match watch.digests {
                None => digests.iter().map(|d| d.id.clone()).collect(),
                Some(list) => {
                    let mut ids = Vec::new();
                    for name in raw::list(list) {
                        if digests.iter().any(|d| d.id.as_str() == name.get_ref()) {
                            ids.push(DigestId::new(name.into_inner()));
                        } else if !self.broken.contains(name.get_ref()) {
                            self.error(
                                name.span(),
                                format!("{label}.digests"),
                                format!("no digest with id {:?}", name.get_ref()),
                            );
                        }
                    }
                    ids
                }
            };
            let name = watch
                .name
                .map_or_else(|| watch.id.get_ref().clone(), S::into_inner);
            if !id_ok {
                continue;
            }
            let Some(query) = query else {
                self.broken.insert(watch.id.into_inner());
                continue;
            };
            watches.push(WatchConfig {
                id: WatchId::new(watch.id.into_inner()),
                name,
                query,
                sources: selected,
                digests: feeds,
            });
        }
        watches
    }

    /// `source:` and `tag:` must name what the configuration has, and a `source:` or
    /// `tag:` that must hold has to be among the sources the watch reads, or the watch
    /// could never match through it. Errors point at the operator in the query.
    fn meta_operators(
        &mut self,
        written: &S<String>,
        query: &Query,
        label: &str,
        sources: &[SourceConfig],
        selected: &SourceSet,
    ) {
        for meta in query.metas() {
            let problem = match &meta.meta {
                Meta::Source(id) => {
                    if self.broken.contains(id) {
                        None
                    } else if !sources.iter().any(|s| s.id.as_str() == id) {
                        let known: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
                        Some(format!(
                            "{}: no source with id {id:?} (sources: {})",
                            meta.display,
                            known.join(", ")
                        ))
                    } else if !meta.negated && !selected.contains(&SourceId::new(id.as_str())) {
                        Some(format!(
                            "{} can never hold: this watch does not read source {id:?} (see \
                             its `sources`)",
                            meta.display
                        ))
                    } else {
                        None
                    }
                }
                Meta::Tag(tag) => {
                    let tagged = || sources.iter().filter(|s| s.tags.contains(tag));
                    if tagged().next().is_none() {
                        let mut known: Vec<&str> = sources
                            .iter()
                            .flat_map(|s| s.tags.iter().map(String::as_str))
                            .collect();
                        known.sort_unstable();
                        known.dedup();
                        Some(format!(
                            "{}: no source has the tag {tag:?} (tags: {})",
                            meta.display,
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ))
                    } else if !meta.negated && !tagged().any(|s| selected.contains(&s.id)) {
                        Some(format!(
                            "{} can never hold: none of the sources this watch reads has that \
                             tag (see its `sources`)",
                            meta.display
                        ))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(problem) = problem {
                let offset = self.offset_in_string(written, meta.column);
                self.report.at_offset(
                    offset,
                    format!("{label}.query"),
                    format!("invalid query: {problem}"),
                );
            }
        }
    }
}
