//! Matching item text against every watch.
//!
//! The engine is handed watches (id + compiled [`Query`]) once and items many times. It knows
//! nothing of sources or storage: the caller decides which watches apply to which source.
//!
//! Design: every distinct term of every watch (identical terms across watches are one) is
//! registered in one token index (see `index`): a word or phrase under one of its words, a
//! prefix under its bytes. An item is tokenized once per field (see [`normalize`]) and each
//! token is hashed once and looked up once, so the scan costs the same per token whether
//! there is one watch or ten thousand; a phrase is confirmed by comparing the folded bytes
//! from where it would start. `=Exact` terms are looked up in their folded form and checked
//! against the original text only where they occur, so the text is folded once. The scan
//! records one hit per occurrence of a term, whatever the number of watches using it.
//!
//! Only *candidate* watches are then evaluated: those that own an occurring *anchor* term.
//! A query's anchors are terms such that the query cannot be true unless one of them occurs:
//! every branch of an OR, and for an AND or a NEAR only its most selective side (longest,
//! exact, multi-word terms beat short words and prefixes). So `acme NEAR/5 rachat` is looked
//! at when `acme` occurs, not on every item that says "rachat". The other words and phrases
//! of the watches (`rachat` here, exclusions, context words) are *deferred*: the scan does
//! not look them up; once the candidates are known, their deferred terms alone go into a
//! small table that the tokens' hashes, kept from the scan, probe again. With thousands of
//! watches, context words cover much of a language's vocabulary, so looking them all up in
//! the big table would cost a cache miss on most tokens of every item; the small table stays
//! in the first-level cache. The cost of an item is the scan (linear in the text) plus work
//! proportional to the candidates and their hits, never a loop over all watches; the
//! buffers are per thread and reused, and the ids and terms a match reports are shared
//! (`Arc<str>`), so a warm matcher allocates only the vectors of the matches it returns.
//!
//! Meta operators (`site:`, `source:`, `tag:`, `author:`, `lang:`) look at an item's origin
//! ([`ItemMeta`]), not its words. In a query with words they are never anchors: `acme AND
//! -site:x` is looked at when "acme" occurs, and its `site:` is checked then, for that
//! candidate only (the link's host is worked out once per item, the first time an operator
//! needs it). A watch that has no word to be anchored on (`site:marque.fr`, `lang:en
//! tag:presse`) is anchored on a meta operator instead: such watches sit in a map by the
//! value they want, which an item probes with its host and parent domains, source, tags,
//! author tokens and language; so a list of word watches costs nothing more per item, and
//! meta-only watches cost a few map lookups.
//!
//! Trade-off: looking tokens up instead of running a byte automaton (aho-corasick, the
//! previous design) ties the engine to the tokenizer: a term can only be found at token
//! boundaries, which is what the language means anyway, and a prefix term costs a second
//! lookup per token. In exchange, the per-token cost no longer grows with the automaton,
//! which past a few thousand patterns stopped fitting in the CPU caches (figures in
//! benches/matching.rs).

mod index;
pub mod normalize;
pub mod query;
pub mod snippet;

pub use query::{Meta, MetaTerm, Node, Query, QueryError, Term, site_form};
pub use snippet::{Snippet, snippet};

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Field, Item, TermHit, WatchId, WatchMatch};
use index::{ANCHOR, EXACT, Index};
use normalize::Tokens;

/// All watches, ready to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    watches: Vec<Compiled>,
    index: Index,
    /// Every distinct term: a pattern id indexes this.
    patterns: Vec<Pattern>,
    /// The watches anchored on a meta operator (`site:marque.fr`, `tag:presse AND
    /// -acme`…), by the value an item must have for them to be candidates.
    by_meta: HashMap<MetaKey, Vec<u32>>,
}

/// What an item is looked up by in [`Matcher::by_meta`]: a meta operator's kind and value
/// (for `author:`, its first token).
type MetaKey = (u8, String);

/// What the matcher knows of an item besides its words, for the meta operators.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemMeta<'a> {
    /// The item's link (`site:` looks at its host).
    pub link: Option<&'a str>,
    /// The id of the item's source (`source:`).
    pub source: Option<&'a str>,
    /// The tags of the item's source (`tag:`).
    pub tags: &'a [String],
    /// Who wrote it, as stored (`author:`).
    pub author: Option<&'a str>,
    /// Its language code (`lang:`).
    pub lang: Option<&'a str>,
}

