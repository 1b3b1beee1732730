//! `veille match`: try a query on a text, or replay a watch over stored items.
//!
//! For admins tuning a watch list. Exit codes follow grep: 0 the query matched (at least one
//! item, with `--replay`), 1 it did not ([`CliError::NoMatch`]), 2 the query, the
//! configuration or the arguments are invalid, or the database cannot be read (every other
//! error, through [`CliError::like_grep`]). An invalid query is shown with a caret under the
//! column the error names.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use veille::config::{Config, WatchConfig};
use veille::language;
use veille::matching::{ItemMeta, ItemText, Matcher, Query, snippet};
use veille::model::{Field, SourceId, TermHit, WatchId, WatchMatch};
use veille::store::StoreError;

use super::{CliError, load_config, open_existing_store, since};

/// Characters of context shown around hits.
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// The query to try; with --watch, it replaces the watch's query.
    #[arg(long, short = 'q')]
    query: Option<String>,
    /// The title to match.
    #[arg(long, default_value = "")]
    title: String,
    /// The body to match; `-` reads it from standard input.
    #[arg(long)]
    text: Option<String>,
    /// Print the hits as JSON.
    #[arg(long)]
    json: bool,
    /// A watch of the configuration: its query (unless --query) and its sources.
    #[arg(long)]
    watch: Option<String>,
    /// The configuration file (needed by --watch and --replay).
    #[arg(long, short = 'c', env = "VEILLE_CONFIG")]
    config: Option<PathBuf>,
    /// Run the query over the items stored in this last period (e.g. 30d) instead of a text.
    #[arg(long, value_name = "PERIOD")]
    replay: Option<String>,
    /// How many matching titles --replay lists (newest first).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// The item's link, for site: (e.g. https://www.lemonde.fr/economie/article.html).
    #[arg(long, value_name = "URL")]
    link: Option<String>,
    /// The item's source id, for source: (with --config, its tags count for tag: too).
    #[arg(long, value_name = "ID")]
    source: Option<String>,
    /// A tag of the item's source, for tag: (repeat for several).
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// The item's author, for author: (a handle such as @user@instance, or a name).
    #[arg(long)]
    author: Option<String>,
    /// The item's language code, for lang: (e.g. fr).
    #[arg(long, value_name = "CODE")]
    lang: Option<String>,
}

pub fn run(args: &MatchArgs) -> Result<(), CliError> {
    try_query(args).map_err(CliError::like_grep)
}

fn try_query(args: &MatchArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => Some(load_config(path)?),
        None if args.watch.is_some() || args.replay.is_some() => {
            return Err(CliError::Usage(
                "--watch and --replay need --config FILE (or VEILLE_CONFIG)".to_string(),
            ));
        }
        None => None,
    };
    if args.replay.is_some()
        && (args.link.is_some()
            || args.source.is_some()
            || !args.tag.is_empty()
            || args.author.is_some()
            || args.lang.is_some())
    {
        return Err(CliError::Usage(
            "--link, --source, --tag, --author and --lang describe one text; --replay takes \
             them from each stored item"
                .to_string(),
        ));
    }
    let watch = match (&config, &args.watch) {
        (Some(config), Some(id)) => Some(
            config
                .watches
                .iter()
                .find(|w| w.id.as_str() == id)
                .ok_or_else(|| {
                    let known: Vec<&str> = config.watches.iter().map(|w| w.id.as_str()).collect();
                    CliError::Usage(format!(
                        "--watch: no watch with id {id:?} in {} (watches: {})",
                        config.path.display(),
                        known.join(", ")
                    ))
                })?,
        ),
        _ => None,
    };
    let query = match (&args.query, watch) {
        (Some(text), _) => Query::parse(text).map_err(|error| CliError::Query {
            query: text.clone(),
            error,
        })?,
        (None, Some(watch)) => watch.query.clone(),
        (None, None) => {
            return Err(CliError::Usage(
                "give a query with --query 'QUERY' (or a watch with --watch ID)".to_string(),
            ));
        }
    };
    let id = watch.map_or_else(|| WatchId::new("query"), |w| w.id.clone());
    let matcher = Matcher::new(vec![(id, query)]);
    match (&config, &args.replay) {
        (Some(config), Some(period)) => replay(args, config, watch, &matcher, period),
        _ => match_one(args, config.as_ref(), &matcher),
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    matched: bool,
    hits: &'a [TermHit],
    /// The meta operators that held (site:, tag:…).
    held: Vec<&'a str>,
    title: Option<String>,
    body: Option<String>,
}

