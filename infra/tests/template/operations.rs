//! What an operator runs on: every function logs JSON into a log group that expires, both APIs
//! write access logs, every alarm watches a metric this template makes something produce and
//! tells the alerts topic, every function is watched for errors and throttles, the dashboard is
//! JSON naming only what the template has.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use super::{functions, scalar, template};

/// The logical id a `!Ref X` or `!GetAtt X.Attr` names, with the attribute (`""` for a Ref).
fn reference(value: &Value) -> Option<(String, String)> {
    let Value::Tagged(tagged) = value else { return None };
    let text = match &tagged.value {
        Value::String(s) => s.clone(),
        Value::Sequence(parts) => parts.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join("."),
        _ => return None,
    };
    match tagged.tag.to_string().as_str() {
        "!Ref" => Some((text, String::new())),
        "!GetAtt" => {
            let (name, attribute) = text.split_once('.')?;
            Some((name.to_owned(), attribute.to_owned()))
        }
        _ => None,
    }
}

fn resource_type<'a>(template: &'a Value, name: &str) -> &'a str {
    template["Resources"][name]["Type"].as_str().unwrap_or_else(|| panic!("{name} is not a resource of the template"))
}

/// A log group the template owns that expires after the LogRetentionDays parameter's days.
fn assert_retained_group(template: &Value, name: &str, what: &str) {
    assert_eq!(resource_type(template, name), "AWS::Logs::LogGroup", "{what} logs to {name}, not a log group");
    let retention = &template["Resources"][name]["Properties"]["RetentionInDays"];
    assert_eq!(reference(retention), Some(("LogRetentionDays".into(), String::new())), "{name} keeps logs for ever");
}

#[test]
fn every_log_group_expires_and_every_function_logs_json_into_one() {
    let template = template();
    let parameter = &template["Parameters"]["LogRetentionDays"];
    assert_eq!(parameter["Default"], 30);
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::Logs::LogGroup" {
            assert_retained_group(&template, name.as_str().unwrap(), "the template");
        }
    }
    let global = &template["Globals"]["Function"]["LoggingConfig"];
    assert_eq!(global["LogFormat"], "JSON", "Lambda filters by level only JSON lines");
    assert!(serde_yaml::to_string(&global["ApplicationLogLevel"]).unwrap().contains("LogLevel"));
    for (name, function) in functions(&template) {
        let own = &function["Properties"]["LoggingConfig"];
        let config = if own.is_null() { global } else { own };
        let (group, _) = reference(&config["LogGroup"])
            .unwrap_or_else(|| panic!("{name} logs to the default /aws/lambda group, which never expires"));
        assert_retained_group(&template, &group, &name);
        assert_ne!(config["LogFormat"], "Text", "{name}");
    }
}

/// The fields of an access log format, which must be one JSON object of strings.
fn access_fields(format: &Value) -> BTreeMap<String, String> {
    let format = scalar(format);
    let parsed: serde_json::Value =
        serde_json::from_str(&format).unwrap_or_else(|e| panic!("access log format is not JSON ({e}): {format}"));
    parsed
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("every value quoted: a missing one is `-`").to_owned()))
        .collect()
}

/// Each API's access log format, by the API's logical id (HttpApi, WebSocketApi).
pub fn access_log_formats() -> BTreeMap<String, BTreeMap<String, String>> {
    let template = template();
    let mut formats = BTreeMap::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let (api, settings) = match resource["Type"].as_str().unwrap() {
            "AWS::Serverless::HttpApi" => (name.to_owned(), &resource["Properties"]["AccessLogSettings"]),
            "AWS::ApiGatewayV2::Stage" => {
                (reference(&resource["Properties"]["ApiId"]).unwrap().0, &resource["Properties"]["AccessLogSettings"])
            }
            _ => continue,
        };
        assert!(!settings.is_null(), "{name} writes no access log");
        let (group, attribute) = reference(&settings["DestinationArn"]).expect("a log group of the template");
        assert_eq!(attribute, "Arn");
        assert_retained_group(&template, &group, name);
        formats.insert(api, access_fields(&settings["Format"]));
    }
    formats
}

