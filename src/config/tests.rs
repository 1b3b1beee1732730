use std::path::Path;

use std::time::Duration;

use chrono_tz::Tz;

use super::*;
use crate::model::{DigestId, Secret, SourceId, SourceKind, WatchId};

const VALID: &str = r#"
[daemon]
timezone = "Europe/Paris"

[[source]]
id = "a"
url = "https://news.example/feed.xml"
tags = ["presse"]

[[source]]
id = "b"
url = "file:feeds/b.xml"
every = "1h"

[[watch]]
id = "brand"
query = 'acme "acme corp"'
sources = ["presse"]
digests = ["daily"]

[[digest]]
id = "daily"
to = "team@example.org"
at = ["08:00", "17:30"]
days = "mon-fri"
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    load_with_env(text, Path::new("/etc/veille/veille.toml"), &no_env)
}

fn errors_of(text: &str) -> Vec<ConfigError> {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.0,
    }
}

#[test]
fn valid_config_is_typed_and_resolved() {
    let config = load(VALID).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.daemon.timezone, chrono_tz::Europe::Paris);
    assert_eq!(config.daemon.database, Path::new("/etc/veille/veille.db"));
    assert_eq!(config.daemon.mail_dir, Path::new("/etc/veille/mail"));
    assert_eq!(config.sources.len(), 2);
    assert_eq!(config.sources[0].every, defaults::EVERY);
    assert_eq!(config.sources[1].every, Duration::from_secs(3600));
    assert_eq!(
        config.sources[1].url.as_str(),
        "file:///etc/veille/feeds/b.xml"
    );
    let watch = &config.watches[0];
    assert_eq!(
        watch.sources,
        HashSet::from([SourceId::new("a")]),
        "tag presse selects source a only"
    );
    assert_eq!(watch.digests, vec![DigestId::new("daily")]);
    assert_eq!(config.digests[0].schedule.at.len(), 2);
    assert!(config.smtp.is_none());
}

#[test]
fn defaults_select_everything() {
    let text = r#"
[[source]]
id = "a"
url = "https://a.example/"
[[source]]
id = "b"
url = "https://b.example/"
[[watch]]
id = "w"
query = "x"
[[digest]]
id = "d"
to = "x@example.org"
"#;
    let config = load(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.watches[0].sources.len(), 2);
    assert_eq!(config.watches[0].digests, vec![DigestId::new("d")]);
    assert_eq!(config.daemon.timezone, Tz::UTC);
    assert_eq!(config.digests[0].max_items, defaults::DIGEST_MAX_ITEMS);
}

