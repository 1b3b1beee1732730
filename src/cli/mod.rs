//! Argument parsing, logging setup, and the one place that prints errors and picks the
//! exit code.
//!
//! Each command (one module each) prints its normal output and returns
//! `Result<(), CliError>`; [`main`] prints the error once on standard error and exits with
//! [`CliError::exit_code`] (`error.rs` has the table by variant). Exit codes:
//!
//! - 0: success.
//! - 1: the command could not do its work: the database (missing or failing), mail setup
//!   or delivery, a file or standard input or output, the daemon's pid file or signal;
//!   also `outbox retry` on an id that is neither pending nor failed, and `hash-password`
//!   on a password too short. For `veille match`: no match (grep's convention).
//! - 2: an invalid configuration (every error at file:line:column) or argument (a period,
//!   an unknown watch or digest, a verdict word, a query); `judge` on a mention that is not
//!   stored; `import-opml` on a file that is not OPML or has no feed; for `veille match`,
//!   every failure but "no match". clap also uses 2 for usage errors.

mod alerts;
mod check;
mod data;
mod digest;
mod error;
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

use veille::config::{self, Config, WatchConfig};
use veille::model::WatchId;
use veille::store::Store;

use error::CliError;

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
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell
    /// (e.g. `veille completions bash > /etc/bash_completion.d/veille`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

pub fn main() -> ExitCode {
    // Every file veille makes is private to its user, whatever umask it was started with
    // (022 gives world-readable files): the database and its -wal and -shm (which SQLite
    // creates with the database's mode), the pid file, .eml mail, backups, exports, the link
    // key. The store and the key creation set 0600 themselves too; this covers the rest.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // A parser process of the daemon (see veille::isolation): no arguments, no logging,
    // documents in on standard input, items out on standard output.
    let result = if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(veille::isolation::WORKER_ARG))
    {
        veille::isolation::serve_worker().map_err(CliError::Worker)
    } else {
        run(Cli::parse())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprint!("{}", error.report());
            ExitCode::from(error.exit_code())
        }
    }
}

/// Sets up logging and runs the command.
fn run(cli: Cli) -> Result<(), CliError> {
    let default_level = match &cli.command {
        Command::Run { once: false, .. } => "info",
        _ => "warn",
    };
    logging::init(default_level, cli.log_format);
    match cli.command {
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
        Command::Completions { shell } => completions(shell),
    }
}

/// Loads the configuration; every error it has is in the [`CliError::Config`].
fn load_config(path: &std::path::Path) -> Result<Config, CliError> {
    load_config_with(path, config::Writes::Allowed)
}

/// [`load_config`], saying whether loading may create the files the configuration asks for.
fn load_config_with(path: &std::path::Path, writes: config::Writes) -> Result<Config, CliError> {
    config::load_file(path, writes).map_err(|errors| CliError::Config {
        path: path.to_path_buf(),
        errors,
    })
}

/// What `export`, `stories` and `mentions` read: the configuration, a period back from
/// now, an optional watch, and the existing database.
struct Scope {
    config: Config,
    since: chrono::DateTime<chrono::Utc>,
    watch: Option<WatchId>,
    store: Store,
}

/// Loads and checks everything a [`Scope`] needs, stopping at the first problem.
fn open_scope(config: &ConfigArg, period: &str, watch: Option<&String>) -> Result<Scope, CliError> {
    let config = load_config(&config.config)?;
    let since = since("--since", period)?;
    let watch = match watch {
        Some(id) => Some(find_watch(&config, id)?.id.clone()),
        None => None,
    };
    let store = open_existing_store(&config)?;
    Ok(Scope {
        config,
        since,
        watch,
        store,
    })
}

/// The instant `period` (`--since 24h`, `--replay 30d`) before now.
fn since(flag: &str, period: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    let period = config::parse_duration(period)
        .map_err(|message| CliError::Usage(format!("{flag}: {message}")))?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX))
}

/// The watch `--watch` names, when the configuration has it.
fn find_watch<'c>(config: &'c Config, id: &str) -> Result<&'c WatchConfig, CliError> {
    config
        .watches
        .iter()
        .find(|w| w.id.as_str() == id)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--watch: no watch with id {id:?} in {}",
                config.path.display()
            ))
        })
}

/// Opens the database the configuration names, which must exist already (commands that
/// read it never create an empty one by mistake).
fn open_existing_store(config: &Config) -> Result<Store, CliError> {
    require_database(config)?;
    Ok(Store::open(&config.daemon.database)?)
}

/// A command's output written to standard output. A closed pipe (`veille stories | head`)
/// is not an error worth a message.
fn printed(result: std::io::Result<()>, what: &str) -> Result<(), CliError> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::io(format!("cannot write {what}"), e))
        }
        _ => Ok(()),
    }
}

/// Fails when the configured database does not exist yet.
fn require_database(config: &Config) -> Result<(), CliError> {
    if config.daemon.database.exists() {
        return Ok(());
    }
    Err(CliError::NoDatabase {
        database: config.daemon.database.clone(),
        config: config.path.clone(),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", e))
}

/// Prints the completion script of `shell`, generated from the same definitions that parse
/// the command line, so it cannot drift from them.
fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    use clap::CommandFactory as _;
    use std::io::Write as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "veille", &mut script);
    std::io::stdout()
        .write_all(&script)
        .map_err(|e| CliError::io("cannot write the completion script", e))
}
