//! End to end: devices and notification settings over real HTTP through the local gateway, on
//! the embedded store and on DynamoDB Local.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{Session, TestApp};

on_both_stores!(
    a_device_registers_refreshes_lists_and_goes,
    device_input_is_checked,
    a_token_moves_to_the_device_that_registers_it_last,
    devices_end_with_the_session_that_registered_them,
    a_user_keeps_at_most_twenty_devices,
    notification_settings_are_per_member_and_shown_to_them_alone,
    mentions_name_members_and_are_kept_with_the_message,
    a_message_reaches_the_phones_of_members_who_are_away,
    levels_mutes_mentions_and_replies_decide_who_hears,
    the_badge_is_every_unread_message_outside_silenced_rooms,
    being_added_is_pushed_and_a_rejected_token_disables_the_device,
    a_phone_that_logs_out_hears_nothing_more,
);

fn fcm(token: &str) -> Value {
    json!({"platform": "fcm", "token": token})
}

async fn put_device(app: &TestApp, who: &Session, device_id: &str, body: Value) -> support::Reply {
    app.call("PUT", &format!("/devices/{device_id}"), Some(&who.access), Some(body)).await
}

async fn device_ids(app: &TestApp, who: &Session) -> Vec<String> {
    let list = app.get("/devices", &who.access).await;
    let items = list.assert_status(200)["items"].as_array().unwrap().clone();
    items.iter().map(|d| d["device_id"].as_str().unwrap().to_owned()).collect()
}

async fn a_device_registers_refreshes_lists_and_goes(app: &TestApp) {
    let ann = app.register("ann").await;
    assert!(device_ids(app, &ann).await.is_empty());

    let body = json!({"platform": "apns", "token": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "app_version": "2.1.0", "locale": "fr-FR"});
    let first = put_device(app, &ann, "iphone-15", body).await;
    let device = first.assert_status(200).clone();
    assert_eq!(device["device_id"], "iphone-15");
    assert_eq!(device["platform"], "apns");
    // Only the end of the token is ever shown.
    assert_eq!(device["token_suffix"], "6d7e8f90");
    assert!(!first.text.contains("a1b2c3d4e5f6"), "the whole token must not come back: {}", first.text);
    assert_eq!(device["app_version"], "2.1.0");
    assert_eq!(device["locale"], "fr-FR");
    assert_eq!(device["enabled"], true);
    assert_eq!(device["created_at"], device["updated_at"]);

    // Registering again refreshes it: same device, same creation time, later update, new token.
    app.clock.advance_ms(5_000);
    let again = put_device(app, &ann, "iphone-15", json!({"platform": "apns", "token": "ffffffff00000000"})).await;
    let again = again.assert_status(200).clone();
    assert_eq!(again["created_at"], device["created_at"]);
    assert_eq!(again["updated_at"].as_i64().unwrap(), device["updated_at"].as_i64().unwrap() + 5_000);
    assert_eq!(again["token_suffix"], "00000000");
    assert_eq!(again["app_version"], Value::Null);

    put_device(app, &ann, "pixel", fcm("fcm-token-of-the-pixel")).await.assert_status(200);
    // Most recently registered first.
    assert_eq!(device_ids(app, &ann).await, ["pixel", "iphone-15"]);
    let listed = app.get("/devices", &ann.access).await.json["items"][1].clone();
    assert_eq!(listed, again);

    // Another user sees none of them, and cannot remove them.
    let bob = app.register("bob").await;
    assert!(device_ids(app, &bob).await.is_empty());
    app.delete("/devices/pixel", &bob.access).await.assert_problem(404, "not_found");

    app.delete("/devices/pixel", &ann.access).await.assert_status(204);
    app.delete("/devices/pixel", &ann.access).await.assert_problem(404, "not_found");
    assert_eq!(device_ids(app, &ann).await, ["iphone-15"]);

    // The removed token is free again: registering it elsewhere takes nothing from anyone.
    put_device(app, &bob, "bobs-phone", fcm("fcm-token-of-the-pixel")).await.assert_status(200);
    assert_eq!(device_ids(app, &ann).await, ["iphone-15"]);
}

