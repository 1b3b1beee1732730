//! Web pages → [`Item`]s, for `kind = "page"` sources.
//!
//! Two modes. With `[source.select]`, each element matching `item` is one item and its
//! title, link, summary and date are read with the configured selectors (`a@href` reads an
//! attribute); relative links resolve against `<base href>`, else the page URL. Without
//! selectors, the whole page is one item: its main text (the `<main>` element when there
//! is one, else the body, without scripts, styles, navigation, header, footer, asides and
//! forms), identified by the hash of that text, so any change of the text is a new item: a
//! change-detection source. Trade-off: whole-page mode re-reports a page whose boilerplate
//! text (a date, a counter) changes; point selectors at the part that matters to avoid it.
//! Every item of a page has the language the page declares (`<html lang>`, else a
//! content-language `<meta>`), else the one detected from its own text (see
//! [`super::lang`]).
//!
//! Pages need a tree (CSS selectors), so unlike feed item text they are parsed by
//! html5ever's tree builder, whose scope checks scan its stack of open elements for every
//! tag: parse time grows with the square of the nesting (40,000 nested `<div>`s took 5 s,
//! 300,000 did not finish in two minutes), and a tree of bare elements costs some 75 times
//! the page's size in memory. So the page is handed to the parser in chunks of
//! [`PAGE_CHUNK_BYTES`] through `CappedSink`, a wrapper of scraper's sink that measures the
//! depth of every element it inserts and counts the nodes it creates: past [`MAX_DEPTH`]
//! or [`MAX_PAGE_ELEMENTS`], or after [`PARSE_BUDGET`], parsing stops and the page is
//! refused. Every walk of the tree is iterative (ego_tree's `traverse`), and an item
//! selector matching more than [`MAX_ITEMS`] elements, or items holding more than
//! [`MAX_PAGE_TEXT_BYTES`] of text together, refuse the page too. Trade-off: a real page
//! nested deeper than 512 elements, or larger than 250,000 elements, would be refused; the
//! corpus pages nest at most 29 levels and have at most ~3,000 elements. Pure: no I/O.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use ego_tree::NodeId;
use ego_tree::iter::Edge;
use html5ever::driver::{self, ParseOpts};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, QualName};
use scraper::{ElementRef, Html, HtmlTreeSink, Node, Selector};
use url::Url;
use xxhash_rust::xxh3::xxh3_128;

use super::html::{BLOCKS, HIDDEN, collapse_whitespace, pieces};
use super::limits::{
    MAX_DEPTH, MAX_ITEMS, MAX_PAGE_ELEMENTS, MAX_PAGE_TEXT_BYTES, MAX_TEXT_BYTES, MAX_TITLE_BYTES,
    PAGE_CHUNK_BYTES, PARSE_BUDGET, cut,
};
use super::{ExtractError, charset, identity, lang, tags};
use crate::extract::select::{PageSelect, Pick};
use crate::model::{Item, SourceId};

/// Elements that are page furniture, not content, in whole-page mode.
const FURNITURE: &[&str] = &[
    "nav", "header", "footer", "aside", "form", "button", "dialog",
];

/// Extracts the items of a page served at `page_url`.
pub fn page(
    source: &SourceId,
    bytes: &[u8],
    content_type: Option<&str>,
    page_url: &str,
    select: Option<&PageSelect>,
) -> Result<Vec<Item>, ExtractError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ExtractError::Empty);
    }
    let started = Instant::now();
    let text = charset::page_to_utf8(bytes, content_type);
    let document = parse(&text, started)?;
    let base = base_url(&document, page_url);
    let page_lang = declared_lang(&document);
    let page_lang = page_lang.as_deref();
    match select {
        Some(select) => {
            selected_items(source, &document, base.as_ref(), select, page_lang, started)
        }
        None => Ok(vec![whole_page(source, &document, page_url, page_lang)]),
    }
}

