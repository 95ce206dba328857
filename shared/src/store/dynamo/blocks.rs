//! Blocks: the `BlockStore` port on DynamoDB. `USER#<blocker>` / `BLOCK#<blocked>` records one
//! (listed in name order); the blocker's profile holds the set (`blocks`) every check reads; the
//! blocked user's side of the pair's direct conversation carries `blocked`, which the send's
//! membership check refuses. A block or an unblock writes them in one transaction, conditioned on
//! what it read of the direct conversation, so a conversation created meanwhile is never missed.

use super::*;
use crate::blocks::store::{Block, BlockStore, BLOCKS_MAX};

const BLOCK: &str = "BLOCK#";

fn block_sk(blocked: &str) -> String {
    format!("{BLOCK}{blocked}")
}

/// The pair's direct conversation as read, and whether the blocked user is still in it.
enum Direct {
    None,
    Left(ConversationId),
    In(ConversationId),
}

impl DynamoStore {
    async fn direct_side(&self, blocked: &str, direct_key: &str) -> Result<Direct, StoreError> {
        let Some(id) = self.direct_conversation(direct_key).await? else { return Ok(Direct::None) };
        Ok(match self.get(user_pk(blocked), &member_sk(&id)).await? {
            Some(_) => Direct::In(id),
            None => Direct::Left(id),
        })
    }

    /// What a block or an unblock writes to the direct side (`set`: mark or clear), guarded by
    /// what was read of it; its conflict is `Missing`: read again and retry.
    fn direct_write(
        &self,
        blocked: &str,
        direct_key: &str,
        direct: &Direct,
        set: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(match direct {
            Direct::In(id) => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(blocked), &member_sk(id))))
                    .update_expression(if set { "SET #b = :t" } else { "REMOVE #b" })
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_names("#b", BLOCKED);
                let update = if set { update.expression_attribute_values(":t", AV::Bool(true)) } else { update };
                TransactWriteItem::builder().update(update.build().map_err(build_error)?).build()
            }
            Direct::Left(id) => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(blocked), &member_sk(id))))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
            Direct::None => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(format!("DIRECT#{direct_key}"), "DIRECT")))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        })
    }
}

#[async_trait]
impl BlockStore for DynamoStore {
    async fn block(&self, blocker: &str, blocked: &str, direct_key: &str, now: i64) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            let direct = self.direct_side(blocked, direct_key).await?;
            let mut record = key(user_pk(blocker), &block_sk(blocked));
            record.insert("username".into(), s(blocked));
            record.insert("blocked_at".into(), n(now));
            let profile = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(blocker), PROFILE)))
                .update_expression("ADD #blocks :b")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(#blocks) OR size(#blocks) < :max)",
                )
                .expression_attribute_names("#blocks", "blocks")
                .expression_attribute_values(":b", AV::Ss(vec![blocked.to_owned()]))
                .expression_attribute_values(":max", n(BLOCKS_MAX as i64))
                .build()
                .map_err(build_error)?;
            let writes = vec![
                put(&self.table, record, "attribute_not_exists(pk)")?,
                TransactWriteItem::builder().update(profile).build(),
                self.direct_write(blocked, direct_key, &direct, true)?,
            ];
            match self.transact(writes, &[Conflict::AlreadyBlocked, Conflict::TooMany, Conflict::Missing]).await {
                Err(StoreError::Conflict(Conflict::Missing)) if attempt < RETRIES => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn unblock(&self, blocker: &str, blocked: &str, direct_key: &str) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            let direct = self.direct_side(blocked, direct_key).await?;
            let record = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(blocker), &block_sk(blocked))))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(build_error)?;
            let profile = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(blocker), PROFILE)))
                .update_expression("DELETE #blocks :b")
                .expression_attribute_names("#blocks", "blocks")
                .expression_attribute_values(":b", AV::Ss(vec![blocked.to_owned()]))
                .build()
                .map_err(build_error)?;
            let writes = vec![
                TransactWriteItem::builder().delete(record).build(),
                TransactWriteItem::builder().update(profile).build(),
                self.direct_write(blocked, direct_key, &direct, false)?,
            ];
            // Not blocked: nothing to undo (`NotMember` stands for it here).
            match self.transact(writes, &[Conflict::NotMember, Conflict::Missing, Conflict::Missing]).await {
                Ok(()) => return Ok(true),
                Err(StoreError::Conflict(Conflict::NotMember)) => return Ok(false),
                Err(StoreError::Conflict(Conflict::Missing)) if attempt < RETRIES => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn list_blocks(&self, blocker: &str, after: Option<&str>, limit: usize) -> Result<Page<Block>, StoreError> {
        // `!` sorts before every username character; `$` right after `#` (as contacts do).
        let from = match after {
            Some(after) => format!("{BLOCK}{after}!"),
            None => BLOCK.to_owned(),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(user_pk(blocker)))
            .expression_attribute_values(":from", AV::S(from))
            .expression_attribute_values(":to", s("BLOCK$"))
            .limit(limit as i32 + 1)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| Ok(Block { username: req_s(item, "username")?, blocked_at: req_n(item, "blocked_at")? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|b| b.username.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
