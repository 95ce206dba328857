//! Rooms at scale and the push turn, on the embedded store and on DynamoDB Local, at the domain
//! level (the services on a `Ctx`): a room of 10,000 members, a pusher that dies halfway through
//! a fan-out, sends whose store is slow, and sends under injected DynamoDB throttling.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chathub_shared::chat::Role;
use chathub_shared::messages::{self, HistoryQuery, SendMessage};
use chathub_shared::store::Signalled;
use chathub_shared::{conversations, push, ApiError, ConnectionId, ConversationId, MessageId};
use serde_json::json;
use support::domain::{dynamodb_endpoint, names, Backing, Domain};
use support::proxy::throttling_proxy;

on_both_backings!(
    a_room_of_ten_thousand_members_works_end_to_end,
    a_pusher_that_dies_mid_fan_out_is_taken_over,
    sockets_that_ask_get_a_rounds_messages_in_one_frame,
    an_id_handed_out_before_the_holder_looked_is_pushed_however_slow_its_store,
    a_websocket_send_is_answered_once_stored_before_its_fan_out,
    a_holder_out_of_budget_retires_and_the_sends_after_take_the_turn,
    a_direct_conversation_finds_its_sockets_on_its_members_profiles,
    a_small_group_finds_its_roster_on_their_profiles_and_records_who_joins_past_it,
    a_gone_socket_is_forgotten_where_it_was_found,
);

fn text(content: &str, client_id: Option<&str>) -> SendMessage {
    serde_json::from_value(json!({"content": content, "client_id": client_id})).unwrap()
}

/// A message as a send would store it (for scenarios that drive the store and the push turn
/// step by step), and a send limit none of them reaches.
fn message(
    room: &ConversationId,
    sender: &str,
    id: impl Into<MessageId>,
    content: String,
    sent_at: i64,
) -> chathub_shared::chat::Message {
    chathub_shared::chat::Message {
        id: id.into(),
        conversation_id: room.clone(),
        sender_username: sender.to_owned(),
        content,
        reply_id: None,
        reply_count: 0,
        client_id: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        sent_at,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        pinned: false,
        my_reactions: None,
        origin: None,
    }
}

const RATE: chathub_shared::store::SendRate =
    chathub_shared::store::SendRate { window_start: 0, window_ms: 10_000, limit: 100 };

async fn contents(d: &Domain, caller: &str, id: &ConversationId) -> Vec<(i64, String)> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let query = HistoryQuery { after: Some(after), limit: Some(100), ..Default::default() };
        let page = messages::history(&d.ctx, caller, id, query).await.unwrap();
        all.extend(page.messages.iter().map(|m| (m.id.get(), m.content.clone())));
        after = page.messages.last().map(|m| m.id.get()).unwrap_or(after);
        if !page.has_more {
            return all;
        }
    }
}

