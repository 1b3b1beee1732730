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
        "invalid query: column {column}: {message}\n{caret}",
        column = error.column,
        message = error.message,
        caret = underline(query, error.column).trim_end()
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
                let mut out = String::new();
                for error in errors.iter() {
                    out.push_str(&format!("error: {error}\n"));
                    // Queries are shown with a caret under the column, as `veille match`
                    // shows them; other lines are not repeated (they may hold secrets).
                    if error.key.ends_with(".query")
                        && let Some(caret) = caret_under(&error.file, error.line, error.column)
                    {
                        out.push_str(&caret);
                    }
                }
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

/// Line `line` of `file` with a caret under its character `column` ([`underline`]); `None`
/// when the file cannot be read again or the line is too long to show usefully.
fn caret_under(file: &std::path::Path, line: usize, column: usize) -> Option<String> {
    const MAX_SHOWN: usize = 400;
    let text = std::fs::read_to_string(file).ok()?;
    let shown = text.lines().nth(line.checked_sub(1)?)?;
    (shown.chars().count() <= MAX_SHOWN && column > 0).then(|| underline(shown, column))
}

/// `shown`, indented, and a caret under its character `column` (1-based); tabs stay tabs
/// under the line, so the caret lines up whatever the tab width.
fn underline(shown: &str, column: usize) -> String {
    let pad: String = shown
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("  {shown}\n  {pad}^\n")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use veille::config::{self, Writes};
    use veille::matching::Query;

    use super::*;

    fn config_errors() -> ConfigErrors {
        match config::load_file(Path::new("/nonexistent/veille.toml"), Writes::Forbidden) {
            Ok(_) => panic!("a missing file loaded"),
            Err(errors) => errors,
        }
    }

    fn query_error(query: &str) -> CliError {
        match Query::parse(query) {
            Ok(_) => panic!("{query:?} parsed"),
            Err(error) => CliError::Query {
                query: query.to_string(),
                error,
            },
        }
    }

    fn no_database() -> CliError {
        CliError::NoDatabase {
            database: PathBuf::from("/var/lib/veille/veille.db"),
            config: PathBuf::from("/etc/veille/veille.toml"),
        }
    }

    #[test]
    fn each_error_has_its_code_and_its_words_on_stderr() {
        let config = config_errors();
        let first = config
            .iter()
            .next()
            .map(ToString::to_string)
            .unwrap_or_default();
        let cases: Vec<(CliError, u8, String)> = vec![
            (
                CliError::Config {
                    path: PathBuf::from("/nonexistent/veille.toml"),
                    errors: config,
                },
                2,
                format!(
                    "error: {first}\n/nonexistent/veille.toml: 1 error(s); nothing was run\n"
                ),
            ),
            (
                CliError::Usage("--since: bad".to_string()),
                2,
                "error: --since: bad\n".to_string(),
            ),
            (
                query_error("acme NEAR/ corp"),
                2,
                "error: invalid query: column 11: ".to_string(),
            ),
            (
                CliError::NoMention(7),
                2,
                "error: no mention 7 (see `veille mentions`".to_string(),
            ),
            (
                CliError::NoFeeds(PathBuf::from("feeds.opml")),
                2,
                "feeds.opml: no feed (no outline with an xmlUrl)\n".to_string(),
            ),
            (
                no_database(),
                1,
                "error: no database at /var/lib/veille/veille.db: run `veille run --config /etc/veille/veille.toml` first\n"
                    .to_string(),
            ),
            (
                CliError::io("cannot read x.opml", std::io::ErrorKind::NotFound.into()),
                1,
                "error: cannot read x.opml: entity not found\n".to_string(),
            ),
            (
                CliError::NoMail(3),
                1,
                "error: no pending or failed mail with id 3 (see `veille outbox`)\n".to_string(),
            ),
            (
                CliError::Undelivered {
                    id: "daily".to_string(),
                    error: "550 no such user".to_string(),
                },
                1,
                "digest daily: queued, but delivery failed: 550 no such user\nIt stays".to_string(),
            ),
            (
                CliError::ShortPassword,
                1,
                "error: the password must be at least 8 characters (give it as one line on standard input)\n"
                    .to_string(),
            ),
            (
                CliError::Worker(std::io::ErrorKind::BrokenPipe.into()),
                1,
                "veille parser: broken pipe\n".to_string(),
            ),
            (CliError::NoMatch, 1, String::new()),
        ];
        for (error, code, report) in cases {
            assert_eq!(error.exit_code(), code, "{error:?}");
            assert!(
                error.report().starts_with(&report),
                "{error:?}: {:?}",
                error.report()
            );
        }
    }

    #[test]
    fn an_invalid_query_is_shown_with_a_caret_under_its_column() {
        let report = query_error("acme NEAR/ corp").report();
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.get(1), Some(&"  acme NEAR/ corp"), "{report}");
        assert_eq!(lines.get(2), Some(&"            ^"), "{report}");
        assert!(report.ends_with("^\n"), "{report:?}");
    }

    /// `veille match` exits 2 on any trouble, with the same words, and keeps 1 for "no".
    #[test]
    fn match_errors_exit_2_but_no_match_keeps_1() {
        let cases = [
            (no_database(), 2),
            (CliError::Usage("--replay: bad".to_string()), 2),
            (
                CliError::Json(serde_json::Error::io(std::io::ErrorKind::Other.into())),
                2,
            ),
            (CliError::NoMatch, 1),
        ];
        for (error, code) in cases {
            let report = error.report();
            let grep = error.like_grep();
            assert_eq!(grep.exit_code(), code, "{grep:?}");
            assert_eq!(grep.report(), report, "{grep:?}");
            assert_eq!(
                grep.like_grep().exit_code(),
                code,
                "wrapped twice: {report}"
            );
        }
    }
}
