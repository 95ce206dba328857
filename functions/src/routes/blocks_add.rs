//! `PUT /users/me/blocks/{username}`: block a user (again: no change).

use chathub_shared::http::{authenticate, no_content, path_param, Response};
use chathub_shared::{blocks, ApiError};
use lambda_http::Request;

rest_route!("PUT" "/users/me/blocks/{username}" => "blocks-add", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    blocks::block(&ctx, &caller.sub, &path_param(&req, "username")?).await?;
    Ok(no_content())
}
