//! Finding every term of every watch in the tokens of a field, with one hash per token.
//!
//! A term looks for one folded word, a phrase of several, or a word prefix (`nord*`,
//! `parc éolien*`). Each term is registered under one token of its own:
//! - a word or a phrase under its rarest whole word (the longest; for a prefix phrase, never
//!   the last, unfinished one), with that word's place in the phrase. A text token is hashed
//!   once and looked up once; a phrase is then confirmed by comparing the folded bytes from
//!   where it would start, which are contiguous (` acme corp `);
//! - a one-word prefix under its own bytes, in a second table. A token probes that table only
//!   with the lengths that some prefix sharing its first [`GATE`] bytes has (a bit mask kept
//!   per 4-byte beginning), so a text token costs one more lookup, not one per length.
//!
//! Design choice: the cost per token is a hash and a lookup in tables sized by the number of
//! distinct words of all watches, instead of a walk through an automaton whose states, past a
//! few thousand patterns, no longer fit in the CPU caches. The tables are frozen after
//! building: each slot holds a 32-bit tag of the hash (most misses stop there) and the place
//! of its entry in one arena where the key's bytes and the list of terms sit side by side, so
//! a token that names a term costs two cache misses, not a chain of pointers.
//!
//! Terms that no watch needs as an anchor are *deferred*: kept aside with their hash, out of
//! the tables, and looked for only on request ([`Index::scan_deferred`]), in a table built
//! for the few terms asked for.
//!
//! Trade-off: a hash table written here (open addressing, linear probing) rather than the
//! standard one, whose SipHash would cost more than the rest of the lookup and whose values
//! would live behind another pointer. The hash is fixed, not keyed: item text only ever looks
//! up, it never inserts, so hostile text cannot build long probe chains.

use std::collections::HashMap;

use super::normalize::{TokenSpan, Tokens};

/// Prefixes are gated by this many first bytes of the token.
const GATE: usize = 4;

/// The longest prefix length a gate's bit mask tracks; longer prefixes share the top bit.
const MAX_MASK_LEN: usize = 63;

/// Flags of a registered term, as passed to the scan's callback.
pub(super) const EXACT: u32 = 1 << 31;
pub(super) const ANCHOR: u32 = 1 << 30;
/// The term is a phrase to confirm from its first token.
const PHRASE: u32 = 1 << 29;
/// The place, in its phrase, of the token a phrase is registered under.
const OFFSET: u32 = (1 << 24) - 1;

/// A fast hash for short byte strings (tokens are mostly under 16 bytes): a few overlapping
/// loads, no loop, and one folded 64×64→128-bit multiply per 16 bytes (wyhash's scheme).
#[inline]
pub(super) fn hash(bytes: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let len = bytes.len();
    let mut seed = P0 ^ len as u64;
    let (a, b) = match len {
        0 => (0, 0),
        1..=3 => (
            u64::from(bytes[0]) << 16 | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]),
            0,
        ),
        4..=8 => (read_u32(bytes, 0) as u64, read_u32(bytes, len - 4) as u64),
        9..=16 => (read_u64(bytes, 0), read_u64(bytes, len - 8)),
        _ => {
            let mut at = 0;
            while len - at > 16 {
                seed = mix(read_u64(bytes, at) ^ P1, read_u64(bytes, at + 8) ^ seed);
                at += 16;
            }
            (read_u64(bytes, len - 16), read_u64(bytes, len - 8))
        }
    };
    mix(P1 ^ len as u64, mix(a ^ P1, b ^ seed))
}

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(from) = bytes.get(at..at + 8) {
        word.copy_from_slice(from);
    }
    u64::from_le_bytes(word)
}

const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    /// Where the entry starts in the arena, or [`EMPTY`].
    at: u32,
}

/// A map from byte strings to lists of `u32`, built once and then only read.
///
/// Arena layout of an entry: key length and value count (two `u32`, little endian), the key's
/// bytes padded to 4, the values.
#[derive(Debug, Clone)]
struct Table {
    mask: usize,
    /// One bit per `filter` bucket of hashes, set when a key falls in it: small enough to
    /// stay in the L1 cache, it answers most misses before the slots are touched.
    filter: Vec<u64>,
    filter_mask: usize,
    slots: Vec<Slot>,
    arena: Vec<u8>,
}

