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

use super::{CliError, ConfigArg, load_config};

/// Where the daemon records its process id.
pub fn pid_file(config: &Config) -> PathBuf {
    config.daemon.database.with_extension("pid")
}

pub fn reload(args: &ConfigArg) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    let path = pid_file(&config);
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::NoPidFile {
        path: path.clone(),
        source,
    })?;
    let pid = match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => pid,
        _ => return Err(CliError::BadPidFile(path)),
    };
    // A stale file can name a process that is no longer veille.
    if let Ok(name) = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        && name.trim() != "veille"
    {
        return Err(CliError::NotVeille {
            pid,
            path,
            name: name.trim().to_string(),
        });
    }
    kill(Pid::from_raw(pid), Signal::SIGHUP).map_err(|source| CliError::Signal { pid, source })?;
    println!(
        "{}: valid; reload requested from the daemon (pid {pid}); its log says when it is applied",
        args.config.display()
    );
    Ok(())
}
