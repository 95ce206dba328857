//! The crate's module graph, read from its sources: no import cycles; the domain does not reach
//! the HTTP or WebSocket edges; the store (port and adapters) reaches no service; the two adapters
//! do not use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the crate modules it names (`crate::x`, `crate::{x, y}`; `Ctx`, `Clients` and `ApiError`
/// as the modules that define them), test code and comments left out. `store/*` is one module.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().path()).collect();
    files.extend(std::fs::read_dir(src.join("store")).unwrap().map(|e| e.unwrap().path()));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let module = if path.parent().unwrap().ends_with("store") {
            "store".to_owned()
        } else {
            path.file_stem().unwrap().to_string_lossy().into_owned()
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
                let name: String = name.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let name = match name.as_str() {
                    "Ctx" | "Clients" => "context".to_owned(),
                    "ApiError" => "error".to_owned(),
                    _ => name,
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
    let services =
        ["accounts", "contacts", "conversations", "fanout", "files", "messages", "presence", "push", "users"];
    let domain = services.iter().chain(&["auth", "chat", "keys", "model", "paging", "store"]);
    for module in domain {
        let uses = &graph[*module];
        for edge in ["http", "ws"] {
            assert!(!uses.contains(edge), "{module} uses the {edge} edge");
        }
    }
    for service in services {
        assert!(!graph["store"].contains(service), "the store uses the {service} service");
    }
    assert!(graph["error"].is_empty(), "error uses {:?}", graph["error"]);
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    for (adapter, other) in [("memory", "dynamo"), ("dynamo", "memory")] {
        let text = std::fs::read_to_string(adapters.join(format!("{adapter}.rs"))).unwrap();
        assert!(!text.contains(&format!("super::{other}")), "the {adapter} adapter uses the {other} one");
    }
}
