//! WebSocket `$connect`: records the socket, its session (the authorizer has checked the token)
//! and whether it asked for batch frames (`?batch=1`); the first socket brings the user online.

use chathub_shared::store::SocketOptions;
use chathub_shared::ws::WsRequest;
use chathub_shared::{presence, ApiError};

ws_route!("$connect" => "ws-connect", lifecycle Push);

pub async fn handle(ctx: Context, req: WsRequest) -> Result<(), ApiError> {
    let socket = SocketOptions { session: req.session.as_deref(), batch: req.batch };
    presence::connect(&ctx, &req.username, &req.connection_id, socket).await
}