/// One bad input per row: the TOML, and where (line, column) and what (key, words of the
/// message) the first error must say.
#[test]
fn each_bad_input_names_line_column_and_key() {
    struct Case {
        name: &'static str,
        toml: &'static str,
        line: usize,
        column: usize,
        key: &'static str,
        message: &'static str,
    }
    let cases = [
        Case {
            name: "unterminated string",
            toml: "[daemon]\ntimezone = \"UTC\nx",
            line: 2,
            column: 16,
            key: "(syntax)",
            message: "invalid TOML: invalid basic string",
        },
        Case {
            name: "a network that is not one",
            toml: "[daemon]\nallow_private_addresses = [\"127.0.0.0/8\", \"intranet\"]\n",
            line: 2,
            column: 43,
            key: "daemon.allow_private_addresses",
            message: "\"intranet\" is not a network",
        },
        Case {
            name: "a password in a source URL",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://feed:hunter2@intranet.example/feed\"\n",
            line: 3,
            column: 7,
            key: "source \"s\".url",
            message: "the URL carries a password, which would be logged and stored with it: write the URL without `user:password@` and set username = \"feed\" and password_file",
        },
        Case {
            name: "a user name in a source URL",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://feed@intranet.example/feed\"\n",
            line: 3,
            column: 7,
            key: "source \"s\".url",
            message: "set username and password_file",
        },
        Case {
            name: "a source username without a password file",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://a.example/\"\nusername = \"veille\"\n",
            line: 4,
            column: 12,
            key: "source \"s\".username",
            message: "set `password_file`",
        },
        Case {
            name: "a source password file without a username",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://a.example/\"\npassword_file = \"p\"\n",
            line: 4,
            column: 17,
            key: "source \"s\".password_file",
            message: "set `username` too",
        },
        Case {
            name: "a source password written in the file",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://a.example/\"\npassword = \"hunter2\"\n",
            line: 4,
            column: 12,
            key: "source \"s\".password",
            message: "never written in the configuration",
        },
        Case {
            name: "a file source that logs in",
            toml: "[[source]]\nid = \"s\"\nurl = \"file:feed.xml\"\nusername = \"veille\"\npassword_file = \"p\"\n",
            line: 4,
            column: 12,
            key: "source \"s\".username",
            message: "only http and https sources log in",
        },
        Case {
            name: "a source password file that cannot be read",
            toml: "[[source]]\nid = \"s\"\nurl = \"https://a.example/\"\nusername = \"veille\"\npassword_file = \"/nonexistent/p\"\n",
            line: 5,
            column: 17,
            key: "source \"s\".password_file",
            message: "cannot read /nonexistent/p",
        },
        Case {
            name: "a listener others reach, metrics without a token",
            toml: "[daemon]\nlisten = \"0.0.0.0:9480\"\n",
            line: 2,
            column: 10,
            key: "daemon.metrics_token_file",
            message: "0.0.0.0:9480 can be reached from other machines, so /metrics needs a token",
        },
        Case {
            name: "unquoted string",
            toml: "[daemon]\ntimezone = UTC\n",
            line: 2,
            column: 12,
            key: "(syntax)",
            message: "must be quoted",
        },
        Case {
            name: "duplicate key",
            toml: "[daemon]\ntimezone = \"UTC\"\ntimezone = \"UTC\"\n",
            line: 3,
            column: 1,
            key: "(syntax)",
            message: "duplicate key",
        },
        Case {
            name: "unknown top-level section",
            toml: "[deamon]\ntimezone = \"UTC\"",
            line: 1,
            column: 2,
            key: "deamon",
            message: "unknown section",
        },
        Case {
            name: "plural section name",
            toml: "[[sources]]\nid = \"a\"",
            line: 1,
            column: 3,
            key: "sources",
            message: "did you mean [[source]]",
        },
        Case {
            name: "unknown key in daemon",
            toml: "[daemon]\ntimezone = \"UTC\"\ndatabse = \"x.db\"",
            line: 3,
            column: 1,
            key: "daemon.databse",
            message: "unknown field `databse`",
        },
        Case {
            name: "unknown key in a source",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nevery = \"5m\"\nintervall = \"5m\"",
            line: 5,
            column: 1,
            key: "source \"a\".intervall",
            message: "unknown field `intervall`",
        },
        Case {
            name: "wrong type",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nweight = \"heavy\"",
            line: 4,
            column: 10,
            key: "source \"a\".weight",
            message: "invalid type",
        },
        Case {
            name: "missing required key",
            toml: "[[source]]\nid = \"a\"",
            line: 2,
            column: 6,
            key: "source \"a\"",
            message: "no feed to poll: give `url`, or one preset key (mastodon_tag,",
        },
        Case {
            name: "url and a preset together",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nhn_search = \"acme\"",
            line: 4,
            column: 13,
            key: "source \"a\".hn_search",
            message: "`url` and `hn_search` both say what to poll: keep one",
        },
        Case {
            name: "Mastodon account without its instance",
            toml: "[[source]]\nid = \"a\"\nmastodon_account = \"@alice\"",
            line: 3,
            column: 20,
            key: "source \"a\".mastodon_account",
            message: "not a full handle: write @user@instance",
        },
        Case {
            name: "Mastodon instance without a dot",
            toml: "[[source]]\nid = \"a\"\nmastodon_tag = \"localhost/acme\"",
            line: 3,
            column: 16,
            key: "source \"a\".mastodon_tag",
            message: "\"localhost\" is not an instance: write its domain name, with a dot",
        },
        Case {
            name: "malformed Bluesky handle",
            toml: "[[source]]\nid = \"a\"\nbluesky_profile = \"@nordvent\"",
            line: 3,
            column: 19,
            key: "source \"a\".bluesky_profile",
            message: "not a Bluesky handle",
        },
        Case {
            name: "subreddit without a search",
            toml: "[[source]]\nid = \"a\"\nsubreddit = \"france\"",
            line: 3,
            column: 13,
            key: "source \"a\".subreddit",
            message: "`subreddit` narrows a `reddit_search`",
        },
        Case {
            name: "bad subreddit of a search",
            toml: "[[source]]\nid = \"a\"\nreddit_search = \"acme\"\nsubreddit = \"x y\"",
            line: 4,
            column: 13,
            key: "source \"a\".subreddit",
            message: "not a subreddit name",
        },
        Case {
            name: "YouTube handle instead of a channel id",
            toml: "[[source]]\nid = \"a\"\nyoutube_channel = \"@acme\"",
            line: 3,
            column: 19,
            key: "source \"a\".youtube_channel",
            message: "not a YouTube channel id",
        },
        Case {
            name: "preset declared as a page",
            toml: "[[source]]\nid = \"a\"\nreddit_subreddit = \"france\"\nkind = \"page\"",
            line: 4,
            column: 8,
            key: "source \"a\".kind",
            message: "a preset source is a feed",
        },
        Case {
            name: "duplicate source id",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\n\n[[source]]\nid = \"a\"\nurl = \"https://b.example/\"",
            line: 6,
            column: 6,
            key: "source \"a\".id",
            message: "duplicate source id \"a\" (first defined on line 2)",
        },
        Case {
            name: "invalid id",
            toml: "[[source]]\nid = \"le monde\"\nurl = \"https://a.example/\"",
            line: 2,
            column: 6,
            key: "source.id",
            message: "invalid id",
        },
        Case {
            name: "watch names a missing source",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\n[[watch]]\nid = \"w\"\nquery = \"x\"\nsources = [\"a\", \"nope\"]",
            line: 7,
            column: 17,
            key: "watch \"w\".sources",
            message: "no source id or tag \"nope\"",
        },
        Case {
            name: "watch names a missing digest",
            toml: "[[watch]]\nid = \"w\"\nquery = \"x\"\ndigests = \"weekly\"",
            line: 4,
            column: 11,
            key: "watch \"w\".digests",
            message: "no digest with id \"weekly\"",
        },
        Case {
            name: "alert names a missing watch",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nwatches = [\"ghost\"]",
            line: 4,
            column: 12,
            key: "alert \"crisis\".watches",
            message: "no watch with id \"ghost\"",
        },
        Case {
            name: "alert min_score out of range",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nmin_score = 1.5",
            line: 4,
            column: 13,
            key: "alert \"crisis\".min_score",
            message: "scores go from 0 to 1",
        },
        Case {
            name: "alert spike factor too low",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nspike = { factor = 0.5 }",
            line: 4,
            column: 20,
            key: "alert \"crisis\".spike.factor",
            message: "use more than 1",
        },
        Case {
            name: "alert spike window not whole minutes",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nspike = { window = \"90s\" }",
            line: 4,
            column: 20,
            key: "alert \"crisis\".spike.window",
            message: "whole minutes, from 1m to 24h",
        },
        Case {
            name: "alert spike unknown key",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nspike = { threshold = 2 }",
            line: 4,
            column: 11,
            key: "alert \"crisis\".spike",
            message: "unknown field `threshold`",
        },
        Case {
            name: "alert quiet hours bad time",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nquiet_hours = { from = \"22h\", to = \"07:00\" }",
            line: 4,
            column: 24,
            key: "alert \"crisis\".quiet_hours.from",
            message: "HH:MM",
        },
        Case {
            name: "alert bad throttle",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nthrottle = \"soon\"",
            line: 4,
            column: 12,
            key: "alert \"crisis\".throttle",
            message: "invalid duration",
        },
        Case {
            name: "alert without any risk vocabulary",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nbuiltin_risk_terms = false",
            line: 4,
            column: 22,
            key: "alert \"crisis\".builtin_risk_terms",
            message: "list your own in risk_terms",
        },
        Case {
            name: "alert empty risk term",
            toml: "[[alert]]\nid = \"crisis\"\nto = \"a@example.org\"\nrisk_terms = [\"rappel conso\", \"  \"]",
            line: 4,
            column: 31,
            key: "alert \"crisis\".risk_terms",
            message: "risk term",
        },
        Case {
            name: "bad duration",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nevery = \"15 minutes\"",
            line: 4,
            column: 9,
            key: "source \"a\".every",
            message: "invalid duration",
        },
        Case {
            name: "duration without unit",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nevery = \"15\"",
            line: 4,
            column: 9,
            key: "source \"a\".every",
            message: "missing unit",
        },
        Case {
            name: "polling too often",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nevery = \"5s\"",
            line: 4,
            column: 9,
            key: "source \"a\".every",
            message: "too often",
        },
        Case {
            name: "bad address",
            toml: "[[digest]]\nid = \"d\"\nto = [\"ok@example.org\", \"not an address\"]",
            line: 3,
            column: 25,
            key: "digest \"d\".to",
            message: "invalid address \"not an address\"",
        },
        Case {
            name: "bad sender address",
            toml: "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"veille@\"",
            line: 3,
            column: 8,
            key: "smtp.from",
            message: "invalid address",
        },
        Case {
            name: "bad time zone",
            toml: "[daemon]\ntimezone = \"Europe/Parid\"",
            line: 2,
            column: 12,
            key: "daemon.timezone",
            message: "unknown time zone \"Europe/Parid\"",
        },
        Case {
            name: "bad digest time",
            toml: "[[digest]]\nid = \"d\"\nto = \"a@example.org\"\nat = [\"08:00\", \"25:00\"]",
            line: 4,
            column: 16,
            key: "digest \"d\".at",
            message: "invalid time \"25:00\"",
        },
        Case {
            name: "bad digest days",
            toml: "[[digest]]\nid = \"d\"\nto = \"a@example.org\"\ndays = \"mon-fry\"",
            line: 4,
            column: 8,
            key: "digest \"d\".days",
            message: "unknown day \"fry\"",
        },
        Case {
            name: "unsupported URL scheme",
            toml: "[[source]]\nid = \"a\"\nurl = \"ftp://a.example/feed\"",
            line: 3,
            column: 7,
            key: "source \"a\".url",
            message: "unsupported scheme \"ftp\"",
        },
        Case {
            name: "invalid URL",
            toml: "[[source]]\nid = \"a\"\nurl = \"not a url\"",
            line: 3,
            column: 7,
            key: "source \"a\".url",
            message: "invalid URL",
        },
        Case {
            name: "unknown source kind",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nkind = \"podcast\"",
            line: 4,
            column: 8,
            key: "source \"a\".kind",
            message: "unknown kind \"podcast\"",
        },
        Case {
            name: "invalid item selector",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nkind = \"page\"\n[source.select]\nitem = \"li..x\"",
            line: 6,
            // The first `.`, which has no class name after it.
            column: 11,
            key: "source \"a\".select.item",
            message: "invalid CSS selector \"li..x\"",
        },
        Case {
            name: "nested :has()",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nkind = \"page\"\n[source.select]\nitem = \"li\"\ntitle = \"li:has(a:has(b))\"",
            line: 7,
            column: 18,
            key: "source \"a\".select.title",
            message: "`:has()` inside `:has()` is not supported",
        },
        Case {
            name: "invalid link attribute",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\nkind = \"page\"\n[source.select]\nitem = \"li\"\nlink = \"a@[href]\"",
            line: 7,
            // The attribute after the @.
            column: 11,
            key: "source \"a\".select.link",
            message: "write selector@attribute",
        },
        Case {
            name: "selectors on a feed",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/\"\n[source.select]\nitem = \"li\"",
            line: 4,
            column: 1,
            key: "source \"a\".select",
            message: "page sources only",
        },
        Case {
            name: "per-host concurrency zero",
            toml: "[daemon]\nper_host_concurrency = 0",
            line: 2,
            column: 24,
            key: "daemon.per_host_concurrency",
            message: "out of range",
        },
        Case {
            name: "bad fetch timeout",
            toml: "[daemon]\nfetch_timeout = \"fast\"",
            line: 2,
            column: 17,
            key: "daemon.fetch_timeout",
            message: "invalid duration",
        },
        Case {
            name: "bad contact URL",
            toml: "[daemon]\ncontact_url = \"veille-admin@example.org\"",
            line: 2,
            column: 15,
            key: "daemon.contact_url",
            message: "mailto:",
        },
        Case {
            name: "invalid query",
            toml: "[[watch]]\nid = \"w\"\nquery = 'acme \"open'",
            line: 3,
            column: 15,
            key: "watch \"w\".query",
            message: "unterminated quote",
        },
        Case {
            name: "query with an unclosed parenthesis",
            toml: "[[watch]]\nid = \"w\"\nquery = '(acme OR corp'",
            line: 3,
            column: 10,
            key: "watch \"w\".query",
            message: "never closed",
        },
        Case {
            name: "query with a dangling operator",
            toml: "[[watch]]\nid = \"w\"\nquery = 'acme AND'",
            line: 3,
            column: 15,
            key: "watch \"w\".query",
            message: "dangling operator AND",
        },
        Case {
            name: "query with NEAR/ and no number",
            toml: "[[watch]]\nid = \"w\"\nquery = 'acme NEAR/ corp'",
            line: 3,
            column: 20,
            key: "watch \"w\".query",
            message: "NEAR/ needs a number",
        },
        Case {
            name: "empty query",
            toml: "[[watch]]\nid = \"w\"\nquery = ''",
            line: 3,
            column: 10,
            key: "watch \"w\".query",
            message: "empty query",
        },
        Case {
            name: "query that only excludes",
            toml: "[[watch]]\nid = \"w\"\nquery = '-acme -corp'",
            line: 3,
            column: 10,
            key: "watch \"w\".query",
            message: "only excludes",
        },
        Case {
            name: "inline SMTP password",
            toml: "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\npassword = \"hunter2\"",
            line: 4,
            column: 12,
            key: "smtp.password",
            message: "never written in the configuration",
        },
        Case {
            name: "SMTP username without password",
            toml: "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\nusername = \"v\"",
            line: 4,
            column: 12,
            key: "smtp.username",
            message: "no password",
        },
        Case {
            name: "unknown SMTP security",
            toml: "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\nsecurity = \"ssl\"",
            line: 4,
            column: 12,
            key: "smtp.security",
            message: "unknown security \"ssl\"",
        },
        Case {
            name: "port out of range",
            toml: "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\nport = 70000",
            line: 4,
            column: 8,
            key: "smtp.port",
            message: "invalid port 70000",
        },
        Case {
            name: "story window too short",
            toml: "[dedup]\nstory_window = \"10m\"",
            line: 2,
            column: 16,
            key: "dedup.story_window",
            message: "out of range: use 1h to 30d",
        },
        Case {
            name: "story window not a duration",
            toml: "[dedup]\nstory_window = \"three days\"",
            line: 2,
            column: 16,
            key: "dedup.story_window",
            message: "three days",
        },
        Case {
            name: "tracking parameter with an equals sign",
            toml: "[dedup]\nextra_tracking_params = [\"ok\", \"xtor=RSS\"]",
            line: 2,
            column: 32,
            key: "dedup.extra_tracking_params",
            message: "not a query parameter name",
        },
        Case {
            name: "tracking parameters as a string",
            toml: "[dedup]\nextra_tracking_params = \"xtcr\"",
            line: 2,
            column: 25,
            key: "dedup.extra_tracking_params",
            message: "",
        },
        Case {
            name: "unknown dedup key",
            toml: "[dedup]\nwindow = \"72h\"",
            line: 2,
            column: 1,
            key: "dedup.window",
            message: "unknown field",
        },
        Case {
            name: "single table instead of an array of tables",
            toml: "[source]\nid = \"a\"",
            line: 1,
            column: 1,
            key: "source",
            message: "write each entry as [[source]]",
        },
        Case {
            name: "max_items out of range",
            toml: "[[digest]]\nid = \"d\"\nto = \"a@example.org\"\nmax_items = 0",
            line: 4,
            column: 13,
            key: "digest \"d\".max_items",
            message: "between 1 and",
        },
        Case {
            name: "unknown digest language",
            toml: "[[digest]]\nid = \"d\"\nto = \"a@example.org\"\nlang = \"de\"",
            line: 4,
            column: 8,
            key: "digest \"d\".lang",
            message: "use \"en\" or \"fr\"",
        },
        Case {
            name: "unknown empty policy",
            toml: "[[digest]]\nid = \"d\"\nto = \"a@example.org\"\nempty = \"never\"",
            line: 4,
            column: 9,
            key: "digest \"d\".empty",
            message: "use \"skip\" or \"send\"",
        },
        Case {
            name: "misspelt operator",
            toml: "[[watch]]\nid = \"w\"\nquery = 'acme -sit:acme.com'",
            line: 3,
            column: 16,
            key: "watch \"w\".query",
            message: "unknown operator sit: did you mean site:?",
        },
        Case {
            name: "unknown source in a query",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/f\"\n[[watch]]\nid = \"w\"\nquery = 'acme source:b'",
            line: 6,
            column: 15,
            key: "watch \"w\".query",
            message: "no source with id \"b\" (sources: a)",
        },
        Case {
            name: "unknown tag in a query",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/f\"\ntags = [\"presse\"]\n[[watch]]\nid = \"w\"\nquery = \"acme AND tag:prese\"",
            line: 7,
            column: 19,
            key: "watch \"w\".query",
            message: "no source has the tag \"prese\" (tags: presse)",
        },
        Case {
            name: "a source the watch does not read",
            toml: "[[source]]\nid = \"a\"\nurl = \"https://a.example/f\"\n[[source]]\nid = \"b\"\nurl = \"https://b.example/f\"\n[[watch]]\nid = \"w\"\nquery = 'acme source:b'\nsources = [\"a\"]",
            line: 9,
            column: 15,
            key: "watch \"w\".query",
            message: "source:b can never hold",
        },
    ];
    for case in cases {
        let errors = errors_of(case.toml);
        let first = &errors[0];
        let where_ = format!("case {:?}: got {first}", case.name);
        assert_eq!(
            (first.line, first.column),
            (case.line, case.column),
            "{where_}"
        );
        assert_eq!(first.key, case.key, "{where_}");
        assert!(
            first.message.contains(case.message),
            "{where_}: message should contain {:?}",
            case.message
        );
        assert_eq!(first.file, Path::new("/etc/veille/veille.toml"), "{where_}");
        assert!(
            first.to_string().starts_with("/etc/veille/veille.toml:"),
            "{where_}"
        );
    }
}

#[test]
fn queries_may_name_sources_and_tags_of_the_configuration() {
    let toml = format!(
        "{VALID}\n[[watch]]\nid = \"press-only\"\nquery = 'acme (tag:presse OR source:a) -source:b -site:acme.com'\n"
    );
    let config = load(&toml).unwrap_or_else(|e| panic!("{e}"));
    let watch = config
        .watches
        .iter()
        .find(|w| w.id.as_str() == "press-only")
        .unwrap_or_else(|| panic!("no watch press-only"));
    let metas: Vec<&str> = watch
        .query
        .metas()
        .iter()
        .map(|m| m.display.as_str())
        .collect();
    assert_eq!(
        metas,
        ["tag:presse", "source:a", "source:b", "site:acme.com"]
    );
}

#[test]
fn private_networks_are_listed_in_cidr_or_as_addresses() {
    let config =
        load("[daemon]\nallow_private_addresses = [\"127.0.0.0/8\", \"::1\", \"10.20.3.4/16\"]\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let networks: Vec<String> = config
        .daemon
        .allow_private_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(networks, ["127.0.0.0/8", "::1/128", "10.20.0.0/16"]);
    assert!(load("").is_ok_and(|c| c.daemon.allow_private_addresses.is_empty()));
}

#[test]
fn source_credentials_come_from_their_file_and_never_show() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("intranet-password"), "hunter2\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let text = "[[source]]\nid = \"intranet\"\nurl = \"https://intranet.example/feed\"\nusername = \"veille\"\npassword_file = \"intranet-password\"\n";
    let config = load_with_env(text, &dir.path().join("veille.toml"), &no_env)
        .unwrap_or_else(|e| panic!("{e}"));
    let source = &config.sources[0];
    let credentials = source
        .credentials
        .as_ref()
        .unwrap_or_else(|| panic!("no credentials"));
    assert_eq!(credentials.username(), "veille");
    assert_eq!(credentials.password().expose(), "hunter2");
    let debug = format!("{source:?} {config:?}");
    assert!(debug.contains("veille"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");

    // A password in a URL is refused without being repeated, parsed or not.
    for url in [
        "https://veille:hunter2@intranet.example/feed",
        "https://veille:hunter2@/feed",
        "https://veille:hunter2@intranet example/feed",
    ] {
        let errors = errors_of(&format!("[[source]]\nid = \"s\"\nurl = \"{url}\"\n"));
        let all = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("source \"s\".url"), "{all}");
        assert!(!all.contains("hunter2"), "{url}: {all}");
    }
}

#[test]
fn the_metrics_token_is_read_from_its_file_and_never_printed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token = "pH0t9Zb1-metrics-token-of-test";
    std::fs::write(dir.path().join("metrics-token"), format!("{token}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("short"), "abc\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("spaced"), "two words of a long token\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.toml");
    let load_here = |text: &str| load_with_env(text, &path, &no_env);

    // Relative to the configuration file; exposed with a token: accepted.
    let config =
        load_here("[daemon]\nlisten = \"0.0.0.0:9480\"\nmetrics_token_file = \"metrics-token\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let secret = config
        .daemon
        .metrics_token
        .as_ref()
        .unwrap_or_else(|| panic!("a token"));
    assert_eq!(secret.expose(), token);
    let printed = format!("{config:?}");
    assert!(!printed.contains(token), "{printed}");
    assert!(printed.contains("Secret(***)"), "{printed}");
    assert!(load_here("").is_ok_and(|c| c.daemon.metrics_token.is_none()));
    // On loopback no token is needed, and [web] alone keeps the listener on loopback.
    assert!(load_here("[daemon]\nlisten = \"127.0.0.1:9480\"\n").is_ok());

    for (file, words) in [
        ("missing", "cannot read"),
        ("short", "holds 3 characters; a token needs at least 16"),
        ("spaced", "visible ASCII"),
    ] {
        let text =
            format!("[daemon]\nlisten = \"0.0.0.0:9480\"\nmetrics_token_file = \"{file}\"\n");
        let errors = match load_here(&text) {
            Ok(_) => panic!("accepted {file}"),
            Err(errors) => errors.0,
        };
        assert_eq!(
            errors.len(),
            1,
            "one error, not a second about the listener: {errors:?}"
        );
        assert_eq!(errors[0].key, "daemon.metrics_token_file");
        assert!(errors[0].message.contains(words), "{file}: {errors:?}");
        assert!(
            !errors[0].message.contains("abc"),
            "the token is never shown"
        );
    }
}

#[test]
fn a_source_on_an_internal_address_is_a_warning_until_allowed() {
    let text = |allow: &str| {
        format!(
            "[daemon]\nallow_private_addresses = [{allow}]\n\n[[source]]\nid = \"lan\"\nurl = \"http://192.168.1.20:8080/feed\"\n\n[[source]]\nid = \"named\"\nurl = \"http://intranet.example/feed\"\n"
        )
    };
    let refused = |allow: &str| -> Vec<String> {
        load(&text(allow))
            .unwrap_or_else(|e| panic!("{e}"))
            .warnings()
            .into_iter()
            .filter(|w| w.contains("will fail"))
            .collect()
    };
    assert_eq!(
        refused(""),
        [
            "source \"lan\" will fail: refused to connect to 192.168.1.20 (private): add \"192.168.1.20/32\" to daemon.allow_private_addresses if this source is yours"
        ]
    );
    assert!(refused("\"192.168.1.0/24\"").is_empty());
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = r#"
[daemon]
timezone = "Mars/Olympus"

[[source]]
id = "a"
url = "gopher://a.example/"
every = "soon"

[[source]]
id = "b"
url = "https://b.example/"
colour = "blue"

[[watch]]
id = "w"
query = '"unterminated'
sources = ["a", "zzz"]

[[digest]]
id = "d"
to = "nobody"
at = "8h"
"#;
    let errors = errors_of(text);
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "daemon.timezone",
            "source \"a\".url",
            "source \"a\".every",
            "source \"b\".colour",
            "watch \"w\".query",
            "watch \"w\".sources",
            "digest \"d\".to",
            "digest \"d\".at",
        ],
        "{}",
        ConfigErrors(errors.clone())
    );
    // Errors come in file order, each on its own line when displayed.
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn references_to_broken_entries_are_not_reported_twice() {
    let text = r#"
[[source]]
id = "a"
url = "https://a.example/"
every = "never"

[[watch]]
id = "w"
query = "x"
sources = ["a"]
"#;
    let errors = errors_of(text);
    assert_eq!(errors.len(), 1, "{}", ConfigErrors(errors.clone()));
    assert_eq!(errors[0].key, "source \"a\".every");
}

#[test]
fn smtp_password_comes_from_file_or_environment() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.toml");
    let with_file = "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\nusername = \"v\"\npassword_file = \"pw\"";
    let config = load_with_env(with_file, &path, &no_env).unwrap_or_else(|e| panic!("{e}"));
    let smtp = config.smtp.unwrap_or_else(|| panic!("smtp section lost"));
    assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("s3cret"));
    assert_eq!(smtp.port, defaults::SMTP_PORT_STARTTLS);
    assert!(
        !format!("{smtp:?}").contains("s3cret"),
        "the password must never be printed"
    );

    let from_env = "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\nusername = \"v\"\nsecurity = \"tls\"";
    let env = |name: &str| (name == defaults::SMTP_PASSWORD_ENV).then(|| "from-env".to_string());
    let config = load_with_env(from_env, &path, &env).unwrap_or_else(|e| panic!("{e}"));
    let smtp = config.smtp.unwrap_or_else(|| panic!("smtp section lost"));
    assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("from-env"));
    assert_eq!(smtp.port, defaults::SMTP_PORT_TLS);

    let missing =
        "[smtp]\nhost = \"smtp.example.org\"\nfrom = \"v@example.org\"\npassword_file = \"nope\"";
    let errors = load_with_env(missing, &path, &no_env)
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "smtp.password_file");
    assert!(errors[0].message.contains("cannot read"), "{}", errors[0]);
}

