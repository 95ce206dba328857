//! WebSocket `$connect`: records the socket and its session (the authorizer has checked the token);
//! the first socket brings the user online.

use chathub_shared::ws::WsRequest;
use chathub_shared::{presence, ApiError, Ctx};

pub async fn handle(ctx: Ctx, req: WsRequest) -> Result<(), ApiError> {
    presence::connect(&ctx, &req.username, &req.connection_id, req.session.as_deref()).await
}