#[test]
fn both_apis_write_json_access_logs_that_lead_to_the_function_lines() {
    let formats = access_log_formats();
    assert_eq!(formats.keys().map(String::as_str).collect::<Vec<_>>(), ["HttpApi", "WebSocketApi"]);
    for (api, fields) in &formats {
        for (field, variable) in [
            ("requestId", "$context.requestId"),
            // The function's own request id: its lines carry it (docs/operations.md).
            ("integrationRequestId", "$context.integration.requestId"),
            ("routeKey", "$context.routeKey"),
            ("status", "$context.status"),
            ("integrationLatency", "$context.integration.latency"),
            ("integrationError", "$context.integration.error"),
        ] {
            assert_eq!(fields.get(field).map(String::as_str), Some(variable), "{api}: {field}");
        }
    }
    assert_eq!(formats["WebSocketApi"]["connectionId"], "$context.connectionId");
    // WebSocket access logs need the account's CloudWatch role: when this stack sets it, the stage
    // waits for it.
    let template = template();
    let stage = serde_yaml::to_string(&template["Resources"]["WebSocketStage"]["Properties"]["Description"]).unwrap();
    assert!(stage.contains("CreateApiGatewayCloudWatchRole") && stage.contains("${ApiGatewayAccount}"), "{stage}");
    let account = &template["Resources"]["ApiGatewayAccount"];
    assert_eq!(account["Condition"], "CreateApiGatewayCloudWatchRole");
    assert_eq!(template["Resources"]["ApiGatewayCloudWatchLogsRole"]["DeletionPolicy"], "Retain");
}

/// What each namespace's metrics are about: the dimension that names the resource, the resource
/// types it may name, and the metrics such a resource produces.
fn produced_by(namespace: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match namespace {
        "AWS/Lambda" => {
            (&["AWS::Serverless::Function"], &["Errors", "Throttles", "Duration", "IteratorAge", "Invocations"])
        }
        "AWS/ApiGateway" => (
            &["AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"],
            &[
                "Count",
                "4xx",
                "5xx",
                "Latency",
                "IntegrationLatency",
                "ConnectCount",
                "MessageCount",
                "ClientError",
                "IntegrationError",
                "ExecutionError",
            ],
        ),
        "AWS/SQS" => (&["AWS::SQS::Queue"], &["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"]),
        "AWS/DynamoDB" => (
            &["AWS::DynamoDB::Table"],
            &["ThrottledRequests", "SystemErrors", "ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"],
        ),
        other => panic!("an alarm watches namespace {other}, which nothing in the template produces"),
    }
}

/// `metric` of `namespace` with `dimensions` is something a resource of this template produces.
fn assert_produced(template: &Value, alarm: &str, namespace: &str, metric: &str, dimensions: &[(String, &Value)]) {
    let (types, metrics) = produced_by(namespace);
    assert!(metrics.contains(&metric), "{alarm}: {namespace} {metric} is no metric the template's resources produce");
    let mut named = false;
    for (dimension, value) in dimensions {
        if dimension == "Stage" {
            assert_eq!(reference(value), Some(("Stage".into(), String::new())), "{alarm}: Stage");
            continue;
        }
        let (resource, attribute) =
            reference(value).unwrap_or_else(|| panic!("{alarm}: {dimension} names no resource of the template"));
        let expected = match dimension.as_str() {
            "FunctionName" | "ApiId" | "TableName" => "",
            "QueueName" => "QueueName",
            other => panic!("{alarm}: dimension {other}"),
        };
        assert_eq!(attribute, expected, "{alarm}: {dimension}");
        assert!(types.contains(&resource_type(template, &resource)), "{alarm}: {dimension} names {resource}");
        named = true;
    }
    assert!(named, "{alarm}: {namespace} {metric} of no resource of the template: it would watch the whole account");
}

