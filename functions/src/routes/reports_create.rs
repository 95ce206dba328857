//! `POST /reports`: report a message I can read to the people who run the deployment.

use chathub_shared::http::{authenticate, body_json, json, Response};
use chathub_shared::{reports, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("POST" "/reports" => "reports-create", Reporting);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let (receipt, new) = reports::report(&ctx, &caller.sub, body_json(&req)?).await?;
    Ok(json(if new { StatusCode::CREATED } else { StatusCode::OK }, &receipt))
}
