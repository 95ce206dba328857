//! Messages, `client_id` claims, per-user send windows and the push turn: the `MessageStore` port
//! on DynamoDB.

use super::*;

#[async_trait]
impl MessageStore for DynamoStore {
    async fn allocate_message_id(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<(Conversation, Signalled), StoreError> {
        // The id counter and the push turn share the conversation's item (a few hundred bytes:
        // one write unit), so handing out an id signals the turn in the same write. `pushed_id`
        // starts at the id before this one on an item that has none yet.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression(ALLOCATE)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(push_names(&[ALLOCATE])))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(claim.now))
            .expression_attribute_values(":me", s(claim.holder))
            .expression_attribute_values(":until", n(claim.lease_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::NotMember))?;
        let item = out.attributes.unwrap_or_default();
        let conversation = parse_conversation(&item)?;
        Ok((conversation, found_turn(&item, claim)?))
    }

    async fn put_message(&self, message: &Message, rate: &SendRate) -> Result<(), StoreError> {
        // The sender's own counter doubles as the membership check, and as the block's: the
        // sender's side of a direct conversation is marked while the other member blocks them.
        let own = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&message.sender_username), &member_sk(&message.conversation_id))))
            .update_expression("ADD own_after_read :one SET active_at = :now REMOVE badge_due")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#blocked)")
            .expression_attribute_names("#blocked", BLOCKED)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(message.sent_at))
            .build()
            .map_err(build_error)?;
        let mut writes = vec![
            TransactWriteItem::builder().update(own).build(),
            put(&self.table, message_item(message), "attribute_not_exists(pk)")?,
        ];
        // The sender's sends in this window: an item per (sender, window), gone with its TTL.
        let counted = Update::builder()
            .table_name(&self.table)
            .set_key(Some(rate_key(&message.sender_username, rate.window_start)))
            .update_expression("ADD #n :one SET #ttl = if_not_exists(#ttl, :ttl)")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(rate.limit)))
            .expression_attribute_values(":ttl", n((rate.window_start + rate.window_ms) / 1000 + 3600))
            .build()
            .map_err(build_error)?;
        writes.push(TransactWriteItem::builder().update(counted).build());
        let mut reasons = vec![Conflict::NotMember, Conflict::IdTaken, Conflict::RateLimited];
        if let Some(reply) = message.reply_id {
            // The parent must exist; its reply count goes up in the same write, so concurrent
            // replies never lose one. Removing the change mark keeps this MODIFY out of the
            // stream's filter: a reply is no edit of its parent.
            let parent = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(&message.conversation_id), &msg_sk(reply))))
                .update_expression("ADD #count :one REMOVE #changed")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(is_void)")
                .expression_attribute_names("#count", REPLY_COUNT)
                .expression_attribute_names("#changed", MESSAGE_CHANGED)
                .expression_attribute_values(":one", n(1))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().update(parent).build());
            reasons.push(Conflict::Missing);
        }
        if let Some(client_id) = &message.client_id {
            let mut claim =
                key(conv_pk(&message.conversation_id), &format!("CLIENT#{}#{client_id}", message.sender_username));
            claim.insert("message_id".into(), n(message.id.get()));
            writes.push(put(&self.table, claim, "attribute_not_exists(pk)")?);
            reasons.push(Conflict::DuplicateClientId);
        }
        match self.transact(writes, &reasons).await {
            // Not a member, or a blocked one: the membership says which (read only on refusal).
            Err(StoreError::Conflict(Conflict::NotMember)) => {
                let membership =
                    self.get(user_pk(&message.sender_username), &member_sk(&message.conversation_id)).await?;
                Err(StoreError::Conflict(match membership {
                    Some(item) if item.contains_key(BLOCKED) => Conflict::Blocked,
                    _ => Conflict::NotMember,
                }))
            }
            other => other,
        }
    }

    async fn put_void(&self, conversation_id: &ConversationId, id: MessageId) -> Result<(), StoreError> {
        let mut item = key(conv_pk(conversation_id), &msg_sk(id));
        item.insert("is_void".into(), AV::Bool(true));
        // Filled already (by the send, or another void): nothing to do.
        self.put_if_absent(item).await.map(|_| ())
    }

    async fn message_id_for_client_id(
        &self,
        conversation_id: &ConversationId,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        match self.get(conv_pk(conversation_id), &format!("CLIENT#{sender}#{client_id}")).await? {
            Some(item) => Ok(Some(MessageId::new(req_n(&item, "message_id")?))),
            None => Ok(None),
        }
    }

    async fn get_message(
        &self,
        conversation_id: &ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self.get(conv_pk(conversation_id), &msg_sk(id)).await?.map(|i| parse_message(&i)).transpose()?.flatten())
    }

    async fn get_messages(&self, keys: &[(ConversationId, MessageId)]) -> Result<Vec<Message>, StoreError> {
        let keys = keys.iter().map(|(c, id)| key(conv_pk(c), &msg_sk(*id))).collect();
        let items = self.batch_get(keys, None).await?;
        Ok(items.iter().map(parse_message).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
    }

    async fn list_messages(
        &self,
        conversation_id: &ConversationId,
        before: Option<MessageId>,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let to = before.map(|b| msg_sk(b - 1)).unwrap_or_else(|| MSG_END.to_owned());
        let (from, forward) = match after {
            // Nothing lies after the largest id there is.
            Some(after) if after == i64::MAX => return Ok((Vec::new(), false)),
            Some(after) => (msg_sk(after + 1), true),
            None => (msg_sk(MessageId::NONE), false),
        };
        if from > to {
            return Ok((Vec::new(), false));
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":from", AV::S(from))
            .expression_attribute_values(":to", AV::S(to))
            .scan_index_forward(forward)
            .consistent_read(true)
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(sdk_error)?;
        let items = out.items.unwrap_or_default();
        let more = items.len() > limit;
        let mut messages: Vec<Message> =
            items.iter().take(limit).map(parse_message).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
        messages.sort_by_key(|m| m.id);
        Ok((messages, more))
    }

    async fn update_message(&self, message: &Message) -> Result<(), StoreError> {
        // Every attribute the message has, but its key and its reply count (the replies' own
        // writes keep that one); those it no longer has go. Its reactions and pin are theirs to
        // keep, but a tombstone clears them. The change mark lets the stream's filter pass this
        // MODIFY; what a reaction or pin write said about it goes.
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut set = Vec::new();
        let item = message_item(message);
        for (i, (name, value)) in
            item.into_iter().filter(|(name, _)| !["pk", "sk", REPLY_COUNT].contains(&name.as_str())).enumerate()
        {
            set.push(format!("#a{i} = :v{i}"));
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":v{i}"), value);
        }
        set.push("#changed = :now".to_owned());
        names.insert("#changed".into(), MESSAGE_CHANGED.into());
        values.insert(":now".into(), n(message.edited_at.unwrap_or(message.sent_at)));
        let mut expression = format!("SET {}", set.join(", "));
        let mut removed = Vec::new();
        for (name, gone) in [
            ("mentions", message.mentions.is_empty()),
            ("origin", message.origin.is_none()),
            (CHANGE_KIND, true),
            (CHANGE_BY, true),
            (CHANGE_REACTION, true),
            (PINNED, message.deleted),
            (REACTIONS_DISTINCT, message.deleted),
        ] {
            if gone {
                names.insert(format!("#{name}"), name.to_owned());
                removed.push(format!("#{name}"));
            }
        }
        if message.deleted {
            for (i, reaction) in message.reactions.iter().enumerate() {
                names.insert(format!("#rx{i}"), format!("{REACTION_COUNT}{}", reaction.reaction));
                names.insert(format!("#ru{i}"), format!("{REACTION_USERS}{}", reaction.reaction));
                removed.push(format!("#rx{i}, #ru{i}"));
            }
        }
        expression.push_str(&format!(" REMOVE {}", removed.join(", ")));
        values.insert(":false".into(), AV::Bool(false));
        let mut condition = "attribute_exists(pk) AND attribute_not_exists(is_void) AND deleted = :false".to_owned();
        if message.deleted {
            // The pin as read goes with the tombstone: one pinned or unpinned since is read again.
            if message.pinned {
                condition.push_str(" AND #pinned = :true");
                values.insert(":true".into(), AV::Bool(true));
            } else {
                condition.push_str(" AND attribute_not_exists(#pinned)");
            }
        }
        let on_failure = aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld;
        let message_key = key(conv_pk(&message.conversation_id), &msg_sk(message.id));
        let refusal = |old: Option<&Item>| match old {
            Some(item) if matches!(item.get("deleted"), Some(AV::Bool(true))) => Conflict::Deleted,
            Some(item) if message.deleted && !item.contains_key("is_void") => Conflict::Stale,
            _ => Conflict::Missing,
        };
        if message.deleted && message.pinned {
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(message_key))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .return_values_on_condition_check_failure(on_failure)
                .build()
                .map_err(build_error)?;
            let unpinned = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(&message.conversation_id), &pin_sk(message.id))))
                .build()
                .map_err(build_error)?;
            let writes = vec![
                TransactWriteItem::builder().update(update).build(),
                TransactWriteItem::builder().delete(unpinned).build(),
                super::pins::pin_count(&self.table, &message.conversation_id, -1, None)?,
            ];
            return match self.transact_or_refusals(writes).await? {
                Ok(()) => Ok(()),
                Err(refused) => Err(StoreError::Conflict(refusal(refused.first().and_then(|(_, old)| old.as_ref())))),
            };
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(message_key))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(on_failure)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => {
                let old = e.as_service_error().and_then(|se| match se {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item.as_ref()
                    }
                    _ => None,
                });
                Err(StoreError::Conflict(refusal(old)))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn list_replies(
        &self,
        conversation_id: &ConversationId,
        parent: MessageId,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let from = msg_sk(after.map(|a| a + 1).unwrap_or(MessageId::NONE));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :from")
            .expression_attribute_values(":pk", AV::S(replies_pk(conversation_id, parent)))
            .expression_attribute_values(":from", AV::S(from))
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut replies: Vec<Message> = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| parse_message(item).transpose())
            .collect::<Result<_, _>>()?;
        let more = replies.len() > limit;
        replies.truncate(limit);
        Ok((replies, more))
    }
    async fn mark_read(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        message_id: MessageId,
        own_after_read: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), &member_sk(conversation_id))))
            .update_expression(
                "SET last_read = :id, own_after_read = :own, active_at = :now, badge_due = :now, badge_cause = :read",
            )
            .expression_attribute_values(":read", s(BADGE_CAUSE_READ))
            .condition_expression("attribute_exists(pk) AND last_read < :id")
            .expression_attribute_values(":id", n(message_id.get()))
            .expression_attribute_values(":own", n(own_after_read))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn count_own_messages(
        &self,
        conversation_id: &ConversationId,
        username: &str,
        after: MessageId,
        through: MessageId,
    ) -> Result<i64, StoreError> {
        if through <= after {
            return Ok(0);
        }
        let mut count = 0i64;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .filter_expression("sender = :me")
                .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
                .expression_attribute_values(":from", AV::S(msg_sk(after + 1)))
                .expression_attribute_values(":to", AV::S(msg_sk(through)))
                .expression_attribute_values(":me", s(username))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            count += i64::from(out.count);
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(count),
            }
        }
    }

    async fn stored_after(
        &self,
        conversation_id: &ConversationId,
        after: MessageId,
        limit: usize,
    ) -> Result<Vec<(MessageId, Option<Message>)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":from", AV::S(msg_sk(after + 1)))
            .expression_attribute_values(":to", s(MSG_END))
            .consistent_read(true)
            .limit(limit as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(|item| {
                let id = req_s(item, "sk")?
                    .strip_prefix("MSG#")
                    .and_then(|digits| digits.parse().ok())
                    .map(MessageId::new)
                    .ok_or_else(|| StoreError::internal("message sort key"))?;
                Ok((id, parse_message(item)?))
            })
            .collect()
    }

    async fn claim_push_turn(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
    ) -> Result<Signalled, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression(CLAIM)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(push_names(&[CLAIM])))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":me", s(claim.holder))
            .expression_attribute_values(":until", n(claim.lease_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => self.take_turn(conversation_id, claim, out.attributes.unwrap_or_default()).await,
            Err(e) if is_conditional_failure(&e) => Ok(Signalled::Held),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn release_push_turn(
        &self,
        conversation_id: &ConversationId,
        holder: &str,
        release: PushRelease,
    ) -> Result<Released, StoreError> {
        let release_if = match release.mode {
            ReleaseMode::IfQuiet { seen, clean } => Some((Some(seen), clean)),
            ReleaseMode::Release => Some((None, false)),
            ReleaseMode::Keep | ReleaseMode::Retire => None,
        };
        if let Some((seen, clean)) = release_if {
            let update = if clean {
                "REMOVE #holder, #until, #retiring SET #pushed = :pushed, #clean = :seen"
            } else {
                "REMOVE #holder, #until, #retiring SET #pushed = :pushed"
            };
            let condition = if seen.is_some() { RELEASE_IF } else { KEEP_IF };
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(conversation_id), META)))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(push_names(&[update, condition])))
                .expression_attribute_values(":me", s(holder))
                .expression_attribute_values(":pushed", n(release.pushed_id.get()));
            if let Some(seen) = seen {
                request = request.expression_attribute_values(":seen", n(seen));
            }
            let released = request.send().await;
            match released {
                Ok(_) => return Ok(Released::Released),
                // A retiring holder's release fails only when the turn is no longer its own.
                Err(e) if is_conditional_failure(&e) && seen.is_none() => return Ok(Released::Lost),
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(sdk_error(e)),
            }
        }
        // Signalled meanwhile (or no longer ours): keep the turn, recording the progress.
        let keep = if release.mode == ReleaseMode::Retire { RETIRE } else { KEEP };
        let kept = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression(keep)
            .condition_expression(KEEP_IF)
            .set_expression_attribute_names(Some(push_names(&[keep, KEEP_IF])))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":pushed", n(release.pushed_id.get()))
            .expression_attribute_values(":until", n(release.lease_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match kept {
            Ok(out) => Ok(Released::Signalled(parse_push_turn(&out.attributes.unwrap_or_default())?)),
            Err(e) if is_conditional_failure(&e) => Ok(Released::Lost),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

const ALLOCATE: &str = "SET last_message_id = last_message_id + :one, last_activity_at = :now, \
     #holder = if_not_exists(#holder, :me), #until = if_not_exists(#until, :until), \
     #pushed = if_not_exists(#pushed, last_message_id) ADD #signal :one";
const CLAIM: &str =
    "ADD #signal :one SET #holder = if_not_exists(#holder, :me), #until = if_not_exists(#until, :until)";
const TAKE_OVER: &str = "SET #holder = :me, #until = :until REMOVE #retiring";
const TAKE_OVER_IF: &str = "#holder = :old AND #until = :old_until";
const RELEASE_IF: &str = "#holder = :me AND #signal = :seen";
const KEEP: &str = "SET #pushed = :pushed, #until = :until";
const RETIRE: &str = "SET #pushed = :pushed, #until = :until, #retiring = :me";
const KEEP_IF: &str = "#holder = :me";

/// The push-turn item's attribute placeholders that `expressions` use (some names are reserved
/// words, and DynamoDB refuses placeholders an expression does not use).
fn push_names(expressions: &[&str]) -> HashMap<String, String> {
    [
        ("#signal", "signal"),
        ("#holder", "holder"),
        ("#until", "lease_until"),
        ("#pushed", "pushed_id"),
        ("#clean", "clean_signal"),
        ("#retiring", "retiring"),
    ]
    .into_iter()
    .filter(|(placeholder, _)| expressions.iter().any(|e| e.contains(placeholder)))
    .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
    .collect()
}

impl DynamoStore {
    /// After a signal (`item`: the conversation's item as it wrote it): the turn if the caller got
    /// it, or took it over from a holder whose lease ran out; else how someone else holds it.
    async fn take_turn(
        &self,
        conversation_id: &ConversationId,
        claim: &TurnClaim<'_>,
        item: Item,
    ) -> Result<Signalled, StoreError> {
        let found = found_turn(&item, claim)?;
        if found != Signalled::Stale {
            return Ok(found);
        }
        let until = opt_n(&item, "lease_until")?.unwrap_or(0);
        // The holder's lease ran out (it died): take over, unless someone else just did.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression(TAKE_OVER)
            .condition_expression(TAKE_OVER_IF)
            .set_expression_attribute_names(Some(push_names(&[TAKE_OVER, TAKE_OVER_IF])))
            .expression_attribute_values(":me", s(claim.holder))
            .expression_attribute_values(":until", n(claim.lease_until))
            .expression_attribute_values(":old", item.get("holder").cloned().unwrap_or_else(|| s("")))
            .expression_attribute_values(":old_until", n(until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Signalled::Holder(parse_push_turn(&out.attributes.unwrap_or_default())?)),
            // Someone else just took it over, and pushes what was signalled.
            Err(e) if is_conditional_failure(&e) => Ok(Signalled::Held),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

/// What a signal found of the push turn (`item`: the conversation's item as the signal wrote it).
fn found_turn(item: &Item, claim: &TurnClaim<'_>) -> Result<Signalled, StoreError> {
    Ok(if opt_s(item, "holder").as_deref() == Some(claim.holder) {
        Signalled::Holder(parse_push_turn(item)?)
    } else if opt_n(item, "lease_until")?.unwrap_or(0) < claim.now {
        Signalled::Stale
    } else if item.contains_key("retiring") {
        Signalled::Retiring
    } else {
        Signalled::Held
    })
}