#[test]
fn file_urls_resolve_against_the_config_folder() {
    let cases = [
        ("file:feeds/a.xml", "file:///etc/veille/feeds/a.xml"),
        ("file:../shared/a.xml", "file:///etc/shared/a.xml"),
        ("file:///srv/feeds/a.xml", "file:///srv/feeds/a.xml"),
        ("file:/srv/feeds/a.xml", "file:///srv/feeds/a.xml"),
        ("file://localhost/srv/a.xml", "file:///srv/a.xml"),
        (
            "file:feeds/caf%C3%A9.xml",
            "file:///etc/veille/feeds/caf%C3%A9.xml",
        ),
    ];
    for (written, expected) in cases {
        let text = format!("[[source]]\nid = \"a\"\nurl = \"{written}\"");
        let config = load(&text).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(config.sources[0].url.as_str(), expected, "{written}");
    }
    let errors = errors_of("[[source]]\nid = \"a\"\nurl = \"file://server/share/a.xml\"");
    assert!(errors[0].message.contains("names a host"), "{}", errors[0]);
}

#[test]
fn dedup_section_is_optional_and_typed() {
    let config = load(VALID).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.dedup, crate::dedup::DedupSettings::default());
    let text = format!(
        "{VALID}\n[dedup]\nstory_window = \"48h\"\nextra_tracking_params = [\"xtcr\", \"pk_*\"]\n"
    );
    let config = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.dedup.story_window, Duration::from_secs(48 * 3600));
    assert_eq!(config.dedup.extra_tracking_params, ["xtcr", "pk_*"]);
}

