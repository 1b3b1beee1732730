//! `include = ["watches/*.toml"]`: the files a main configuration file pulls in, so each
//! team keeps its sources, watches, digests and alert rules in a file of its own.
//!
//! Patterns are globs relative to the main file's folder (`*` stays within one folder;
//! hidden files such as an editor's `.#comm.toml` are skipped), matched in alphabetical
//! order. A pattern that matches nothing is fine (an empty `watches/` folder); a plain path
//! that does not exist is an error. A file named twice, or the main file itself, is read
//! once. Includes do not nest, and the one-of-a-kind sections (`[daemon]`, `[smtp]`,
//! `[web]`, `[dedup]`) stay in the main file: `read` reports them elsewhere.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::error::Document;

/// Most files one configuration may include: far beyond one file per team, and a bound on
/// what a pattern such as `/**/*.toml` can make veille read.
pub(super) const MAX_INCLUDED: usize = 1_000;

/// A problem with an `include` entry, reported at that entry once the report exists.
pub(super) struct Problem {
    pub(super) span: Range<usize>,
    pub(super) message: String,
}

/// The main file and the files it includes, each with its place in the shared offset
/// space; and the problems met on the way.
pub(super) fn gather(path: &Path, text: String) -> (Vec<Document>, Vec<Problem>) {
    let patterns = if text.contains("include") {
        patterns(&text)
    } else {
        Vec::new()
    };
    let mut documents = vec![Document::new(path.to_path_buf(), text, 0)];
    let mut problems = Vec::new();
    let base = path.parent().unwrap_or(Path::new("/"));
    let mut read = HashSet::new();
    read.insert(identity(path));
    for entry in patterns {
        let (pattern, span) = match entry {
            Ok(pattern) => pattern,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let files = match expand(base, &pattern) {
            Ok(files) => files,
            Err(message) => {
                problems.push(Problem { span, message });
                continue;
            }
        };
        for file in files {
            if !read.insert(identity(&file)) {
                continue;
            }
            if documents.len() > MAX_INCLUDED {
                problems.push(Problem {
                    span: span.clone(),
                    message: format!(
                        "more than {MAX_INCLUDED} files to include; narrow the pattern"
                    ),
                });
                return (documents, problems);
            }
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    let start = documents.last().map_or(0, Document::end);
                    documents.push(Document::new(file, text, start));
                }
                Err(e) => problems.push(Problem {
                    span: span.clone(),
                    message: format!("cannot read {}: {e}", file.display()),
                }),
            }
        }
    }
    (documents, problems)
}

/// The `include` entries of the main file, with their spans. A file with syntax errors
/// includes nothing: its errors are reported when it is read for good.
fn patterns(text: &str) -> Vec<Result<(String, Range<usize>), Problem>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Vec::new();
    }
    let table = table.into_inner();
    let Some(value) = table
        .iter()
        .find(|(key, _)| key.get_ref() == "include")
        .map(|(_, value)| value)
    else {
        return Vec::new();
    };
    let entry = |value: &toml::Spanned<DeValue<'_>>| match value.get_ref() {
        DeValue::String(pattern) if !pattern.trim().is_empty() => {
            Ok((pattern.to_string(), value.span()))
        }
        DeValue::String(_) => Err(Problem {
            span: value.span(),
            message: "empty pattern: name files such as \"watches/*.toml\"".to_string(),
        }),
        other => Err(Problem {
            span: value.span(),
            message: format!(
                "expected a file pattern such as \"watches/*.toml\", found {}",
                other.type_str()
            ),
        }),
    };
    match value.get_ref() {
        DeValue::Array(array) => array.iter().map(entry).collect(),
        _ => vec![entry(value)],
    }
}

/// The files a pattern names, in alphabetical order (regular files only).
fn expand(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = if Path::new(pattern).is_absolute() {
        pattern.to_string()
    } else {
        // The folder is taken literally: a `[` in its name is not a pattern.
        format!(
            "{}/{pattern}",
            glob::Pattern::escape(&base.to_string_lossy())
        )
    };
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(&full, options)
        .map_err(|e| format!("invalid pattern {pattern:?}: {}", e.msg))?;
    let mut files = Vec::new();
    for path in paths {
        let path =
            path.map_err(|e| format!("cannot read {}: {}", e.path().display(), e.error()))?;
        if path.is_file() {
            files.push(path);
        }
    }
    let is_glob = pattern.contains(['*', '?', '[']);
    if files.is_empty() && !is_glob {
        let path = base.join(pattern);
        return Err(if path.is_dir() {
            format!(
                "{} is a folder: include its files with \"{}/*.toml\"",
                path.display(),
                pattern.trim_end_matches('/')
            )
        } else {
            format!("cannot read {}: no such file", path.display())
        });
    }
    Ok(files)
}

/// What makes two names the same file: its canonical path when it exists.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
