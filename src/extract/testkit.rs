//! What the tests of `extract`, the hostile-corpus end-to-end test
//! (`tests/it/fetching/hostile.rs`) and `benches/hostile.rs` share, each including this file
//! by path: the builders of hostile documents, and the reading of item HTML that
//! extraction replaced (scraper's tree walked recursively, fine on shallow documents), the
//! oracle the tokenizer reading is checked and timed against. Self-contained (no `crate::`
//! or `super::`), so it compiles in any of them.

/// `open` `depth` times, then `inner`, then `close` `depth` times.
pub(crate) fn nested(open: &str, close: &str, depth: usize, inner: &str) -> String {
    let mut out = String::with_capacity((open.len() + close.len()) * depth + inner.len());
    for _ in 0..depth {
        out.push_str(open);
    }
    out.push_str(inner);
    for _ in 0..depth {
        out.push_str(close);
    }
    out
}

/// An internal DTD subset declaring `&lol9;` as 10^9 "lol"s (the "billion laughs"): to go
/// right after an XML declaration.
pub(crate) fn billion_laughs_doctype() -> String {
    let mut doctype = String::from("<!DOCTYPE rss [<!ENTITY lol \"lol\">");
    for level in 1..10 {
        let previous = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        doctype.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    doctype.push_str("]>");
    doctype
}

/// The text of `html` as extraction read it before it used the tokenizer: text nodes, a
/// line break around each element of `blocks`, nothing under `hidden` ones; whitespace not
/// yet collapsed.
pub(crate) fn text_by_tree(html: &str, blocks: &[&str], hidden: &[&str]) -> String {
    fn collect(
        node: ego_tree::NodeRef<'_, scraper::Node>,
        out: &mut String,
        blocks: &[&str],
        hidden: &[&str],
    ) {
        for child in node.children() {
            match child.value() {
                scraper::Node::Text(text) => out.push_str(text),
                scraper::Node::Element(element) => {
                    let name = element.name();
                    if hidden.contains(&name) {
                        continue;
                    }
                    let block = blocks.contains(&name);
                    if block {
                        out.push('\n');
                    }
                    collect(child, out, blocks, hidden);
                    if block {
                        out.push('\n');
                    }
                }
                _ => collect(child, out, blocks, hidden),
            }
        }
    }
    let fragment = scraper::Html::parse_fragment(html);
    let mut raw = String::new();
    collect(fragment.tree.root(), &mut raw, blocks, hidden);
    raw
}
