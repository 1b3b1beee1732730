//! `veille import-opml FILE`: print `[[source]]` blocks for the feeds of an OPML export, to
//! paste into the TOML. Reads the file only; writes nothing.

use std::path::Path;

use veille::config::opml;

use super::EXIT_INVALID;

pub fn import_opml(path: &Path) -> u8 {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return super::EXIT_FAILURE;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    match opml::feeds(&text) {
        Ok(feeds) if feeds.is_empty() => {
            eprintln!("{}: no feed (no outline with an xmlUrl)", path.display());
            EXIT_INVALID
        }
        Ok(feeds) => {
            print!("{}", opml::to_toml(&feeds));
            eprintln!(
                "{} feed(s) from {}; paste the blocks into your configuration, then run `veille check`",
                feeds.len(),
                path.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            EXIT_INVALID
        }
    }
}
