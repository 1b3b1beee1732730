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
//! Pure: no I/O.

use chrono::{DateTime, NaiveDate, Utc};
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;
use xxhash_rust::xxh3::xxh3_128;

use super::html::{BLOCKS, HIDDEN, collapse_whitespace};
use super::{ExtractError, charset, identity};
use crate::config::{PageSelect, Pick};
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
    let text = charset::page_to_utf8(bytes, content_type);
    let document = Html::parse_document(&text);
    let base = base_url(&document, page_url);
    match select {
        Some(select) => selected_items(source, &document, base.as_ref(), select),
        None => Ok(vec![whole_page(source, &document, page_url)]),
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

fn selected_items(
    source: &SourceId,
    document: &Html,
    base: Option<&Url>,
    select: &PageSelect,
) -> Result<Vec<Item>, ExtractError> {
    let mut items = Vec::new();
    let mut matched = 0;
    for element in document.select(&select.item) {
        matched += 1;
        let title = pick(element, select.title.as_ref()).unwrap_or_default();
        let link = pick(element, select.link.as_ref())
            .filter(|l| !l.is_empty())
            .map(|href| match base {
                Some(base) => base.join(&href).map_or(href, |u| u.to_string()),
                None => href,
            });
        let summary = pick(element, select.summary.as_ref()).unwrap_or_default();
        let published = pick(element, select.date.as_ref()).and_then(|d| parse_date(&d));
        if title.is_empty() && link.is_none() && summary.is_empty() {
            continue;
        }
        let identity = identity("", link.as_deref(), &title, &summary);
        items.push(Item {
            source: source.clone(),
            identity,
            url: link,
            title,
            text: summary,
            published,
            author: None,
        });
    }
    if matched == 0 {
        return Err(ExtractError::NotAFeed(
            "the item selector matched nothing on the page: the page layout may have changed; check [source.select] item".to_string(),
        ));
    }
    Ok(items)
}

/// The text or attribute a [`Pick`] designates inside `item`.
fn pick(item: ElementRef<'_>, pick: Option<&Pick>) -> Option<String> {
    let pick = pick?;
    let element = match &pick.selector {
        Some(selector) => item.select(selector).next()?,
        None => item,
    };
    match &pick.attribute {
        Some(attribute) => element
            .value()
            .attr(attribute)
            .map(|v| v.trim().to_string()),
        None => {
            let mut raw = String::new();
            collect_text(element, &mut raw, &[]);
            Some(collapse_whitespace(&raw))
        }
    }
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

fn whole_page(source: &SourceId, document: &Html, page_url: &str) -> Item {
    let title = Selector::parse("title")
        .ok()
        .and_then(|s| document.select(&s).next())
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .unwrap_or_default();
    let root = ["main", "[role=main]", "body"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|s| document.select(&s).next())
        .unwrap_or_else(|| document.root_element());
    let mut raw = String::new();
    collect_text(root, &mut raw, FURNITURE);
    let text = raw
        .lines()
        .map(collapse_whitespace)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Item {
        source: source.clone(),
        identity: format!("page:{:032x}", xxh3_128(text.as_bytes())),
        url: Some(page_url.to_string()),
        title,
        text,
        published: None,
        author: None,
    }
}

/// Visible text under `element`, a line break at each block, skipping `also_skip`.
fn collect_text(element: ElementRef<'_>, out: &mut String, also_skip: &[&str]) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) => {
                let name = e.name();
                if HIDDEN.contains(&name) || also_skip.contains(&name) {
                    continue;
                }
                let Some(child) = ElementRef::wrap(child) else {
                    continue;
                };
                let block = BLOCKS.contains(&name);
                if block {
                    out.push('\n');
                }
                collect_text(child, out, also_skip);
                if block {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
