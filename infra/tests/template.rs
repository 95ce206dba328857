//! template.yaml and the route table must agree: every route has its function, with the right
//! build metadata and event; every function the template names is a binary that exists.

use std::collections::BTreeSet;

use chathub_functions::table::{NOTIFY, REST_ROUTES, WS_AUTHORIZER, WS_ROUTES};
use chathub_shared::clients::Needs;
use serde_yaml::Value;

#[path = "template/operations.rs"]
mod operations;

fn template() -> Value {
    let path = manifest_dir().join("../template.yaml");
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
    manifest_dir().join("../functions/src/bin").join(format!("{binary}.rs")).is_file()
}

#[test]
fn every_rest_route_has_its_function_and_http_api_event() {
    let template = template();
    let mut in_template = BTreeSet::new();
    for (name, resource) in functions(&template) {
        let metadata = &resource["Metadata"];
        assert_eq!(metadata["BuildMethod"], "rust-cargolambda", "{name} BuildMethod");
        let binary = metadata["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{name} names no Binary"));
        assert!(binary_exists(binary), "{name} names binary {binary}, which does not exist in functions/src/bin");
        let events = resource["Properties"]["Events"].as_mapping().cloned().unwrap_or_default();
        for (_, event) in events.iter().filter(|(_, e)| e["Type"] == "HttpApi") {
            let method = event["Properties"]["Method"].as_str().unwrap().to_owned();
            let path = event["Properties"]["Path"].as_str().unwrap().to_owned();
            in_template.insert((method, path, binary.to_owned()));
        }
    }
    let in_table: BTreeSet<(String, String, String)> =
        REST_ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned(), r.function.to_owned())).collect();
    let missing: Vec<_> = in_table.difference(&in_template).collect();
    let unknown: Vec<_> = in_template.difference(&in_table).collect();
    assert!(missing.is_empty(), "routes missing from template.yaml: {missing:?}");
    assert!(unknown.is_empty(), "template.yaml routes the route table does not have: {unknown:?}");
}

/// The text of a tagged scalar such as `!Sub '...'`, or of a plain string.
fn scalar(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => scalar(&tagged.value),
        Value::String(s) => s.clone(),
        other => panic!("expected a string, got {other:?}"),
    }
}