/// Parses a page in chunks, refusing it past [`MAX_DEPTH`] or [`PARSE_BUDGET`].
fn parse(text: &str, started: Instant) -> Result<Html, ExtractError> {
    let text: Cow<'_, str> = tags::tame(text);
    let sink = CappedSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        nodes: Cell::new(0),
        refused: RefCell::new(None),
    };
    let mut parser = driver::parse_document(sink, ParseOpts::default());
    for piece in pieces(&text, PAGE_CHUNK_BYTES) {
        parser.process(StrTendril::from_slice(piece));
        if let Some(refusal) = parser.tokenizer.sink.sink.refused.take() {
            return Err(refusal);
        }
        if started.elapsed() > PARSE_BUDGET {
            return Err(too_slow());
        }
    }
    let document = parser.finish();
    // The adoption agency algorithm (misnested `<b><p></b>`) moves whole subtrees under new
    // elements, deepening nodes that were never inserted at that depth: measure once more.
    if deepest(&document) > MAX_DEPTH {
        return Err(ExtractError::TooDeep { limit: MAX_DEPTH });
    }
    Ok(document)
}

fn too_slow() -> ExtractError {
    ExtractError::TooSlow {
        seconds: PARSE_BUDGET.as_secs(),
    }
}

/// The deepest element nesting of a document, by one iterative walk.
fn deepest(document: &Html) -> usize {
    let mut depth: usize = 0;
    let mut deepest = 0;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) if node.value().is_element() => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Edge::Close(node) if node.value().is_element() => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// scraper's tree sink, counting the nodes it creates and measuring the element depth of
/// every node inserted: html5ever inserts each element where it belongs, so the depth it
/// lands at is the nesting the rest of the parse would scan. Measuring walks up at most
/// [`MAX_DEPTH`] parents, the same order of work as html5ever's own scope check for that
/// tag. The first limit passed is kept in `refused`, and the parse stops after the chunk.
/// Parse errors are not kept (a hostile page has millions; nothing reads them).
struct CappedSink {
    inner: HtmlTreeSink,
    /// Elements and comments created (text nodes merge, so they are fewer than these).
    nodes: Cell<usize>,
    refused: RefCell<Option<ExtractError>>,
}

impl CappedSink {
    fn refuse(&self, refusal: ExtractError) {
        let mut refused = self.refused.borrow_mut();
        if refused.is_none() {
            *refused = Some(refusal);
        }
    }

    fn created(&self) {
        let nodes = self.nodes.get() + 1;
        self.nodes.set(nodes);
        if nodes > MAX_PAGE_ELEMENTS {
            self.refuse(ExtractError::TooManyElements {
                limit: MAX_PAGE_ELEMENTS,
            });
        }
    }

    /// Notes a node inserted under `parent`, when it is an element.
    fn inserting(&self, parent: Option<NodeId>, child: &NodeOrText<NodeId>) {
        let (Some(parent), NodeOrText::AppendNode(child)) = (parent, child) else {
            return;
        };
        if self.refused.borrow().is_some() {
            return;
        }
        let html = self.inner.0.borrow();
        if !html
            .tree
            .get(*child)
            .is_some_and(|c| c.value().is_element())
        {
            return;
        }
        let mut depth = 1;
        let mut node = html.tree.get(parent);
        while let Some(at) = node {
            if at.value().is_element() {
                depth += 1;
                if depth > MAX_DEPTH {
                    self.refuse(ExtractError::TooDeep { limit: MAX_DEPTH });
                    return;
                }
            }
            node = at.parent();
        }
    }

    fn parent_of(&self, node: &NodeId) -> Option<NodeId> {
        let html = self.inner.0.borrow();
        html.tree
            .get(*node)
            .and_then(|n| n.parent())
            .map(|p| p.id())
    }
}