/// The text of an item, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub body: &'a str,
}

impl<'a> ItemMeta<'a> {
    /// What the meta operators look at in `item`, whose source has `tags`.
    pub fn of(item: &'a Item, tags: &'a [String]) -> ItemMeta<'a> {
        ItemMeta {
            link: item.url.as_deref(),
            source: Some(item.source.as_str()),
            tags,
            author: item.author.as_deref(),
            lang: item.lang.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
struct Compiled {
    id: WatchId,
    query: Query,
    /// The pattern id of each term.
    patterns: Vec<u32>,
    /// Each term as written, shared by every hit reported for it.
    displays: Vec<Arc<str>>,
    /// Each meta operator as written, shared by every match that reports it.
    held: Vec<Arc<str>>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The folded tokens looked for.
    folded: Vec<String>,
    /// How many tokens the pattern covers.
    tokens: u32,
    /// For `=Exact` terms, the tokens as written, checked against the original text.
    exact: Option<Vec<String>>,
    prefix: bool,
    /// The watches for which this pattern is an anchor.
    anchor_of: Vec<u32>,
}

/// One occurrence of a pattern in a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    pattern: u32,
    field: u8,
    position: u32,
}

const FIELDS: [Field; 2] = [Field::Title, Field::Body];

/// Token buffers larger than this (bytes of text) are freed after the item.
const MAX_KEPT_BUFFER: usize = 1 << 20;

fn field_index(field: Field) -> u8 {
    match field {
        Field::Title => 0,
        Field::Body => 1,
    }
}

/// What makes two terms the same: folded tokens, prefix or not, and the exact tokens of an
/// `=Exact` term.
type TermKey = (Vec<String>, bool, Option<Vec<String>>);

/// Collects the distinct terms of all watches.
#[derive(Default)]
struct PatternSet {
    terms: HashMap<TermKey, u32>,
    patterns: Vec<Pattern>,
}

impl PatternSet {
    /// The pattern id of a term. An `=Exact` term is searched in its folded form and
    /// checked against the original text where it occurs, so the text is folded once.
    fn add(&mut self, term: &Term) -> u32 {
        let folded: Vec<String> = if term.exact {
            term.tokens
                .iter()
                .flat_map(|t| normalize::tokens(t))
                .collect()
        } else {
            term.tokens.clone()
        };
        let exact = term.exact.then(|| term.tokens.clone());
        let key = (folded, term.prefix, exact);
        if let Some(&id) = self.terms.get(&key) {
            return id;
        }
        let id = self.patterns.len() as u32;
        let (folded, prefix, exact) = key.clone();
        self.terms.insert(key, id);
        self.patterns.push(Pattern {
            tokens: folded.len() as u32,
            folded,
            exact,
            prefix,
            anchor_of: Vec::new(),
        });
        id
    }
}

impl Matcher {
    pub fn new(watches: Vec<(WatchId, Query)>) -> Matcher {
        let mut set = PatternSet::default();
        let local: Vec<Vec<u32>> = watches
            .iter()
            .map(|(_, query)| query.terms().iter().map(|t| set.add(t)).collect())
            .collect();
        let mut patterns = std::mem::take(&mut set.patterns);
        let mut compiled = Vec::with_capacity(watches.len());
        let mut by_meta: HashMap<MetaKey, Vec<u32>> = HashMap::new();
        for (w, ((id, query), local)) in watches.into_iter().zip(local).enumerate() {
            let ids = local;
            let mut owned: Vec<u32> = Vec::new();
            for anchor in anchors(query.root(), query.terms())
                .map(|(anchors, _)| anchors)
                .unwrap_or_default()
            {
                match anchor {
                    Anchor::Term(t) => owned.extend(ids.get(t).copied()),
                    Anchor::Meta(m) => {
                        if let Some(meta) = query.metas().get(m) {
                            let list = by_meta.entry(meta_key(&meta.meta)).or_default();
                            if list.last() != Some(&(w as u32)) {
                                list.push(w as u32);
                            }
                        }
                    }
                }
            }
            owned.sort_unstable();
            owned.dedup();
            for pattern in owned {
                if let Some(p) = patterns.get_mut(pattern as usize) {
                    p.anchor_of.push(w as u32);
                }
            }
            let displays = query
                .terms()
                .iter()
                .map(|t| Arc::from(t.display.as_str()))
                .collect();
            let held = query
                .metas()
                .iter()
                .map(|m| Arc::from(m.display.as_str()))
                .collect();
            compiled.push(Compiled {
                id,
                query,
                patterns: ids,
                displays,
                held,
            });
        }
        let mut index = index::Builder::default();
        for (id, pattern) in patterns.iter().enumerate() {
            let mut flags = 0;
            if pattern.exact.is_some() {
                flags |= EXACT;
            }
            if !pattern.anchor_of.is_empty() {
                flags |= ANCHOR;
            }
            index.add(id as u32, &pattern.folded, pattern.prefix, flags);
        }
        Matcher {
            watches: compiled,
            index: index.build(),
            patterns,
            by_meta,
        }
    }