#[test]
fn bundled_configs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    // Without writing: the demo's key is created by its first run, in target/demo/.
    let demo = load_text(
        &std::fs::read_to_string(root.join("demo.toml")).unwrap_or_default(),
        &root.join("demo.toml"),
        &no_env,
        Writes::Forbidden,
    );
    match demo {
        Ok(config) => {
            let web = config.web.unwrap_or_else(|| panic!("the demo has [web]"));
            assert!(web.create_secret);
            assert!(
                web.secret_file.ends_with("target/demo/web-secret"),
                "the demo's key lives with its state: {}",
                web.secret_file.display()
            );
        }
        Err(e) => panic!("demo.toml: {e}"),
    }
    assert!(
        !root.join("demo/web-secret").exists(),
        "no key is committed: anyone could sign links for a copied demo"
    );

    // example.toml names a password file: give it one in a scratch copy.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("smtp-password"), "x").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("web-secret"),
        "U0uvoGREeA59UtbNluHqVcFeXWcVnqcDTZamKnErx0s=\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("example.toml")).unwrap_or_default();
    let example = load_with_env(&text, &dir.path().join("example.toml"), &no_env);
    match example {
        Ok(config) => {
            assert_eq!(config.sources.len(), 12);
            let presets: Vec<&str> = config.sources.iter().filter_map(|s| s.preset).collect();
            for key in super::presets::PRESET_KEYS {
                assert!(presets.contains(key), "example.toml lacks a {key} source");
            }
            assert_eq!(config.sources[2].kind, SourceKind::Page);
            assert!(config.sources[2].select.is_none(), "whole-page example");
            assert!(config.sources[3].select.is_some(), "selector example");
            assert_eq!(config.daemon.per_host_concurrency, 2);
            assert!(config.daemon.has_contact);
            assert_eq!(config.alerts.len(), 1);
            assert!(config.alerts[0].crisis);
            assert!(config.smtp.is_some());
            let web = config
                .web
                .as_ref()
                .unwrap_or_else(|| panic!("[web] is documented"));
            assert_eq!(
                web.base_url.as_ref().map(|u| u.as_str()),
                Some("https://veille.example.org/")
            );
            assert_eq!((web.review_days, web.user.as_str()), (7, "admin"));
            assert_eq!(web.lang, crate::model::Lang::Fr);
        }
        Err(e) => panic!("example.toml: {e}"),
    }
}