impl TreeSink for CappedSink {
    type Handle = NodeId;
    type Output = Html;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> NodeId {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a NodeId) -> Ref<'a, QualName> {
        self.inner.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> NodeId {
        self.created();
        self.inner.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> NodeId {
        self.created();
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> NodeId {
        self.created();
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        self.inserting(Some(*parent), &child);
        self.inner.append(parent, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &NodeId,
        prev_element: &NodeId,
        child: NodeOrText<NodeId>,
    ) {
        match self.parent_of(element) {
            Some(parent) => self.inserting(Some(parent), &child),
            None => self.inserting(Some(*prev_element), &child),
        }
        self.inner
            .append_based_on_parent_node(element, prev_element, child);
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.inner
            .append_doctype_to_document(name, public_id, system_id);
    }

    fn mark_script_already_started(&self, node: &NodeId) {
        self.inner.mark_script_already_started(node);
    }

    fn pop(&self, node: &NodeId) {
        self.inner.pop(node);
    }

    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        self.inner.get_template_contents(target)
    }

    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode);
    }

    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        self.inserting(self.parent_of(sibling), &new_node);
        self.inner.append_before_sibling(sibling, new_node);
    }

    fn add_attrs_if_missing(&self, target: &NodeId, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs);
    }

    fn associate_with_form(
        &self,
        target: &NodeId,
        form: &NodeId,
        nodes: (&NodeId, Option<&NodeId>),
    ) {
        self.inner.associate_with_form(target, form, nodes);
    }

    fn remove_from_parent(&self, target: &NodeId) {
        self.inner.remove_from_parent(target);
    }

    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        self.inner.reparent_children(node, new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &NodeId) -> bool {
        self.inner
            .is_mathml_annotation_xml_integration_point(handle)
    }

    fn allow_declarative_shadow_roots(&self, intended_parent: &NodeId) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }

    fn attach_declarative_shadow(
        &self,
        location: &NodeId,
        template: &NodeId,
        attrs: &[Attribute],
    ) -> bool {
        self.inner
            .attach_declarative_shadow(location, template, attrs)
    }

    fn maybe_clone_an_option_into_selectedcontent(&self, option: &NodeId) {
        self.inner
            .maybe_clone_an_option_into_selectedcontent(option);
    }
}

/// `<base href>` resolved against the page URL, else the page URL.
fn base_url(document: &Html, page_url: &str) -> Option<Url> {
    let page = Url::parse(page_url).ok();
    let base = Selector::parse("base[href]")
        .ok()
        .and_then(|s| document.select(&s).next())
        .and_then(|e| e.value().attr("href"))
        .and_then(|href| match &page {
            Some(page) => page.join(href.trim()).ok(),
            None => Url::parse(href.trim()).ok(),
        });
    base.or(page)
}

/// The language a page declares: `<html lang>` (or `xml:lang`), else a
/// `<meta http-equiv="content-language">` naming one language (one naming several, `fr,
/// en`, is ignored, as browsers do); normalized by [`lang::declared`].
fn declared_lang(document: &Html) -> Option<String> {
    let root = document.root_element().value();
    ["lang", "xml:lang"]
        .into_iter()
        .filter_map(|name| root.attr(name))
        .find_map(lang::declared)
        .or_else(|| {
            let meta = Selector::parse("meta[http-equiv][content]").ok()?;
            document
                .select(&meta)
                .map(|e| e.value())
                .filter(|e| {
                    e.attr("http-equiv")
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("content-language"))
                })
                .filter_map(|e| e.attr("content"))
                .filter(|content| !content.contains(','))
                .find_map(lang::declared)
        })
}

/// The items `select` picks, each in the page's declared language, else its detected one.
fn selected_items(
    source: &SourceId,
    document: &Html,
    base: Option<&Url>,
    select: &PageSelect,
    page_lang: Option<&str>,
    started: Instant,
) -> Result<Vec<Item>, ExtractError> {
    let mut items = Vec::new();
    let mut matched = 0;
    let mut text_bytes = 0;
    for element in document.select(&select.item) {
        matched += 1;
        if matched > MAX_ITEMS {
            return Err(ExtractError::TooManyItems { limit: MAX_ITEMS });
        }
        if started.elapsed() > PARSE_BUDGET {
            return Err(too_slow());
        }
        let title = pick(element, select.title.as_ref(), MAX_TITLE_BYTES).unwrap_or_default();
        let link = pick(element, select.link.as_ref(), MAX_TEXT_BYTES)
            .filter(|l| !l.is_empty())
            .map(|href| match base {
                Some(base) => base.join(&href).map_or(href, |u| u.to_string()),
                None => href,
            });
        let summary = pick(element, select.summary.as_ref(), MAX_TEXT_BYTES).unwrap_or_default();
        let published =
            pick(element, select.date.as_ref(), MAX_TITLE_BYTES).and_then(|d| parse_date(&d));
        if title.is_empty() && link.is_none() && summary.is_empty() {
            continue;
        }
        text_bytes += title.len() + summary.len();
        if text_bytes > MAX_PAGE_TEXT_BYTES {
            return Err(ExtractError::TooMuchText {
                limit: MAX_PAGE_TEXT_BYTES,
            });
        }
        let identity = identity("", link.as_deref(), &title, &summary);
        let lang = page_lang
            .map(str::to_string)
            .or_else(|| lang::detect(&title, &summary));
        items.push(Item {
            source: source.clone(),
            identity,
            url: link,
            title,
            text: summary,
            published,
            author: None,
            lang,
        });
    }
    if matched == 0 {
        return Err(ExtractError::NotAFeed(
            "the item selector matched nothing on the page: the page layout may have changed; check [source.select] item".to_string(),
        ));
    }
    Ok(items)
}