    /// Every watch that matches the item, in the order the watches were given, with the
    /// terms that hit (terms under a NOT are never reported) and the meta operators that
    /// held. An item without a link matches no `site:`, one without an author no
    /// `author:`, and so on.
    pub fn match_item(&self, text: ItemText<'_>, meta: &ItemMeta<'_>) -> Vec<WatchMatch> {
        self.with_scratch(text, Some(meta))
    }

    /// Every watch that can match the text on its words, not knowing where the item comes
    /// from: a meta operator counts as neither true nor false (`acme -site:x` and `acme
    /// site:x` both match a text that says "acme"), and a watch that needs a meta
    /// operator to hold for want of any word (`site:marque.fr`) is not reported. For
    /// highlighting words and trying risk terms; the pipeline uses [`Matcher::match_item`].
    pub fn match_text(&self, text: ItemText<'_>) -> Vec<WatchMatch> {
        self.with_scratch(text, None)
    }

    fn with_scratch(&self, text: ItemText<'_>, meta: Option<&ItemMeta<'_>>) -> Vec<WatchMatch> {
        thread_local! {
            // Buffers reused from item to item: no allocation per item once warm.
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let found = self.match_in(text, meta, &mut scratch);
                scratch.trim();
                found
            }
            Err(_) => self.match_in(text, meta, &mut Scratch::default()),
        })
    }

    fn match_in(
        &self,
        text: ItemText<'_>,
        meta: Option<&ItemMeta<'_>>,
        scratch: &mut Scratch,
    ) -> Vec<WatchMatch> {
        let Scratch {
            fields,
            hashes,
            hits,
            anchors,
            candidates,
            ranges,
            found,
            deferred,
            table,
        } = scratch;
        fields[0].fill(text.title, false);
        fields[1].fill(text.body, false);
        let fields = &*fields;
        let texts = [text.title, text.body];
        hits.clear();
        anchors.clear();
        for (field, (tokens, text)) in fields.iter().zip(texts).enumerate() {
            self.index.scan(
                tokens,
                &mut hashes[field],
                self.recorder(field as u8, tokens, text, hits, anchors),
            );
        }
        let facts = meta.map(Facts::new);
        candidates.clear();
        if let Some(facts) = &facts
            && !self.by_meta.is_empty()
        {
            self.meta_candidates(facts, candidates);
        }
        // No watch can be true without one of its anchors.
        if anchors.is_empty() && candidates.is_empty() {
            return Vec::new();
        }
        anchors.sort_unstable();
        anchors.dedup();
        for &pattern in anchors.iter() {
            if let Some(pattern) = self.patterns.get(pattern as usize) {
                candidates.extend_from_slice(&pattern.anchor_of);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();

        // The candidates' deferred terms are looked for now, and only now.
        deferred.clear();
        for &w in candidates.iter() {
            if let Some(watch) = self.watches.get(w as usize) {
                deferred.extend(
                    watch
                        .patterns
                        .iter()
                        .copied()
                        .filter(|&p| self.index.is_deferred(p)),
                );
            }
        }
        if !deferred.is_empty() {
            deferred.sort_unstable();
            deferred.dedup();
            self.index.deferred_table(deferred, table);
            for (field, (tokens, text)) in fields.iter().zip(texts).enumerate() {
                self.index.scan_deferred(
                    tokens,
                    &hashes[field],
                    table,
                    self.recorder(field as u8, tokens, text, hits, anchors),
                );
            }
        }
        hits.sort_unstable();

        let mut matches = Vec::new();
        for &w in candidates.iter() {
            let Some(watch) = self.watches.get(w as usize) else {
                continue;
            };
            let eval = Eval::new(hits, watch, &self.patterns, ranges, facts.as_ref());
            if eval.truth(watch.query.root()) == Truth::No {
                continue;
            }
            found.clear();
            for (t, (term, display)) in watch.query.terms().iter().zip(&watch.displays).enumerate()
            {
                if term.negated {
                    continue;
                }
                for hit in eval.hits(t) {
                    let tokens = &fields[hit.field as usize];
                    let len = self
                        .patterns
                        .get(hit.pattern as usize)
                        .map_or(1, |p| p.tokens);
                    let (Some(first), Some(last)) = (
                        tokens.spans.get(hit.position as usize),
                        tokens
                            .spans
                            .get((hit.position + len).saturating_sub(1) as usize),
                    ) else {
                        continue;
                    };
                    found.push((
                        hit.field,
                        hit.position,
                        t,
                        TermHit {
                            term: display.clone(),
                            field: FIELDS[hit.field as usize],
                            position: hit.position as usize,
                            start: first.start as usize,
                            end: last.end as usize,
                        },
                    ));
                }
            }
            found.sort_by_key(|(field, position, term, _)| (*field, *position, *term));
            let held = match &facts {
                Some(facts) if !watch.held.is_empty() => held(watch, facts),
                _ => Vec::new(),
            };
            matches.push(WatchMatch {
                watch: watch.id.clone(),
                hits: found.drain(..).map(|(_, _, _, hit)| hit).collect(),
                held,
            });
        }
        matches
    }
}

impl Matcher {
    /// Adds to `candidates` the watches anchored on a meta operator the item satisfies.
    /// Out of line: most watch lists have none, and the scan's loop stays as tight.
    #[inline(never)]
    fn meta_candidates(&self, facts: &Facts<'_>, candidates: &mut Vec<u32>) {
        facts.each_key(|key| {
            if let Some(watches) = self.by_meta.get(key) {
                candidates.extend_from_slice(watches);
            }
        });
    }
}

/// The meta operators of `watch` that hold for the item (not those under a NOT).
#[inline(never)]
fn held(watch: &Compiled, facts: &Facts<'_>) -> Vec<Arc<str>> {
    watch
        .query
        .metas()
        .iter()
        .zip(&watch.held)
        .filter(|(m, _)| !m.negated && facts.holds(&m.meta))
        .map(|(_, display)| display.clone())
        .collect()
}

/// Per-thread buffers of [`Matcher::match_text`], shared by all matchers of the thread.
#[derive(Debug, Default)]
struct Scratch {
    fields: [Tokens; 2],
    /// The hash of each token of each field.
    hashes: [Vec<u64>; 2],
    hits: Vec<Hit>,
    /// Anchor patterns that occur.
    anchors: Vec<u32>,
    /// Watches that own one of them.
    candidates: Vec<u32>,
    /// Per term of the watch being evaluated, its range of hits.
    ranges: Vec<(usize, usize)>,
    /// Deferred terms of the candidates.
    deferred: Vec<u32>,
    /// The table [`Index::scan_deferred`] builds for them.
    table: Vec<(u32, u32)>,
    /// The hits of the watch being reported, with their sort key.
    found: Vec<(u8, u32, usize, TermHit)>,
}

impl Scratch {
    /// One huge item must not pin its buffers for the life of the thread.
    fn trim(&mut self) {
        for tokens in self.fields.iter_mut() {
            if tokens.folded.capacity() > MAX_KEPT_BUFFER {
                *tokens = Tokens::default();
            }
        }
        if self.hits.capacity() > MAX_KEPT_BUFFER / 8 {
            self.hits = Vec::new();
        }
    }
}

/// What a watch is looked at for: a term that occurs, or a meta operator that holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Term(usize),
    Meta(usize),
}

