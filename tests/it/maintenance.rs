//! Database care: an online backup taken while another thread writes, and full-text search.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use veille::model::{Item, SourceId, WatchMatch};
use veille::store::{Matched, Parsed, RunRecord, Store};

fn item(n: i64, title: &str) -> Item {
    Item {
        source: SourceId::new("wire"),
        identity: format!("guid:{n}"),
        url: Some(format!("https://wire.example/{n}")),
        title: title.to_string(),
        text: format!("Texte de l’article numéro {n}, sur l’éolien en mer."),
        published: None,
        author: None,
        lang: None,
    }
}

/// Records one run of the source "wire" at `now` with these items.
fn record(store: &Store, now: DateTime<Utc>, items: &[(Item, Vec<WatchMatch>)]) {
    let source = SourceId::new("wire");
    store
        .record_run(&RunRecord {
            source,
            url: "https://wire.example/feed".to_string(),
            now,
            next_poll_at: now,
            validators: Some(Default::default()),
            body_hash: None,
            redirected_to: None,
            recovered_from: None,
            parsed: Some(Parsed {
                items: items
                    .iter()
                    .cloned()
                    .map(|(item, matches)| Matched::unscored(item, matches))
                    .collect(),
                backfill: veille::store::Backfill::No,
                scoring: None,
            }),
        })
        .expect("record the run");
}

fn write_batch(store: &Store, first: i64, size: i64) {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
        .single()
        .expect("time")
        + Duration::seconds(first);
    let items: Vec<_> = (first..first + size)
        .map(|n| (item(n, &format!("Dépêche {n}")), Vec::new()))
        .collect();
    record(store, now, &items);
}

#[test]
fn a_backup_during_writes_holds_every_committed_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("veille.db");
    let writer_store = Arc::new(Store::open(&path).expect("build"));
    let committed = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, committed, stop) = (writer_store.clone(), committed.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut next = 0;
            while !stop.load(Ordering::SeqCst) {
                write_batch(&store, next, 50);
                next += 50;
                committed.store(next, Ordering::SeqCst);
            }
        })
    };
    // A second connection, as `veille backup` opens while the daemon writes.
    let reader = Store::open(&path).expect("open the store");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while committed.load(Ordering::SeqCst) < 500 {
        assert!(!writer.is_finished(), "the writer stopped");
        assert!(std::time::Instant::now() < deadline, "the writer is stuck");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut backups = Vec::new();
    for n in 0..3 {
        let before = committed.load(Ordering::SeqCst);
        let target = dir.path().join(format!("backup-{n}.db"));
        reader.backup_to(&target).expect("backup to");
        backups.push((target, before));
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    let total = committed.load(Ordering::SeqCst);

    for (target, before) in backups {
        let copy = Store::open(&target).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        let items = copy.counts().map(|c| c.items).unwrap_or(-1);
        assert!(
            items >= before && items <= total && items % 50 == 0,
            "{}: {items} items, {before} committed before, {total} in all (whole batches only)",
            target.display()
        );
        assert!(copy.integrity_ok().unwrap_or(false), "{}", target.display());
        // The copy's search index matches its items.
        let hits = copy.search("dépêche", 100_000).unwrap_or_default();
        assert_eq!(hits.len() as i64, items);
    }
    assert!(
        reader.backup_to(&dir.path().join("backup-0.db")).is_err(),
        "a backup never overwrites"
    );
}

#[test]
fn search_ignores_accents_and_case_and_follows_updates() {
    let store = Store::open_in_memory().expect("open the store");
    write_batch(&store, 0, 3);
    let titles = |q: &str| -> Vec<String> {
        store
            .search(q, 10)
            .expect("search")
            .into_iter()
            .map(|h| h.title)
            .collect()
    };
    assert_eq!(titles("DEPECHE 1").len(), 1);
    assert_eq!(titles("eolien").len(), 3, "accents ignored in the text");
    assert_eq!(titles("eol*").len(), 3, "prefix");
    assert!(titles("absent").is_empty());
    assert!(
        titles("\"unbalanced").is_empty(),
        "odd input is text, not an error"
    );
    // A re-titled item is found under its new title only.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 28, 8, 0, 0)
        .single()
        .expect("time");
    record(&store, now, &[(item(1, "Grève chez Nordvent"), Vec::new())]);
    assert_eq!(titles("greve nordvent"), ["Grève chez Nordvent"]);
    assert!(titles("depeche 1").is_empty());
}
