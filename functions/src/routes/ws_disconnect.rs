//! WebSocket `$disconnect`: forgets the socket; the last one takes the user offline.

use chathub_shared::ws::WsRequest;
use chathub_shared::{presence, ApiError};

ws_route!("$disconnect" => "ws-disconnect", lifecycle Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<(), ApiError> {
    presence::disconnect(&ctx, &req.username, &req.connection_id).await
}
