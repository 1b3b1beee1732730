//! Configuration errors that point at the file, line, column and key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Where in the document: `source[2].every`, `daemon.timezone`, `watch "acme".query`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.key,
            self.message
        )
    }
}

/// Every problem found in a configuration (its main file and the files it includes), in
/// file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// One file of a configuration: the main file or one it includes (`include = [...]`).
///
/// The files share one offset space so that a span says which file it is in: file `n`
/// starts at the end of file `n - 1` (plus one, so an empty file still has an offset).
/// Spans of an included file are shifted by its [`Document::start`] when it is read.
pub(crate) struct Document {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    /// Offset of this file's first byte in the shared offset space.
    pub(crate) start: usize,
    lines: LineIndex,
}

impl Document {
    pub(crate) fn new(path: PathBuf, text: String, start: usize) -> Document {
        let lines = LineIndex::new(&text);
        Document {
            path,
            text,
            start,
            lines,
        }
    }

    /// Where the next file's offsets start.
    pub(crate) fn end(&self) -> usize {
        self.start + self.text.len() + 1
    }
}

/// Collects errors while the documents are validated, turning offsets into file:line:column.
pub(crate) struct Report<'a> {
    documents: &'a [Document],
    /// Each error with the index of its document, to sort them file by file.
    errors: Vec<(usize, ConfigError)>,
}

impl<'a> Report<'a> {
    /// `documents`: the main file first, then the files it includes, in offset order.
    pub(crate) fn new(documents: &'a [Document]) -> Self {
        Report {
            documents,
            errors: Vec::new(),
        }
    }

    /// The main file and the files it includes.
    pub(crate) fn documents(&self) -> &'a [Document] {
        self.documents
    }

    /// The index of the document an offset is in.
    pub(crate) fn index_of(&self, offset: usize) -> usize {
        self.documents
            .partition_point(|d| d.start <= offset)
            .saturating_sub(1)
    }

    /// The document an offset is in.
    pub(crate) fn document(&self, offset: usize) -> Option<&'a Document> {
        self.documents.get(self.index_of(offset))
    }

    /// Where an offset is, for a message about another position: `line 4` in the same
    /// file as `other`, else `watches/comm.toml:4`.
    pub(crate) fn place(&self, offset: usize, other: usize) -> String {
        let (index, line) = self.line_of(offset);
        if index == self.index_of(other) {
            format!("line {line}")
        } else {
            let path = self.documents.get(index).map(|d| d.path.as_path());
            format!("{}:{line}", path.unwrap_or(Path::new("?")).display())
        }
    }

    /// The document index and 1-based line of an offset.
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let index = self.index_of(offset);
        let line = self.documents.get(index).map_or(1, |d| {
            d.lines
                .line_column(&d.text, offset.saturating_sub(d.start))
                .0
        });
        (index, line)
    }

    /// The text of a span (empty when it crosses a file's end).
    pub(crate) fn slice(&self, span: Range<usize>) -> &'a str {
        let Some(document) = self.document(span.start) else {
            return "";
        };
        let start = span.start - document.start;
        let end = span.end.saturating_sub(document.start);
        document.text.get(start..end).unwrap_or("")
    }

    /// Records an error at the start of `span`.
    pub(crate) fn at(
        &mut self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.at_offset(span.start, key, message);
    }

    pub(crate) fn at_offset(
        &mut self,
        offset: usize,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let index = self.index_of(offset);
        let Some(document) = self.documents.get(index) else {
            return;
        };
        let (line, column) = document
            .lines
            .line_column(&document.text, offset.saturating_sub(document.start));
        self.errors.push((
            index,
            ConfigError {
                file: document.path.clone(),
                line,
                column,
                key: key.into(),
                message: message.into(),
            },
        ));
    }

    pub(crate) fn count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The errors, file by file (main file first), each file's in line order.
    pub(crate) fn finish(mut self) -> ConfigErrors {
        self.errors
            .sort_by_key(|(index, e)| (*index, e.line, e.column));
        ConfigErrors(self.errors.into_iter().map(|(_, e)| e).collect())
    }
}

/// Where each line of a document starts, so that turning an offset into line:column costs
/// a binary search and the length of one line, not a scan from the top: a file of 20,000
/// sources asks for thousands of positions.
pub(crate) struct LineIndex {
    /// Byte offset of the first character of each line; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of a byte offset of `text`, the document
    /// this index was built from.
    pub(crate) fn line_column(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line.max(1), column)
    }
}

#[cfg(test)]
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_column(text, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_column(text, 12), (2, 6));
        assert_eq!(line_column(text, 999), (3, 1));
    }
}
