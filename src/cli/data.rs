//! `veille backup FILE` and `veille search WORDS`: the database, kept and searched.

use std::path::Path;

use veille::config::Config;
use veille::store::Store;

use super::{CliError, ConfigArg, load_config, open_existing_store};

/// The configuration and the database it names, which must exist.
fn open_store(config: &ConfigArg) -> Result<(Config, Store), CliError> {
    let config = load_config(&config.config)?;
    let store = open_existing_store(&config)?;
    Ok((config, store))
}

/// A consistent copy of the database, taken while the daemon runs.
pub fn backup(config: &ConfigArg, target: &Path) -> Result<(), CliError> {
    let (_, store) = open_store(config)?;
    store.backup_to(target)?;
    let size = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    println!("backup written to {} ({size} bytes)", target.display());
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words that must all appear (accents and case ignored; `word*` for a prefix).
    #[arg(required = true)]
    words: Vec<String>,
    #[command(flatten)]
    config: ConfigArg,
    /// At most this many results.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// Full-text search over stored items, newest first.
pub fn search(args: &SearchArgs) -> Result<(), CliError> {
    let (config, store) = open_store(&args.config)?;
    let hits = store.search(&args.words.join(" "), args.limit)?;
    if hits.is_empty() {
        println!("no stored item holds {:?}", args.words.join(" "));
    }
    for hit in hits {
        let when = hit
            .published
            .unwrap_or(hit.first_seen)
            .with_timezone(&config.daemon.timezone);
        println!(
            "{}  {:<16} {}\n{:>18}{}",
            when.format("%Y-%m-%d %H:%M"),
            hit.source.as_str(),
            hit.title,
            "",
            hit.url.unwrap_or_default()
        );
    }
    Ok(())
}
