//! End to end: conversations, messages and the WebSocket API through the local gateway over real
//! HTTP and WebSocket connections, on the embedded store and on DynamoDB Local.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::ws::{refused_status, WsClient};
use support::{Session, TestApp};

on_both_stores!(
    handshake_needs_a_valid_token_from_query_header_or_cookie,
    frames_get_answers_and_bad_frames_keep_the_socket_open,
    websocket_contacts_and_self,
    direct_conversations_are_deduplicated_and_groups_checked,
    members_only_and_membership_rules,
    members_are_listed_and_sockets_follow_joins_and_leaves,
    public_conversations_are_listed_and_joinable,
    messages_history_edit_delete_and_idempotent_sends,
    read_markers_unread_counts_and_activity_order,
    sends_are_pushed_to_every_member_socket,
    other_events_are_pushed_to_the_right_sockets,
    presence_is_announced_to_contacts,
    logout_everywhere_closes_sockets,
    reconnecting_client_catches_up_with_after,
    concurrent_senders_lose_nothing_and_keep_order,
    batch_sockets_get_every_message_once_in_order,
);

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

async fn users(app: &TestApp, names: &[&str]) -> Vec<Session> {
    let mut sessions = Vec::new();
    for name in names {
        sessions.push(app.register(name).await);
    }
    sessions
}

async fn group(app: &TestApp, owner: &Session, name: &str, members: &[&Session]) -> String {
    let members: Vec<&str> = members.iter().map(|s| s.username.as_str()).collect();
    let reply = app.post("/conversations", Some(&owner.access), json!({"name": name, "members": members})).await;
    reply.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Session, conversation: &str, content: &str) -> Value {
    let reply = app
        .post(&format!("/conversations/{conversation}/messages"), Some(&who.access), json!({"content": content}))
        .await;
    reply.assert_status(201).clone()
}

async fn handshake_needs_a_valid_token_from_query_header_or_cookie(app: &TestApp) {
    let [ana] = &users(app, &["ana"]).await[..] else { unreachable!() };
    assert_eq!(refused_status(&app.ws_url, None).await, Some(401));
    assert_eq!(refused_status(&format!("{}/?token=nonsense", app.ws_url), None).await, Some(401));
    let forged = format!("{}x", ana.access);
    assert_eq!(refused_status(&format!("{}/?token={forged}", app.ws_url), None).await, Some(401));

    let mut by_query = app.socket(ana).await;
    assert_eq!(by_query.request("ping", json!({})).await["data"], "pong");
    let mut by_header =
        WsClient::connect_with(&app.ws_url, Some(("authorization", format!("Bearer {}", ana.access))), "hdr").await;
    assert_eq!(by_header.request("self", json!({})).await["data"]["username"], "ana");
    let mut by_cookie =
        WsClient::connect_with(&app.ws_url, Some(("cookie", format!("login-token={}", ana.access))), "ck").await;
    assert_eq!(by_cookie.request("ping", json!({})).await["success"], true);

    // Expired tokens are refused too.
    app.clock.advance_ms(16 * 60 * 1000);
    assert_eq!(refused_status(&format!("{}/?token={}", app.ws_url, ana.access), None).await, Some(401));
    for socket in [by_query, by_header, by_cookie] {
        socket.close().await;
    }
}

async fn frames_get_answers_and_bad_frames_keep_the_socket_open(app: &TestApp) {
    let [bob] = &users(app, &["bob"]).await[..] else { unreachable!() };
    let mut socket = app.socket(bob).await;
    let pong = socket.request("ping", json!({})).await;
    assert_eq!(pong, json!({"type": "ping", "success": true, "data": "pong", "request_id": "bob-1"}));

    socket.send_raw("this is not json").await;
    let answer = socket.next_frame().await;
    assert_eq!(answer["success"], false);
    assert_eq!(answer["code"], "invalid_request");

    let unknown = socket.request("teleport", json!({})).await;
    assert_eq!(unknown["type"], "teleport");
    assert_eq!(unknown["success"], false);
    assert_eq!(unknown["code"], "unknown_type");

    let bad_fields = socket.request("send_message", json!({"conversation_id": 5, "content": ["x"]})).await;
    assert_eq!(bad_fields["success"], false);
    assert_eq!(bad_fields["code"], "invalid_request");
    let missing = socket.request("get_messages", json!({"conversation_id": "nope"})).await;
    assert_eq!(missing["code"], "not_found");
    // Over what a route reads (64 KiB), within what API Gateway carries (128 KB, in 32 KB
    // fragments): answered, not a closed socket.
    let huge =
        socket.request_fragmented("send_message", json!({"conversation_id": "x", "content": "y".repeat(70_000)})).await;
    assert_eq!(huge["code"], "payload_too_large");

    // Still open and answering.
    assert_eq!(socket.request("ping", json!({})).await["data"], "pong");
    socket.close().await;
}

async fn websocket_contacts_and_self(app: &TestApp) {
    let sessions = users(app, &["cyd", "dee"]).await;
    let mut socket = app.socket(&sessions[0]).await;
    let me = socket.request("self", json!({})).await;
    assert_eq!(me["data"]["username"], "cyd");
    assert_eq!(me["data"]["is_online"], true);
    let added = socket.request("add_contact", json!({"contact_username": "DEE"})).await;
    assert_eq!(added["success"], true);
    assert_eq!(added["data"]["contact"]["username"], "dee");
    assert!(added["data"]["message"].is_string());
    let again = socket.request("add_contact", json!({"contact_username": "dee"})).await;
    assert_eq!(again["code"], "already_contact");
    let unknown = socket.request("add_contact", json!({"contact_username": "nobody"})).await;
    assert_eq!(unknown["code"], "not_found");
    let contacts = socket.request("get_contacts", json!({})).await;
    assert_eq!(names(&contacts["data"]["contacts"]), ["dee"]);
    socket.close().await;
}

