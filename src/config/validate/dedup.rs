//! `[dedup]`: how items are grouped into stories (see `crate::dedup`).

use std::time::Duration;

use super::Validator;
use crate::config::raw::RawDedup;
use crate::config::{format_duration, parse_duration};
use crate::dedup::{DedupSettings, STORY_WINDOW};

/// Shorter windows split a story that outlets pick up over a day.
pub const MIN_STORY_WINDOW: Duration = Duration::from_secs(3600);
/// Longer windows merge next month's report with this month's.
pub const MAX_STORY_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

impl Validator<'_> {
    pub(super) fn dedup(&mut self, raw: RawDedup) -> DedupSettings {
        let mut settings = DedupSettings::default();
        if let Some(window) = raw.story_window {
            match parse_duration(window.get_ref()) {
                Ok(d) if (MIN_STORY_WINDOW..=MAX_STORY_WINDOW).contains(&d) => {
                    settings.story_window = d;
                }
                Ok(_) => self.error(
                    window.span(),
                    "dedup.story_window",
                    format!(
                        "story window {} is out of range: use {} to {}d (default {}h)",
                        window.get_ref(),
                        format_duration(MIN_STORY_WINDOW),
                        MAX_STORY_WINDOW.as_secs() / 86_400,
                        STORY_WINDOW.as_secs() / 3600
                    ),
                ),
                Err(message) => self.error(window.span(), "dedup.story_window", message),
            }
        }
        for name in raw.extra_tracking_params.unwrap_or_default() {
            let text = name.get_ref().trim();
            let stem = text.strip_suffix('*').unwrap_or(text);
            let bad = stem.is_empty()
                || stem
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '=' | '&' | '#' | '?' | '*'));
            if bad {
                self.error(
                    name.span(),
                    "dedup.extra_tracking_params",
                    format!(
                        "{:?} is not a query parameter name: write a name such as \"xtcr\", or a prefix ending in * such as \"pk_*\"",
                        name.get_ref()
                    ),
                );
            } else {
                settings.extra_tracking_params.push(text.to_string());
            }
        }
        settings
    }
}
