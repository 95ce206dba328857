//! End to end: reactions and pins, over real HTTP and WebSocket through the local gateway, on the
//! embedded store and on DynamoDB Local. Messages carry their reactions (count, up to 10 users,
//! most used first), `pinned`, and the caller's `my_reactions`; adding twice changes nothing;
//! concurrent reactions never lose a count; members' sockets and the sync feed hear each change;
//! the caps, bad reactions, deleted and unknown messages are refused with 4xx.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};
use support::{Reply, Session, TestApp};

on_both_stores!(
    reactions_show_on_messages_with_their_users_and_mine,
    concurrent_reactions_never_lose_a_count,
    caps_and_bad_reactions_are_refused,
    pins_are_listed_newest_first_and_a_delete_clears_pin_and_reactions,
    the_blocked_side_of_a_direct_conversation_neither_reacts_nor_pins,
    the_sync_feed_reports_reactions_and_pins_as_they_are,
);

/// `reaction` percent-encoded as a path segment.
fn encoded(reaction: &str) -> String {
    reaction.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn reaction_path(conversation: &str, message: i64, reaction: &str) -> String {
    format!("/conversations/{conversation}/messages/{message}/reactions/{}", encoded(reaction))
}

async fn react(app: &TestApp, who: &Session, conversation: &str, message: i64, reaction: &str) -> Reply {
    app.call("PUT", &reaction_path(conversation, message, reaction), Some(&who.access), None).await
}

async fn unreact(app: &TestApp, who: &Session, conversation: &str, message: i64, reaction: &str) -> Reply {
    app.call("DELETE", &reaction_path(conversation, message, reaction), Some(&who.access), None).await
}

async fn group(app: &TestApp, owner: &Session, members: &[String]) -> String {
    let created = app.post("/conversations", Some(&owner.access), json!({"name": "R", "members": members})).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Session, conversation: &str, content: &str) -> i64 {
    let sent = app
        .post(&format!("/conversations/{conversation}/messages"), Some(&who.access), json!({"content": content}))
        .await;
    sent.assert_status(201)["id"].as_i64().unwrap()
}

/// The message as `who` reads it in history.
async fn message(app: &TestApp, who: &Session, conversation: &str, id: i64) -> Value {
    let page = format!("/conversations/{conversation}/messages?after={}&limit=1", id - 1);
    let history = app.get(&page, &who.access).await;
    history.assert_status(200)["messages"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap()
}

async fn reactions_show_on_messages_with_their_users_and_mine(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let room = group(app, &ann, &["bob".into(), "cat".into()]).await;
    let id = send(app, &ann, &room, "lunch at noon").await;
    let fresh = message(app, &ann, &room, id).await;
    assert_eq!(
        (&fresh["reactions"], &fresh["pinned"], &fresh["my_reactions"]),
        (&json!([]), &json!(false), &json!([]))
    );

    let mut watcher = app.socket(&cat).await;
    react(app, &ann, &room, id, "👍").await.assert_status(204);
    let pushed = watcher.event("reaction_added").await;
    assert_eq!(
        pushed["data"],
        json!({"conversation_id": room, "message_id": id, "reaction": "👍", "username": "ann", "count": 1})
    );
    assert!(pushed["data"].get("my_reactions").is_none());
    react(app, &bob, &room, id, "👍").await.assert_status(204);
    assert_eq!(watcher.event("reaction_added").await["data"]["count"], 2);
    // Again: no change, and nobody hears of it.
    react(app, &bob, &room, id, "👍").await.assert_status(204);
    watcher.no_event("reaction_added", Duration::from_millis(300)).await;
    react(app, &bob, &room, id, "❤️").await.assert_status(204);
    react(app, &bob, &room, id, ":party_parrot:").await.assert_status(204);
    for reaction in ["❤️", ":party_parrot:"] {
        assert_eq!(watcher.event("reaction_added").await["data"]["reaction"], reaction);
    }
    // Over WebSocket: an emoji sequence joined by zero-width joiners; the sender's socket gets
    // the answer, the others the push.
    let mut cats = app.socket(&cat).await;
    let answer =
        cats.request("add_reaction", json!({"conversation_id": room, "message_id": id, "reaction": "👩‍💻"})).await;
    assert_eq!((answer["success"].as_bool(), &answer["data"]), (Some(true), &json!({})), "{answer}");
    assert_eq!(watcher.event("reaction_added").await["data"]["reaction"], "👩‍💻");

    let seen = message(app, &bob, &room, id).await;
    assert_eq!(
        seen["reactions"],
        json!([
            {"reaction": "👍", "count": 2, "users": ["ann", "bob"]},
            {"reaction": ":party_parrot:", "count": 1, "users": ["bob"]},
            {"reaction": "❤️", "count": 1, "users": ["bob"]},
            {"reaction": "👩‍💻", "count": 1, "users": ["cat"]},
        ]),
        "most used first, then in the reactions' order"
    );
    assert_eq!(seen["my_reactions"], json!(["👍", ":party_parrot:", "❤️"]));
    assert_eq!(message(app, &ann, &room, id).await["my_reactions"], json!(["👍"]));
    // The edit's answer is the editor's: it says which are theirs; the push does not.
    let edited = app
        .patch(&format!("/conversations/{room}/messages/{id}"), &ann.access, json!({"content": "lunch at one"}))
        .await;
    assert_eq!(edited.assert_status(200)["my_reactions"], json!(["👍"]));
    let pushed = watcher.event("message_edited").await;
    assert_eq!(pushed["data"]["reactions"][0]["count"], 2, "an edit keeps the reactions: {pushed}");
    assert!(pushed["data"].get("my_reactions").is_none(), "{pushed}");
    // WebSocket history says the same.
    let page = cats.request("get_messages", json!({"conversation_id": room})).await;
    assert_eq!(page["data"]["messages"][0]["my_reactions"], json!(["👩‍💻"]), "{page}");

    // Removing: the count after; again, no change; the last one takes the reaction away.
    unreact(app, &ann, &room, id, "👍").await.assert_status(204);
    let removed = watcher.event("reaction_removed").await;
    assert_eq!(
        removed["data"],
        json!({"conversation_id": room, "message_id": id, "reaction": "👍", "username": "ann", "count": 1})
    );
    unreact(app, &ann, &room, id, "👍").await.assert_status(204);
    watcher.no_event("reaction_removed", Duration::from_millis(300)).await;
    let answer =
        cats.request("remove_reaction", json!({"conversation_id": room, "message_id": id, "reaction": "👩‍💻"})).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(watcher.event("reaction_removed").await["data"]["count"], 0);
    let now = message(app, &cat, &room, id).await;
    assert_eq!(
        now["reactions"],
        json!([
            {"reaction": ":party_parrot:", "count": 1, "users": ["bob"]},
            {"reaction": "❤️", "count": 1, "users": ["bob"]},
            {"reaction": "👍", "count": 1, "users": ["bob"]},
        ]),
        "a tie in the reactions' order"
    );
    assert_eq!(now["my_reactions"], json!([]));
    cats.close().await;
    watcher.close().await;
}

/// Fifteen members react at once with the same two reactions, then take one back at once (30
/// changes of one message in flight: each lands, none is told to retry): every count is exact, a message lists 10 of the users, and a member it does not list still learns
/// the reaction is theirs.
async fn concurrent_reactions_never_lose_a_count(app: &TestApp) {
    let ann = app.register("ann").await;
    let mut people = Vec::new();
    for i in 0..15 {
        people.push(app.register(&format!("p{i:02}")).await);
    }
    let names: Vec<String> = people.iter().map(|p| p.username.clone()).collect();
    let room = group(app, &ann, &names).await;
    let id = send(app, &ann, &room, "vote").await;
    let adds = people.iter().flat_map(|who| ["👍", "🎉"].map(move |r| (who, r))).map(|(who, reaction)| {
        let room = room.clone();
        async move { react(app, who, &room, id, reaction).await.status.as_u16() }
    });
    let added = join_all(adds).await;
    assert!(added.iter().all(|s| *s == 204), "{added:?}");
    let seen = message(app, &ann, &room, id).await;
    for (i, reaction) in ["🎉", "👍"].iter().enumerate() {
        assert_eq!(seen["reactions"][i]["reaction"], *reaction, "{seen}");
        assert_eq!(seen["reactions"][i]["count"], 15, "{seen}");
        let users = seen["reactions"][i]["users"].as_array().unwrap();
        assert_eq!(users.len(), 10, "{seen}");
        assert!(users.windows(2).all(|w| w[0].as_str() < w[1].as_str()), "users in name order: {seen}");
    }
    // Everyone, listed or not, is told the reactions are theirs.
    for who in &people {
        assert_eq!(message(app, who, &room, id).await["my_reactions"], json!(["🎉", "👍"]), "{}", who.username);
    }
    assert_eq!(seen["my_reactions"], json!([]));

    let removes = people.iter().take(12).map(|who| {
        let room = room.clone();
        async move { unreact(app, who, &room, id, "🎉").await.status.as_u16() }
    });
    let removed = join_all(removes).await;
    assert!(removed.iter().all(|s| *s == 204), "{removed:?}");
    let seen = message(app, &ann, &room, id).await;
    assert_eq!(seen["reactions"][0], json!({"reaction": "👍", "count": 15, "users": seen["reactions"][0]["users"]}));
    assert_eq!(seen["reactions"][1]["count"], 3, "{seen}");
    assert_eq!(message(app, &people[0], &room, id).await["my_reactions"], json!(["👍"]));
    assert_eq!(message(app, &people[14], &room, id).await["my_reactions"], json!(["👍", "🎉"]));
}

async fn caps_and_bad_reactions_are_refused(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let dee = app.register("dee").await;
    let room = group(app, &ann, &["bob".into(), "cat".into()]).await;
    let id = send(app, &ann, &room, "react to me").await;
    let raw = |segment: &str| format!("/conversations/{room}/messages/{id}/reactions/{segment}");

    // 64 bytes pass; 65 do not; nor 17 four-byte emoji (68 bytes).
    react(app, &ann, &room, id, &"x".repeat(64)).await.assert_status(204);
    react(app, &ann, &room, id, &"x".repeat(65)).await.assert_problem(400, "invalid_request");
    react(app, &ann, &room, id, &"😀".repeat(17)).await.assert_problem(400, "invalid_request");
    // Not UTF-8 once decoded, whitespace, control and invisible format characters.
    for segment in ["%FF", "%F0%9F", "%C3", "a%20b", "%09", "%07", "%E2%80%8B", "%E2%80%AE", "%C2%A0"] {
        let reply = app.call("PUT", &raw(segment), Some(&ann.access), None).await;
        reply.assert_problem(400, "invalid_request");
        app.call("DELETE", &raw(segment), Some(&ann.access), None).await.assert_problem(400, "invalid_request");
    }
    // An empty segment names no route (API Gateway's own 404).
    assert_eq!(app.call("PUT", &raw(""), Some(&ann.access), None).await.status, 404);
    let mut socket = app.socket(&ann).await;
    for reaction in ["", "a b", "\u{7}", &"y".repeat(65)] {
        let frame = json!({"conversation_id": room, "message_id": id, "reaction": reaction});
        let answer = socket.request("add_reaction", frame).await;
        assert_eq!(
            (answer["success"].as_bool(), answer["code"].as_str()),
            (Some(false), Some("invalid_request")),
            "{answer}"
        );
    }
    let answer = socket.request("add_reaction", json!({"conversation_id": room, "message_id": id})).await;
    assert_eq!(answer["code"], "invalid_request", "{answer}");
    socket.close().await;

    // Unknown messages, non-members.
    react(app, &ann, &room, id + 100, "👍").await.assert_problem(404, "not_found");
    unreact(app, &ann, &room, id + 100, "👍").await.assert_problem(404, "not_found");
    app.call("PUT", &format!("/conversations/{room}/messages/x/reactions/a"), Some(&ann.access), None)
        .await
        .assert_problem(404, "not_found");
    react(app, &dee, &room, id, "👍").await.assert_problem(404, "not_found");
    unreact(app, &dee, &room, id, "👍").await.assert_problem(404, "not_found");
    react(app, &dee, &room, id + 100, "👍").await.assert_problem(404, "not_found");

    // 20 distinct reactions of one member, then 409; others still react.
    for k in 1..20 {
        react(app, &ann, &room, id, &format!(":a{k}:")).await.assert_status(204);
    }
    react(app, &ann, &room, id, ":a20:").await.assert_problem(409, "too_many_reactions");
    // Adding one ann has is still no change at her cap.
    react(app, &ann, &room, id, ":a1:").await.assert_status(204);
    // 50 distinct on the message in all: ann 20, bob 20, cat 10; the 51st distinct is refused,
    // but a reaction already there is not.
    for k in 0..20 {
        react(app, &bob, &room, id, &format!(":b{k}:")).await.assert_status(204);
    }
    for k in 0..10 {
        react(app, &cat, &room, id, &format!(":c{k}:")).await.assert_status(204);
    }
    react(app, &cat, &room, id, ":c10:").await.assert_problem(409, "too_many_reactions");
    react(app, &cat, &room, id, ":a1:").await.assert_status(204);
    let seen = message(app, &ann, &room, id).await;
    assert_eq!(seen["reactions"].as_array().unwrap().len(), 50);
    assert_eq!(seen["reactions"][0], json!({"reaction": ":a1:", "count": 2, "users": ["ann", "cat"]}));
    assert_eq!(seen["my_reactions"].as_array().unwrap().len(), 20);
    // The message item stays small: the whole history answer is far inside 128 KB.
    let history = app.get(&format!("/conversations/{room}/messages"), &ann.access).await;
    assert!(history.text.len() < 16 * 1024, "{} bytes", history.text.len());
    // Removing one frees a place.
    unreact(app, &bob, &room, id, ":b0:").await.assert_status(204);
    react(app, &cat, &room, id, ":c10:").await.assert_status(204);

    // A deleted message: no reactions, no new ones; removing is no change.
    app.delete(&format!("/conversations/{room}/messages/{id}"), &ann.access).await.assert_status(204);
    react(app, &bob, &room, id, "👍").await.assert_problem(409, "message_deleted");
    unreact(app, &bob, &room, id, ":b1:").await.assert_status(204);
    let tombstone = message(app, &bob, &room, id).await;
    assert_eq!((&tombstone["reactions"], &tombstone["my_reactions"]), (&json!([]), &json!([])), "{tombstone}");
    // A deleted message's reactions do not count against a member's cap elsewhere.
    let other = send(app, &ann, &room, "another").await;
    react(app, &ann, &room, other, "👍").await.assert_status(204);
}

async fn pin(app: &TestApp, who: &Session, conversation: &str, message: i64) -> Reply {
    app.call("PUT", &format!("/conversations/{conversation}/pins/{message}"), Some(&who.access), None).await
}

async fn pins(app: &TestApp, who: &Session, conversation: &str) -> Vec<i64> {
    let listed = app.get(&format!("/conversations/{conversation}/pins"), &who.access).await;
    listed.assert_status(200)["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

async fn pins_are_listed_newest_first_and_a_delete_clears_pin_and_reactions(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let dee = app.register("dee").await;
    let room = group(app, &ann, &["bob".into()]).await;
    let mut ids = Vec::new();
    for k in 0..52 {
        ids.push(send(app, if k % 2 == 0 { &ann } else { &bob }, &room, &format!("m{k}")).await);
        app.clock.advance_ms(1_000);
    }
    assert_eq!(pins(app, &ann, &room).await, Vec::<i64>::new());

    let mut watcher = app.socket(&ann).await;
    pin(app, &bob, &room, ids[3]).await.assert_status(204);
    assert_eq!(
        watcher.event("message_pinned").await["data"],
        json!({"conversation_id": room, "message_id": ids[3], "username": "bob"})
    );
    app.clock.advance_ms(1_000);
    pin(app, &ann, &room, ids[1]).await.assert_status(204);
    // Again: no change, no push.
    pin(app, &bob, &room, ids[3]).await.assert_status(204);
    watcher.event("message_pinned").await;
    watcher.no_event("message_pinned", Duration::from_millis(300)).await;
    // Most recently pinned first, as messages (with the caller's reactions).
    react(app, &bob, &room, ids[3], "📌").await.assert_status(204);
    let listed = app.get(&format!("/conversations/{room}/pins"), &bob.access).await;
    let items = listed.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>(), [ids[1], ids[3]]);
    assert!(items.iter().all(|m| m["pinned"] == true), "{items:?}");
    assert_eq!(items[1]["my_reactions"], json!(["📌"]));
    assert_eq!(message(app, &ann, &room, ids[3]).await["pinned"], true);
    assert_eq!(message(app, &ann, &room, ids[2]).await["pinned"], false);

    // Unpin: a push, `pinned` false; again: no change.
    app.delete(&format!("/conversations/{room}/pins/{}", ids[1]), &bob.access).await.assert_status(204);
    assert_eq!(watcher.event("message_unpinned").await["data"]["message_id"], ids[1]);
    app.delete(&format!("/conversations/{room}/pins/{}", ids[1]), &bob.access).await.assert_status(204);
    watcher.no_event("message_unpinned", Duration::from_millis(300)).await;
    assert_eq!(message(app, &ann, &room, ids[1]).await["pinned"], false);
    assert_eq!(pins(app, &ann, &room).await, [ids[3]]);

    // At most 50: the 51st is refused until one goes.
    for (k, id) in ids.iter().enumerate().filter(|(k, _)| *k != 3).take(49) {
        app.clock.advance_ms(1_000);
        pin(app, if k % 2 == 0 { &ann } else { &bob }, &room, *id).await.assert_status(204);
    }
    let listed = pins(app, &ann, &room).await;
    assert_eq!((listed.len(), listed.last()), (50, Some(&ids[3])));
    pin(app, &ann, &room, ids[51]).await.assert_problem(409, "too_many_pins");
    // Deleting a pinned message unpins it (and clears its reactions): a place frees.
    app.delete(&format!("/conversations/{room}/messages/{}", ids[3]), &bob.access).await.assert_status(204);
    let tombstone = message(app, &ann, &room, ids[3]).await;
    assert_eq!((&tombstone["pinned"], &tombstone["reactions"]), (&json!(false), &json!([])));
    assert!(!pins(app, &ann, &room).await.contains(&ids[3]));
    pin(app, &ann, &room, ids[51]).await.assert_status(204);
    assert_eq!(pins(app, &ann, &room).await[0], ids[51]);
    // A deleted message is not pinned; unpinning it is no change.
    pin(app, &ann, &room, ids[3]).await.assert_problem(409, "message_deleted");
    app.delete(&format!("/conversations/{room}/pins/{}", ids[3]), &ann.access).await.assert_status(204);

    // Non-members and unknown messages: 404.
    pin(app, &dee, &room, ids[0]).await.assert_problem(404, "not_found");
    app.delete(&format!("/conversations/{room}/pins/{}", ids[0]), &dee.access).await.assert_problem(404, "not_found");
    app.get(&format!("/conversations/{room}/pins"), &dee.access).await.assert_problem(404, "not_found");
    pin(app, &ann, &room, 9_999).await.assert_problem(404, "not_found");
    app.call("PUT", &format!("/conversations/{room}/pins/x"), Some(&ann.access), None)
        .await
        .assert_problem(404, "not_found");
    watcher.close().await;
}

async fn the_blocked_side_of_a_direct_conversation_neither_reacts_nor_pins(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let direct = app.post("/conversations", Some(&ann.access), json!({"members": ["bob"]})).await;
    let direct = direct.assert_status(201)["id"].as_str().unwrap().to_owned();
    let id = send(app, &ann, &direct, "hi").await;
    react(app, &bob, &direct, id, "👋").await.assert_status(204);
    app.call("PUT", "/users/me/blocks/bob", Some(&ann.access), None).await.assert_status(204);
    let mut anns = app.socket(&ann).await;
    react(app, &bob, &direct, id, "👍").await.assert_problem(403, "blocked");
    pin(app, &bob, &direct, id).await.assert_problem(403, "blocked");
    let mut bobs = app.socket(&bob).await;
    let answer =
        bobs.request("add_reaction", json!({"conversation_id": direct, "message_id": id, "reaction": "👍"})).await;
    assert_eq!(answer["code"], "blocked", "{answer}");
    // Taking one's own reaction back is still allowed.
    unreact(app, &bob, &direct, id, "👋").await.assert_status(204);
    anns.no_event("reaction_added", Duration::from_millis(300)).await;
    assert_eq!(message(app, &ann, &direct, id).await["reactions"], json!([]));
    // The blocker is not stopped.
    react(app, &ann, &direct, id, "👍").await.assert_status(204);
    pin(app, &ann, &direct, id).await.assert_status(204);
    bobs.close().await;
    anns.close().await;
}

/// The feed's changes arrive off the request path: polls (bounded) until `wanted` says so.
async fn changes_until(app: &TestApp, who: &Session, cursor: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut changes = Vec::new();
    for _ in 0..100 {
        let page = app.get(&format!("/sync?since={cursor}"), &who.access).await;
        changes = page.assert_status(200)["changes"].as_array().unwrap().clone();
        if wanted(&changes) {
            return changes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the feed never said so: {changes:?}");
}

async fn the_sync_feed_reports_reactions_and_pins_as_they_are(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let room = group(app, &ann, &["bob".into()]).await;
    let id = send(app, &ann, &room, "remember this").await;
    let cursor = app.get("/sync", &bob.access).await.assert_status(200)["next_cursor"].as_str().unwrap().to_owned();
    react(app, &ann, &room, id, "👍").await.assert_status(204);
    pin(app, &ann, &room, id).await.assert_status(204);
    let has = |kind: &'static str| move |changes: &[Value]| changes.iter().any(|c| c["type"] == kind);
    let changes = changes_until(app, &bob, &cursor, has("message_pinned")).await;
    let changes = if has("reaction_added")(&changes) {
        changes
    } else {
        changes_until(app, &bob, &cursor, has("reaction_added")).await
    };
    let added = changes.iter().find(|c| c["type"] == "reaction_added").unwrap();
    assert_eq!(
        added["data"],
        json!({"conversation_id": room, "message_id": id, "reaction": "👍", "username": "ann", "count": 1})
    );
    let pinned = changes.iter().find(|c| c["type"] == "message_pinned").unwrap();
    assert_eq!(pinned["data"], json!({"conversation_id": room, "message_id": id, "username": "ann"}));
    // Neither is an edit.
    assert!(!changes.iter().any(|c| c["type"] == "message_edited"), "{changes:?}");

    // Taken back: the feed says how things are now (applying a change twice is harmless).
    unreact(app, &ann, &room, id, "👍").await.assert_status(204);
    app.delete(&format!("/conversations/{room}/pins/{id}"), &ann.access).await.assert_status(204);
    let changes = changes_until(app, &bob, &cursor, |changes| {
        changes.iter().any(|c| c["type"] == "reaction_removed")
            && changes.iter().any(|c| c["type"] == "message_unpinned")
    })
    .await;
    let removed = changes.iter().find(|c| c["type"] == "reaction_removed").unwrap();
    assert_eq!(removed["data"]["count"], 0);
    assert!(!changes.iter().any(|c| c["type"] == "reaction_added" || c["type"] == "message_pinned"), "{changes:?}");
}