#[inline]
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(bytes) = bytes.get(at..at + 4) {
        word.copy_from_slice(bytes);
    }
    u32::from_le_bytes(word)
}

/// The filter bit of a hash: bits that neither the slot nor the tag use much.
#[inline]
fn filter_bit(h: u64) -> usize {
    (h >> 20) as usize
}

impl Table {
    fn build(entries: HashMap<Vec<u8>, Vec<u32>>) -> Table {
        let size = (entries.len() * 2).next_power_of_two().max(2);
        let filter_bits = (entries.len() * 16).next_power_of_two().clamp(64, 1 << 18);
        let mut table = Table {
            mask: size - 1,
            filter: vec![0; filter_bits / 64],
            filter_mask: filter_bits - 1,
            slots: vec![Slot { tag: 0, at: EMPTY }; size],
            arena: Vec::new(),
        };
        // Sorted, so that the layout does not depend on the hash map's order.
        let mut entries: Vec<(Vec<u8>, Vec<u32>)> = entries.into_iter().collect();
        entries.sort_unstable();
        for (key, values) in entries {
            let at = table.arena.len() as u32;
            table
                .arena
                .extend_from_slice(&(key.len() as u32).to_le_bytes());
            table
                .arena
                .extend_from_slice(&(values.len() as u32).to_le_bytes());
            table.arena.extend_from_slice(&key);
            table.arena.resize(table.arena.len().next_multiple_of(4), 0);
            for value in values {
                table.arena.extend_from_slice(&value.to_le_bytes());
            }
            let h = hash(&key);
            let bit = filter_bit(h) & table.filter_mask;
            table.filter[bit / 64] |= 1 << (bit % 64);
            let mut slot = h as usize & table.mask;
            while table.slots[slot].at != EMPTY {
                slot = (slot + 1) & table.mask;
            }
            table.slots[slot] = Slot {
                tag: (h >> 32) as u32,
                at,
            };
        }
        table
    }

