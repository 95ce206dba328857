//! Profiles and the user directory.

use serde::Deserialize;

use crate::accounts;
use crate::auth::Claims;
use crate::clients::{HoldsFiles, Pushes, With};
use crate::error::ApiError;
use crate::ids::FileId;
use crate::model::{validate_date, validate_text, Email, Page, UserView, Username, NAME_MAX};
use crate::store::UserUpdate;
use crate::Ctx;

/// `PATCH /users/me`: absent fields stay, `null` clears an optional one. Unknown fields (such as
/// `username`, which is immutable) are refused rather than ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchMeRequest {
    pub fullname: Option<String>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::model::present")]
    pub avatar_file_id: Option<Option<FileId>>,
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

fn checked_text(field: &str, change: Option<Option<String>>) -> Result<Option<Option<String>>, ApiError> {
    if let Some(Some(value)) = &change {
        validate_text(field, value, NAME_MAX)?;
    }
    Ok(change)
}

pub async fn me(ctx: &Ctx, caller: &str) -> Result<UserView, ApiError> {
    let user = ctx.store.get_user(caller).await?.ok_or(ApiError::NotFound("user not found"))?;
    Ok(user.private_view(ctx.now_ms()))
}

/// `source`: the client's address, for the throttle on the current-password check.
pub async fn update_me(
    ctx: &With<impl Pushes + HoldsFiles>,
    caller: &Claims,
    req: PatchMeRequest,
    source: &str,
) -> Result<UserView, ApiError> {
    let user = ctx.store.get_user(&caller.sub).await?.ok_or(ApiError::NotFound("user not found"))?;
    if let Some(fullname) = &req.fullname {
        validate_text("fullname", fullname, NAME_MAX)?;
    }
    let email = match req.email {
        Some(Some(raw)) => Some(Some(Email::parse(&raw)?.into_string())),
        other => other,
    };
    if let Some(Some(dob)) = &req.date_of_birth {
        validate_date("date_of_birth", dob)?;
    }
    if let Some(Some(file_id)) = &req.avatar_file_id {
        crate::files::usable(ctx, caller.sub.as_str(), file_id, crate::files::Purpose::Avatar, None).await?;
    }
    let password_hash = match (req.current_password, req.new_password) {
        (Some(current), Some(new)) => Some(accounts::change_password(ctx, &user, current, new, source).await?),
        (None, None) => None,
        _ => return Err(ApiError::invalid("current_password and new_password go together")),
    };
    let changes_password = password_hash.is_some();
    let update = UserUpdate {
        fullname: req.fullname,
        email,
        first_name: checked_text("first_name", req.first_name)?,
        last_name: checked_text("last_name", req.last_name)?,
        role: checked_text("role", req.role)?,
        date_of_birth: req.date_of_birth,
        avatar_file_id: req.avatar_file_id,
        password_hash,
    };
    let updated = ctx.store.update_user(&user, &update).await?;
    if changes_password {
        accounts::revoke_all_but(ctx, &caller.sub, caller.sid.as_deref()).await?;
    }
    Ok(updated.private_view(ctx.now_ms()))
}

/// One profile: private fields only for oneself.
pub async fn get(ctx: &Ctx, caller: &str, username: &str) -> Result<UserView, ApiError> {
    let name = Username::parse(username).map_err(|_| ApiError::NotFound("user not found"))?;
    let user = ctx.store.get_user(name.as_str()).await?.ok_or(ApiError::NotFound("user not found"))?;
    Ok(user.seen_by(caller, ctx.now_ms()))
}

/// The directory, by username prefix, in name order.
pub async fn list(
    ctx: &Ctx,
    caller: &str,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<UserView>, ApiError> {
    if prefix.chars().count() > 32 {
        return Err(ApiError::invalid("prefix must be at most 32 characters"));
    }
    let prefix = prefix.trim().to_ascii_lowercase();
    let after = cursor.map(crate::paging::username_cursor).transpose()?;
    let page = ctx.store.list_users(&prefix, after.as_deref(), limit).await?;
    Ok(Page {
        items: page.items.iter().map(|u| u.seen_by(caller, ctx.now_ms())).collect(),
        next_cursor: page.next_cursor,
    })
}
