//! Near-duplicate fingerprints: a content-defined sample of word shingles.
//!
//! An item's story text (title and body, boilerplate removed) is cut into overlapping runs of
//! [`SHINGLE_WORDS`] normalized words. Each distinct shingle is hashed (xxh3, stable across
//! versions, so stored fingerprints stay comparable); the fingerprint keeps the hashes that
//! fall in one residue class modulo [`SAMPLE_MODULUS`]. Because the choice depends only on the
//! shingle, two copies sample the *same* shingles from the text they share, so the number of
//! sampled hashes they have in common estimates their shared content, and dividing by the
//! smaller sample estimates containment: the share of the shorter copy found in the longer.
//!
//! Why not a 64-bit SimHash compared within Hamming distance k (the classic web-crawl
//! design)? SimHash bits flip with probability θ/π where θ is the angle between the two
//! shingle sets; a wire copy with a rewritten intro and a footer keeps ~80 % of its shingles,
//! which flips ~12 of 64 bits, far beyond the k ≤ 3 that a 4 × 16-bit band index can find.
//! Measured on the written set (`tests/fixtures/stories`, same normalization and 4-word
//! shingles): the 39 same-story pairs are 7 to 25 bits apart, different stories as close as
//! 17, so no k both finds the copies (k = 3 finds none, k = 10 six) and keeps stories apart.
//! Containment also handles trimmed copies (a shortened version is fully inside the long one)
//! that a symmetric similarity would score low. The index is an inverted table from sampled
//! hash to items (store side), probed once per sampled hash: cost grows with the sample and
//! with the (capped) posting lists, not with the number of stored items.
//!
//! Guards against false merges (tuned on `tests/fixtures/stories`, see `tests/it/stories.rs`):
//! - a text whose sample has fewer than [`MIN_SAMPLE`] hashes is refused: too short to tell
//!   a story from a template (it still joins by canonical URL);
//! - two texts must share at least [`MIN_SHARED`] sampled hashes (≈ `MIN_SHARED ×
//!   SAMPLE_MODULUS` shingles of common text) and [`MIN_CONTAINMENT`] of the smaller sample.
//!   Template reports (markets, weather) share their frame but differ in the figures, and a
//!   figure breaks every shingle it is part of, so their containment stays low;
//! - two items of the same source need [`MIN_CONTAINMENT_SAME_SOURCE`]: on the written set,
//!   every negative pair above 0.3 containment came from one source's template (a weather
//!   bulletin that reads like the one of two days before scored 0.75), while copies from two
//!   outlets scored 0.35 to 1.0 and cross-outlet negatives at most 0.10.
//!
//! Measured on `tests/fixtures/stories` (51 items): see `tests/it/stories.rs` for the figures.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_64;

/// Words per shingle. 4 keeps template frames from looking alike (every number breaks four
/// shingles) while copies of one text share long runs anyway.
pub const SHINGLE_WORDS: usize = 4;
/// One shingle in this many is kept (content-defined, the same in every copy).
pub const SAMPLE_MODULUS: u64 = 4;
/// Samples smaller than this are not fingerprinted at all.
pub const MIN_SAMPLE: usize = 6;
/// Sampled hashes two copies must share.
pub const MIN_SHARED: usize = 5;
/// Share of the smaller sample that must be in the other, for copies from two sources.
pub const MIN_CONTAINMENT: f64 = 0.4;
/// The same, for two items of one source: nearly everything. A source rarely publishes one
/// story twice under two identities, but it publishes its template (market report, weather,
/// league results, press-release boilerplate) every day.
pub const MIN_CONTAINMENT_SAME_SOURCE: f64 = 0.9;

/// The sampled shingle hashes of one text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    /// Sorted, distinct.
    pub hashes: Vec<u64>,
    /// Distinct shingles in the whole text (before sampling).
    pub shingles: usize,
}

impl Sketch {
    /// Whether the text is long enough to be compared at all.
    pub fn is_usable(&self) -> bool {
        self.hashes.len() >= MIN_SAMPLE
    }