/// The logical ids a `!Sub` names: `${Name}` and `${Name.Arn}`.
fn sub_references(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .map(|r| r.split('.').next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_websocket_route_reaches_its_function_through_an_integration() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let resource = |name: &str| resources.get(name).unwrap_or_else(|| panic!("no resource {name}"));
    let binary_of =
        |function: &str| resource(function)["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
    let function_in = |text: &str| sub_references(text).into_iter().find(|r| r.ends_with("Function")).unwrap();
    let mut in_template = BTreeSet::new();
    for (name, route) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Route") {
        let key = route["Properties"]["RouteKey"].as_str().unwrap().to_owned();
        let integration = sub_references(&scalar(&route["Properties"]["Target"])).remove(0);
        let function = function_in(&scalar(&resource(&integration)["Properties"]["IntegrationUri"]));
        let binary = binary_of(&function);
        assert!(binary_exists(&binary), "{name:?}: binary {binary} does not exist");
        let permitted = resources.iter().any(|(_, r)| {
            r["Type"] == "AWS::Lambda::Permission" && scalar(&r["Properties"]["FunctionName"]) == function
        });
        assert!(permitted, "{function} has no invoke permission for API Gateway");
        if key == "$connect" {
            assert_eq!(route["Properties"]["AuthorizationType"], "CUSTOM", "$connect must use the authorizer");
            let authorizer = scalar(&route["Properties"]["AuthorizerId"]);
            let uri = scalar(&resource(&authorizer)["Properties"]["AuthorizerUri"]);
            assert_eq!(binary_of(&function_in(&uri)), WS_AUTHORIZER);
        } else if !key.starts_with("$dis") {
            let responds = resources.iter().any(|(_, r)| {
                r["Type"] == "AWS::ApiGatewayV2::RouteResponse"
                    && scalar(&r["Properties"]["RouteId"]) == name.as_str().unwrap()
            });
            // A route that answers on its own posts its answer; a route response would send the
            // Lambda's (empty) result as a second frame.
            let early = WS_ROUTES.iter().any(|r| r.route_key == key && r.answers_early);
            if early {
                assert!(!responds, "{key} answers on its own: it must be one-way (no route response)");
                assert!(route["Properties"]["RouteResponseSelectionExpression"].is_null(), "{key} must be one-way");
            } else {
                assert!(responds, "{key} has no route response: its answer would never reach the client");
            }
        }
        in_template.insert((key, binary));
    }
    let in_table: BTreeSet<(String, String)> =
        WS_ROUTES.iter().map(|r| (r.route_key.to_owned(), r.function.to_owned())).collect();
    assert_eq!(in_template, in_table, "template.yaml's WebSocket routes and the route table differ");
    assert_eq!(resource("WebSocketApi")["Properties"]["RouteSelectionExpression"], "$request.body.type");
}

/// The clients a function's route declared (`rest_route!`/`ws_route!`; the compiler holds each
/// handler to them): what its role and environment must grant. The authorizer and the routes that
/// run on their configuration alone hold none.
fn needs_of(binary: &str) -> Needs {
    REST_ROUTES
        .iter()
        .find(|r| r.function == binary)
        .map(|r| r.needs)
        .or_else(|| WS_ROUTES.iter().find(|r| r.function == binary).map(|r| r.needs))
        .flatten()
        .unwrap_or(Needs { push: false, files: false, signs: false, devices: false, moderation: false })
}

#[test]
fn only_functions_that_push_may_manage_connections_and_only_those_with_files_reach_s3() {
    let template = template();
    for (name, resource) in functions(&template) {
        let policies = serde_yaml::to_string(&resource["Properties"]["Policies"]).unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let Needs { push: pushes, files, .. } = needs_of(binary);
        let manages = policies.contains("execute-api:ManageConnections");
        assert_eq!(pushes, manages, "{name}: pushes = {pushes}, may manage connections = {manages}");
        let reaches_s3 = policies.contains("s3:");
        assert_eq!(files, reaches_s3, "{name}: uses files = {files}, may reach S3 = {reaches_s3}");
    }
}

/// Security finding 5: the stages throttle, tighter on the routes that hash passwords or mint
/// tokens.
#[test]
fn the_stages_throttle_and_auth_routes_more_tightly() {
    let template = template();
    let resource = |name: &str| template["Resources"][name].clone();
    let parameter = |value: &serde_yaml::Value| -> i64 {
        let name = serde_yaml::to_string(value).unwrap();
        let name = name.trim().trim_start_matches("!Ref").trim();
        template["Parameters"][name]["Default"].as_i64().unwrap_or_else(|| panic!("{name} is no parameter"))
    };
    let http = resource("HttpApi");
    let default = &http["Properties"]["DefaultRouteSettings"];
    let (rate, burst) = (parameter(&default["ThrottlingRateLimit"]), parameter(&default["ThrottlingBurstLimit"]));
    assert!(rate > 0 && burst >= rate, "HTTP API default: {rate}/s, burst {burst}");
    for route in
        REST_ROUTES.iter().filter(|r| r.path.starts_with("/auth/") && r.method == "POST" && r.path != "/auth/logout")
    {
        let key = format!("{} {}", route.method, route.path);
        let settings = &http["Properties"]["RouteSettings"][key.as_str()];
        let tight = parameter(&settings["ThrottlingRateLimit"]);
        assert!(tight > 0 && tight < rate, "{key}: {tight}/s against {rate}/s");
        assert!(parameter(&settings["ThrottlingBurstLimit"]) < burst, "{key}");
    }
    let ws = &resource("WebSocketStage")["Properties"]["DefaultRouteSettings"];
    assert!(parameter(&ws["ThrottlingRateLimit"]) > 0 && parameter(&ws["ThrottlingBurstLimit"]) > 0);
}

/// Security finding 14: only `files-create` signs uploads, so only it may write `uploads/`; the
/// functions that reference files copy them into `files/` and write nothing else.
#[test]
fn only_files_create_may_write_uploads() {
    let template = template();
    for (name, resource) in functions(&template) {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let policies = resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
        for statement in policies.iter().filter_map(|p| p["Statement"].as_sequence()).flatten() {
            let actions = serde_yaml::to_string(&statement["Action"]).unwrap();
            if !actions.contains("s3:PutObject") {
                continue;
            }
            assert!(!actions.contains("s3:GetObject"), "{name}: give writes a statement of their own");
            let resources = serde_yaml::to_string(&statement["Resource"]).unwrap();
            let (may, may_not) =
                if binary == "files-create" { ("/uploads/*", "/files/*") } else { ("/files/*", "/uploads/*") };
            assert!(resources.contains(may) && !resources.contains(may_not), "{name} may write: {resources}");
        }
    }
}

/// Each route's binary is the one line that runs its module's declaration, so the deployed path is
/// the tested one: the clients it builds are the ones its handler is given (a handler that uses a
/// client its declaration lacks does not compile).
#[test]
fn every_binary_runs_its_routes_declaration() {
    let bins = manifest_dir().join("../functions/src/bin");
    for route in REST_ROUTES.iter().map(|r| r.function).chain(WS_ROUTES.iter().map(|r| r.function)) {
        let module = route.replace('-', "_");
        let main = std::fs::read_to_string(bins.join(format!("{route}.rs"))).unwrap();
        assert!(
            main.contains(&format!("chathub_functions::lambda_main!({module});")),
            "{route}'s binary does not run its module's declaration"
        );
    }
}

/// The workspace as cargo reads it (`cargo metadata`, no dependencies).
fn cargo_metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline", "--manifest-path"])
        .arg(manifest_dir().join("../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every binary is declared in functions/Cargo.toml without a test harness (their tests live in
/// the gateway suite: a harness per binary is 47 links for nothing), read through `cargo metadata`.
#[test]
fn every_binary_is_declared_without_a_test_harness() {
    let metadata = cargo_metadata();
    let functions = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "chathub-functions")
        .expect("the functions package");
    for target in functions["targets"].as_array().unwrap() {
        if target["kind"].as_array().unwrap().iter().any(|k| k == "bin") {
            assert_eq!(
                target["test"], false,
                "add a [[bin]] entry with test = false for {} in functions/Cargo.toml",
                target["name"]
            );
        }
    }
}

/// Security finding 2: the private signing key reaches only the functions that issue tokens
/// (register, login, refresh), as a secret they may read; every function gets the public keys,
/// and no key material is resolved into any function's environment.
#[test]
fn only_the_functions_that_issue_tokens_may_read_the_signing_key() {
    let template = template();
    let text = std::fs::read_to_string(manifest_dir().join("../template.yaml")).unwrap();
    assert!(!text.contains("{{resolve:secretsmanager"), "a secret is resolved into the template");
    assert!(!text.contains("JWT_SECRET"), "the symmetric key is still configured");
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(scalar(&globals["JWT_PUBLIC_KEYS"]), "JwtPublicKeys");
    let mut signers = BTreeSet::new();
    for (name, resource) in functions(&template) {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let policies = serde_yaml::to_string(&resource["Properties"]["Policies"]).unwrap();
        let reads_secret = policies.contains("secretsmanager:");
        let env = &resource["Properties"]["Environment"]["Variables"];
        let named = !env["JWT_SIGNING_KEY_SECRET"].is_null();
        let signs = needs_of(binary).signs;
        assert_eq!(
            (signs, signs),
            (reads_secret, named),
            "{name}: issues tokens = {signs}, may read the key = {reads_secret}, is told its name = {named}"
        );
        if signs {
            assert!(
                policies.contains("secretsmanager:GetSecretValue") && policies.contains("jwt-signing-key-??????"),
                "{name}: {policies}"
            );
            assert!(!policies.contains("secretsmanager:*") && !policies.contains("secret:*"), "{name}: {policies}");
            signers.insert(binary.to_owned());
        }
    }
    let expected: BTreeSet<String> = ["auth-login", "auth-refresh", "auth-register"].map(String::from).into();
    assert_eq!(signers, expected);
}

#[test]
fn every_route_binary_exists_and_every_binary_is_routed() {
    for route in REST_ROUTES {
        assert!(binary_exists(route.function), "no binary for {}", route.route_key());
    }
    for route in WS_ROUTES {
        assert!(binary_exists(route.function), "no binary for WebSocket {}", route.route_key);
    }
    assert!(binary_exists(WS_AUTHORIZER));
    let authorizer = std::fs::read_to_string(manifest_dir().join("../functions/src/bin/ws-authorizer.rs")).unwrap();
    assert!(authorizer.contains("lambda_main!(ws_authorizer);"), "the authorizer binary runs another module");
    let module = std::fs::read_to_string(manifest_dir().join("../functions/src/routes/ws_authorizer.rs")).unwrap();
    assert!(module.contains("ws::run_authorizer(handle)"), "the authorizer's Lambda runs another handler");
    let dir = manifest_dir().join("../functions/src/bin");
    let routed: BTreeSet<&str> = REST_ROUTES
        .iter()
        .map(|r| r.function)
        .chain(WS_ROUTES.iter().map(|r| r.function))
        .chain([WS_AUTHORIZER, NOTIFY])
        .collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let binary = name.trim_end_matches(".rs");
        assert!(routed.contains(binary), "binary {binary} serves no route in the route table");
    }
}

/// `cargo lambda watch` serves exactly the REST routes, on their real paths, with their functions:
/// the workspace's `watch.router` table (read through `cargo metadata`, as cargo-lambda reads it)
/// and the route table agree.
#[test]
fn cargo_lambda_watch_router_matches_the_route_table() {
    let metadata = cargo_metadata();
    let router = metadata["metadata"]["lambda"]["watch"]["router"].as_object().expect("watch.router table");
    let mut in_router = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().expect("a list of { method, function }") {
            let method = target["method"].as_str().unwrap();
            let function = target["function"].as_str().unwrap();
            in_router.insert((format!("{method} {path}"), function.to_owned()));
        }
    }
    let in_table: BTreeSet<(String, String)> =
        REST_ROUTES.iter().map(|r| (r.route_key(), r.function.to_owned())).collect();
    assert_eq!(in_router, in_table, "Cargo.toml's watch.router and the REST route table differ");
}