fn match_one(args: &MatchArgs, config: Option<&Config>, matcher: &Matcher) -> Result<(), CliError> {
    let body = match args.text.as_deref() {
        Some("-") => {
            let mut body = String::new();
            std::io::stdin()
                .read_to_string(&mut body)
                .map_err(|e| CliError::io("--text -: cannot read standard input", e))?;
            body
        }
        Some(text) => text.to_string(),
        None => String::new(),
    };
    let mut tags = args.tag.clone();
    if let (Some(config), Some(id)) = (config, &args.source)
        && let Some(source) = config.source(&SourceId::new(id.as_str()))
    {
        tags.extend(source.tags.iter().cloned());
    }
    let lang = args.lang.as_deref().map(|code| {
        language::declared(code).ok_or_else(|| {
            CliError::Usage(format!(
                "--lang: {code:?} is not a language code such as fr or en"
            ))
        })
    });
    let lang = lang.transpose()?;
    let meta = ItemMeta {
        link: args.link.as_deref(),
        source: args.source.as_deref(),
        tags: &tags,
        author: args.author.as_deref(),
        lang: lang.as_deref(),
    };
    let found = matcher.match_item(
        ItemText {
            title: &args.title,
            body: &body,
        },
        &meta,
    );
    let hits: &[TermHit] = found.first().map_or(&[], |m| m.hits.as_slice());
    let snippet_of = |field: Field, text: &str| {
        let field_hits: Vec<TermHit> = hits.iter().filter(|h| h.field == field).cloned().collect();
        (!field_hits.is_empty()).then(|| snippet(text, &field_hits, SNIPPET_CHARS))
    };
    let title = snippet_of(Field::Title, &args.title);
    let body_snippet = snippet_of(Field::Body, &body);
    if args.json {
        let report = Report {
            matched: !found.is_empty(),
            hits,
            held: found
                .first()
                .map(|m| m.held.iter().map(|h| &**h).collect())
                .unwrap_or_default(),
            title: title.as_ref().map(|s| s.to_text()),
            body: body_snippet.as_ref().map(|s| s.to_text()),
        };
        let json = serde_json::to_string_pretty(&report).map_err(CliError::Json)?;
        println!("{json}");
    } else if let Some(m) = found.first() {
        println!("match: {}", m.described().join(", "));
        for hit in &m.hits {
            println!(
                "  {:<5} token {:<4} {}",
                hit.field.as_str(),
                hit.position,
                hit.term
            );
        }
        for held in &m.held {
            println!("  {:<16} {held}", "holds");
        }
        if let Some(s) = title {
            println!("title: {}", s.to_text());
        }
        if let Some(s) = body_snippet {
            println!("body:  {}", s.to_text());
        }
    } else {
        println!("no match");
    }
    if found.is_empty() {
        return Err(CliError::NoMatch);
    }
    Ok(())
}

/// One stored item the query matched.
#[derive(Debug, Serialize)]
struct Replayed {
    source: String,
    url: Option<String>,
    title: String,
    published: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    terms: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ReplayReport {
    period: String,
    items: usize,
    matched: usize,
    top: Vec<Replayed>,
}

fn replay(
    args: &MatchArgs,
    config: &Config,
    watch: Option<&WatchConfig>,
    matcher: &Matcher,
    period: &str,
) -> Result<(), CliError> {
    let since = since("--replay", period)?;
    let store = open_existing_store(config)?;
    let mut matched: Vec<Replayed> = Vec::new();
    let mut items = 0usize;
    // Each source's tags, looked up once per stored item.
    let tags: HashMap<&SourceId, &[String]> = config
        .sources
        .iter()
        .map(|s| (&s.id, s.tags.as_slice()))
        .collect();
    store.for_each_item_since(since, |_, item, first_seen| {
        if watch.is_some_and(|w| !w.sources.contains(&item.source)) {
            return Ok::<(), StoreError>(());
        }
        items += 1;
        let found: Vec<WatchMatch> = matcher.match_item(
            ItemText {
                title: &item.title,
                body: &item.text,
            },
            &ItemMeta::of(&item, tags.get(&item.source).copied().unwrap_or_default()),
        );
        if let Some(m) = found.first() {
            matched.push(Replayed {
                source: item.source.to_string(),
                url: item.url.clone(),
                terms: m.described().into_iter().map(str::to_string).collect(),
                title: item.title,
                published: item.published,
                first_seen,
            });
        }
        Ok(())
    })?;
    let count = matched.len();
    matched.sort_by_key(|r| std::cmp::Reverse(r.published.unwrap_or(r.first_seen)));
    matched.truncate(args.top);
    let what = watch.map_or_else(
        || "the query".to_string(),
        |w| format!("watch {:?}", w.id.as_str()),
    );
    if args.json {
        let report = ReplayReport {
            period: period.to_string(),
            items,
            matched: count,
            top: matched,
        };
        let json = serde_json::to_string_pretty(&report).map_err(CliError::Json)?;
        println!("{json}");
    } else {
        println!("{what} matches {count} of {items} items stored in the last {period}");
        for r in &matched {
            let when = r.published.unwrap_or(r.first_seen);
            println!(
                "  {}  {:<16} {}  [{}]",
                when.format("%Y-%m-%d"),
                r.source,
                r.title,
                r.terms.join(", ")
            );
        }
        if count > matched.len() {
            println!("  … and {} more", count - matched.len());
        }
    }
    if count == 0 {
        return Err(CliError::NoMatch);
    }
    Ok(())
}
