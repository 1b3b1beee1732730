//! `veille hash-password`: reads a password (one line on standard input) and prints the
//! argon2id PHC string to put in `web.password_hash`.
//!
//! Standard input rather than an argument, so the password never shows in `ps` or the
//! shell's history: `veille hash-password < file`, or type it and press Enter (it is
//! echoed; run it where nobody looks over your shoulder). The salt is random, so two runs
//! print two different strings that both accept the password.

use std::io::BufRead as _;

use argon2::{Argon2, PasswordHasher as _};

use super::CliError;

/// Shorter passwords are refused: the review page may face the internet.
pub const MIN_PASSWORD_CHARS: usize = 8;

pub fn hash_password() -> Result<(), CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::io("cannot read the password from standard input", e))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CliError::ShortPassword);
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(CliError::Hash)?;
    println!("{hash}");
    Ok(())
}
