//! `veille match` as an admin tuning a watch list uses it: exit codes, JSON hits, stdin,
//! and `--replay` over items stored by a real `veille run --once` of the demo.
use crate::common::{copy_demo, veille};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = veille().args(args).output().expect("run veille match");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_say_match_no_match_or_invalid() {
    let cases: &[(&[&str], i32)] = &[
        (&["match", "--query", "acme", "--title", "ACME rachète"], 0),
        (&["match", "--query", "acme", "--title", "Acmeville"], 1),
        (
            &["match", "--query", "=Orange", "--text", "un jus d'orange"],
            1,
        ),
        (
            &["match", "--query", "=Orange", "--text", "l’action d’Orange"],
            0,
        ),
        (&["match", "--query", "title:acme", "--text", "acme"], 1),
        (
            &[
                "match",
                "--query",
                "acme NEAR/3 rachat",
                "--text",
                "rachat de la société Acme",
            ],
            0,
        ),
        (
            &[
                "match",
                "--query",
                "acme NEAR/2 rachat",
                "--text",
                "rachat de la société Acme",
            ],
            1,
        ),
        (&["match", "--query", "acme \"open", "--text", "acme"], 2),
        (&["match", "--text", "acme"], 2),
    ];
    for (args, code) in cases {
        let (got, stdout, stderr) = run(args);
        assert_eq!(got, *code, "{args:?}\n{stdout}\n{stderr}");
    }
}

#[test]
fn invalid_query_points_at_the_column() {
    let (code, _, stderr) = run(&["match", "--query", "(acme OR corp", "--text", "x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("column 1"), "{stderr}");
    assert!(stderr.contains("never closed"), "{stderr}");
    let (code, _, stderr) = run(&["match", "--query", "acme NEAR/ corp"]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.get(1), Some(&"  acme NEAR/ corp"), "{stderr}");
    assert_eq!(lines.get(2), Some(&"            ^"), "{stderr}");
}

#[test]
fn json_lists_hits_with_offsets_and_snippets() {
    let body = "Le conseil a voté. La société Nordvent Énergie obtient le permis.";
    let (code, stdout, stderr) = run(&[
        "match",
        "--json",
        "--query",
        "\"nordvent energie\" NEAR/3 permis",
        "--title",
        "Feu vert",
        "--text",
        body,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["matched"], true);
    let hits = report["hits"].as_array().expect("hits");
    let found: Vec<(String, String, String)> = hits
        .iter()
        .map(|h| {
            let start = h["start"].as_u64().expect("start") as usize;
            let end = h["end"].as_u64().expect("end") as usize;
            (
                h["term"].as_str().unwrap_or_default().to_string(),
                h["field"].as_str().unwrap_or_default().to_string(),
                body[start..end].to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "nordvent energie".to_string(),
                "body".to_string(),
                "Nordvent Énergie".to_string()
            ),
            ("permis".into(), "body".into(), "permis".into()),
        ]
    );
    assert_eq!(
        report["body"],
        "Le conseil a voté. La société [Nordvent Énergie] obtient le [permis]."
    );

    let (code, stdout, _) = run(&["match", "--json", "--query", "acme", "--text", "rien"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(report["matched"], false);
    assert_eq!(report["hits"], serde_json::json!([]));
}

#[test]
fn reads_the_body_from_stdin() {
    let output = veille()
        .args(["match", "--query", "l'oréal", "--text", "-"])
        .write_stdin("Les comptes de L&rsquo;Or&eacute;al")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("match: l'oréal"), "{stdout}");
}

#[test]
fn replay_runs_a_watch_over_stored_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = copy_demo(dir.path());
    let config = config.to_str().expect("utf-8 path");

    // No database yet: nothing to replay.
    let (code, _, stderr) = run(&[
        "match", "--watch", "nordvent", "--config", config, "--replay", "30d",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no database"), "{stderr}");

    let status = veille()
        .args(["run", "--once", "--config", config])
        .output()
        .expect("run the demo");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    // The watch as configured finds what the run stored as its mentions.
    let (code, stdout, stderr) = run(&[
        "match", "--watch", "nordvent", "--config", config, "--replay", "30d",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("watch \"nordvent\" matches 4 of 10 items"),
        "{stdout}"
    );
    assert!(stdout.contains("Nordvent Énergie inaugure"), "{stdout}");

    // A tighter query, tried before deploying it.
    let (code, stdout, stderr) = run(&[
        "match",
        "--watch",
        "nordvent",
        "--config",
        config,
        "--replay",
        "30d",
        "--json",
        "--query",
        "title:nordvent -grève",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let matched = report["matched"].as_u64().expect("matched");
    assert!((1..4).contains(&matched), "{stdout}");
    assert_eq!(report["items"], 10);
    for item in report["top"].as_array().expect("top") {
        let title = item["title"].as_str().expect("title").to_lowercase();
        assert!(
            title.contains("nordvent") && !title.contains("grève"),
            "{title}"
        );
    }

    // A query that finds nothing exits 1; an unknown watch or a bad period exits 2.
    let (code, stdout, _) = run(&[
        "match", "--config", config, "--replay", "30d", "--query", "zzzz",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("matches 0 of"), "{stdout}");
    let (code, _, stderr) = run(&[
        "match", "--watch", "nope", "--config", config, "--replay", "30d",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nordvent"), "{stderr}");
    let (code, _, _) = run(&[
        "match", "--watch", "nordvent", "--config", config, "--replay", "soon",
    ]);
    assert_eq!(code, 2);
}