    /// The values of `key`, whose hash is `h`: the arena range they fill.
    #[inline]
    fn get(&self, key: &[u8], h: u64) -> Option<(usize, usize)> {
        let bit = filter_bit(h) & self.filter_mask;
        if self.filter.get(bit / 64)? & (1 << (bit % 64)) == 0 {
            return None;
        }
        let tag = (h >> 32) as u32;
        let mut slot = h as usize & self.mask;
        loop {
            let s = self.slots.get(slot)?;
            if s.at == EMPTY {
                return None;
            }
            if s.tag == tag {
                let at = s.at as usize;
                let len = read_u32(&self.arena, at) as usize;
                let count = read_u32(&self.arena, at + 4) as usize;
                let from = at + 8;
                if self.arena.get(from..from + len) == Some(key) {
                    let values = from + len.next_multiple_of(4);
                    return Some((values, values + 4 * count));
                }
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// The values in an arena range from [`Table::get`].
    #[inline]
    fn values(&self, (from, to): (usize, usize)) -> impl Iterator<Item = u32> + '_ {
        self.arena
            .get(from..to)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

impl Default for Table {
    fn default() -> Self {
        Table::build(HashMap::new())
    }
}

/// Collects the terms, then freezes them into an [`Index`].
#[derive(Debug, Default)]
pub(super) struct Builder {
    /// Whole word → (term, flags and offset) pairs.
    words: HashMap<Vec<u8>, Vec<u32>>,
    /// One-word prefix → (term, flags) pairs.
    prefixes: HashMap<Vec<u8>, Vec<u32>>,
    /// First [`GATE`] bytes → bit `n` set when a prefix of `n` bytes starts with them.
    gates: HashMap<Vec<u8>, u64>,
    /// Bit `n` set when a prefix of `n` < [`GATE`] bytes exists.
    short: u64,
    /// For each term registered as a phrase, its folded bytes (indexed by term id).
    phrases: Vec<Box<[u8]>>,
    /// Whole-word terms that are no watch's anchor (indexed by term id).
    deferred: Vec<Option<Deferred>>,
}

/// A term looked for only when a watch that uses it is a candidate: the token it is
/// registered under, as in the words table.
#[derive(Debug, Clone)]
struct Deferred {
    hash: u64,
    key: Box<[u8]>,
    flags: u32,
}

impl Builder {
    /// Registers term `id` looking for `tokens` (folded, none empty), the last one a prefix
    /// when `prefix`. `flags` ([`EXACT`], [`ANCHOR`]) come back with each occurrence.
    pub(super) fn add(&mut self, id: u32, tokens: &[String], prefix: bool, flags: u32) {
        let (word, flags) = match tokens {
            [] => return,
            [only] if prefix => {
                let only = only.as_bytes();
                self.prefixes
                    .entry(only.to_vec())
                    .or_default()
                    .extend([id, flags]);
                if only.len() < GATE {
                    self.short |= length_bit(only.len());
                } else {
                    *self.gates.entry(only[..GATE].to_vec()).or_default() |= length_bit(only.len());
                }
                return;
            }
            [only] => (only, flags),
            _ => {
                // Whole words only: the last token of a prefix phrase is unfinished.
                let whole = if prefix {
                    &tokens[..tokens.len() - 1]
                } else {
                    tokens
                };
                let (offset, word) = whole
                    .iter()
                    .take(OFFSET as usize)
                    .enumerate()
                    .rev()
                    .max_by_key(|(_, w)| w.len())
                    .unwrap_or((0, &tokens[0]));
                let mut bytes = tokens.join(" ").into_bytes();
                if !prefix {
                    bytes.push(b' ');
                }
                let slot = id as usize;
                if self.phrases.len() <= slot {
                    self.phrases.resize(slot + 1, Box::default());
                }
                self.phrases[slot] = bytes.into_boxed_slice();
                (word, flags | PHRASE | offset as u32)
            }
        };
        let word = word.as_bytes();
        if flags & ANCHOR != 0 {
            self.words
                .entry(word.to_vec())
                .or_default()
                .extend([id, flags]);
        } else {
            let slot = id as usize;
            if self.deferred.len() <= slot {
                self.deferred.resize(slot + 1, None);
            }
            self.deferred[slot] = Some(Deferred {
                hash: hash(word),
                key: word.into(),
                flags,
            });
        }
    }

    pub(super) fn build(self) -> Index {
        let gates = self
            .gates
            .into_iter()
            .map(|(gate, mask)| (gate, vec![mask as u32, (mask >> 32) as u32]))
            .collect();
        Index {
            has_words: !self.words.is_empty(),
            has_prefixes: !self.prefixes.is_empty(),
            words: Table::build(self.words),
            prefixes: Table::build(self.prefixes),
            gates: Table::build(gates),
            short: self.short,
            phrases: self.phrases,
            has_deferred: self.deferred.iter().any(Option::is_some),
            deferred_bits: self
                .deferred
                .chunks(64)
                .map(|chunk| {
                    chunk
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| d.is_some())
                        .fold(0, |bits, (i, _)| bits | 1 << i)
                })
                .collect(),
            deferred: self.deferred,
        }
    }
}

/// The folded bytes of token `i`.
#[inline]
fn token<'a>(folded: &'a [u8], spans: &[TokenSpan], i: usize) -> Option<&'a [u8]> {
    let from = spans.get(i)?.folded as usize;
    // Each token is followed by a space; the next token starts just after it.
    let to = spans
        .get(i + 1)
        .map_or(folded.len(), |next| next.folded as usize)
        .saturating_sub(1);
    folded.get(from..to)
}

/// The bit of a prefix length in a gate mask.
fn length_bit(len: usize) -> u64 {
    1 << len.min(MAX_MASK_LEN)
}

/// Every term of every watch, by the token that finds it.
#[derive(Debug, Clone, Default)]
pub(super) struct Index {
    words: Table,
    prefixes: Table,
    gates: Table,
    short: u64,
    phrases: Vec<Box<[u8]>>,
    deferred: Vec<Option<Deferred>>,
    /// One bit per term id, set for the deferred ones: small enough to stay in cache.
    deferred_bits: Vec<u64>,
    has_deferred: bool,
    has_words: bool,
    has_prefixes: bool,
}

impl Index {
    /// Calls `found(term, flags, position)` for every occurrence in `tokens` of every term
    /// but the deferred ones, where `position` is the index of the term's first token. Leaves
    /// the hash of each token in `hashes`, for [`Index::scan_deferred`].
    #[inline]
    pub(super) fn scan(
        &self,
        tokens: &Tokens,
        hashes: &mut Vec<u64>,
        mut found: impl FnMut(u32, u32, usize),
    ) {
        let folded = tokens.folded.as_slice();
        let spans = tokens.spans.as_slice();
        hashes.clear();
        for i in 0..spans.len() {
            let Some(token) = token(folded, spans, i) else {
                if self.has_deferred {
                    hashes.push(0);
                }
                continue;
            };
            let h = hash(token);
            if self.has_deferred {
                hashes.push(h);
            }
            if self.has_words
                && let Some(range) = self.words.get(token, h)
            {
                let mut values = self.words.values(range);
                while let (Some(id), Some(flags)) = (values.next(), values.next()) {
                    if flags & PHRASE == 0 {
                        found(id, flags, i);
                    } else if let Some(first) = self.phrase(folded, spans, i, id, flags) {
                        found(id, flags, first);
                    }
                }
            }
            if self.has_prefixes {
                self.prefixes(token, i, &mut found);
            }
        }
    }