/// The table the functions use (`TABLE_NAME`), as the template writes it.
fn table_in_use(template: &Value) -> String {
    scalar(&template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"])
}

fn alarms(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), &r["Properties"]))
        .collect()
}

#[test]
fn every_alarm_watches_what_the_template_produces_and_tells_the_alerts_topic() {
    let template = template();
    let topic = Some(("AlertsTopic".to_owned(), String::new()));
    let all = alarms(&template);
    assert!(all.len() >= 6, "{} alarms", all.len());
    for (name, alarm) in &all {
        for actions in ["AlarmActions", "OKActions"] {
            let listed: Vec<_> = alarm[actions].as_sequence().unwrap().iter().map(reference).collect();
            assert_eq!(listed, std::slice::from_ref(&topic), "{name}: {actions}");
        }
        assert_eq!(alarm["TreatMissingData"], "notBreaching", "{name}: quiet is not broken");
        let threshold = &alarm["Threshold"];
        if let Some((parameter, _)) = reference(threshold) {
            let declared = &template["Parameters"][parameter.as_str()];
            assert!(!declared["Description"].is_null(), "{name}: {parameter} says nothing of why");
        }
        let queries = alarm["Metrics"].as_sequence().unwrap_or_else(|| panic!("{name}: Metrics"));
        assert!(queries.len() <= 11, "{name}: metric math takes at most 10 metrics");
        let ids: BTreeSet<&str> = queries.iter().map(|q| q["Id"].as_str().unwrap()).collect();
        assert_eq!(queries.iter().filter(|q| q["ReturnData"] == true).count(), 1, "{name}: one series alarms");
        for query in queries {
            if let Some(stat) = query["MetricStat"].as_mapping() {
                let metric = &stat[&Value::from("Metric")];
                let dimensions: Vec<(String, &Value)> = metric["Dimensions"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|d| (d["Name"].as_str().unwrap().to_owned(), &d["Value"]))
                    .collect();
                let namespace = metric["Namespace"].as_str().unwrap();
                assert_produced(&template, name, namespace, metric["MetricName"].as_str().unwrap(), &dimensions);
                continue;
            }
            let expression = scalar(&query["Expression"]);
            if let Some(select) = expression.strip_prefix("SELECT ") {
                // Metrics Insights: one table's metrics, named the way the template names it.
                let metric = select.split(['(', ')']).nth(1).unwrap();
                let namespace = select.split('"').nth(1).unwrap();
                assert_eq!(namespace, "AWS/DynamoDB", "{name}: {expression}");
                assert!(produced_by(namespace).1.contains(&metric), "{name}: {metric}");
                let table = format!("WHERE TableName = '{}'", table_in_use(&template));
                assert!(expression.ends_with(&table), "{name}: {expression} watches another table");
            } else {
                // Metric math: every id it names is a query of this alarm.
                for word in expression
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()) && !["IF", "SUM"].contains(w))
                {
                    assert!(ids.contains(word), "{name}: {expression} names {word}, no query of the alarm");
                }
            }
        }
    }
}

#[test]
fn every_function_is_watched_for_errors_and_throttles() {
    let template = template();
    let mut watched: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (name, alarm) in alarms(&template) {
        for query in alarm["Metrics"].as_sequence().unwrap() {
            let metric = &query["MetricStat"]["Metric"];
            if metric["Namespace"] != "AWS/Lambda" {
                continue;
            }
            let function = reference(&metric["Dimensions"][0]["Value"]).unwrap().0;
            let what = metric["MetricName"].as_str().unwrap().to_owned();
            watched.entry((function, what)).or_default().push(name.clone());
        }
    }
    for (function, _) in functions(&template) {
        for what in ["Errors", "Throttles"] {
            let alarms = watched.get(&(function.clone(), what.to_owned())).cloned().unwrap_or_default();
            assert_eq!(
                alarms.len(),
                1,
                "{function}'s {what} are in {alarms:?}: add it to one Function{what}…Alarm with fewer than 10 \
                 functions in template.yaml, or start a group"
            );
        }
    }
}

