//! What the integration tests share: real servers on 127.0.0.1 (`servers`) and the shared
//! corpus.

mod servers;

use std::path::{Path, PathBuf};

pub use servers::{HttpServer, ReceivedMail, Response, SmtpSink};

/// The shared corpus folder, next to the crate (read-only in CI).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}
