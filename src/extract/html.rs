//! HTML → plain text.
//!
//! Feed titles and bodies arrive as HTML (or HTML escaped once more). We want the words a
//! reader sees: text nodes only (attributes are not text), entities decoded by the HTML
//! parser, nothing from `<script>`, `<style>` or `<template>`, and a separator wherever a
//! block element ends, so `<p>Acme</p><p>Corp</p>` does not become "AcmeCorp".

use scraper::{Html, Node};

/// Elements whose content is never shown as text.
pub(crate) const HIDDEN: &[&str] = &[
    "script", "style", "template", "noscript", "head", "title", "iframe", "object", "svg", "math",
];

/// Elements that end a line of text.
pub(crate) const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// The visible text of an HTML fragment, with whitespace collapsed to single spaces.
pub fn html_to_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut raw = String::with_capacity(html.len());
    collect(fragment.tree.root(), &mut raw);
    collapse_whitespace(&raw)
}

fn collect(node: ego_tree::NodeRef<'_, Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if HIDDEN.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    out.push('\n');
                }
                collect(child, out);
                if block {
                    out.push('\n');
                }
            }
            _ => collect(child, out),
        }
    }
}

/// Collapses runs of whitespace (including non-breaking spaces) to one space and trims.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether a string that claims to be plain text still carries markup or entities, as many
/// RSS titles do.
pub fn looks_like_html(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'<' => bytes
            .get(i + 1)
            .is_some_and(|&next| next.is_ascii_alphabetic() || next == b'/' || next == b'!'),
        b'&' => is_entity(&bytes[i + 1..]),
        _ => false,
    })
}

/// Whether bytes start like the rest of an entity: `amp;`, `#233;`, `#x2019;`.
fn is_entity(rest: &[u8]) -> bool {
    let name_len = rest
        .iter()
        .take(12)
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#')
        .count();
    name_len > 0 && rest.get(name_len) == Some(&b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_a_reader_sees() {
        let cases = [
            ("<p>Acme</p><p>Corp</p>", "Acme Corp"),
            ("<b>Acme</b>Corp", "AcmeCorp"),
            ("Caf&eacute; &amp; cr&egrave;me", "Café & crème"),
            ("<img alt=\"Orange\" src=\"orange.png\">Texte", "Texte"),
            ("<script>var acme = 1;</script>Visible", "Visible"),
            ("<style>p{}</style><p>Un&nbsp;mot</p>", "Un mot"),
            ("line<br>break", "line break"),
            ("  spaced \n\t out  ", "spaced out"),
            ("", ""),
        ];
        for (html, text) in cases {
            assert_eq!(html_to_text(html), text, "{html:?}");
        }
    }

    #[test]
    fn detects_markup_in_plain_text() {
        assert!(looks_like_html("Acme &amp; Co"));
        assert!(looks_like_html("<em>Acme</em>"));
        assert!(!looks_like_html("x < y & z"));
        assert!(!looks_like_html("AT&T"));
    }
}
