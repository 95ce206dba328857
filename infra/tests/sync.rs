//! End to end: the sync feed (`GET /sync`, WebSocket `sync`) over real HTTP and WebSocket through
//! the local gateway, on the embedded store and on DynamoDB Local (its stream read as Lambda reads
//! it). Changes are recorded off the send path, a moment later: tests sync again with the same
//! cursor (which is harmless: a retried `since` gives the same answer) until what they wait for
//! is there, then check that nothing more comes.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::{Session, TestApp};

on_both_stores!(
    without_since_a_sync_gives_only_a_cursor,
    every_kind_of_change_arrives_once_with_its_state,
    an_edit_or_delete_of_a_message_sent_long_before_the_cursor_arrives,
    a_conversation_left_arrives_as_conversation_left_and_nothing_of_it_after,
    paging_with_limit_one_walks_every_change_once,
    a_retried_since_gives_the_same_answer,
    expired_malformed_and_foreign_cursors_are_refused,
    a_sync_racing_with_edits_misses_nothing,
    the_websocket_sync_gives_the_same_changes_cut_to_its_frame,
    a_room_that_grows_past_a_hundred_is_pulled_and_synced_the_same,
);

async fn group(app: &TestApp, owner: &Session, name: &str, members: &[&str]) -> String {
    let created = app.post("/conversations", Some(&owner.access), json!({"name": name, "members": members})).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Session, conversation: &str, content: &str) -> i64 {
    let body = json!({"content": content});
    let sent = app.post(&format!("/conversations/{conversation}/messages"), Some(&who.access), body).await;
    sent.assert_status(201)["id"].as_i64().unwrap()
}

async fn edit(app: &TestApp, who: &Session, conversation: &str, id: i64, content: &str) {
    let path = format!("/conversations/{conversation}/messages/{id}");
    app.patch(&path, &who.access, json!({"content": content})).await.assert_status(200);
}

async fn cursor(app: &TestApp, who: &Session) -> String {
    let first = app.get("/sync", &who.access).await;
    let body = first.assert_status(200);
    assert_eq!(body["changes"], json!([]));
    assert_eq!(body["has_more"], false);
    body["next_cursor"].as_str().unwrap().to_owned()
}

async fn sync_page(app: &TestApp, who: &Session, since: &str, limit: Option<usize>) -> Value {
    let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
    app.get(&format!("/sync?since={since}{limit}"), &who.access).await.assert_status(200).clone()
}

/// The changes since `since` (every page), once `done` holds of them (bounded: 10 s), and
/// checked again a moment later: nothing more came.
async fn settled(app: &TestApp, who: &Session, since: &str, done: impl Fn(&[Value]) -> bool) -> (Vec<Value>, String) {
    let mut last = (Vec::new(), since.to_owned());
    for _ in 0..500 {
        last = all_changes(app, who, since).await;
        if done(&last.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done(&last.0), "never came: {:#?}", last.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = all_changes(app, who, since).await;
    // The same changes (a key recorded once more, harmlessly, moves to where it last falls).
    let sorted = |changes: &[Value]| {
        let mut k = kinds(changes);
        k.sort();
        k
    };
    assert_eq!(sorted(&again.0), sorted(&last.0), "more changes came after they had settled");
    again
}

/// Every page from `since`: the changes and the cursor after them.
async fn all_changes(app: &TestApp, who: &Session, since: &str) -> (Vec<Value>, String) {
    let mut changes = Vec::new();
    let mut cursor = since.to_owned();
    for _ in 0..100 {
        let page = sync_page(app, who, &cursor, Some(500)).await;
        changes.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            return (changes, cursor);
        }
    }
    panic!("more than 100 pages");
}

/// (type, conversation, what it is about) of each change.
fn kinds(changes: &[Value]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .map(|c| {
            let data = &c["data"];
            let about = match c["type"].as_str().unwrap() {
                "message_edited" | "message_deleted" => data["id"].to_string(),
                "member_joined" | "member_left" => data["username"].as_str().unwrap().to_owned(),
                _ => String::new(),
            };
            (c["type"].as_str().unwrap().to_owned(), c["conversation_id"].as_str().unwrap().to_owned(), about)
        })
        .collect()
}

fn has(changes: &[Value], kind: &str) -> bool {
    changes.iter().any(|c| c["type"] == kind)
}

/// A cursor from which everything done so far has been recorded: taken once `done` holds of what
/// came since `start`.
async fn after(app: &TestApp, who: &Session, start: &str, done: impl Fn(&[Value]) -> bool) -> String {
    let mut cursor = settled(app, who, start, done).await.1;
    // What the notify function still records of it (a message's activity once more, after a
    // sync had already shown its state) comes in the next syncs: drain it, bounded.
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (changes, next) = all_changes(app, who, &cursor).await;
        if changes.is_empty() {
            return next;
        }
        cursor = next;
    }
    panic!("changes kept coming");
}