/// Anchors of which at least one must occur (or hold) for `node` to be true, and how
/// selective they are (higher is rarer); `None` when the node can be true with no term at
/// all (a NOT). A meta operator is the least selective of all, so that a query with words
/// is only looked at when one of its words occurs: `acme AND site:x` costs nothing on
/// items that do not say "acme".
fn anchors(node: &Node, terms: &[Term]) -> Option<(Vec<Anchor>, u32)> {
    match node {
        Node::Term(t) => Some((
            vec![Anchor::Term(*t)],
            terms.get(*t).map_or(0, selectivity).saturating_add(1),
        )),
        Node::Meta(m) => Some((vec![Anchor::Meta(*m)], 0)),
        Node::Or(children) => {
            let mut all = Vec::new();
            let mut score = u32::MAX;
            for child in children {
                let (terms, s) = anchors(child, terms)?;
                all.extend(terms);
                score = score.min(s);
            }
            Some((all, score))
        }
        Node::And(children) => children
            .iter()
            .filter_map(|c| anchors(c, terms))
            .max_by_key(|(_, s)| *s),
        Node::Near { left, right, .. } => [anchors(left, terms), anchors(right, terms)]
            .into_iter()
            .flatten()
            .max_by_key(|(_, s)| *s),
        Node::Not(_) => None,
    }
}

