//! `DELETE /devices/{device_id}`: stop pushing to one of my devices.

use chathub_shared::http::{authenticate, no_content, path_param, Response};
use chathub_shared::{notifications, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/devices/{device_id}" => "devices-remove", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    notifications::remove(&ctx, &caller.sub, &path_param(&req, "device_id")?).await?;
    Ok(no_content())
}
