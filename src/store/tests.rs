use chrono::Duration;

use rusqlite::params;

use super::*;
use crate::fetch::Validators;
use crate::model::Verdict;
use crate::model::{DigestId, Item, MentionId, SourceId, WatchId, WatchMatch};
use crate::model::{Field, PastEscalation, TermHit};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        + Duration::minutes(minutes)
}

fn item(source: &str, identity: &str, title: &str) -> Item {
    Item {
        source: SourceId::new(source),
        identity: identity.to_string(),
        url: Some(format!("https://{source}.example/{identity}")),
        title: title.to_string(),
        text: format!("text of {title}"),
        published: Some(t(-60)),
        author: None,
        lang: None,
    }
}

fn matched(watch: &str, term: &str) -> WatchMatch {
    WatchMatch {
        watch: WatchId::new(watch),
        held: Vec::new(),
        hits: vec![TermHit {
            term: term.into(),
            field: Field::Title,
            position: 0,
            start: 0,
            end: 0,
        }],
    }
}

fn record(
    store: &Store,
    source: &str,
    now: DateTime<Utc>,
    items: &[(Item, Vec<WatchMatch>)],
) -> RunStats {
    let id = SourceId::new(source);
    store
        .record_run(&RunRecord {
            source: id,
            url: "https://x.example/feed".to_string(),
            now,
            next_poll_at: now + Duration::minutes(15),
            validators: Some(Validators {
                etag: Some("\"v1\"".to_string()),
                last_modified: None,
            }),
            body_hash: None,
            redirected_to: None,
            recovered_from: None,
            parsed: Some(Parsed {
                items: items
                    .iter()
                    .cloned()
                    .map(|(item, matches)| Matched::unscored(item, matches))
                    .collect(),
                backfill: super::Backfill::No,
                scoring: None,
            }),
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

fn open() -> Store {
    Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn repolled_items_are_seen_not_new_and_retitles_update() {
    let store = open();
    let first = record(
        &store,
        "a",
        t(0),
        &[
            (
                item("a", "guid:1", "Acme wins"),
                vec![matched("acme", "acme")],
            ),
            (item("a", "guid:2", "Other"), vec![]),
        ],
    );
    assert_eq!((first.items_new, first.items_seen), (2, 0));
    assert_eq!(first.mentions.get(&WatchId::new("acme")), Some(&1));

    // Same GUID, new title: an update of the same item, not a second mention.
    let second = record(
        &store,
        "a",
        t(15),
        &[(
            item("a", "guid:1", "Acme wins big"),
            vec![matched("acme", "acme")],
        )],
    );
    assert_eq!((second.items_new, second.items_seen), (0, 1));
    assert!(second.mentions.is_empty());
    let counts = store.counts().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((counts.items, counts.mentions), (2, 1));
    let mentions = store
        .mentions_between(&[WatchId::new("acme")], 0, i64::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mentions[0].title, "Acme wins big");

    // The same identity in another source is another item.
    let other = record(
        &store,
        "b",
        t(20),
        &[(
            item("b", "guid:1", "Acme wins"),
            vec![matched("acme", "acme")],
        )],
    );
    assert_eq!(other.items_new, 1);
}

#[test]
fn a_new_watch_finds_items_already_stored() {
    let store = open();
    record(&store, "a", t(0), &[(item("a", "guid:1", "Acme"), vec![])]);
    let stats = record(
        &store,
        "a",
        t(15),
        &[(item("a", "guid:1", "Acme"), vec![matched("acme", "acme")])],
    );
    assert_eq!(stats.mentions.get(&WatchId::new("acme")), Some(&1));
}

#[test]
fn failures_count_up_and_success_resets() {
    let store = open();
    let id = SourceId::new("a");
    assert_eq!(
        store.source_state(&id).unwrap_or_else(|e| panic!("{e}")),
        SourceState::default()
    );
    for expected in 1..=3 {
        let n = store
            .record_failure(
                &id,
                "https://a.example/",
                t(expected),
                "HTTP 500",
                t(expected + 30),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, expected as u32);
    }
    let state = store.source_state(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(state.next_poll_at, Some(t(33)));
    record(&store, "a", t(40), &[]);
    let state = store.source_state(&id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((state.consecutive_failures, state.last_error), (0, None));
    assert_eq!(state.etag.as_deref(), Some("\"v1\""));
    assert_eq!(state.last_success_at, Some(t(40)));
}

#[test]
fn due_sources_are_the_never_polled_and_the_late() {
    let store = open();
    record(&store, "a", t(0), &[]); // next poll at t(15)
    let configured = [SourceId::new("a"), SourceId::new("b")];
    let due = store
        .due_sources(&configured, t(10))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(due, vec![SourceId::new("b")]);
    let due = store
        .due_sources(&configured, t(15))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(due, configured.to_vec());
}

fn mail(key: &str) -> NewMail {
    NewMail {
        key: key.to_string(),
        kind: "digest".to_string(),
        sender: "veille@example.org".to_string(),
        recipients: vec!["a@example.org".to_string(), "b@example.org".to_string()],
        subject: "s".to_string(),
        message_id: "<m@example.org>".to_string(),
        body: b"Subject: s\r\n\r\nbody".to_vec(),
    }
}

#[test]
fn digest_windows_are_watermarked_and_queued_once() {
    let store = open();
    let digest = DigestId::new("daily");
    let watches = [WatchId::new("acme")];
    record(
        &store,
        "a",
        t(0),
        &[(item("a", "guid:1", "one"), vec![matched("acme", "acme")])],
    );
    let up_to = store.last_mention_id().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .mentions_between(&watches, 0, up_to)
            .map(|m| m.len())
            .unwrap_or(0),
        1
    );

    let queue = |window_end| {
        store.queue_digest(NewDigestRun {
            digest: &digest,
            window_start: None,
            window_end,
            last_mention_id: up_to,
            mentions: 1,
            mail: Some(mail("digest:daily:1")),
        })
    };
    let first = queue(t(1)).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.is_some());
    // The same mail key again (a retried run) queues nothing new.
    let again = queue(t(2)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, None);
    assert_eq!(store.counts().map(|c| c.outbox_pending).unwrap_or(0), 1);

    let last = store
        .last_digest_run(&digest)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(last.map(|l| l.last_mention_id), Some(up_to));

    // A mention stored after the window belongs to the next one only.
    record(
        &store,
        "a",
        t(5),
        &[(item("a", "guid:2", "two"), vec![matched("acme", "acme")])],
    );
    let next_up_to = store.last_mention_id().unwrap_or_else(|e| panic!("{e}"));
    let next = store
        .mentions_between(&watches, up_to, next_up_to)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next.iter().map(|m| m.title.as_str()).collect::<Vec<_>>(),
        vec!["two"]
    );
}

#[test]
fn failed_deliveries_wait_for_their_retry_time() {
    let store = open();
    let digest = DigestId::new("d");
    let id = store
        .queue_digest(NewDigestRun {
            digest: &digest,
            window_start: None,
            window_end: t(0),
            last_mention_id: 0,
            mentions: 0,
            mail: Some(mail("k")),
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not queued"));
    let pending = store.pending_mails(t(0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].recipients,
        vec!["a@example.org", "b@example.org"]
    );
    store
        .mark_attempt_failed(id, "connection refused", t(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .pending_mails(t(4))
            .map(|p| p.is_empty())
            .unwrap_or(false)
    );
    assert_eq!(
        store.next_mail_attempt().unwrap_or_else(|e| panic!("{e}")),
        Some(t(5))
    );
    let retry = store.pending_mails(t(5)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retry[0].attempts, 1);
    store
        .mark_sent(id, t(5), "250 ok")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .pending_mails(t(100))
            .map(|p| p.is_empty())
            .unwrap_or(false)
    );
    assert_eq!(
        store.next_mail_attempt().unwrap_or_else(|e| panic!("{e}")),
        None
    );
    assert_eq!(store.counts().map(|c| c.outbox_sent).unwrap_or(0), 1);
}

#[test]
fn export_streams_by_time_and_watch() {
    let store = open();
    record(
        &store,
        "a",
        t(0),
        &[(item("a", "guid:1", "old"), vec![matched("acme", "acme")])],
    );
    record(
        &store,
        "a",
        t(60),
        &[(
            item("a", "guid:2", "new"),
            vec![matched("acme", "acme"), matched("rival", "rival")],
        )],
    );
    let mut seen = Vec::new();
    let count = store
        .for_each_mention(t(30), None, |m| -> Result<()> {
            seen.push((m.watch.to_string(), m.title));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count, 2);
    assert_eq!(
        seen,
        vec![
            ("acme".to_string(), "new".to_string()),
            ("rival".to_string(), "new".to_string())
        ]
    );
    let rival = WatchId::new("rival");
    let count = store
        .for_each_mention(t(-100), Some(&rival), |_| -> Result<()> { Ok(()) })
        .unwrap_or(0);
    assert_eq!(count, 1);
}

#[test]
fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("nested/veille.db");
    {
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        record(
            &store,
            "a",
            t(0),
            &[(item("a", "guid:1", "x"), vec![matched("w", "x")])],
        );
    }
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .counts()
            .map(|c| (c.items, c.mentions))
            .unwrap_or_default(),
        (1, 1)
    );
}

/// The language of each stored item read back two ways: as an item (replays) and on its
/// mentions (digests, the export).
fn langs(store: &Store) -> (Vec<Option<String>>, Vec<Option<String>>) {
    let mut items = Vec::new();
    store
        .for_each_item_since(t(-1000), |_, item, _| -> Result<()> {
            items.push(item.lang);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut mentions = Vec::new();
    store
        .for_each_mention(t(-1000), None, |m| -> Result<()> {
            mentions.push(m.lang);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (items, mentions)
}

#[test]
fn item_languages_are_stored_and_an_unknown_one_keeps_the_known() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    let with_lang = |identity: &str, lang: Option<&str>| Item {
        lang: lang.map(str::to_string),
        ..item("a", identity, identity)
    };
    let fr = || Some("fr".to_string());
    {
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        record(
            &store,
            "a",
            t(0),
            &[
                (with_lang("guid:1", Some("fr")), vec![matched("w", "x")]),
                (with_lang("guid:2", None), vec![matched("w", "x")]),
            ],
        );
    }
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(langs(&store), (vec![fr(), None], vec![fr(), None]));
    // A later poll that cannot tell (no declaration, too little text) keeps what was known;
    // one that can tells.
    record(
        &store,
        "a",
        t(15),
        &[
            (with_lang("guid:1", None), vec![]),
            (with_lang("guid:2", Some("en")), vec![]),
        ],
    );
    let en = Some("en".to_string());
    assert_eq!(langs(&store), (vec![fr(), en.clone()], vec![fr(), en]));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    {
        let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "user_version", 999)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    match Store::open(&path) {
        Ok(_) => panic!("a database from the future was opened"),
        Err(e) => assert!(e.to_string().contains("newer veille"), "{e}"),
    }
}

#[test]
fn previous_window_counts_compare_like_with_like() {
    let store = open();
    let digest = DigestId::new("daily");
    let watches = [WatchId::new("acme"), WatchId::new("other")];
    let run = |n: i64, start: Option<DateTime<Utc>>| {
        let up_to = store.last_mention_id().unwrap_or_else(|e| panic!("{e}"));
        store
            .queue_digest(NewDigestRun {
                digest: &digest,
                window_start: start,
                window_end: t(n),
                last_mention_id: up_to,
                mentions: 0,
                mail: None,
            })
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let counts = || {
        store
            .previous_window_counts(&digest, &watches)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(counts(), None, "no digest yet");
    let found = |n: usize, at: i64| {
        let items: Vec<_> = (0..n)
            .map(|i| {
                (
                    item("a", &format!("guid:{at}-{i}"), "x"),
                    vec![matched("acme", "acme")],
                )
            })
            .collect();
        record(&store, "a", t(at), &items);
    };
    found(5, 0);
    run(10, None);
    assert_eq!(
        counts(),
        None,
        "the first digest covered everything: not a period"
    );
    found(3, 20);
    run(30, Some(t(10)));
    let previous = counts().unwrap_or_default();
    assert_eq!(previous.get(&watches[0]), Some(&3));
    assert_eq!(previous.get(&watches[1]), Some(&0));
    found(1, 40);
    run(50, Some(t(30)));
    assert_eq!(counts().unwrap_or_default().get(&watches[0]), Some(&1));
}

#[test]
fn failed_mail_is_listed_and_can_be_put_back_in_line() {
    let store = open();
    let digest = DigestId::new("daily");
    let id = store
        .queue_digest(NewDigestRun {
            digest: &digest,
            window_start: None,
            window_end: t(0),
            last_mention_id: 0,
            mentions: 0,
            mail: Some(mail("digest:daily:0")),
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("queued"));
    store
        .mark_failed(id, "SMTP x: recipient or sender rejected")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(store.pending_mails(t(600)).unwrap_or_default().is_empty());
    let entries = store.outbox_entries(false).unwrap_or_default();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, "failed");
    assert_eq!(entries[0].attempts, 1);
    assert!(
        entries[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("rejected"))
    );

    assert!(store.retry_mail(id, t(5)).unwrap_or(false));
    let pending = store.pending_mails(t(5)).unwrap_or_default();
    assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    store
        .mark_sent(id, t(6), "250 ok")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !store.retry_mail(id, t(7)).unwrap_or(true),
        "sent mail stays sent"
    );
    assert!(store.outbox_entries(false).unwrap_or_default().is_empty());
    assert_eq!(store.outbox_entries(true).unwrap_or_default().len(), 1);
}

#[test]
fn purge_removes_what_no_feed_carried_since_the_cutoff() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&dir.path().join("v.db")).unwrap_or_else(|e| panic!("{e}"));
    let auto_vacuum: i64 = store
        .conn()
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .unwrap_or(0);
    assert_eq!(auto_vacuum, 2, "new databases vacuum incrementally");
    let old: Vec<_> = (0..1_500)
        .map(|n| {
            (
                item("a", &format!("guid:old-{n}"), &format!("old {n}")),
                vec![matched("acme", "acme")],
            )
        })
        .collect();
    record(&store, "a", t(0), &old);
    // Still in the feed later: kept, however old its publication.
    record(
        &store,
        "a",
        t(0),
        &[(
            item("a", "guid:kept", "kept"),
            vec![matched("acme", "acme")],
        )],
    );
    record(
        &store,
        "a",
        t(60 * 24 * 200),
        &[(
            item("a", "guid:kept", "kept"),
            vec![matched("acme", "acme")],
        )],
    );
    let before = store.counts().unwrap_or_default();
    assert_eq!((before.items, before.mentions), (1_501, 1_501));
    let last_id = store.last_mention_id().unwrap_or(0);

    let purged = store
        .purge(t(60 * 24 * 20), Duration::days(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((purged.items, purged.mentions), (1_500, 1_500));
    let after = store.counts().unwrap_or_default();
    assert_eq!((after.items, after.mentions), (1, 1));
    assert!(
        store.search("old", 10).unwrap_or_default().is_empty(),
        "search follows"
    );
    assert_eq!(store.search("kept", 10).unwrap_or_default().len(), 1);
    // Mention ids are never reused after a purge (they are the digest watermark).
    record(
        &store,
        "a",
        t(60 * 24 * 201),
        &[(item("a", "guid:new", "new"), vec![matched("acme", "acme")])],
    );
    assert!(store.last_mention_id().unwrap_or(0) > last_id);
}

#[test]
fn search_index_follows_new_edited_and_repeated_items() {
    let store = open();
    // One run carrying the same identity twice (a feed that repeats an entry, edited).
    record(
        &store,
        "a",
        t(0),
        &[
            (item("a", "guid:1", "alpha"), vec![]),
            (item("a", "guid:2", "bravo"), vec![]),
            (item("a", "guid:1", "charlie"), vec![]),
        ],
    );
    // A re-poll: one entry unchanged, one re-titled, one new.
    record(
        &store,
        "a",
        t(30),
        &[
            (item("a", "guid:1", "charlie"), vec![]),
            (item("a", "guid:2", "delta"), vec![]),
            (item("a", "guid:3", "echo"), vec![]),
        ],
    );
    let hits = |word: &str| {
        store
            .search(word, 10)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|h| h.title)
            .collect::<Vec<_>>()
    };
    let cases: &[(&str, &[&str])] = &[
        ("alpha", &[]),
        ("bravo", &[]),
        ("charlie", &["charlie"]),
        ("delta", &["delta"]),
        ("echo", &["echo"]),
    ];
    for (word, expected) in cases {
        assert_eq!(hits(word), *expected, "search for {word}");
    }
    // FTS5's own check: the index holds exactly the terms of the stored rows.
    store
        .conn()
        .execute_batch("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
        .unwrap_or_else(|e| panic!("the search index is out of step: {e}"));
}

#[test]
fn cached_statements_are_not_parsed_again_on_each_use() {
    use rusqlite::StatementStatus;
    let store = open();
    for n in 0..3 {
        let source = format!("s{n}");
        record(
            &store,
            &source,
            t(n),
            &[(item(&source, "g", "x y z"), vec![])],
        );
    }
    let conn = store.conn();
    // Shapes of the story lookups: an ORDER BY over an equality, a LIMIT parameter. Without
    // a stable plan each use after the cache cleared the bindings was a full re-parse.
    let cases = [
        "SELECT story_id FROM items WHERE canonical_url = ?1 AND source_id <> ?2 ORDER BY id LIMIT 1",
        "SELECT item_id FROM story_fingerprints WHERE hash = ?1 AND seen_at >= ?2 ORDER BY seen_at DESC LIMIT ?2",
    ];
    for sql in cases {
        for i in 0..5i64 {
            let mut stmt = conn.prepare_cached(sql).unwrap_or_else(|e| panic!("{e}"));
            let mut rows = stmt
                .query(params![format!("https://s{i}.example/g"), i])
                .unwrap_or_else(|e| panic!("{e}"));
            while rows.next().unwrap_or_else(|e| panic!("{e}")).is_some() {}
        }
        let stmt = conn.prepare_cached(sql).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "{sql}");
    }
}

#[test]
fn live_mentions_are_counted_per_hour_and_old_hours_purged() {
    let store = open();
    let hours = |store: &Store| -> Vec<(i64, i64)> {
        let conn = store.conn();
        let mut stmt = conn
            .prepare("SELECT hour, mentions FROM watch_hours ORDER BY hour")
            .unwrap_or_else(|e| panic!("{e}"));
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let two = [
        (item("a", "guid:1", "one"), vec![matched("acme", "acme")]),
        (item("a", "guid:2", "two"), vec![matched("acme", "acme")]),
    ];
    record(&store, "a", t(0), &two);
    // A seen item matched again is not a new mention; a new one 40 days later is.
    record(&store, "a", t(5), &two);
    let later = t(60 * 24 * 40);
    record(
        &store,
        "a",
        later,
        &[(item("a", "guid:3", "three"), vec![matched("acme", "acme")])],
    );
    let first_hour = t(0).timestamp().div_euclid(3600);
    let last_hour = later.timestamp().div_euclid(3600);
    assert_eq!(hours(&store), vec![(first_hour, 2), (last_hour, 1)]);
    store
        .purge(later, Duration::days(180))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hours(&store),
        vec![(last_hour, 1)],
        "older than 28 days: purged"
    );
}

/// Two sources carry the same article (one story); a third item is its own story.
fn judged_fixture(store: &Store) -> Vec<MentionRecord> {
    let mut copy = item("b", "guid:9", "Acme recalls its kettles");
    copy.url = Some("https://a.example/guid:1".to_string());
    record(
        store,
        "a",
        t(0),
        &[
            (
                item("a", "guid:1", "Acme recalls its kettles"),
                vec![matched("acme", "acme")],
            ),
            (
                item("a", "guid:2", "Acme opens a shop"),
                vec![matched("acme", "acme")],
            ),
        ],
    );
    record(store, "b", t(5), &[(copy, vec![matched("acme", "acme")])]);
    let mut all = Vec::new();
    store
        .for_each_mention(t(-100), None, |m| {
            all.push(m);
            Ok::<(), StoreError>(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    all
}

#[test]
fn a_story_verdict_judges_each_copy_and_leaves_the_review_queue() {
    let store = open();
    let mentions = judged_fixture(&store);
    assert_eq!(mentions.len(), 3);
    let (recall, shop, copy) = (&mentions[0], &mentions[1], &mentions[2]);
    assert_eq!(recall.story, copy.story, "the copy joined the story");
    assert!(mentions.iter().all(|m| m.verdict.is_none()));

    let queue = store
        .review_stories(t(-100), 50)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queue.len(), 2, "one entry per story: {queue:?}");
    let recall_entry = queue
        .iter()
        .find(|r| r.mention.story == recall.story)
        .unwrap_or_else(|| panic!("the recall story is waiting"));
    // Both copies link to one host: one outlet.
    assert_eq!((recall_entry.mentions, recall_entry.outlets), (2, 1));

    let judged = store
        .judge(&NewJudgment {
            mention: copy.id,
            verdict: Verdict::Crisis,
            note: Some("call legal"),
            who: "alice",
            via: "review",
            at: t(10),
            whole_story: true,
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the mention exists"));
    assert_eq!(judged.mentions, vec![copy.id, recall.id]);
    assert_eq!((judged.story, judged.previous), (recall.story, None));

    let queue = store
        .review_stories(t(-100), 50)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        queue.iter().map(|r| r.mention.id).collect::<Vec<_>>(),
        vec![shop.id]
    );
    let current = store
        .judgment_of(recall.id)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("judged"));
    assert_eq!(
        (
            current.verdict,
            current.note.as_deref(),
            current.who.as_str(),
            current.via.as_str()
        ),
        (Verdict::Crisis, Some("call legal"), "alice", "review")
    );

    // A changed mind: a new row, the latest wins, the previous verdict is reported.
    let again = store
        .judge(&NewJudgment {
            mention: recall.id,
            verdict: Verdict::Relevant,
            note: None,
            who: "bob",
            via: "cli",
            at: t(20),
            whole_story: false,
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the mention exists"));
    assert_eq!(
        (again.mentions.len(), again.previous),
        (1, Some(Verdict::Crisis))
    );
    let judged_set = store
        .judged_mentions(&WatchId::new("acme"))
        .unwrap_or_else(|e| panic!("{e}"));
    let verdicts: Vec<(MentionId, Verdict)> = judged_set.iter().map(|(m, v)| (m.id, *v)).collect();
    assert_eq!(
        verdicts,
        vec![(recall.id, Verdict::Relevant), (copy.id, Verdict::Crisis)]
    );
    assert_eq!(
        store.judgments_version().unwrap_or_else(|e| panic!("{e}")),
        3
    );
    assert_eq!(
        store.judgment_counts().unwrap_or_else(|e| panic!("{e}")),
        vec![(WatchId::new("acme"), 2)]
    );

    let unjudged = store
        .list_mentions(&MentionFilter {
            unjudged: true,
            limit: 10,
            ..MentionFilter::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        unjudged.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![shop.id]
    );
    let all = store
        .list_mentions(&MentionFilter {
            watch: Some(&WatchId::new("acme")),
            since: Some(t(3)),
            limit: 10,
            ..MentionFilter::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), vec![copy.id]);
    assert_eq!(all[0].verdict, Some(Verdict::Crisis));
}

#[test]
fn judging_an_unknown_mention_records_nothing() {
    let store = open();
    let outcome = store
        .judge(&NewJudgment {
            mention: MentionId(404),
            verdict: Verdict::Relevant,
            note: None,
            who: "alice",
            via: "cli",
            at: t(0),
            whole_story: true,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome, None);
    assert_eq!(
        store.judgments_version().unwrap_or_else(|e| panic!("{e}")),
        0
    );
}

fn judge_at(store: &Store, mention: MentionId, verdict: Verdict, at: DateTime<Utc>) -> Judged {
    store
        .judge(&NewJudgment {
            mention,
            verdict,
            note: None,
            who: "alice",
            via: "mail",
            at,
            whole_story: true,
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the mention exists"))
}

/// Records an escalation of `judged`'s story, keeping what the store reported of the last one.
fn escalate(
    store: &Store,
    judged: &Judged,
    at: DateTime<Utc>,
    decide: bool,
) -> (Option<PastEscalation>, Option<Vec<i64>>) {
    let mail = NewMail {
        key: format!(
            "alert:crise:crisis:{}:{}",
            judged.story.0, judged.judgment.id
        ),
        kind: "alert".to_string(),
        sender: "veille@example.org".to_string(),
        recipients: vec!["crisis@example.org".to_string()],
        subject: "CRISIS".to_string(),
        message_id: format!("<crisis.{}@example.org>", judged.judgment.id),
        body: b"body".to_vec(),
    };
    let mails = [(crate::model::AlertId::new("crise"), mail)];
    let mut seen = None;
    let queued = store
        .record_escalation(
            &NewEscalation {
                watch: &judged.watch,
                story: judged.story,
                judgment: judged.judgment.id,
                outlets: 1,
                now: at,
                mails: &mails,
            },
            |past| {
                seen = past.copied();
                decide
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    (seen, queued)
}

#[test]
fn an_escalation_is_remembered_with_what_happened_to_its_story_since() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mentions = judged_fixture(&store);
    let recall = &mentions[0];
    let crisis = judge_at(&store, recall.id, Verdict::Crisis, t(10));
    let (past, queued) = escalate(&store, &crisis, t(10), true);
    assert_eq!(past, None, "never escalated");
    assert_eq!(queued.map(|q| q.len()), Some(1), "its mail is queued");

    // Refused by the caller: nothing written, no mail.
    let pending = || store.counts().map(|c| c.outbox_pending).unwrap_or(0);
    let again = judge_at(&store, recall.id, Verdict::Crisis, t(12));
    let (past, queued) = escalate(&store, &again, t(12), false);
    assert_eq!(queued, None);
    assert_eq!(pending(), 1);
    let expected = PastEscalation {
        judgment: crisis.judgment.id,
        at: t(10),
        cleared_at: None,
        newest_mention_at: Some(t(5)),
    };
    assert_eq!(past, Some(expected));

    // Stood down, then a new copy of the story: both are reported, and survive a reopening.
    judge_at(&store, recall.id, Verdict::Relevant, t(20));
    judge_at(&store, recall.id, Verdict::Irrelevant, t(25));
    let mut copy = item("c", "guid:3", "Acme recalls its kettles");
    copy.url = Some("https://a.example/guid:1".to_string());
    record(&store, "c", t(30), &[(copy, vec![matched("acme", "acme")])]);
    drop(store);
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let latest = judge_at(&store, recall.id, Verdict::Crisis, t(40));
    let (past, queued) = escalate(&store, &latest, t(40), true);
    assert_eq!(
        past,
        Some(PastEscalation {
            cleared_at: Some(t(20)),
            newest_mention_at: Some(t(30)),
            ..expected
        })
    );
    assert_eq!(queued.map(|q| q.len()), Some(1));
    // The new escalation is the story's last: what came before it no longer counts.
    let (past, _) = escalate(&store, &latest, t(41), false);
    assert_eq!(
        past.map(|p| (p.judgment, p.cleared_at)),
        Some((latest.judgment.id, None))
    );
}

#[test]
fn an_upgrade_counts_stories_judged_a_crisis_as_escalated() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    let crisis = {
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mentions = judged_fixture(&store);
        judge_at(&store, mentions[0].id, Verdict::Crisis, t(10));
        judge_at(&store, mentions[1].id, Verdict::Relevant, t(11));
        judge_at(&store, mentions[0].id, Verdict::Crisis, t(12))
    };
    // The database as the release before the escalations left it: that migration and the
    // ones after it undone.
    {
        let before = migrations::MIGRATIONS
            .iter()
            .position(|sql| sql.contains("CREATE TABLE crisis_escalations"))
            .unwrap_or_else(|| panic!("no escalation migration"));
        let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("DROP TABLE crisis_escalations; ALTER TABLE items DROP COLUMN lang;")
            .unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let (past, _) = escalate(&store, &crisis, t(20), false);
    let past = past.unwrap_or_else(|| panic!("the story counts as escalated"));
    // The latest crisis verdict (its last row: the story's copies are judged with it).
    assert_eq!(past.at, t(12));
    assert!(past.judgment >= crisis.judgment.id, "{past:?}");
    assert_eq!(
        past.cleared_at, None,
        "the relevant verdict was on another story"
    );
}

#[test]
fn the_database_and_its_backups_are_private_and_loose_files_are_tightened() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    let wal = dir.path().join("veille.db-wal");
    let shm = dir.path().join("veille.db-shm");
    {
        // New: 0600 before SQLite writes a byte, and SQLite's own files follow it.
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        record(&store, "a", t(0), &[(item("a", "g", "x"), vec![])]);
        for file in [&path, &wal, &shm] {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        let backup = dir.path().join("backup.db");
        store.backup_to(&backup).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&backup), 0o600);
        let again = store
            .backup_to(&backup)
            .map(|()| "overwrote")
            .unwrap_or_else(|e| {
                assert!(e.to_string().contains("never overwrites"), "{e}");
                "refused"
            });
        assert_eq!(again, "refused");
    }
    // Left world-readable by an older veille: tightened at the next open, owner bits kept.
    for file in [&path, &wal, &shm] {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664))
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    for file in [&path, &wal, &shm] {
        if file.exists() {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }
    assert_eq!(store.counts().map(|c| c.items).unwrap_or(0), 1);
}

#[test]
fn errors_tell_a_busy_database_from_a_refused_write_and_keep_their_cause() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.db");
    let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
    store
        .conn()
        .busy_timeout(std::time::Duration::ZERO)
        .unwrap_or_else(|e| panic!("{e}"));

    // Another process (`veille outbox`, a backup) holds the write lock.
    let other = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
    other
        .execute_batch("BEGIN IMMEDIATE")
        .unwrap_or_else(|e| panic!("{e}"));
    let busy = match store.record_failure(
        &SourceId::new("a"),
        "https://a.example/",
        t(0),
        "HTTP 500",
        t(30),
    ) {
        Ok(_) => panic!("written under another process's lock"),
        Err(e) => e,
    };
    other
        .execute_batch("ROLLBACK")
        .unwrap_or_else(|e| panic!("{e}"));

    // A mention of an item that does not exist.
    let refused = match store
        .conn()
        .execute(
            "INSERT INTO mentions (item_id, watch_id, terms, created_at) VALUES (12345, 'w', '[]', 0)",
            [],
        )
        .context("storing a mention")
    {
        Ok(_) => panic!("a mention without its item was stored"),
        Err(e) => e,
    };

    let not_sqlite = StoreError::other("checking the schema version", "written by a newer veille");
    let cases = [
        (
            &busy,
            true,
            false,
            "database error while recording a failed poll: database is locked",
        ),
        (
            &refused,
            false,
            true,
            "database error while storing a mention: FOREIGN KEY constraint failed",
        ),
        (
            &not_sqlite,
            false,
            false,
            "database error while checking the schema version: written by a newer veille",
        ),
    ];
    for (error, is_busy, is_constraint, message) in cases {
        assert_eq!(
            (error.is_busy(), error.is_constraint()),
            (is_busy, is_constraint),
            "{error}"
        );
        assert_eq!(error.to_string(), message);
        // The chain says it once, then what SQLite adds (its error code), if anything.
        let chain = crate::error_chain(error);
        assert!(chain.starts_with(message), "{chain}");
        assert_eq!(chain.matches(message).count(), 1, "{chain}");
        assert_eq!(
            std::error::Error::source(error).is_some(),
            is_busy || is_constraint
        );
    }
}