/// The key a meta operator is looked up by (for `author:`, its first token, since an
/// author is looked up token by token).
fn meta_key(meta: &Meta) -> MetaKey {
    match meta {
        Meta::Site(domain) => (0, domain.clone()),
        Meta::Source(id) => (1, id.clone()),
        Meta::Tag(tag) => (2, tag.clone()),
        Meta::Author(tokens) => (3, tokens.first().cloned().unwrap_or_default()),
        Meta::Lang(code) => (4, code.clone()),
    }
}

/// What is known of one item for its meta operators; the link's host and the author's
/// tokens are worked out the first time an operator needs them.
struct Facts<'a> {
    meta: &'a ItemMeta<'a>,
    /// The link's host as `site:` compares it, and whether it is a domain name (an IP
    /// address only matches itself, not a "parent").
    host: OnceCell<Option<(String, bool)>>,
    author: OnceCell<Vec<String>>,
}

impl<'a> Facts<'a> {
    fn new(meta: &'a ItemMeta<'a>) -> Facts<'a> {
        Facts {
            meta,
            host: OnceCell::new(),
            author: OnceCell::new(),
        }
    }

    fn host(&self) -> Option<&(String, bool)> {
        self.host
            .get_or_init(|| {
                let link = self.meta.link?;
                if let Some(host) = plain_host(link) {
                    return Some((site_form(&host).to_string(), true));
                }
                let url = url::Url::parse(link).ok()?;
                match url.host()? {
                    url::Host::Domain(domain) => {
                        Some((site_form(&domain.to_ascii_lowercase()).to_string(), true))
                    }
                    ip => Some((ip.to_string(), false)),
                }
            })
            .as_ref()
    }

    fn author(&self) -> &[String] {
        self.author
            .get_or_init(|| self.meta.author.map(normalize::tokens).unwrap_or_default())
    }

    /// Whether the item satisfies `meta`.
    fn holds(&self, meta: &Meta) -> bool {
        match meta {
            Meta::Site(site) => self.host().is_some_and(|(host, domain)| {
                host == site
                    || (*domain
                        && host.len() > site.len()
                        && host.ends_with(site.as_str())
                        && host.as_bytes()[host.len() - site.len() - 1] == b'.')
            }),
            Meta::Source(id) => self.meta.source == Some(id.as_str()),
            Meta::Tag(tag) => self.meta.tags.iter().any(|t| t == tag),
            Meta::Author(tokens) => {
                !tokens.is_empty() && self.author().windows(tokens.len()).any(|w| w == tokens)
            }
            Meta::Lang(code) => self.meta.lang == Some(code.as_str()),
        }
    }

    /// Calls `each` with every key under which a watch anchored on a meta operator that
    /// this item satisfies can be registered.
    fn each_key(&self, mut each: impl FnMut(&MetaKey)) {
        let mut key: MetaKey = (0, String::new());
        let mut ask = |kind: u8, value: &str| {
            key.0 = kind;
            key.1.clear();
            key.1.push_str(value);
            each(&key);
        };
        if let Some((host, domain)) = self.host() {
            ask(0, host);
            if *domain {
                let mut rest = host.as_str();
                while let Some((_, parent)) = rest.split_once('.') {
                    ask(0, parent);
                    rest = parent;
                }
            }
        }
        if let Some(source) = self.meta.source {
            ask(1, source);
        }
        for tag in self.meta.tags {
            ask(2, tag);
        }
        for token in self.author() {
            ask(3, token);
        }
        if let Some(lang) = self.meta.lang {
            ask(4, lang);
        }
    }
}

