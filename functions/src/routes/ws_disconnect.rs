//! WebSocket `$disconnect`: forgets the socket; the last one takes the user offline.

use chathub_shared::ws::WsRequest;
use chathub_shared::{presence, ApiError, Ctx};

ws_route!("$disconnect" => "ws-disconnect", lifecycle chathub_shared::Clients::PUSH);

pub async fn handle(ctx: Ctx, req: WsRequest) -> Result<(), ApiError> {
    presence::disconnect(&ctx, &req.username, &req.connection_id).await
}
