//! What the notify function reads and records: the `NotificationStore` port on DynamoDB.

use super::*;

#[async_trait]
impl NotificationStore for DynamoStore {
    /// One strongly consistent Query of the user's partition from `DEVICE#` to `PROFILE` (their
    /// devices, memberships and profile, with its live sockets, and nothing else the partition
    /// holds: contacts and sessions sort outside the range).
    async fn recipient(&self, username: &str, now: i64) -> Result<Option<Recipient>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(user_pk(username)))
            .expression_attribute_values(":from", s("DEVICE#"))
            .expression_attribute_values(":to", s(PROFILE))
            .consistent_read(true);
        let items = self.query_all(query).await?;
        let mut recipient = Recipient { username: username.to_owned(), ..Recipient::default() };
        let mut exists = false;
        for item in &items {
            let sk = req_s(item, "sk")?;
            if sk == PROFILE {
                exists = true;
                let live = parse_sockets(item)?.into_iter().filter(|socket| socket.expires_at > now);
                recipient.online_sessions = live.filter_map(|socket| socket.session).collect();
                recipient.blocks = super::codec::string_set(item, "blocks");
            } else if sk.starts_with("DEVICE#") {
                recipient.devices.push(parse_device(item)?);
            } else if super::sync::is_head(&sk) {
                recipient.feed = super::sync::parse_head(item)?;
            } else if sk.starts_with(MEMBER_OF) {
                recipient.memberships.push((req_s(item, "conversation_id")?.into(), parse_read_state(item)?));
            }
        }
        Ok(exists.then_some(recipient))
    }

    /// One BatchGetItem of their conversations and their typing counter, eventually consistent as
    /// `GET /conversations` reads them (so the badge is the count it shows): half a read unit an
    /// item.
    async fn complete(&self, recipient: &mut Recipient) -> Result<(), StoreError> {
        let typing = throttle_pk(&format!("typing#{}", recipient.username));
        let mut keys: Vec<Item> = recipient.memberships.iter().map(|(id, _)| key(conv_pk(id), META)).collect();
        keys.push(key(typing.clone(), ATTEMPTS));
        for item in self.batch_get(keys, None).await? {
            if req_s(&item, "pk")? == typing {
                recipient.typed_at = Some(parse_attempts(&item)?.window_start);
            } else {
                recipient.conversations.push(parse_conversation(&item)?);
            }
        }
        Ok(())
    }

    async fn settings_of(&self, conversation_id: &ConversationId) -> Result<Vec<(String, Settings)>, StoreError> {
        self.query_prefix(conv_pk(conversation_id), SETTING_OF)
            .await?
            .iter()
            .map(|item| Ok((req_s(item, "username")?, parse_settings(item)?)))
            .collect()
    }

    async fn notified(&self, conversation_id: &ConversationId) -> Result<Option<MessageId>, StoreError> {
        let item = self.get(conv_pk(conversation_id), NOTIFIED).await?;
        item.map(|item| Ok(MessageId::new(req_n(&item, "notified_id")?))).transpose()
    }

    async fn set_notified(
        &self,
        conversation_id: &ConversationId,
        from: Option<MessageId>,
        to: MessageId,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), NOTIFIED)))
            .update_expression("SET notified_id = :to")
            .expression_attribute_values(":to", n(to.get()));
        update = match from {
            None => update.condition_expression("attribute_not_exists(pk)"),
            Some(from) => {
                update.condition_expression("notified_id = :from").expression_attribute_values(":from", n(from.get()))
            }
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn disable_device(&self, device: &Device) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&device.username), &device_sk(&device.device_id))))
            .update_expression("SET enabled = :false")
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":false", AV::Bool(false))
            .expression_attribute_values(":token", s(&device.token))
            .send()
            .await;
        // Gone, or registered again with another token since: nothing to disable.
        unless_condition_failed(result)
    }
}
