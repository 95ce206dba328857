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
    parallel_guesses_are_counted_before_any_is_evaluated,
    the_owner_elsewhere_is_not_locked_out,
    one_source_spraying_many_usernames_is_throttled,
    current_password_guesses_are_throttled_like_logins,
    logout_closes_that_sessions_sockets_and_its_tokens_open_no_more,
    a_password_change_closes_the_other_sessions_sockets,
    refresh_token_reuse_closes_the_sessions_sockets,
    the_embedded_s3_server_takes_no_key_from_the_source,
    sends_beyond_the_per_user_limit_wait_for_the_next_window,
    typing_beyond_the_per_user_limit_is_refused,
    the_management_api_takes_only_signed_requests,
);

/// A second session of `who` (a login), as a `Session`.
async fn second_session(app: &TestApp, who: &Session) -> Session {
    let json = login_from(app, "127.0.0.1", &who.username, &who.password).await.assert_status(200).clone();
    Session {
        access: json["access_token"].as_str().unwrap().to_owned(),
        refresh: json["refresh_token"].as_str().unwrap().to_owned(),
        ..who.clone()
    }
}

/// The socket still works: it answers a request.
async fn alive(socket: &mut support::ws::WsClient) {
    let answer = socket.request("get_contacts", json!({})).await;
    assert_eq!(answer["success"], true, "{}: {answer}", socket.name);
}

async fn refused(app: &TestApp, token: &str) -> Option<u16> {
    support::ws::refused_status(&format!("{}/?token={token}", app.ws_url), None).await
}

/// A client whose requests come from `ip` (any 127.x address reaches the gateway on 127.0.0.1).
fn from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> support::Reply {
    let body = json!({"username": username, "password": password});
    app.send(from(ip).post(format!("{}/auth/login", app.url)).json(&body)).await
}

#[track_caller]
fn assert_throttled(reply: &support::Reply) {
    reply.assert_problem(429, "too_many_requests");
    let retry_after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "Retry-After {retry_after}");
}

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

/// Finding 4: the lockout read the count, hashed, then counted, so N parallel guesses all passed.
async fn parallel_guesses_are_counted_before_any_is_evaluated(app: &TestApp) {
    app.register("ida").await;
    let guesses =
        (0..20).map(|i| login_from(app, "127.0.0.2", "ida", if i % 2 == 0 { "wrong one" } else { "wrong two" }));
    let replies = futures_util::future::join_all(guesses).await;
    let evaluated = replies.iter().filter(|r| r.status == 401).count();
    let throttled: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(evaluated + throttled.len(), 20, "only 401s and 429s");
    assert!(evaluated <= 5, "{evaluated} of 20 parallel guesses were evaluated");
    assert!(evaluated >= 1);
    throttled.iter().for_each(|r| assert_throttled(r));
    assert_throttled(&login_from(app, "127.0.0.2", "ida", "ida-password").await);
}

/// Finding 3: five wrong passwords for a username from anywhere locked its owner out everywhere.
async fn the_owner_elsewhere_is_not_locked_out(app: &TestApp) {
    app.register("jay").await;
    for _ in 0..5 {
        login_from(app, "127.0.0.3", "jay", "guess").await.assert_problem(401, "invalid_credentials");
    }
    assert_throttled(&login_from(app, "127.0.0.3", "jay", "jay-password").await);
    // The owner, from their own address, logs in; and that does not reopen the attacker's door.
    login_from(app, "127.0.0.4", "jay", "jay-password").await.assert_status(200);
    assert_throttled(&login_from(app, "127.0.0.3", "jay", "guess").await);
    // The window passes: the attacker's address may try again.
    app.clock.advance_ms(15 * 60 * 1000 + 1000);
    login_from(app, "127.0.0.3", "jay", "guess").await.assert_problem(401, "invalid_credentials");
}

