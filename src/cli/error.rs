//! `CliError`: every way a command ends other than success, what standard error says about
//! it, and the exit code.
//!
//! Commands return `Result<(), CliError>` after printing their normal output; `cli::main`
//! prints the error's [`report`](CliError::report) once and exits with its
//! [`exit_code`](CliError::exit_code). A command never prints its own error and never picks
//! a number, so the codes below are the whole story:
//!
//! | code | variants | meaning |
//! |---|---|---|
//! | 0 | (none: `Ok`) | success |
//! | 1 | `NoDatabase`, `Store`, `App`, `Io`, `Export`, `NoMail`, `Undelivered`, `CrisisUnsent`, the pid file and signal variants, `ShortPassword`, `Hash`, `Json`, `Worker` | the command could not do its work (database, mail setup or delivery, files, the daemon's pid) |
//! | 1 | `NoMatch` | `veille match` found nothing (grep's "no"; stdout already says so, stderr stays empty) |
//! | 2 | `Config` | the configuration is invalid or unreadable: every error at file:line:column, then a count |
//! | 2 | `Usage`, `Query`, `NoMention`, `NoFeeds`, `Opml` | an argument or an input file is wrong: fix it and run again |
//! | 2 | `Grep` | any failure of `veille match` but "no match": grep keeps 1 for that answer alone |
//!
//! clap also exits 2 on arguments it cannot parse, after printing its usage; it does so
//! before any command runs.
//!
//! The message text lives in each variant's `#[error]`; the `error: ` prefix is added in one
//! place, [`CliError::report`]. Three variants are printed without it, as they always were,
//! because they are findings rather than mistakes of the caller's: an OPML file without
//! feeds, a digest queued but not delivered, and the parser process's failure (its stderr
//! is read by the daemon, which prefixes its own words).

use std::path::PathBuf;

use veille::app::AppError;
use veille::config::ConfigErrors;
use veille::config::opml::OpmlError;
use veille::matching::QueryError;
use veille::store::StoreError;

use super::export::ExportError;
use super::hash_password::MIN_PASSWORD_CHARS;

