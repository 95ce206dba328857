//! Reactions: the `ReactionStore` port on DynamoDB. A message item carries each reaction's count
//! (`rx:<reaction>`), some of its users (`ru:<reaction>`, a string set kept to about ten: a user
//! joins it while it has fewer) and the number of distinct reactions (`rx_n`); each member's own
//! reactions on a message are an item of their own (`RXU#<user>#<id>`, a string set). A change is
//! one transaction: the membership checked, the member's item (which refuses a second add and the
//! 21st reaction), and the message conditioned on the reaction's count as read (so the count after
//! is exact, and the 51st distinct reaction is refused). It marks the message `changed_at` with
//! what changed, for the stream.

use super::*;
use crate::reactions::store::{ReactionStore, OWN_REACTIONS_MAX, REACTIONS_MAX};

/// The member's own reactions attribute.
const OWN: &str = "reactions";

fn read_reaction(message: &Message, reaction: &str) -> Option<crate::chat::Reaction> {
    message.reactions.iter().find(|r| r.reaction == reaction).cloned()
}

/// Which write of a cancelled transaction refused, with the item as it was (`None` when the
/// transaction failed otherwise).
pub(super) type Refusals = Vec<(usize, Option<Item>)>;

impl DynamoStore {
    /// Runs a transaction; on cancellation for failed conditions, the writes that refused (each
    /// asked for its old item), for the caller to tell why. Contention is `Unavailable`.
    pub(super) async fn transact_or_refusals(
        &self,
        writes: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Refusals>, StoreError> {
        let result = self.client.transact_write_items().set_transact_items(Some(writes)).send().await;
        let Err(err) = result else { return Ok(Ok(())) };
        if let Some(
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancel,
            ),
        ) = err.as_service_error()
        {
            let refused: Refusals = cancel
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, r)| (i, r.item().cloned()))
                .collect();
            if !refused.is_empty() {
                return Ok(Err(refused));
            }
            return Err(StoreError::unavailable("transaction contended"));
        }
        Err(sdk_error(err))
    }

    /// The membership's refusal: blocked, or not a member.
    pub(super) async fn membership_refusal(&self, username: &str, conversation_id: &ConversationId) -> StoreError {
        match self.get(user_pk(username), &member_sk(conversation_id)).await {
            Ok(Some(item)) if item.contains_key(BLOCKED) => StoreError::Conflict(Conflict::Blocked),
            Ok(_) => StoreError::Conflict(Conflict::NotMember),
            Err(e) => e,
        }
    }
}

/// The membership check of a member's write (the blocked side of a direct conversation refused
/// unless `blocked_may`).
pub(super) fn member_check(
    table: &str,
    username: &str,
    conversation_id: &ConversationId,
    blocked_may: bool,
) -> Result<TransactWriteItem, StoreError> {
    let condition =
        if blocked_may { "attribute_exists(pk)" } else { "attribute_exists(pk) AND attribute_not_exists(#blocked)" };
    let mut check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(user_pk(username), &member_sk(conversation_id))))
        .condition_expression(condition);
    if !blocked_may {
        check = check.expression_attribute_names("#blocked", BLOCKED);
    }
    Ok(TransactWriteItem::builder().condition_check(check.build().map_err(build_error)?).build())
}

/// Why a message's write was refused, from its old item: deleted, or gone.
pub(super) fn message_refusal(old: Option<&Item>) -> Conflict {
    match old {
        Some(item) if matches!(item.get("deleted"), Some(AV::Bool(true))) => Conflict::Deleted,
        Some(item) if !item.contains_key("is_void") => Conflict::Stale,
        _ => Conflict::Missing,
    }
}

