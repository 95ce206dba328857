//! `POST /files`: declare a file and get a presigned upload URL bound to its size and type.

use chathub_shared::http::{authenticate, body_json, json, Response};
use chathub_shared::{files, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/files" => "files-create", Files);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let upload = files::create(&ctx, &caller.sub, body_json(&req)?).await?;
    Ok(json(StatusCode::CREATED, &upload))
}
