//! The security review's findings (issue 11), one scenario each, on the embedded store and on
//! DynamoDB Local: over real HTTP through the local gateway, or at the store where the finding is
//! a race that only the store can decide.

mod support;

use chathub_shared::chat::Message;
use chathub_shared::error::{Conflict, StoreError};
use serde_json::{json, Value};
use support::domain::{Backing, Domain};
use support::{Session, TestApp};

on_both_stores!(
    history_after_the_largest_id_is_empty,
    logout_clears_the_cookie,
    names_refuse_invisible_format_characters,
    nobody_deletes_the_other_members_messages_in_a_direct_conversation,
    an_edit_after_a_delete_is_refused,
);

async fn conversation(app: &TestApp, owner: &Session, body: Value) -> String {
    let created = app.post("/conversations", Some(&owner.access), body).await;
    assert!(created.status.is_success(), "{}", created.text);
    created.json["id"].as_str().unwrap().to_owned()
}

/// Finding 12: `after` near `i64::MAX` overflowed when incremented.
async fn history_after_the_largest_id_is_empty(app: &TestApp) {
    let ada = app.register("ada").await;
    let id = conversation(app, &ada, json!({"name": "Notes", "members": []})).await;
    let messages = format!("/conversations/{id}/messages");
    app.post(&messages, Some(&ada.access), json!({"content": "one"})).await.assert_status(201);
    for after in [i64::MAX, i64::MAX - 1] {
        let page = app.get(&format!("{messages}?after={after}"), &ada.access).await;
        assert_eq!(page.assert_status(200)["messages"], json!([]), "after={after}");
        assert_eq!(page.json["has_more"], false);
    }
    let mut socket = app.socket(&ada).await;
    let answer = socket.request("get_messages", json!({"conversation_id": id, "after": i64::MAX})).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["data"]["messages"], json!([]));
    socket.close().await;
}

/// Finding 10: logout left the `login-token` cookie in the browser.
async fn logout_clears_the_cookie(app: &TestApp) {
    let bob = app.register("bob").await;
    let reply = app.post("/auth/logout", Some(&bob.access), json!({})).await;
    assert_eq!(reply.status, 204);
    let cookie = reply.headers.get("set-cookie").expect("logout sets a cookie").to_str().unwrap();
    assert!(cookie.starts_with("login-token=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0") && cookie.contains("Path=/") && cookie.contains("HttpOnly"), "{cookie}");
}

/// Finding 9: bidi overrides and zero-width characters let one name pass for another.
async fn names_refuse_invisible_format_characters(app: &TestApp) {
    let cyd = app.register("cyd").await;
    for bad in ["Admin\u{202E}nimda", "Ca\u{200B}rol", "\u{2066}Bob\u{2069}", "soft\u{00AD}hyphen", "\u{FEFF}bom"] {
        let body = json!({"username": "dee", "password": "dee-password", "fullname": bad});
        app.post("/auth/register", None, body).await.assert_problem(400, "invalid_request");
        for field in ["fullname", "first_name", "last_name", "role"] {
            app.patch("/users/me", &cyd.access, json!({ field: bad })).await.assert_problem(400, "invalid_request");
        }
        app.post("/conversations", Some(&cyd.access), json!({"name": bad, "members": []}))
            .await
            .assert_problem(400, "invalid_request");
    }
    // Letters of any script and single emoji still pass (message content is not checked: only names).
    let me = app.patch("/users/me", &cyd.access, json!({"fullname": "Zoë Ñandú 王 😀"})).await;
    assert_eq!(me.assert_status(200)["fullname"], "Zoë Ñandú 王 😀");
    let id = conversation(app, &cyd, json!({"name": "Café ☕", "members": []})).await;
    app.patch(&format!("/conversations/{id}"), &cyd.access, json!({"name": "x\u{202D}y"}))
        .await
        .assert_problem(400, "invalid_request");
}

/// Finding 7: the creator of a direct conversation could delete the other member's messages.
async fn nobody_deletes_the_other_members_messages_in_a_direct_conversation(app: &TestApp) {
    let eve = app.register("eve").await;
    let fay = app.register("fay").await;
    let id = conversation(app, &eve, json!({"members": ["fay"]})).await;
    let messages = format!("/conversations/{id}/messages");
    let sent = app.post(&messages, Some(&fay.access), json!({"content": "mine"})).await;
    let message_id = sent.assert_status(201)["id"].as_i64().unwrap();
    app.delete(&format!("{messages}/{message_id}"), &eve.access).await.assert_problem(403, "forbidden");
    let mut socket = app.socket(&eve).await;
    let answer = socket.request("delete_message", json!({"conversation_id": id, "message_id": message_id})).await;
    assert_eq!(answer["code"], "forbidden", "{answer}");
    socket.close().await;
    let history = app.get(&messages, &fay.access).await;
    assert_eq!(history.assert_status(200)["messages"][0]["content"], "mine");
    // Each still deletes their own.
    app.delete(&format!("{messages}/{message_id}"), &fay.access).await.assert_status(204);
    // In a group, the owner still deletes anyone's.
    let group = conversation(app, &eve, json!({"name": "G", "members": ["fay"]})).await;
    let sent = app.post(&format!("/conversations/{group}/messages"), Some(&fay.access), json!({"content": "x"})).await;
    let in_group = sent.assert_status(201)["id"].as_i64().unwrap();
    app.delete(&format!("/conversations/{group}/messages/{in_group}"), &eve.access).await.assert_status(204);
}

/// Finding 6: an edit that read the message before a delete wrote it back afterwards. Over HTTP
/// the edit after a delete is refused; at the store, the edit's write itself is conditioned on the
/// message not being deleted, which is what closes the race.
async fn an_edit_after_a_delete_is_refused(app: &TestApp) {
    let gus = app.register("gus").await;
    let id = conversation(app, &gus, json!({"name": "N", "members": []})).await;
    let messages = format!("/conversations/{id}/messages");
    let sent = app.post(&messages, Some(&gus.access), json!({"content": "draft"})).await;
    let message_id = sent.assert_status(201)["id"].as_i64().unwrap();
    app.delete(&format!("{messages}/{message_id}"), &gus.access).await.assert_status(204);
    app.patch(&format!("{messages}/{message_id}"), &gus.access, json!({"content": "back"}))
        .await
        .assert_problem(409, "message_deleted");

    let domain = Domain::new(store_of(app)).await;
    domain.users(&["hal".to_owned()]).await;
    let room = domain.room(&["hal".to_owned()]).await;
    let request = serde_json::from_value(json!({"content": "draft"})).unwrap();
    let (message, _) = chathub_shared::messages::send(&domain.ctx, "hal", &room, request, None).await.unwrap();
    // The edit read the message (not deleted) ...
    let mut edited: Message = message.clone();
    edited.content = "edited".into();
    // ... the delete wrote its tombstone ...
    let tombstone = Message { content: String::new(), deleted: true, ..message.clone() };
    domain.ctx.store.update_message(&tombstone).await.unwrap();
    // ... and the edit's write is refused.
    match domain.ctx.store.update_message(&edited).await {
        Err(StoreError::Conflict(Conflict::Deleted)) => {}
        other => panic!("an edit after a delete must be refused, got {other:?}"),
    }
    let (history, _) = domain.ctx.store.list_messages(&room, None, None, 10).await.unwrap();
    assert!(history[0].deleted && history[0].content.is_empty(), "{history:?}");
}

/// Which store the app runs on, for the store-level half of a scenario.
fn store_of(app: &TestApp) -> Backing {
    if app.on_dynamodb() {
        Backing::Dynamo
    } else {
        Backing::Memory
    }
}
