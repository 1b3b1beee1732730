//! `veille sources`: every configured source with its health, from the database.
//!
//! A plain-text table, one line per source, so an admin sees at a glance which sources
//! fail, which are gone and which moved. Status is computed from the stored state and the
//! configured `daemon.failing_after`: ok, failing, gone, redirected (moved permanently,
//! still polled at the old URL), or new (never polled).

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use veille::config::Config;
use veille::store::{SourceRow, Store};

use super::{CliError, load_config};

pub fn sources(config_path: &Path) -> Result<(), CliError> {
    let config = load_config(config_path)?;
    let rows = Store::open(&config.daemon.database).and_then(|s| s.source_rows())?;
    print!("{}", table(&config, rows));
    Ok(())
}

fn table(config: &Config, rows: Vec<SourceRow>) -> String {
    let tz = config.daemon.timezone;
    let mut by_id: HashMap<String, SourceRow> = rows
        .into_iter()
        .map(|r| (r.source.as_str().to_string(), r))
        .collect();
    let mut lines = vec![[
        "SOURCE".to_string(),
        "STATUS".to_string(),
        "LAST SUCCESS".to_string(),
        "NEXT POLL".to_string(),
        "FAILURES".to_string(),
        "ITEMS".to_string(),
        "PER DAY".to_string(),
        "LAST ERROR / NOTE".to_string(),
    ]];
    for source in &config.sources {
        let row = by_id.remove(source.id.as_str());
        let line = match row {
            None => [
                source.id.to_string(),
                "new".to_string(),
                "-".to_string(),
                "now".to_string(),
                "0".to_string(),
                "0".to_string(),
                "-".to_string(),
                String::new(),
            ],
            Some(row) => {
                let state = &row.state;
                let status = if state.gone {
                    "gone"
                } else if state.consecutive_failures >= config.daemon.failing_after.max(1) {
                    "failing"
                } else if state.redirected_to.is_some() {
                    "redirected"
                } else if state.consecutive_failures > 0 {
                    "retrying"
                } else {
                    "ok"
                };
                let note = match (&state.last_error, &state.redirected_to) {
                    (Some(error), _) => error.clone(),
                    (None, Some(to)) => format!("moved permanently to {to}: update the url"),
                    (None, None) => String::new(),
                };
                let next = if state.gone {
                    "never".to_string()
                } else {
                    time(state.next_poll_at, tz)
                };
                [
                    source.id.to_string(),
                    status.to_string(),
                    time(state.last_success_at, tz),
                    next,
                    state.consecutive_failures.to_string(),
                    row.items.to_string(),
                    per_day(row.items, row.first_item_at),
                    note,
                ]
            }
        };
        lines.push(line);
    }
    let mut widths = [0usize; 7];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        for (width, cell) in widths.iter().zip(line.iter()) {
            out.push_str(cell);
            out.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        out.push_str(line[7].trim());
        out.push('\n');
    }
    out
}

/// Items per day since the first one was found (at least one day, so a new source does
/// not show a burst of its backlog as a rate).
fn per_day(items: i64, first: Option<DateTime<Utc>>) -> String {
    let Some(first) = first else {
        return "-".to_string();
    };
    let days = ((Utc::now() - first).num_seconds() as f64 / 86_400.0).max(1.0);
    format!("{:.1}", items as f64 / days)
}

fn time(at: Option<DateTime<Utc>>, tz: Tz) -> String {
    at.map_or_else(
        || "-".to_string(),
        |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
    )
}
