//! `veille digest preview|send ID`: look at the next digest before it goes out, or send it now.
//!
//! `preview` builds the digest for the window that is open now (since the last digest of that
//! id), prints its text part and can write its HTML part to a file; it records nothing, so
//! the scheduled digest still covers the same window. `send` closes the window now, exactly
//! as the schedule would, and delivers it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veille::clock::SystemClock;
use veille::mail::render_digest;
use veille::model::DigestId;
use veille::notify;
use veille::{App, error_chain};

use super::{ConfigArg, EXIT_FAILURE, EXIT_INVALID, load_config, runtime};

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

pub fn digest(command: &DigestCommand) -> u8 {
    match command {
        DigestCommand::Preview { id, config, html } => {
            with_app(&config.config, id, |app, rt, id| {
                preview(app, rt, id, html.as_deref())
            })
        }
        DigestCommand::Send { id, config } => with_app(&config.config, id, send),
    }
}

fn with_app(
    config_path: &Path,
    id: &str,
    then: impl FnOnce(&App, &tokio::runtime::Runtime, &str) -> u8,
) -> u8 {
    let config = match load_config(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if config.digest(&DigestId::new(id)).is_none() {
        let known: Vec<&str> = config.digests.iter().map(|d| d.id.as_str()).collect();
        eprintln!(
            "error: no digest with id {id:?} in {} (known: {})",
            config_path.display(),
            known.join(", ")
        );
        return EXIT_INVALID;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // The SMTP connection pool starts a task when it is built.
    let _inside = rt.enter();
    match App::new(config, Arc::new(SystemClock)) {
        Ok(app) => then(&app, &rt, id),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            EXIT_FAILURE
        }
    }
}

fn preview(app: &App, rt: &tokio::runtime::Runtime, id: &str, html: Option<&Path>) -> u8 {
    let Some(config) = app.config.digest(&DigestId::new(id)) else {
        return EXIT_INVALID;
    };
    let rendered = rt.block_on(async {
        let prepared = notify::prepare_digest(app, config, app.clock.now()).await?;
        render_digest(&prepared.digest)
            .map_err(|e| veille::app::AppError::from(veille::mail::MailError::from(e)))
    });
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return EXIT_FAILURE;
        }
    };
    println!("Subject: {}\n", rendered.subject);
    println!("{}", rendered.text.trim_end());
    if let Some(path) = html {
        if let Err(e) = std::fs::write(path, &rendered.html) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_FAILURE;
        }
        eprintln!(
            "HTML part ({} bytes) written to {}",
            rendered.html.len(),
            path.display()
        );
    }
    0
}

fn send(app: &App, rt: &tokio::runtime::Runtime, id: &str) -> u8 {
    let Some(config) = app.config.digest(&DigestId::new(id)) else {
        return EXIT_INVALID;
    };
    let result = rt.block_on(async {
        let prepared = notify::prepare_digest(app, config, app.clock.now()).await?;
        let queued = notify::queue_digest(app, config, prepared).await?;
        let deliveries = match queued.outbox_id {
            Some(_) => notify::deliver_pending(app).await?,
            None => Vec::new(),
        };
        Ok::<_, veille::app::AppError>((queued, deliveries))
    });
    match result {
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            EXIT_FAILURE
        }
        Ok((queued, _)) if queued.outbox_id.is_none() => {
            println!(
                "digest {id}: nothing new since the last one; window closed, no mail (empty = \"skip\")"
            );
            0
        }
        Ok((queued, deliveries)) => {
            let mine = deliveries
                .iter()
                .find(|d| Some(d.outbox_id) == queued.outbox_id);
            match mine.map(|d| &d.result) {
                Some(Ok(receipt)) => {
                    println!(
                        "digest {id}: stories: {}, mentions: {}, sent ({receipt})",
                        queued.stories, queued.mentions
                    );
                    0
                }
                Some(Err(error)) => {
                    eprintln!(
                        "digest {id}: queued, but delivery failed: {error}\nIt stays in the outbox and is retried by the daemon (see `veille outbox`)."
                    );
                    EXIT_FAILURE
                }
                None => {
                    println!("digest {id}: queued; the daemon delivers it (see `veille outbox`)");
                    0
                }
            }
        }
    }
}
