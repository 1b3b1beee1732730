//! A hostile corpus, built here, served on 127.0.0.1 next to a well-behaved source and run
//! through the real daemon binary (`veille run --once`, parser processes and all): the
//! normal source's item reaches the digest, each hostile source is either read (when what
//! it holds is text, however nested) or recorded as failed with its reason, and the process
//! exits 0.

// The hostile documents are built where the library's own tests build them.
#[allow(dead_code)]
#[path = "../../../src/extract/testkit.rs"]
mod testkit;

use std::process::Command;

use crate::common::{HttpServer, Response};

const VEILLE: &str = env!("CARGO_BIN_EXE_veille");

fn rss(items: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>https://news.example/</link>{items}</channel></rss>"
    )
    .into_bytes()
}

fn item(guid: &str, title: &str, description: &str) -> String {
    format!(
        "<item><guid>{guid}</guid><title>{title}</title><link>https://news.example/{guid}</link>\
         <description>{description}</description></item>"
    )
}

fn nested(depth: usize, inner: &str) -> String {
    testkit::nested("<div>", "</div>", depth, inner)
}

fn escaped(html: &str) -> String {
    html.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// (source id, kind, body, content type, extra headers, expected: None = read, Some(words
/// of the recorded error)).
struct Hostile {
    id: &'static str,
    page: bool,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    refused_with: Option<&'static str>,
}

fn corpus() -> Vec<Hostile> {
    let feed = |id, body, refused_with| Hostile {
        id,
        page: false,
        body,
        headers: vec![("Content-Type".into(), "application/rss+xml".into())],
        refused_with,
    };
    let page = |id, body: String, refused_with| Hostile {
        id,
        page: true,
        body: body.into_bytes(),
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        refused_with,
    };
    let billion_laughs = {
        let doctype = testkit::billion_laughs_doctype();
        format!(
            "<?xml version=\"1.0\"?>{doctype}<rss version=\"2.0\"><channel><title>t</title>{}</channel></rss>",
            item("laughs", "Entities &lol9;", "&lol9;")
        )
        .into_bytes()
    };
    let mut invalid_utf8 = rss(&item("bytes", "Nordvent caf\u{e9}", "ok"));
    invalid_utf8.extend_from_slice(b"\xff\xfe\xc3\x28");
    let many_items: String = (0..100_000)
        .map(|i| format!("<item><guid>{i}</guid><title>t{i}</title></item>"))
        .collect();
    vec![
        // Nesting inside an item's text is text: the item is read, whatever its depth.
        feed(
            "deep-text",
            rss(&item(
                "deep",
                "Nordvent en profondeur",
                &escaped(&nested(20_000, "Nordvent")),
            )),
            None,
        ),
        feed(
            "deep-cdata",
            rss(&item(
                "cdata",
                "Nordvent encore",
                &format!("<![CDATA[{}]]>", nested(300_000, "Nordvent")),
            )),
            None,
        ),
        // Nesting of the document itself is refused.
        Hostile {
            id: "deep-xml",
            page: false,
            body: format!(
                "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>\
                 <entry><id>1</id><title>x</title><content type=\"xhtml\">{}</content></entry></feed>",
                nested(100_000, "Nordvent")
            )
            .into_bytes(),
            headers: vec![("Content-Type".into(), "application/atom+xml".into())],
            refused_with: Some("nesting deeper than 512"),
        },
        page(
            "deep-page",
            format!("<html><body>{}</body></html>", nested(300_000, "Nordvent")),
            Some("nesting deeper than 512"),
        ),
        feed("many-items", rss(&many_items), Some("more than 5,000 items")),
        page(
            "huge-attribute",
            format!(
                "<html><body><main><div class=\"{}\">Nordvent attribut</div></main></body></html>",
                "a".repeat(9 * 1024 * 1024)
            ),
            None,
        ),
        feed("entities", billion_laughs, None),
        feed("bad-encoding", invalid_utf8, None),
        Hostile {
            id: "bomb",
            page: false,
            body: super::gzip_bomb(),
            headers: vec![
                ("Content-Type".into(), "application/rss+xml".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
            refused_with: Some("larger than"),
        },
    ]
}

#[test]
fn a_hostile_corpus_fails_source_by_source_and_the_digest_goes_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HttpServer::start();
    server.route(
        "/normal.xml",
        Response::ok(
            "application/rss+xml",
            rss(&item("n1", "Nordvent ouvre un parc", "Soixante éoliennes.")),
        ),
    );
    let corpus = corpus();
    let mut config = format!(
        "[daemon]\ndatabase = \"veille.db\"\nmail_dir = \"mail\"\nallow_private_addresses = [\"127.0.0.0/8\"]\n\
         contact_url = \"https://veille.example/contact\"\n\n\
         [[source]]\nid = \"normal\"\nurl = \"{}\"\n\n",
        server.url("/normal.xml")
    );
    for hostile in &corpus {
        let path = format!("/{}", hostile.id);
        server.route(
            &path,
            Response {
                status: 200,
                headers: hostile.headers.clone(),
                body: hostile.body.clone(),
            },
        );
        let kind = if hostile.page {
            "kind = \"page\"\n"
        } else {
            ""
        };
        config.push_str(&format!(
            "[[source]]\nid = \"{}\"\nurl = \"{}\"\n{kind}\n",
            hostile.id,
            server.url(&path)
        ));
    }
    config.push_str(
        "[[watch]]\nid = \"nordvent\"\nquery = \"Nordvent\"\n\n[[digest]]\nid = \"d\"\nto = \"comms@example.org\"\n",
    );
    let config_path = dir.path().join("veille.toml");
    std::fs::write(&config_path, config).expect("write");

    let run = Command::new(VEILLE)
        .args(["run", "--once", "--config"])
        .arg(&config_path)
        .output()
        .expect("run veille");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout).to_string(),
        String::from_utf8_lossy(&run.stderr).to_string(),
    );
    assert!(run.status.success(), "{stdout}\n{stderr}");

    // The digest went out, with the normal source's story in it.
    let mails: Vec<String> = std::fs::read_dir(dir.path().join("mail"))
        .expect("read the mail folder")
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    assert_eq!(mails.len(), 1, "{stdout}\n{stderr}");
    assert!(
        mails[0].contains("Nordvent ouvre un parc"),
        "the normal item is in the digest"
    );

    // Each source's state, as an admin sees it.
    let sources = Command::new(VEILLE)
        .args(["sources", "--config"])
        .arg(&config_path)
        .output()
        .expect("run veille");
    let listing = String::from_utf8_lossy(&sources.stdout).to_string();
    let line_of = |id: &str| {
        listing
            .lines()
            .find(|line| line.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} is not listed:\n{listing}"))
            .to_string()
    };
    assert!(line_of("normal").contains(" ok "), "{listing}");
    for hostile in &corpus {
        let line = line_of(hostile.id);
        match hostile.refused_with {
            None => assert!(
                line.contains(" ok "),
                "{} should be read: {line}",
                hostile.id
            ),
            Some(words) => assert!(
                line.contains("retrying") && line.contains(words),
                "{} should fail with {words:?}: {line}",
                hostile.id
            ),
        }
    }
    // What the nested text held was read: those items are mentions too.
    for title in [
        "Nordvent en profondeur",
        "Nordvent encore",
        "Nordvent attribut",
    ] {
        assert!(mails[0].contains(title), "{title} is in the digest");
    }
}