async fn direct_conversations_are_deduplicated_and_groups_checked(app: &TestApp) {
    let s = users(app, &["eve", "fay", "gus"]).await;
    let first = app.post("/conversations", Some(&s[0].access), json!({"members": ["fay"]})).await;
    let direct = first.assert_status(201).clone();
    assert_eq!(direct["kind"], "direct");
    assert_eq!(direct["visibility"], "private");
    assert_eq!(direct["owner"], "eve");
    assert_eq!(direct["created_by"], "eve");
    assert_eq!(direct["name"], "eve, fay");
    assert_eq!(names(&direct["members"]), ["eve", "fay"]);
    assert_eq!(direct["last_message_id"], 0);
    // Either side asking again gets the same conversation, 200.
    let again = app.post("/conversations", Some(&s[1].access), json!({"members": ["EVE"]})).await;
    assert_eq!(again.assert_status(200)["id"], direct["id"]);

    let named = app.post("/conversations", Some(&s[0].access), json!({"name": "Just us", "members": ["fay"]})).await;
    assert_eq!(named.assert_status(201)["kind"], "group");
    let solo = app.post("/conversations", Some(&s[0].access), json!({"members": []})).await;
    assert_eq!(names(&solo.assert_status(201)["members"]), ["eve"]);
    assert_eq!(solo.json["kind"], "group");

    app.post("/conversations", Some(&s[0].access), json!({"members": ["fay", "ghost"]}))
        .await
        .assert_problem(404, "not_found");
    for bad in [
        json!({"members": "fay"}),
        json!({"members": ["fay"], "visibility": "secret"}),
        json!({"name": "", "members": ["fay"]}),
        json!({"name": "n".repeat(101), "members": []}),
        json!({"members": ["fay"], "visibility": "public"}),
        json!({"members": ["fay", "gus"], "visibility": "public"}),
        json!("[]"),
    ] {
        app.post("/conversations", Some(&s[0].access), bad).await.assert_problem(400, "invalid_request");
    }

    // Over the WebSocket: the same rules, and the answer carries the members.
    let mut socket = app.socket(&s[2]).await;
    let created = socket.request("create_conversation", json!({"members": ["eve", "fay"], "name": "Trio"})).await;
    assert_eq!(created["success"], true);
    assert_eq!(names(&created["data"]["members"]), ["eve", "fay", "gus"]);
    let info = socket.request("get_conversation_info", json!({"id": created["data"]["id"]})).await;
    assert_eq!(info["data"]["name"], "Trio");
    socket.close().await;
}

async fn members_only_and_membership_rules(app: &TestApp) {
    let s = users(app, &["hal", "ivy", "jon", "kai"]).await;
    let (hal, ivy, jon, kai) = (&s[0], &s[1], &s[2], &s[3]);
    let id = group(app, hal, "Team", &[ivy, jon]).await;
    let path = format!("/conversations/{id}");

    // Outsiders see nothing: every member route is 404.
    app.get(&path, &kai.access).await.assert_problem(404, "not_found");
    app.patch(&path, &kai.access, json!({"name": "Mine"})).await.assert_problem(404, "not_found");
    app.post(&format!("{path}/members"), Some(&kai.access), json!({"usernames": ["kai"]}))
        .await
        .assert_problem(404, "not_found");
    app.post(&format!("{path}/messages"), Some(&kai.access), json!({"content": "hi"}))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{path}/messages"), &kai.access).await.assert_problem(404, "not_found");
    app.post(&format!("{path}/read"), Some(&kai.access), json!({"message_id": 1}))
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("{path}/members/me"), &kai.access).await.assert_problem(404, "not_found");
    app.post(&format!("{path}/join"), Some(&kai.access), json!({})).await.assert_problem(404, "not_found");
    app.get("/conversations/does-not-exist", &kai.access).await.assert_problem(404, "not_found");

    // Any member renames and adds.
    let renamed = app.patch(&path, &ivy.access, json!({"name": "Renamed"})).await;
    assert_eq!(renamed.assert_status(200)["name"], "Renamed");
    app.patch(&path, &ivy.access, json!({"icon_file_id": "01HXXXXXXXXXXXXXXXXXXXXXXX"}))
        .await
        .assert_problem(400, "file_not_uploaded");
    let added = app.post(&format!("{path}/members"), Some(&jon.access), json!({"usernames": ["kai", "ivy"]})).await;
    assert_eq!(names(&added.assert_status(200)["members"]), ["hal", "ivy", "jon", "kai"]);
    app.post(&format!("{path}/members"), Some(&jon.access), json!({"usernames": ["ghost"]}))
        .await
        .assert_problem(404, "not_found");

    // Only the owner removes others.
    app.delete(&format!("{path}/members/kai"), &ivy.access).await.assert_problem(403, "forbidden");
    assert_eq!(app.delete(&format!("{path}/members/kai"), &hal.access).await.status, 204);
    app.get(&path, &kai.access).await.assert_problem(404, "not_found");
    app.delete(&format!("{path}/members/kai"), &hal.access).await.assert_problem(404, "not_found");

    // The owner leaves: the longest-standing member (ivy joined with jon at creation; by name,
    // ivy first) becomes owner.
    assert_eq!(app.delete(&format!("{path}/members/me"), &hal.access).await.status, 204);
    let after = app.get(&path, &jon.access).await.assert_status(200).clone();
    assert_eq!(after["owner"], "ivy");
    assert_eq!(names(&after["members"]), ["ivy", "jon"]);
    // Leaving by own name works too.
    assert_eq!(app.delete(&format!("{path}/members/jon"), &jon.access).await.status, 204);
    app.get(&path, &jon.access).await.assert_problem(404, "not_found");

    // A direct conversation takes no more members.
    let direct = app.post("/conversations", Some(&hal.access), json!({"members": ["kai"]})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/conversations/{direct}/members"), Some(&hal.access), json!({"usernames": ["ivy"]}))
        .await
        .assert_problem(400, "invalid_request");
}

