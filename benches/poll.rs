//! One poll cycle of N generated feeds served from 127.0.0.1, as a whole process.
//!
//! `cargo bench --bench poll` (or the release binary under `/usr/bin/time -v`): serves N
//! feeds (default 1,000; `BENCH_FEEDS=n` to change) of 20 news-like items each, French and
//! English, one in ten in ISO-8859-1, from a small keep-alive HTTP server in this process;
//! then runs one full poll cycle (fetch + parse + match + store into a SQLite file) and an
//! unchanged re-poll (every feed answers 304). `BENCH_STAGES=1` also times fetching alone
//! and parsing alone, to show where the time goes (it holds every body in memory, so leave
//! it off when measuring peak RSS). All feeds share one host, so the per-host limit is
//! raised to the global one: a real configuration spreads sources over many hosts.
//!
//! Two texts. By default (`BENCH_TEXT=repeated`), the worst case for story clustering: every
//! item is made of the same ten sentences, so every fingerprint lookup reads its full
//! posting lists and half the items join one of a few huge stories. `BENCH_TEXT=varied`:
//! each item has its own sentences, random words drawn from the vocabulary of the
//! readability articles of `../shared/corpus/pages/readability`, and one item in ten is a
//! wire copy of another feed's item (its sentences after an intro of its own), so story
//! clustering finds copies in short posting lists, as with real news.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use veille::clock::SystemClock;
use veille::fetch::{FetchOutcome, Validators};
use veille::model::SourceId;
use veille::pipeline::SourceOutcome;
use veille::{App, config, extract, scheduler};

const ITEMS: usize = 20;

const FRENCH: &[&str] = &[
    "Le gouvernement présente un plan pour l'énergie éolienne en mer",
    "Grève à la SNCF : les syndicats appellent à la mobilisation",
    "Nordvent Énergie annonce un parc de soixante éoliennes près de Fécamp",
    "La Banque centrale européenne maintient ses taux directeurs",
    "Sécheresse : les agriculteurs s'inquiètent pour la récolte de blé",
];
const ENGLISH: &[&str] = &[
    "Regulators approve the new offshore wind interconnector",
    "Markets rally as inflation cools for a third month",
    "Nordvent signs a supply deal with a Danish turbine maker",
    "Storm warning issued for the North Sea coast",
    "Tech giant faces antitrust probe over app store rules",
];

/// A small xorshift generator: the same feeds on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Words of the readability articles (letters only, so nothing needs escaping in XML);
/// generated words when the corpus is missing.
fn vocabulary() -> Vec<String> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pages/readability");
    let mut words: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("expected.html")).ok())
        .flat_map(|html| {
            veille::extract::html_to_text(&html)
                .split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
                .filter(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric))
                .collect::<Vec<_>>()
        })
        .collect();
    if words.is_empty() {
        eprintln!(
            "corpus not found under {}: using generated words",
            dir.display()
        );
        words = (0..5000).map(|n| format!("mot{n}")).collect();
    }
    words
}

/// The sentences of item `j` of feed `i` in varied mode, from its own seed.
fn varied_sentences(vocabulary: &[String], i: usize, j: usize) -> Vec<String> {
    let mut rng = Rng::new((i * ITEMS + j) as u64);
    (0..4)
        .map(|_| {
            let len = 8 + rng.below(12);
            let words: Vec<&str> = (0..len)
                .map(|_| vocabulary[rng.below(vocabulary.len())].as_str())
                .collect();
            words.join(" ")
        })
        .collect()
}

/// The title and description of item `j` of feed `i` in varied mode: one item in ten is a
/// wire copy of an item of the previous feed.
fn varied_item(vocabulary: &[String], i: usize, j: usize) -> (String, String) {
    let own = varied_sentences(vocabulary, i, j);
    let title = own[0].split(' ').take(8).collect::<Vec<_>>().join(" ");
    let body = if j.is_multiple_of(10) && i > 0 {
        let copied = varied_sentences(vocabulary, i - 1, j + 1);
        format!("{}. {}.", own[1], copied.join(". "))
    } else {
        format!("{}.", own.join(". "))
    };
    (title, body)
}

