//! `veille stories`: the stories of a recent period, biggest first, with their outlets.
//!
//! A read-only view on the store for the admin ("is the clustering doing what I think?"):
//! one block per story with its outlet and item counts, representative title and link,
//! earliest time (in the configured time zone) and the outlets that carried it.

use std::io::{self, BufWriter, Write};

use veille::model::StoryInfo;

use super::{CliError, ConfigArg, Scope, open_scope};

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

pub fn stories(args: &StoriesArgs) -> Result<(), CliError> {
    let Scope {
        config,
        since,
        watch,
        store,
    } = open_scope(&args.config, &args.since, args.watch.as_ref())?;
    let list = store.stories_since(since, watch.as_ref())?;
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
    super::printed(written, "the list")
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