/// The text or attribute a [`Pick`] designates inside `item`, at most `max` bytes of it.
fn pick(item: ElementRef<'_>, pick: Option<&Pick>, max: usize) -> Option<String> {
    let pick = pick?;
    let element = match &pick.selector {
        Some(selector) => item.select(selector).next()?,
        None => item,
    };
    let mut value = match &pick.attribute {
        Some(attribute) => element.value().attr(attribute)?.trim().to_string(),
        None => collapse_whitespace(&text_under(element, &[], max)),
    };
    cut(&mut value, max);
    Some(value)
}

/// Dates as pages write them in `datetime` attributes or text.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(text) {
        return Some(d.with_timezone(&Utc));
    }
    ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn whole_page(source: &SourceId, document: &Html, page_url: &str, page_lang: Option<&str>) -> Item {
    let mut title = Selector::parse("title")
        .ok()
        .and_then(|s| document.select(&s).next())
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .unwrap_or_default();
    cut(&mut title, MAX_TITLE_BYTES);
    let root = ["main", "[role=main]", "body"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|s| document.select(&s).next())
        .unwrap_or_else(|| document.root_element());
    let raw = text_under(root, FURNITURE, usize::MAX);
    let mut text = raw
        .lines()
        .map(collapse_whitespace)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    cut(&mut text, MAX_TEXT_BYTES);
    let lang = page_lang
        .map(str::to_string)
        .or_else(|| lang::detect(&title, &text));
    Item {
        source: source.clone(),
        identity: format!("page:{:032x}", xxh3_128(text.as_bytes())),
        url: Some(page_url.to_string()),
        title,
        text,
        published: None,
        author: None,
        lang,
    }
}