/// The host of an `http(s)` link whose host is a plain ASCII domain name, in lower case,
/// without parsing the whole URL (most links are such, and an item's host is needed each
/// time a watch says `site:`). `None` for anything else (user info, IP addresses, escapes,
/// IDNs, other schemes), which the URL parser then reads as a browser would.
fn plain_host(link: &str) -> Option<String> {
    let (scheme, rest) = link.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => authority,
    };
    let domain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && host.bytes().any(|b| b.is_ascii_alphabetic())
        && !host.starts_with("xn--")
        && !host.contains(".xn--");
    // A host whose last label is a number could be an IPv4 address in a form the URL
    // parser normalizes (`0x7f.1`): left to it.
    let last = host.trim_end_matches('.').rsplit('.').next()?;
    (domain && !last.bytes().all(|b| b.is_ascii_digit()) && !last.starts_with("0x"))
        .then(|| host.to_ascii_lowercase())
}

/// The value of a query, or of part of one: a meta operator whose item is not known is
/// [`Truth::Maybe`] (see [`Matcher::match_text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Truth {
    No,
    Maybe,
    Yes,
}

impl Truth {
    fn from(yes: bool) -> Truth {
        if yes { Truth::Yes } else { Truth::No }
    }
}

/// Words so common in French and English news that a term made of them is a poor anchor.
const COMMON: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "dans", "de", "des", "du", "elle", "en", "est", "et", "il",
    "la", "le", "les", "mais", "ne", "pas", "par", "plus", "pour", "qui", "que", "sur", "un",
    "une", "and", "are", "as", "at", "be", "by", "for", "from", "has", "he", "in", "is", "it",
    "of", "on", "or", "said", "that", "the", "to", "was", "with",
];

/// A rough rarity score: longer and multi-word terms are rarer; exact terms rarer still;
/// prefixes and very common words match often.
fn selectivity(term: &Term) -> u32 {
    let mut score: u32 = term
        .tokens
        .iter()
        .map(|t| {
            if COMMON.contains(&t.to_lowercase().as_str()) {
                1
            } else {
                t.chars().count() as u32
            }
        })
        .sum();
    score += 4 * (term.tokens.len() as u32).saturating_sub(1);
    if term.exact {
        score += 3;
    }
    if term.prefix {
        score = score.saturating_sub(3);
    }
    // Admins capitalize names (`Macron NEAR/5 retraites`): a name is rarer than a word.
    if term
        .display
        .trim_start_matches(['=', '"'])
        .starts_with(char::is_uppercase)
    {
        score += 8;
    }
    score
}

impl Matcher {
    /// What a scan of one field calls for each term it finds: an `=Exact` term is checked
    /// against the text as written, then the occurrence is recorded, and so is the term
    /// when it anchors some watch.
    fn recorder<'s>(
        &'s self,
        field: u8,
        tokens: &'s Tokens,
        text: &'s str,
        out: &'s mut Vec<Hit>,
        anchors: &'s mut Vec<u32>,
    ) -> impl FnMut(u32, u32, usize) + 's {
        move |id, flags, position| {
            if flags & EXACT != 0 {
                let Some(pattern) = self.patterns.get(id as usize) else {
                    return;
                };
                if let Some(exact) = &pattern.exact
                    && !is_exact(
                        text,
                        tokens,
                        position,
                        pattern.tokens,
                        exact,
                        pattern.prefix,
                    )
                {
                    return;
                }
            }
            if flags & ANCHOR != 0 {
                anchors.push(id);
            }
            out.push(Hit {
                pattern: id,
                field,
                position: position as u32,
            });
        }
    }
}

/// Whether the `covers` tokens of `text` from `position` are `exact` as written (case and
/// accents; for a prefix term, the last one starts as written).
fn is_exact(
    text: &str,
    tokens: &Tokens,
    position: usize,
    covers: u32,
    exact: &[String],
    prefix: bool,
) -> bool {
    let first = tokens.spans.get(position);
    let last = tokens.spans.get(position + (covers.max(1) as usize) - 1);
    let (Some(first), Some(last)) = (first, last) else {
        return false;
    };
    let Some(span) = text.get(first.start as usize..last.end as usize) else {
        return false;
    };
    let written = normalize::exact_tokens(span);
    if written.len() != exact.len() {
        return false;
    }
    match (exact.split_last(), written.split_last()) {
        (Some((tail, head)), Some((written_tail, written_head))) if prefix => {
            written_head == head && written_tail.starts_with(tail.as_str())
        }
        _ => written == exact,
    }
}

