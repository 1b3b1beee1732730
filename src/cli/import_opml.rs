//! `veille import-opml FILE`: print `[[source]]` blocks for the feeds of an OPML export, to
//! paste into the TOML. Reads the file only; writes nothing.

use std::path::Path;

use veille::config::opml;

use super::CliError;

pub fn import_opml(path: &Path) -> Result<(), CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
    let text = String::from_utf8_lossy(&bytes);
    let feeds = opml::feeds(&text).map_err(|error| CliError::Opml {
        path: path.to_path_buf(),
        error,
    })?;
    if feeds.is_empty() {
        return Err(CliError::NoFeeds(path.to_path_buf()));
    }
    print!("{}", opml::to_toml(&feeds));
    eprintln!(
        "{} feed(s) from {}; paste the blocks into your configuration, then run `veille check`",
        feeds.len(),
        path.display()
    );
    Ok(())
}
