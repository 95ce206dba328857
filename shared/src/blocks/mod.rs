//! Blocking: a user stops another from reaching them. A block is private to the blocker: the
//! blocked user is told nothing, and only what the block stops answers 403 `blocked`. While A
//! blocks B, B cannot start a direct conversation with A (one that exists stays, with its history,
//! for both), nor send or type in it, nor add A to a conversation or as a contact; B sees A
//! offline; A's phone is not notified of B's messages. Where each rule is kept: `conversations`
//! (creating, adding), `messages` (sending, typing in a direct conversation), `contacts`,
//! `presence` and `model::UserRecord::seen_by` (presence), `notifications::decision` (pushes).

pub mod store;

use crate::error::{ApiError, Conflict, StoreError};
use crate::model::{Page, Username};
use crate::Ctx;
use store::Block;

/// `PUT /users/me/blocks/{username}`: 404 for an unknown user, 400 for oneself; blocking again
/// changes nothing.
pub async fn block(ctx: &Ctx, caller: &str, username: &str) -> Result<(), ApiError> {
    let name = Username::parse(username).map_err(|_| ApiError::NotFound("user not found"))?;
    if name.as_str() == caller {
        return Err(ApiError::bad_request("cannot_block_self", "you cannot block yourself"));
    }
    ctx.store.get_user(name.as_str()).await?.ok_or(ApiError::NotFound("user not found"))?;
    let key = crate::chat::direct_key(caller, name.as_str());
    match ctx.store.block(caller, name.as_str(), &key, ctx.now_ms()).await {
        Ok(()) | Err(StoreError::Conflict(Conflict::AlreadyBlocked)) => Ok(()),
        Err(StoreError::Conflict(Conflict::TooMany)) => {
            Err(ApiError::Conflict { code: "too_many_blocks", detail: TOO_MANY_BLOCKS })
        }
        Err(e) => Err(e.into()),
    }
}

/// [`store::BLOCKS_MAX`], written out: a problem's detail is static text.
const TOO_MANY_BLOCKS: &str = "a user blocks at most 500 others";

/// `DELETE /users/me/blocks/{username}`: 404 when not blocked.
pub async fn unblock(ctx: &Ctx, caller: &str, username: &str) -> Result<(), ApiError> {
    let name = Username::parse(username).map_err(|_| ApiError::NotFound("not blocked"))?;
    let key = crate::chat::direct_key(caller, name.as_str());
    if !ctx.store.unblock(caller, name.as_str(), &key).await? {
        return Err(ApiError::NotFound("not blocked"));
    }
    Ok(())
}

/// `GET /users/me/blocks`: the users I block, in name order.
pub async fn list(ctx: &Ctx, caller: &str, cursor: Option<&str>, limit: usize) -> Result<Page<Block>, ApiError> {
    let after = cursor.map(crate::paging::username_cursor).transpose()?;
    Ok(ctx.store.list_blocks(caller, after.as_deref(), limit).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_limit_is_the_one_the_answer_states() {
        assert!(super::TOO_MANY_BLOCKS.contains(&super::store::BLOCKS_MAX.to_string()));
    }
}