/// Created in batches of 1,000; listed page by page; a send reaches the members online; unread
/// counts, history, leaving and the hand-over of ownership work at that size.
async fn a_room_of_ten_thousand_members_works_end_to_end(backing: Backing) {
    let d = Domain::new(backing).await;
    let members = names("u", 10_000);
    d.users(&members).await;
    let id = d.room(&members).await;
    let owner = &members[0];

    let view = conversations::get(&d.ctx, owner, &id).await.unwrap();
    assert_eq!(view.member_count, 10_000);
    assert_eq!(view.members, None, "beyond 1,000 members the list is paged, not inline");
    let outsider = "outsider".to_owned();
    d.users(std::slice::from_ref(&outsider)).await;
    let more = serde_json::from_value(json!({"usernames": [outsider]})).unwrap();
    match conversations::add_members(&d.ctx, owner, &id, more).await {
        Err(ApiError::BadRequest { detail, .. }) => assert!(detail.contains("10000"), "{detail}"),
        other => panic!("a room of 10,000 takes nobody more: {other:?}"),
    }

    // Every member, once, in name order, with the owner marked.
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = conversations::members(&d.ctx, &members[42], &id, cursor.as_deref(), 100).await.unwrap();
        listed.extend(page.items.iter().map(|m| (m.username.clone(), m.role)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed.len(), 10_000);
    assert!(listed.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(listed.iter().filter(|(_, role)| *role == Role::Owner).count(), 1);
    assert_eq!(listed[0], (owner.clone(), Role::Owner));

    // 20 members online; a send reaches every one of their sockets.
    let online: Vec<&String> = members.iter().step_by(500).collect();
    let mut sockets = Vec::new();
    for member in &online {
        sockets.push(d.connect(member, 0).await);
    }
    let (first, _) = messages::send(&d.ctx, owner, &id, text("to everyone", None), None).await.unwrap();
    for socket in &sockets {
        assert_eq!(d.pushes.message_ids(socket), vec![first.id], "{socket}");
    }
    let summary = conversations::list(&d.ctx, &members[9_999], None, 10).await.unwrap();
    assert_eq!(summary.items[0].unread_count, 1);
    assert_eq!(summary.items[0].conversation.member_count, 10_000);
    messages::mark_read(&d.ctx, &members[9_999], &id, first.id, None).await.unwrap();
    let summary = conversations::list(&d.ctx, &members[9_999], None, 10).await.unwrap();
    assert_eq!(summary.items[0].unread_count, 0);

    // A member online leaves: its socket hears no more of the room; the owner leaves: the
    // longest-standing member owns it.
    let leaver = online[1].clone();
    conversations::remove_member(&d.ctx, &leaver, &id, "me").await.unwrap();
    conversations::remove_member(&d.ctx, owner, &id, "me").await.unwrap();
    let view = conversations::get(&d.ctx, &members[1], &id).await.unwrap();
    assert_eq!(view.member_count, 9_998);
    assert_eq!(view.owner, members[1], "the creator's first member has been in longest");
    let (second, _) = messages::send(&d.ctx, &members[1], &id, text("after", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(format!("{leaver}-0")), vec![first.id], "a member who left hears no more");
    assert_eq!(d.pushes.message_ids(&sockets[2]), vec![first.id, second.id]);
    match messages::send(&d.ctx, &leaver, &id, text("still here?", None), None).await {
        Err(ApiError::NotFound(_)) => {}
        other => panic!("a member who left cannot send: {other:?}"),
    }
    let history = contents(&d, &members[1], &id).await;
    assert_eq!(history, vec![(1, "to everyone".to_owned()), (second.id.get(), "after".to_owned())]);
}

/// The first send's pusher freezes halfway through its fan-out (its Lambda died): later sends
/// are left to it until its lease runs out, then the next send takes over and every socket ends
/// with every message in order (the one in flight may arrive twice: clients place by id).
async fn a_pusher_that_dies_mid_fan_out_is_taken_over(backing: Backing) {
    let d = Domain::new(backing).await;
    let members = names("m", 6);
    d.users(&members).await;
    let id = d.room(&members).await;
    let mut sockets = Vec::new();
    for member in &members {
        sockets.push(d.connect(member, 0).await);
    }

    d.pushes.freeze_after(3);
    let dying = messages::send(&d.ctx, &members[0], &id, text("one", None), None);
    assert!(tokio::time::timeout(Duration::from_millis(500), dying).await.is_err(), "the frozen pusher never answers");
    d.pushes.thaw();
    let delivered_one = sockets.iter().filter(|s| d.pushes.message_ids(s) == vec![1]).count();
    assert_eq!(delivered_one, 3, "half the sockets got the first message before the pusher died");

    messages::send(&d.ctx, &members[1], &id, text("two", None), None).await.unwrap();
    assert!(sockets.iter().all(|s| !d.pushes.message_ids(s).contains(&2)), "left to the holder while its lease runs");

    d.clock.advance_ms(push::LEASE_MS + 1);
    messages::send(&d.ctx, &members[2], &id, text("three", None), None).await.unwrap();
    for socket in &sockets {
        let ids = d.pushes.message_ids(socket);
        assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{socket}: out of order: {ids:?}");
        let mut once = ids.clone();
        once.dedup();
        assert_eq!(once, vec![1, 2, 3], "{socket}: {ids:?}");
    }
    let history = contents(&d, &members[3], &id).await;
    assert_eq!(history.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
}

/// With 30% of DynamoDB requests throttled, five members send 20 messages each, every send
/// retried with its `client_id` until it succeeds: each is stored once, and every socket gets
/// every message exactly once, in id order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_throttling_sends_are_stored_once_and_pushed_once_in_order() {
    const SENDERS: usize = 5;
    const EACH: usize = 20;
    let proxy = throttling_proxy(dynamodb_endpoint(), 30, None).await;
    let d = Domain::with_endpoint(Backing::Dynamo, Some(proxy.url.clone())).await;
    let members = names("t", SENDERS + 1);
    d.users(&members).await;
    let id = d.room(&members).await;
    let mut sockets = Vec::new();
    for member in &members {
        sockets.push(d.connect(member, 0).await);
    }

    proxy.on.store(true, Ordering::SeqCst);
    let d = Arc::new(d);
    let mut senders = tokio::task::JoinSet::new();
    for sender in &members[..SENDERS] {
        let (d, id, sender) = (d.clone(), id.clone(), sender.clone());
        // Only test code spawns (clippy.toml): each task is one client.
        #[allow(clippy::disallowed_methods)]
        senders.spawn(async move {
            let mut unavailable = 0;
            for k in 0..EACH {
                let client_id = format!("{sender}-{k}");
                loop {
                    match messages::send(&d.ctx, &sender, &id, text(&client_id, Some(&client_id)), None).await {
                        Ok(_) => break,
                        Err(ApiError::Unavailable { .. }) => {
                            unavailable += 1;
                            assert!(unavailable < 200, "a send that never gets through");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => panic!("{client_id}: {e:?}"),
                    }
                }
            }
            unavailable
        });
    }
    let mut unavailable = 0;
    while let Some(done) = senders.join_next().await {
        unavailable += done.unwrap();
    }
    proxy.on.store(false, Ordering::SeqCst);
    eprintln!("503 answers retried: {unavailable}");

    let history = contents(&d, &members[0], &id).await;
    let mut stored: Vec<&str> = history.iter().map(|(_, c)| c.as_str()).collect();
    stored.sort();
    let mut sent: Vec<String> =
        members[..SENDERS].iter().flat_map(|s| (0..EACH).map(move |k| format!("{s}-{k}"))).collect();
    sent.sort();
    assert_eq!(stored, sent, "every send stored exactly once");
    let ids: Vec<i64> = history.iter().map(|(id, _)| *id).collect();
    for socket in &sockets {
        assert_eq!(d.pushes.message_ids(socket), ids, "{socket}: every message once, in id order");
    }
}

/// Batch frames: a socket that asked at `$connect` (`?batch=1`) gets the messages of a round that
/// are for it in one `send_message_batch` frame when there are several; every other socket gets
/// exactly today's frames. A lone message is a plain `send_message` for everyone.
async fn sockets_that_ask_get_a_rounds_messages_in_one_frame(backing: Backing) {
    use chathub_shared::chat::Message;
    use chathub_shared::ws::WsRequest;
    let d = Domain::new(backing).await;
    let people = names("batch", 3);
    d.users(&people).await;
    let room = d.room(&people).await;
    let plain = d.connect(&people[1], 0).await;
    // The batching socket opens through the $connect route, as the gateway passes it `?batch=1`.
    let batching = ConnectionId::new(format!("{}-batch-0", people[2]));
    let connect = WsRequest {
        route: "$connect".into(),
        username: people[2].clone(),
        session: None,
        batch: true,
        connection_id: batching.clone(),
        body: serde_json::Value::Null,
        request_id: None,
        oversized: false,
    };
    chathub_functions::routes::ws_connect::handle(d.ctx.narrow(), connect).await.unwrap();

    // Three messages stored before their pusher (the first id's send, which got the turn) pushes
    // (a round will find them all); the second came from the batching socket itself.
    let mut first = None;
    for k in 1..=3 {
        let now = d.ctx.now_ms();
        let ticket = push::Ticket::new(&d.ctx);
        let (conversation, turn) = d.ctx.store.allocate_message_id(&room, &ticket.claim()).await.unwrap();
        let id = conversation.last_message_id;
        assert_eq!(matches!(turn, Signalled::Holder(_)), k == 1, "the first id comes with the push turn");
        if k == 1 {
            first = Some((ticket, turn));
        }
        let message = Message {
            origin: (k == 2).then(|| batching.clone()),
            ..message(&room, &people[0], id, format!("m{k}"), now)
        };
        d.ctx.store.put_message(&message, &RATE).await.unwrap();
    }
    let (ticket, turn) = first.unwrap();
    push::after_store(&d.ctx, &room, &ticket, turn, MessageId::new(1), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&plain), vec![1, 2, 3], "plain sockets get one frame per message");
    let frames = d.pushes.frames(&batching);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "send_message_batch");
    assert_eq!(frames[0]["success"], true);
    assert_eq!(frames[0]["data"]["conversation_id"], room.as_str());
    let ids: Vec<i64> =
        frames[0]["data"]["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![1, 3], "in id order, without its own message");
    assert_eq!(frames[0]["data"]["messages"][1]["content"], "m3");

    // A lone message is a plain frame for everyone.
    messages::send(&d.ctx, &people[0], &room, text("m4", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&plain), vec![1, 2, 3, 4]);
    let frames = d.pushes.frames(&batching);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1]["type"], "send_message");
    assert_eq!(frames[1]["data"]["id"], 4);
}

/// Handing out an id signals the push turn before the message is stored. A holder that sees an
/// id handed out but not stored waits for it (and pushes it if it comes in time); if its send's
/// store takes longer than `push::LATE`, the holder releases without it, and that send, late,
/// signals again once stored and pushes it. Either way every socket gets every message, in order.
async fn an_id_handed_out_before_the_holder_looked_is_pushed_however_slow_its_store(backing: Backing) {
    let d = Domain::new(backing).await;
    let people = names("slow", 3);
    d.users(&people).await;
    let room = d.room(&people).await;
    let socket = d.connect(&people[2], 0).await;
    let message = |id: i64, sender: &str| message(&room, sender, id, format!("m{id}"), d.ctx.now_ms());

    for (first_id, slow) in [(1, false), (3, true)] {
        // A takes an id with the turn, B takes the next one; A stores and pushes while B is
        // still storing.
        let a = push::Ticket::new(&d.ctx);
        let (_, a_turn) = d.ctx.store.allocate_message_id(&room, &a.claim()).await.unwrap();
        let b = push::Ticket::new(&d.ctx);
        let (_, b_turn) = d.ctx.store.allocate_message_id(&room, &b.claim()).await.unwrap();
        assert!(matches!(a_turn, Signalled::Holder(_)), "the first id comes with the turn: {a_turn:?}");
        assert_eq!(b_turn, Signalled::Held, "the next finds it held");
        let (m_a, m_b) = (message(first_id, &people[0]), message(first_id + 1, &people[1]));
        d.ctx.store.put_message(&m_a, &RATE).await.unwrap();
        let holder = push::after_store(&d.ctx, &room, &a, a_turn, MessageId::new(first_id), Some(&m_a));
        let b_stores = async {
            // In time: well inside LATE. Slow: after the holder gave up waiting.
            let wait = if slow { push::LATE * 2 } else { push::LATE / 10 };
            tokio::time::sleep(wait).await;
            d.ctx.store.put_message(&m_b, &RATE).await.unwrap();
        };
        let (pushed, ()) = tokio::join!(holder, b_stores);
        pushed.unwrap();
        let expected: Vec<i64> = (1..first_id + 2).collect();
        if slow {
            assert_eq!(
                d.pushes.message_ids(&socket),
                expected[..expected.len() - 1],
                "the holder released without the id still being stored"
            );
        } else {
            assert_eq!(d.pushes.message_ids(&socket), expected, "the holder waited for the id and pushed it");
        }
        push::after_store(&d.ctx, &room, &b, b_turn, MessageId::new(first_id + 1), Some(&m_b)).await.unwrap();
        assert_eq!(d.pushes.message_ids(&socket), expected, "every message once, in id order");
    }
}

/// The WebSocket `send_message` route answers as soon as the message is stored: with the fan-out
/// stuck (every post after the first hangs, as a slow or dying fan-out would), the sender already
/// has its answer (through the management API: the route is one-way), and nobody else has a
/// push yet. A refused send is answered the same way.
async fn a_websocket_send_is_answered_once_stored_before_its_fan_out(backing: Backing) {
    use chathub_functions::routes::ws_send_message;
    let d = Domain::new(backing).await;
    let people = names("early", 4);
    d.users(&people).await;
    let room = d.room(&people).await;
    let mut sockets = Vec::new();
    for person in &people {
        sockets.push(d.connect(person, 0).await);
    }
    // The route's sample event (events/), from this sender's socket.
    let sample: serde_json::Value = serde_json::from_str(include_str!("../../events/ws-send-message.json")).unwrap();
    let frame = |connection: &ConnectionId, body: serde_json::Value| {
        let mut event = sample.clone();
        event["requestContext"]["connectionId"] = json!(connection);
        event["requestContext"]["authorizer"] = json!({"principalId": &people[0], "username": &people[0]});
        event["body"] = json!(body.to_string());
        serde_json::from_value(event).unwrap()
    };

    d.pushes.freeze_after(1);
    let body = json!({"type": "send_message", "conversation_id": room, "content": "hi", "request_id": "r1"});
    let sending = ws_send_message::dispatch(&d.ctx, frame(&sockets[0], body));
    let result = tokio::time::timeout(Duration::from_millis(500), sending).await;
    assert!(result.is_err(), "the fan-out hangs, so the function is still pushing");
    let answers = d.pushes.frames(&sockets[0]);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["type"], "send_message");
    assert_eq!(answers[0]["success"], true);
    assert_eq!(answers[0]["request_id"], "r1");
    assert_eq!(answers[0]["data"]["id"], 1);
    assert_eq!(answers[0]["data"]["content"], "hi");
    for socket in &sockets[1..] {
        assert!(d.pushes.frames(socket).is_empty(), "{socket} got a push before the answer went out");
    }

    // A refused frame is answered too, and the Lambda's own result carries no body (the route is
    // one-way; API Gateway would pass nothing back anyway).
    d.pushes.thaw();
    let body = json!({"type": "send_message", "conversation_id": room, "content": "", "request_id": "r2"});
    let response = ws_send_message::dispatch(&d.ctx, frame(&sockets[0], body)).await;
    assert_eq!(response, json!({"statusCode": 200}));
    let answers = d.pushes.frames(&sockets[0]);
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!((answers[1]["success"].clone(), answers[1]["request_id"].clone()), (json!(false), json!("r2")));
    assert_eq!(answers[1]["code"], "invalid_request");
}

