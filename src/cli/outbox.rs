//! `veille outbox [--all]` and `veille outbox retry ID`: what mail is waiting or failed, and
//! why, in the admin's words; and a way to put a failed mail back in line once the cause is
//! fixed (the daemon picks it up at its next look at the outbox).

use std::fmt::Write as _;

use chrono::Utc;
use veille::store::OutboxEntry;

use super::{CliError, ConfigArg, load_config, open_existing_store};

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: Option<OutboxCommand>,
    #[command(flatten)]
    config: ConfigArg,
    /// Also list mails already sent.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, clap::Subcommand)]
enum OutboxCommand {
    /// Put a pending or failed mail back in line for delivery now.
    Retry {
        /// The outbox id (first column of `veille outbox`).
        id: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn outbox(args: &OutboxArgs) -> Result<(), CliError> {
    let config_path = match &args.command {
        Some(OutboxCommand::Retry { config, .. }) => &config.config,
        None => &args.config.config,
    };
    let config = load_config(config_path)?;
    let store = open_existing_store(&config)?;
    match &args.command {
        Some(OutboxCommand::Retry { id, .. }) => {
            if !store.retry_mail(*id, Utc::now())? {
                return Err(CliError::NoMail(*id));
            }
            println!("mail {id} is pending again; the daemon delivers it at its next pass");
        }
        None => print!("{}", format_entries(&store.outbox_entries(args.all)?)),
    }
    Ok(())
}

fn format_entries(entries: &[OutboxEntry]) -> String {
    if entries.is_empty() {
        return "outbox: nothing pending or failed\n".to_string();
    }
    let mut out = String::new();
    for e in entries {
        let when = match (e.status.as_str(), e.sent_at, e.next_attempt_at) {
            ("sent", Some(at), _) => format!("sent {}", at.format("%Y-%m-%d %H:%M UTC")),
            ("pending", _, Some(at)) => {
                format!("next try {}", at.format("%Y-%m-%d %H:%M UTC"))
            }
            ("pending", _, None) => "next try now".to_string(),
            _ => format!("queued {}", e.created_at.format("%Y-%m-%d %H:%M UTC")),
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<7}  {} attempt(s)  {when}  {}  → {}",
            e.id,
            e.status,
            e.attempts,
            e.subject,
            e.recipients.join(", ")
        );
        if let Some(error) = &e.last_error
            && e.status != "sent"
        {
            let _ = writeln!(out, "       last error: {error}");
        }
    }
    out
}
