//! Hostile documents through extraction: time, peak memory and outcome of each case.
//!
//! Run with `cargo bench --bench hostile` (add `-- NAME…` to run only some cases). Every
//! case runs in a child process of its own (this binary, `--case NAME`), on a thread with a
//! 2 MiB stack like tokio's blocking threads, so a stack overflow or a runaway parse is
//! reported as an outcome instead of ending the run; a case still running after
//! `HOSTILE_TIMEOUT` seconds (default 30) is killed. Peak memory is the child's `VmHWM`,
//! reset (`/proc/self/clear_refs`) after the input is built, so it is the input plus what
//! extraction needed. The inputs are built here, the same shapes as the unit tests of
//! `extract` (which assert the outcome; this only measures).

// The hostile documents are built where the library's own tests build them.
#[allow(dead_code)]
#[path = "../src/extract/testkit.rs"]
mod testkit;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use veille::extract;
use veille::extract::html::{BLOCKS, HIDDEN};
use veille::extract::select::{PageSelect, Pick};
use veille::model::SourceId;

enum Input {
    Feed(Vec<u8>),
    Page(Vec<u8>, Option<Box<PageSelect>>),
    Text(String),
    /// The readability pages of the shared corpus, read whole, ten times.
    Corpus(Reading),
}

#[derive(Clone, Copy)]
enum Reading {
    /// `extract::html_to_text`.
    Tokens,
    /// The reading it replaced: scraper's tree, walked recursively (fine on real pages).
    Tree,
}

/// The text of `html` the way extraction read it before it used the tokenizer.
fn text_by_tree(html: &str) -> String {
    veille::extract::html::collapse_whitespace(&testkit::text_by_tree(html, BLOCKS, HIDDEN))
}

fn corpus_pages() -> Vec<String> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pages/readability");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("source.html")).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}

fn rss(items: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>T</title>\
         <link>https://news.example/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

fn rss_description(description: &str) -> Vec<u8> {
    rss(&format!(
        "<item><title>Nordvent</title><link>https://news.example/a</link>\
         <description>{description}</description></item>"
    ))
}

fn atom_xhtml(depth: usize) -> Vec<u8> {
    let body = testkit::nested("<div>", "</div>", depth, "Nordvent");
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>f</id><title>T</title>\
         <entry><id>e</id><title>Nordvent</title><content type=\"xhtml\">\
         <div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div></content></entry></feed>"
    )
    .into_bytes()
}

fn many_rss_items(n: usize) -> Vec<u8> {
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><title>Item {i}</title><link>https://news.example/{i}</link><description>Nordvent</description></item>"
            )
        })
        .collect();
    rss(&items)
}

fn many_atom_entries(n: usize) -> Vec<u8> {
    let entries: String = (0..n)
        .map(|i| {
            format!(
                "<entry><id>e{i}</id><title>Item {i}</title><link href=\"https://news.example/{i}\"/><summary>Nordvent</summary></entry>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>f</id><title>T</title>{entries}</feed>"
    )
    .into_bytes()
}

fn many_json_items(n: usize) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"{i}\",\"url\":\"https://news.example/{i}\",\"title\":\"Item {i}\",\"content_text\":\"Nordvent\"}}"
            )
        })
        .collect();
    format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"T\",\"items\":[{}]}}",
        items.join(",")
    )
    .into_bytes()
}

fn page(body: &str) -> Vec<u8> {
    format!("<!DOCTYPE html><html><head><title>P</title></head><body>{body}</body></html>")
        .into_bytes()
}