#[test]
fn presets_expand_with_their_platform_defaults() {
    let config = load(
        r#"
[[source]]
id = "tag"
mastodon_tag = "mastodon.social/Nordvent"

[[source]]
id = "reddit"
reddit_search = "nordvent éolien"
subreddit = "france"

[[source]]
id = "reddit-sub"
reddit_subreddit = "energy"
every = "1h"

[[source]]
id = "yt"
youtube_channel = "UC_x5XG1OV2P6uZZ5FSM9Ttw"

[[source]]
id = "raw"
url = "https://news.example/feed"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    /// id, URL, preset, every (seconds), per-host limit.
    type Expanded<'a> = (&'a str, &'a str, Option<&'a str>, u64, Option<usize>);
    let got: Vec<Expanded<'_>> = config
        .sources
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.url.as_str(),
                s.preset,
                s.every.as_secs(),
                s.per_host,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "tag",
                "https://mastodon.social/tags/Nordvent.rss",
                Some("mastodon_tag"),
                300,
                None
            ),
            (
                "reddit",
                "https://www.reddit.com/r/france/search.rss?q=nordvent%20%C3%A9olien&restrict_sr=1",
                Some("reddit_search"),
                600,
                Some(1)
            ),
            (
                "reddit-sub",
                "https://www.reddit.com/r/energy/.rss",
                Some("reddit_subreddit"),
                3600,
                Some(1)
            ),
            (
                "yt",
                "https://www.youtube.com/feeds/videos.xml?channel_id=UC_x5XG1OV2P6uZZ5FSM9Ttw",
                Some("youtube_channel"),
                3600,
                None
            ),
            (
                "raw",
                "https://news.example/feed",
                None,
                defaults::EVERY.as_secs(),
                None
            ),
        ]
    );
    assert!(config.sources.iter().all(|s| s.kind == SourceKind::Feed));
}

