//! `include = ["watches/*.toml"]`: a configuration split over files, as `veille check`
//! reads it (errors at the right file:line:col, ids unique across files, which file
//! defined what). The daemon's reload of an included file is in `daemon`.

use std::path::Path;

use crate::common::{succeeds, veille};

/// A main file that includes `watches/*.toml`, with one source and a digest.
const MAIN: &str = r#"include = ["watches/*.toml"]

[daemon]
database = "veille.db"

[[source]]
id = "presse"
url = "file:presse.xml"

[[digest]]
id = "matin"
to = "comm@example.org"
"#;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// `veille check`'s standard error and exit code.
fn check(dir: &Path) -> (String, Option<i32>) {
    let output = veille()
        .args(["check", "--config"])
        .arg(dir.join("veille.toml"))
        .output()
        .expect("veille check");
    (
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code(),
    )
}

#[test]
fn check_says_which_file_defined_what() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "veille.toml", MAIN);
    write(
        dir.path(),
        "watches/comm.toml",
        "[[watch]]\nid = \"marque\"\nquery = \"Nordvent\"\ndigests = [\"matin\"]\n\n[[watch]]\nid = \"secteur\"\nquery = \"éolien\"\nsources = [\"presse\", \"rh\"]\n",
    );
    write(
        dir.path(),
        "watches/rh.toml",
        "[[source]]\nid = \"rh\"\nurl = \"file:rh.xml\"\n\n[[alert]]\nid = \"crise\"\nto = \"astreinte@example.org\"\nwatches = [\"marque\"]\n",
    );
    // Not read: hidden (an editor's lock file) and not .toml.
    write(dir.path(), "watches/.#comm.toml", "not = [toml");
    write(dir.path(), "watches/notes.txt", "not toml either");

    let output = succeeds(
        veille()
            .args(["check", "--config"])
            .arg(dir.path().join("veille.toml")),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("2 sources, 2 watches, 1 digest, 1 alert rule"),
        "{stdout}"
    );
    assert!(stdout.contains("defined in 3 files:"), "{stdout}");
    assert!(
        stdout.contains("veille.toml: 1 source (\"presse\"); 1 digest (\"matin\")"),
        "{stdout}"
    );
    assert!(
        stdout.contains("watches/comm.toml: 2 watches (\"marque\", \"secteur\")"),
        "{stdout}"
    );
    assert!(
        stdout.contains("watches/rh.toml: 1 source (\"rh\"); 1 alert rule (\"crise\")"),
        "{stdout}"
    );
}

#[test]
fn an_error_in_an_included_file_points_at_that_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "veille.toml", MAIN);
    write(
        dir.path(),
        "watches/comm.toml",
        "[[watch]]\nid = \"marque\"\nquery = \"Nordvent\"\n\n[[watch]]\nid = \"secteur\"\n  query = \"sit:lemonde.fr\"\n",
    );
    write(
        dir.path(),
        "watches/rh.toml",
        "[[watch]]\nid = \"rh\"\nquery = \"grève\"\nevery = \"1h\"\n",
    );
    let (stderr, code) = check(dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    let comm = dir.path().join("watches/comm.toml");
    assert!(
        stderr.contains(&format!(
            "{}:7:12: watch \"secteur\".query: invalid query: unknown operator sit:",
            comm.display()
        )),
        "{stderr}"
    );
    // The caret is drawn under the query's line of the included file.
    assert!(
        stderr.contains("    query = \"sit:lemonde.fr\"\n             ^"),
        "{stderr}"
    );
    let rh = dir.path().join("watches/rh.toml");
    assert!(
        stderr.contains(&format!("{}:4:1: watch \"rh\".every", rh.display())),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s)"), "{stderr}");
}

#[test]
fn ids_are_unique_across_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "veille.toml", MAIN);
    write(
        dir.path(),
        "watches/a.toml",
        "[[watch]]\nid = \"marque\"\nquery = \"Nordvent\"\n",
    );
    write(
        dir.path(),
        "watches/b.toml",
        "[[watch]]\nid = \"autre\"\nquery = \"x\"\n\n[[watch]]\nid = \"marque\"\nquery = \"y\"\n\n[[source]]\nid = \"presse\"\nurl = \"file:b.xml\"\n",
    );
    let (stderr, code) = check(dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    let a = dir.path().join("watches/a.toml");
    let b = dir.path().join("watches/b.toml");
    assert!(
        stderr.contains(&format!(
            "{}:6:6: watch \"marque\".id: duplicate watch id \"marque\" (first defined on {}:2)",
            b.display(),
            a.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:10:6: source \"presse\".id: duplicate source id \"presse\" (first defined on {}:7)",
            b.display(),
            dir.path().join("veille.toml").display()
        )),
        "{stderr}"
    );
}

#[test]
fn what_an_included_file_may_not_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "veille.toml",
        &MAIN.replace(
            r#"include = ["watches/*.toml"]"#,
            r#"include = ["watches/*.toml", "missing.toml", "watches", 7]"#,
        ),
    );
    write(
        dir.path(),
        "watches/a.toml",
        "include = [\"more/*.toml\"]\n\n[smtp]\nhost = \"x\"\nfrom = \"a@b.c\"\n",
    );
    let (stderr, code) = check(dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    let main = dir.path().join("veille.toml");
    let a = dir.path().join("watches/a.toml");
    for expected in [
        format!(
            "{}:1:30: include: cannot read {}: no such file",
            main.display(),
            dir.path().join("missing.toml").display()
        ),
        format!(
            "{}:1:46: include: {} is a folder",
            main.display(),
            dir.path().join("watches").display()
        ),
        format!("{}:1:57: include: expected a file pattern", main.display()),
        format!("{}:1:1: include: includes do not nest", a.display()),
        format!(
            "{}:3:2: smtp: [smtp] belongs in the main configuration file",
            a.display()
        ),
    ] {
        assert!(stderr.contains(&expected), "{expected}\nnot in\n{stderr}");
    }
}

/// A pattern that matches nothing is an empty folder, not a mistake (`veille init` makes
/// one); paths in included files are relative to the main file's folder.
#[test]
fn an_empty_folder_is_fine_and_paths_are_relative_to_the_main_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "veille.toml", MAIN);
    std::fs::create_dir_all(dir.path().join("watches")).expect("mkdir");
    succeeds(
        veille()
            .args(["check", "--config"])
            .arg(dir.path().join("veille.toml")),
    );

    write(
        dir.path(),
        "watches/login.toml",
        "[[source]]\nid = \"intranet\"\nurl = \"https://intranet.example.org/feed\"\nusername = \"veille\"\npassword_file = \"intranet-password\"\n",
    );
    let (stderr, code) = check(dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot read {}",
            dir.path().join("intranet-password").display()
        )),
        "{stderr}"
    );
    write(dir.path(), "intranet-password", "s3cret\n");
    succeeds(
        veille()
            .args(["check", "--config"])
            .arg(dir.path().join("veille.toml")),
    );
}
