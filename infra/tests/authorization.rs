//! The authorization matrix, on the embedded store and on DynamoDB Local: every REST route and
//! every WebSocket route of the route table, called with no token and with every kind of bad token
//! (another key, another or no kid, `alg: none`, HS256 keyed with the public key, expired, a
//! revoked session's), as a non-member, as a non-author and as a non-owner. Each is refused with
//! the contract's status, never a 5xx (the harness fails on any). The routes come from the table,
//! so a new route is in the matrix as soon as it exists, and a WebSocket route nobody placed here
//! fails the test.

mod support;

use chathub_functions::table::{RestRoute, REST_ROUTES, WS_ROUTES};
use serde_json::{json, Value};
use support::tokens::bad_tokens;
use support::{Session, TestApp};

on_both_stores!(
    every_route_refuses_every_bad_token,
    a_revoked_session_opens_no_socket_and_rest_keeps_its_stateless_window,
    non_members_non_authors_and_non_owners_are_refused_on_every_route,
);

/// The routes that take no token (API.md: "Auth: none").
const PUBLIC: [&str; 5] =
    ["GET /ping", "POST /auth/register", "POST /auth/login", "POST /auth/refresh", "GET /.well-known/jwks.json"];

/// The ids a path names, filled in.
struct Ids {
    conversation: String,
    message: i64,
    username: String,
    file: String,
}

fn path_of(route: &RestRoute, ids: &Ids) -> String {
    route
        .path
        .replace("{id}", &ids.conversation)
        .replace("{message_id}", &ids.message.to_string())
        .replace("{username}", &ids.username)
        .replace("{file_id}", &ids.file)
        .replace("{device_id}", "phone-1")
        .replace("{reaction}", "%F0%9F%91%8D")
}

/// A body the route would accept from someone allowed to call it, so that a refusal is about who
/// calls, not about what they sent.
fn body_of(route: &RestRoute, ids: &Ids) -> Value {
    match route.route_key().as_str() {
        "PATCH /users/me" => json!({"fullname": "Someone"}),
        "POST /contacts" => json!({"username": ids.username}),
        "POST /conversations" => json!({"members": []}),
        "PATCH /conversations/{id}" => json!({"name": "Renamed"}),
        "POST /conversations/{id}/members" => json!({"usernames": ["dee"]}),
        "POST /conversations/{id}/messages" => json!({"content": "hello"}),
        "PATCH /conversations/{id}/messages/{message_id}" => json!({"content": "edited"}),
        "POST /conversations/{id}/read" => json!({"message_id": ids.message}),
        "PUT /conversations/{id}/notifications" => json!({"level": "mentions"}),
        "PUT /devices/{device_id}" => json!({"platform": "fcm", "token": "a-token"}),
        "POST /files" => json!({"purpose": "attachment", "content_type": "image/png", "size": 10,
                                "conversation_id": ids.conversation}),
        _ => json!({}),
    }
}

/// A group of ann (owner) and bob, one message of each, an attachment declared in it, and cat and
/// dee, who are in nothing.
async fn fixture(app: &TestApp) -> (Session, Session, Session, Ids, i64) {
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    app.register("dee").await;
    let created = app.post("/conversations", Some(&ann.access), json!({"name": "G", "members": ["bob"]})).await;
    let conversation = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let messages = format!("/conversations/{conversation}/messages");
    let sent = app.post(&messages, Some(&ann.access), json!({"content": "ann's"})).await;
    let message = sent.assert_status(201)["id"].as_i64().unwrap();
    let sent = app.post(&messages, Some(&bob.access), json!({"content": "bob's"})).await;
    let bobs = sent.assert_status(201)["id"].as_i64().unwrap();
    let file =
        json!({"purpose": "attachment", "content_type": "image/png", "size": 10, "conversation_id": conversation});
    let declared = app.post("/files", Some(&ann.access), file).await;
    let file = declared.assert_status(201)["file_id"].as_str().unwrap().to_owned();
    let ids = Ids { conversation, message, username: "bob".into(), file };
    (ann, bob, cat, ids, bobs)
}

