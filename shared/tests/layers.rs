//! The crate's module graph, read from its sources: no import cycles; the domain does not reach
//! the HTTP or WebSocket edges; the store (port and adapters) reaches no service; the two adapters
//! do not use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// This crate's directory, as cargo sets it when it runs the test (as `infra/tests` read it). Not
/// `env!`: clones share one target directory (README), and cargo reuses a test binary another
/// clone built, with that clone's path compiled in.
fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, at any depth.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// An area's folder under `src/` (not `store/`, which is one module): `area/mod.rs` is the module
/// `area` (its services) and `area/x.rs` the module `area::x` (its types and rules), so the store
/// may use an area's types without reaching its services.
fn areas() -> BTreeSet<String> {
    let src = crate_dir().join("src");
    std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "store")
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The files of a module of [`graph`]: `x.rs`, or an area's `mod.rs` or `area/x.rs`.
fn module_file(module: &str) -> PathBuf {
    let src = crate_dir().join("src");
    match module.split_once("::") {
        Some((area, sub)) => src.join(area).join(format!("{sub}.rs")),
        None if areas().contains(module) => src.join(module).join("mod.rs"),
        None => src.join(format!("{module}.rs")),
    }
}

/// Module → the crate modules it names (`crate::x`, `crate::{x, y}`, `crate::area::x`; `Ctx`,
/// `Clients` and `ApiError` as the modules that define them), test code and comments left out.
/// `store/*` is one module.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = crate_dir().join("src");
    let areas = areas();
    let mut files: Vec<_> = std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(rust_files(&src.join("store")));
    for area in &areas {
        files.extend(rust_files(&src.join(area)));
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let folder = path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let module = if path.strip_prefix(src.join("store")).is_ok() {
            "store".to_owned()
        } else if areas.contains(&folder) && stem == "mod" {
            folder
        } else if areas.contains(&folder) {
            format!("{folder}::{stem}")
        } else {
            stem
        };
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let code: String = code.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap()].split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let ident = |s: &str| -> String {
                    s.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
                };
                let first = ident(name);
                let name = match first.as_str() {
                    "Ctx" | "Clients" => "context".to_owned(),
                    "ApiError" => "error".to_owned(),
                    area if areas.contains(area) => {
                        let sub = name.trim()[area.len()..].strip_prefix("::").map(ident).unwrap_or_default();
                        if !sub.is_empty() && src.join(area).join(format!("{sub}.rs")).exists() {
                            format!("{area}::{sub}")
                        } else {
                            area.to_owned()
                        }
                    }
                    _ => first,
                };
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn no_module_reaches_itself_through_others() {
    let graph = graph();
    for start in graph.keys() {
        // Depth-first from `start`: reaching it again is a cycle.
        let mut stack: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = *path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                assert_ne!(next, start, "import cycle: {} -> {next}", path.join(" -> "));
                if seen.insert(next.as_str()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
}

#[test]
fn the_domain_does_not_reach_the_edges_and_the_store_reaches_no_service() {
    let graph = graph();
    let services = [
        "accounts",
        "contacts",
        "conversations",
        "fanout",
        "files",
        "messages",
        "notifications",
        "notifications::deliver",
        "presence",
        "push",
        "users",
    ];
    let types = ["auth", "chat", "keys", "model", "paging", "notifications::devices", "notifications::settings"];
    let domain = services.iter().chain(&types).chain(&["store"]);
    for module in domain {
        let uses = &graph[*module];
        for edge in ["http", "ws"] {
            assert!(!uses.contains(edge), "{module} uses the {edge} edge");
        }
    }
    for service in services {
        assert!(!graph["store"].contains(service), "the store uses the {service} service");
    }
    // error.rs maps the domain's own errors (model::Invalid) to answers, and uses nothing else;
    // the validators fail with model::Invalid and know nothing of ApiError.
    let maps: BTreeSet<String> = ["model".to_owned()].into();
    assert!(graph["error"].is_subset(&maps), "error uses {:?}", graph["error"]);
    for validators in ["model", "paging", "chat", "notifications::devices", "notifications::settings"] {
        assert!(!graph[validators].contains("error"), "{validators} fails with ApiError, not model::Invalid");
    }
    // Nothing below the edges knows HTTP: the status of a failure is the HTTP edge's mapping.
    for module in services.iter().chain(&types).chain(&["error", "ids"]) {
        let text = std::fs::read_to_string(module_file(module)).unwrap();
        let code: String =
            text.split("#[cfg(test)]").next().unwrap().lines().map(|l| l.split("//").next().unwrap()).collect();
        for http in ["http::", "StatusCode", "lambda_http"] {
            assert!(!code.contains(http), "{module} knows HTTP ({http})");
        }
    }
    let store = crate_dir().join("src/store");
    let memory = std::fs::read_to_string(store.join("memory.rs")).unwrap();
    assert!(!memory.contains("dynamo::"), "the in-memory adapter uses the DynamoDB one");
    let dynamo = rust_files(&store.join("dynamo"));
    assert!(dynamo.len() > 1, "the DynamoDB adapter is split by area");
    for file in dynamo {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("memory::"), "{} uses the in-memory adapter", file.display());
    }
}