#[test]
fn alert_rules_have_defaults_and_take_every_key() {
    let config = load(
        r#"
[daemon]
timezone = "Europe/Paris"
[[watch]]
id = "brand"
query = "nordvent"
[[watch]]
id = "ceo"
query = "dupont"
[[alert]]
id = "plain"
to = "crisis@example.org"
[[alert]]
id = "tuned"
to = ["a@example.org", "b@example.org"]
watches = "ceo"
min_score = 0.7
risk_terms = ["rappel conso", "golden parachute"]
builtin_risk_terms = false
throttle = "10m"
lang = "fr"
spike = { factor = 4.5, window = "30m", min_mentions = 8 }
quiet_hours = { from = "22:00", to = "07:00", unless_score = 0.9 }
[[alert]]
id = "nospike"
to = "c@example.org"
spike = { enabled = false }
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plain = &config.alerts[0];
    assert_eq!(plain.watches.len(), 2, "every watch by default");
    assert_eq!(plain.min_score, 0.5);
    assert!(plain.builtin_risk_terms && plain.risk_terms.is_empty());
    assert_eq!(plain.throttle, std::time::Duration::from_secs(1800));
    let spike = plain
        .spike
        .unwrap_or_else(|| panic!("spikes on by default"));
    assert_eq!(
        (spike.factor, spike.window.as_secs(), spike.min_mentions),
        (3.0, 3600, 5)
    );
    assert!(plain.quiet_hours.is_none());

    let tuned = &config.alerts[1];
    assert_eq!(tuned.to.len(), 2);
    assert_eq!(tuned.watches, vec![WatchId::new("ceo")]);
    assert_eq!(tuned.min_score, 0.7);
    assert_eq!(tuned.risk_terms, ["rappel conso", "golden parachute"]);
    assert!(!tuned.builtin_risk_terms);
    assert_eq!(tuned.throttle.as_secs(), 600);
    assert_eq!(tuned.lang, crate::model::Lang::Fr);
    let spike = tuned.spike.unwrap_or_else(|| panic!("spike"));
    assert_eq!(
        (spike.factor, spike.window.as_secs(), spike.min_mentions),
        (4.5, 1800, 8)
    );
    let quiet = tuned.quiet_hours.unwrap_or_else(|| panic!("quiet hours"));
    assert_eq!(quiet.from.to_string(), "22:00:00");
    assert_eq!(quiet.unless_score, Some(0.9));
    assert_eq!(quiet.tz, chrono_tz::Europe::Paris);

    assert!(config.alerts[2].spike.is_none(), "enabled = false");
}

#[test]
fn web_section_reads_its_key_and_guards_an_open_listener() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("secret"),
        "U0uvoGREeA59UtbNluHqVcFeXWcVnqcDTZamKnErx0s=\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("short"), "tiny\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("weak"), format!("{}\n", "a".repeat(32)))
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("veille.toml");
    let load_here = |text: &str| load_with_env(text, &path, &no_env);

    let config =
        load_here("[web]\nsecret_file = \"secret\"\nbase_url = \"https://v.example/veille\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let web = config.web.as_ref().unwrap_or_else(|| panic!("[web]"));
    assert_eq!(
        web.base_url.as_ref().map(|u| u.as_str()),
        Some("https://v.example/veille/"),
        "a base without its final slash gets one, so links keep the path"
    );
    assert_eq!(web.link_ttl, defaults::LINK_TTL);
    assert_eq!(web.lang, crate::model::Lang::En);
    assert_eq!((web.review_days, web.user.as_str()), (7, "admin"));
    assert!(web.password_hash.is_none());
    assert_eq!(
        config.daemon.listen.map(|l| l.to_string()).as_deref(),
        Some(defaults::WEB_LISTEN),
        "[web] turns the listener on, on loopback"
    );
    assert!(
        load_here("")
            .unwrap_or_else(|e| panic!("{e}"))
            .web
            .is_none()
    );

    let cases: [(&str, &str, &str); 7] = [
        (
            "[web]\nsecret_file = \"short\"\n",
            "web.secret_file",
            "3 bytes after base64 decoding",
        ),
        (
            "[web]\nsecret_file = \"weak\"\n",
            "web.secret_file",
            "\"a\" repeated, so it is easy to guess: write a good one with `head -c 32 /dev/urandom | base64 > FILE`",
        ),
        (
            "[web]\nsecret_file = \"missing\"\n",
            "web.secret_file",
            "missing",
        ),
        (
            "[daemon]\nlisten = \"0.0.0.0:8710\"\n[web]\nsecret_file = \"secret\"\n",
            "web.password_hash",
            "needs a login",
        ),
        (
            "[web]\nsecret_file = \"secret\"\npassword_hash = \"hunter2\"\n",
            "web.password_hash",
            "not an argon2 hash",
        ),
        (
            "[web]\nsecret_file = \"secret\"\nbase_url = \"ftp://x\"\n",
            "web.base_url",
            "http",
        ),
        (
            "[web]\nsecret_file = \"secret\"\nlink_ttl = \"5m\"\n",
            "web.link_ttl",
            "1h",
        ),
    ];
    for (text, key, words) in cases {
        let errors = match load_here(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(errors) => errors.0,
        };
        assert!(
            errors
                .iter()
                .any(|e| e.key == key && e.message.contains(words)),
            "{key} / {words:?} in {errors:?}"
        );
    }
    // Exposed with a login and a metrics token: accepted.
    std::fs::write(dir.path().join("token"), "0123456789abcdef-metrics\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let exposed = load_here(
        "[daemon]\nlisten = \"0.0.0.0:8710\"\nmetrics_token_file = \"token\"\n[web]\nsecret_file = \"secret\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA\"\n",
    );
    assert!(exposed.is_ok(), "{:?}", exposed.err());
    // Exposed without either: both keys are named, in one pass.
    let errors =
        match load_here("[daemon]\nlisten = \"0.0.0.0:8710\"\n[web]\nsecret_file = \"secret\"\n") {
            Ok(_) => panic!("an open listener was accepted"),
            Err(errors) => errors.0,
        };
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["daemon.metrics_token_file", "web.password_hash"],
        "{errors:?}"
    );
}

