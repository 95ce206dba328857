//! API Gateway's WebSocket limits, kept by the local gateway: a frame over 32 KB or a message
//! over 128 KB closes the socket with 1009; a message of up to 128 KB in 32 KB fragments is
//! answered; pushes over 32 KB arrive in fragments and the management API refuses one over
//! 128 KB; an idle socket closes after the idle timeout (pushes to it do not count) and any socket
//! at the end of its lifetime, both with 1001. Clients here read with API Gateway's own limits
//! (32 KB frames), so a push that came as one big frame would fail the read.

mod support;

use std::time::Duration;

use chathub_gateway::ws::WsLimits;
use chathub_shared::notify::Notifier;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::ws::{send_fragmented, Socket};
use support::TestApp;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const KB: usize = 1024;

on_both_stores!(a_history_page_over_the_websocket_is_cut_to_fit_and_pages_on_to_every_message_once);

/// A socket of `username`'s that reads with API Gateway's limits: frames of at most 32 KB.
async fn socket(app: &TestApp, username: &str) -> Socket {
    let session = app.register(username).await;
    let url = format!("{}/?token={}", app.ws_url, session.access);
    let config = WebSocketConfig::default().max_frame_size(Some(32 * KB)).max_message_size(Some(128 * KB));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false).await.expect("handshake");
    socket
}

/// A `ping` request padded to `bytes` bytes of JSON.
fn padded_ping(request_id: &str, bytes: usize) -> String {
    let bare = json!({"type": "ping", "request_id": request_id, "pad": ""}).to_string();
    json!({"type": "ping", "request_id": request_id, "pad": "x".repeat(bytes - bare.len())}).to_string()
}

/// What the socket reads next within `wait`: `Ok(text)` for a message, `Err(code)` for a close
/// (`None`: the connection ended without a close frame, or nothing came).
async fn next(socket: &mut Socket, wait: Duration) -> Result<String, Option<u16>> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("reading failed: {e}"),
            Ok(None) | Err(_) => return Err(None),
        }
    }
}

fn answer(text: &str) -> Value {
    serde_json::from_str(text).expect("an answer is JSON")
}

#[tokio::test]
async fn a_single_frame_over_32_kb_closes_the_socket_with_1009() {
    let app = TestApp::embedded().await;
    let mut ana = socket(&app, "ana").await;
    // 32 KB exactly is fine.
    ana.send(Message::Text(padded_ping("fits", 32 * KB).into())).await.unwrap();
    assert_eq!(answer(&next(&mut ana, Duration::from_secs(10)).await.unwrap())["request_id"], "fits");
    ana.send(Message::Text(padded_ping("big", 40 * KB).into())).await.unwrap();
    assert_eq!(next(&mut ana, Duration::from_secs(10)).await, Err(Some(u16::from(CloseCode::Size))));
    app.stop().await;
}

#[tokio::test]
async fn a_message_in_32_kb_fragments_is_answered_up_to_128_kb_and_closes_the_socket_beyond() {
    let app = TestApp::embedded().await;
    let mut ben = socket(&app, "ben").await;
    send_fragmented(&mut ben, &padded_ping("sixty", 60 * KB), 32 * KB).await;
    let pong = answer(&next(&mut ben, Duration::from_secs(10)).await.unwrap());
    assert_eq!((pong["request_id"].as_str(), pong["data"].as_str()), (Some("sixty"), Some("pong")), "{pong}");
    send_fragmented(&mut ben, &padded_ping("whole", 128 * KB), 32 * KB).await;
    assert_eq!(answer(&next(&mut ben, Duration::from_secs(10)).await.unwrap())["request_id"], "whole");
    send_fragmented(&mut ben, &padded_ping("too-big", 129 * KB), 32 * KB).await;
    assert_eq!(next(&mut ben, Duration::from_secs(10)).await, Err(Some(u16::from(CloseCode::Size))));
    app.stop().await;
}

#[tokio::test]
async fn a_push_over_32_kb_arrives_in_fragments_and_one_over_128_kb_is_refused() {
    let app = TestApp::embedded().await;
    let mut cal = socket(&app, "cal").await;
    let id = chathub_shared::ConnectionId::new(app.socket_ids().pop().expect("cal's socket"));
    let management = app.management().await;
    let push = json!({"type": "big", "data": "y".repeat(60 * KB)}).to_string();
    management.post(&id, push.as_bytes()).await.expect("a 60 KB push is taken");
    assert_eq!(next(&mut cal, Duration::from_secs(10)).await, Ok(push));
    let too_big = json!({"type": "too big", "data": "z".repeat(129 * KB)}).to_string();
    assert!(management.post(&id, too_big.as_bytes()).await.is_err(), "a 129 KB push is refused");
    // The socket is still open, and nothing of the refused push came.
    cal.send(Message::Text(padded_ping("after", 100).into())).await.unwrap();
    assert_eq!(answer(&next(&mut cal, Duration::from_secs(10)).await.unwrap())["request_id"], "after");
    app.stop().await;
}

