//! `GET /users/{username}`: one profile (private fields only for oneself).

use chathub_shared::http::{authenticate, json, path_param, Response};
use chathub_shared::{users, ApiError, Ctx};
use http::StatusCode;
use lambda_http::Request;

rest_route!("GET" "/users/{username}" => "users-get", chathub_shared::Clients::STORE);

pub async fn handle(ctx: Ctx, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let user = users::get(&ctx, &caller.sub, &path_param(&req, "username")?).await?;
    Ok(json(StatusCode::OK, &user))
}