#[test]
fn the_push_metric_comes_from_the_notify_functions_lines() {
    let template = template();
    let filter = &template["Resources"]["PushesPublishedMetric"]["Properties"];
    assert_eq!(reference(&filter["LogGroupName"]), Some(("FunctionLogs".into(), String::new())));
    assert_eq!(filter["FilterPattern"], "{ $.message = \"notified\" }");
    assert_eq!(filter["MetricTransformations"][0]["MetricValue"], "$.published");
    // The line the notify function writes once per message or badge round.
    let source = std::fs::read_to_string(super::manifest_dir().join("../shared/src/notifications/deliver.rs")).unwrap();
    assert!(source.contains("published = self.published") && source.contains("\"notified\""));
}

#[test]
fn the_dashboard_is_json_and_names_only_what_the_template_has() {
    let template = template();
    let body = scalar(&template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    let mut known: BTreeSet<String> =
        template["Resources"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    known.extend(template["Parameters"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()));
    known.insert("AWS".into());
    let mut filled = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        filled.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        let resource = name.split(['.', ':']).next().unwrap();
        assert!(known.contains(resource), "the dashboard names {name}, which the template does not have");
        filled.push('x');
        rest = &rest[end + 1..];
    }
    filled.push_str(rest);
    let parsed: serde_json::Value = serde_json::from_str(&filled).expect("the dashboard body is JSON");
    let widgets = parsed["widgets"].as_array().unwrap();
    let titles: Vec<&str> = widgets.iter().filter_map(|w| w["properties"]["title"].as_str()).collect();
    for wanted in ["HTTP API", "WebSocket", "Sending a message", "DynamoDB", "Pushes published", "Alarms"] {
        assert!(titles.iter().any(|t| t.starts_with(wanted)), "no {wanted} widget in {titles:?}");
    }
    let alarm_widget = widgets.iter().find(|w| w["type"] == "alarm").unwrap();
    assert_eq!(
        alarm_widget["properties"]["alarms"].as_array().unwrap().len(),
        alarms(&template).len(),
        "every alarm shown"
    );
}

/// A stage runs on its own table or on a restored one (docs/operations.md, "Restoring the table"):
/// every function reaches the table in use by its name, the notify function reads that table's
/// stream, and the stack's own table stays out of it when another is in use.
#[test]
fn a_stage_runs_on_its_own_table_or_a_restored_one() {
    let template = template();
    let name = table_in_use(&template);
    assert_eq!(name, "chathub-${Stage}${TableSuffix}");
    assert_eq!(scalar(&template["Resources"]["Table"]["Properties"]["TableName"]), "chathub-${Stage}");
    assert_eq!(template["Resources"]["Table"]["Condition"], "OwnTable");
    assert_eq!(template["Resources"]["Table"]["DeletionPolicy"], "Retain");
    let arn = format!("arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{name}");
    let index = format!("{arn}/index/gsi1");
    for (function, resource) in functions(&template) {
        for policy in resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default() {
            for statement in policy["Statement"].as_sequence().unwrap() {
                let dynamo = statement["Action"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|a| a.as_str().unwrap().starts_with("dynamodb:"));
                if dynamo {
                    let target = scalar(&statement["Resource"]);
                    assert!(target == arn || target == index, "{function} reaches {target}, not the table in use");
                }
            }
        }
    }
    let stream = serde_yaml::to_string(
        &template["Resources"]["NotifyFunction"]["Properties"]["Events"]["Stream"]["Properties"]["Stream"],
    )
    .unwrap();
    assert!(
        stream.contains("OwnTable") && stream.contains("Table.StreamArn") && stream.contains("TableStreamArn"),
        "{stream}"
    );
}