/// A holder whose push budget is spent (here: none at all) and that finds new signals retires
/// instead of going round for ever: it pushes everything handed out before it retired, the sends
/// that signalled before that leave their messages to it (the lost wake-up of the old hand-on:
/// B's message waited for the room's next send), and the sends that signal while it retires find
/// the turn `Retiring`, wait for its release without pushing beside it, and push their own
/// messages themselves. Every message reaches the socket once, in id order, without another send.
async fn a_holder_out_of_budget_retires_and_the_sends_after_take_the_turn(backing: Backing) {
    let mut d = Domain::new(backing).await;
    d.ctx.ctx.config = Arc::new(chathub_shared::config::Config { push_budget_ms: 0, ..(*d.ctx.config).clone() });
    let d = Arc::new(d);
    let people = names("budget", 3);
    d.users(&people).await;
    let room = d.room(&people).await;
    let socket = d.connect(&people[2], 0).await;
    let message = |id: i64| message(&room, &people[0], id, format!("m{id}"), d.ctx.now_ms());

    // A holds the turn; B's id is handed out (a signal) while A pushes; both are stored.
    let a = push::Ticket::new(&d.ctx);
    let (_, a_turn) = d.ctx.store.allocate_message_id(&room, &a.claim()).await.unwrap();
    let b = push::Ticket::new(&d.ctx);
    let (_, b_turn) = d.ctx.store.allocate_message_id(&room, &b.claim()).await.unwrap();
    assert_eq!(b_turn, Signalled::Held);
    d.ctx.store.put_message(&message(1), &RATE).await.unwrap();
    d.ctx.store.put_message(&message(2), &RATE).await.unwrap();
    // B leaves its message to A, as a holder was there when it signalled.
    push::after_store(&d.ctx, &room, &b, b_turn, MessageId::new(2), Some(&message(2))).await.unwrap();

    // A pushes its own message, finds B's signal on release and, out of budget, retires; its
    // last round's post (B's message) is held back.
    d.pushes.hold_after(1);
    let holder = {
        let (d, room, m1) = (d.clone(), room.clone(), message(1));
        tokio::spawn(async move { push::after_store(&d.ctx, &room, &a, a_turn, MessageId::new(1), Some(&m1)).await })
    };
    for _ in 0..2_000 {
        if d.pushes.waiting() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(d.pushes.waiting(), 1, "A's last round is pushing B's message");
    assert_eq!(d.pushes.message_ids(&socket), vec![1]);

    // C signals while A retires: it finds the turn retiring, stores, and waits for A's release
    // rather than pushing beside it.
    let c = push::Ticket::new(&d.ctx);
    let (_, c_turn) = d.ctx.store.allocate_message_id(&room, &c.claim()).await.unwrap();
    assert_eq!(c_turn, Signalled::Retiring);
    d.ctx.store.put_message(&message(3), &RATE).await.unwrap();
    let successor = {
        let (d, room, m3) = (d.clone(), room.clone(), message(3));
        tokio::spawn(async move { push::after_store(&d.ctx, &room, &c, c_turn, MessageId::new(3), Some(&m3)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!successor.is_finished(), "C waits while A still holds the turn");
    assert_eq!(d.pushes.waiting(), 1, "nothing pushed beside the retiring holder");
    assert_eq!(d.pushes.message_ids(&socket), vec![1]);

    d.pushes.let_go();
    tokio::time::timeout(Duration::from_secs(30), holder).await.unwrap().unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(30), successor).await.unwrap().unwrap().unwrap();
    assert_eq!(d.pushes.message_ids(&socket), vec![1, 2, 3], "every message once, in order, with no send after");

    // The turn is free again: the next send takes it at once.
    messages::send(&d.ctx, &people[1], &room, text("four", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&socket), vec![1, 2, 3, 4]);
}

/// Creates the direct conversation of `from` with `to`.
async fn direct(d: &Domain, from: &str, to: &str) -> ConversationId {
    let request = serde_json::from_value(json!({"members": [to]})).unwrap();
    let (view, created) = conversations::create(&d.ctx, from, request, None).await.unwrap();
    assert!(created);
    assert_eq!(view.kind, chathub_shared::chat::Kind::Direct);
    view.id
}

/// A direct conversation records no socket under it: its pushes find the two members' sockets on
/// their profiles. Sockets opened before and after it was created get its messages (but the one a
/// message came from); the member who leaves gets nothing more, the one who stays still does, on
/// every socket.
async fn a_direct_conversation_finds_its_sockets_on_its_members_profiles(backing: Backing) {
    let d = Domain::new(backing).await;
    let people = names("pair", 3);
    d.users(&people).await;
    let (ann, bob) = (&people[0], &people[1]);
    let ann_before = d.connect(ann, 0).await;
    // Ann is also in a group with someone else, whose sockets must not get the direct messages.
    let group = d.room(&[ann.clone(), people[2].clone()]).await;
    let other = d.connect(&people[2], 0).await;
    let room = direct(&d, ann, bob).await;
    let ann_after = d.connect(ann, 1).await;
    let bob_after = d.connect(bob, 0).await;

    messages::send(&d.ctx, ann, &room, text("hi", None), Some(&ann_before)).await.unwrap();
    assert_eq!(d.pushes.message_ids(&ann_before), Vec::<i64>::new(), "the socket it came from has its answer");
    assert_eq!(d.pushes.message_ids(&ann_after), vec![1]);
    assert_eq!(d.pushes.message_ids(&bob_after), vec![1]);
    messages::send(&d.ctx, bob, &room, text("hello", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&ann_before), vec![2]);
    assert_eq!(d.pushes.message_ids(&ann_after), vec![1, 2]);
    assert_eq!(d.pushes.message_ids(&bob_after), vec![1, 2]);

    conversations::remove_member(&d.ctx, bob, &room, "me").await.unwrap();
    messages::send(&d.ctx, ann, &room, text("still there?", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&bob_after), vec![1, 2], "the one who left gets nothing more");
    assert_eq!(d.pushes.message_ids(&ann_after), vec![1, 2, 3]);
    assert_eq!(d.pushes.message_ids(&ann_before), vec![2, 3]);

    // The group (on a roster of its own) hears only the group.
    messages::send(&d.ctx, ann, &group, text("group", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&other), vec![1]);
    assert_eq!(d.pushes.message_ids(&ann_after), vec![1, 2, 3, 1]);
}

/// A group created with at most `ROSTER_MAX` members finds them on their profiles, like a direct
/// conversation; members added while it stays that small join the roster, those who join past it
/// are recorded (their sockets opened before the join as well as after). Every socket, found
/// either way, gets every message in order but the ones sent from it; whoever leaves, from the
/// roster or recorded, hears nothing more.
async fn a_small_group_finds_its_roster_on_their_profiles_and_records_who_joins_past_it(backing: Backing) {
    use chathub_shared::chat::ROSTER_MAX;
    let d = Domain::new(backing).await;
    let people = names("small", ROSTER_MAX + 2);
    d.users(&people).await;
    let first = &people[..ROSTER_MAX - 1];
    let a0 = d.connect(&people[0], 0).await;
    let b0 = d.connect(&people[1], 0).await;
    let room = d.room(first).await;
    let c0 = d.connect(&people[2], 0).await;
    // (socket, found on the profile) for every socket the room's push would reach.
    let found = || async {
        let targets = d.ctx.store.conversation_connections(&room, d.ctx.now_ms()).await.unwrap();
        let mut found: Vec<(String, bool)> =
            targets.into_iter().map(|t| (t.connection.to_string(), t.on_profile)).collect();
        found.sort();
        found
    };
    let on = |sockets: &[&ConnectionId], profile: bool| -> Vec<(String, bool)> {
        sockets.iter().map(|s| (s.to_string(), profile)).collect()
    };
    assert_eq!(found().await, on(&[&a0, &b0, &c0], true), "no socket recorded, before or after creation");
    messages::send(&d.ctx, &people[0], &room, text("one", None), Some(&a0)).await.unwrap();

    // One more fills the roster: found on the profile too, with the socket it had before.
    let d0 = d.connect(&people[ROSTER_MAX - 1], 0).await;
    let add = |who: &[String]| serde_json::from_value(json!({"usernames": who})).unwrap();
    conversations::add_members(&d.ctx, &people[0], &room, add(&people[ROSTER_MAX - 1..ROSTER_MAX])).await.unwrap();
    assert_eq!(found().await, on(&[&a0, &b0, &c0, &d0], true));
    messages::send(&d.ctx, &people[1], &room, text("two", None), None).await.unwrap();

    // Past it: recorded, whether the socket opened before the join or after.
    let e0 = d.connect(&people[ROSTER_MAX], 0).await;
    conversations::add_members(&d.ctx, &people[0], &room, add(&people[ROSTER_MAX..])).await.unwrap();
    let f0 = d.connect(&people[ROSTER_MAX + 1], 0).await;
    let mut expected = [on(&[&a0, &b0, &c0, &d0], true), on(&[&e0, &f0], false)].concat();
    expected.sort();
    assert_eq!(found().await, expected, "the roster stays as it was; who joined past it is recorded");
    messages::send(&d.ctx, &people[ROSTER_MAX + 1], &room, text("three", None), Some(&f0)).await.unwrap();
    for (socket, ids) in [(&a0, vec![2, 3]), (&b0, vec![1, 2, 3]), (&c0, vec![1, 2, 3]), (&d0, vec![2, 3])] {
        assert_eq!(d.pushes.message_ids(socket), ids, "{socket}");
    }
    assert_eq!(d.pushes.message_ids(&e0), vec![3]);
    assert_eq!(d.pushes.message_ids(&f0), Vec::<i64>::new(), "the socket it came from has its answer");

    // Leaving, from the roster or recorded: nothing more for them; the rest hear on.
    conversations::remove_member(&d.ctx, &people[2], &room, "me").await.unwrap();
    conversations::remove_member(&d.ctx, &people[ROSTER_MAX], &room, "me").await.unwrap();
    let mut expected = [on(&[&a0, &b0, &d0], true), on(&[&f0], false)].concat();
    expected.sort();
    assert_eq!(found().await, expected);
    messages::send(&d.ctx, &people[0], &room, text("four", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&c0), vec![1, 2, 3], "who left the roster gets nothing more");
    assert_eq!(d.pushes.message_ids(&e0), vec![3], "who left the records gets nothing more");
    for socket in [&a0, &b0, &d0, &f0] {
        assert_eq!(d.pushes.message_ids(socket).last(), Some(&4), "{socket}");
    }
}

/// A socket closed without a `$disconnect` answers 410 to pushes: a group's push forgets its
/// record under the group, a direct conversation's push forgets it on the profile (where it found
/// it), so neither pushes to it again.
async fn a_gone_socket_is_forgotten_where_it_was_found(backing: Backing) {
    let d = Domain::new(backing).await;
    // A group past a roster's size, so its sockets are recorded.
    let people = names("gone", chathub_shared::chat::ROSTER_MAX + 1);
    d.users(&people).await;
    let (ann, bob) = (&people[0], &people[1]);
    let group = d.room(&people).await;
    let direct = direct(&d, ann, bob).await;
    let live = d.connect(bob, 0).await;
    let gone = d.connect(bob, 1).await;
    d.pushes.make_gone(&gone);
    let now = d.ctx.now_ms();
    let recorded = |targets: Vec<chathub_shared::store::Target>| -> Vec<String> {
        let mut sockets: Vec<String> = targets.into_iter().map(|t| t.connection.to_string()).collect();
        sockets.sort();
        sockets
    };
    let both = vec![live.to_string(), gone.to_string()];
    assert_eq!(recorded(d.ctx.store.conversation_connections(&group, now).await.unwrap()), both);

    messages::send(&d.ctx, ann, &group, text("to the group", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&live), vec![1]);
    assert_eq!(recorded(d.ctx.store.conversation_connections(&group, now).await.unwrap()), vec![live.to_string()]);
    let on_profile: Vec<ConnectionId> =
        d.ctx.store.sockets(bob, now).await.unwrap().into_iter().map(|(c, _)| c).collect();
    assert_eq!(on_profile.len(), 2, "a group's push forgets the record only: {on_profile:?}");

    messages::send(&d.ctx, ann, &direct, text("to bob", None), None).await.unwrap();
    assert_eq!(d.pushes.message_ids(&live), vec![1, 1]);
    let on_profile: Vec<ConnectionId> =
        d.ctx.store.sockets(bob, now).await.unwrap().into_iter().map(|(c, _)| c).collect();
    assert_eq!(on_profile, vec![live.clone()], "a direct conversation's push forgets it on the profile");
    assert_eq!(recorded(d.ctx.store.conversation_connections(&direct, now).await.unwrap()), vec![live.to_string()]);
}