/// The mark a reaction's or a pin's write leaves on the message: `changed_at` (the stream's filter
/// passes the MODIFY) and what changed (`change_kind`, `change_by`, and `change_reaction` for a
/// reaction), which [`super::stream::change_of`] reads. Names `#changed`, `#kind`, `#by`, `#what`;
/// values `:now`, `:kind`, `:by`, and `:what` for a reaction.
pub(super) fn change_mark(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    kind: &str,
    by: &str,
    reaction: Option<&str>,
    now: i64,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    let update = update
        .expression_attribute_names("#changed", MESSAGE_CHANGED)
        .expression_attribute_names("#kind", CHANGE_KIND)
        .expression_attribute_names("#by", CHANGE_BY)
        .expression_attribute_names("#what", CHANGE_REACTION)
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":kind", s(kind))
        .expression_attribute_values(":by", s(by))
        .return_values_on_condition_check_failure(aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld);
    match reaction {
        Some(reaction) => update.expression_attribute_values(":what", s(reaction)),
        None => update,
    }
}

/// The first of `found` in the order that tells the caller most.
pub(super) fn worst(found: Vec<Conflict>) -> StoreError {
    let order = [Conflict::Deleted, Conflict::Unchanged, Conflict::TooMany, Conflict::Missing, Conflict::Stale];
    let pick = order.into_iter().find(|c| found.contains(c)).unwrap_or(Conflict::Stale);
    StoreError::Conflict(pick)
}

