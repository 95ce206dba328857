//! `DELETE /contacts/{username}`: remove a contact.

use chathub_shared::http::{authenticate, no_content, path_param, Response};
use chathub_shared::{contacts, ApiError};
use lambda_http::Request;

rest_route!("DELETE" "/contacts/{username}" => "contacts-remove", StoreOnly);

pub async fn handle(ctx: Context, req: Request) -> Result<Response, ApiError> {
    let caller = authenticate(&ctx, &req)?;
    contacts::remove(&ctx, &caller.sub, &path_param(&req, "username")?).await?;
    Ok(no_content())
}
