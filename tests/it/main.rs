//! The integration tests, as one test binary (`it`) with a module per subject.
//!
//! One binary links `veille` and the dev-dependencies once; a file per binary linked them
//! once per file, which was most of `cargo test`'s build time on a 2-core machine. Run one
//! subject with a filter on its module path: `cargo test --test it stories::`.
//!
//! All the tests share one process, so none of them changes process-wide state (the current
//! folder, environment variables, a global tracing subscriber, a panic hook): each works in
//! a temp folder of its own, sets the environment of the child processes it starts rather
//! than its own, and its servers listen on a port of 127.0.0.1 the system picks.

mod common;

mod alerts;
mod browser;
mod cli;
mod corpus;
mod daemon;
mod digests;
mod e2e;
mod fetching;
mod includes;
mod judgments;
mod learning;
mod maintenance;
mod match_cli;
mod operators;
mod pages;
mod scores;
mod social;
mod stories;
mod web;