    /// Whether term `id` is only looked for by [`Index::scan_deferred`].
    #[inline]
    pub(super) fn is_deferred(&self, id: u32) -> bool {
        self.deferred_bits
            .get(id as usize / 64)
            .is_some_and(|bits| bits & (1 << (id % 64)) != 0)
    }

    /// Puts the deferred terms among `wanted` in `table` (reused), for
    /// [`Index::scan_deferred`]. The table is sparse (an eighth full at most) so that the
    /// probe of a token that is none of them, nearly every token, stops at its first slot
    /// and the branch is predicted.
    pub(super) fn deferred_table(&self, wanted: &[u32], table: &mut Vec<(u32, u32)>) {
        let size = (wanted.len() * 8).next_power_of_two().max(64);
        let mask = size - 1;
        table.clear();
        table.resize(size, (0, EMPTY));
        for &id in wanted {
            let Some(Some(term)) = self.deferred.get(id as usize) else {
                continue;
            };
            let mut slot = term.hash as usize & mask;
            while table[slot].1 != EMPTY {
                slot = (slot + 1) & mask;
            }
            table[slot] = ((term.hash >> 32) as u32, id);
        }
    }

    /// Like [`Index::scan`], for the deferred terms put in `table` by
    /// [`Index::deferred_table`]: the tokens' `hashes` (from the scan) probe it.
    pub(super) fn scan_deferred(
        &self,
        tokens: &Tokens,
        hashes: &[u64],
        table: &[(u32, u32)],
        mut found: impl FnMut(u32, u32, usize),
    ) {
        let mask = table.len().saturating_sub(1);
        let folded = tokens.folded.as_slice();
        let spans = tokens.spans.as_slice();
        for (i, &h) in hashes.iter().enumerate() {
            let tag = (h >> 32) as u32;
            let mut slot = h as usize & mask;
            while let Some(&(stored, id)) = table.get(slot)
                && id != EMPTY
            {
                slot = (slot + 1) & mask;
                if stored != tag {
                    continue;
                }
                let Some(Some(term)) = self.deferred.get(id as usize) else {
                    continue;
                };
                if token(folded, spans, i) != Some(&term.key[..]) {
                    continue;
                }
                if term.flags & PHRASE == 0 {
                    found(id, term.flags, i);
                } else if let Some(first) = self.phrase(folded, spans, i, id, term.flags) {
                    found(id, term.flags, first);
                }
            }
        }
    }

    /// Reports the one-word prefixes that `token` (the `i`th) starts with.
    #[inline]
    fn prefixes(&self, token: &[u8], i: usize, found: &mut impl FnMut(u32, u32, usize)) {
        let mut lengths = self.short;
        if let Some(gate) = token.get(..GATE)
            && let Some(range) = self.gates.get(gate, hash(gate))
        {
            let mut mask = self.gates.values(range);
            if let (Some(low), Some(high)) = (mask.next(), mask.next()) {
                lengths |= u64::from(low) | (u64::from(high) << 32);
            }
        }
        while lengths != 0 {
            let len = lengths.trailing_zeros() as usize;
            lengths &= lengths - 1;
            if len > token.len() {
                break;
            }
            let longest = if len == MAX_MASK_LEN {
                token.len()
            } else {
                len
            };
            for len in len..=longest {
                let start = &token[..len];
                if let Some(range) = self.prefixes.get(start, hash(start)) {
                    let mut values = self.prefixes.values(range);
                    while let (Some(id), Some(flags)) = (values.next(), values.next()) {
                        found(id, flags, i);
                    }
                }
            }
        }
    }