const EXIT_FAILURE: u8 = 1;
const EXIT_INVALID: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    // Exit 2: what the caller gave is wrong.
    /// The configuration file is invalid or cannot be read.
    #[error("{}: {} error(s); nothing was run", path.display(), errors.len())]
    Config { path: PathBuf, errors: ConfigErrors },
    /// A flag's value, an id the configuration lacks, a missing flag.
    #[error("{0}")]
    Usage(String),
    /// A query given with `--query` that does not parse; a caret points at the column.
    #[error(
        "invalid query: column {column}: {message}\n  {query}\n  {pad}^",
        column = error.column,
        message = error.message,
        pad = " ".repeat(error.column.saturating_sub(1))
    )]
    Query { query: String, error: QueryError },
    /// `veille judge` on a mention that is not (or no longer) stored.
    #[error("no mention {0} (see `veille mentions`; old mentions are purged with their items)")]
    NoMention(i64),
    /// `veille import-opml` on a file without a single feed.
    #[error("{}: no feed (no outline with an xmlUrl)", .0.display())]
    NoFeeds(PathBuf),
    /// `veille import-opml` on a file that is not OPML.
    #[error("{}: {error}", path.display())]
    Opml { path: PathBuf, error: OpmlError },

    // Exit 1: the command could not do its work.
    /// A command that reads the database, before any `veille run` created it.
    #[error(
        "no database at {}: run `veille run --config {}` first",
        database.display(),
        config.display()
    )]
    NoDatabase { database: PathBuf, config: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building the running state or running it (database, mail setup, fetching).
    #[error("{}", veille::error_chain(.0))]
    App(#[from] AppError),
    /// A file, standard input or output, the listener's socket; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Export(#[from] ExportError),
    /// `veille outbox retry ID` with an id that is not pending or failed.
    #[error("no pending or failed mail with id {0} (see `veille outbox`)")]
    NoMail(i64),
    /// `veille digest send`: the digest is in the outbox, but the server refused it.
    #[error(
        "digest {id}: queued, but delivery failed: {error}\nIt stays in the outbox and is retried by the daemon (see `veille outbox`)."
    )]
    Undelivered { id: String, error: String },
    /// `veille judge ... crisis`: the verdict is stored, the crisis mail could not be sent.
    #[error(
        "the verdict is stored and the crisis mail queued, but sending failed: {}",
        veille::error_chain(.0)
    )]
    CrisisUnsent(AppError),
    /// `veille reload`: the pid file cannot be read.
    #[error(
        "cannot read {}: {source}\nIs the daemon running with this configuration?",
        path.display()
    )]
    NoPidFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `veille reload`: the pid file holds something else than a process id.
    #[error("{} does not hold a process id", .0.display())]
    BadPidFile(PathBuf),
    /// `veille reload`: a stale pid file names a process that is not veille.
    #[error(
        "process {pid} (from {}) is {name:?}, not veille: the daemon is not running",
        path.display()
    )]
    NotVeille {
        pid: i32,
        path: PathBuf,
        name: String,
    },
    /// `veille reload`: SIGHUP could not be sent.
    #[error("cannot signal process {pid}: {source}")]
    Signal { pid: i32, source: nix::Error },
    #[error(
        "the password must be at least {MIN_PASSWORD_CHARS} characters (give it as one line on standard input)"
    )]
    ShortPassword,
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("cannot write JSON: {0}")]
    Json(serde_json::Error),
    /// A parser process of the daemon (`veille::isolation`) failed.
    #[error("veille parser: {0}")]
    Worker(std::io::Error),
    /// `veille match` found nothing: not a failure, grep's "no". Standard output said so.
    #[error("no match")]
    NoMatch,
    /// A failure of `veille match`, which exits 2 for any of them (grep's convention).
    #[error(transparent)]
    Grep(Box<CliError>),
}

impl CliError {
    /// The exit code: the one place that decides it (see the table in the module doc).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config { .. }
            | CliError::Usage(_)
            | CliError::Query { .. }
            | CliError::NoMention(_)
            | CliError::NoFeeds(_)
            | CliError::Opml { .. }
            | CliError::Grep(_) => EXIT_INVALID,
            CliError::NoDatabase { .. }
            | CliError::Store(_)
            | CliError::App(_)
            | CliError::Io { .. }
            | CliError::Export(_)
            | CliError::NoMail(_)
            | CliError::Undelivered { .. }
            | CliError::CrisisUnsent(_)
            | CliError::NoPidFile { .. }
            | CliError::BadPidFile(_)
            | CliError::NotVeille { .. }
            | CliError::Signal { .. }
            | CliError::ShortPassword
            | CliError::Hash(_)
            | CliError::Json(_)
            | CliError::Worker(_)
            | CliError::NoMatch => EXIT_FAILURE,
        }
    }

    /// What standard error shows, line breaks included (empty for [`CliError::NoMatch`]).
    pub fn report(&self) -> String {
        match self {
            CliError::NoMatch => String::new(),
            CliError::Config { errors, .. } => {
                let mut out: String = errors.iter().map(|e| format!("error: {e}\n")).collect();
                out.push_str(&format!("{self}\n"));
                out
            }
            CliError::Grep(inner) => inner.report(),
            CliError::NoFeeds(_) | CliError::Undelivered { .. } | CliError::Worker(_) => {
                format!("{self}\n")
            }
            _ => format!("error: {self}\n"),
        }
    }

    /// `veille match`'s errors: every one exits 2 but "no match", which keeps 1.
    pub fn like_grep(self) -> CliError {
        match self {
            CliError::NoMatch | CliError::Grep(_) => self,
            other => CliError::Grep(Box::new(other)),
        }
    }

    /// An I/O failure, with what veille was doing (`cannot read /etc/veille/x.opml`).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::Io {
            context: context.into(),
            source,
        }
    }
}
