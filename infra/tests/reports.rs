//! End to end: reporting a message, over real HTTP through the local gateway, on the embedded
//! store and on DynamoDB Local; and at the domain level, a moderation topic that does not take a
//! report (stored, and sent when asked again).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chathub_shared::clients::With;
use chathub_shared::error::BoxError;
use chathub_shared::reports::moderation::{Moderation, ReportRecorder};
use chathub_shared::reports::store::Report;
use serde_json::{json, Value};
use support::domain::{names, Backing, Domain};
use support::{Session, TestApp};

on_both_stores!(
    a_report_goes_to_the_moderators_with_the_message_as_it_was,
    only_a_message_one_can_read_is_reported_and_bad_input_is_refused,
);

async fn report(app: &TestApp, who: &Session, body: Value) -> support::Reply {
    app.post("/reports", Some(&who.access), body).await
}

async fn sent(app: &TestApp) -> Vec<Value> {
    let reply = app.call("GET", "/_local/reports", None, None).await;
    reply.assert_status(200)["items"].as_array().unwrap().clone()
}

async fn group_with_message(app: &TestApp, owner: &Session, members: &[&str], content: &str) -> (String, i64) {
    let created = app.post("/conversations", Some(&owner.access), json!({"name": "G", "members": members})).await;
    let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let sent =
        app.post(&format!("/conversations/{id}/messages"), Some(&owner.access), json!({"content": content})).await;
    (id, sent.assert_status(201)["id"].as_i64().unwrap())
}