/// `GET /conversations/{id}/members` pages through members with their roles; a socket opened
/// before its user joined hears the conversation from the join on, and stops when they leave.
async fn members_are_listed_and_sockets_follow_joins_and_leaves(app: &TestApp) {
    let s = users(app, &["nia", "oli", "pam", "rex"]).await;
    let (nia, oli, pam, rex) = (&s[0], &s[1], &s[2], &s[3]);
    let id = group(app, nia, "Crew", &[oli]).await;
    let mut pam_socket = app.socket(pam).await;

    let added =
        app.post(&format!("/conversations/{id}/members"), Some(&oli.access), json!({"usernames": ["pam"]})).await;
    assert_eq!(added.assert_status(200)["member_count"], 3);
    assert_eq!(pam_socket.event("member_joined").await["data"]["member_count"], 3);
    let sent = send(app, nia, &id, "welcome pam").await;
    assert_eq!(pam_socket.event("send_message").await["data"]["id"], sent["id"]);

    let path = format!("/conversations/{id}/members");
    let first = app.get(&format!("{path}?limit=2"), &pam.access).await.assert_status(200).clone();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["username"].as_str(), items[0]["role"].as_str()), (Some("nia"), Some("owner")));
    assert_eq!((items[1]["username"].as_str(), items[1]["role"].as_str()), (Some("oli"), Some("member")));
    assert!(items[0]["joined_at"].as_i64().unwrap() < items[1]["joined_at"].as_i64().unwrap());
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("{path}?limit=2&cursor={cursor}"), &pam.access).await.assert_status(200).clone();
    assert_eq!(rest["items"][0]["username"], "pam");
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    app.get(&path, &rex.access).await.assert_problem(404, "not_found");
    app.get(&format!("{path}?limit=0"), &pam.access).await.assert_problem(400, "invalid_request");
    app.get(&format!("{path}?cursor=%25%25"), &pam.access).await.assert_problem(400, "invalid_request");
    let info = app.get(&format!("/conversations/{id}"), &rex.access).await;
    info.assert_problem(404, "not_found");
    let listed = app.get("/conversations", &oli.access).await.assert_status(200).clone();
    assert_eq!(listed["items"][0]["member_count"], 3);

    assert_eq!(app.delete(&format!("{path}/me"), &pam.access).await.status, 204);
    assert_eq!(pam_socket.event("member_left").await["data"]["username"], "pam");
    send(app, nia, &id, "pam is gone").await;
    pam_socket.no_event("send_message", Duration::from_millis(300)).await;
    pam_socket.close().await;

    // Nobody removes the other member of a direct conversation.
    let direct = app.post("/conversations", Some(&nia.access), json!({"members": ["rex"]})).await;
    let direct = direct.assert_status(201)["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/conversations/{direct}/members/rex"), &nia.access).await.assert_problem(403, "forbidden");
    assert_eq!(app.delete(&format!("/conversations/{direct}/members/me"), &rex.access).await.status, 204);
}

async fn public_conversations_are_listed_and_joinable(app: &TestApp) {
    let s = users(app, &["lea", "max"]).await;
    let (lea, max) = (&s[0], &s[1]);
    for name in ["Rust fans", "rustaceans", "Go gophers"] {
        app.post("/conversations", Some(&lea.access), json!({"name": name, "members": [], "visibility": "public"}))
            .await
            .assert_status(201);
    }
    let private = group(app, lea, "Rust secret", &[]).await;

    let page = app.get("/conversations/public?prefix=RUST&limit=1", &max.access).await.assert_status(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["name"], "Rust fans");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app.get(&format!("/conversations/public?prefix=rust&limit=1&cursor={cursor}"), &max.access).await;
    assert_eq!(next.json["items"][0]["name"], "rustaceans");
    assert_eq!(next.json["next_cursor"], Value::Null);
    let all = app.get("/conversations/public", &max.access).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 3);
    app.get("/conversations/public?limit=0", &max.access).await.assert_problem(400, "invalid_request");
    // A cursor is a position (base64url of a sort key): one from before the prefix starts at its
    // first name, one from after it gives an empty page; never a 500 (DynamoDB refuses a start
    // key outside the range). "YWFh" is "aaa", "enp6" is "zzz".
    let from_before = app.get("/conversations/public?prefix=rust&cursor=YWFh", &max.access).await;
    assert_eq!(from_before.assert_status(200)["items"].as_array().unwrap().len(), 2);
    let from_after = app.get("/conversations/public?prefix=rust&cursor=enp6", &max.access).await;
    assert_eq!(from_after.json, json!({"items": [], "next_cursor": null}));
    app.get("/conversations/public?cursor=Y", &max.access).await.assert_problem(400, "invalid_request");

    let id = page["items"][0]["id"].as_str().unwrap();
    let joined = app.post(&format!("/conversations/{id}/join"), Some(&max.access), json!({})).await;
    assert_eq!(names(&joined.assert_status(200)["members"]), ["lea", "max"]);
    // Joining twice is harmless.
    app.post(&format!("/conversations/{id}/join"), Some(&max.access), json!({})).await.assert_status(200);
    send(app, max, id, "hello fans").await;
    app.post(&format!("/conversations/{private}/join"), Some(&max.access), json!({}))
        .await
        .assert_problem(404, "not_found");
}

