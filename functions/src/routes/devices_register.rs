//! `PUT /devices/{device_id}`: register or refresh this installation's push token.

use chathub_shared::http::{authenticate, body_json, json, path_param, Response};
use chathub_shared::{notifications, ApiError};
use http::StatusCode;
use lambda_http::Request;

rest_route!("PUT" "/devices/{device_id}" => "devices-register", Devices);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    let device_id = path_param(&req, "device_id")?;
    let device = notifications::register(&ctx, &caller, &device_id, body_json(&req)?).await?;
    Ok(json(StatusCode::OK, &device))
}
