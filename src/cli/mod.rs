//! Argument parsing, logging setup and exit codes.
//!
//! Exit codes: 0 success; 1 a runtime failure (database, mail setup, I/O); 2 invalid
//! configuration or arguments (clap also uses 2 for usage errors).

mod check;
mod export;
mod r#match;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use veille::config::{self, Config};

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
    #[command(subcommand)]
    command: Command,
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
    /// Try a query on a text (exit 0 match, 1 no match, 2 invalid), or replay a watch over
    /// stored items with --replay 30d.
    Match(r#match::MatchArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match &cli.command {
        Command::Run { once: false, .. } => "info",
        _ => "warn",
    };
    init_logging(default_level);
    let code = match cli.command {
        Command::Run { config, once } => run::run(&config.config, once),
        Command::Check { config } => check::check(&config.config),
        Command::Export(args) => export::export(&args),
        Command::Match(args) => r#match::run(&args),
    };
    ExitCode::from(code)
}

fn init_logging(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Loads the configuration, printing every error (and exit code 2) when it is invalid.
fn load_config(path: &std::path::Path) -> Result<Config, u8> {
    match config::load(path) {
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

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            EXIT_FAILURE
        })
}