async fn messages_history_edit_delete_and_idempotent_sends(app: &TestApp) {
    let s = users(app, &["ned", "ola", "pat"]).await;
    let (ned, ola, pat) = (&s[0], &s[1], &s[2]);
    let id = group(app, ned, "Chat", &[ola, pat]).await;
    let messages = format!("/conversations/{id}/messages");

    let first = send(app, ola, &id, "first").await;
    assert_eq!(first["id"], 1);
    assert_eq!(first["conversation_id"], id.as_str());
    assert_eq!(first["sender_username"], "ola");
    assert_eq!(first["reply_id"], Value::Null);
    assert_eq!(first["client_id"], Value::Null);
    assert_eq!(first["attachments"], json!([]));
    assert_eq!(first["edited_at"], Value::Null);
    assert_eq!(first["deleted"], false);
    assert!(first["sent_at"].as_i64().unwrap() > 0);

    // A repeated client_id stores once and returns the original with 200.
    let body = json!({"content": "only once", "client_id": "c-1", "reply_id": 1});
    let sent = app.post(&messages, Some(&pat.access), body.clone()).await;
    assert_eq!(sent.assert_status(201)["id"], 2);
    assert_eq!(sent.json["reply_id"], 1);
    let repeat = app.post(&messages, Some(&pat.access), body).await;
    assert_eq!(repeat.assert_status(200), &sent.json);
    // Another sender's identical client_id is theirs.
    let other = app.post(&messages, Some(&ola.access), json!({"content": "mine", "client_id": "c-1"})).await;
    assert_eq!(other.assert_status(201)["id"], 3);

    for n in 4..=12 {
        send(app, ned, &id, &format!("message {n}")).await;
    }
    // History: latest, before, after, limits.
    let latest = app.get(&format!("{messages}?limit=5"), &ola.access).await.assert_status(200).clone();
    let ids: Vec<i64> = latest["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [8, 9, 10, 11, 12]);
    assert_eq!(latest["has_more"], true);
    assert_eq!(latest["conversation_id"], id.as_str());
    let older = app.get(&format!("{messages}?before=8&limit=5"), &ola.access).await;
    let ids: Vec<i64> = older.json["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3, 4, 5, 6, 7]);
    let oldest = app.get(&format!("{messages}?before=3"), &ola.access).await;
    assert_eq!(oldest.json["messages"].as_array().unwrap().len(), 2);
    assert_eq!(oldest.json["has_more"], false);
    let newer = app.get(&format!("{messages}?after=10"), &ola.access).await;
    let ids: Vec<i64> = newer.json["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [11, 12]);
    assert_eq!(newer.json["has_more"], false);
    let everything = app.get(&format!("{messages}?after=0&limit=100"), &ola.access).await;
    assert_eq!(everything.json["messages"].as_array().unwrap().len(), 12);
    // Both: the ids strictly between, oldest first, paged forward.
    let between = app.get(&format!("{messages}?after=3&before=9&limit=3"), &ola.access).await;
    let ids: Vec<i64> =
        between.json["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!((ids, &between.json["has_more"]), (vec![4, 5, 6], &json!(true)));
    let rest = app.get(&format!("{messages}?after=6&before=9&limit=3"), &ola.access).await;
    let ids: Vec<i64> = rest.json["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!((ids, &rest.json["has_more"]), (vec![7, 8], &json!(false)));
    let none = app.get(&format!("{messages}?after=5&before=6"), &ola.access).await;
    assert_eq!((none.json["messages"].as_array().unwrap().len(), &none.json["has_more"]), (0, &json!(false)));
    for bad in ["?limit=101", "?limit=0", "?before=x", "?before=0"] {
        app.get(&format!("{messages}{bad}"), &ola.access).await.assert_problem(400, "invalid_request");
    }

    // Content rules and replies.
    app.post(&messages, Some(&ned.access), json!({"content": ""})).await.assert_problem(400, "invalid_request");
    app.post(&messages, Some(&ned.access), json!({"content": "x".repeat(4001)}))
        .await
        .assert_problem(400, "invalid_request");
    app.post(&messages, Some(&ned.access), json!({"content": "x".repeat(4000)})).await.assert_status(201);
    app.post(&messages, Some(&ned.access), json!({"content": "hi", "reply_id": 999}))
        .await
        .assert_problem(400, "invalid_request");
    app.post(&messages, Some(&ned.access), json!({"content": "hi", "attachments": ["f1"]}))
        .await
        .assert_problem(400, "file_not_uploaded");
    app.post(&messages, Some(&ned.access), json!({"content": "hi", "client_id": ""}))
        .await
        .assert_problem(400, "invalid_request");
    let other_conversation = group(app, ned, "Other", &[]).await;
    send(app, ned, &other_conversation, "elsewhere").await;
    app.post(
        &format!("/conversations/{other_conversation}/messages"),
        Some(&ned.access),
        json!({"content": "hi", "reply_id": 5}),
    )
    .await
    .assert_problem(400, "invalid_request");

    // Only the author edits.
    app.patch(&format!("{messages}/1"), &ned.access, json!({"content": "hijack"}))
        .await
        .assert_problem(403, "forbidden");
    let edited = app.patch(&format!("{messages}/1"), &ola.access, json!({"content": "first, edited"})).await;
    assert_eq!(edited.assert_status(200)["content"], "first, edited");
    assert!(edited.json["edited_at"].as_i64().is_some());
    app.patch(&format!("{messages}/999"), &ola.access, json!({"content": "x"})).await.assert_problem(404, "not_found");
    app.patch(&format!("{messages}/abc"), &ola.access, json!({"content": "x"})).await.assert_problem(404, "not_found");

    // Authors or the owner delete; others may not. Tombstones keep their ids.
    app.delete(&format!("{messages}/2"), &ola.access).await.assert_problem(403, "forbidden");
    assert_eq!(app.delete(&format!("{messages}/2"), &pat.access).await.status, 204);
    assert_eq!(app.delete(&format!("{messages}/3"), &ned.access).await.status, 204);
    assert_eq!(app.delete(&format!("{messages}/3"), &ned.access).await.status, 204);
    let history = app.get(&format!("{messages}?after=1&limit=2"), &ola.access).await;
    for tombstone in history.json["messages"].as_array().unwrap() {
        assert_eq!(tombstone["deleted"], true);
        assert_eq!(tombstone["content"], "");
    }
    app.patch(&format!("{messages}/2"), &pat.access, json!({"content": "undo"}))
        .await
        .assert_problem(409, "message_deleted");
}

async fn read_markers_unread_counts_and_activity_order(app: &TestApp) {
    let s = users(app, &["quin", "rae"]).await;
    let (quin, rae) = (&s[0], &s[1]);
    let older = group(app, quin, "Older", &[rae]).await;
    let newer = group(app, quin, "Newer", &[rae]).await;
    app.clock.advance_ms(5);
    send(app, quin, &older, "q1").await;
    send(app, quin, &older, "q2").await;
    send(app, rae, &older, "r3").await;
    send(app, quin, &older, "q4").await;
    app.clock.advance_ms(5);

    let list = app.get("/conversations", &rae.access).await.assert_status(200).clone();
    let first = &list["items"][0];
    assert_eq!(first["id"], older.as_str(), "most recent activity first");
    assert_eq!(first["unread_count"], 3, "my own message never counts");
    assert_eq!(first["last_message"]["id"], 4);
    assert_eq!(first["last_message"]["content"], "q4");
    assert_eq!(list["items"][1]["id"], newer.as_str());
    assert_eq!(list["items"][1]["unread_count"], 0);
    assert_eq!(list["items"][1]["last_message"], Value::Null);
    let quin_view = app.get("/conversations", &quin.access).await;
    assert_eq!(quin_view.json["items"][0]["unread_count"], 1);

    // Marking message 2 read leaves 3 (mine) and 4.
    let read = app.post(&format!("/conversations/{older}/read"), Some(&rae.access), json!({"message_id": 2})).await;
    assert_eq!(read.status, 204);
    let list = app.get("/conversations", &rae.access).await;
    assert_eq!(list.json["items"][0]["unread_count"], 1);
    // Never backwards.
    app.post(&format!("/conversations/{older}/read"), Some(&rae.access), json!({"message_id": 1})).await;
    let list = app.get("/conversations", &rae.access).await;
    assert_eq!(list.json["items"][0]["unread_count"], 1);
    app.post(&format!("/conversations/{older}/read"), Some(&rae.access), json!({"message_id": 4})).await;
    assert_eq!(app.get("/conversations", &rae.access).await.json["items"][0]["unread_count"], 0);
    app.post(&format!("/conversations/{older}/read"), Some(&rae.access), json!({"message_id": 99}))
        .await
        .assert_problem(400, "invalid_request");
    app.post(&format!("/conversations/{older}/read"), Some(&rae.access), json!({"message_id": "4"}))
        .await
        .assert_problem(400, "invalid_request");

    // New activity reorders the list; pagination follows it.
    app.clock.advance_ms(5);
    send(app, quin, &newer, "bump").await;
    let list = app.get("/conversations?limit=1", &rae.access).await;
    assert_eq!(list.json["items"][0]["id"], newer.as_str());
    assert_eq!(list.json["items"][0]["unread_count"], 1);
    let cursor = list.json["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/conversations?limit=1&cursor={cursor}"), &rae.access).await;
    assert_eq!(rest.json["items"][0]["id"], older.as_str());
    assert_eq!(rest.json["next_cursor"], Value::Null);

    // The WebSocket list says the same.
    let mut socket = app.socket(rae).await;
    let rows = socket.request("get_conversations", json!({})).await;
    assert_eq!(rows["data"][0], json!({"id": newer, "name": "Newer", "unread_count": 1, "last_message_id": 1}));
    let marked = socket.request("mark_read", json!({"conversation_id": newer, "message_id": 1})).await;
    assert_eq!(marked["data"], json!({"conversation_id": newer, "message_id": 1}));
    let rows = socket.request("get_conversations", json!({})).await;
    assert_eq!(rows["data"][0]["unread_count"], 0);
    socket.close().await;
}

async fn sends_are_pushed_to_every_member_socket(app: &TestApp) {
    let s = users(app, &["sal", "tia", "uri"]).await;
    let (sal, tia, uri) = (&s[0], &s[1], &s[2]);
    let id = group(app, sal, "Push", &[tia]).await;
    let mut sal_phone = app.socket(sal).await;
    let mut sal_laptop = app.socket(sal).await;
    let mut tia_socket = app.socket(tia).await;
    let mut outsider = app.socket(uri).await;

    // Over the WebSocket: the answer to the sender, the push to everyone else (its other socket too).
    let answer =
        sal_phone.request("send_message", json!({"conversation_id": id, "content": "hello", "client_id": "k1"})).await;
    assert_eq!(answer["success"], true);
    let message = answer["data"].clone();
    assert_eq!(message["id"], 1);
    for socket in [&mut sal_laptop, &mut tia_socket] {
        let push = socket.event("send_message").await;
        assert_eq!(push["data"], message);
    }
    sal_phone.no_event("send_message", Duration::from_millis(300)).await;
    outsider.no_event("send_message", Duration::from_millis(100)).await;

    // Repeating the client_id answers with the original and pushes nothing new.
    let again =
        sal_phone.request("send_message", json!({"conversation_id": id, "content": "hello", "client_id": "k1"})).await;
    assert_eq!(again["data"], message);
    tia_socket.no_event("send_message", Duration::from_millis(300)).await;

    // Over REST: every member socket, the sender's included.
    let rest = send(app, tia, &id, "from rest").await;
    for socket in [&mut sal_phone, &mut sal_laptop, &mut tia_socket] {
        assert_eq!(socket.event("send_message").await["data"], rest);
    }
    let outsider_try = outsider.request("send_message", json!({"conversation_id": id, "content": "let me in"})).await;
    assert_eq!(outsider_try["code"], "not_found");
    for socket in [sal_phone, sal_laptop, tia_socket, outsider] {
        socket.close().await;
    }
}

async fn other_events_are_pushed_to_the_right_sockets(app: &TestApp) {
    let s = users(app, &["vic", "wun", "xin"]).await;
    let (vic, wun, xin) = (&s[0], &s[1], &s[2]);
    let mut vi_a = app.socket(vic).await;
    let mut vi_b = app.socket(vic).await;
    let mut wu_s = app.socket(wun).await;
    let mut xi_s = app.socket(xin).await;

    // conversation_created to every member's sockets (not the creating one, which has the answer).
    let created = vi_a.request("create_conversation", json!({"name": "Events", "members": ["wun"]})).await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(vi_b.event("conversation_created").await["data"], created["data"]);
    assert_eq!(wu_s.event("conversation_created").await["data"]["id"], id.as_str());
    xi_s.no_event("conversation_created", Duration::from_millis(200)).await;

    // member_joined (REST add) to every member, the new one included.
    app.post(&format!("/conversations/{id}/members"), Some(&wun.access), json!({"usernames": ["xin"]}))
        .await
        .assert_status(200);
    for socket in [&mut vi_a, &mut wu_s, &mut xi_s] {
        assert_eq!(names(&socket.event("member_joined").await["data"]["members"]), ["vic", "wun", "xin"]);
    }
    // conversation_updated.
    app.patch(&format!("/conversations/{id}"), &xin.access, json!({"name": "Renamed"})).await.assert_status(200);
    for socket in [&mut vi_b, &mut wu_s] {
        assert_eq!(socket.event("conversation_updated").await["data"]["name"], "Renamed");
    }

    // typing to the other members only.
    let typing = wu_s.request("typing", json!({"conversation_id": id})).await;
    assert_eq!(typing["data"], json!({}));
    for socket in [&mut vi_a, &mut xi_s] {
        assert_eq!(socket.event("typing").await["data"], json!({"conversation_id": id, "username": "wun"}));
    }
    wu_s.no_event("typing", Duration::from_millis(200)).await;

    // edit and delete.
    let sent = vi_a.request("send_message", json!({"conversation_id": id, "content": "draft"})).await["data"].clone();
    let edited = vi_a
        .request("edit_message", json!({"conversation_id": id, "message_id": sent["id"], "content": "final"}))
        .await;
    assert_eq!(edited["data"]["content"], "final");
    // The editor's answer says which reactions are theirs; the push to others never does.
    assert_eq!(wu_s.event("message_edited").await["data"], as_pushed(&edited["data"]));
    let denied = wu_s
        .request("edit_message", json!({"conversation_id": id, "message_id": sent["id"], "content": "mine now"}))
        .await;
    assert_eq!(denied["code"], "forbidden");
    let deleted = wu_s.request("delete_message", json!({"conversation_id": id, "message_id": sent["id"]})).await;
    assert_eq!(deleted["code"], "forbidden");
    let deleted = vi_b.request("delete_message", json!({"conversation_id": id, "message_id": sent["id"]})).await;
    assert_eq!(deleted["data"], json!({"conversation_id": id, "message_id": sent["id"]}));
    for socket in [&mut wu_s, &mut xi_s, &mut vi_a] {
        assert_eq!(socket.event("message_deleted").await["data"], deleted["data"]);
    }

    // read_marker to the reader's other sockets only.
    vi_a.request("mark_read", json!({"conversation_id": id, "message_id": sent["id"]})).await;
    assert_eq!(vi_b.event("read_marker").await["data"], json!({"conversation_id": id, "message_id": sent["id"]}));
    wu_s.no_event("read_marker", Duration::from_millis(200)).await;

    // member_left to those who stay and the one who left.
    assert_eq!(app.delete(&format!("/conversations/{id}/members/xin"), &vic.access).await.status, 204);
    for socket in [&mut wu_s, &mut xi_s] {
        let left = socket.event("member_left").await;
        assert_eq!(left["data"], json!({"conversation_id": id, "username": "xin", "owner": "vic"}));
    }
    for socket in [vi_a, vi_b, wu_s, xi_s] {
        socket.close().await;
    }
}

async fn presence_is_announced_to_contacts(app: &TestApp) {
    let s = users(app, &["yara", "zed", "abe"]).await;
    let (yara, zed, abe) = (&s[0], &s[1], &s[2]);
    // zed has yara as a contact; abe does not.
    app.post("/contacts", Some(&zed.access), json!({"username": "yara"})).await.assert_status(201);
    let mut zed_s = app.socket(zed).await;
    let mut abe_s = app.socket(abe).await;

    let mut first = app.socket(yara).await;
    let online = zed_s.event("user_status").await;
    assert_eq!(online["data"]["username"], "yara");
    assert_eq!(online["data"]["is_online"], true);
    let contacts = app.get("/contacts", &zed.access).await;
    assert_eq!(contacts.json["items"][0]["is_online"], true);
    assert_eq!(app.get("/users/yara", &abe.access).await.json["is_online"], true);

    // A second socket changes nothing; closing one of two changes nothing.
    let second = app.socket(yara).await;
    second.close().await;
    zed_s.no_event("user_status", Duration::from_millis(300)).await;
    abe_s.no_event("user_status", Duration::from_millis(50)).await;

    assert_eq!(first.request("ping", json!({})).await["data"], "pong");
    first.close().await;
    let offline = zed_s.event("user_status").await;
    assert_eq!(offline["data"]["is_online"], false);
    let last_online = offline["data"]["last_online"].as_i64().unwrap();
    let profile = app.get("/users/yara", &zed.access).await;
    assert_eq!(profile.json["is_online"], false);
    assert_eq!(profile.json["last_online"].as_i64(), Some(last_online));
    zed_s.close().await;
    abe_s.close().await;
}

async fn logout_everywhere_closes_sockets(app: &TestApp) {
    let s = users(app, &["bea", "cal"]).await;
    let mut one = app.socket(&s[0]).await;
    let mut two = app.socket(&s[0]).await;
    let mut other = app.socket(&s[1]).await;
    let reply = app.post("/auth/logout", Some(&s[0].access), json!({"all": true})).await;
    assert_eq!(reply.status, 204);
    assert!(one.closed_by_server().await);
    assert!(two.closed_by_server().await);
    // The rest stay connected; bea is offline once $disconnect has run for both sockets.
    assert_eq!(other.request("ping", json!({})).await["data"], "pong");
    let mut offline = false;
    // Bounded at 10 s: under a burst on DynamoDB Local, `$disconnect` can take a while.
    for _ in 0..500 {
        if app.get("/users/bea", &s[1].access).await.json["is_online"] == false {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(offline, "bea is still online after logout everywhere");
    other.close().await;
}

async fn reconnecting_client_catches_up_with_after(app: &TestApp) {
    let s = users(app, &["dan", "eli"]).await;
    let (dan, eli) = (&s[0], &s[1]);
    let id = group(app, dan, "Catch-up", &[eli]).await;
    let mut eli_s = app.socket(eli).await;
    send(app, dan, &id, "before 1").await;
    send(app, dan, &id, "before 2").await;
    let seen = eli_s.event("send_message").await["data"]["id"].as_i64().unwrap();
    let seen = seen.max(eli_s.event("send_message").await["data"]["id"].as_i64().unwrap());
    eli_s.close().await;

    let mut missed = Vec::new();
    for n in 0..7 {
        missed.push(send(app, dan, &id, &format!("while away {n}")).await);
    }
    let mut eli_s = app.socket(eli).await;
    let caught_up = eli_s.request("get_messages", json!({"conversation_id": id, "after": seen})).await;
    assert_eq!(as_sent(&caught_up["data"]["messages"]), Value::Array(missed.clone()));
    assert_eq!(caught_up["data"]["has_more"], false);
    // Paged catch-up gives the same, in order.
    let page = eli_s.request("get_messages", json!({"conversation_id": id, "after": seen, "limit": 3})).await;
    assert_eq!(as_sent(&page["data"]["messages"]), Value::Array(missed[..3].to_vec()));
    assert_eq!(page["data"]["has_more"], true);
    let bad = eli_s.request("get_messages", json!({"conversation_id": id, "limit": 500})).await;
    assert_eq!(bad["code"], "invalid_request");
    eli_s.close().await;
}

/// 30 users with one socket each, in 10 overlapping groups of 8, send 600 messages at once.
async fn concurrent_senders_lose_nothing_and_keep_order(app: &TestApp) {
    const USERS: usize = 30;
    const GROUPS: usize = 10;
    const PER_USER: usize = 20;
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i:02}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sessions = users(app, &name_refs).await;
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for g in 0..GROUPS {
        let members: Vec<usize> = (0..8).map(|j| (3 * g + j) % USERS).collect();
        let others: Vec<&Session> = members[1..].iter().map(|&m| &sessions[m]).collect();
        let id = group(app, &sessions[members[0]], &format!("g{g}"), &others).await;
        groups.push((id, members));
    }
    let mut sockets = Vec::new();
    for session in &sessions {
        // Correctness, not latency, is under test: on DynamoDB Local a burst drains slowly.
        sockets.push(app.socket(session).await.patient(Duration::from_secs(120)));
    }

    // What each user sends: PER_USER messages, round-robin over their groups.
    let mut plan: Vec<Vec<(String, String)>> = vec![Vec::new(); USERS];
    for (u, sends) in plan.iter_mut().enumerate() {
        let mine: Vec<&String> = groups.iter().filter(|(_, m)| m.contains(&u)).map(|(id, _)| id).collect();
        for k in 0..PER_USER {
            sends.push((mine[k % mine.len()].clone(), format!("{}-{k}", names[u])));
        }
    }
    let total: usize = plan.iter().map(Vec::len).sum();
    assert_eq!(total, USERS * PER_USER);

    // Every socket fires all its frames at once, then collects answers and pushes.
    let mut tasks = tokio::task::JoinSet::new();
    for (u, mut socket) in sockets.into_iter().enumerate() {
        let sends = plan[u].clone();
        let expected_pushes: usize = plan
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != u)
            .flat_map(|(_, s)| s.iter())
            .filter(|(conversation, _)| groups.iter().any(|(id, m)| id == conversation && m.contains(&u)))
            .count();
        tasks.spawn(async move {
            for (k, (conversation, content)) in sends.iter().enumerate() {
                socket
                    .fire(
                        "send_message",
                        json!({"conversation_id": conversation, "content": content, "client_id": content}),
                        &format!("r{k}"),
                    )
                    .await;
            }
            let mut answers = Vec::new();
            for k in 0..sends.len() {
                let answer = socket.answer(&format!("r{k}")).await;
                assert_eq!(answer["success"], true, "{answer}");
                answers.push(answer["data"].clone());
            }
            let mut pushes = Vec::new();
            while pushes.len() < expected_pushes {
                pushes.push(socket.event("send_message").await["data"].clone());
            }
            socket.no_event("send_message", Duration::from_millis(200)).await;
            socket.close().await;
            (u, answers, pushes)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.expect("client task"));
    }

    // Each conversation's history holds exactly what was sent, ids 1..=n with no gaps.
    let mut sent_to: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for (_, answers, _) in &results {
        for message in answers {
            sent_to.entry(message["conversation_id"].as_str().unwrap().to_owned()).or_default().push(message.clone());
        }
    }
    for (id, members) in &groups {
        let mut history = Vec::new();
        let mut after = 0;
        loop {
            let page = app
                .get(&format!("/conversations/{id}/messages?after={after}&limit=100"), &sessions[members[0]].access)
                .await;
            let messages = page.json["messages"].as_array().unwrap().clone();
            after = messages.last().map(|m| m["id"].as_i64().unwrap()).unwrap_or(after);
            history.extend(messages);
            if page.json["has_more"] == false {
                break;
            }
        }
        let mut sent = sent_to.remove(id).unwrap_or_default();
        sent.sort_by_key(|m| m["id"].as_i64().unwrap());
        let history: Vec<Value> = history.iter().map(as_pushed).collect();
        assert_eq!(history, sent, "history of {id} differs from what was sent");
        let ids: Vec<i64> = history.iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, (1..=history.len() as i64).collect::<Vec<_>>());
    }

    // Every socket got every message of its conversations from others exactly once, in id order.
    for (u, _, pushes) in &results {
        let mut last: std::collections::HashMap<&str, i64> = Default::default();
        let mut seen = std::collections::HashSet::new();
        for message in pushes {
            let conversation = message["conversation_id"].as_str().unwrap();
            let id = message["id"].as_i64().unwrap();
            assert_ne!(
                message["sender_username"],
                names[*u].as_str(),
                "{}: own message pushed to the sending socket",
                names[*u]
            );
            assert!(seen.insert((conversation, id)), "{}: duplicate {conversation}/{id}", names[*u]);
            let previous = last.insert(conversation, id).unwrap_or(0);
            assert!(id > previous, "{}: {conversation} went from {previous} to {id}", names[*u]);
        }
    }
}

/// A socket opened with `?batch=1` takes `send_message_batch` frames when it is behind: under a
/// burst from three senders it still gets every message exactly once, in id order, whichever
/// frames carry them.
async fn batch_sockets_get_every_message_once_in_order(app: &TestApp) {
    const PER_SENDER: usize = 20;
    let sessions = users(app, &["bat", "cow", "dog", "eel"]).await;
    let others: Vec<&Session> = sessions[1..].iter().collect();
    let id = group(app, &sessions[0], "burst", &others).await;
    let url = format!("{}/?token={}&batch=1", app.ws_url, sessions[0].access);
    let mut listener = WsClient::connect_with(&url, None, "bat").await.patient(Duration::from_secs(120));
    let mut senders = Vec::new();
    for session in &sessions[1..] {
        senders.push(app.socket(session).await.patient(Duration::from_secs(120)));
    }
    for k in 0..PER_SENDER {
        for (s, socket) in senders.iter_mut().enumerate() {
            let content = format!("s{s}-{k}");
            socket.fire("send_message", json!({"conversation_id": id, "content": content}), &format!("r{k}")).await;
        }
    }
    let total = PER_SENDER * senders.len();
    let (mut ids, mut batch_frames) = (Vec::new(), 0);
    while ids.len() < total {
        let frame = listener.next_frame().await;
        match frame["type"].as_str() {
            Some("send_message") => ids.push(frame["data"]["id"].as_i64().unwrap()),
            Some("send_message_batch") => {
                batch_frames += 1;
                assert_eq!(frame["data"]["conversation_id"], id.as_str());
                let messages = frame["data"]["messages"].as_array().unwrap();
                assert!(messages.len() >= 2, "{frame}");
                ids.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
            }
            _ => {}
        }
    }
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(ids, expected, "every message once, in id order ({batch_frames} batch frames)");
    for socket in senders {
        socket.close().await;
    }
    listener.close().await;
}

/// A message as a push (or the send's answer) carries it: without `my_reactions`, which only
/// answers to a member carry (here always present, and empty: nobody reacted).
fn as_pushed(message: &Value) -> Value {
    let mut message = message.clone();
    let mine = message.as_object_mut().expect("a message").remove("my_reactions");
    assert_eq!(mine, Some(json!([])), "an answer to a member says which reactions are theirs: {message}");
    message
}

/// A history page's messages as they were sent.
fn as_sent(messages: &Value) -> Value {
    Value::Array(messages.as_array().expect("messages").iter().map(as_pushed).collect())
}
