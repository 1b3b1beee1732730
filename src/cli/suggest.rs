//! `veille suggest --watch ID`: what the judgments say the watch's query should exclude.
//!
//! Prints the exclusion terms and the noisy sources `veille::score::suggest` finds in the
//! watch's judged mentions, with their counts, and the query the admin could write, as a
//! hint to paste into the TOML. It never edits the configuration: a query change is a
//! decision for a person (a term absent from the judged relevant mentions may still be
//! needed tomorrow).

use std::io::{self, Write};

use veille::judge::learned;
use veille::score::learn::{MIN_JUDGMENTS, Model};
use veille::score::suggest::{Suggestions, suggest};

use super::{CliError, ConfigArg, find_watch, load_config, open_existing_store};

#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The watch whose judgments to read.
    #[arg(long)]
    watch: String,
}

pub fn run(args: &SuggestArgs) -> Result<(), CliError> {
    let config = load_config(&args.config.config)?;
    let watch_config = find_watch(&config, &args.watch)?;
    let watch = &watch_config.id;
    let store = open_existing_store(&config)?;
    let judged = store.judged_mentions(watch)?;
    let examples = learned::examples(&judged);
    let terms: Vec<String> = watch_config
        .query
        .terms()
        .iter()
        .filter(|t| !t.negated)
        .map(|t| t.display.clone())
        .collect();
    let found = suggest(&examples, &terms);
    // The same model the daemon would train, from the mentions already read.
    let model = Model::train(&examples);
    let relevant = examples.iter().filter(|e| e.relevant).count();
    let mut out = io::stdout().lock();
    let learning = match &model {
        Some(_) => "its classifier is on: new mentions are scored with it".to_string(),
        None => format!(
            "no classifier yet: it needs {MIN_JUDGMENTS} judgments with at least a few of each kind"
        ),
    };
    let written = writeln!(
        out,
        "watch {}: {} judged mention(s), {} relevant or crisis, {} irrelevant; {learning}",
        watch,
        found.judged,
        relevant,
        found.judged - relevant
    )
    .and_then(|()| write_suggestions(&mut out, &found, watch_config.query.source()));
    super::printed(written, "the suggestions")
}

/// The terms and sources with their counts, then the query they would make.
fn write_suggestions(out: &mut impl Write, found: &Suggestions, query: &str) -> io::Result<()> {
    if found.terms.is_empty() {
        writeln!(
            out,
            "\nno exclusion term: nothing frequent in the irrelevant mentions is absent from the relevant ones"
        )?;
    } else {
        writeln!(
            out,
            "\nexclusion terms (in irrelevant mentions, in no relevant one):"
        )?;
        for term in &found.terms {
            writeln!(
                out,
                "  {:<28} {} irrelevant, {} relevant",
                term.term, term.irrelevant, term.relevant
            )?;
        }
        let exclusions: Vec<String> = found
            .terms
            .iter()
            .map(|t| {
                if t.term.contains(char::is_whitespace) || t.term.contains(['\'', '’', '-']) {
                    format!("-\"{}\"", t.term.replace('"', ""))
                } else {
                    format!("-{}", t.term)
                }
            })
            .collect();
        writeln!(
            out,
            "\n  for example: query = '({query}) {}'",
            exclusions.join(" ")
        )?;
    }
    if found.sources.is_empty() {
        writeln!(out, "\nno noisy source")?;
    } else {
        writeln!(
            out,
            "\nnoisy sources (mostly judged irrelevant): lower their `weight`, or take them out of the watch's `sources`"
        )?;
        for source in &found.sources {
            writeln!(
                out,
                "  {:<28} {} irrelevant, {} relevant",
                source.source, source.irrelevant, source.relevant
            )?;
        }
    }
    writeln!(
        out,
        "\nnothing was changed: edit the TOML, then `veille check` and `veille reload`"
    )
}
