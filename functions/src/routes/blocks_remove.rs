//! `DELETE /users/me/blocks/{username}`: unblock a user.

use chathub_shared::http::{authenticate, no_content, path_param, Response};
use chathub_shared::{blocks, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/users/me/blocks/{username}" => "blocks-remove", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    blocks::unblock(&ctx, &caller.sub, &path_param(&req, "username")?).await?;
    Ok(no_content())
}
