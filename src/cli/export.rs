//! `veille export`: stored mentions as JSON or CSV, for spreadsheets and scripts.
//!
//! Rows are streamed from the database to the output one at a time, so memory stays flat
//! whatever the size of the export.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use veille::model::Lang;
use veille::model::MentionRecord;
use veille::model::WatchId;
use veille::score::reasons_line;
use veille::store::{Store, StoreError};

use super::{CliError, ConfigArg, Scope, open_scope};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Mentions found in this last period (e.g. 24h, 30d).
    #[arg(long, default_value = "30d")]
    since: String,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Only this watch.
    #[arg(long)]
    watch: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// One exported mention. Field names are part of the export format: add, never rename.
/// `R` is how the reasons are written: one English line in CSV (a cell holds text), a list
/// of English phrases in JSON.
#[derive(Debug, Serialize)]
struct Record<R> {
    mention_id: i64,
    watch_id: String,
    source_id: String,
    item_id: i64,
    url: String,
    title: String,
    published_at: String,
    found_at: String,
    terms: String,
    /// Mentions with the same story id are copies of one story.
    story_id: i64,
    /// A post's author handle or an article's byline; empty when the feed names none.
    /// New columns go last, so CSV columns read by position keep their place.
    author: String,
    /// The score (0–1); empty (null) for mentions stored before scoring.
    score: Option<f64>,
    /// Why it scored so, strongest first, in English.
    reasons: R,
    /// The current verdict: relevant, irrelevant or crisis; empty (null) when nobody
    /// judged it.
    verdict: Option<&'static str>,
    /// The item's language, an ISO 639 code (`fr`, `en`; see `veille::extract::lang`);
    /// empty (null) when unknown.
    lang: Option<String>,
}

/// A CSV row: the reasons in one line, like a digest shows them (at most four).
type CsvRecord = Record<String>;
/// A JSON record: every reason, one phrase each.
type JsonRecord = Record<Vec<String>>;

impl From<MentionRecord> for CsvRecord {
    fn from(m: MentionRecord) -> CsvRecord {
        let reasons = reasons_line(&m.reasons, Lang::En);
        Record::with_reasons(m, reasons)
    }
}

impl From<MentionRecord> for JsonRecord {
    fn from(m: MentionRecord) -> JsonRecord {
        let reasons = m.reasons.iter().map(|r| r.render(Lang::En)).collect();
        Record::with_reasons(m, reasons)
    }
}

impl<R> Record<R> {
    fn with_reasons(m: MentionRecord, reasons: R) -> Record<R> {
        Record {
            mention_id: m.id.0,
            watch_id: m.watch.to_string(),
            source_id: m.source.to_string(),
            item_id: m.item.0,
            url: m.url.unwrap_or_default(),
            title: m.title,
            published_at: m.published.map(|t| t.to_rfc3339()).unwrap_or_default(),
            found_at: m.found_at.to_rfc3339(),
            terms: m.terms.join(", "),
            story_id: m.story.0,
            author: m.author.unwrap_or_default(),
            // Three decimals: the score is a ranking, not a measurement.
            score: m.score.map(|s| (s * 1000.0).round() / 1000.0),
            reasons,
            verdict: m.verdict.map(|v| v.as_str()),
            lang: m.lang,
        }
    }
}

/// What can go wrong halfway through an export (the rows are streamed: the store and the
/// writer fail at the same place).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] io::Error),
    #[error("cannot write a CSV row: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write a JSON record: {0}")]
    Json(#[from] serde_json::Error),
}

pub fn export(args: &ExportArgs) -> Result<(), CliError> {
    let Scope {
        since,
        watch,
        store,
        ..
    } = open_scope(&args.config, &args.since, args.watch.as_ref())?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::io(format!("cannot create {}", path.display()), e))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let count = match args.format {
        Format::Json => write_json(&store, since, watch.as_ref(), out),
        Format::Csv => write_csv(&store, since, watch.as_ref(), out),
    }?;
    tracing::info!(mentions = count, "export written");
    Ok(())
}

fn write_json(
    store: &Store,
    since: DateTime<Utc>,
    watch: Option<&WatchId>,
    out: Box<dyn Write>,
) -> Result<usize, ExportError> {
    let mut out = BufWriter::new(out);
    out.write_all(b"[")?;
    let mut first = true;
    let count = store.for_each_mention(since, watch, |mention| -> Result<(), ExportError> {
        out.write_all(if first { b"\n  " } else { b",\n  " })?;
        first = false;
        serde_json::to_writer(&mut out, &JsonRecord::from(mention))?;
        Ok(())
    })?;
    out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })?;
    out.flush()?;
    Ok(count)
}

fn write_csv(
    store: &Store,
    since: DateTime<Utc>,
    watch: Option<&WatchId>,
    out: Box<dyn Write>,
) -> Result<usize, ExportError> {
    let mut writer = csv::Writer::from_writer(BufWriter::new(out));
    let count = store.for_each_mention(since, watch, |mention| -> Result<(), ExportError> {
        writer.serialize(CsvRecord::from(mention))?;
        Ok(())
    })?;
    writer.flush()?;
    Ok(count)
}
