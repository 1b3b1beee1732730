//! `veille reload`: check the configuration, then ask the running daemon to re-read it.
//!
//! The daemon writes its process id next to its database (`veille.pid` beside `veille.db`)
//! and reloads on SIGHUP. Checking first means a broken file is reported here, to the admin
//! who typed the command, rather than only in the daemon's log (the daemon would keep its
//! old configuration anyway). Under systemd, `systemctl reload veille` sends the same
//! SIGHUP.

use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use veille::config::Config;

use super::{ConfigArg, EXIT_FAILURE, load_config};

/// Where the daemon records its process id.
pub fn pid_file(config: &Config) -> PathBuf {
    config.daemon.database.with_extension("pid")
}

pub fn reload(args: &ConfigArg) -> u8 {
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let path = pid_file(&config);
    let pid = match std::fs::read_to_string(&path) {
        Ok(text) => match text.trim().parse::<i32>() {
            Ok(pid) if pid > 0 => pid,
            _ => {
                eprintln!("error: {} does not hold a process id", path.display());
                return EXIT_FAILURE;
            }
        },
        Err(e) => {
            eprintln!(
                "error: cannot read {}: {e}\nIs the daemon running with this configuration?",
                path.display()
            );
            return EXIT_FAILURE;
        }
    };
    // A stale file can name a process that is no longer veille.
    if let Ok(name) = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        && name.trim() != "veille"
    {
        eprintln!(
            "error: process {pid} (from {}) is {:?}, not veille: the daemon is not running",
            path.display(),
            name.trim()
        );
        return EXIT_FAILURE;
    }
    match kill(Pid::from_raw(pid), Signal::SIGHUP) {
        Ok(()) => {
            println!(
                "{}: valid; reload requested from the daemon (pid {pid}); its log says when it is applied",
                args.config.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: cannot signal process {pid}: {e}");
            EXIT_FAILURE
        }
    }
}
