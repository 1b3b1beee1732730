//! `veille mentions` and `veille judge`: the review queue from a terminal.
//!
//! `mentions` lists what was found (newest first) with the id each line is judged by, its
//! score, and its current verdict; `--unjudged` keeps the stories nobody judged yet. `judge`
//! records a verdict through the same path as the web pages (`veille::feedback::record`): the
//! story's copies of the same watch are judged together, and a crisis verdict is mailed to
//! the crisis alert rule at once. The daemon's sender lives in another process, so `judge`
//! delivers that mail itself before it exits.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use veille::App;
use veille::alert::Escalation;
use veille::clock::SystemClock;
use veille::feedback::Given;
use veille::model::MentionId;
use veille::model::MentionRecord;
use veille::model::Verdict;
use veille::store::MentionFilter;

use super::{CliError, ConfigArg, Scope, load_config, open_scope, runtime};

/// Lines `veille mentions` prints at most unless told otherwise.
const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, clap::Args)]
pub struct MentionsArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Mentions found in this last period (e.g. 24h, 7d).
    #[arg(long, default_value = "24h")]
    since: String,
    /// Only mentions of this watch.
    #[arg(long)]
    watch: Option<String>,
    /// Only mentions of stories nobody judged yet.
    #[arg(long)]
    unjudged: bool,
    /// Print at most this many mentions.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The mention's id (`veille mentions`, "ID n" / "réf. n" in mail).
    id: i64,
    /// relevant, irrelevant or crisis.
    verdict: String,
    /// A note kept with the verdict (and shown in a crisis mail).
    #[arg(long)]
    note: Option<String>,
    /// Who judges (default: the system user).
    #[arg(long, env = "USER", default_value = "cli")]
    who: String,
}

pub fn mentions(args: &MentionsArgs) -> Result<(), CliError> {
    let Scope {
        config,
        since,
        watch,
        store,
    } = open_scope(&args.config, &args.since, args.watch.as_ref())?;
    let list = store.list_mentions(&MentionFilter {
        watch: watch.as_ref(),
        since: Some(since),
        unjudged: args.unjudged,
        limit: args.limit,
    })?;
    let mut out = BufWriter::new(io::stdout().lock());
    let written = list
        .iter()
        .try_for_each(|m| write_mention(&mut out, m, config.daemon.timezone))
        .and_then(|()| {
            let what = if args.unjudged { "unjudged " } else { "" };
            writeln!(
                out,
                "{} {what}mention{} since {}{}",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                args.since,
                if list.len() == args.limit.max(1) {
                    " (limit reached: --limit N for more)"
                } else {
                    ""
                }
            )
        })
        .and_then(|()| out.flush());
    super::printed(written, "the list")
}

/// `  1234  0.53  relevant   2026-11-27 09:12 CET  watch  source  title`, then the link.
fn write_mention(out: &mut impl Write, m: &MentionRecord, tz: chrono_tz::Tz) -> io::Result<()> {
    let score = m
        .score
        .map_or_else(|| "  -  ".to_string(), |s| format!("{s:.2}"));
    let verdict = m.verdict.map_or("-", Verdict::as_str);
    writeln!(
        out,
        "{:>7}  {score}  {verdict:<10}  {}  {}  {}  {}",
        m.id.0,
        m.found_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        m.watch,
        m.source,
        veille::digest::display_title(&m.title, &m.text)
    )?;
    if let Some(url) = &m.url {
        writeln!(out, "         {url}")?;
    }
    Ok(())
}

pub fn judge(args: &JudgeArgs) -> Result<(), CliError> {
    let verdict: Verdict = args.verdict.parse().map_err(CliError::Usage)?;
    let config = load_config(&args.config.config)?;
    // App::new would create an empty database: a verdict needs the one mentions are in.
    super::require_database(&config)?;
    let rt = runtime()?;
    let _inside = rt.enter();
    let app = App::new(config, Arc::new(SystemClock))?;
    let given = Given {
        mention: MentionId(args.id),
        verdict,
        note: args.note.clone(),
        who: args.who.clone(),
        via: "cli",
    };
    let recorded = rt
        .block_on(veille::feedback::record(&app, given))?
        .ok_or(CliError::NoMention(args.id))?;
    let others = recorded.judged.mentions.len() - 1;
    let mut line = format!("mention {} judged {verdict}", args.id);
    if others > 0 {
        line.push_str(&format!(
            " (and {others} other cop{} of its story)",
            if others == 1 { "y" } else { "ies" }
        ));
    }
    if let Some(previous) = recorded.judged.previous.filter(|p| *p != verdict) {
        line.push_str(&format!("; it was {previous}"));
    }
    println!("{line}");
    let escalated = recorded.escalated().to_vec();
    if escalated.is_empty() {
        match recorded.escalation {
            Some(Escalation::NoRule) => println!(
                "no [[alert]] rule reads watch {:?}: nobody was mailed",
                recorded.judged.watch.as_str()
            ),
            Some(Escalation::AlreadyEscalated | Escalation::Mailed(_)) => {
                println!("this story was escalated as a crisis before: nobody is mailed again")
            }
            None => {}
        }
        return Ok(());
    }
    let deliveries = rt
        .block_on(veille::notify::deliver_pending(&app))
        .map_err(CliError::CrisisUnsent)?;
    let sent = deliveries
        .iter()
        .filter(|d| escalated.contains(&d.outbox_id) && d.result.is_ok())
        .count();
    println!(
        "crisis mail: {sent} of {} sent now{}",
        escalated.len(),
        if sent < escalated.len() {
            " (the rest stays in the outbox: `veille outbox`)"
        } else {
            ""
        }
    );
    Ok(())
}
