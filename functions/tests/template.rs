//! template.yaml and the route table must agree: every route has its function, with the right
//! build metadata and event; every function the template names is a binary that exists.

use std::collections::BTreeSet;
use std::path::Path;

use chathub_functions::table::REST_ROUTES;
use serde_yaml::Value;

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml is readable");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn functions(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r))
        .collect()
}

fn binary_exists(binary: &str) -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/bin")
        .join(format!("{binary}.rs"))
        .is_file()
}

#[test]
fn every_rest_route_has_its_function_and_http_api_event() {
    let template = template();
    let mut in_template = BTreeSet::new();
    for (name, resource) in functions(&template) {
        let metadata = &resource["Metadata"];
        assert_eq!(
            metadata["BuildMethod"], "rust-cargolambda",
            "{name} BuildMethod"
        );
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no Binary"));
        assert!(
            binary_exists(binary),
            "{name} names binary {binary}, which does not exist in functions/src/bin"
        );
        let events = resource["Properties"]["Events"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        for (_, event) in events.iter().filter(|(_, e)| e["Type"] == "HttpApi") {
            let method = event["Properties"]["Method"].as_str().unwrap().to_owned();
            let path = event["Properties"]["Path"].as_str().unwrap().to_owned();
            in_template.insert((method, path, binary.to_owned()));
        }
    }
    let in_table: BTreeSet<(String, String, String)> = REST_ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = in_table.difference(&in_template).collect();
    let unknown: Vec<_> = in_template.difference(&in_table).collect();
    assert!(
        missing.is_empty(),
        "routes missing from template.yaml: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "template.yaml routes the route table does not have: {unknown:?}"
    );
}

#[test]
fn every_route_binary_exists_and_every_binary_is_routed() {
    for route in REST_ROUTES {
        assert!(
            binary_exists(route.function),
            "no binary for {}",
            route.route_key()
        );
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let routed: BTreeSet<&str> = REST_ROUTES.iter().map(|r| r.function).collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let binary = name.trim_end_matches(".rs");
        assert!(
            routed.contains(binary),
            "binary {binary} serves no route in the route table"
        );
    }
}

#[test]
fn functions_run_arm64_on_al2023_and_reach_only_the_table() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"][0], "arm64");
    for (name, resource) in functions(&template) {
        let policies = resource["Properties"]["Policies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        for policy in policies {
            for statement in policy["Statement"].as_sequence().unwrap() {
                for action in statement["Action"].as_sequence().unwrap() {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{name}: wildcard action {action}");
                    assert_ne!(action, "dynamodb:Scan", "{name} may not Scan");
                }
            }
        }
    }
}

#[test]
fn openapi_describes_exactly_the_routes_built() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            documented.insert(format!(
                "{} {}",
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap()
            ));
        }
    }
    let built: BTreeSet<String> = REST_ROUTES.iter().map(|r| r.route_key()).collect();
    assert_eq!(
        documented, built,
        "docs/openapi.yaml and the route table differ"
    );
}