    /// Sampled hashes shared with `other`.
    pub fn shared(&self, other: &Sketch) -> usize {
        let (mut i, mut j, mut shared) = (0, 0, 0);
        while i < self.hashes.len() && j < other.hashes.len() {
            match self.hashes[i].cmp(&other.hashes[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        shared
    }

    /// The hashes as stored (SQLite integers are signed; the bits are kept as they are).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    /// The inverse of [`Sketch::to_bytes`]; trailing bytes that do not make a hash are ignored.
    pub fn from_bytes(bytes: &[u8], shingles: usize) -> Sketch {
        let hashes = bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                u64::from_le_bytes(word)
            })
            .collect();
        Sketch { hashes, shingles }
    }
}

/// The sketch of a text given as its normalized words, in order.
pub fn sketch<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Sketch {
    let tokens: Vec<&str> = tokens.into_iter().collect();
    let mut distinct = HashSet::new();
    let mut buffer = String::new();
    for window in tokens.windows(SHINGLE_WORDS.min(tokens.len().max(1))) {
        buffer.clear();
        for (index, token) in window.iter().enumerate() {
            if index > 0 {
                buffer.push(' ');
            }
            buffer.push_str(token);
        }
        distinct.insert(xxh3_64(buffer.as_bytes()));
    }
    let mut hashes: Vec<u64> = distinct
        .iter()
        .copied()
        .filter(|h| h % SAMPLE_MODULUS == 0)
        .collect();
    hashes.sort_unstable();
    Sketch {
        hashes,
        shingles: distinct.len(),
    }
}

/// Whether two texts with `shared` sampled hashes in common, and samples of `size_a` and
/// `size_b` hashes, are copies of one story. `same_source`: both come from one source.
pub fn is_near_duplicate(shared: usize, size_a: usize, size_b: usize, same_source: bool) -> bool {
    let smaller = size_a.min(size_b);
    let min_containment = if same_source {
        MIN_CONTAINMENT_SAME_SOURCE
    } else {
        MIN_CONTAINMENT
    };
    smaller >= MIN_SAMPLE
        && shared >= MIN_SHARED
        && shared as f64 >= min_containment * smaller as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::normalize::tokens;

    fn of(text: &str) -> Sketch {
        let words = tokens(text);
        sketch(words.iter().map(String::as_str))
    }

    const STORY: &str = "The regional council voted on Tuesday to fund a new tram line between \
        the station and the university campus, a project that has been discussed for more than \
        ten years. The line will be twelve kilometres long and serve eighteen stops. Works are \
        expected to start in the spring of next year and the first trams should run three years \
        later, according to the president of the council, who called it the largest investment \
        in public transport the region has made since the motorway bypass was built.";

    #[test]
    fn a_copy_with_another_intro_and_footer_is_a_near_duplicate() {
        let a = of(STORY);
        let b = of(&format!(
            "In a long-awaited decision, councillors finally agreed. {STORY} Read more on our site."
        ));
        assert!(a.is_usable(), "{a:?}");
        let shared = a.shared(&b);
        assert!(
            is_near_duplicate(shared, a.hashes.len(), b.hashes.len(), false),
            "{shared} of {a:?} / {b:?}"
        );
    }

    #[test]
    fn short_or_unrelated_texts_are_not() {
        let a = of(STORY);
        let short = of("The council voted on Tuesday.");
        assert!(!short.is_usable());
        assert!(!is_near_duplicate(
            a.shared(&short),
            a.hashes.len(),
            short.hashes.len(),
            false
        ));
        let other = of(
            "The football club announced on Tuesday that its coach will leave at the \
            end of the season after four years in charge, two promotions and a cup final lost \
            on penalties. The board thanked him and said a successor would be named in June, \
            once the club knows in which division it will play next year.",
        );
        assert!(!is_near_duplicate(
            a.shared(&other),
            a.hashes.len(),
            other.hashes.len(),
            false
        ));
    }

    #[test]
    fn thresholds_are_stricter_within_one_source() {
        // (shared, sample a, sample b, same source, near duplicate)
        let cases = [
            (20, 20, 40, true, true),
            (18, 20, 40, true, true),
            (17, 20, 40, true, false),
            (17, 20, 40, false, true),
            (8, 20, 40, false, true),
            (7, 20, 40, false, false),
            (4, 6, 6, false, false),
            (5, 5, 5, false, false),
            (5, 6, 6, false, true),
        ];
        for (shared, a, b, same_source, expected) in cases {
            assert_eq!(
                is_near_duplicate(shared, a, b, same_source),
                expected,
                "{shared} shared of {a} and {b}, same source {same_source}"
            );
        }
    }

    #[test]
    fn sketches_survive_storage() {
        let a = of(STORY);
        assert_eq!(Sketch::from_bytes(&a.to_bytes(), a.shingles), a);
    }

    #[test]
    fn the_sample_is_a_fixed_share_of_distinct_shingles() {
        let a = of(STORY);
        let share = a.hashes.len() as f64 / a.shingles as f64;
        assert!((0.1..0.45).contains(&share), "{share}");
        assert!(a.hashes.iter().all(|h| h % SAMPLE_MODULUS == 0));
        assert!(a.hashes.windows(2).all(|w| w[0] < w[1]));
    }
}
