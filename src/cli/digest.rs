//! `veille digest preview|send ID`: look at the next digest before it goes out, or send it now.
//!
//! `preview` builds the digest for the window that is open now (since the last digest of that
//! id), prints its text part and can write its HTML part to a file; it records nothing, so
//! the scheduled digest still covers the same window. `send` closes the window now, exactly
//! as the schedule would, and delivers it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veille::App;
use veille::clock::SystemClock;
use veille::config::{Config, DigestConfig};
use veille::mail::render_digest;
use veille::model::DigestId;
use veille::notify;

use super::{CliError, ConfigArg, load_config, runtime};

#[derive(Debug, clap::Subcommand)]
pub enum DigestCommand {
    /// Render the next digest (text on stdout) without sending it or closing its window.
    Preview {
        /// The digest id.
        id: String,
        #[command(flatten)]
        config: ConfigArg,
        /// Also write the HTML part to this file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Close the digest's window now and send it (whatever its schedule says).
    Send {
        /// The digest id.
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn digest(command: &DigestCommand) -> Result<(), CliError> {
    match command {
        DigestCommand::Preview { id, config, html } => {
            with_app(&config.config, id, |app, rt, digest| {
                preview(app, rt, digest, html.as_deref())
            })
        }
        DigestCommand::Send { id, config } => with_app(&config.config, id, send),
    }
}

/// Builds the app for a digest the configuration has, and gives `then` its configuration.
fn with_app(
    config_path: &Path,
    id: &str,
    then: impl FnOnce(&App, &tokio::runtime::Runtime, &DigestConfig) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let config = load_config(config_path)?;
    find_digest(&config, id)?;
    let rt = runtime()?;
    // The SMTP connection pool starts a task when it is built.
    let _inside = rt.enter();
    let app = App::new(config, Arc::new(SystemClock))?;
    then(&app, &rt, find_digest(&app.config, id)?)
}

/// The digest `id` names, when the configuration has it.
fn find_digest<'c>(config: &'c Config, id: &str) -> Result<&'c DigestConfig, CliError> {
    config.digest(&DigestId::new(id)).ok_or_else(|| {
        let known: Vec<&str> = config.digests.iter().map(|d| d.id.as_str()).collect();
        CliError::Usage(format!(
            "no digest with id {id:?} in {} (known: {})",
            config.path.display(),
            known.join(", ")
        ))
    })
}

fn preview(
    app: &App,
    rt: &tokio::runtime::Runtime,
    config: &DigestConfig,
    html: Option<&Path>,
) -> Result<(), CliError> {
    let rendered = rt.block_on(async {
        let prepared = notify::prepare_digest(app, config, app.clock.now()).await?;
        render_digest(&prepared.digest)
            .map_err(|e| veille::app::AppError::from(veille::mail::MailError::from(e)))
    })?;
    println!("Subject: {}\n", rendered.subject);
    println!("{}", rendered.text.trim_end());
    if let Some(path) = html {
        std::fs::write(path, &rendered.html)
            .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
        eprintln!(
            "HTML part ({} bytes) written to {}",
            rendered.html.len(),
            path.display()
        );
    }
    Ok(())
}

fn send(app: &App, rt: &tokio::runtime::Runtime, config: &DigestConfig) -> Result<(), CliError> {
    let id = config.id.as_str();
    let (queued, deliveries) = rt.block_on(async {
        let prepared = notify::prepare_digest(app, config, app.clock.now()).await?;
        let queued = notify::queue_digest(app, config, prepared).await?;
        let deliveries = match queued.outbox_id {
            Some(_) => notify::deliver_pending(app).await?,
            None => Vec::new(),
        };
        Ok::<_, veille::app::AppError>((queued, deliveries))
    })?;
    if queued.outbox_id.is_none() {
        println!(
            "digest {id}: nothing new since the last one; window closed, no mail (empty = \"skip\")"
        );
        return Ok(());
    }
    let mine = deliveries
        .iter()
        .find(|d| Some(d.outbox_id) == queued.outbox_id);
    match mine.map(|d| &d.result) {
        Some(Ok(receipt)) => println!(
            "digest {id}: stories: {}, mentions: {}, sent ({receipt})",
            queued.stories, queued.mentions
        ),
        Some(Err(error)) => {
            return Err(CliError::Undelivered {
                id: id.to_string(),
                error: error.clone(),
            });
        }
        None => println!("digest {id}: queued; the daemon delivers it (see `veille outbox`)"),
    }
    Ok(())
}