async fn a_report_goes_to_the_moderators_with_the_message_as_it_was(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let (conversation, id) = group_with_message(app, &ann, &["bob"], "buy my stuff").await;
    let body = json!({"conversation_id": conversation, "message_id": id, "reason": "spam", "note": "third time today"});
    let first = report(app, &bob, body.clone()).await;
    let report_id = first.assert_status(201)["report_id"].as_str().unwrap().to_owned();

    let items = sent(app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["subject"], "Chathub report: spam by bob");
    let sent_report = &items[0]["report"];
    assert_eq!(sent_report["report_id"], report_id.as_str());
    assert_eq!((sent_report["reporter"].as_str(), sent_report["reason"].as_str()), (Some("bob"), Some("spam")));
    assert_eq!(sent_report["note"], "third time today");
    assert_eq!(sent_report["conversation_id"], conversation.as_str());
    assert_eq!(sent_report["message"]["content"], "buy my stuff");
    assert_eq!(sent_report["message"]["sender_username"], "ann");

    // The author edits it afterwards: the report keeps what was reported.
    let message = format!("/conversations/{conversation}/messages/{id}");
    app.patch(&message, &ann.access, json!({"content": "nothing to see"})).await.assert_status(200);
    // Reporting it again answers the first report, and sends nothing more.
    let again = report(app, &bob, json!({"conversation_id": conversation, "message_id": id, "reason": "abuse"})).await;
    assert_eq!(again.assert_status(200)["report_id"], report_id.as_str());
    assert_eq!(sent(app).await.len(), 1);
    // Another member's report of it is another report.
    let cat = app.register("cat").await;
    app.post(&format!("/conversations/{conversation}/members"), Some(&ann.access), json!({"usernames": ["cat"]}))
        .await
        .assert_status(200);
    let cats = report(app, &cat, json!({"conversation_id": conversation, "message_id": id, "reason": "other"})).await;
    assert_ne!(cats.assert_status(201)["report_id"], report_id.as_str());
    let items = sent(app).await;
    assert_eq!(items[1]["report"]["message"]["content"], "nothing to see");
    // Nobody in the conversation is told.
    let history = app.get(&format!("/conversations/{conversation}/messages"), &ann.access).await;
    assert!(!history.text.contains("report"), "{}", history.text);

    // Operators list them from the table (docs/operations.md, "Reports"): newest last.
    if let Some((endpoint, table)) = &app.table {
        let client = chathub_shared::store::dynamo::local_client(endpoint).await;
        let listed = client
            .query()
            .table_name(table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :r")
            .expression_attribute_values(":r", aws_sdk_dynamodb::types::AttributeValue::S("REPORTS".into()))
            .send()
            .await
            .unwrap();
        let reporters: Vec<String> = listed.items().iter().map(|i| i["reporter"].as_s().unwrap().clone()).collect();
        assert_eq!(reporters, ["bob", "cat"]);
    }
}

async fn only_a_message_one_can_read_is_reported_and_bad_input_is_refused(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let dee = app.register("dee").await;
    let (conversation, id) = group_with_message(app, &ann, &["bob"], "hello").await;
    let ok = |fields: Value| {
        let mut body = json!({"conversation_id": conversation, "message_id": id, "reason": "abuse"});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        body
    };
    // Not a member, an unknown conversation, an unknown message: 404 alike.
    report(app, &dee, ok(json!({}))).await.assert_problem(404, "not_found");
    report(app, &bob, ok(json!({"conversation_id": "01NOSUCHCONVERSATION000000"})))
        .await
        .assert_problem(404, "not_found");
    report(app, &bob, ok(json!({"conversation_id": "x".repeat(3000)}))).await.assert_problem(404, "not_found");
    for message_id in [json!(id + 100), json!(0), json!(-1)] {
        report(app, &bob, ok(json!({"message_id": message_id}))).await.assert_problem(404, "not_found");
    }
    // Bad input: 400.
    report(app, &bob, ok(json!({"reason": "boring"}))).await.assert_problem(400, "invalid_request");
    report(app, &bob, ok(json!({"note": "n".repeat(1001)}))).await.assert_problem(400, "invalid_request");
    report(app, &bob, ok(json!({"note": "bad\u{0007}bell"}))).await.assert_problem(400, "invalid_request");
    report(app, &bob, ok(json!({"extra": true}))).await.assert_problem(400, "invalid_request");
    report(app, &bob, json!({"conversation_id": conversation})).await.assert_problem(400, "invalid_request");
    report(app, &bob, ok(json!({"message_id": "one"}))).await.assert_problem(400, "invalid_request");
    // A deleted message: nothing left to show.
    let message = format!("/conversations/{conversation}/messages/{id}");
    app.delete(&message, &ann.access).await.assert_status(204);
    report(app, &bob, ok(json!({}))).await.assert_problem(409, "message_deleted");
    // None of it went anywhere.
    assert!(sent(app).await.is_empty());
}

/// A moderation topic that refuses the first report it is given, then takes them.
struct DownOnce {
    down: AtomicBool,
    then: ReportRecorder,
}

#[async_trait]
impl Moderation for DownOnce {
    async fn publish(&self, report: &Report) -> Result<(), BoxError> {
        if self.down.swap(false, Ordering::SeqCst) {
            return Err("the topic is down".into());
        }
        self.then.publish(report).await
    }
}

async fn a_report_the_topic_did_not_take_is_sent_when_asked_again(backing: Backing) {
    let d = Domain::new(backing).await;
    let people = names("p", 2);
    d.users(&people).await;
    let room = d.room(&people).await;
    let send = serde_json::from_value(json!({"content": "spam spam"})).unwrap();
    let (message, _) = chathub_shared::messages::send(&d.ctx, &people[0], &room, send, None).await.unwrap();
    let topic = Arc::new(DownOnce { down: AtomicBool::new(true), then: ReportRecorder::new() });
    let mut clients = d.ctx.clients.clone();
    clients.moderation = topic.clone();
    let ctx = With { ctx: d.ctx.ctx.clone(), clients };
    let request = || {
        serde_json::from_value(
            json!({"conversation_id": room.as_str(), "message_id": message.id.get(), "reason": "spam"}),
        )
        .unwrap()
    };
    let refused = chathub_shared::reports::report(&ctx, &people[1], request()).await;
    assert!(matches!(refused, Err(chathub_shared::ApiError::Unavailable { .. })), "{refused:?}");
    assert!(topic.then.sent().is_empty());
    // Asked again: the stored report (same id) is sent, once.
    let (receipt, new) = chathub_shared::reports::report(&ctx, &people[1], request()).await.unwrap();
    assert!(!new);
    let delivered = topic.then.sent();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].report_id, receipt.report_id);
    // And once only.
    chathub_shared::reports::report(&ctx, &people[1], request()).await.unwrap();
    assert_eq!(topic.then.sent().len(), 1);
}

mod topic_down {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        super::a_report_the_topic_did_not_take_is_sent_when_asked_again(super::Backing::Memory).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb() {
        super::a_report_the_topic_did_not_take_is_sent_when_asked_again(super::Backing::Dynamo).await;
    }
}