fn of_type<'a>(changes: &'a [Value], kind: &str) -> Vec<&'a Value> {
    changes.iter().filter(|c| c["type"] == kind).collect()
}

async fn without_since_a_sync_gives_only_a_cursor(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    send(app, &ann, &room, "before the cursor").await;
    let since = cursor(app, &bob).await;
    // Nothing has happened since: an empty page, the same position.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (changes, _) = all_changes(app, &bob, &since).await;
    // What was pending when the cursor was taken may come once more (the snapshot has it): only
    // the conversation's own state, never a change of something else.
    for change in &changes {
        assert_eq!(change["conversation_id"], room.as_str(), "{change}");
    }
    // A fresh user has no changes at all.
    let cat = app.register("cat").await;
    let since = cursor(app, &cat).await;
    assert_eq!(sync_page(app, &cat, &since, None).await["changes"], json!([]));
}

async fn every_kind_of_change_arrives_once_with_its_state(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    app.register("cat").await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let first = send(app, &ann, &room, "one").await;
    let second = send(app, &ann, &room, "two").await;
    // Bob's phone takes its cursor, then goes offline while everything happens.
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;

    let third = send(app, &ann, &room, "three").await;
    send(app, &ann, &room, "four").await;
    edit(app, &ann, &room, first, "one, edited").await;
    app.delete(&format!("/conversations/{room}/messages/{second}"), &ann.access).await.assert_status(204);
    app.patch(&format!("/conversations/{room}"), &ann.access, json!({"name": "Team 2"})).await.assert_status(200);
    // Later than the room's creation (those who join with it hear no member_joined of each other).
    app.clock.advance_ms(1_000);
    app.post(&format!("/conversations/{room}/members"), Some(&ann.access), json!({"usernames": ["cat"]}))
        .await
        .assert_status(200);
    // Bob's laptop reads and mutes: his phone learns it too.
    app.post(&format!("/conversations/{room}/read"), Some(&bob.access), json!({"message_id": third}))
        .await
        .assert_status(204);
    let quiet = json!({"level": "mentions", "muted_until": null});
    app.call("PUT", &format!("/conversations/{room}/notifications"), Some(&bob.access), Some(quiet))
        .await
        .assert_status(200);
    let other = group(app, &ann, "Other", &["bob"]).await;

    let expected = [
        ("conversation_activity", room.as_str()),
        ("message_edited", room.as_str()),
        ("message_deleted", room.as_str()),
        ("conversation_updated", room.as_str()),
        ("member_joined", room.as_str()),
        ("read_marker", room.as_str()),
        ("notifications_changed", room.as_str()),
        ("conversation_joined", other.as_str()),
    ];
    let (changes, _) = settled(app, &bob, &since, |changes| {
        expected.iter().all(|(kind, c)| changes.iter().any(|x| x["type"] == *kind && x["conversation_id"] == *c))
    })
    .await;
    // Each once (the activity of two messages is one change).
    let mut counted: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for k in kinds(&changes) {
        *counted.entry(k).or_default() += 1;
    }
    assert!(counted.values().all(|n| *n == 1), "a change came twice: {counted:?}");
    assert_eq!(changes.len(), expected.len(), "{changes:#?}");
    for change in &changes {
        assert!(change["at"].as_i64().unwrap() > 0, "{change}");
    }
    // Each with the resulting state.
    let activity = of_type(&changes, "conversation_activity")[0];
    assert_eq!(activity["data"], json!({"last_message_id": 4, "unread_count": 1}));
    let edited = of_type(&changes, "message_edited")[0];
    assert_eq!((edited["data"]["id"].as_i64(), edited["data"]["content"].as_str()), (Some(first), Some("one, edited")));
    let deleted = of_type(&changes, "message_deleted")[0];
    assert_eq!((deleted["data"]["id"].as_i64(), &deleted["data"]["deleted"]), (Some(second), &json!(true)));
    assert_eq!(deleted["data"]["content"], "");
    assert_eq!(of_type(&changes, "conversation_updated")[0]["data"]["name"], "Team 2");
    let joined = &of_type(&changes, "member_joined")[0]["data"];
    assert_eq!(joined, &json!({"conversation_id": room, "username": "cat", "owner": "ann"}));
    assert_eq!(of_type(&changes, "read_marker")[0]["data"], json!({"conversation_id": room, "message_id": third}));
    assert_eq!(
        of_type(&changes, "notifications_changed")[0]["data"],
        json!({"level": "mentions", "muted_until": null})
    );
    let added = &of_type(&changes, "conversation_joined")[0]["data"];
    assert_eq!((added["id"].as_str(), added["name"].as_str()), (Some(other.as_str()), Some("Other")));
    // Per conversation, in the order a client applies them: activity before my read marker.
    let position = |kind: &str| changes.iter().position(|c| c["type"] == kind).unwrap();
    assert!(position("conversation_activity") < position("read_marker"));
}

