//! Pins: the `PinStore` port on DynamoDB. A pin is `CONV#<id>` / `PIN#<message id>` (when, by
//! whom), the conversation's count is `CONV#<id>` / `PINS` (apart from the conversation's item,
//! which every send writes), and the message carries `pinned`; a pin or an unpin writes the
//! three in one transaction with the membership check, marking the message `changed_at` for the
//! stream. A tombstone unpins in its own transaction (`MessageStore::update_message`).

use super::reactions::{change_mark, member_check, message_refusal, worst};
use super::*;
use crate::pins::store::{Pin, PinStore, PINS_MAX};

fn parse_pin(item: &Item) -> Result<Pin, StoreError> {
    Ok(Pin {
        message_id: MessageId::new(req_n(item, "message_id")?),
        pinned_at: req_n(item, "pinned_at")?,
        pinned_by: req_s(item, "pinned_by")?,
    })
}

/// The pin count's change, by `delta`; `limit`: refuse when it is there.
pub(super) fn pin_count(
    table: &str,
    conversation_id: &ConversationId,
    delta: i64,
    limit: Option<usize>,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(conv_pk(conversation_id), PIN_COUNT)))
        .update_expression("ADD #n :delta")
        .expression_attribute_names("#n", "count")
        .expression_attribute_values(":delta", n(delta));
    if let Some(limit) = limit {
        update = update
            .condition_expression("attribute_not_exists(#n) OR #n < :max")
            .expression_attribute_values(":max", n(limit as i64));
    }
    Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
}

/// The message's pin mark, set or removed, and the change mark the stream reads.
fn mark(
    table: &str,
    message: &Message,
    username: &str,
    now: i64,
    pinned: bool,
) -> Result<TransactWriteItem, StoreError> {
    let expression = if pinned {
        "SET #pinned = :true, #changed = :now, #kind = :kind, #by = :by REMOVE #what"
    } else {
        "REMOVE #pinned, #what SET #changed = :now, #kind = :kind, #by = :by"
    };
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(conv_pk(&message.conversation_id), &msg_sk(message.id))))
        .update_expression(expression)
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(is_void) AND deleted = :false")
        .expression_attribute_names("#pinned", PINNED)
        .expression_attribute_values(":false", AV::Bool(false));
    update = change_mark(update, CHANGE_KIND_PIN, username, None, now);
    if pinned {
        update = update.expression_attribute_values(":true", AV::Bool(true));
    }
    Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
}

#[async_trait]
impl PinStore for DynamoStore {
    async fn pin(&self, message: &Message, username: &str, now: i64) -> Result<(), StoreError> {
        let conversation = &message.conversation_id;
        let mut item = key(conv_pk(conversation), &pin_sk(message.id));
        item.insert("message_id".into(), n(message.id.get()));
        item.insert("pinned_at".into(), n(now));
        item.insert("pinned_by".into(), s(username));
        let writes = vec![
            member_check(&self.table, username, conversation, false)?,
            put(&self.table, item, "attribute_not_exists(pk)")?,
            pin_count(&self.table, conversation, 1, Some(PINS_MAX))?,
            mark(&self.table, message, username, now, true)?,
        ];
        let Err(refused) = self.transact_or_refusals(writes).await? else { return Ok(()) };
        let mut found = Vec::new();
        for (i, old) in refused {
            match i {
                0 => return Err(self.membership_refusal(username, conversation).await),
                1 => found.push(Conflict::Unchanged),
                2 => found.push(Conflict::TooMany),
                _ => found.push(message_refusal(old.as_ref())),
            }
        }
        Err(worst(found))
    }

    async fn unpin(&self, message: &Message, username: &str, now: i64) -> Result<(), StoreError> {
        let conversation = &message.conversation_id;
        let gone = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), &pin_sk(message.id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_error)?;
        let writes = vec![
            member_check(&self.table, username, conversation, false)?,
            TransactWriteItem::builder().delete(gone).build(),
            pin_count(&self.table, conversation, -1, None)?,
            mark(&self.table, message, username, now, false)?,
        ];
        let Err(refused) = self.transact_or_refusals(writes).await? else { return Ok(()) };
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

    async fn pins(&self, conversation_id: &ConversationId) -> Result<Vec<Pin>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :pin)")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":pin", s("PIN#"))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut pins: Vec<Pin> = out.items.unwrap_or_default().iter().map(parse_pin).collect::<Result<_, _>>()?;
        pins.sort_by(|a, b| b.pinned_at.cmp(&a.pinned_at).then(b.message_id.cmp(&a.message_id)));
        Ok(pins)
    }
}
