//! `[[digest]]`: who gets which watches, on which schedule.

use std::collections::HashMap;

use chrono_tz::Tz;

use super::Validator;
use crate::config::raw;
use crate::config::raw::{RawDigest, S};
use crate::config::{DigestConfig, defaults};
use crate::model::DigestId;
use crate::schedule::{DaySet, Schedule, parse_time_of_day};

impl Validator<'_> {
    pub(super) fn digests(&mut self, raw: Vec<RawDigest>, tz: Tz) -> Vec<DigestConfig> {
        let mut seen = HashMap::new();
        let mut digests = Vec::new();
        for digest in raw {
            let id_ok = self.id(&digest.id, "digest", &mut seen);
            let label = format!("digest {:?}", digest.id.get_ref());
            let errors_before = self.report.count();
            let to = self.mailboxes(digest.to, &format!("{label}.to"));
            let at = match digest.at {
                None => vec![parse_time_of_day(defaults::DIGEST_AT).unwrap_or_default()],
                Some(at) => {
                    let span = at.span();
                    let list = raw::list(at);
                    if list.is_empty() {
                        self.error(
                            span,
                            format!("{label}.at"),
                            "at least one time is needed, e.g. [\"08:00\"]",
                        );
                    }
                    list.iter()
                        .filter_map(|t| match parse_time_of_day(t.get_ref()) {
                            Ok(time) => Some(time),
                            Err(message) => {
                                self.error(t.span(), format!("{label}.at"), message);
                                None
                            }
                        })
                        .collect()
                }
            };
            let days = match digest.days {
                None => DaySet::parse(defaults::DIGEST_DAYS).unwrap_or(DaySet::ALL),
                Some(days) => {
                    let span = days.span();
                    let list = raw::list(days);
                    if list.is_empty() {
                        self.error(
                            span,
                            format!("{label}.days"),
                            "at least one day is needed, e.g. \"mon-fri\"",
                        );
                    }
                    let mut set: Option<DaySet> = None;
                    for day in &list {
                        match DaySet::parse(day.get_ref()) {
                            Ok(parsed) => set = Some(set.map_or(parsed, |s| s.union(parsed))),
                            Err(message) => {
                                self.error(day.span(), format!("{label}.days"), message)
                            }
                        }
                    }
                    set.unwrap_or(DaySet::ALL)
                }
            };
            let max_items = match &digest.max_items {
                None => defaults::DIGEST_MAX_ITEMS,
                Some(n) => match usize::try_from(*n.get_ref()) {
                    Ok(n) if (1..=defaults::DIGEST_MAX_ITEMS_LIMIT).contains(&n) => n,
                    _ => {
                        self.error(
                            n.span(),
                            format!("{label}.max_items"),
                            format!(
                                "max_items must be between 1 and {}",
                                defaults::DIGEST_MAX_ITEMS_LIMIT
                            ),
                        );
                        defaults::DIGEST_MAX_ITEMS
                    }
                },
            };
            let lang = self.choice(
                &digest.lang,
                &format!("{label}.lang"),
                defaults::DIGEST_LANG,
            );
            let empty = self.choice(
                &digest.empty,
                &format!("{label}.empty"),
                defaults::DIGEST_EMPTY,
            );
            let trend = digest
                .trend
                .as_ref()
                .map_or(defaults::DIGEST_TREND, |t| *t.get_ref());
            let name = digest
                .name
                .map_or_else(|| digest.id.get_ref().clone(), S::into_inner);
            if id_ok && self.report.count() > errors_before {
                self.broken.insert(digest.id.get_ref().clone());
            } else if id_ok {
                digests.push(DigestConfig {
                    id: DigestId::new(digest.id.into_inner()),
                    name,
                    to,
                    schedule: Schedule::new(at, days, tz),
                    max_items,
                    lang: lang.unwrap_or_default(),
                    empty: empty.unwrap_or_default(),
                    trend,
                });
            }
        }
        digests
    }
}
