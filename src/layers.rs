//! The layer guard: every module imports only from its own layer or below, and no two
//! modules import each other, even through others. `ARCHITECTURE.md` explains the layers;
//! this test keeps the code to them, reading the `crate::` paths of every source file as
//! text (comments and unit tests left out: a test may reach up to build what it checks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The library's modules, bottom layer first. A module may import from its own layer (if
/// that makes no cycle) and from every layer below; never from above.
const LAYERS: &[(&str, &[&str])] = &[
    ("plain data", &["model", "clock", "error_chain", "language"]),
    (
        "pure stages",
        &[
            "matching",
            "dedup",
            "extract",
            "fetch",
            "isolation",
            "score",
            "schedule",
            "judge",
        ],
    ),
    ("configuration", &["config"]),
    ("configured decisions", &["alert", "digest"]),
    ("storage", &["store"]),
    ("store clients", &["metrics", "mail"]),
    ("running state", &["app", "App", "AppError"]),
    (
        "orchestration",
        &["alerting", "feedback", "notify", "pipeline", "scheduler"],
    ),
    ("edges", &["daemon", "web"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The module a path names (`App` and `AppError` are re-exported from `app`).
fn canonical(module: &str) -> &str {
    match module {
        "App" | "AppError" => "app",
        other => other,
    }
}

/// Code of a source file without its comments and its unit tests: the item after a
/// `#[cfg(test)]` (a `mod tests;` line, or a block up to its closing brace) is left out.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut after_cfg_test = false;
    let mut depth: i64 = 0;
    for line in text.lines() {
        let trimmed = line.trim();
        if after_cfg_test || depth > 0 {
            if after_cfg_test && trimmed.starts_with("#[") {
                continue;
            }
            let one_line_item = after_cfg_test && depth == 0 && trimmed.ends_with(';');
            after_cfg_test = false;
            if !one_line_item {
                depth = (depth + brace_balance(line)).max(0);
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            after_cfg_test = true;
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line.split(" // ").next().unwrap_or(line));
        code.push('\n');
    }
    code
}

fn brace_balance(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The top-level modules a piece of code names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::b, c}`: the first segment of each entry, at brace depth 0.
            let mut depth = 0;
            let mut entry_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if entry_start && (c.is_alphanumeric() || c == '_') => {
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        found.insert(name);
                        entry_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Module → the other modules it imports, from every file of `src/` but the binary's.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}"));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{dir:?}: {e}")).path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap_or(&path);
            let first = relative
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let module = first.trim_end_matches(".rs").to_string();
            // The binary (`main.rs`, `cli/`) sits on top and uses the library by name; the
            // crate root only declares the modules; `tests.rs` files are unit tests.
            let file = relative
                .file_name()
                .map(|f| f.to_string_lossy().into_owned());
            if matches!(module.as_str(), "main" | "cli" | "lib" | "layers")
                || file.as_deref() == Some("tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let names = graph.entry(module.clone()).or_default();
            for name in imports(&code_of(&text)) {
                let name = canonical(&name).to_string();
                if name != module && name != "self" && name != "super" {
                    names.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if the graph has one: the modules in order.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn every_module_has_a_layer() {
    let graph = module_graph();
    let missing: Vec<&String> = graph.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in src/layers.rs: {missing:?}"
    );
}

#[test]
fn no_module_imports_from_a_layer_above() {
    let mut upward = Vec::new();
    for (module, names) in module_graph() {
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for name in names {
            match layer_of(&name) {
                Some(theirs) if theirs > own => upward.push(format!(
                    "{module} ({}) imports {name} ({})",
                    LAYERS[own].0, LAYERS[theirs].0
                )),
                Some(_) => {}
                None => upward.push(format!("{module} imports {name}, which has no layer")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = module_graph();
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| format!("{} -> {}", cycle.join(" -> "), cycle[0]))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_guard_reads_every_kind_of_import() {
    let code = code_of(
        "use crate::alert::Rules;\n\
         use crate::{model::{Item, Lang}, store};\n\
         // crate::web is in a comment\n\
         let x = crate::clock::now(); // crate::daemon trailing\n\
         #[cfg(test)]\n\
         mod testing;\n\
         let y = crate::dedup::canon();\n\
         #[cfg(test)]\n\
         mod tests {\n\
             use crate::cli;\n\
         }\n\
         use crate::digest;\n",
    );
    let found: Vec<String> = imports(&code).into_iter().collect();
    assert_eq!(
        found,
        ["alert", "clock", "dedup", "digest", "model", "store"]
    );
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        cycle_from(&graph, "a"),
        Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
    );
    graph.insert("c".to_string(), BTreeSet::new());
    assert_eq!(cycle_from(&graph, "a"), None);
}
