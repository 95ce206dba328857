//! End to end: threads, over real HTTP and WebSocket through the local gateway, on the embedded
//! store and on DynamoDB Local. A message counts its direct replies (`reply_count`, exact under
//! concurrent replies and edits); `GET …/replies` lists them oldest first, paged as history.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use support::{Session, TestApp};

on_both_stores!(
    a_thread_lists_the_replies_oldest_first_and_counts_them,
    concurrent_replies_and_edits_never_lose_a_count,
    a_reply_is_no_edit_of_its_parent,
    only_members_read_a_thread_and_bad_input_is_refused,
);

async fn group(app: &TestApp, owner: &Session, members: &[&str]) -> String {
    let created = app.post("/conversations", Some(&owner.access), json!({"name": "T", "members": members})).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Session, conversation: &str, body: Value) -> i64 {
    let sent = app.post(&format!("/conversations/{conversation}/messages"), Some(&who.access), body).await;
    sent.assert_status(201)["id"].as_i64().unwrap()
}

async fn thread(app: &TestApp, who: &Session, conversation: &str, parent: i64, query: &str) -> Value {
    let path = format!("/conversations/{conversation}/messages/{parent}/replies{query}");
    app.get(&path, &who.access).await.assert_status(200).clone()
}

fn contents(page: &Value) -> Vec<&str> {
    page["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect()
}

async fn message(app: &TestApp, who: &Session, conversation: &str, id: i64) -> Value {
    let history = app.get(&format!("/conversations/{conversation}/messages"), &who.access).await;
    history.json["messages"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap()
}

async fn a_thread_lists_the_replies_oldest_first_and_counts_them(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = group(app, &ann, &["bob"]).await;
    let parent = send(app, &ann, &room, json!({"content": "lunch?"})).await;
    let other = send(app, &bob, &room, json!({"content": "unrelated"})).await;
    assert_eq!(message(app, &ann, &room, parent).await["reply_count"], 0);
    for (who, text) in [(&bob, "yes"), (&ann, "noon?"), (&bob, "ok")] {
        send(app, who, &room, json!({"content": text, "reply_id": parent})).await;
    }
    // A reply to another message, and a reply to a reply: not in this thread (direct replies).
    send(app, &ann, &room, json!({"content": "what?", "reply_id": other})).await;
    let nested_parent = thread(app, &ann, &room, parent, "").await["messages"][0]["id"].as_i64().unwrap();
    send(app, &ann, &room, json!({"content": "great", "reply_id": nested_parent})).await;
    // Over WebSocket too.
    let mut socket = app.socket(&bob).await;
    let sent = socket
        .request("send_message", json!({"conversation_id": room, "content": "see you", "reply_id": parent}))
        .await;
    assert_eq!(sent["success"], true, "{sent}");
    socket.close().await;

    let all = thread(app, &bob, &room, parent, "").await;
    assert_eq!(contents(&all), ["yes", "noon?", "ok", "see you"]);
    assert_eq!((all["has_more"].as_bool(), all["conversation_id"].as_str()), (Some(false), Some(room.as_str())));
    assert!(all["messages"].as_array().unwrap().iter().all(|m| m["reply_id"] == parent));
    assert_eq!(message(app, &ann, &room, parent).await["reply_count"], 4);
    assert_eq!(message(app, &ann, &room, other).await["reply_count"], 1);
    assert_eq!(message(app, &ann, &room, nested_parent).await["reply_count"], 1);

    // Paged as history: `limit`, then `after` the last one seen.
    let first = thread(app, &bob, &room, parent, "?limit=2").await;
    assert_eq!((contents(&first), first["has_more"].as_bool()), (vec!["yes", "noon?"], Some(true)));
    let last = first["messages"][1]["id"].as_i64().unwrap();
    let rest = thread(app, &bob, &room, parent, &format!("?after={last}&limit=2")).await;
    assert_eq!((contents(&rest), rest["has_more"].as_bool()), (vec!["ok", "see you"], Some(false)));
    // A message nobody replied to: an empty thread.
    let no_replies = all["messages"][1]["id"].as_i64().unwrap();
    let quiet = thread(app, &bob, &room, no_replies, "").await;
    assert_eq!((contents(&quiet).len(), quiet["has_more"].as_bool()), (0, Some(false)));

    // Deleting the parent keeps its thread: the replies keep their `reply_id`.
    app.delete(&format!("/conversations/{room}/messages/{parent}"), &ann.access).await.assert_status(204);
    assert_eq!(contents(&thread(app, &bob, &room, parent, "").await).len(), 4);
}

async fn concurrent_replies_and_edits_never_lose_a_count(app: &TestApp) {
    let ann = app.register("ann").await;
    let mut people = vec![ann.clone()];
    for i in 0..5 {
        people.push(app.register(&format!("person{i}")).await);
    }
    let names: Vec<String> = people[1..].iter().map(|p| p.username.clone()).collect();
    let created = app.post("/conversations", Some(&ann.access), json!({"name": "Busy", "members": names})).await;
    let room = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let parent = send(app, &ann, &room, json!({"content": "vote here"})).await;
    let path = format!("/conversations/{room}/messages");
    let edit = format!("/conversations/{room}/messages/{parent}");
    // 5 members reply 4 times each while the author edits the parent 5 times, all at once.
    let replies = people.iter().skip(1).flat_map(|who| (0..4).map(move |k| (who, k))).map(|(who, k)| {
        let body = json!({"content": format!("{} {k}", who.username), "reply_id": parent});
        let path = path.clone();
        async move { app.post(&path, Some(&who.access), body).await.status }
    });
    let edits = (0..5).map(|k| {
        let edit = edit.clone();
        let ann = ann.clone();
        async move { app.patch(&edit, &ann.access, json!({"content": format!("vote here ({k})")})).await.status }
    });
    let (replied, edited) = tokio::join!(join_all(replies), join_all(edits));
    assert!(replied.iter().all(|s| s.as_u16() == 201), "{replied:?}");
    // An edit either lands or is told to retry; none may be a 5xx (the harness fails on one).
    assert!(edited.iter().all(|s| s.as_u16() == 200 || s.as_u16() == 503), "{edited:?}");
    let now = message(app, &ann, &room, parent).await;
    assert_eq!(now["reply_count"], 20, "{now}");
    assert!(now["content"].as_str().unwrap().starts_with("vote here"), "{now}");
    let mut listed = 0;
    let mut after = String::new();
    loop {
        let page = thread(app, &ann, &room, parent, &format!("?limit=7{after}")).await;
        let items = page["messages"].as_array().unwrap();
        listed += items.len();
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        after = format!("&after={}", items.last().unwrap()["id"]);
    }
    assert_eq!(listed, 20);
}

/// A reply raises its parent's count, and that is all: no `message_edited` for the parent in the
/// members' sync feeds, and no push about the parent.
async fn a_reply_is_no_edit_of_its_parent(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = group(app, &ann, &["bob"]).await;
    let parent = send(app, &ann, &room, json!({"content": "question"})).await;
    let cursor = app.get("/sync", &bob.access).await.assert_status(200)["next_cursor"].as_str().unwrap().to_owned();
    let mut socket = app.socket(&ann).await;
    send(app, &bob, &room, json!({"content": "answer", "reply_id": parent})).await;
    socket.no_event("message_edited", Duration::from_millis(300)).await;
    socket.close().await;
    // The feed's changes arrive off the send path: wait (bounded) for the activity, then check.
    let mut changes = Vec::new();
    for _ in 0..100 {
        let page = app.get(&format!("/sync?since={cursor}"), &bob.access).await;
        changes = page.assert_status(200)["changes"].as_array().unwrap().clone();
        if changes.iter().any(|c| c["type"] == "conversation_activity") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = app.get(&format!("/sync?since={cursor}"), &bob.access).await;
    let changes_now = page.assert_status(200)["changes"].as_array().unwrap().clone();
    assert!(changes.iter().any(|c| c["type"] == "conversation_activity"), "{changes:?}");
    assert!(!changes_now.iter().any(|c| c["type"] == "message_edited"), "{changes_now:?}");
    // An edit of the parent still is one.
    let edit = format!("/conversations/{room}/messages/{parent}");
    app.patch(&edit, &ann.access, json!({"content": "question (edited)"})).await.assert_status(200);
    let mut edited = None;
    for _ in 0..100 {
        let page = app.get(&format!("/sync?since={cursor}"), &bob.access).await;
        let changes = page.assert_status(200)["changes"].as_array().unwrap().clone();
        edited = changes.into_iter().find(|c| c["type"] == "message_edited");
        if edited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let edited = edited.expect("the edit reaches the feed");
    assert_eq!(edited["data"]["content"], "question (edited)");
    assert_eq!(edited["data"]["reply_count"], 1, "{edited}");
}

async fn only_members_read_a_thread_and_bad_input_is_refused(app: &TestApp) {
    let ann = app.register("ann").await;
    let cat = app.register("cat").await;
    let room = group(app, &ann, &[]).await;
    let parent = send(app, &ann, &room, json!({"content": "mine"})).await;
    let path = |query: &str| format!("/conversations/{room}/messages/{parent}/replies{query}");
    app.get(&path(""), &cat.access).await.assert_problem(404, "not_found");
    let unknown = format!("/conversations/{room}/messages/{}/replies", parent + 50);
    app.get(&unknown, &ann.access).await.assert_problem(404, "not_found");
    app.get(&format!("/conversations/{room}/messages/x/replies"), &ann.access).await.assert_problem(404, "not_found");
    for query in ["?limit=0", "?limit=101", "?limit=x", "?after=-1", "?after=two"] {
        app.get(&path(query), &ann.access).await.assert_problem(400, "invalid_request");
    }
    // A reply to a message that does not exist is refused as before, and counts nothing.
    let missing = json!({"content": "to nothing", "reply_id": parent + 50});
    let refused = app.post(&format!("/conversations/{room}/messages"), Some(&ann.access), missing).await;
    assert_eq!(refused.status.as_u16() / 100, 4, "{}", refused.text);
    assert_eq!(message(app, &ann, &room, parent).await["reply_count"], 0);
}