/// Visible text under `element`, a line break at each block, skipping hidden elements and
/// `also_skip`; the walk stops once the text passes `max` bytes (whitespace included, so a
/// little more than `max` is kept for the caller to collapse and cut). Iterative: the
/// depth of the tree costs no stack.
fn text_under(element: ElementRef<'_>, also_skip: &[&str], max: usize) -> String {
    let mut out = String::new();
    // The hidden element being skipped, until its end.
    let mut skipping: Option<NodeId> = None;
    for edge in element.traverse() {
        if out.len() > max.saturating_mul(2) {
            break;
        }
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(text) => out.push_str(text),
                    Node::Element(e) if node.id() != element.id() => {
                        let name = e.name();
                        if HIDDEN.contains(&name) || also_skip.contains(&name) {
                            skipping = Some(node.id());
                        } else if BLOCKS.contains(&name) {
                            out.push('\n');
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() || node.id() == element.id() {
                    continue;
                }
                if let Node::Element(e) = node.value()
                    && BLOCKS.contains(&e.name())
                {
                    out.push('\n');
                }
            }
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::testing;

    #[test]
    fn whole_page_keeps_content_and_drops_furniture() {
        let html = r#"<html><head><title>Communiqu&eacute;s</title><script>var x = "SECRET";</script></head>
<body><nav>Accueil | Presse</nav><header>Logo</header>
<main><h1>Nordvent ouvre un parc</h1><p>Soixante <b>éoliennes</b>.</p><aside>Pub</aside></main>
<footer>Mentions légales</footer></body></html>"#;
        let items = page(
            &SourceId::new("p"),
            html.as_bytes(),
            None,
            "https://x.example/p",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].title, "Communiqués");
        assert_eq!(items[0].text, "Nordvent ouvre un parc\nSoixante éoliennes.");
        assert!(items[0].identity.starts_with("page:"));
        let changed = page(
            &SourceId::new("p"),
            html.replace("Soixante", "Soixante-deux").as_bytes(),
            None,
            "https://x.example/p",
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            items[0].identity, changed[0].identity,
            "a changed text is a new item"
        );
    }

    #[test]
    fn a_page_language_is_its_items_language() {
        let french = "<p>Soixante-deux éoliennes ont été mises en service mercredi au large de \
            Fécamp, après sept ans de procédures. Le groupe normand prévoit d'en construire deux \
            autres d'ici la fin de la décennie.</p>";
        let page_with = |html: &str, head: &str, body: &str| {
            format!(
                "<!DOCTYPE html>{html}<head>{head}<title>P</title></head><body>{body}</body></html>"
            )
            .into_bytes()
        };
        let meta =
            |content: &str| format!("<meta http-equiv=\"Content-Language\" content=\"{content}\">");
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            (
                "html lang",
                page_with("<html lang=\"fr\">", "", "<p>Bref.</p>"),
                Some("fr"),
            ),
            (
                "html lang wins over the text",
                page_with("<html lang=\"de-DE\">", "", french),
                Some("de"),
            ),
            (
                "xml:lang",
                page_with("<html xml:lang=\"it\">", "", "<p>x</p>"),
                Some("it"),
            ),
            (
                "html lang over the meta",
                page_with("<html lang=\"en\">", &meta("fr"), "<p>x</p>"),
                Some("en"),
            ),
            (
                "the meta",
                page_with("<html>", &meta("pt-BR"), "<p>x</p>"),
                Some("pt"),
            ),
            (
                "a junk lang falls back on the meta",
                page_with("<html lang=\"*\">", &meta("es"), "<p>x</p>"),
                Some("es"),
            ),
            (
                "a meta naming two languages is no declaration",
                page_with("<html>", &meta("de, en"), french),
                Some("fr"),
            ),
            (
                "undeclared, detected",
                page_with("<html>", "", french),
                Some("fr"),
            ),
            (
                "undeclared and short",
                page_with("<html>", "", "<p>Bref.</p>"),
                None,
            ),
        ];
        for (name, bytes, want) in cases {
            let items = extract(bytes.clone(), None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(items[0].lang.as_deref(), want, "{name}");
            // Items picked by selectors carry it too.
            let items = extract(bytes, Some(select("p", None, Some(None))))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(items[0].lang.as_deref(), want, "{name}, selected");
        }
    }

    #[test]
    fn dates_in_common_page_formats() {
        let cases = [
            (
                "2026-11-27T08:00:00+01:00",
                Some("2026-11-27T07:00:00+00:00"),
            ),
            (
                "Fri, 27 Nov 2026 08:00:00 GMT",
                Some("2026-11-27T08:00:00+00:00"),
            ),
            ("2026-11-27", Some("2026-11-27T00:00:00+00:00")),
            ("27/11/2026", Some("2026-11-27T00:00:00+00:00")),
            ("hier", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_date(text).map(|d| d.to_rfc3339()).as_deref(),
                want,
                "{text}"
            );
        }
    }

    fn page_of(body: &str) -> Vec<u8> {
        format!("<!DOCTYPE html><html><head><title>P</title></head><body>{body}</body></html>")
            .into_bytes()
    }

    fn selector(text: &str) -> Selector {
        Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn select(item: &str, title: Option<&str>, summary: Option<Option<&str>>) -> PageSelect {
        let pick = |s: Option<&str>| Pick {
            selector: s.map(selector),
            attribute: None,
            source: s.unwrap_or_default().to_string(),
        };
        PageSelect {
            item: selector(item),
            item_source: item.to_string(),
            title: title.map(|t| pick(Some(t))),
            link: None,
            summary: summary.map(pick),
            date: None,
        }
    }

    fn extract(bytes: Vec<u8>, select: Option<PageSelect>) -> Result<Vec<Item>, ExtractError> {
        testing::on_small_stack(move || {
            page(
                &SourceId::new("p"),
                &bytes,
                None,
                "https://x.example/p",
                select.as_ref(),
            )
        })
    }

    #[test]
    fn parses_the_corpus_pages_as_scraper_does() {
        let pages = testing::corpus_pages();
        assert!(pages.len() > 30, "the corpus is missing");
        for path in pages {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let text = charset::page_to_utf8(&bytes, None);
            let document =
                parse(&text, Instant::now()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                document.tree,
                Html::parse_document(&text).tree,
                "{}",
                path.display()
            );
            // Real pages are far from the limits (the deepest corpus page nests 29 levels and
            // the largest has about 3,000 elements).
            assert!(deepest(&document) < MAX_DEPTH / 8, "{}", path.display());
            assert!(
                document.tree.nodes().count() < MAX_PAGE_ELEMENTS / 10,
                "{}",
                path.display()
            );
        }
    }

    /// What a case must give.
    enum Want {
        /// Items, the first one's text checked.
        Text(fn(&str) -> bool),
        Items(usize),
        Error(ExtractError),
    }

    #[test]
    fn hostile_pages_give_items_or_the_limit_they_break() {
        let deep = ExtractError::TooDeep { limit: MAX_DEPTH };
        let divs = |n| testing::nested("<div>", "</div>", n, "Nordvent");
        let article = "<article><h2>Nordvent</h2></article>";
        let nested_articles = testing::nested("<div>", "</div>", 300_000, article);
        let articles = |n: usize| page_of(&article.repeat(n));
        let big_sections = testing::nested("<section>", "</section>", 300, &"mot ".repeat(15_000));
        let cases: Vec<(&str, Vec<u8>, Option<PageSelect>, Want)> = vec![
            // <html> and <body> are two levels: 510 divs reach the limit exactly.
            (
                "510 nested divs",
                page_of(&divs(510)),
                None,
                Want::Text(|t| t == "Nordvent"),
            ),
            (
                "511 nested divs",
                page_of(&divs(511)),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "20,000 nested divs",
                page_of(&divs(20_000)),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "300,000 nested divs",
                page_of(&divs(300_000)),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "300,000 nested divs, selector mode",
                page_of(&format!("{article}{nested_articles}")),
                Some(select("article", Some("h2"), None)),
                Want::Error(deep.clone()),
            ),
            (
                "100,000 nested svg",
                page_of(&testing::nested("<svg>", "</svg>", 100_000, "x")),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "100,000 nested math",
                page_of(&testing::nested("<math>", "</math>", 100_000, "x")),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "100,000 nested templates",
                page_of(&testing::nested("<template>", "</template>", 100_000, "x")),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "a foster-parenting chain",
                page_of(&format!("<table>{}", "<div>x".repeat(100_000))),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "adoption agency chains",
                page_of(&"<b><i><div>x</b></i>".repeat(100_000)),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "formatting elements reopened in every paragraph",
                page_of(
                    &(0..20_000)
                        .map(|i| format!("<p><b x={i}></p>"))
                        .collect::<String>(),
                ),
                None,
                Want::Error(deep.clone()),
            ),
            (
                "a million unclosed p",
                page_of(&"<p>x".repeat(1_000_000)),
                None,
                Want::Error(ExtractError::TooManyElements {
                    limit: MAX_PAGE_ELEMENTS,
                }),
            ),
            (
                "50,000 unclosed p",
                page_of(&"<p>x".repeat(50_000)),
                None,
                Want::Text(|t| t.lines().count() == 50_000),
            ),
            (
                "a 10 MB attribute",
                page_of(&format!(
                    "<p title=\"{}\">Nordvent</p>",
                    "x".repeat(10 << 20)
                )),
                None,
                Want::Text(|t| t == "Nordvent"),
            ),
            (
                "100,000 attributes on one tag",
                page_of(&format!(
                    "<p{}>Nordvent</p>",
                    (0..100_000).map(|i| format!(" a{i}")).collect::<String>()
                )),
                None,
                Want::Text(|t| t == "Nordvent"),
            ),
            (
                "a 10 MB text node",
                page_of(&"Nordvent ".repeat(10 << 20 >> 3)),
                None,
                Want::Text(|t| t.len() <= MAX_TEXT_BYTES && t.len() > MAX_TEXT_BYTES - 16),
            ),
            (
                "entity tricks",
                page_of("&#x110000;&#0;&eacute&amp&unknown;&#xD800;"),
                None,
                Want::Text(|t| t == "\u{FFFD}\u{FFFD}é&&unknown;\u{FFFD}"),
            ),
            (
                "invalid UTF-8",
                b"<html><body><p>caf\xe9 \xff\xfe cr\xc3\xa8me</p></body></html>".to_vec(),
                None,
                Want::Items(1),
            ),
            (
                "5,000 items",
                articles(MAX_ITEMS),
                Some(select("article", Some("h2"), None)),
                Want::Items(MAX_ITEMS),
            ),
            (
                "5,001 items",
                articles(MAX_ITEMS + 1),
                Some(select("article", Some("h2"), None)),
                Want::Error(ExtractError::TooManyItems { limit: MAX_ITEMS }),
            ),
            (
                "nested items repeating their text",
                page_of(&big_sections),
                Some(select("section", None, Some(None))),
                Want::Error(ExtractError::TooMuchText {
                    limit: MAX_PAGE_TEXT_BYTES,
                }),
            ),
        ];
        for (name, bytes, select, want) in cases {
            let got = extract(bytes, select);
            match (&got, want) {
                (Ok(items), Want::Text(check)) => {
                    assert!(check(&items[0].text), "{name}: {:.80}", items[0].text)
                }
                (Ok(items), Want::Items(n)) => assert_eq!(items.len(), n, "{name}"),
                (Err(error), Want::Error(want)) => assert_eq!(error, &want, "{name}"),
                (got, _) => panic!("{name}: unexpected {:.200}", format!("{got:?}")),
            }
        }
    }

    #[test]
    fn a_parse_past_its_budget_is_refused() {
        let Some(long_ago) = Instant::now().checked_sub(PARSE_BUDGET * 2) else {
            return;
        };
        assert_eq!(
            parse("<p>x</p>", long_ago).map(|_| ()),
            Err(ExtractError::TooSlow {
                seconds: PARSE_BUDGET.as_secs()
            })
        );
    }

    #[test]
    fn text_walk_skips_hidden_elements_and_separates_blocks() {
        let html = "<main><p>Un</p><script>x</script><div>deux<svg><text>y</text></svg><b>trois</b></div><nav>z</nav></main>";
        let document = Html::parse_document(html);
        let main = document
            .select(&selector("main"))
            .next()
            .unwrap_or_else(|| panic!("no main"));
        let lines: Vec<String> = text_under(main, FURNITURE, usize::MAX)
            .lines()
            .map(collapse_whitespace)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines, ["Un", "deuxtrois"]);
    }

    /// Markup the tree builder rearranges (tables, misnesting, templates, foreign content).
    const SOUP: &[&str] = &[
        "<table>",
        "</table>",
        "<tr>",
        "<td>",
        "</td>",
        "<caption>",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<a>",
        "</a>",
        "<nobr>",
        "<button>",
        "<li>",
        "<form>",
        "</form>",
        "<template>",
        "</template>",
        "<svg>",
        "</svg>",
        "<math>",
        "<select>",
        "<option>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<body>",
        "<html>",
        "<head>",
        "<frameset>",
        "x",
        " ",
        "<br>",
        "</br>",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 300,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn the_capped_parse_builds_the_tree_scraper_builds(
            pieces in proptest::collection::vec(proptest::sample::select(SOUP), 0..80)
        ) {
            let html = pieces.concat();
            let capped = parse(&html, Instant::now()).map(|d| d.tree);
            proptest::prop_assert_eq!(capped, Ok(Html::parse_document(&html).tree));
        }
    }
}
