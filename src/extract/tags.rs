//! A linear pass over HTML that finds its tags as html5ever's tokenizer will, to strip the
//! attributes of tags that carry too many.
//!
//! Why: html5ever's tokenizer checks each new attribute name of a tag against all the
//! earlier ones, so one tag of 100,000 attributes (under a megabyte) costs billions of
//! comparisons, and nothing outside the tokenizer can stop it mid-tag. So tags are found
//! first, here, with the tokenizer's own states for tags, comments, doctypes, CDATA and raw
//! text; a tag with more than [`MAX_ATTRIBUTES`] attributes is rewritten as the bare tag
//! (`<a x1 x2 …>` → `<a>`): the element stays, its attributes go. Where raw text starts
//! (after `<script>`, `<textarea>`…, never in SVG) is decided by the same [`Context`] that
//! drives the text reader, so for [`html_to_text`](super::html_to_text) both see the same
//! tags. The page parser's tree builder decides raw text in a few more places (inside
//! `<select>`, for instance); there the time budget is the backstop.
//!
//! Trade-off: one more pass over every HTML text (a byte loop, a small fraction of
//! tokenizing), and a copy only when a tag is rewritten.

use std::borrow::Cow;
use std::ops::Range;

use html5ever::tokenizer::states::RawKind;

use super::find_from;
use super::html::{Context, Then};
use super::limits::MAX_ATTRIBUTES;

/// `html` with the attributes of every tag of more than [`MAX_ATTRIBUTES`] attributes
/// removed; borrowed when there is none.
pub(crate) fn tame(html: &str) -> Cow<'_, str> {
    let crowded = crowded_tags(html);
    if crowded.is_empty() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut from = 0;
    for tag in crowded {
        out.push_str(&html[from..tag.span.start]);
        out.push_str(if tag.end { "</" } else { "<" });
        out.push_str(&html[tag.name_span.clone()]);
        if tag.self_closing {
            out.push('/');
        }
        out.push('>');
        from = tag.span.end;
    }
    out.push_str(&html[from..]);
    Cow::Owned(out)
}

/// A tag as the scanner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedTag {
    /// From `<` to after `>`.
    pub span: Range<usize>,
    /// The name as written.
    pub name_span: Range<usize>,
    pub end: bool,
    /// The name in ASCII lower case, as the tokenizer reports it (other bytes are kept as
    /// Latin-1 characters: a name is compared with ASCII names, never shown).
    pub name: String,
    pub self_closing: bool,
    /// Attribute names read, duplicates included (the tokenizer compares each).
    pub attributes: usize,
    /// Whether a `color`, `face` or `size` attribute is among them (a `<font>` with one
    /// ends SVG and MathML).
    pub presentational: bool,
}

fn crowded_tags(html: &str) -> Vec<ScannedTag> {
    let mut crowded = Vec::new();
    scan(html, |tag| {
        if tag.attributes > MAX_ATTRIBUTES {
            crowded.push(tag.clone());
        }
    });
    crowded
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

/// Calls `each` with every start and end tag of `html`, in order. Linear in the input.
pub(crate) fn scan(html: &str, mut each: impl FnMut(&ScannedTag)) {
    let b = html.as_bytes();
    let mut context = Context::default();
    let mut i = 0;
    // The raw-text state the last start tag put the tokenizer in, and that tag's name.
    let mut raw: Option<(RawKind, String)> = None;
    while i < b.len() {
        if let Some((kind, name)) = raw.take() {
            let Some(at) = raw_text_end(b, i, kind, &name) else {
                return;
            };
            let Some(tag) = read_tag(b, at, at + 2, true) else {
                return;
            };
            context.end_tag(&tag.name);
            i = tag.span.end;
            each(&tag);
            continue;
        }
        let Some(lt) = b[i..].iter().position(|&c| c == b'<') else {
            return;
        };
        let at = i + lt;
        i = at + 1;
        match b.get(i) {
            Some(b'!') => i = markup_declaration_end(b, i + 1, context.in_foreign_content()),
            Some(b'?') => i = bogus_comment_end(b, i),
            Some(b'/') => match b.get(i + 1) {
                Some(c) if c.is_ascii_alphabetic() => {
                    let Some(tag) = read_tag(b, at, i + 1, true) else {
                        return;
                    };
                    context.end_tag(&tag.name);
                    i = tag.span.end;
                    each(&tag);
                }
                Some(b'>') => i += 2,
                Some(_) => i = bogus_comment_end(b, i + 1),
                None => return,
            },
            Some(c) if c.is_ascii_alphabetic() => {
                let Some(tag) = read_tag(b, at, i, false) else {
                    return;
                };
                let (then, _) = context.start_tag(&tag.name, tag.self_closing, tag.presentational);
                i = tag.span.end;
                each(&tag);
                match then {
                    Then::Markup => {}
                    Then::Raw(kind) => raw = Some((kind, tag.name)),
                    Then::Plaintext => return,
                }
            }
            _ => {}
        }
    }
}

/// After `<!`: the end of the comment, doctype, CDATA section or bogus comment.
fn markup_declaration_end(b: &[u8], from: usize, foreign: bool) -> usize {
    let rest = &b[from.min(b.len())..];
    if rest.starts_with(b"--") {
        let start = from + 2;
        // `<!-->` and `<!--->` end at once; otherwise `-->` or `--!>` ends the comment.
        if b.get(start) == Some(&b'>') {
            return start + 1;
        }
        if b.get(start..start + 2) == Some(b"->") {
            return start + 2;
        }
        return comment_end(b, start);
    }
    if foreign && rest.starts_with(b"[CDATA[") {
        return find_from(b, from + 7, b"]]>").map_or(b.len(), |e| e + 3);
    }
    // A doctype ends at the first `>` in every one of its states, like a bogus comment.
    bogus_comment_end(b, from)
}

/// From inside a comment: the index after the `-->` or `--!>` that ends it.
fn comment_end(b: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(dashes) = find_from(b, at, b"--") {
        match b.get(dashes + 2) {
            Some(b'>') => return dashes + 3,
            Some(b'!') if b.get(dashes + 3) == Some(&b'>') => return dashes + 4,
            _ => at = dashes + 1,
        }
    }
    b.len()
}

fn bogus_comment_end(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| c == b'>'))
        .map_or(b.len(), |e| from + e + 1)
}

