//! `veille stories`: the stories of a recent period, biggest first, with their outlets.
//!
//! A read-only view on the store for the admin ("is the clustering doing what I think?"):
//! one block per story with its outlet and item counts, representative title and link,
//! earliest time (in the configured time zone) and the outlets that carried it.

use std::io::{self, BufWriter, Write};

use chrono::Utc;
use veille::config::parse_duration;
use veille::model::WatchId;
use veille::store::{Store, StoryInfo};

use super::{ConfigArg, EXIT_FAILURE, EXIT_INVALID, load_config};

#[derive(Debug, clap::Args)]
pub struct StoriesArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Stories that gained an item in this last period (e.g. 24h, 7d).
    #[arg(long, default_value = "24h")]
    since: String,
    /// Only stories with a mention of this watch.
    #[arg(long)]
    watch: Option<String>,
}

pub fn stories(args: &StoriesArgs) -> u8 {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let since = match parse_duration(&args.since) {
        Ok(period) => {
            Utc::now() - chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX)
        }
        Err(message) => {
            eprintln!("error: --since: {message}");
            return EXIT_INVALID;
        }
    };
    let watch = args.watch.as_ref().map(WatchId::new);
    if let Some(watch) = &watch
        && !config.watches.iter().any(|w| &w.id == watch)
    {
        eprintln!(
            "error: --watch: no watch with id {:?} in {}",
            watch.as_str(),
            config.path.display()
        );
        return EXIT_INVALID;
    }
    if !config.daemon.database.exists() {
        eprintln!(
            "error: no database at {}: run `veille run --config {}` first",
            config.daemon.database.display(),
            config.path.display()
        );
        return EXIT_FAILURE;
    }
    let list = match Store::open(&config.daemon.database)
        .and_then(|store| store.stories_since(since, watch.as_ref()))
    {
        Ok(list) => list,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILURE;
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let written = list
        .iter()
        .try_for_each(|story| write_story(&mut out, story, config.daemon.timezone))
        .and_then(|()| {
            writeln!(
                out,
                "{} stor{} since {}",
                list.len(),
                if list.len() == 1 { "y" } else { "ies" },
                args.since
            )
        })
        .and_then(|()| out.flush());
    match written {
        Ok(()) => 0,
        // A closed pipe (`veille stories | head`) is not an error worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write the list: {e}");
            EXIT_FAILURE
        }
    }
}

fn write_story(out: &mut impl Write, story: &StoryInfo, tz: chrono_tz::Tz) -> io::Result<()> {
    let outlets = story.outlets.len();
    writeln!(
        out,
        "story {}  {} outlet{}  {} item{}  {}  {}",
        story.id.0,
        outlets,
        if outlets == 1 { "" } else { "s" },
        story.items,
        if story.items == 1 { "" } else { "s" },
        story
            .earliest
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z"),
        story.title
    )?;
    if let Some(url) = &story.url {
        writeln!(out, "    {url}")?;
    }
    writeln!(out, "    in: {}", story.outlets.join(", "))
}