async fn an_edit_or_delete_of_a_message_sent_long_before_the_cursor_arrives(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let old = send(app, &ann, &room, "from long ago").await;
    for i in 0..5 {
        send(app, &ann, &room, &format!("filler {i}")).await;
    }
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;
    app.clock.advance_ms(3 * 86_400_000);
    let (ann, bob) = (app.another_session(&ann).await, app.another_session(&bob).await);
    edit(app, &ann, &room, old, "corrected").await;
    let (changes, next) = settled(app, &bob, &since, |c| !of_type(c, "message_edited").is_empty()).await;
    assert_eq!(kinds(&changes), [("message_edited".to_owned(), room.clone(), old.to_string())]);
    assert_eq!(changes[0]["data"]["content"], "corrected");
    app.delete(&format!("/conversations/{room}/messages/{old}"), &ann.access).await.assert_status(204);
    let (changes, _) = settled(app, &bob, &next, |c| !of_type(c, "message_deleted").is_empty()).await;
    assert_eq!(kinds(&changes), [("message_deleted".to_owned(), room.clone(), old.to_string())]);
}

async fn a_conversation_left_arrives_as_conversation_left_and_nothing_of_it_after(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    let ann_start = cursor(app, &ann).await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let id = send(app, &ann, &room, "hi").await;
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;
    send(app, &ann, &room, "before you go").await;
    app.delete(&format!("/conversations/{room}/members/bob"), &ann.access).await.assert_status(204);
    // What happens in it afterwards is none of Bob's business.
    send(app, &ann, &room, "after").await;
    edit(app, &ann, &room, id, "edited after").await;
    app.patch(&format!("/conversations/{room}"), &ann.access, json!({"name": "Without Bob"})).await.assert_status(200);
    let (changes, next) = settled(app, &bob, &since, |c| !of_type(c, "conversation_left").is_empty()).await;
    assert_eq!(kinds(&changes), [("conversation_left".to_owned(), room.clone(), String::new())], "{changes:#?}");
    assert_eq!(changes[0]["data"], json!({"conversation_id": room}));
    // Ann saw Bob leave.
    let (ann_changes, _) = settled(app, &ann, &ann_start, |c| has(c, "member_left")).await;
    let left = of_type(&ann_changes, "member_left");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["data"], json!({"conversation_id": room, "username": "bob", "owner": "ann"}));
    let again = group(app, &ann, "Again", &["bob"]).await;
    // And nothing of the left room comes later either.
    send(app, &ann, &room, "still nothing for bob").await;
    let (changes, _) = settled(app, &bob, &next, |c| !of_type(c, "conversation_joined").is_empty()).await;
    assert!(changes.iter().all(|c| c["conversation_id"] == again.as_str()), "{changes:#?}");
}