/// Where the end tag closing raw text starts (`</name` followed by a space, `/` or `>`).
fn raw_text_end(b: &[u8], from: usize, kind: RawKind, name: &str) -> Option<usize> {
    match kind {
        RawKind::ScriptData | RawKind::ScriptDataEscaped(_) => script_end(b, from),
        RawKind::Rcdata | RawKind::Rawtext => {
            let mut at = from;
            loop {
                let lt = find_from(b, at, b"</")?;
                if is_end_of(b, lt, name) {
                    return Some(lt);
                }
                at = lt + 2;
            }
        }
    }
}

/// Whether `</name` is at `lt`, followed by what ends a tag name.
fn is_end_of(b: &[u8], lt: usize, name: &str) -> bool {
    let start = lt + 2;
    let end = start + name.len();
    b.get(lt..start) == Some(b"</")
        && b.get(start..end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        && b.get(end)
            .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>')
}

/// Where `</script` ends script data, following the tokenizer's escaped states: inside
/// `<!-- … -->`, a `<script` opens a "double escaped" part where `</script>` does not end.
fn script_end(b: &[u8], from: usize) -> Option<usize> {
    enum State {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let script_tag = |at: usize| {
        b.get(at + 1..at + 7)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"script"))
            && b.get(at + 7)
                .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>')
    };
    let mut state = State::Data;
    let mut i = from;
    while i < b.len() {
        let rest = &b[i..];
        (state, i) = match (state, b[i]) {
            // `<!--` ends on its own dashes when followed by `>` (`<!-->`): step onto them.
            (State::Data, b'<') if rest.starts_with(b"<!--") => (State::Escaped, i + 2),
            (State::Data | State::Escaped, b'<') if is_end_of(b, i, "script") => return Some(i),
            (State::Escaped, b'<') if script_tag(i) => (State::DoubleEscaped, i + 7),
            (State::DoubleEscaped, b'<') if is_end_of(b, i, "script") => (State::Escaped, i + 8),
            (State::Escaped | State::DoubleEscaped, b'-') if rest.starts_with(b"-->") => {
                (State::Data, i + 3)
            }
            (state, _) => (state, i + 1),
        };
    }
    None
}

