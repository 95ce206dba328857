//! A WebSocket test client: requests matched to answers by `request_id`, pushes queued by type.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct WsClient {
    socket: Socket,
    /// Frames read but not asked for yet.
    pending: VecDeque<Value>,
    next_id: u64,
    pub name: String,
    /// How long to wait for an expected frame.
    wait: Duration,
}

/// The handshake's HTTP status when it was refused.
pub async fn refused_status(url: &str, header: Option<(&'static str, String)>) -> Option<u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some((name, value)) = header {
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Some(response.status().as_u16()),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

/// Sends `text` as one message in fragments of `size` bytes.
pub async fn send_fragmented(socket: &mut Socket, text: &str, size: usize) {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let pieces: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let fragment = Frame::message(piece.to_vec(), opcode, i + 1 == pieces.len());
        socket.feed(Message::Frame(fragment)).await.expect("fragment sent");
    }
    socket.flush().await.expect("fragments sent");
}

impl WsClient {
    /// Connects with `?token=`.
    pub async fn connect(ws_url: &str, token: &str, name: &str) -> Self {
        Self::connect_with(&format!("{ws_url}/?token={token}"), None, name).await
    }

    pub async fn connect_with(url: &str, header: Option<(&'static str, String)>, name: &str) -> Self {
        let mut request = url.into_client_request().unwrap();
        if let Some((header, value)) = header {
            request.headers_mut().insert(header, value.parse().unwrap());
        }
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("handshake succeeds");
        assert_eq!(response.status().as_u16(), 101);
        Self { socket, pending: VecDeque::new(), next_id: 0, name: name.to_owned(), wait: WAIT }
    }

    /// Waits longer for expected frames (a burst on a slow store answers late, not wrongly).
    pub fn patient(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::Text(text.to_owned().into())).await.expect("frame sent");
    }

    async fn read(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??;
            match frame {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).expect("frames are JSON")),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// `{type, ...fields, request_id}` with the next request id, and that id.
    fn next_request(&mut self, kind: &str, fields: Value) -> (String, String) {
        self.next_id += 1;
        let request_id = format!("{}-{}", self.name, self.next_id);
        let mut frame = fields;
        frame["type"] = json!(kind);
        frame["request_id"] = json!(request_id);
        (frame.to_string(), request_id)
    }

    /// Sends `{type, ...fields, request_id}` and returns the answer with that `request_id`.
    pub async fn request(&mut self, kind: &str, fields: Value) -> Value {
        let (text, request_id) = self.next_request(kind, fields);
        self.send_raw(&text).await;
        self.answer(&request_id).await
    }

    /// [`WsClient::request`] for a frame over API Gateway's 32 KB: sent as a message in 32 KB
    /// fragments, as a client must (a single bigger frame closes the socket with 1009).
    pub async fn request_fragmented(&mut self, kind: &str, fields: Value) -> Value {
        let (text, request_id) = self.next_request(kind, fields);
        send_fragmented(&mut self.socket, &text, 32 * 1024).await;
        self.answer(&request_id).await
    }

    /// Sends without waiting; the answer can be collected with [`WsClient::answer`].
    pub async fn fire(&mut self, kind: &str, fields: Value, request_id: &str) {
        let mut frame = fields;
        frame["type"] = json!(kind);
        frame["request_id"] = json!(request_id);
        self.send_raw(&frame.to_string()).await;
    }

    pub async fn answer(&mut self, request_id: &str) -> Value {
        if let Some(pos) = self.pending.iter().position(|f| f["request_id"] == request_id) {
            return self.pending.remove(pos).unwrap();
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let frame = self.read(deadline).await.unwrap_or_else(|| panic!("{}: no answer to {request_id}", self.name));
            if frame["request_id"] == request_id {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// The next answer to an unidentified frame (no `request_id`, not a push of the given kinds).
    pub async fn next_frame(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        self.read(deadline).await.unwrap_or_else(|| panic!("{}: no frame came", self.name))
    }

    /// The next push of `kind` (no `request_id`).
    pub async fn event(&mut self, kind: &str) -> Value {
        if let Some(pos) = self.pending.iter().position(|f| f["type"] == kind && f.get("request_id").is_none()) {
            return self.pending.remove(pos).unwrap();
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let frame = self.read(deadline).await.unwrap_or_else(|| panic!("{}: no {kind} push came", self.name));
            if frame["type"] == kind && frame.get("request_id").is_none() {
                assert_eq!(frame["success"], true, "{frame}");
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// Asserts no push of `kind` arrives within `wait`.
    pub async fn no_event(&mut self, kind: &str, wait: Duration) {
        assert!(
            !self.pending.iter().any(|f| f["type"] == kind && f.get("request_id").is_none()),
            "{}: unexpected {kind} push: {:?}",
            self.name,
            self.pending
        );
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(frame) = self.read(deadline).await {
            assert!(
                !(frame["type"] == kind && frame.get("request_id").is_none()),
                "{}: unexpected {kind} push: {frame}",
                self.name
            );
            self.pending.push_back(frame);
        }
    }

    /// Reads until the server closes the socket (bounded); true when it did.
    pub async fn closed_by_server(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Drain until the server's close so `$disconnect` has run before the test goes on.
        let deadline = tokio::time::Instant::now() + self.wait;
        while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, self.socket.next()).await {}
    }
}
