//! What one document may cost extraction: every limit, in one place.
//!
//! Feeds and pages come from servers veille does not control, and extraction runs on tokio's
//! blocking threads (2 MiB stacks) inside the daemon: a document must never overflow a
//! stack, never take time out of proportion to its size, and never hold memory out of
//! proportion to what veille keeps. Three kinds of limit do that.
//!
//! - **Refusals** ([`MAX_DEPTH`], [`MAX_ITEMS`], [`MAX_PAGE_ELEMENTS`],
//!   [`MAX_PAGE_TEXT_BYTES`], [`MAX_MEDIA_GROUPS`], [`MAX_AUTHORS`],
//!   [`MAX_FEED_AUTHOR_BYTES`], [`PARSE_BUDGET`]): the whole document is refused with an
//!   [`ExtractError`](super::ExtractError) that says which limit and what to do; `veille
//!   sources` shows it as the source's last error. Real documents stay far below: the
//!   corpus feeds nest at most 11 elements and hold at most 60 items, the corpus pages
//!   nest at most 29 and have at most ~3,000 elements. A refusal is decided before the
//!   expensive step (a byte-level pre-scan before feed-rs builds entries; depth and size
//!   checks while html5ever builds a page's tree), so a hostile document costs about one
//!   linear pass.
//! - **Cuts** ([`MAX_TITLE_BYTES`], [`MAX_TEXT_BYTES`]): an item whose title or text is too
//!   long is kept, cut at a character boundary. A long article is legitimate; what is past a
//!   megabyte of plain text is not what a watch needs, and the digest shows far less.
//! - **Tolerances**: the text of a feed item (`html_to_text`) has no depth limit at all. It
//!   is read with html5ever's tokenizer, without a tree, so a hostile item (a post on a
//!   watched hashtag) is read like any other and cannot silence its feed. Its one guard,
//!   [`MAX_ATTRIBUTES`], drops attributes (never text).
//!
//! Trade-off: a feed of more than 5,000 items (a full archive) is refused rather than read in
//! part; reading only the first 5,000 would hide the refusal and skip whatever came later,
//! and no feed veille polls every few minutes needs that many.

use std::time::Duration;

/// Deepest element nesting accepted in a page or a feed's XML. Each open element costs
/// html5ever a scope check per tag (parse time grows with the square of the depth), and a
/// deep tree is where recursive code overflows a stack.
pub const MAX_DEPTH: usize = 512;

/// Most items one document may hold (feed entries, or elements a page's item selector
/// matches).
pub const MAX_ITEMS: usize = 5_000;

/// Most `media:group` elements in one item (or outside items). feed-rs copies the item's
/// Media RSS details into each group, and recurses into nested ones; YouTube writes one.
/// The copies stay within 16 times the document.
pub const MAX_MEDIA_GROUPS: usize = 16;

/// Most authors of one JSON Feed item, or of the feed (feed-rs compares each author with
/// all the others to drop duplicates).
pub const MAX_AUTHORS: usize = 64;

/// Most bytes of a JSON Feed's feed-level authors (names, URLs, avatars). feed-rs copies
/// them into every item that names no author: at most 20 MB for 5,000 items.
pub const MAX_FEED_AUTHOR_BYTES: usize = 4 * 1024;

/// Longest title kept, in bytes of UTF-8.
pub const MAX_TITLE_BYTES: usize = 2 * 1024;

/// Longest text (summary or content) kept per item, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// Most elements (and comments) a page may have. The tree costs about 150 bytes a node, so
/// a page of bare `<p>`s costs some 75 times its size (a million of them, 4 MB, took 311
/// MB); this bounds the tree to some 80 MB. A long article has a few thousand elements.
pub const MAX_PAGE_ELEMENTS: usize = 250_000;

/// Most text the selected items of one page may hold together. Nested matches repeat the
/// text of their descendants (an item selector matching `div` on a page of nested `div`s),
/// so this bounds memory where the per-item cut cannot.
pub const MAX_PAGE_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// Most time parsing one page may take; checked between chunks of [`PAGE_CHUNK_BYTES`]
/// and between selected items. A backstop: the other limits keep parsing linear, so only a
/// case nobody thought of, or a badly overloaded machine, reaches it.
pub const PARSE_BUDGET: Duration = Duration::from_secs(10);

/// Size of the pieces a page is handed to html5ever in, so that the depth and time limits
/// are checked while parsing rather than after.
pub const PAGE_CHUNK_BYTES: usize = 16 * 1024;

/// Most attributes one HTML tag may carry before its attributes are dropped (the element
/// is kept). html5ever checks each new attribute name against all the earlier ones of the
/// same tag, so a tag of 100,000 attributes costs billions of comparisons.
pub const MAX_ATTRIBUTES: usize = 1_000;

/// `5000` → `5,000`, for messages.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Cuts `text` to at most `max` bytes, at a character boundary; returns whether it cut.
pub(crate) fn cut(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let end = text.floor_char_boundary(max);
    text.truncate(end);
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        for (n, want) in [
            (0, "0"),
            (512, "512"),
            (5_000, "5,000"),
            (1_048_576, "1,048,576"),
        ] {
            assert_eq!(thousands(n), want);
        }
    }

    #[test]
    fn cut_keeps_whole_characters() {
        let mut text = "Acme éolienne".to_string();
        assert!(cut(&mut text, 7), "cut past the limit");
        // "Acme é" is 7 bytes; the é would be split at 6, so it stays whole at 7 or goes.
        assert_eq!(text, "Acme é");
        let mut text = "Acme éolienne".to_string();
        assert!(cut(&mut text, 6));
        assert_eq!(text, "Acme", "a split é is dropped, and the trailing space");
        let mut short = "court".to_string();
        assert!(!cut(&mut short, 5));
        assert_eq!(short, "court");
    }
}
