//! OPML (the feed list every reader exports) → `[[source]]` blocks to paste into the TOML.
//!
//! Parsing is the `opml` crate's; this module decides what a source is: every outline with
//! an `xmlUrl`, at any depth. The folders above a feed become its tags (so a watch can read
//! "every feed in the Press folder"), ids are slugs of the titles (accents folded, unique,
//! never empty), and the title itself is kept as a comment. Nothing is written to the
//! configuration: the admin reads, edits and pastes, then `veille check` validates.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::matching::normalize;

/// A feed found in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub id: String,
    pub title: String,
    pub url: String,
    /// Slugs of the folders above the feed, outermost first.
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a readable OPML file: {0}")]
pub struct OpmlError(String);

/// Every feed of an OPML document, in document order, with unique ids.
pub fn feeds(xml: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let document = opml::OPML::from_str(xml).map_err(|e| OpmlError(e.to_string()))?;
    let mut found = Vec::new();
    let mut taken = HashSet::new();
    for outline in &document.body.outlines {
        collect(outline, &mut Vec::new(), &mut taken, &mut found);
    }
    Ok(found)
}

fn collect(
    outline: &opml::Outline,
    folders: &mut Vec<String>,
    taken: &mut HashSet<String>,
    found: &mut Vec<OpmlFeed>,
) {
    let title = outline
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&outline.text)
        .trim()
        .to_string();
    if let Some(url) = outline
        .xml_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let base = match slug(&title) {
            s if s.is_empty() => slug(url),
            s => s,
        };
        found.push(OpmlFeed {
            id: unique(
                if base.is_empty() {
                    "feed".to_string()
                } else {
                    base
                },
                taken,
            ),
            title: title.clone(),
            url: url.to_string(),
            tags: folders.clone(),
        });
    }
    if !outline.outlines.is_empty() {
        let folder = slug(&title);
        let pushed = !folder.is_empty();
        if pushed {
            folders.push(folder);
        }
        for child in &outline.outlines {
            collect(child, folders, taken, found);
        }
        if pushed {
            folders.pop();
        }
    }
}

/// Lower case ASCII letters, digits and dashes: `Le Monde – Économie` → `le-monde-economie`.
pub fn slug(text: &str) -> String {
    let words: Vec<String> = normalize::tokens(text)
        .into_iter()
        .map(|t| {
            t.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    words.join("-")
}

fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// The feeds as TOML `[[source]]` blocks, ready to paste.
pub fn to_toml(feeds: &[OpmlFeed]) -> String {
    let mut out = String::new();
    for feed in feeds {
        let _ = writeln!(out, "# {}", feed.title.replace('\n', " "));
        let _ = writeln!(out, "[[source]]");
        let _ = writeln!(out, "id = {}", quoted(&feed.id));
        let _ = writeln!(out, "url = {}", quoted(&feed.url));
        if !feed.tags.is_empty() {
            let tags: Vec<String> = feed.tags.iter().map(|t| quoted(t)).collect();
            let _ = writeln!(out, "tags = [{}]", tags.join(", "));
        }
        out.push('\n');
    }
    out
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_accents_and_punctuation() {
        for (title, expected) in [
            ("Le Monde – Économie", "le-monde-economie"),
            ("L’Usine Nouvelle", "l-usine-nouvelle"),
            ("  Cœur & Âme ", "coeur-ame"),
            ("日本語", ""),
        ] {
            assert_eq!(slug(title), expected, "{title}");
        }
    }

    #[test]
    fn nested_outlines_become_tagged_unique_sources() {
        let xml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="Presse">
    <outline text="Économie" title="Économie">
      <outline type="rss" text="Le Monde" xmlUrl="https://lemonde.example/eco.xml"/>
      <outline type="rss" text="Le Monde" xmlUrl="https://lemonde.example/autre.xml"/>
    </outline>
  </outline>
  <outline type="rss" text="日本語" xmlUrl="https://jp.example/feed"/>
  <outline text="No feed here"/>
</body></opml>"#;
        let feeds = feeds(xml).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = feeds.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["le-monde", "le-monde-2", "https-jp-example-feed"]);
        assert_eq!(feeds[0].tags, ["presse", "economie"]);
        assert!(feeds[2].tags.is_empty());
        let toml = to_toml(&feeds);
        assert!(
            toml.contains("# Le Monde\n[[source]]\nid = \"le-monde\"\n"),
            "{toml}"
        );
        assert!(toml.contains("tags = [\"presse\", \"economie\"]"), "{toml}");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let error = feeds("<html>not opml</html>").map(|_| ()).unwrap_err();
        assert!(
            error.to_string().starts_with("not a readable OPML file"),
            "{error}"
        );
    }
}
