//! `veille.toml` files for the tests, from the tables most of them share: a `[daemon]` that
//! lets sources on 127.0.0.1 through, an `[smtp]` pointing at the sink, `[[source]]`s. A
//! test whose subject is the configuration itself writes its own.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `[daemon]` with its database at `database` (relative to the config file) and sources on
/// 127.0.0.0/8 allowed, where the test servers listen; `extra` is more of the table.
pub fn daemon_table(database: &str, extra: &str) -> String {
    format!(
        "[daemon]\nallow_private_addresses = [\"127.0.0.0/8\"]\ndatabase = \"{database}\"\n{extra}\n"
    )
}

/// `[smtp]` for the sink on 127.0.0.1 at `port`: plain SMTP, no login.
pub fn smtp_table(port: u16) -> String {
    format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"veille@example.org\"\n"
    )
}

/// A `[[source]]`; `extra` is more of the table (`every`, credentials).
pub fn source_table(id: &str, url: &str, extra: &str) -> String {
    let mut table = format!("\n[[source]]\nid = \"{id}\"\nurl = \"{url}\"\n");
    if !extra.is_empty() {
        let _ = writeln!(table, "{extra}");
    }
    table
}

/// Writes `text` as `veille.toml` in `dir`; its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("veille.toml");
    std::fs::write(&path, text).expect("write the config file");
    path
}

/// Copies `config/demo.toml` and `config/demo/` into `dir/config/`, so the demo's state
/// (`../target/demo/`) lands in `dir/target/demo/` instead of the source tree.
pub fn copy_demo(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let config_dir = dir.join("config");
    std::fs::create_dir_all(config_dir.join("demo")).expect("mkdir");
    std::fs::copy(source.join("demo.toml"), config_dir.join("demo.toml")).expect("copy demo.toml");
    for entry in std::fs::read_dir(source.join("demo")).expect("demo folder") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            config_dir
                .join("demo")
                .join(path.file_name().expect("name")),
        )
        .expect("copy feed");
    }
    config_dir.join("demo.toml")
}
