//! WebSocket `send_message`: send a message; every member's other sockets get it. The answer goes
//! out as soon as the message is stored, before the pushes (a one-way route: see `ws_route!`).

use chathub_shared::clients::Pushes;
use chathub_shared::messages::{self, SendMessage};
use chathub_shared::ws::{data, Answer, Answered, WsRequest};
use chathub_shared::ConversationId;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fields {
    conversation_id: ConversationId,
    #[serde(flatten)]
    message: SendMessage,
}

ws_route!("send_message" => "ws-send-message", answers_early PushFiles);

/// Answers once the message is stored (or refused), then pushes: the sender never waits for the
/// fan-out, even when its send is the one holding the conversation's push turn.
pub async fn handle(ctx: Context, req: WsRequest, answer: Answer) -> Answered {
    let fields: Fields = match req.fields() {
        Ok(fields) => fields,
        Err(e) => return answer.send(ctx.pusher(), Err(&e)).await,
    };
    let origin = Some(&req.connection_id);
    let sent = messages::store(&ctx, &req.username, &fields.conversation_id, fields.message, origin).await;
    let answered = match sent.outcome() {
        Ok((message, _)) => match data(message) {
            Ok(data) => answer.send(ctx.pusher(), Ok(data)).await,
            Err(e) => answer.send(ctx.pusher(), Err(&e)).await,
        },
        Err(e) => answer.send(ctx.pusher(), Err(e)).await,
    };
    sent.push_after_answer(&ctx).await;
    answered
}