fn selector(text: &str) -> scraper::Selector {
    scraper::Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn article_select() -> PageSelect {
    PageSelect {
        item: selector("article"),
        item_source: "article".to_string(),
        title: Some(Pick {
            selector: Some(selector("h2")),
            attribute: None,
            source: "h2".to_string(),
        }),
        link: Some(Pick {
            selector: Some(selector("a")),
            attribute: Some("href".to_string()),
            source: "a@href".to_string(),
        }),
        summary: None,
        date: None,
    }
}

/// One tag with `n` distinct attributes (html5ever checks each new one against all before).
fn many_attributes(n: usize) -> String {
    let mut tag = String::from("<a");
    for i in 0..n {
        tag.push_str(&format!(" a{i}"));
    }
    tag.push_str(">Nordvent</a>");
    tag
}

fn repeat(piece: &str, n: usize) -> String {
    piece.repeat(n)
}

/// The cases, by name.
fn build(name: &str) -> Option<Input> {
    let escaped = |depth| testkit::nested("&lt;div&gt;", "&lt;/div&gt;", depth, "Nordvent");
    let cdata = |depth| {
        format!(
            "<![CDATA[{}]]>",
            testkit::nested("<div>", "</div>", depth, "Nordvent")
        )
    };
    let article = "<article><h2>Nordvent</h2><a href=\"/a\">lire</a></article>";
    Some(match name {
        "rss-escaped-divs-20k" => Input::Feed(rss_description(&escaped(20_000))),
        "rss-escaped-divs-300k" => Input::Feed(rss_description(&escaped(300_000))),
        "rss-cdata-divs-20k" => Input::Feed(rss_description(&cdata(20_000))),
        "rss-cdata-divs-300k" => Input::Feed(rss_description(&cdata(300_000))),
        "atom-xhtml-divs-20k" => Input::Feed(atom_xhtml(20_000)),
        "atom-xhtml-divs-300k" => Input::Feed(atom_xhtml(300_000)),
        "rss-5000-items" => Input::Feed(many_rss_items(5_000)),
        "rss-100k-items" => Input::Feed(many_rss_items(100_000)),
        "atom-100k-items" => Input::Feed(many_atom_entries(100_000)),
        "json-100k-items" => Input::Feed(many_json_items(100_000)),
        "rss-attribute-10mb" => Input::Feed(rss(&format!(
            "<item x=\"{}\"><title>Nordvent</title><guid>g</guid></item>",
            "a".repeat(10 << 20)
        ))),
        "rss-text-10mb" => Input::Feed(rss_description(&repeat("Nordvent Acme ", 750_000))),
        "rss-billion-laughs" => {
            let doctype = testkit::billion_laughs_doctype();
            let mut bytes = format!("<?xml version=\"1.0\"?>{doctype}").into_bytes();
            bytes.extend(rss_description("&lol9;"));
            Input::Feed(bytes)
        }
        "rss-100k-entities" => Input::Feed(rss_description(&repeat(
            "&amp;eacute;&amp;#x110000;&amp;#0;&amp;amp",
            100_000,
        ))),
        "page-divs-20k" => Input::Page(
            page(&testkit::nested("<div>", "</div>", 20_000, "Nordvent")),
            None,
        ),
        "page-divs-300k" => Input::Page(
            page(&testkit::nested("<div>", "</div>", 300_000, "Nordvent")),
            None,
        ),
        "page-divs-300k-select" => Input::Page(
            page(&format!(
                "{article}{}",
                testkit::nested("<div>", "</div>", 300_000, article)
            )),
            Some(Box::new(article_select())),
        ),
        "page-unclosed-p-1m" => Input::Page(page(&repeat("<p>x", 1_000_000)), None),
        "page-table-foster" => {
            Input::Page(page(&format!("<table>{}", repeat("<div>x", 100_000))), None)
        }
        "page-adoption-chain" => Input::Page(page(&repeat("<b><i><div>x</b></i>", 100_000)), None),
        "page-svg-300k" => Input::Page(
            page(&testkit::nested("<svg>", "</svg>", 300_000, "x")),
            None,
        ),
        "page-template-300k" => Input::Page(
            page(&testkit::nested("<template>", "</template>", 300_000, "x")),
            None,
        ),
        "page-attributes-100k" => Input::Page(page(&many_attributes(100_000)), None),
        "text-attributes-100k" => Input::Text(many_attributes(100_000)),
        "corpus-text" => Input::Corpus(Reading::Tokens),
        "corpus-text-by-tree" => Input::Corpus(Reading::Tree),
        "text-divs-300k" => Input::Text(testkit::nested("<div>", "</div>", 300_000, "Nordvent")),
        "text-unclosed-p-1m" => Input::Text(repeat("<p>x", 1_000_000)),
        "text-table-foster" => Input::Text(format!("<table>{}", repeat("<div>x", 100_000))),
        "text-adoption-chain" => Input::Text(repeat("<b><i><div>x</b></i>", 100_000)),
        "text-svg-300k" => Input::Text(testkit::nested("<svg>", "</svg>", 300_000, "x")),
        "text-template-300k" => {
            Input::Text(testkit::nested("<template>", "</template>", 300_000, "x"))
        }
        _ => return None,
    })
}

const CASES: &[&str] = &[
    "rss-escaped-divs-20k",
    "rss-escaped-divs-300k",
    "rss-cdata-divs-20k",
    "rss-cdata-divs-300k",
    "atom-xhtml-divs-20k",
    "atom-xhtml-divs-300k",
    "rss-5000-items",
    "rss-100k-items",
    "atom-100k-items",
    "json-100k-items",
    "rss-attribute-10mb",
    "rss-text-10mb",
    "rss-billion-laughs",
    "rss-100k-entities",
    "page-divs-20k",
    "page-divs-300k",
    "page-divs-300k-select",
    "page-unclosed-p-1m",
    "page-table-foster",
    "page-adoption-chain",
    "page-svg-300k",
    "page-template-300k",
    "page-attributes-100k",
    "text-attributes-100k",
    "corpus-text",
    "corpus-text-by-tree",
    "text-divs-300k",
    "text-unclosed-p-1m",
    "text-table-foster",
    "text-adoption-chain",
    "text-svg-300k",
    "text-template-300k",
];

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// In the child: builds the input, runs extraction on a 2 MiB-stack thread, prints one line.
fn run_case(name: &str) {
    let Some(input) = build(name) else {
        println!("unknown case");
        return;
    };
    let pages = match &input {
        Input::Corpus(_) => corpus_pages(),
        _ => Vec::new(),
    };
    let size = match &input {
        Input::Feed(bytes) | Input::Page(bytes, _) => bytes.len(),
        Input::Text(text) => text.len(),
        Input::Corpus(_) => pages.iter().map(String::len).sum::<usize>() * 10,
    };
    // Peak RSS from here on (Linux ≥ 4.0); the input stays resident, which is fair.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = status_kib("VmRSS:");
    let source = SourceId::new("hostile");
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let start = Instant::now();
            let outcome = match &input {
                Input::Feed(bytes) => match extract::feed(&source, bytes, None) {
                    Ok(items) => format!(
                        "{} items, longest text {} B",
                        items.len(),
                        items.iter().map(|i| i.text.len()).max().unwrap_or(0)
                    ),
                    Err(e) => format!("error: {e}"),
                },
                Input::Page(bytes, select) => {
                    match extract::page::page(
                        &source,
                        bytes,
                        None,
                        "https://page.example/",
                        select.as_deref(),
                    ) {
                        Ok(items) => format!("{} items", items.len()),
                        Err(e) => format!("error: {e}"),
                    }
                }
                Input::Text(html) => {
                    format!("{} B of text", extract::html_to_text(html).len())
                }
                Input::Corpus(reading) => {
                    let mut bytes = 0;
                    for _ in 0..10 {
                        for page in &pages {
                            bytes += match reading {
                                Reading::Tokens => extract::html_to_text(page).len(),
                                Reading::Tree => text_by_tree(page).len(),
                            };
                        }
                    }
                    format!("{} pages, {bytes} B of text", pages.len() * 10)
                }
            };
            (start.elapsed(), outcome)
        });
    let (elapsed, outcome) = match worker.map(|w| w.join()) {
        Ok(Ok(done)) => done,
        _ => (Duration::ZERO, "panicked".to_string()),
    };
    let peak = status_kib("VmHWM:");
    let outcome: String = outcome.chars().take(90).collect();
    println!(
        "{:>9.3} s  {:>7.1} MB in  {:>7.1} MB peak ({:>6.1} MB before)  {outcome}",
        elapsed.as_secs_f64(),
        size as f64 / 1e6,
        peak as f64 / 1024.0,
        base as f64 / 1024.0,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--case") {
        if let Some(name) = args.get(at + 1) {
            run_case(name);
        }
        return;
    }
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let timeout = Duration::from_secs(
        std::env::var("HOSTILE_TIMEOUT")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(30),
    );
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find this executable");
        return;
    };
    for name in CASES
        .iter()
        .filter(|c| wanted.is_empty() || wanted.iter().any(|w| c.contains(w.as_str())))
    {
        let child = Command::new(&me)
            .args(["--case", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            println!("{name:<24} could not start");
            continue;
        };
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break None,
            }
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = out.read_to_string(&mut stdout);
        }
        if let Some(err) = child.stderr.as_mut() {
            let _ = err.read_to_string(&mut stderr);
        }
        let line = match status {
            None => format!("killed after {} s (still running)", timeout.as_secs()),
            Some(status) if !status.success() => {
                let reason = stderr
                    .lines()
                    .find(|l| l.contains("fatal") || l.contains("overflow") || l.contains("memory"))
                    .unwrap_or("crashed");
                format!(
                    "process died after {:.1} s: {reason}",
                    start.elapsed().as_secs_f64()
                )
            }
            Some(_) => stdout.trim().to_string(),
        };
        println!("{name:<24} {line}");
    }
}