async fn every_route_refuses_every_bad_token(app: &TestApp) {
    let (ann, _bob, _cat, ids, _) = fixture(app).await;
    for key in PUBLIC {
        assert!(REST_ROUTES.iter().any(|r| r.route_key() == key), "{key} is no longer a route");
    }
    let mut tokens: Vec<(&str, Option<String>)> =
        bad_tokens(app, &ann.username).await.into_iter().map(|(name, token)| (name, Some(token))).collect();
    tokens.push(("no token", None));
    let mut checked = 0;
    for route in REST_ROUTES.iter().filter(|r| !PUBLIC.contains(&r.route_key().as_str())) {
        let path = path_of(route, &ids);
        for (name, token) in &tokens {
            let reply = app.call(route.method, &path, token.as_deref(), Some(body_of(route, &ids))).await;
            assert_eq!(reply.status, 401, "{} with {name}: {}", route.route_key(), reply.text);
            assert_eq!(reply.headers["content-type"], "application/problem+json", "{}", route.route_key());
            checked += 1;
        }
    }
    assert!(checked >= 25 * tokens.len(), "only {checked} calls");

    // Every WebSocket route is behind the `$connect` authorizer: no socket opens without a good
    // token, in the query or in the header.
    for (name, token) in &tokens {
        let url = match token {
            Some(token) => format!("{}/?token={token}", app.ws_url),
            None => format!("{}/", app.ws_url),
        };
        assert_eq!(support::ws::refused_status(&url, None).await, Some(401), "handshake with {name}");
        if let Some(token) = token {
            let header = Some(("authorization", format!("Bearer {token}")));
            let refused = support::ws::refused_status(&format!("{}/", app.ws_url), header).await;
            assert_eq!(refused, Some(401), "handshake with {name} in the header");
        }
    }
    // The good token, to show the refusals above are about the tokens.
    app.get("/users/me", &ann.access).await.assert_status(200);
    app.socket(&ann).await.close().await;
}

/// A logged-out session: its sockets are closed and it opens no new one; its access token keeps
/// working on REST until it expires (≤ 15 minutes: REST is stateless, docs/architecture.md), and
/// its refresh token is dead.
async fn a_revoked_session_opens_no_socket_and_rest_keeps_its_stateless_window(app: &TestApp) {
    let ann = app.register("ann").await;
    let login = app.login("ann", &ann.password).await;
    let second = login.assert_status(200).clone();
    let (access, refresh) = (second["access_token"].as_str().unwrap(), second["refresh_token"].as_str().unwrap());
    app.post("/auth/logout", Some(access), json!({})).await.assert_status(204);
    let refused = support::ws::refused_status(&format!("{}/?token={access}", app.ws_url), None).await;
    assert_eq!(refused, Some(401), "a revoked session's token opened a socket");
    app.post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.get("/users/me", access).await.assert_status(200);
    app.clock.advance_ms(15 * 60 * 1000 + 1000);
    app.get("/users/me", access).await.assert_problem(401, "token_expired");
}

