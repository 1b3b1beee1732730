//! Argument parsing, logging setup and exit codes.
//!
//! Exit codes: 0 success; 1 a runtime failure (database, mail setup, I/O); 2 invalid
//! configuration or arguments (clap also uses 2 for usage errors).

mod alerts;
mod check;
mod data;
mod digest;
mod export;
mod hash_password;
mod import_opml;
mod judge;
mod logging;
mod r#match;
mod outbox;
mod reload;
mod run;
mod sources;
mod stories;
mod suggest;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use veille::config::{self, Config};
use veille::model::WatchId;
use veille::store::Store;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

/// Default configuration path when neither --config nor VEILLE_CONFIG is given.
const DEFAULT_CONFIG: &str = "/etc/veille/veille.toml";

#[derive(Debug, Parser)]
#[command(
    name = "veille",
    version,
    about = "Self-hosted media monitoring: feeds in, digests out"
)]
struct Cli {
    /// Log lines for people (text) or for log shippers (json, one object per line).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "VEILLE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The configuration file.
    #[arg(long, short = 'c', env = "VEILLE_CONFIG", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Poll sources, store mentions and send digests (as a daemon, or once with --once).
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Poll every source once, send the digests that are due, deliver pending mail, exit.
        #[arg(long)]
        once: bool,
    },
    /// Validate the configuration file and print a summary.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write stored mentions as JSON or CSV.
    Export(export::ExportArgs),
    /// Preview the next digest, or send it now.
    #[command(subcommand)]
    Digest(digest::DigestCommand),
    /// List pending and failed mail; put a mail back in line with `retry ID`.
    Outbox(outbox::OutboxArgs),
    /// Write a consistent copy of the database (safe while the daemon runs).
    Backup {
        /// The new file (never overwritten).
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Full-text search over stored items, newest first.
    Search(data::SearchArgs),
    /// Print `[[source]]` blocks for the feeds of an OPML file (to paste into the TOML).
    ImportOpml {
        /// The OPML file (as exported by feed readers).
        file: PathBuf,
    },
    /// Check the configuration, then tell the running daemon to reload it (SIGHUP).
    Reload {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List every source with its health: ok, failing, gone or redirected.
    Sources {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List recent stories (copies of one news item grouped) with their outlets.
    Stories(stories::StoriesArgs),
    /// Show each alert rule's state: last mail, stories waiting, and each watch's volume
    /// against its usual one.
    Alerts {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Try a query on a text (exit 0 match, 1 no match, 2 invalid), or replay a watch over
    /// stored items with --replay 30d.
    Match(r#match::MatchArgs),
    /// List recent mentions with their id, score and verdict (--unjudged: still to judge).
    Mentions(judge::MentionsArgs),
    /// Judge a mention (and its story): relevant, irrelevant or crisis (mails the crisis
    /// alert rule at once).
    Judge(judge::JudgeArgs),
    /// Propose exclusion terms and noisy sources for a watch, from its judgments (prints
    /// hints; never edits the configuration).
    Suggest(suggest::SuggestArgs),
    /// Read a password on standard input and print its hash for `web.password_hash`.
    HashPassword,
}

pub fn main() -> ExitCode {
    // Every file veille makes is private to its user, whatever umask it was started with
    // (022 gives world-readable files): the database and its -wal and -shm (which SQLite
    // creates with the database's mode), the pid file, .eml mail, backups, exports, the link
    // key. The store and the key creation set 0600 themselves too; this covers the rest.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // A parser process of the daemon (see veille::isolation): no arguments, no logging,
    // documents in on standard input, items out on standard output.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(veille::isolation::WORKER_ARG))
    {
        return match veille::isolation::serve_worker() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("veille parser: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    let cli = Cli::parse();
    let default_level = match &cli.command {
        Command::Run { once: false, .. } => "info",
        _ => "warn",
    };
    logging::init(default_level, cli.log_format);
    let code = match cli.command {
        Command::Run { config, once } => run::run(&config.config, once),
        Command::Check { config } => check::check(&config.config),
        Command::Export(args) => export::export(&args),
        Command::Digest(command) => digest::digest(&command),
        Command::Outbox(args) => outbox::outbox(&args),
        Command::Reload { config } => reload::reload(&config),
        Command::ImportOpml { file } => import_opml::import_opml(&file),
        Command::Backup { file, config } => data::backup(&config, &file),
        Command::Search(args) => data::search(&args),
        Command::Sources { config } => sources::sources(&config.config),
        Command::Stories(args) => stories::stories(&args),
        Command::Alerts { config } => alerts::alerts(&config),
        Command::Match(args) => r#match::run(&args),
        Command::Mentions(args) => judge::mentions(&args),
        Command::Judge(args) => judge::judge(&args),
        Command::Suggest(args) => suggest::run(&args),
        Command::HashPassword => hash_password::hash_password(),
    };
    ExitCode::from(code)
}

/// Loads the configuration, printing every error (and exit code 2) when it is invalid.
fn load_config(path: &std::path::Path) -> Result<Config, u8> {
    load_config_with(path, config::Writes::Allowed)
}

/// [`load_config`], saying whether loading may create the files the configuration asks for.
fn load_config_with(path: &std::path::Path, writes: config::Writes) -> Result<Config, u8> {
    match config::load_file(path, writes) {
        Ok(config) => Ok(config),
        Err(errors) => {
            for error in errors.iter() {
                eprintln!("error: {error}");
            }
            eprintln!(
                "{}: {} error(s); nothing was run",
                path.display(),
                errors.len()
            );
            Err(EXIT_INVALID)
        }
    }
}

/// What `export` and `stories` read: the configuration, a period back from now, an
/// optional watch, and the existing database.
struct Scope {
    config: Config,
    since: chrono::DateTime<chrono::Utc>,
    watch: Option<WatchId>,
    store: Store,
}

/// Loads and checks everything a [`Scope`] needs, printing the first problem.
fn open_scope(config: &ConfigArg, period: &str, watch: Option<&String>) -> Result<Scope, u8> {
    let config = load_config(&config.config)?;
    let since = since("--since", period)?;
    let watch = watch_arg(&config, watch)?;
    let store = open_existing_store(&config, EXIT_FAILURE)?;
    Ok(Scope {
        config,
        since,
        watch,
        store,
    })
}

/// The instant `period` (`--since 24h`, `--replay 30d`) before now.
fn since(flag: &str, period: &str) -> Result<chrono::DateTime<chrono::Utc>, u8> {
    match config::parse_duration(period) {
        Ok(period) => Ok(chrono::Utc::now()
            - chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX)),
        Err(message) => {
            eprintln!("error: {flag}: {message}");
            Err(EXIT_INVALID)
        }
    }
}

/// The watch `--watch` names, when the configuration has it.
fn watch_arg(config: &Config, watch: Option<&String>) -> Result<Option<WatchId>, u8> {
    let Some(watch) = watch.map(WatchId::new) else {
        return Ok(None);
    };
    if config.watches.iter().any(|w| w.id == watch) {
        return Ok(Some(watch));
    }
    eprintln!(
        "error: --watch: no watch with id {:?} in {}",
        watch.as_str(),
        config.path.display()
    );
    Err(EXIT_INVALID)
}

/// Opens the database the configuration names, which must exist already (commands that
/// read it never create an empty one by mistake). `code` is the exit code on failure.
fn open_existing_store(config: &Config, code: u8) -> Result<Store, u8> {
    require_database(config, code)?;
    Store::open(&config.daemon.database).map_err(|e| {
        eprintln!("error: {e}");
        code
    })
}

/// The exit code of a command that printed `what` to standard output. A closed pipe
/// (`veille stories | head`) is not an error worth a message.
fn printed(result: std::io::Result<()>, what: &str) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write {what}: {e}");
            EXIT_FAILURE
        }
    }
}

/// Fails with `code` and a message when the configured database does not exist yet.
fn require_database(config: &Config, code: u8) -> Result<(), u8> {
    if config.daemon.database.exists() {
        return Ok(());
    }
    eprintln!(
        "error: no database at {}: run `veille run --config {}` first",
        config.daemon.database.display(),
        config.path.display()
    );
    Err(code)
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            EXIT_FAILURE
        })
}
