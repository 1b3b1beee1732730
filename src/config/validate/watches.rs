//! `[[watch]]`: queries, the sources they read and the digests they feed.

use std::collections::HashMap;

use super::Validator;
use crate::config::raw;
use crate::config::raw::{RawWatch, S};
use crate::config::types::selectable;
use crate::config::{DigestConfig, SourceConfig, SourceSet, WatchConfig};
use crate::matching::Query;
use crate::model::{DigestId, WatchId};

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
}