/// Finding 3, the other half: one address trying one password over many accounts.
async fn one_source_spraying_many_usernames_is_throttled(app: &TestApp) {
    app.register("kay").await;
    let limit = chathub_shared::accounts::SOURCE_FAILURE_LIMIT as usize;
    // Successes do not count towards the address's limit.
    for _ in 0..3 {
        login_from(app, "127.0.0.5", "kay", "kay-password").await.assert_status(200);
    }
    for i in 0..limit {
        let reply = login_from(app, "127.0.0.5", &format!("target{}", i / 4), "Summer2026!").await;
        reply.assert_problem(401, "invalid_credentials");
    }
    assert_throttled(&login_from(app, "127.0.0.5", "someone.else", "Summer2026!").await);
    assert_throttled(&login_from(app, "127.0.0.5", "kay", "kay-password").await);
    login_from(app, "127.0.0.6", "kay", "kay-password").await.assert_status(200);
}

/// Finding 11: the current-password check of `PATCH /users/me` could be guessed without limit.
async fn current_password_guesses_are_throttled_like_logins(app: &TestApp) {
    let lou = app.register("lou").await;
    let change = |current: &str| {
        let body = json!({"current_password": current, "new_password": "a whole new one"});
        from("127.0.0.7").patch(format!("{}/users/me", app.url)).bearer_auth(&lou.access).json(&body)
    };
    for _ in 0..5 {
        app.send(change("guess")).await.assert_problem(403, "forbidden");
    }
    assert_throttled(&app.send(change("guess")).await);
    assert_throttled(&app.send(change("lou-password")).await);
    // The same counters as login: that address cannot turn to /auth/login either.
    assert_throttled(&login_from(app, "127.0.0.7", "lou", "guess").await);
    let elsewhere = from("127.0.0.8").patch(format!("{}/users/me", app.url)).bearer_auth(&lou.access);
    let changed =
        app.send(elsewhere.json(&json!({"current_password": "lou-password", "new_password": "a whole new one"})));
    changed.await.assert_status(200);
}

/// Finding 1: logout revoked the session, but its sockets kept receiving pushes and sending, and
/// its unexpired access token still opened new ones.
async fn logout_closes_that_sessions_sockets_and_its_tokens_open_no_more(app: &TestApp) {
    let mia = app.register("mia").await;
    let phone = second_session(app, &mia).await;
    let laptop = second_session(app, &mia).await;
    let mut first = app.socket(&mia).await;
    let mut on_phone = app.socket(&phone).await;
    let mut on_phone_too = app.socket(&phone).await;
    let mut on_laptop = app.socket(&laptop).await;

    // Logout of the phone's session (the access token's own): its two sockets close.
    assert_eq!(app.post("/auth/logout", Some(&phone.access), json!({})).await.status, 204);
    assert!(on_phone.closed_by_server().await, "the logged-out session's socket stays open");
    assert!(on_phone_too.closed_by_server().await);
    alive(&mut first).await;
    alive(&mut on_laptop).await;
    assert_eq!(refused(app, &phone.access).await, Some(401), "a revoked session's token opens a socket");

    // By refresh token: the laptop's session.
    let reply = app.post("/auth/logout", Some(&mia.access), json!({"refresh_token": laptop.refresh})).await;
    assert_eq!(reply.status, 204);
    assert!(on_laptop.closed_by_server().await);
    alive(&mut first).await;
    assert_eq!(refused(app, &laptop.access).await, Some(401));

    // Everywhere.
    let mut again = app.socket(&mia).await;
    assert_eq!(app.post("/auth/logout", Some(&mia.access), json!({"all": true})).await.status, 204);
    assert!(first.closed_by_server().await);
    assert!(again.closed_by_server().await);
    assert_eq!(refused(app, &mia.access).await, Some(401));
    // A new login opens sockets again.
    let fresh = second_session(app, &mia).await;
    let mut socket = app.socket(&fresh).await;
    alive(&mut socket).await;
    socket.close().await;
}