#[async_trait]
impl ReactionStore for DynamoStore {
    async fn add_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let conversation = &message.conversation_id;
        let read = read_reaction(message, reaction);
        let count = read.as_ref().map_or(0, |r| r.count);
        let own = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), &own_reactions_sk(username, message.id))))
            .update_expression("ADD #own :r")
            .condition_expression("attribute_not_exists(#own) OR (NOT contains(#own, :one) AND size(#own) < :max)")
            .expression_attribute_names("#own", OWN)
            .expression_attribute_values(":r", AV::Ss(vec![reaction.to_owned()]))
            .expression_attribute_values(":one", s(reaction))
            .expression_attribute_values(":max", n(OWN_REACTIONS_MAX as i64))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .build()
            .map_err(build_error)?;
        let mut update = "ADD #count :one".to_owned();
        let mut condition = "attribute_exists(pk) AND attribute_not_exists(is_void) AND deleted = :false".to_owned();
        if count == 0 {
            update.push_str(", #distinct :one");
            condition.push_str(
                " AND attribute_not_exists(#count) AND (attribute_not_exists(#distinct) OR #distinct < :max)",
            );
        } else {
            condition.push_str(" AND #count = :read");
        }
        // A user joins the reaction's listed users while it lists fewer than it shows.
        let listed = read.as_ref().map_or(0, |r| r.users.len());
        if listed < crate::chat::REACTION_USERS_SHOWN {
            update.push_str(", #users :me");
        }
        update.push_str(" SET #changed = :now, #kind = :kind, #by = :by, #what = :what");
        let mut builder = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), &msg_sk(message.id))))
            .update_expression(&update)
            .condition_expression(&condition)
            .expression_attribute_names("#count", format!("{REACTION_COUNT}{reaction}"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":false", AV::Bool(false));
        builder = change_mark(builder, CHANGE_KIND_REACTION, username, Some(reaction), now);
        if count == 0 {
            builder = builder
                .expression_attribute_names("#distinct", REACTIONS_DISTINCT)
                .expression_attribute_values(":max", n(REACTIONS_MAX as i64));
        } else {
            builder = builder.expression_attribute_values(":read", n(count));
        }
        if listed < crate::chat::REACTION_USERS_SHOWN {
            builder = builder
                .expression_attribute_names("#users", format!("{REACTION_USERS}{reaction}"))
                .expression_attribute_values(":me", AV::Ss(vec![username.to_owned()]));
        }
        let writes = vec![
            member_check(&self.table, username, conversation, false)?,
            TransactWriteItem::builder().update(own).build(),
            TransactWriteItem::builder().update(builder.build().map_err(build_error)?).build(),
        ];
        let Err(refused) = self.transact_or_refusals(writes).await? else { return Ok(count + 1) };
        let mut found = Vec::new();
        for (i, old) in refused {
            match i {
                0 => return Err(self.membership_refusal(username, conversation).await),
                1 => {
                    let has = matches!(old.as_ref().and_then(|o| o.get(OWN)), Some(AV::Ss(own)) if own.iter().any(|r| r == reaction));
                    found.push(if has { Conflict::Unchanged } else { Conflict::TooMany });
                }
                _ => {
                    let conflict = message_refusal(old.as_ref());
                    let full = old
                        .as_ref()
                        .and_then(|o| opt_n(o, REACTIONS_DISTINCT).ok().flatten())
                        .is_some_and(|d| d >= REACTIONS_MAX as i64);
                    let absent = old.as_ref().is_some_and(|o| !o.contains_key(&format!("{REACTION_COUNT}{reaction}")));
                    found.push(if conflict == Conflict::Stale && full && absent {
                        Conflict::TooMany
                    } else {
                        conflict
                    });
                }
            }
        }
        Err(worst(found))
    }

    async fn remove_reaction(
        &self,
        message: &Message,
        username: &str,
        reaction: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let conversation = &message.conversation_id;
        let count = read_reaction(message, reaction).map_or(0, |r| r.count);
        let own = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), &own_reactions_sk(username, message.id))))
            .update_expression("DELETE #own :r")
            .condition_expression("contains(#own, :one)")
            .expression_attribute_names("#own", OWN)
            .expression_attribute_values(":r", AV::Ss(vec![reaction.to_owned()]))
            .expression_attribute_values(":one", s(reaction))
            .build()
            .map_err(build_error)?;
        // The last one removes the reaction from the message.
        let update = if count == 1 {
            "REMOVE #count, #users ADD #distinct :minus SET #changed = :now, #kind = :kind, #by = :by, #what = :what"
        } else {
            "ADD #count :minus DELETE #users :me SET #changed = :now, #kind = :kind, #by = :by, #what = :what"
        };
        let mut builder = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), &msg_sk(message.id))))
            .update_expression(update)
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(is_void) AND deleted = :false AND #count = :read",
            )
            .expression_attribute_names("#count", format!("{REACTION_COUNT}{reaction}"))
            .expression_attribute_names("#users", format!("{REACTION_USERS}{reaction}"))
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":false", AV::Bool(false))
            .expression_attribute_values(":read", n(count));
        builder = change_mark(builder, CHANGE_KIND_REACTION, username, Some(reaction), now);
        if count == 1 {
            builder = builder.expression_attribute_names("#distinct", REACTIONS_DISTINCT);
        } else {
            builder = builder.expression_attribute_values(":me", AV::Ss(vec![username.to_owned()]));
        }
        let writes = vec![
            member_check(&self.table, username, conversation, true)?,
            TransactWriteItem::builder().update(own).build(),
            TransactWriteItem::builder().update(builder.build().map_err(build_error)?).build(),
        ];
        let Err(refused) = self.transact_or_refusals(writes).await? else { return Ok(count - 1) };
        let mut found = Vec::new();
        for (i, old) in refused {
            match i {
                0 => return Err(self.membership_refusal(username, conversation).await),
                1 => found.push(Conflict::Unchanged),
                _ => found.push(message_refusal(old.as_ref())),
            }
        }
        Err(worst(found))
    }

    async fn own_reactions(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        from: MessageId,
        to: MessageId,
    ) -> Result<Vec<(MessageId, Vec<String>)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":from", AV::S(own_reactions_sk(username, from)))
            .expression_attribute_values(":to", AV::S(own_reactions_sk(username, to)))
            .send()
            .await
            .map_err(sdk_error)?;
        out.items.unwrap_or_default().iter().map(parse_own_reactions).filter_map(Result::transpose).collect()
    }
}

/// A member's own reactions item: the message id and the reactions (`None` when it has none).
pub(super) fn parse_own_reactions(item: &Item) -> Result<Option<(MessageId, Vec<String>)>, StoreError> {
    let sk = req_s(item, "sk")?;
    let id = sk
        .rsplit('#')
        .next()
        .and_then(|digits| digits.parse().ok())
        .map(MessageId::new)
        .ok_or_else(|| StoreError::internal("own reactions sort key"))?;
    Ok(match item.get(OWN) {
        Some(AV::Ss(own)) if !own.is_empty() => Some((id, own.clone())),
        _ => None,
    })
}
