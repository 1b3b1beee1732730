//! `[[alert]]`: instant alert rules, their spikes and quiet hours.

use std::collections::HashMap;
use std::time::Duration;

use chrono_tz::Tz;

use super::Validator;
use crate::config::raw;
use crate::config::raw::{RawAlert, RawQuietHours, RawSpike, S};
use crate::config::{AlertConfig, QuietHours, SpikeRule, WatchConfig, defaults, parse_duration};
use crate::model::{AlertId, WatchId};
use crate::schedule::parse_time_of_day;
use crate::score::risk::RiskVocabulary;

impl Validator<'_> {
    pub(super) fn alerts(
        &mut self,
        raw: Vec<RawAlert>,
        watches: &[WatchConfig],
        tz: Tz,
    ) -> Vec<AlertConfig> {
        let mut seen = HashMap::new();
        let mut alerts = Vec::new();
        for alert in raw {
            let id_ok = self.id(&alert.id, "alert", &mut seen);
            let label = format!("alert {:?}", alert.id.get_ref());
            let to = self.mailboxes(alert.to, &format!("{label}.to"));
            let selected = match alert.watches {
                None => watches.iter().map(|w| w.id.clone()).collect(),
                Some(list) => {
                    let mut ids = Vec::new();
                    for name in raw::list(list) {
                        if watches.iter().any(|w| w.id.as_str() == name.get_ref()) {
                            ids.push(WatchId::new(name.into_inner()));
                        } else if !self.broken.contains(name.get_ref()) {
                            self.error(
                                name.span(),
                                format!("{label}.watches"),
                                format!("no watch with id {:?}", name.get_ref()),
                            );
                        }
                    }
                    ids
                }
            };
            let min_score = self
                .score_value(&alert.min_score, &format!("{label}.min_score"))
                .unwrap_or(defaults::ALERT_MIN_SCORE);
            let builtin_risk_terms = alert
                .builtin_risk_terms
                .as_ref()
                .is_none_or(|b| *b.get_ref());
            let risk_terms: Vec<String> = match alert.risk_terms {
                None => Vec::new(),
                Some(list) => {
                    let terms = raw::list(list);
                    let mut kept = Vec::new();
                    for term in terms {
                        match RiskVocabulary::new(std::slice::from_ref(term.get_ref()), false) {
                            Ok(_) => kept.push(term.into_inner()),
                            Err(message) => {
                                self.error(term.span(), format!("{label}.risk_terms"), message)
                            }
                        }
                    }
                    kept
                }
            };
            if !builtin_risk_terms
                && risk_terms.is_empty()
                && let Some(flag) = &alert.builtin_risk_terms
            {
                self.error(
                    flag.span(),
                    format!("{label}.builtin_risk_terms"),
                    "without the built-in lists the rule has no risk vocabulary: list your own in risk_terms",
                );
            }
            let throttle = match &alert.throttle {
                None => defaults::ALERT_THROTTLE,
                Some(text) => match parse_duration(text.get_ref()) {
                    Ok(d) => d,
                    Err(message) => {
                        self.error(text.span(), format!("{label}.throttle"), message);
                        defaults::ALERT_THROTTLE
                    }
                },
            };
            let lang = self.choice(&alert.lang, &format!("{label}.lang"), "en");
            // Spikes are watched by default, with the default thresholds.
            let spike = match alert.spike {
                None => Some(SpikeRule {
                    factor: defaults::SPIKE_FACTOR,
                    window: defaults::SPIKE_WINDOW,
                    min_mentions: defaults::SPIKE_MIN_MENTIONS,
                }),
                Some(raw) => self.spike(raw, &label),
            };
            let quiet_hours = alert
                .quiet_hours
                .and_then(|raw| self.quiet_hours(raw, &label, tz));
            if id_ok && !to.is_empty() {
                alerts.push(AlertConfig {
                    id: AlertId::new(alert.id.into_inner()),
                    to,
                    watches: selected,
                    min_score,
                    risk_terms,
                    builtin_risk_terms,
                    throttle,
                    lang: lang.unwrap_or_default(),
                    spike,
                    quiet_hours,
                    crisis: alert.crisis.as_ref().is_some_and(|c| *c.get_ref()),
                });
            }
        }
        alerts
    }

    /// `spike = { … }`: every key optional; `enabled = false` turns spikes off for the rule.
    pub(super) fn spike(&mut self, raw: S<RawSpike>, label: &str) -> Option<SpikeRule> {
        let raw = raw.into_inner();
        let key = format!("{label}.spike");
        let factor = match &raw.factor {
            None => defaults::SPIKE_FACTOR,
            Some(f) if *f.get_ref() > 1.0 && f.get_ref().is_finite() => *f.get_ref(),
            Some(f) => {
                self.error(
                    f.span(),
                    format!("{key}.factor"),
                    format!(
                        "factor {} is too low: a spike is a count above factor × the usual one, so use more than 1 (default 3)",
                        f.get_ref()
                    ),
                );
                defaults::SPIKE_FACTOR
            }
        };
        let window = match &raw.window {
            None => defaults::SPIKE_WINDOW,
            Some(text) => match parse_duration(text.get_ref()) {
                Ok(d)
                    if d >= Duration::from_secs(60)
                        && d <= defaults::SPIKE_MAX_WINDOW
                        && d.as_secs() % 60 == 0 =>
                {
                    d
                }
                Ok(_) => {
                    self.error(
                        text.span(),
                        format!("{key}.window"),
                        "a spike window is whole minutes, from 1m to 24h (default 1h)",
                    );
                    defaults::SPIKE_WINDOW
                }
                Err(message) => {
                    self.error(text.span(), format!("{key}.window"), message);
                    defaults::SPIKE_WINDOW
                }
            },
        };
        let min_mentions = match &raw.min_mentions {
            None => defaults::SPIKE_MIN_MENTIONS,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.error(
                        n.span(),
                        format!("{key}.min_mentions"),
                        "min_mentions must be a positive whole number (default 5)",
                    );
                    defaults::SPIKE_MIN_MENTIONS
                }
            },
        };
        if raw.enabled.is_some_and(|e| !*e.get_ref()) {
            return None;
        }
        Some(SpikeRule {
            factor,
            window,
            min_mentions,
        })
    }

    pub(super) fn quiet_hours(
        &mut self,
        raw: S<RawQuietHours>,
        label: &str,
        tz: Tz,
    ) -> Option<QuietHours> {
        let raw = raw.into_inner();
        let key = format!("{label}.quiet_hours");
        let mut time = |text: &S<String>, part: &str| match parse_time_of_day(text.get_ref()) {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(text.span(), format!("{key}.{part}"), message);
                None
            }
        };
        let from = time(&raw.from, "from");
        let to = time(&raw.to, "to");
        let unless_score = self.score_value(&raw.unless_score, &format!("{key}.unless_score"));
        let (from, to) = (from?, to?);
        if from == to {
            self.error(
                raw.to.span(),
                format!("{key}.to"),
                "quiet hours that start and end at the same time are empty: remove quiet_hours or fix the times",
            );
            return None;
        }
        Some(QuietHours {
            from,
            to,
            unless_score,
            tz,
        })
    }
}