/// A watch's query evaluated against the hits of an item (sorted by pattern) and what is
/// known of the item (`None`: nothing, see [`Matcher::match_text`]).
struct Eval<'a> {
    hits: &'a [Hit],
    facts: Option<&'a Facts<'a>>,
    watch: &'a Compiled,
    patterns: &'a [Pattern],
    /// For each term, its pattern's hits: a range of `hits`.
    ranges: &'a [(usize, usize)],
}

/// Where a sub-query holds: field and token range `[start, end)`.
type Span = (u8, u32, u32);

impl<'a> Eval<'a> {
    fn new(
        hits: &'a [Hit],
        watch: &'a Compiled,
        patterns: &'a [Pattern],
        ranges: &'a mut Vec<(usize, usize)>,
        facts: Option<&'a Facts<'a>>,
    ) -> Eval<'a> {
        ranges.clear();
        ranges.extend(watch.patterns.iter().map(|&pattern| {
            let from = hits.partition_point(|h| h.pattern < pattern);
            let len = hits[from..].partition_point(|h| h.pattern <= pattern);
            (from, from + len)
        }));
        Eval {
            hits,
            facts,
            watch,
            patterns,
            ranges,
        }
    }

    /// The hits of term `t`, in the term's field.
    fn hits(&self, t: usize) -> impl Iterator<Item = &Hit> {
        let (from, to) = self.ranges.get(t).copied().unwrap_or((0, 0));
        let field = self
            .watch
            .query
            .terms()
            .get(t)
            .and_then(|term| term.field)
            .map(field_index);
        self.hits[from..to]
            .iter()
            .filter(move |h| field.is_none_or(|f| f == h.field))
    }

    fn tokens(&self, hit: &Hit) -> u32 {
        self.patterns
            .get(hit.pattern as usize)
            .map_or(1, |p| p.tokens)
    }

    fn truth(&self, node: &Node) -> Truth {
        match node {
            Node::Term(t) => Truth::from(self.hits(*t).next().is_some()),
            Node::Meta(m) => match (self.facts, self.watch.query.metas().get(*m)) {
                (Some(facts), Some(meta)) => Truth::from(facts.holds(&meta.meta)),
                (Some(_), None) => Truth::No,
                (None, _) => Truth::Maybe,
            },
            Node::And(children) => {
                let mut all = Truth::Yes;
                for child in children {
                    all = all.min(self.truth(child));
                    if all == Truth::No {
                        break;
                    }
                }
                all
            }
            Node::Or(children) => {
                let mut any = Truth::No;
                for child in children {
                    any = any.max(self.truth(child));
                    if any == Truth::Yes {
                        break;
                    }
                }
                any
            }
            Node::Not(inner) => match self.truth(inner) {
                Truth::Yes => Truth::No,
                Truth::No => Truth::Yes,
                Truth::Maybe => Truth::Maybe,
            },
            Node::Near { .. } => Truth::from(!self.spans(node).is_empty()),
        }
    }

    fn spans(&self, node: &Node) -> Vec<Span> {
        match node {
            Node::Term(t) => self
                .hits(*t)
                .map(|h| (h.field, h.position, h.position + self.tokens(h)))
                .collect(),
            Node::And(children) => {
                if children.iter().all(|c| self.truth(c) != Truth::No) {
                    children.iter().flat_map(|c| self.spans(c)).collect()
                } else {
                    Vec::new()
                }
            }
            Node::Or(children) => children.iter().flat_map(|c| self.spans(c)).collect(),
            Node::Not(_) | Node::Meta(_) => Vec::new(),
            Node::Near {
                left,
                right,
                distance,
            } => {
                let left = self.spans(left);
                let right = self.spans(right);
                let mut near = Vec::new();
                for a in &left {
                    for b in &right {
                        if a.0 != b.0 {
                            continue;
                        }
                        let (first, second) = if a.1 <= b.1 { (a, b) } else { (b, a) };
                        // Two distinct places, with at most `distance` tokens between them.
                        if second.1 >= first.2 && second.1 - first.2 <= *distance {
                            near.push((a.0, first.1, first.2.max(second.2)));
                        }
                    }
                }
                near
            }
        }
    }
}

#[cfg(test)]
mod meta_tests;
#[cfg(test)]
mod tests;