/// Configuration files are untrusted input too: hostile nesting anywhere in one is an
/// error with a position, found on a small stack (a reload parses on a tokio thread).
#[test]
fn deep_nesting_in_a_file_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let cases = [
        format!(
            "[daemon]\ndatabase = {}1{}\n",
            "[".repeat(deep),
            "]".repeat(deep)
        ),
        format!(
            "[daemon]\ndatabase = {}1{}\n",
            "{a = ".repeat(deep),
            "}".repeat(deep)
        ),
        format!(
            "[[source]]\nid = \"s\"\nurl = \"https://x.example/\"\n[[watch]]\nid = \"w\"\nquery = \"{}acme{}\"\n",
            "(".repeat(deep),
            ")".repeat(deep)
        ),
        format!(
            "[[source]]\nid = \"s\"\nurl = \"https://x.example/\"\nkind = \"page\"\n[source.select]\nitem = \"{}a{}\"\n",
            ":is(".repeat(deep),
            ")".repeat(deep)
        ),
    ];
    let results = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            cases
                .iter()
                .map(|text| load(text).map(|_| ()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .join()
        .unwrap_or_else(|_| panic!("loading overflowed the stack"));
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => panic!("case {i} was accepted"),
            Err(errors) => {
                let first = &errors.0[0];
                assert!(first.line >= 2, "case {i}: {first}");
            }
        }
    }
}

#[test]
fn a_plain_text_login_to_another_machine_is_refused_where_security_is_written() {
    // (host, security line, username line, refused)
    let cases = [
        ("smtp.example.org", "security = \"none\"", true, true),
        ("192.0.2.10", "security = \"none\"", true, true),
        ("127.0.0.1", "security = \"none\"", true, false),
        ("127.3.2.1", "security = \"none\"", true, false),
        ("localhost", "security = \"none\"", true, false),
        ("LOCALHOST.", "security = \"none\"", true, false),
        ("smtp.example.org", "security = \"none\"", false, false),
        ("smtp.example.org", "security = \"starttls\"", true, false),
        ("smtp.example.org", "security = \"tls\"", true, false),
    ];
    let env = |name: &str| (name == defaults::SMTP_PASSWORD_ENV).then(|| "secret".to_string());
    for (host, security, login, refused) in cases {
        let user = if login { "username = \"veille\"\n" } else { "" };
        let text =
            format!("[smtp]\nhost = \"{host}\"\nfrom = \"v@example.org\"\n{user}{security}\n");
        let loaded = load_with_env(&text, Path::new("/etc/veille/veille.toml"), &env);
        match (refused, loaded) {
            (false, Ok(_)) => {}
            (true, Err(errors)) => {
                assert_eq!(errors.0.len(), 1, "{host}: {errors}");
                let error = &errors.0[0];
                assert_eq!(error.key, "smtp.security", "{host}");
                assert_eq!((error.line, error.column), (5, 12), "{host}: at the value");
                for words in ["unencrypted", host, "\"starttls\"", "\"tls\""] {
                    assert!(error.message.contains(words), "{host}: {error}");
                }
            }
            (_, result) => panic!("{host} {security} login={login}: {:?}", result.err()),
        }
    }
}