/// The notify function reads the table's stream, invoked only for what may call for a push (the
/// filters the code and the local gateway use), and a record it cannot handle never holds its
/// shard: it reports failed records, the batch splits, retries are bounded, and what it gives up
/// goes to a queue of the template's.
#[test]
fn the_notify_function_reads_the_stream_filtered_and_never_stalls_on_a_record() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    let readers: Vec<&str> = functions(&template)
        .into_iter()
        .filter(|(_, f)| serde_yaml::to_string(&f["Properties"]["Events"]).unwrap().contains("Table.StreamArn"))
        .map(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap())
        .collect();
    assert_eq!(readers, [NOTIFY], "one reader of the stream (a shard takes at most two)");
    let (_, notify) =
        functions(&template).into_iter().find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == NOTIFY).unwrap();
    let events = notify["Properties"]["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 1, "the notify function serves no route");
    let stream = &events.values().next().unwrap()["Properties"];
    assert_eq!(events.values().next().unwrap()["Type"], "DynamoDB");
    assert_eq!(stream["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    assert_eq!(stream["BisectBatchOnFunctionError"], true);
    let retries = stream["MaximumRetryAttempts"].as_i64().unwrap();
    assert!((0..=10).contains(&retries), "bounded retries: {retries}");
    assert_eq!(stream["BatchSize"].as_u64(), Some(chathub_gateway::notify::BATCH_SIZE as u64));
    assert_eq!(retries as usize + 1, chathub_gateway::notify::TRIES, "the local gateway retries as Lambda does");
    let destination = scalar(&stream["DestinationConfig"]["OnFailure"]["Destination"]);
    let queue = destination.split('.').next().unwrap().to_owned();
    let queue = resources
        .iter()
        .find(|(name, _)| name.as_str() == Some(queue.as_str()))
        .expect("the failure queue is the template's")
        .1;
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    let patterns: Vec<serde_json::Value> = stream["FilterCriteria"]["Filters"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let ours: Vec<serde_json::Value> = chathub_shared::store::dynamo::stream::STREAM_FILTERS
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    assert_eq!(patterns, ours, "template.yaml's filters and STREAM_FILTERS differ");
    let policies = serde_yaml::to_string(&notify["Properties"]["Policies"]).unwrap();
    assert!(policies.contains("sqs:SendMessage") && policies.contains("sns:Publish"), "{policies}");
    // It writes the sync feed (a pulled room's log entries, a user's closed buckets: Puts) but
    // never deletes anything.
    assert!(policies.contains("dynamodb:PutItem") && !policies.contains("dynamodb:DeleteItem"), "{policies}");
}

/// Only the functions that register devices (their route declares the push provider) and the
/// notify function reach SNS's platform applications and endpoints; only the one that reports
/// (its route declares the moderation topic) publishes, and only to that topic.
#[test]
fn only_device_registration_and_the_notify_function_reach_sns() {
    let template = template();
    for (name, resource) in functions(&template) {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let policies = serde_yaml::to_string(&resource["Properties"]["Policies"]).unwrap();
        if needs_of(binary).moderation {
            let statements = resource["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
            let sns: Vec<_> =
                statements.iter().filter(|s| serde_yaml::to_string(&s["Action"]).unwrap().contains("sns:")).collect();
            assert_eq!(sns.len(), 1, "{name}: {policies}");
            assert_eq!(serde_yaml::to_string(&sns[0]["Action"]).unwrap().trim(), "- sns:Publish", "{name}");
            assert_eq!(serde_yaml::to_string(&sns[0]["Resource"]).unwrap().trim(), "!Ref ModerationTopic", "{name}");
            let env = &resource["Properties"]["Environment"]["Variables"]["MODERATION_TOPIC_ARN"];
            assert_eq!(serde_yaml::to_string(env).unwrap().trim(), "!Ref ModerationTopic", "{name}");
            continue;
        }
        let may = needs_of(binary).devices || binary == NOTIFY;
        assert_eq!(may, policies.contains("sns:"), "{name}: registers devices or notifies = {may}: {policies}");
        if may {
            assert!(!policies.contains(":topic") && !policies.contains("sns:*"), "{name}: {policies}");
            let env = &resource["Properties"]["Environment"]["Variables"];
            for variable in ["SNS_APNS_APPLICATION_ARN", "SNS_APNS_SANDBOX_APPLICATION_ARN", "SNS_FCM_APPLICATION_ARN"]
            {
                assert!(!env[variable].is_null(), "{name} is not told {variable}");
            }
        }
    }
}

#[test]
fn functions_run_arm64_on_al2023_and_reach_only_the_table() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    // sam build runs `cargo lambda build` in CodeUri: the functions package resolves only its own
    // features, so no function carries what the gateway or the benchmarks enable.
    assert_eq!(globals["CodeUri"], "functions");
    assert_eq!(globals["Architectures"][0], "arm64");
    for (name, resource) in functions(&template) {
        let policies = resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
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
    let path = manifest_dir().join("../docs/openapi.yaml");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            documented.insert(format!("{} {}", method.as_str().unwrap().to_uppercase(), path.as_str().unwrap()));
        }
    }
    let built: BTreeSet<String> = REST_ROUTES.iter().map(|r| r.route_key()).collect();
    assert_eq!(documented, built, "docs/openapi.yaml and the route table differ");
}

/// Every push event the server sends.
const PUSH_EVENTS: &[&str] = &[
    "send_message",
    "message_edited",
    "message_deleted",
    "conversation_created",
    "conversation_updated",
    "member_joined",
    "member_left",
    "typing",
    "read_marker",
    "user_status",
    "send_message_batch",
    "reaction_added",
    "reaction_removed",
    "message_pinned",
    "message_unpinned",
];

#[test]
fn asyncapi_describes_every_websocket_route_and_push() {
    let path = manifest_dir().join("../docs/asyncapi.yaml");
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["asyncapi"].as_str().unwrap().starts_with("3."));
    let mut sent = BTreeSet::new();
    let mut received = BTreeSet::new();
    for (name, operation) in doc["operations"].as_mapping().unwrap() {
        let reference = operation["messages"][0]["$ref"].as_str().unwrap();
        let message = reference.rsplit('/').next().unwrap();
        let kind = doc["components"]["messages"][message]["name"].as_str().unwrap().to_owned();
        match operation["action"].as_str().unwrap() {
            "send" => {
                assert!(operation["reply"].is_mapping(), "{name:?}: a request without its answer");
                sent.insert(kind);
            }
            _ => {
                received.insert(kind);
            }
        }
    }
    let routes: BTreeSet<String> =
        WS_ROUTES.iter().filter(|r| !r.route_key.starts_with('$')).map(|r| r.route_key.to_owned()).collect();
    assert_eq!(sent, routes, "docs/asyncapi.yaml requests and the WebSocket route table differ");
    let mut pushes: BTreeSet<String> = PUSH_EVENTS.iter().map(|p| (*p).to_owned()).collect();
    pushes.insert("$default".into());
    assert_eq!(received, pushes, "docs/asyncapi.yaml pushes differ from what the server sends");
}

/// The gateway crate's folder, read when the test runs (cargo sets it): a value baked in at compile
/// time would point at whichever clone built the binary last, since clones share a target dir.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

/// A page on an allowed origin may call every route: the HTTP API's CORS rule allows every method
/// the route table uses (and the local gateway's preflight the same, infra/tests/web.rs), and the
/// files bucket lets a page upload and download with presigned URLs.
#[test]
fn browsers_may_call_every_route_and_reach_the_files_bucket() {
    let template = template();
    let cors = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let allowed: BTreeSet<String> =
        cors["AllowMethods"].as_sequence().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
    let used: BTreeSet<String> = REST_ROUTES.iter().map(|r| r.method.to_owned()).collect();
    assert!(used.is_subset(&allowed), "routes use {used:?}, the HTTP API's CORS allows {allowed:?}");
    let local: BTreeSet<String> = chathub_gateway::rest::CORS_METHODS.split(", ").map(str::to_owned).collect();
    assert_eq!(local, allowed, "the local gateway's preflight and the template's CORS differ");
    let rule = &template["Resources"]["FilesBucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0];
    let methods: BTreeSet<&str> =
        rule["AllowedMethods"].as_sequence().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(methods, BTreeSet::from(["GET", "PUT", "HEAD"]));
    assert_eq!(scalar(&rule["AllowedOrigins"]), scalar(&cors["AllowOrigins"]), "one list of origins for both");
}