async fn device_input_is_checked(app: &TestApp) {
    let cyd = app.register("cyd").await;
    let cases = [
        ("phone", json!({"platform": "windows", "token": "abc"})),
        ("phone", json!({"platform": "fcm", "token": ""})),
        ("phone", json!({"platform": "fcm", "token": "t".repeat(4097)})),
        ("phone", json!({"platform": "fcm", "token": "has space"})),
        ("phone", json!({"platform": "fcm", "token": "new\nline"})),
        ("phone", json!({"platform": "fcm"})),
        ("phone", json!({"token": "abc"})),
        ("phone", json!({"platform": "fcm", "token": 42})),
        ("phone", json!({"platform": "fcm", "token": "abc", "app_version": "v".repeat(65)})),
        ("phone", json!({"platform": "fcm", "token": "abc", "locale": "en\u{7}"})),
        ("phone", json!("{not json")),
        ("a.b", fcm("abc")),
        (&"d".repeat(65), fcm("abc")),
        ("caf%C3%A9", fcm("abc")),
    ];
    for (device_id, body) in cases {
        put_device(app, &cyd, device_id, body.clone()).await.assert_problem(400, "invalid_request");
    }
    // The longest token and id are fine.
    put_device(app, &cyd, &"d".repeat(64), fcm(&"t".repeat(4096))).await.assert_status(200);
    assert_eq!(device_ids(app, &cyd).await, ["d".repeat(64)]);
    // Without a token, nothing at all.
    let anonymous = app.call("PUT", "/devices/phone", None, Some(fcm("abc"))).await;
    anonymous.assert_problem(401, "unauthorized");
    let bad = app.call("PUT", "/devices/phone", Some("not-a-token"), Some(fcm("abc"))).await;
    assert_eq!(bad.status, 401);
}

async fn a_token_moves_to_the_device_that_registers_it_last(app: &TestApp) {
    let dee = app.register("dee").await;
    let eve = app.register("eve").await;
    put_device(app, &dee, "old-phone", fcm("shared-token")).await.assert_status(200);
    put_device(app, &dee, "tablet", fcm("tablet-token")).await.assert_status(200);

    // The app was reinstalled: a new installation id, the same token.
    put_device(app, &dee, "new-phone", fcm("shared-token")).await.assert_status(200);
    let mut mine = device_ids(app, &dee).await;
    mine.sort();
    assert_eq!(mine, ["new-phone", "tablet"]);

    // The phone changed hands: eve signs in on it, and the token is hers now.
    put_device(app, &eve, "phone", fcm("shared-token")).await.assert_status(200);
    assert_eq!(device_ids(app, &dee).await, ["tablet"]);
    assert_eq!(device_ids(app, &eve).await, ["phone"]);

    // A device that changes its token gives the old one up: dee can take it without touching eve.
    put_device(app, &eve, "phone", fcm("rotated-token")).await.assert_status(200);
    put_device(app, &dee, "tablet", fcm("shared-token")).await.assert_status(200);
    assert_eq!(device_ids(app, &eve).await, ["phone"]);
    assert_eq!(device_ids(app, &dee).await, ["tablet"]);
}

