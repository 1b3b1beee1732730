//! veille: a self-hosted media-monitoring daemon.
//!
//! Feeds and pages come in, watched keywords are matched, mentions are stored in SQLite, and
//! mail goes out: a digest to communication teams. The library holds all the logic; the
//! `veille` binary is a thin command line over it. See `ARCHITECTURE.md` for the
//! layers and the path of a source run and of a mail, and each module's doc for its part.

#![forbid(unsafe_code)]

pub mod alert;
pub mod alerting;
pub mod app;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dedup;
pub mod digest;
pub mod extract;
pub mod feedback;
pub mod fetch;
pub mod isolation;
pub mod judge;
pub mod language;
pub mod mail;
pub mod matching;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod schedule;
pub mod scheduler;
pub mod score;
pub mod store;
pub mod web;

pub use app::{App, AppError};

#[cfg(test)]
mod layers;

/// An error and its causes on one line ("error sending request: connection refused"), for
/// messages an admin reads.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