/// Finding 1: a password change revokes every other session; their sockets close, the caller's
/// stays.
async fn a_password_change_closes_the_other_sessions_sockets(app: &TestApp) {
    let ned = app.register("ned").await;
    let other = second_session(app, &ned).await;
    let mut mine = app.socket(&ned).await;
    let mut theirs = app.socket(&other).await;
    let change = json!({"current_password": "ned-password", "new_password": "ned-new-password"});
    app.patch("/users/me", &ned.access, change).await.assert_status(200);
    assert!(theirs.closed_by_server().await, "the other session's socket stays open");
    alive(&mut mine).await;
    assert_eq!(refused(app, &other.access).await, Some(401));
    mine.close().await;
}

/// Finding 1: a rotated refresh token presented again revokes its session (theft detection); the
/// session's sockets close too.
async fn refresh_token_reuse_closes_the_sessions_sockets(app: &TestApp) {
    let oli = app.register("oli").await;
    let other = second_session(app, &oli).await;
    let mut stolen = app.socket(&oli).await;
    let mut unrelated = app.socket(&other).await;
    let rotated = app.post("/auth/refresh", None, json!({"refresh_token": oli.refresh})).await;
    let new_access = rotated.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let mut rotated_socket = support::ws::WsClient::connect(&app.ws_url, &new_access, "rotated").await;
    alive(&mut rotated_socket).await;
    // The old refresh token again: reuse.
    app.post("/auth/refresh", None, json!({"refresh_token": oli.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert!(stolen.closed_by_server().await, "the reused session's socket stays open");
    assert!(rotated_socket.closed_by_server().await);
    alive(&mut unrelated).await;
    unrelated.close().await;
}

/// Finding 13: the local gateway's S3 server accepted anything signed with keys written in its
/// source. Its keys are per run now: a URL signed with the old ones is refused.
async fn the_embedded_s3_server_takes_no_key_from_the_source(app: &TestApp) {
    let pat = app.register("pat").await;
    let body = json!({"purpose": "avatar", "content_type": "image/png", "size": 4});
    let declared = app.post("/files", Some(&pat.access), body).await.assert_status(201).clone();
    let upload_url = declared["upload_url"].as_str().unwrap();
    let s3 = upload_url.split("/chathub-files/").next().unwrap();
    let forged = chathub_shared::blobs::S3BlobStore::for_endpoint(
        s3,
        "chathub-local",
        "chathub-local-secret-key-not-for-aws",
        "chathub-files",
    )
    .await;
    use chathub_shared::blobs::BlobStore;
    let key = format!("uploads/{}", declared["file_id"].as_str().unwrap());
    let url = forged.presign_upload(&key, "image/png", 4, app.clock_now(), std::time::Duration::from_secs(60)).await;
    let presigned = url.unwrap();
    let mut put = app.http.put(&presigned.url).body(b"\x89PNG".to_vec());
    for (name, value) in &presigned.headers {
        put = put.header(name.as_str(), value.as_str());
    }
    assert_eq!(put.send().await.unwrap().status().as_u16(), 403, "a URL signed with the source's keys");
}

/// Finding 5: no per-user limit on sends. 100 in a window pass (a burst no person types), the
/// next is refused until the window passes; other users are not affected; nothing refused is
/// stored.
async fn sends_beyond_the_per_user_limit_wait_for_the_next_window(app: &TestApp) {
    let limit = chathub_shared::config::Limits::default();
    let window_secs = (limit.window_ms / 1000) as u64;
    // Start at the beginning of a window, so the burst below falls in one.
    let (start, left) = limit.window(app.clock_now());
    if left < window_secs {
        app.clock.advance_ms(start + limit.window_ms - app.clock_now());
    }
    let quin = app.register("quin").await;
    let rae = app.register("rae").await;
    let id = conversation(app, &quin, json!({"name": "Flood", "members": ["rae"]})).await;
    let messages = format!("/conversations/{id}/messages");
    for k in 0..limit.sends {
        app.post(&messages, Some(&quin.access), json!({"content": format!("m{k}")})).await.assert_status(201);
    }
    let refused = app.post(&messages, Some(&quin.access), json!({"content": "one too many", "client_id": "x1"})).await;
    refused.assert_problem(429, "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=window_secs).contains(&retry_after), "Retry-After {retry_after}");
    let mut socket = app.socket(&quin).await;
    let answer = socket.request("send_message", json!({"conversation_id": id, "content": "and another"})).await;
    assert_eq!(answer["code"], "rate_limited", "{answer}");
    assert_eq!(answer["success"], false);
    // Someone else in the same room sends on.
    app.post(&messages, Some(&rae.access), json!({"content": "hello"})).await.assert_status(201);
    // The next window: the refused send, retried with its client_id, is stored once.
    app.clock.advance_ms(limit.window_ms);
    let retried = app.post(&messages, Some(&quin.access), json!({"content": "one too many", "client_id": "x1"})).await;
    retried.assert_status(201);
    let history = app.get(&format!("{messages}?limit=5"), &quin.access).await.assert_status(200).clone();
    let contents: Vec<&str> =
        history["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert!(contents.contains(&"one too many") && contents.contains(&"hello"), "{contents:?}");
    assert!(!contents.contains(&"and another"), "a refused send is not stored: {contents:?}");
    assert_eq!(contents.iter().filter(|c| **c == "one too many").count(), 1);
    socket.close().await;
}

/// Finding 5: typing is limited per user too (it stores nothing, so it is counted on its own).
async fn typing_beyond_the_per_user_limit_is_refused(app: &TestApp) {
    let limit = chathub_shared::config::Limits::default();
    let sam = app.register("sam").await;
    app.register("tia").await;
    let id = conversation(app, &sam, json!({"name": "Typing", "members": ["tia"]})).await;
    let mut socket = app.socket(&sam).await;
    for _ in 0..limit.typing {
        let answer = socket.request("typing", json!({"conversation_id": id})).await;
        assert_eq!(answer["success"], true, "{answer}");
    }
    let answer = socket.request("typing", json!({"conversation_id": id})).await;
    assert_eq!(answer["code"], "rate_limited", "{answer}");
    app.clock.advance_ms(limit.window_ms + 1);
    let answer = socket.request("typing", json!({"conversation_id": id})).await;
    assert_eq!(answer["success"], true, "{answer}");
    socket.close().await;
}

/// Finding 13: the local management API took anyone's `PostToConnection` or `DeleteConnection`.
/// Now it checks SigV4 as API Gateway does (on DynamoDB Local, every push in the suite goes
/// through it signed by the SDK client with the run's keys).
async fn the_management_api_takes_only_signed_requests(app: &TestApp) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let uma = app.register("uma").await;
    let mut socket = app.socket(&uma).await;
    let base = app.ws_url.replacen("ws://", "http://", 1);
    let any_id = "L0SM9cOFvHcCIhw%3D";
    for (method, path) in
        [("POST", format!("/@connections/{any_id}")), ("DELETE", format!("/local/@connections/{any_id}"))]
    {
        let url = format!("{base}{path}");
        let unsigned = app.http.request(method.parse().unwrap(), &url).body("{}").send().await.unwrap();
        assert_eq!(unsigned.status().as_u16(), 403, "{method} {path} unsigned");
        // Signed, but with keys the gateway does not know (the ones the source used to carry).
        let identity = aws_credential_types::Credentials::new("local", "local", None, None, "test").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("execute-api")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let host = base.trim_start_matches("http://").to_owned();
        let headers = [("host", host.as_str())];
        let request =
            SignableRequest::new(method, url.clone(), headers.into_iter(), SignableBody::Bytes(b"{}")).unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut forged = app.http.request(method.parse().unwrap(), &url).body("{}");
        for (name, value) in instructions.headers() {
            forged = forged.header(name, value);
        }
        assert_eq!(forged.send().await.unwrap().status().as_u16(), 403, "{method} {path} signed with other keys");
    }
    // The socket never heard of any of it.
    let answer = socket.request("get_contacts", json!({})).await;
    assert_eq!(answer["success"], true, "{answer}");
    socket.close().await;
}