#[tokio::test]
async fn an_idle_socket_closes_after_the_idle_timeout_and_a_talking_one_at_the_end_of_its_lifetime() {
    let limits = WsLimits { idle_timeout: Duration::from_secs(2), max_lifetime: Duration::from_secs(5) };
    let app = TestApp::embedded_with_ws_limits(limits).await;
    let mut quiet = socket(&app, "quiet").await;
    let quiet_id = chathub_shared::ConnectionId::new(app.socket_ids().pop().unwrap());
    let mut talker = socket(&app, "talker").await;
    let start = Instant::now();
    let management = app.management().await;
    // The quiet socket only receives: pushes every half second do not keep it open.
    let mut quiet_closed = None;
    let mut talker_closed = None;
    let mut k = 0;
    while start.elapsed() < Duration::from_secs(9) && talker_closed.is_none() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        k += 1;
        if quiet_closed.is_none() {
            let _ = management.post(&quiet_id, br#"{"type":"tick"}"#).await;
            loop {
                match next(&mut quiet, Duration::from_millis(50)).await {
                    Ok(_) => continue,
                    Err(Some(code)) => {
                        quiet_closed = Some((code, start.elapsed()));
                        break;
                    }
                    Err(None) => break,
                }
            }
        }
        talker.send(Message::Text(padded_ping(&format!("t{k}"), 100).into())).await.ok();
        match next(&mut talker, Duration::from_secs(2)).await {
            Ok(text) => assert_eq!(answer(&text)["request_id"], format!("t{k}")),
            Err(code) => talker_closed = Some((code, start.elapsed())),
        }
    }
    let (code, at) = quiet_closed.expect("the quiet socket was closed");
    assert_eq!(code, u16::from(CloseCode::Away));
    assert!(at >= Duration::from_millis(1500) && at < Duration::from_millis(4500), "idle close at {at:?}");
    let (code, at) = talker_closed.expect("the talking socket was closed at the end of its lifetime");
    assert_eq!(code, Some(u16::from(CloseCode::Away)));
    assert!(
        at >= Duration::from_millis(4500),
        "lifetime close at {at:?}: the talking socket outlived the idle timeout"
    );
    app.stop().await;
}

/// 100 messages of 4,000 characters are about 420 KB: no WebSocket answer may carry them at once.
/// Paging back (`before`) and catching up (`after`) with `limit=100` each read every message
/// once, in answers that fit in 128 KB with `has_more` truthful; over REST one page holds them all.
async fn a_history_page_over_the_websocket_is_cut_to_fit_and_pages_on_to_every_message_once(app: &TestApp) {
    let dora = app.register("dora").await;
    let eli = app.register("eli").await;
    let created = app.post("/conversations", Some(&dora.access), json!({"members": ["eli"]})).await;
    let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let mut sent = Vec::new();
    for k in 0..100 {
        let (who, letter) = if k % 2 == 0 { (&dora, 'd') } else { (&eli, 'e') };
        let content = format!("{k:03}{}", letter.to_string().repeat(3997));
        let reply =
            app.post(&format!("/conversations/{id}/messages"), Some(&who.access), json!({"content": content})).await;
        sent.push(reply.assert_status(201)["id"].as_i64().unwrap());
    }
    let rest = app.get(&format!("/conversations/{id}/messages?limit=100"), &dora.access).await;
    assert_eq!(rest.assert_status(200)["messages"].as_array().unwrap().len(), 100, "REST is not cut");

    let mut socket = app.socket(&dora).await;
    let page = |mut fields: Value| {
        fields["conversation_id"] = json!(id);
        fields["limit"] = json!(100);
        fields
    };
    // Back from the latest.
    let mut seen: Vec<i64> = Vec::new();
    let mut before: Option<i64> = None;
    for _ in 0..20 {
        let fields = before.map(|b| json!({"before": b})).unwrap_or(json!({}));
        let answer = socket.request("get_messages", page(fields)).await;
        // Serialized again, it is as long as it came (the same escaping; only key order differs).
        assert!(answer.to_string().len() <= 128 * KB, "an answer of {} bytes", answer.to_string().len());
        let data = &answer["data"];
        let ids: Vec<i64> = data["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(!ids.is_empty() && ids.len() < 100, "a cut page: {} messages", ids.len());
        seen.splice(0..0, ids.iter().copied());
        before = ids.first().copied();
        if data["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, sent, "paging back read every message once, in order");
    // Catching up from the start.
    let mut seen: Vec<i64> = Vec::new();
    let mut after = 0;
    for _ in 0..20 {
        let answer = socket.request("get_messages", page(json!({"after": after}))).await;
        assert!(answer.to_string().len() <= 128 * KB, "an answer of {} bytes", answer.to_string().len());
        let data = &answer["data"];
        let ids: Vec<i64> = data["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(!ids.is_empty() && ids.len() < 100, "a cut page: {} messages", ids.len());
        seen.extend(&ids);
        after = *ids.last().unwrap();
        if data["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, sent, "catching up read every message once, in order");
    socket.close().await;
}