fn feed(i: usize, vocabulary: Option<&[String]>) -> Vec<u8> {
    let latin1 = i.is_multiple_of(10);
    let texts = if i.is_multiple_of(2) { FRENCH } else { ENGLISH };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>\n<rss version=\"2.0\"><channel><title>Journal {i}</title><link>https://news{i}.example/</link><description>Actualités</description>\n",
        if latin1 { "ISO-8859-1" } else { "UTF-8" }
    );
    for j in 0..ITEMS {
        let (title, body) = match vocabulary {
            Some(vocabulary) => varied_item(vocabulary, i, j),
            None => {
                let title = texts[(i + j) % texts.len()];
                (
                    format!("{title} ({i}-{j})"),
                    format!(
                        "{title}. {} {}",
                        texts[(i + j + 1) % texts.len()],
                        texts[(i + j + 2) % texts.len()]
                    ),
                )
            }
        };
        xml.push_str(&format!(
            "<item><title>{title}</title><link>https://news{i}.example/articles/{j}</link><guid>news{i}-{j}</guid><pubDate>Fri, 27 Nov 2026 08:{:02}:00 +0100</pubDate><description>&lt;p&gt;{body}&lt;/p&gt;</description></item>\n",
            j % 60,
        ));
    }
    xml.push_str("</channel></rss>\n");
    if latin1 {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&xml);
        bytes.into_owned()
    } else {
        xml.into_bytes()
    }
}

async fn serve(mut stream: TcpStream, feeds: Arc<Vec<Vec<u8>>>) {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let request = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let index: Option<usize> = path.strip_prefix("/feed/").and_then(|n| n.parse().ok());
        let etag = index.map(|i| format!("\"v{i}\""));
        let conditional = request.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("if-none-match:")
                && etag.as_ref().is_some_and(|e| l.contains(e.as_str()))
        });
        let response = match (index.and_then(|i| feeds.get(i)), etag) {
            (Some(_), Some(etag)) if conditional => {
                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n").into_bytes()
            }
            (Some(body), Some(etag)) => {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(body);
                r
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if stream.write_all(&response).await.is_err() {
            return;
        }
    }
}

fn start_server(feeds: Arc<Vec<Vec<u8>>>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(stream, feeds.clone()));
                }
            }
        });
    });
    rx.recv().expect("server address")
}