    /// Where phrase `id`, registered under token `i` with `flags`, starts, if it is there.
    #[inline]
    fn phrase(
        &self,
        folded: &[u8],
        spans: &[TokenSpan],
        i: usize,
        id: u32,
        flags: u32,
    ) -> Option<usize> {
        let bytes = self.phrases.get(id as usize)?;
        let first = i.checked_sub((flags & OFFSET) as usize)?;
        let span = spans.get(first)?;
        folded
            .get(span.folded as usize..)?
            .starts_with(bytes)
            .then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a scan finds, then a deferred scan for every term.
    fn found(index: &Index, text: &str) -> Vec<(u32, usize)> {
        let tokens = Tokens::new(text, false);
        let mut out = Vec::new();
        let mut hashes = Vec::new();
        index.scan(&tokens, &mut hashes, |id, _, position| {
            out.push((id, position))
        });
        let all: Vec<u32> = (0..index.deferred.len() as u32).collect();
        let mut table = Vec::new();
        index.deferred_table(&all, &mut table);
        index.scan_deferred(&tokens, &hashes, &table, |id, _, position| {
            out.push((id, position))
        });
        out.sort_unstable();
        out
    }

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    /// Anchors are found by the scan; the other terms by the deferred scan, the same way.
    #[test]
    fn finds_words_phrases_and_prefixes_where_they_start() {
        for flags in [ANCHOR, 0] {
            finds_terms_where_they_start(flags);
        }
    }

    fn finds_terms_where_they_start(flags: u32) {
        let mut builder = Builder::default();
        let terms: &[(&str, bool)] = &[
            ("acme", false),
            ("de la acme", false),
            ("nord", true),
            ("no", true),
            ("nordventissimo", true),
            ("parc eolien", true),
        ];
        for (id, (term, prefix)) in terms.iter().enumerate() {
            builder.add(id as u32, &words(term), *prefix, flags);
        }
        let index = builder.build();
        let (acme, phrase, nord, no, long, parc) = (0, 1, 2, 3, 4, 5);
        let cases: &[(&str, &[(u32, usize)])] = &[
            ("Acme", &[(acme, 0)]),
            ("acmes", &[]),
            ("de la acme", &[(acme, 2), (phrase, 0)]),
            ("de la, acme", &[(acme, 2), (phrase, 0)]),
            ("la acme", &[(acme, 1)]),
            ("Nordvent", &[(nord, 0), (no, 0)]),
            ("nord", &[(nord, 0), (no, 0)]),
            ("nor no", &[(no, 0), (no, 1)]),
            ("Nordventissimos", &[(nord, 0), (no, 0), (long, 0)]),
            ("le parc éolien", &[(parc, 1)]),
            ("le parc éoliennes", &[(parc, 1)]),
            ("le parc éolie", &[]),
            ("parc", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(
                found(&index, text),
                *expected,
                "in {text:?}, flags {flags:#x}"
            );
        }
    }

    #[test]
    fn prefixes_longer_than_the_gate_mask_are_found() {
        let long = "a".repeat(70);
        let mut builder = Builder::default();
        builder.add(0, std::slice::from_ref(&long), true, 0);
        builder.add(1, &[long[..64].to_string()], true, 0);
        let index = builder.build();
        assert_eq!(found(&index, &long[..69]), vec![(1, 0)]);
        assert_eq!(found(&index, &format!("x {long}b")), vec![(0, 1), (1, 1)]);
    }

    #[test]
    fn table_finds_every_key_and_nothing_else() {
        let entries: HashMap<Vec<u8>, Vec<u32>> = (0..1000u32)
            .map(|i| (format!("k{i}").into_bytes(), (0..i % 4).collect()))
            .collect();
        let table = Table::build(entries);
        for i in 0..1000u32 {
            let key = format!("k{i}");
            let range = table.get(key.as_bytes(), hash(key.as_bytes()));
            let values: Vec<u32> = range.map(|r| table.values(r).collect()).unwrap_or_default();
            assert_eq!(values, (0..i % 4).collect::<Vec<_>>(), "{key}");
            assert!(range.is_some(), "{key}");
        }
        assert_eq!(table.get(b"k1000", hash(b"k1000")), None);
        assert_eq!(table.get(b"", hash(b"")), None);
        assert_eq!(Table::default().get(b"k1", hash(b"k1")), None);
    }
}
