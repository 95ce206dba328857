//! Contact lists.

use serde::Deserialize;

use crate::error::ApiError;
use crate::model::{Page, UserView, Username};
use crate::Ctx;

#[derive(Debug, Deserialize)]
pub struct AddContactRequest {
    pub username: String,
}

/// My contacts, in name order, with their presence.
pub async fn list(ctx: &Ctx, caller: &str, cursor: Option<&str>, limit: usize) -> Result<Page<UserView>, ApiError> {
    let after = cursor.map(crate::paging::username_cursor).transpose()?;
    let page = ctx.store.list_contacts(caller, after.as_deref(), limit).await?;
    let mut users = ctx.store.get_users(&page.items).await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(Page { items: users.iter().map(|u| u.seen_by(caller, ctx.now_ms())).collect(), next_cursor: page.next_cursor })
}

/// 400 for oneself, 404 for an unknown user, 403 `blocked` when they block me, 409 for a contact
/// already.
pub async fn add(ctx: &Ctx, caller: &str, req: AddContactRequest) -> Result<UserView, ApiError> {
    let name = Username::parse(&req.username).map_err(|_| ApiError::NotFound("user not found"))?;
    if name.as_str() == caller {
        return Err(ApiError::bad_request("cannot_add_self", "you cannot add yourself as a contact"));
    }
    let user = ctx.store.get_user(name.as_str()).await?.ok_or(ApiError::NotFound("user not found"))?;
    if user.blocks(caller) {
        return Err(ApiError::blocked());
    }
    ctx.store.add_contact(caller, name.as_str(), ctx.now_ms()).await?;
    Ok(user.seen_by(caller, ctx.now_ms()))
}

/// 404 when it was not a contact.
pub async fn remove(ctx: &Ctx, caller: &str, username: &str) -> Result<(), ApiError> {
    let name = Username::parse(username).map_err(|_| ApiError::NotFound("not a contact"))?;
    if !ctx.store.remove_contact(caller, name.as_str()).await? {
        return Err(ApiError::NotFound("not a contact"));
    }
    Ok(())
}

/// Every contact's username, in name order (all pages).
pub async fn all_usernames(ctx: &Ctx, owner: &str) -> Result<Vec<String>, ApiError> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx.store.list_contacts(owner, after.as_deref(), crate::paging::MAX_LIMIT).await?;
        names.extend(page.items);
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return Ok(names),
        }
    }
}