fn tally(reports: &[veille::pipeline::SourceReport]) -> (usize, usize, usize, usize) {
    let (mut updated, mut unchanged, mut failed, mut items) = (0, 0, 0, 0);
    for report in reports {
        match &report.outcome {
            SourceOutcome::Updated(stats) => {
                updated += 1;
                items += stats.items_new + stats.items_seen;
            }
            SourceOutcome::NotModified => unchanged += 1,
            SourceOutcome::Failed { error, .. } => {
                if failed == 0 {
                    eprintln!("first failure: {} {error}", report.source);
                }
                failed += 1;
            }
        }
    }
    (updated, unchanged, failed, items)
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`; 0 elsewhere),
/// to tell "slow" from "waiting for a CPU another process holds".
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime), counted after the name: 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let n: usize = std::env::var("BENCH_FEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let stages = std::env::var("BENCH_STAGES").is_ok_and(|v| v == "1");
    let varied = match std::env::var("BENCH_TEXT").as_deref() {
        Ok("varied") => true,
        Ok("repeated") | Err(_) => false,
        Ok(other) => panic!("BENCH_TEXT={other}: use repeated (default) or varied"),
    };
    let vocabulary = varied.then(vocabulary);
    let feeds: Arc<Vec<Vec<u8>>> =
        Arc::new((0..n).map(|i| feed(i, vocabulary.as_deref())).collect());
    drop(vocabulary);
    let total_bytes: usize = feeds.iter().map(Vec::len).sum();
    let addr = start_server(feeds);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = String::from(
        "[daemon]\ndatabase = \"bench.db\"\ncontact_url = \"https://veille.example/bench\"\nmax_concurrent_fetches = 16\nper_host_concurrency = 16\n# The feeds are served on loopback.\nallow_private_addresses = [\"127.0.0.0/8\"]\n",
    );
    for i in 0..n {
        toml.push_str(&format!(
            "[[source]]\nid = \"feed-{i}\"\nurl = \"http://{addr}/feed/{i}\"\n"
        ));
    }
    toml.push_str("[[watch]]\nid = \"marque\"\nquery = 'Nordvent \"Nordvent Énergie\"'\n[[watch]]\nid = \"energie\"\nquery = 'éolienne éoliennes wind'\n[[watch]]\nid = \"social\"\nquery = 'grève syndicats strike'\n");
    let path = dir.path().join("veille.toml");
    std::fs::write(&path, toml).expect("write config");
    let config = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = App::new(config, Arc::new(SystemClock)).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<SourceId> = app.config.sources.iter().map(|s| s.id.clone()).collect();
    println!(
        "feeds: {n}, {:.1} MB, {} items, {} text",
        total_bytes as f64 / 1e6,
        n * ITEMS,
        if varied { "varied" } else { "repeated" }
    );

    if stages {
        let started = Instant::now();
        let none = Validators::default();
        let bodies: Vec<Vec<u8>> = rt.block_on(async {
            use futures_util::StreamExt;
            futures_util::stream::iter(app.config.sources.iter())
                .map(|s| app.fetcher.fetch(&s.url, &none, None))
                .buffer_unordered(16)
                .filter_map(|o| async move {
                    match o {
                        FetchOutcome::Fetched(f) => Some(f.body),
                        _ => None,
                    }
                })
                .collect()
                .await
        });
        println!(
            "stage fetch only:  {:>8.3} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let id = SourceId::new("bench");
        let parsed: Vec<Vec<veille::model::Item>> = bodies
            .iter()
            .map(|b| extract::feed_document(&id, b, None, None).unwrap_or_default())
            .collect();
        println!(
            "stage parse only:  {:>8.3} s (one thread, {} items)",
            started.elapsed().as_secs_f64(),
            parsed.iter().map(Vec::len).sum::<usize>()
        );
        let started = Instant::now();
        let matched: Vec<Vec<_>> = parsed
            .into_iter()
            .map(|items| {
                items
                    .into_iter()
                    .map(|item| {
                        let matches = app.matcher.match_text(veille::matching::ItemText {
                            title: &item.title,
                            body: &item.text,
                        });
                        (item, matches)
                    })
                    .collect()
            })
            .collect();
        println!(
            "stage match only:  {:>8.3} s (one thread)",
            started.elapsed().as_secs_f64()
        );
        let store = veille::store::Store::open(&dir.path().join("stages.db")).expect("store");
        let started = Instant::now();
        let now = chrono::Utc::now();
        for (i, items) in matched.iter().enumerate() {
            let source = SourceId::new(format!("feed-{i}"));
            store
                .record_run(&veille::store::RunRecord {
                    source,
                    url: "http://bench/".to_string(),
                    now,
                    next_poll_at: now,
                    validators: Some(Default::default()),
                    body_hash: None,
                    redirected_to: None,
                    recovered_from: None,
                    parsed: Some(veille::store::Parsed {
                        items: items
                            .iter()
                            .cloned()
                            .map(|(item, matches)| veille::store::Matched::unscored(item, matches))
                            .collect(),
                        backfill: veille::store::Backfill::No,
                        scoring: None,
                    }),
                })
                .expect("store");
        }
        println!(
            "stage store only:  {:>8.3} s (1,000 transactions)",
            started.elapsed().as_secs_f64()
        );
    }

    let started = Instant::now();
    let cpu = cpu_seconds();
    let first = rt.block_on(scheduler::poll_sources(&app, &ids));
    let first_time = started.elapsed();
    let first_cpu = cpu_seconds() - cpu;
    let (updated, _, failed, items) = tally(&first);
    println!(
        "first cycle:       {:>8.3} s  {updated} updated, {failed} failed, {items} items, {:.0} items/s, {first_cpu:.2} CPU-s (server included)",
        first_time.as_secs_f64(),
        items as f64 / first_time.as_secs_f64().max(1e-9)
    );

    let started = Instant::now();
    let cpu = cpu_seconds();
    let again = rt.block_on(scheduler::poll_sources(&app, &ids));
    let again_time = started.elapsed();
    let again_cpu = cpu_seconds() - cpu;
    let (_, unchanged, failed, _) = tally(&again);
    println!(
        "unchanged re-poll: {:>8.3} s  {unchanged} unchanged (304), {failed} failed, {again_cpu:.2} CPU-s",
        again_time.as_secs_f64()
    );
    let counts = app.store.counts().expect("counts");
    let stories = app.store.story_count().expect("stories");
    println!(
        "stored: {} items, {} mentions, {stories} stories",
        counts.items, counts.mentions
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}