/// Reads the tag starting at `lt` (`<`), its name at `name_start`, through the tokenizer's
/// tag states. `None` when the input ends inside the tag (the tokenizer drops it).
fn read_tag(b: &[u8], lt: usize, name_start: usize, end: bool) -> Option<ScannedTag> {
    #[derive(Clone, Copy)]
    enum State {
        Name,
        BeforeAttribute,
        /// In an attribute name that started at this index.
        Attribute(usize),
        AfterAttribute,
        BeforeValue,
        Quoted(u8),
        Unquoted,
        AfterQuoted,
        SelfClosing,
    }
    let mut tag = ScannedTag {
        span: lt..lt,
        name_span: name_start..name_start,
        end,
        name: String::new(),
        self_closing: false,
        attributes: 0,
        presentational: false,
    };
    let mut state = State::Name;
    let mut i = name_start;
    while i < b.len() {
        let c = b[i];
        let space = is_space(c);
        // Where the tag ends, and whether as `/>`.
        let mut closes = None;
        let mut reconsume = false;
        state = match state {
            State::Name if space => State::BeforeAttribute,
            State::Name if c == b'/' => State::SelfClosing,
            State::Name if c == b'>' => {
                closes = Some(false);
                State::Name
            }
            State::Name => {
                tag.name.push(c.to_ascii_lowercase() as char);
                tag.name_span.end = i + 1;
                State::Name
            }
            State::BeforeAttribute if space => State::BeforeAttribute,
            State::BeforeAttribute | State::AfterAttribute if c == b'/' || c == b'>' => {
                reconsume = matches!(state, State::BeforeAttribute);
                match (c, reconsume) {
                    (_, true) => State::AfterAttribute,
                    (b'/', false) => State::SelfClosing,
                    _ => {
                        closes = Some(false);
                        State::AfterAttribute
                    }
                }
            }
            State::AfterAttribute if space => State::AfterAttribute,
            State::AfterAttribute if c == b'=' => State::BeforeValue,
            State::BeforeAttribute | State::AfterAttribute => {
                tag.attributes += 1;
                State::Attribute(i)
            }
            State::Attribute(start) if space || c == b'/' || c == b'>' || c == b'=' => {
                let name = &b[start..i];
                tag.presentational |= [&b"color"[..], b"face", b"size"]
                    .iter()
                    .any(|p| name.eq_ignore_ascii_case(p));
                if c == b'=' {
                    State::BeforeValue
                } else {
                    reconsume = true;
                    State::AfterAttribute
                }
            }
            State::Attribute(start) => State::Attribute(start),
            State::BeforeValue if space => State::BeforeValue,
            State::BeforeValue if c == b'"' || c == b'\'' => State::Quoted(c),
            State::BeforeValue if c == b'>' => {
                closes = Some(false);
                State::BeforeValue
            }
            State::BeforeValue => {
                reconsume = true;
                State::Unquoted
            }
            State::Quoted(quote) => {
                // Straight to the closing quote: values are most of a tag's bytes.
                i += b[i..].iter().position(|&x| x == quote)?;
                State::AfterQuoted
            }
            State::Unquoted if space => State::BeforeAttribute,
            State::Unquoted if c == b'>' => {
                closes = Some(false);
                State::Unquoted
            }
            State::Unquoted => State::Unquoted,
            State::AfterQuoted if space => State::BeforeAttribute,
            State::AfterQuoted if c == b'/' => State::SelfClosing,
            State::AfterQuoted if c == b'>' => {
                closes = Some(false);
                State::AfterQuoted
            }
            State::AfterQuoted => {
                reconsume = true;
                State::BeforeAttribute
            }
            State::SelfClosing if c == b'>' => {
                closes = Some(true);
                State::SelfClosing
            }
            State::SelfClosing => {
                reconsume = true;
                State::BeforeAttribute
            }
        };
        if let Some(self_closing) = closes {
            tag.span.end = i + 1;
            tag.self_closing = self_closing;
            return Some(tag);
        }
        if !reconsume {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use html5ever::tendril::StrTendril;
    use html5ever::tokenizer::{
        BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    };
    use proptest::prelude::*;

    use super::*;
    use crate::extract::testing;

    /// A tag as (end tag?, name, self-closing?).
    type Seen = (bool, String, bool);

    /// The tags html5ever's tokenizer emits when the same [`Context`] as the text reader
    /// drives it: what the scanner must find.
    #[derive(Default)]
    struct Recorder {
        context: RefCell<Context>,
        tags: RefCell<Vec<Seen>>,
    }

    impl TokenSink for Recorder {
        type Handle = ();

        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            let Token::TagToken(tag) = token else {
                return TokenSinkResult::Continue;
            };
            let end = tag.kind == TagKind::EndTag;
            self.tags
                .borrow_mut()
                .push((end, tag.name.to_string(), tag.self_closing));
            let mut context = self.context.borrow_mut();
            if end {
                context.end_tag(&tag.name);
                return TokenSinkResult::Continue;
            }
            let presentational = tag
                .attrs
                .iter()
                .any(|a| matches!(&*a.name.local, "color" | "face" | "size"));
            match context
                .start_tag(&tag.name, tag.self_closing, presentational)
                .0
            {
                Then::Markup => TokenSinkResult::Continue,
                Then::Raw(kind) => TokenSinkResult::RawData(kind),
                Then::Plaintext => TokenSinkResult::Plaintext,
            }
        }

        fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
            self.context.borrow().in_foreign_content()
        }
    }

    fn tokenized(html: &str) -> Vec<Seen> {
        let tokenizer = Tokenizer::new(Recorder::default(), TokenizerOpts::default());
        let input = BufferQueue::default();
        input.push_back(StrTendril::from_slice(html));
        let _ = tokenizer.feed(&input);
        tokenizer.end();
        tokenizer.sink.tags.take()
    }

    fn scanned(html: &str) -> Vec<Seen> {
        let mut tags = Vec::new();
        scan(html, |tag| {
            // The name as written, lower-cased like the tokenizer does (ASCII only).
            let name = html[tag.name_span.clone()].to_ascii_lowercase();
            tags.push((tag.end, name, tag.self_closing));
        });
        tags
    }

    #[test]
    fn finds_the_tags_the_tokenizer_finds_in_the_corpus() {
        let texts = testing::corpus_html();
        assert!(texts.len() > 2_000, "the corpus is missing");
        for (name, html) in &texts {
            assert_eq!(scanned(html), tokenized(html), "{name}");
        }
    }

    /// Pieces of markup that exercise every state of the scanner.
    const PIECES: &[&str] = &[
        "<",
        ">",
        "</",
        "/>",
        "/",
        "!",
        "?",
        "<!--",
        "-->",
        "--",
        "-",
        "--!>",
        "<!-->",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "\t",
        "a",
        "b",
        "p",
        "x",
        "é",
        "&amp;",
        "&",
        "div",
        "br",
        "</br>",
        "</p>",
        "<p>",
        "<script>",
        "</script>",
        "<!--<script>",
        "script",
        "<style>",
        "</style>",
        "style",
        "<title>",
        "</title>",
        "<textarea>",
        "</textarea>",
        "<xmp>",
        "<plaintext>",
        "<svg>",
        "</svg>",
        "svg",
        "<math>",
        "</math>",
        "<mi>",
        "</mi>",
        "<foreignObject>",
        "</foreignObject>",
        "<desc>",
        "<template>",
        "</template>",
        "<font color=x>",
        "<font>",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE",
        "<a href='x>y'>",
        "<b c=\"d>e\" f>",
        "<noscript>",
        "<SCRIPT>",
        "</ScRiPt>",
        "</script x='>'>",
        "</style/>",
        "<!---->",
        "<!--->",
        "\r",
        "\x0C",
        "<a b='c'd>",
        "<noframes>",
        "</noframes>",
        "<noembed>",
        "<iframe>",
        "</iframe>",
        "</textarea >",
        "<mtext>",
        "<annotation-xml>",
        "<font size=1>",
        "<FONT COLOR>",
        "<br/>",
        "<?x>",
        "</ >",
        "</>",
        "</3>",
        "<3",
        "= x",
        "a=b",
        "<table>",
        "<select>",
        "<object>",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        #[test]
        fn finds_the_tags_the_tokenizer_finds_in_tag_soup(
            pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..60)
        ) {
            let html = pieces.concat();
            prop_assert_eq!(scanned(&html), tokenized(&html), "{:?}", html);
        }
    }

    fn attributes(n: usize) -> String {
        (0..n).map(|i| format!(" x{i}")).collect()
    }

    #[test]
    fn crowded_tags_lose_their_attributes_and_keep_their_place() {
        let crowded = attributes(MAX_ATTRIBUTES + 1);
        let cases = [
            (
                format!("<p>a<a{crowded} href=\"y\">b</a>c</p>"),
                "<p>a<a>b</a>c</p>".to_string(),
            ),
            (format!("x</a{crowded}>y"), "x</a>y".to_string()),
            (format!("<br{crowded} />z"), "<br/>z".to_string()),
            (format!("<büro{crowded}>"), "<büro>".to_string()),
        ];
        for (html, want) in cases {
            assert_eq!(tame(&html), want);
        }
    }

    #[test]
    fn what_is_not_a_crowded_tag_is_left_alone() {
        let many = attributes(MAX_ATTRIBUTES + 1);
        let cases = [
            format!("<a{}>at the limit</a>", attributes(MAX_ATTRIBUTES)),
            format!("<a title=\"{many}\">in a value</a>"),
            format!("<script><a{many}></script>in a script"),
            format!("<!-- <a{many}> -->in a comment"),
            format!("<textarea><a{many}></textarea>in a textarea"),
        ];
        for html in cases {
            assert!(matches!(tame(&html), Cow::Borrowed(_)), "{html:.60}");
        }
    }
}
