//! The schema, as an ordered list of migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is never
//! edited once released: add a new one at the end.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the walking skeleton.
    r#"
    CREATE TABLE source_state (
        source_id            TEXT PRIMARY KEY,
        url                  TEXT NOT NULL,
        etag                 TEXT,
        last_modified        TEXT,
        last_polled_at       INTEGER,
        last_success_at      INTEGER,
        next_poll_at         INTEGER,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error           TEXT
    );

    CREATE TABLE items (
        id           INTEGER PRIMARY KEY,
        source_id    TEXT NOT NULL,
        identity     TEXT NOT NULL,
        url          TEXT,
        title        TEXT NOT NULL,
        text         TEXT NOT NULL,
        published_at INTEGER,
        first_seen_at INTEGER NOT NULL,
        last_seen_at  INTEGER NOT NULL,
        UNIQUE (source_id, identity)
    );

    -- AUTOINCREMENT: mention ids are the digest watermark and must never be reused, even
    -- after the newest rows are purged.
    CREATE TABLE mentions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        watch_id   TEXT NOT NULL,
        terms      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (item_id, watch_id)
    );
    CREATE INDEX mentions_by_watch ON mentions(watch_id, id);
    CREATE INDEX mentions_by_time ON mentions(created_at);

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        key             TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,
        sender          TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        subject         TEXT NOT NULL,
        message_id      TEXT NOT NULL,
        body            BLOB NOT NULL,
        status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        next_attempt_at INTEGER,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER,
        receipt         TEXT
    );
    CREATE INDEX outbox_pending ON outbox(status, next_attempt_at);

    CREATE TABLE digest_runs (
        id              INTEGER PRIMARY KEY,
        digest_id       TEXT NOT NULL,
        window_start    INTEGER,
        window_end      INTEGER NOT NULL,
        last_mention_id INTEGER NOT NULL,
        mentions        INTEGER NOT NULL,
        outbox_id       INTEGER REFERENCES outbox(id),
        UNIQUE (digest_id, window_end)
    );
    "#,
    // 2: full-text search over items (`veille search`): an external-content FTS5 index kept
    // in step with `items` by triggers, accents ignored (remove_diacritics 2); and the index
    // the retention purge reads.
    r#"
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, text,
        content = 'items', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN
        INSERT INTO items_fts (items_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO items_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
    INSERT INTO items_fts (items_fts) VALUES ('rebuild');

    -- Retention purges by "not seen in any feed since".
    CREATE INDEX items_by_last_seen ON items(last_seen_at);
    "#,
    // 3: fetch health: gone sources, failure streaks and recoveries, permanent redirects, and
    // the hash of the last body (a 200 with the same body is not parsed again).
    r#"
    ALTER TABLE source_state ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'gone'));
    ALTER TABLE source_state ADD COLUMN failing_since INTEGER;
    ALTER TABLE source_state ADD COLUMN recovered_at INTEGER;
    ALTER TABLE source_state ADD COLUMN recovered_failing_since INTEGER;
    ALTER TABLE source_state ADD COLUMN recovered_failures INTEGER;
    ALTER TABLE source_state ADD COLUMN redirected_to TEXT;
    ALTER TABLE source_state ADD COLUMN body_hash TEXT;
    ALTER TABLE source_state ADD COLUMN gone_at INTEGER;
    "#,
    // 4: stories: items that are the same document (canonical URL) or copies of one story
    // (sampled-shingle fingerprint). Items stored before this migration become stories of
    // their own (story id = item id) without canonical URL or fingerprint.
    r#"
    CREATE TABLE stories (
        id                     INTEGER PRIMARY KEY,
        representative_item_id INTEGER NOT NULL,
        first_seen_at          INTEGER NOT NULL,
        last_seen_at           INTEGER NOT NULL,
        items                  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX stories_by_last_seen ON stories(last_seen_at);

    ALTER TABLE items ADD COLUMN canonical_url TEXT;
    ALTER TABLE items ADD COLUMN outlet TEXT;
    ALTER TABLE items ADD COLUMN fingerprint BLOB;
    ALTER TABLE items ADD COLUMN fingerprint_shingles INTEGER;
    ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories(id);
    CREATE INDEX items_by_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
    CREATE INDEX items_by_story ON items(story_id);

    INSERT INTO stories (id, representative_item_id, first_seen_at, last_seen_at, items)
        SELECT id, id, first_seen_at, last_seen_at, 1 FROM items;
    UPDATE items SET story_id = id;

    -- The near-duplicate index: one row per sampled shingle hash of an item, probed by hash
    -- and time window (never scanned).
    CREATE TABLE story_fingerprints (
        hash    INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        item_id INTEGER NOT NULL,
        PRIMARY KEY (hash, seen_at, item_id)
    ) WITHOUT ROWID;

    -- How many items of a source carried each sentence: recurring ones are boilerplate.
    CREATE TABLE source_sentences (
        source_id    TEXT NOT NULL,
        key          INTEGER NOT NULL,
        items        INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        PRIMARY KEY (source_id, key)
    ) WITHOUT ROWID;
    "#,
    // 5: the full-text index is written by `record_run` once per run instead of by
    // triggers item by item. FTS5 flushes its pending terms to a new segment at every
    // statement savepoint, and every item insert opened one: a 20-item run wrote 20 tiny
    // segments (and merged them) instead of one. Deletes (the retention purge) keep their
    // trigger.
    r#"
    DROP TRIGGER items_fts_insert;
    DROP TRIGGER items_fts_update;
    "#,
    // Social posts: who wrote an item (a handle for posts, a name for articles), shown in
    // digests. Older items have none.
    r#"
    ALTER TABLE items ADD COLUMN author TEXT;
    "#,
    // Scores and alerts (issue 7): a mention's score and its reasons (JSON, see
    // `crate::score`); whether it was found by a backfill (a source's first poll, or the first
    // after a long outage), which never alerts nor counts toward spikes.
    r#"
    ALTER TABLE mentions ADD COLUMN score REAL;
    ALTER TABLE mentions ADD COLUMN reasons TEXT;
    ALTER TABLE mentions ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;
    -- 1 while a live mention waits for the alert engine: set when stored, cleared once every
    -- rule has taken it in. A crash in between leaves it set, and the next start takes it in.
    ALTER TABLE mentions ADD COLUMN awaiting_alerts INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX mentions_awaiting_alerts ON mentions(id) WHERE awaiting_alerts = 1;
    -- The current window of a spike check counts live mentions of one watch by time.
    CREATE INDEX mentions_live ON mentions(watch_id, created_at) WHERE backfill = 0;

    -- Live mentions per watch and hour (hour = unix time / 3600): the spike baseline. Kept
    -- apart from mentions so the baseline survives the retention purge of items.
    CREATE TABLE watch_hours (
        watch_id TEXT NOT NULL,
        hour     INTEGER NOT NULL,
        mentions INTEGER NOT NULL,
        PRIMARY KEY (watch_id, hour)
    ) WITHOUT ROWID;

    -- Per alert rule: when its last story mail was queued, and the mentions that came since
    -- and were not shown in a mail ("+12 new mentions since the last alert").
    CREATE TABLE alert_rules (
        rule_id      TEXT PRIMARY KEY,
        last_mail_at INTEGER,
        folded       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;

    -- New stories that passed a rule and wait for its next mail (throttle, quiet hours).
    CREATE TABLE alert_pending (
        rule_id    TEXT NOT NULL,
        story_id   INTEGER NOT NULL,
        mention_id INTEGER NOT NULL,
        score      REAL NOT NULL,
        reasons    TEXT NOT NULL,
        queued_at  INTEGER NOT NULL,
        PRIMARY KEY (rule_id, story_id)
    ) WITHOUT ROWID;

    -- Stories a rule has mailed about (never alerted again), with their mail thread and the
    -- outlet count last shown.
    CREATE TABLE alert_stories (
        rule_id          TEXT NOT NULL,
        story_id         INTEGER NOT NULL,
        first_message_id TEXT NOT NULL,
        last_message_id  TEXT NOT NULL,
        refs             TEXT NOT NULL,
        outlets          INTEGER NOT NULL,
        alerted_at       INTEGER NOT NULL,
        PRIMARY KEY (rule_id, story_id)
    ) WITHOUT ROWID;

    -- Spike episodes in progress: a spike mails once, when it starts.
    CREATE TABLE alert_spikes (
        rule_id  TEXT NOT NULL,
        watch_id TEXT NOT NULL,
        since    INTEGER NOT NULL,
        PRIMARY KEY (rule_id, watch_id)
    ) WITHOUT ROWID;
    "#,
    // Judgments (issue 9): every verdict people give, from a mail link, the review page or the
    // command line. Never updated: a changed mind is a new row, and a mention's current
    // verdict is its latest row.
    r#"
    CREATE TABLE judgments (
        id         INTEGER PRIMARY KEY,
        mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
        verdict    TEXT NOT NULL CHECK (verdict IN ('relevant', 'irrelevant', 'crisis')),
        note       TEXT,
        who        TEXT NOT NULL,
        via        TEXT NOT NULL,
        judged_at  INTEGER NOT NULL
    );
    CREATE INDEX judgments_by_mention ON judgments(mention_id, id);
    "#,
    // Crisis escalations: the last crisis verdict that mailed each (watch, story), so a story
    // escalates once (see `crate::alerting::escalate` for when it may again), across restarts
    // and however often its links are replayed. Stories judged a crisis before this
    // migration count as escalated by their latest crisis verdict: an upgrade mails nobody.
    r#"
    CREATE TABLE crisis_escalations (
        watch_id     TEXT NOT NULL,
        story_id     INTEGER NOT NULL,
        judgment_id  INTEGER NOT NULL,
        escalated_at INTEGER NOT NULL,
        PRIMARY KEY (watch_id, story_id)
    ) WITHOUT ROWID;
    INSERT INTO crisis_escalations (watch_id, story_id, judgment_id, escalated_at)
        SELECT m.watch_id, i.story_id, MAX(j.id), MAX(j.judged_at)
          FROM judgments j JOIN mentions m ON m.id = j.mention_id JOIN items i ON i.id = m.item_id
         WHERE j.verdict = 'crisis' AND i.story_id IS NOT NULL
         GROUP BY m.watch_id, i.story_id;
    "#,
    // Item languages: an ISO 639 code (`fr`, `en`, `gsw`) as the source declared it or as
    // detected from the text (see `crate::extract::lang`), for `lang:` queries and the
    // export. NULL when unknown, and for items stored before this migration.
    r#"
    ALTER TABLE items ADD COLUMN lang TEXT;
    "#,
];