async fn paging_with_limit_one_walks_every_change_once(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    for name in ["cat", "dan", "eve"] {
        app.register(name).await;
    }
    let room = group(app, &ann, "Team", &["bob"]).await;
    let ids: Vec<i64> =
        [send(app, &ann, &room, "a").await, send(app, &ann, &room, "b").await, send(app, &ann, &room, "c").await]
            .to_vec();
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;
    for (i, id) in ids.iter().enumerate() {
        edit(app, &ann, &room, *id, &format!("edited {i}")).await;
    }
    app.clock.advance_ms(1_000);
    for name in ["cat", "dan", "eve"] {
        app.post(&format!("/conversations/{room}/members"), Some(&ann.access), json!({"usernames": [name]}))
            .await
            .assert_status(200);
    }
    let others = [group(app, &ann, "Two", &["bob"]).await, group(app, &ann, "Three", &["bob"]).await];
    let (all, end) = settled(app, &bob, &since, |c| {
        of_type(c, "message_edited").len() == 3
            && of_type(c, "member_joined").len() == 3
            && of_type(c, "conversation_joined").len() == 2
    })
    .await;
    assert_eq!(all.len(), 8, "{all:#?}");
    // One change a page, each once, in the same order, to the same end.
    let mut walked = Vec::new();
    let mut at = since.clone();
    for _ in 0..50 {
        let page = sync_page(app, &bob, &at, Some(1)).await;
        let changes = page["changes"].as_array().unwrap();
        assert!(changes.len() <= 1);
        walked.extend(changes.iter().cloned());
        at = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(kinds(&walked), kinds(&all));
    assert_eq!(at, end, "the walk ends where one page ends");
    assert!(others.iter().all(|o| walked.iter().any(|c| c["conversation_id"] == o.as_str())));
}

async fn a_retried_since_gives_the_same_answer(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let since = after(app, &bob, &start, |c| has(c, "conversation_joined")).await;
    let id = send(app, &ann, &room, "hello").await;
    edit(app, &ann, &room, id, "hello!").await;
    settled(app, &bob, &since, |c| !of_type(c, "message_edited").is_empty()).await;
    let once = sync_page(app, &bob, &since, None).await;
    let twice = sync_page(app, &bob, &since, None).await;
    assert_eq!(once, twice);
    assert_eq!(once["changes"].as_array().unwrap().len(), 2, "{once:#}");
    // The cursor it gave finds nothing new.
    let next = once["next_cursor"].as_str().unwrap();
    assert_eq!(sync_page(app, &bob, next, None).await["changes"], json!([]));
}

async fn expired_malformed_and_foreign_cursors_are_refused(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let ann_cursor = cursor(app, &ann).await;
    let bob_cursor = cursor(app, &bob).await;
    // Another user's cursor, or not a cursor at all.
    app.get(&format!("/sync?since={ann_cursor}"), &bob.access).await.assert_problem(400, "invalid_cursor");
    for bad in ["x", "AAAAAAAA", "not-a-cursor!", &bob_cursor[..bob_cursor.len() - 3]] {
        app.get(&format!("/sync?since={bad}"), &bob.access).await.assert_problem(400, "invalid_cursor");
    }
    for limit in ["0", "501", "x", "-1", "1.5"] {
        app.get(&format!("/sync?since={bob_cursor}&limit={limit}"), &bob.access)
            .await
            .assert_problem(400, "invalid_request");
    }
    app.call("GET", "/sync", None, None).await.assert_problem(401, "unauthorized");
    // Within the retention it works; past it, 410 and a fresh start.
    app.clock.advance_ms(29 * 86_400_000);
    let bob = app.another_session(&bob).await;
    app.get(&format!("/sync?since={bob_cursor}"), &bob.access).await.assert_status(200);
    app.clock.advance_ms(2 * 86_400_000);
    let bob = app.another_session(&bob).await;
    app.get(&format!("/sync?since={bob_cursor}"), &bob.access).await.assert_problem(410, "cursor_expired");
    let fresh = cursor(app, &bob).await;
    app.get(&format!("/sync?since={fresh}"), &bob.access).await.assert_status(200);
}

/// The race: edits land while Bob syncs over and over, each sync from the cursor the last one
/// gave. Applying every change he got, he ends with every message as it is.
async fn a_sync_racing_with_edits_misses_nothing(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(send(app, &ann, &room, &format!("v0 of {i}")).await);
    }
    let mut at = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;
    let mut seen: BTreeMap<i64, String> = BTreeMap::new();
    let editor = async {
        for round in 1..=6 {
            for id in &ids {
                edit(app, &ann, &room, *id, &format!("v{round} of {}", id - 1)).await;
            }
        }
    };
    let syncer = async {
        for _ in 0..40 {
            let page = sync_page(app, &bob, &at, None).await;
            for change in page["changes"].as_array().unwrap() {
                if change["type"] == "message_edited" {
                    seen.insert(
                        change["data"]["id"].as_i64().unwrap(),
                        change["data"]["content"].as_str().unwrap().into(),
                    );
                }
            }
            at = page["next_cursor"].as_str().unwrap().to_owned();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::join!(editor, syncer);
    // Once the stream has caught up, the last syncs bring what was left.
    let want: BTreeMap<i64, String> = ids.iter().map(|id| (*id, format!("v6 of {}", id - 1))).collect();
    for _ in 0..500 {
        if seen == want {
            break;
        }
        let page = sync_page(app, &bob, &at, None).await;
        for change in page["changes"].as_array().unwrap() {
            if change["type"] == "message_edited" {
                seen.insert(change["data"]["id"].as_i64().unwrap(), change["data"]["content"].as_str().unwrap().into());
            }
        }
        at = page["next_cursor"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, want);
}

async fn the_websocket_sync_gives_the_same_changes_cut_to_its_frame(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = group(app, &ann, "Team", &["bob"]).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(send(app, &ann, &room, &format!("message {i}")).await);
    }
    let mut socket = app.socket(&bob).await;
    let first = socket.request("sync", json!({})).await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["data"]["changes"], json!([]));
    let start = first["data"]["next_cursor"].as_str().unwrap().to_owned();
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;
    // 40 edits of about 3.5 KB each: 140 KB of changes, more than a WebSocket answer holds.
    let long = "x".repeat(3500);
    for id in &ids {
        edit(app, &ann, &room, *id, &long).await;
    }
    let (rest, end) = settled(app, &bob, &since, |c| of_type(c, "message_edited").len() == 40).await;
    assert_eq!(sync_page(app, &bob, &since, None).await["has_more"], false, "a REST page holds them all");
    let mut walked = Vec::new();
    let mut at = since.clone();
    let mut pages = 0;
    loop {
        let answer = socket.request("sync", json!({"since": at, "limit": 500})).await;
        assert_eq!(answer["success"], true, "{answer}");
        assert!(answer.to_string().len() <= 128 * 1024);
        let data = &answer["data"];
        walked.extend(data["changes"].as_array().unwrap().iter().cloned());
        at = data["next_cursor"].as_str().unwrap().to_owned();
        pages += 1;
        if data["has_more"] == false {
            break;
        }
        assert!(pages < 10);
    }
    assert!(pages >= 2, "140 KB cannot fit one WebSocket answer");
    assert_eq!(kinds(&walked), kinds(&rest));
    assert_eq!(at, end);
    // Bad input gets the error envelope.
    let bad = socket.request("sync", json!({"since": "garbage"})).await;
    assert_eq!((bad["success"].as_bool(), bad["code"].as_str()), (Some(false), Some("invalid_cursor")));
    let bad = socket.request("sync", json!({"limit": 0})).await;
    assert_eq!(bad["success"], false);
    socket.close().await;
}

/// Registers `names` eight at a time.
async fn register_all(app: &TestApp, names: &[String]) {
    use futures_util::stream::{self, StreamExt};
    stream::iter(names)
        .for_each_concurrent(8, |name| async move {
            app.register(name).await;
        })
        .await;
}

/// A room of 100 writes its changes to each member's feed; past 100 members it is pulled: its
/// changes go to its own log and its messages are read from it at sync. A member sees the same
/// kinds of change either way, and paging walks the room's log once.
async fn a_room_that_grows_past_a_hundred_is_pulled_and_synced_the_same(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let start = cursor(app, &bob).await;
    let others: Vec<String> = (0..100).map(|i| format!("m{i:03}")).collect();
    register_all(app, &others).await;
    let mut first: Vec<&str> = vec!["bob"];
    first.extend(others[..98].iter().map(String::as_str));
    let room = group(app, &ann, "Big", &first).await;
    let id = send(app, &ann, &room, "while small").await;
    let since = after(app, &bob, &start, |c| has(c, "conversation_activity") && has(c, "conversation_joined")).await;

    // Two more: 102 members, past the size. From the next change on, the room is pulled.
    app.clock.advance_ms(1_000);
    let add = json!({"usernames": [others[98], others[99]]});
    app.post(&format!("/conversations/{room}/members"), Some(&ann.access), add).await.assert_status(200);
    let last = send(app, &ann, &room, "now big").await;
    edit(app, &ann, &room, id, "edited while big").await;
    app.patch(&format!("/conversations/{room}"), &ann.access, json!({"name": "Bigger"})).await.assert_status(200);
    app.delete(&format!("/conversations/{room}/members/m000"), &ann.access).await.assert_status(204);
    let expected = ["conversation_activity", "message_edited", "conversation_updated", "member_joined", "member_left"];
    let (changes, next) =
        settled(app, &bob, &since, |c| expected.iter().all(|k| has(c, k)) && of_type(c, "member_joined").len() == 2)
            .await;
    assert!(changes.iter().all(|c| c["conversation_id"] == room.as_str()), "{changes:#?}");
    let activity = of_type(&changes, "conversation_activity");
    assert_eq!(activity.len(), 1, "{changes:#?}");
    assert_eq!(activity[0]["data"]["last_message_id"], last);
    assert_eq!(of_type(&changes, "message_edited")[0]["data"]["content"], "edited while big");
    assert_eq!(of_type(&changes, "conversation_updated")[0]["data"]["name"], "Bigger");
    assert_eq!(of_type(&changes, "member_left")[0]["data"]["username"], "m000");
    let mut counted: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for k in kinds(&changes) {
        *counted.entry(k).or_default() += 1;
    }
    assert!(counted.values().all(|n| *n == 1), "a change came twice: {counted:?}");

    // Paging one at a time walks the same changes.
    let mut walked = Vec::new();
    let mut at = since.clone();
    for _ in 0..50 {
        let page = sync_page(app, &bob, &at, Some(1)).await;
        walked.extend(page["changes"].as_array().unwrap().iter().cloned());
        at = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    let mut walked_kinds = kinds(&walked);
    let mut all_kinds = kinds(&changes);
    walked_kinds.sort();
    all_kinds.sort();
    assert_eq!(walked_kinds, all_kinds);

    // Later messages come as one activity, from the room's own item.
    send(app, &ann, &room, "more").await;
    let newest = send(app, &ann, &room, "and more").await;
    let (changes, next) = settled(app, &bob, &next, |c| has(c, "conversation_activity")).await;
    assert_eq!(kinds(&changes), [("conversation_activity".to_owned(), room.clone(), String::new())]);
    assert_eq!(changes[0]["data"]["last_message_id"], newest);
    assert_eq!(sync_page(app, &bob, &next, None).await["changes"], json!([]));

    // Someone who joins the big room hears it once, and its activity after.
    let late = app.register("late").await;
    let late_start = cursor(app, &late).await;
    let add = json!({"usernames": ["late"]});
    app.post(&format!("/conversations/{room}/members"), Some(&ann.access), add).await.assert_status(200);
    let (joined, late_next) = settled(app, &late, &late_start, |c| has(c, "conversation_joined")).await;
    assert_eq!(of_type(&joined, "conversation_joined").len(), 1, "{joined:#?}");
    let newest = send(app, &ann, &room, "welcome").await;
    let (changes, _) = settled(app, &late, &late_next, |c| has(c, "conversation_activity")).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["data"]["last_message_id"], newest);
    // Leaving it: conversation_left, and nothing of it after.
    app.delete(&format!("/conversations/{room}/members/bob"), &bob.access).await.assert_status(204);
    let (changes, next) = settled(app, &bob, &next, |c| has(c, "conversation_left")).await;
    assert!(changes.iter().all(|c| c["type"] == "conversation_left" || c["type"] == "member_left"), "{changes:#?}");
    send(app, &ann, &room, "bob is gone").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(all_changes(app, &bob, &next).await.0, Vec::<Value>::new());
}