async fn devices_end_with_the_session_that_registered_them(app: &TestApp) {
    let fay = app.register("fay").await;
    let phone = app.another_session(&fay).await;
    let laptop = app.another_session(&fay).await;
    let tablet = app.another_session(&fay).await;
    put_device(app, &fay, "first", fcm("token-first")).await.assert_status(200);
    put_device(app, &phone, "phone", fcm("token-phone")).await.assert_status(200);
    put_device(app, &laptop, "laptop", fcm("token-laptop")).await.assert_status(200);
    put_device(app, &tablet, "tablet", fcm("token-tablet")).await.assert_status(200);

    // Logging out of one session takes its device, and only its.
    app.post("/auth/logout", Some(&phone.access), json!({})).await.assert_status(204);
    let mut left = device_ids(app, &fay).await;
    left.sort();
    assert_eq!(left, ["first", "laptop", "tablet"]);
    // Its access token still works on REST for minutes, but binds no phone to the dead session.
    put_device(app, &phone, "phone", fcm("token-phone")).await.assert_problem(401, "unauthorized");
    assert!(!device_ids(app, &fay).await.contains(&"phone".to_owned()));

    // Refresh-token reuse ends the tablet's session, and its device.
    let rotated = app.post("/auth/refresh", None, json!({"refresh_token": tablet.refresh})).await;
    rotated.assert_status(200);
    app.post("/auth/refresh", None, json!({"refresh_token": tablet.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    let mut left = device_ids(app, &fay).await;
    left.sort();
    assert_eq!(left, ["first", "laptop"]);

    // A password change ends every other session: only the changer's device stays.
    app.patch(
        "/users/me",
        &laptop.access,
        json!({"current_password": "fay-password", "new_password": "fay-new-password"}),
    )
    .await
    .assert_status(200);
    assert_eq!(device_ids(app, &laptop).await, ["laptop"]);

    // Logging out of everything leaves nothing.
    app.post("/auth/logout", Some(&laptop.access), json!({"all": true})).await.assert_status(204);
    assert!(device_ids(app, &laptop).await.is_empty());
}

async fn a_user_keeps_at_most_twenty_devices(app: &TestApp) {
    let gus = app.register("gus").await;
    for i in 0..20 {
        put_device(app, &gus, &format!("d{i:02}"), fcm(&format!("token-{i}"))).await.assert_status(200);
        app.clock.advance_ms(1_000);
    }
    // Refreshing the oldest makes it the newest.
    put_device(app, &gus, "d00", fcm("token-0")).await.assert_status(200);
    app.clock.advance_ms(1_000);
    assert_eq!(device_ids(app, &gus).await.len(), 20);
    // The 21st drops the least recently registered: d01 now.
    put_device(app, &gus, "d20", fcm("token-20")).await.assert_status(200);
    let ids = device_ids(app, &gus).await;
    assert_eq!(ids.len(), 20);
    assert_eq!(ids[0], "d20");
    assert!(ids.contains(&"d00".to_owned()) && !ids.contains(&"d01".to_owned()), "{ids:?}");
    // d01's token went with it: another device may take it without dropping anything.
    put_device(app, &gus, "d02", fcm("token-1")).await.assert_status(200);
    assert_eq!(device_ids(app, &gus).await.len(), 20);
}

async fn notification_settings_are_per_member_and_shown_to_them_alone(app: &TestApp) {
    let hal = app.register("hal").await;
    let ida = app.register("ida").await;
    let jon = app.register("jon").await;
    let created = app.post("/conversations", Some(&hal.access), json!({"name": "Team", "members": ["ida"]})).await;
    let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let path = format!("/conversations/{id}/notifications");

    // Before anything is chosen, the defaults.
    let defaults = json!({"level": "default", "muted_until": null});
    assert_eq!(app.get(&format!("/conversations/{id}"), &hal.access).await.json["notifications"], defaults);

    let until = app.clock_now() + 3_600_000;
    let set = app.call("PUT", &path, Some(&hal.access), Some(json!({"level": "mentions", "muted_until": until}))).await;
    assert_eq!(set.assert_status(200), &json!({"level": "mentions", "muted_until": until}));
    let mine = app.get(&format!("/conversations/{id}"), &hal.access).await;
    assert_eq!(mine.json["notifications"], json!({"level": "mentions", "muted_until": until}));
    let list = app.get("/conversations", &hal.access).await;
    assert_eq!(list.json["items"][0]["notifications"], json!({"level": "mentions", "muted_until": until}));
    // The other member's settings are their own.
    assert_eq!(app.get(&format!("/conversations/{id}"), &ida.access).await.json["notifications"], defaults);
    assert_eq!(app.get("/conversations", &ida.access).await.json["items"][0]["notifications"], defaults);

    // A whole number written with a fraction of zero is an integer too (JSON Schema's rule).
    let written = format!("{{\"level\": \"mentions\", \"muted_until\": {until}.0}}");
    let float = app.call("PUT", &path, Some(&hal.access), Some(Value::String(written))).await;
    assert_eq!(float.assert_status(200), &json!({"level": "mentions", "muted_until": until}));

    // The body is the whole setting: no muted_until unmutes.
    let none = app.call("PUT", &path, Some(&hal.access), Some(json!({"level": "none"}))).await;
    assert_eq!(none.assert_status(200), &json!({"level": "none", "muted_until": null}));
    let back = app.call("PUT", &path, Some(&hal.access), Some(json!({"level": "default", "muted_until": null}))).await;
    assert_eq!(back.assert_status(200), &defaults);
    assert_eq!(app.get(&format!("/conversations/{id}"), &hal.access).await.json["notifications"], defaults);

    // Members only; bad input is 400.
    app.call("PUT", &path, Some(&jon.access), Some(json!({"level": "all"}))).await.assert_problem(404, "not_found");
    let unknown = "/conversations/01JD0000000000000000000000/notifications";
    app.call("PUT", unknown, Some(&hal.access), Some(json!({"level": "all"}))).await.assert_problem(404, "not_found");
    for bad in [
        json!({"level": "loud"}),
        json!({}),
        json!({"level": "all", "muted_until": -1}),
        json!({"level": "all", "muted_until": "tomorrow"}),
        json!({"level": "all", "muted_until": 1.5}),
        json!("{not json"),
    ] {
        app.call("PUT", &path, Some(&hal.access), Some(bad)).await.assert_problem(400, "invalid_request");
    }
}

async fn mentions_name_members_and_are_kept_with_the_message(app: &TestApp) {
    let kim = app.register("kim").await;
    app.register("lea").await;
    app.register("max").await;
    let created =
        app.post("/conversations", Some(&kim.access), json!({"name": "Room", "members": ["lea", "max"]})).await;
    let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let messages = format!("/conversations/{id}/messages");

    let sent =
        app.post(&messages, Some(&kim.access), json!({"content": "@Lea @max look", "mentions": ["Lea", "max"]})).await;
    assert_eq!(sent.assert_status(201)["mentions"], json!(["lea", "max"]));
    let plain = app.post(&messages, Some(&kim.access), json!({"content": "no one"})).await;
    assert_eq!(plain.assert_status(201)["mentions"], json!([]));
    let history = app.get(&messages, &kim.access).await;
    let mentions: Vec<Value> =
        history.json["messages"].as_array().unwrap().iter().map(|m| m["mentions"].clone()).collect();
    assert_eq!(mentions, [json!(["lea", "max"]), json!([])]);

    // Over the WebSocket too.
    let mut socket = app.socket(&kim).await;
    let answer =
        socket.request("send_message", json!({"conversation_id": id, "content": "hi", "mentions": ["lea"]})).await;
    assert_eq!(answer["data"]["mentions"], json!(["lea"]), "{answer}");
    let refused =
        socket.request("send_message", json!({"conversation_id": id, "content": "hi", "mentions": ["nobody"]})).await;
    assert_eq!(refused["code"], "invalid_request", "{refused}");
    socket.close().await;

    // Only members, each once, at most 50, and nothing is stored when refused.
    let many: Vec<String> = (0..51).map(|i| format!("user{i}")).collect();
    for bad in [
        json!({"content": "x", "mentions": ["nobody"]}),
        json!({"content": "x", "mentions": ["lea", "lea"]}),
        json!({"content": "x", "mentions": ["lea", "LEA"]}),
        json!({"content": "x", "mentions": ["no spaces"]}),
        json!({"content": "x", "mentions": "lea"}),
        json!({"content": "x", "mentions": [7]}),
        json!({"content": "x", "mentions": many}),
    ] {
        app.post(&messages, Some(&kim.access), bad).await.assert_problem(400, "invalid_request");
    }
    let after = app.get(&messages, &kim.access).await;
    assert_eq!(after.json["messages"].as_array().unwrap().len(), 3);

    // A deleted message keeps no mentions.
    let first = sent.json["id"].as_i64().unwrap();
    app.delete(&format!("{messages}/{first}"), &kim.access).await.assert_status(204);
    let history = app.get(&messages, &kim.access).await;
    assert_eq!(history.json["messages"][0]["mentions"], json!([]));
}

/// Past the 2 minutes a member counts as active after sending, reading or typing.
const AWAY_MS: i64 = 2 * 60 * 1000 + 1_000;

async fn settled(app: &TestApp, username: &str, published: usize, skipped: usize) -> (Vec<Value>, Vec<Value>) {
    app.settled_pushes(username, published, skipped).await
}

async fn group(app: &TestApp, owner: &Session, name: &str, members: &[&str]) -> String {
    let created = app.post("/conversations", Some(&owner.access), json!({"name": name, "members": members})).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Session, conversation: &str, body: Value) -> i64 {
    let sent = app.post(&format!("/conversations/{conversation}/messages"), Some(&who.access), body).await;
    sent.assert_status(201)["id"].as_i64().unwrap()
}

async fn a_message_reaches_the_phones_of_members_who_are_away(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    put_device(app, &ann, "ann-phone", fcm("ann-token")).await.assert_status(200);
    put_device(app, &bob, "bob-phone", json!({"platform": "apns", "token": "bob-token"})).await.assert_status(200);
    put_device(app, &cat, "cat-phone", fcm("cat-token")).await.assert_status(200);
    // The group is created before anyone's phone counts: its "added you" alerts are not this test's.
    let room = group(app, &ann, "Team", &["bob", "cat"]).await;
    settled(app, "bob", 1, 0).await;
    settled(app, "cat", 1, 0).await;
    // Cat has the app open on the phone: its session has a socket.
    let cat_socket = app.socket(&cat).await;

    let id = send(app, &ann, &room, json!({"content": "hello"})).await;
    let (bob_items, _) = settled(app, "bob", 2, 0).await;
    let alert = &bob_items[1];
    assert_eq!(alert["kind"], "alert");
    assert_eq!(alert["device_id"], "bob-phone");
    assert_eq!(alert["platform"], "apns");
    assert_eq!(alert["title"], "Team");
    assert_eq!(alert["body"], "ann: hello");
    assert_eq!(alert["badge"], 1);
    assert_eq!(alert["conversation_id"], room.as_str());
    assert_eq!(alert["thread_id"], room.as_str());
    assert_eq!(alert["message_id"], id);
    assert_eq!(alert["sender_username"], "ann");
    let (_, cat_skips) = settled(app, "cat", 1, 1).await;
    assert_eq!(
        (cat_skips[0]["reason"].as_str(), cat_skips[0]["device_id"].as_str()),
        (Some("online"), Some("cat-phone"))
    );
    let (ann_items, ann_skips) = settled(app, "ann", 0, 1).await;
    assert!(ann_items.is_empty());
    assert_eq!(ann_skips[0]["reason"], "sender");

    // Bob opens a browser tab (another session): his phone's session has no socket, so it buzzes.
    let bob_laptop = app.another_session(&bob).await;
    let tab = app.socket(&bob_laptop).await;
    send(app, &ann, &room, json!({"content": "still there?"})).await;
    let (bob_items, _) = settled(app, "bob", 3, 0).await;
    assert_eq!(bob_items[2]["badge"], 2);

    // Bob reads on the laptop: his phone gets a silent badge update, and stays quiet while he chats.
    let read =
        app.post(&format!("/conversations/{room}/read"), Some(&bob_laptop.access), json!({"message_id": id + 1})).await;
    read.assert_status(204);
    let (bob_items, _) = settled(app, "bob", 4, 0).await;
    assert_eq!((bob_items[3]["kind"].as_str(), bob_items[3]["badge"].as_i64()), (Some("badge"), Some(0)));
    assert_eq!(bob_items[3]["title"], Value::Null);
    send(app, &ann, &room, json!({"content": "great"})).await;
    let (_, skips) = settled(app, "bob", 4, 1).await;
    assert_eq!(skips[0]["reason"], "active");

    // Two minutes later he has wandered off: the phone buzzes again.
    app.clock.advance_ms(AWAY_MS);
    send(app, &ann, &room, json!({"content": "ping"})).await;
    let (bob_items, _) = settled(app, "bob", 5, 1).await;
    assert_eq!((bob_items[4]["body"].as_str(), bob_items[4]["badge"].as_i64()), (Some("ann: ping"), Some(2)));
    tab.close().await;
    cat_socket.close().await;
}

async fn levels_mutes_mentions_and_replies_decide_who_hears(app: &TestApp) {
    let ann = app.register("ann").await;
    let mut phones = Vec::new();
    for name in ["bob", "cat", "dan", "eve"] {
        let who = app.register(name).await;
        put_device(app, &who, &format!("{name}-phone"), fcm(&format!("{name}-token"))).await.assert_status(200);
        phones.push(who);
    }
    let [bob, cat, dan] = [&phones[0], &phones[1], &phones[2]];
    let room = group(app, &ann, "Levels", &["bob", "cat", "dan", "eve"]).await;
    for name in ["bob", "cat", "dan", "eve"] {
        settled(app, name, 1, 0).await;
    }
    let set = |who: &Session, body: Value| {
        let path = format!("/conversations/{room}/notifications");
        let access = who.access.clone();
        async move { app.call("PUT", &path, Some(&access), Some(body)).await.assert_status(200).clone() }
    };
    set(bob, json!({"level": "mentions"})).await;
    set(cat, json!({"level": "none"})).await;
    set(dan, json!({"level": "all", "muted_until": app.clock_now() + 3 * 60 * 1000})).await;
    // Each setting changed what counts in the badge: a silent update each (eve chose nothing).
    for name in ["bob", "cat", "dan"] {
        settled(app, name, 2, 0).await;
    }

    send(app, &ann, &room, json!({"content": "plain"})).await;
    let reason = |skips: &[Value], i: usize| skips[i]["reason"].as_str().unwrap().to_owned();
    let (_, s) = settled(app, "bob", 2, 1).await;
    assert_eq!(reason(&s, 0), "level");
    let (_, s) = settled(app, "cat", 2, 1).await;
    assert_eq!(reason(&s, 0), "level");
    let (_, s) = settled(app, "dan", 2, 1).await;
    assert_eq!(reason(&s, 0), "muted");
    settled(app, "eve", 2, 0).await;

    // A mention reaches bob (mentions) but not cat (none) nor muted dan.
    send(app, &ann, &room, json!({"content": "@bob @cat @dan", "mentions": ["bob", "cat", "dan"]})).await;
    let (items, _) = settled(app, "bob", 3, 1).await;
    assert_eq!(items[2]["body"], "ann: @bob @cat @dan");
    settled(app, "cat", 2, 2).await;
    settled(app, "dan", 2, 2).await;
    settled(app, "eve", 3, 0).await;

    // A reply to one of bob's messages reaches him as a mention does.
    let bobs = send(app, bob, &room, json!({"content": "my point"})).await;
    app.clock.advance_ms(AWAY_MS);
    send(app, &ann, &room, json!({"content": "agreed", "reply_id": bobs})).await;
    let (_, bob_skips) = settled(app, "bob", 4, 2).await;
    assert_eq!(reason(&bob_skips, 1), "sender");
    let (_, dan_skips) = settled(app, "dan", 2, 4).await;
    assert_eq!((reason(&dan_skips, 2), reason(&dan_skips, 3)), ("muted".to_owned(), "muted".to_owned()));
    // Three minutes on, the mute is over: dan hears everything again.
    app.clock.advance_ms(AWAY_MS);
    send(app, &ann, &room, json!({"content": "after the mute"})).await;
    let (dan_items, _) = settled(app, "dan", 3, 4).await;
    assert_eq!(dan_items[2]["body"], "ann: after the mute");
}

async fn the_badge_is_every_unread_message_outside_silenced_rooms(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    app.register("cat").await;
    put_device(app, &bob, "phone", fcm("bob-token")).await.assert_status(200);
    let loud = group(app, &ann, "Loud", &["bob"]).await;
    let quiet = group(app, &ann, "Quiet", &["bob", "cat"]).await;
    let silent = group(app, &ann, "Silent", &["bob"]).await;
    settled(app, "bob", 3, 0).await;
    let level = |room: &str, level: &str| {
        let path = format!("/conversations/{room}/notifications");
        let access = bob.access.clone();
        let body = json!({"level": level});
        async move { app.call("PUT", &path, Some(&access), Some(body)).await.assert_status(200).clone() }
    };
    level(&quiet, "mentions").await;
    level(&silent, "none").await;
    settled(app, "bob", 5, 0).await;

    // Unread messages that were never pushed (mentions-only) count; a room at level none does not.
    send(app, &ann, &quiet, json!({"content": "q1"})).await;
    send(app, &ann, &quiet, json!({"content": "q2"})).await;
    send(app, &ann, &silent, json!({"content": "s1"})).await;
    settled(app, "bob", 5, 3).await;
    send(app, &ann, &loud, json!({"content": "l1"})).await;
    let (items, _) = settled(app, "bob", 6, 3).await;
    assert_eq!(items[5]["badge"], 3);
    // Exactly what GET /conversations shows him.
    let list = app.get("/conversations", &bob.access).await;
    let unread: i64 = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["notifications"]["level"] != "none")
        .map(|c| c["unread_count"].as_i64().unwrap())
        .sum();
    assert_eq!(unread, 3);
}

async fn being_added_is_pushed_and_a_rejected_token_disables_the_device(app: &TestApp) {
    let ann = app.register_with(json!({"username": "ann", "password": "ann-password", "fullname": "Ann Lee"})).await;
    let bob = app.register("bob").await;
    app.register("cat").await;
    put_device(app, &bob, "phone", fcm("bob-token")).await.assert_status(200);
    let room = group(app, &ann, "Plans", &["cat"]).await;
    let added =
        app.post(&format!("/conversations/{room}/members"), Some(&ann.access), json!({"usernames": ["bob"]})).await;
    added.assert_status(200);
    let (items, _) = settled(app, "bob", 1, 0).await;
    assert_eq!((items[0]["title"].as_str(), items[0]["body"].as_str()), (Some("Plans"), Some("Ann Lee added you")));
    assert_eq!(
        (items[0]["message_id"].clone(), items[0]["conversation_id"].as_str()),
        (Value::Null, Some(room.as_str()))
    );

    // The app was uninstalled: the platform rejects the token, and the device is disabled.
    let rejected = app.call("POST", "/_local/pushes/reject", None, Some(json!({"token": "bob-token"}))).await;
    rejected.assert_status(204);
    send(app, &ann, &room, json!({"content": "anyone?"})).await;
    let (_, skips) = settled(app, "bob", 1, 1).await;
    assert_eq!(skips[0]["reason"], "disabled");
    let devices = app.get("/devices", &bob.access).await;
    assert_eq!(devices.json["items"][0]["enabled"], false);
    send(app, &ann, &room, json!({"content": "hello?"})).await;
    let (_, skips) = settled(app, "bob", 1, 2).await;
    assert_eq!(skips[1]["reason"], "disabled");
    // Registering it again enables it.
    let again = put_device(app, &bob, "phone", fcm("bob-token-2")).await;
    assert_eq!(again.assert_status(200)["enabled"], true);
    send(app, &ann, &room, json!({"content": "there you are"})).await;
    let (items, _) = settled(app, "bob", 2, 2).await;
    assert_eq!(items[1]["token"], "bob-token-2");
}

async fn a_phone_that_logs_out_hears_nothing_more(app: &TestApp) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let phone = app.another_session(&bob).await;
    put_device(app, &phone, "phone", fcm("bob-token")).await.assert_status(200);
    let room = group(app, &ann, "Bye", &["bob"]).await;
    settled(app, "bob", 1, 0).await;
    app.post("/auth/logout", Some(&phone.access), json!({})).await.assert_status(204);
    send(app, &ann, &room, json!({"content": "gone?"})).await;
    // Bob's other session is still his; nothing goes to the logged-out phone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    settled(app, "bob", 1, 0).await;
}

/// A stream record the notify function cannot read (a message key without an id, as no code of
/// ours writes) never holds the stream: it is retried, given up, and the messages after it, in
/// its conversation and in others, still reach the phones. DynamoDB only: the record has to be on
/// the table's stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_notify_function_cannot_read_blocks_nothing() {
    let app = TestApp::dynamodb().await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    put_device(&app, &bob, "phone", fcm("bob-token")).await.assert_status(200);
    let first = group(&app, &ann, "First", &["bob"]).await;
    let second = group(&app, &ann, "Second", &["bob"]).await;
    settled(&app, "bob", 2, 0).await;

    let (endpoint, table) = app.table.clone().unwrap();
    let client = chathub_shared::store::dynamo::local_client(&endpoint).await;
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    client
        .put_item()
        .table_name(&table)
        .item("pk", s(&format!("CONV#{first}")))
        .item("sk", s("MSG#/poison"))
        .send()
        .await
        .unwrap();
    send(&app, &ann, &first, json!({"content": "after the poison"})).await;
    send(&app, &ann, &second, json!({"content": "elsewhere"})).await;
    let (items, _) = settled(&app, "bob", 4, 0).await;
    let bodies: Vec<&str> = items[2..].iter().map(|i| i["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["ann: after the poison", "ann: elsewhere"]);
    app.stop().await;
}