async fn non_members_non_authors_and_non_owners_are_refused_on_every_route(app: &TestApp) {
    let (ann, bob, cat, ids, bobs) = fixture(app).await;

    // A non-member: every route under a conversation, and its attachment, answer 404, as for a
    // conversation that does not exist (membership is not revealed).
    let mut scoped = 0;
    for route in
        REST_ROUTES.iter().filter(|r| r.path.starts_with("/conversations/{id}") || r.path == "/files/{file_id}")
    {
        let reply = app.call(route.method, &path_of(route, &ids), Some(&cat.access), Some(body_of(route, &ids))).await;
        assert_eq!(reply.status, 404, "{} as a non-member: {}", route.route_key(), reply.text);
        scoped += 1;
    }
    assert!(scoped >= 11, "only {scoped} conversation routes");
    let attachment = body_of(REST_ROUTES.iter().find(|r| r.route_key() == "POST /files").unwrap(), &ids);
    app.post("/files", Some(&cat.access), attachment).await.assert_problem(404, "not_found");

    // A device is its owner's alone: another user neither sees nor removes it.
    let device = json!({"platform": "fcm", "token": "ann-token"});
    app.call("PUT", "/devices/phone-1", Some(&ann.access), Some(device)).await.assert_status(200);
    app.delete("/devices/phone-1", &cat.access).await.assert_problem(404, "not_found");
    assert_eq!(app.get("/devices", &cat.access).await.json["items"], json!([]));
    assert_eq!(app.get("/devices", &ann.access).await.json["items"][0]["device_id"], "phone-1");

    // A non-author edits or deletes another's message; a non-owner removes another member.
    let message = format!("/conversations/{}/messages/{}", ids.conversation, ids.message);
    app.patch(&message, &bob.access, json!({"content": "not mine"})).await.assert_problem(403, "forbidden");
    app.delete(&message, &bob.access).await.assert_problem(403, "forbidden");
    let ann_member = format!("/conversations/{}/members/ann", ids.conversation);
    app.delete(&ann_member, &bob.access).await.assert_problem(403, "forbidden");
    // The owner is not the author either: editing stays the author's.
    let bob_message = format!("/conversations/{}/messages/{bobs}", ids.conversation);
    app.patch(&bob_message, &ann.access, json!({"content": "not mine"})).await.assert_problem(403, "forbidden");

    // The same over WebSocket, route by route from the table.
    let mut outsider = app.socket(&cat).await;
    let mut member = app.socket(&bob).await;
    let conversation = ids.conversation.as_str();
    for route in WS_ROUTES {
        let frame = match route.route_key {
            // Not about a conversation: the caller's own data, or the socket itself.
            "$connect"
            | "$disconnect"
            | "$default"
            | "ping"
            | "self"
            | "add_contact"
            | "get_contacts"
            | "create_conversation"
            | "get_conversations"
            | "sync" => continue,
            "get_conversation_info" => json!({"id": conversation}),
            "send_message" => json!({"conversation_id": conversation, "content": "let me in"}),
            "get_messages" | "typing" => json!({"conversation_id": conversation}),
            "edit_message" => json!({"conversation_id": conversation, "message_id": ids.message, "content": "x"}),
            "delete_message" | "mark_read" => json!({"conversation_id": conversation, "message_id": ids.message}),
            "add_reaction" | "remove_reaction" => {
                json!({"conversation_id": conversation, "message_id": ids.message, "reaction": "👍"})
            }
            other => panic!("a new WebSocket route, {other}: say here who may call it"),
        };
        let answer = outsider.request(route.route_key, frame.clone()).await;
        assert_eq!(answer["code"], "not_found", "{} as a non-member: {answer}", route.route_key);
        if matches!(route.route_key, "edit_message" | "delete_message") {
            let answer = member.request(route.route_key, frame).await;
            assert_eq!(answer["code"], "forbidden", "{} as a non-author: {answer}", route.route_key);
        }
    }
    // The sync feed is per user: another user's cursor is refused, on both edges.
    let bobs_cursor = member.request("sync", json!({})).await["data"]["next_cursor"].as_str().unwrap().to_owned();
    let answer = outsider.request("sync", json!({"since": bobs_cursor})).await;
    assert_eq!(answer["code"], "invalid_cursor", "{answer}");
    app.get(&format!("/sync?since={bobs_cursor}"), &cat.access).await.assert_problem(400, "invalid_cursor");
    outsider.close().await;
    member.close().await;

    // Reporting a message is for those who can read it.
    let report = json!({"conversation_id": ids.conversation, "message_id": ids.message, "reason": "spam"});
    app.post("/reports", Some(&cat.access), report).await.assert_problem(404, "not_found");

    // The blocked: cat is blocked by ann, and every route that would reach her answers 403
    // `blocked` (and only those: cat's own routes go on); blocks are the blocker's alone.
    app.call("PUT", "/users/me/blocks/cat", Some(&ann.access), None).await.assert_status(204);
    app.post("/contacts", Some(&cat.access), json!({"username": "ann"})).await.assert_problem(403, "blocked");
    app.post("/conversations", Some(&cat.access), json!({"members": ["ann"]})).await.assert_problem(403, "blocked");
    let cats = app.post("/conversations", Some(&cat.access), json!({"name": "Cat's", "members": []})).await;
    let cats = cats.assert_status(201)["id"].as_str().unwrap().to_owned();
    let add =
        app.post(&format!("/conversations/{cats}/members"), Some(&cat.access), json!({"usernames": ["ann"]})).await;
    add.assert_problem(403, "blocked");
    app.get("/users/ann", &cat.access).await.assert_status(200);
    assert_eq!(app.get("/users/me/blocks", &cat.access).await.json["items"], json!([]));
    app.call("DELETE", "/users/me/blocks/cat", Some(&bob.access), None).await.assert_problem(404, "not_found");
    let anns = app.get("/users/me/blocks", &ann.access).await;
    assert_eq!(anns.json["items"][0]["username"], "cat", "{}", anns.text);

    // Nothing above changed anything.
    let history = app.get(&format!("/conversations/{}/messages", ids.conversation), &ann.access).await;
    let contents: Vec<&str> = history.assert_status(200)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["ann's", "bob's"]);
    let members = app.get(&format!("/conversations/{}", ids.conversation), &ann.access).await;
    assert_eq!(members.assert_status(200)["member_count"], 2);
}
