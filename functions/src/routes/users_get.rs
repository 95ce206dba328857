//! `GET /users/{username}`: one profile (private fields only for oneself).

use chathub_shared::http::{authenticate, json, path_param, Response};
use chathub_shared::{users, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/users/{username}" => "users-get", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let user = users::get(&ctx, &caller.sub, &path_param(&req, "username")?).await?;
    Ok(json(StatusCode::OK, &user))
}