#[test]
fn secret_files_others_can_read_are_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (key, password) = (
        dir.path().join("web-secret"),
        dir.path().join("smtp-password"),
    );
    std::fs::write(&key, "U0uvoGREeA59UtbNluHqVcFeXWcVnqcDTZamKnErx0s=\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&password, "hunter22\n").unwrap_or_else(|e| panic!("{e}"));
    let text = "[smtp]\nhost = \"localhost\"\nsecurity = \"none\"\nfrom = \"v@example.org\"\nusername = \"v\"\npassword_file = \"smtp-password\"\n[web]\nsecret_file = \"web-secret\"\n";
    let path = dir.path().join("veille.toml");
    // (key mode, password mode, words expected per file; None: no warning)
    let cases: [(u32, u32, Option<&str>, Option<&str>); 4] = [
        (0o600, 0o600, None, None),
        (0o400, 0o600, None, None),
        (
            0o644,
            0o640,
            Some("every user of this machine"),
            Some("its group"),
        ),
        (
            0o660,
            0o604,
            Some("its group"),
            Some("every user of this machine"),
        ),
    ];
    for (key_mode, password_mode, key_words, password_words) in cases {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(key_mode))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&password, std::fs::Permissions::from_mode(password_mode))
            .unwrap_or_else(|e| panic!("{e}"));
        let config = load_with_env(text, &path, &no_env).unwrap_or_else(|e| panic!("{e}"));
        let warnings = config.warnings();
        for (file, setting, words) in [
            (&key, "web.secret_file", key_words),
            (&password, "smtp.password_file", password_words),
        ] {
            let found = warnings.iter().find(|w| w.starts_with(setting));
            match (words, found) {
                (None, None) => {}
                (Some(words), Some(warning)) => {
                    assert!(warning.contains(words), "{warning}");
                    assert!(
                        warning.contains(&format!("chmod 600 {}", file.display())),
                        "{warning}"
                    );
                }
                _ => panic!("{setting} {key_mode:o}/{password_mode:o}: {warnings:?}"),
            }
        }
    }
    // One function for every secret-file reader: a missing file is the reader's error.
    assert_eq!(
        secret_file_warning(&dir.path().join("none"), "x.password_file"),
        None
    );
}

#[test]
fn every_secret_file_is_checked_for_its_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token = dir.path().join("metrics-token");
    let feed_password = dir.path().join("feed-password");
    std::fs::write(&token, "pH0t9Zb1-metrics-token-of-test\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&feed_password, "hunter22\n").unwrap_or_else(|e| panic!("{e}"));
    for file in [&token, &feed_password] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let text = "[daemon]\nmetrics_token_file = \"metrics-token\"\n[[source]]\nid = \"intranet\"\nurl = \"https://intranet.example/feed\"\nusername = \"veille\"\npassword_file = \"feed-password\"\n";
    let config = load_with_env(text, &dir.path().join("veille.toml"), &no_env)
        .unwrap_or_else(|e| panic!("{e}"));
    let warnings = config.warnings();
    for key in [
        "daemon.metrics_token_file",
        "source \"intranet\".password_file",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(key) && w.contains("every user of this machine")),
            "{key}: {warnings:?}"
        );
    }
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    /// Loads without writing anything (a mutation must never create a key in /etc).
    fn load(text: &str) -> Result<Config, ConfigErrors> {
        load_text(
            text,
            Path::new("/etc/veille/veille.toml"),
            &no_env,
            Writes::Forbidden,
        )
    }

    fn example() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Edits a valid file the way a hurried admin (or a fuzzer) would: bytes dropped,
    /// doubled or replaced by TOML punctuation, anywhere.
    fn edited() -> impl Strategy<Value = String> {
        let punctuation = prop::sample::select(vec![
            "[", "]", "[[", "{", "}", "=", "\"", "'", "\"\"\"", "\n", "#", ",", ".", "\\", "é",
            "\u{0}", "(", ")", "NEAR/", ":", "@", "*",
        ]);
        let edit = (any::<prop::sample::Index>(), 0usize..3, punctuation);
        prop::collection::vec(edit, 1..8).prop_map(|edits| {
            let mut text = example();
            for (at, kind, inserted) in edits {
                let mut cut = at.index(text.len().max(1));
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                let end = text[cut..]
                    .chars()
                    .next()
                    .map_or(cut, |c| cut + c.len_utf8());
                match kind {
                    0 => text.replace_range(cut..end, ""),
                    1 => text.insert_str(cut, inserted),
                    _ => text.replace_range(cut..end, inserted),
                }
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

        /// Any text: an error list or a configuration, never a panic; every error has a
        /// position inside the file.
        #[test]
        fn any_text_loads_or_is_refused_with_positions(text in any::<String>()) {
            if let Err(errors) = load(&text) {
                let lines = text.lines().count().max(1) + 1;
                for error in errors.iter() {
                    prop_assert!(error.line >= 1 && error.line <= lines, "{}", error);
                }
            }
        }

        #[test]
        fn an_edited_example_loads_or_is_refused_with_positions(text in edited()) {
            if let Err(errors) = load(&text) {
                prop_assert!(!errors.is_empty());
                let lines = text.lines().count().max(1) + 1;
                for error in errors.iter() {
                    prop_assert!(error.line >= 1 && error.line <= lines, "{}", error);
                    prop_assert!(!error.message.is_empty());
                }
            }
        }
    }
}

/// A main file in a fresh folder that includes `teams/*.toml`, with `team` written as
/// `teams/comm.toml`.
fn load_with_included(team: &str) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(dir.path().join("teams")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("teams/comm.toml"), team).unwrap_or_else(|e| panic!("{e}"));
    let main = "include = [\"teams/*.toml\"]\n\n[daemon]\ntimezone = \"Europe/Paris\"\n";
    let result = load_with_env(main, &dir.path().join("veille.toml"), &no_env);
    (dir, result)
}

#[test]
fn an_error_in_a_nested_table_of_an_included_file_names_that_file_and_line() {
    let team = "[[source]]\nid = \"site\"\nurl = \"https://x.example/\"\nkind = \"page\"\n\n[source.select]\nitem = \"a[\"\n";
    let (dir, result) = load_with_included(team);
    let errors = result.err().unwrap_or_else(|| panic!("accepted")).0;
    let error = errors
        .iter()
        .find(|e| e.key.contains("select"))
        .unwrap_or_else(|| panic!("no selector error in {errors:?}"));
    assert_eq!(error.file, dir.path().join("teams/comm.toml"), "{error}");
    // The same place as when the team's file is read on its own.
    let alone = errors_of(team);
    let alone = alone
        .iter()
        .find(|e| e.key.contains("select"))
        .unwrap_or_else(|| panic!("no selector error in {alone:?}"));
    assert_eq!(error.line, 7, "{error}");
    assert_eq!(
        (error.line, error.column),
        (alone.line, alone.column),
        "{error}"
    );
}

#[test]
fn deep_nesting_in_an_included_file_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let team = format!(
        "[[source]]\nid = \"s\"\nurl = \"https://x.example/\"\ntags = {}1{}\n",
        "[".repeat(deep),
        "]".repeat(deep)
    );
    let (dir, result) = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || load_with_included(&team))
        .unwrap_or_else(|e| panic!("{e}"))
        .join()
        .unwrap_or_else(|_| panic!("loading overflowed the stack"));
    let errors = result.err().unwrap_or_else(|| panic!("accepted")).0;
    assert_eq!(
        errors[0].file,
        dir.path().join("teams/comm.toml"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0].line, 4, "{}", errors[0]);
}
