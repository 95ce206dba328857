//! Conversations, members and memberships: the `ConversationStore` port on DynamoDB.

use super::*;

/// Members per transaction: two items each (under the conversation and under the user), beside the
/// conversation item, a caller check and a direct-pair claim, within DynamoDB's 100 items.
const MEMBERS_PER_TRANSACTION: usize = 45;

impl DynamoStore {
    /// The `CHANGED` marker of a conversation (a rename, an icon, an owner), as a transaction's
    /// Put: a new value each time, so the stream carries every one.
    fn changed_marker(&self, id: &ConversationId, now: i64) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(conv_pk(id), CHANGED);
        item.insert("at".into(), n(now));
        item.insert("change".into(), s(&ulid::Ulid::new().to_string()));
        item.insert("ttl".into(), n(now / 1000 + 86_400));
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Adds `members` in transactions of [`MEMBERS_PER_TRANSACTION`], each counting its members on
    /// the conversation item under `condition` (`room`: the most members there may be before).
    /// The first carries `first_update` (more to set) and `check` (a ConditionCheck with its reason).
    /// `sockets`: [`Sockets::OnProfiles`] puts them on the conversation's roster (in the same
    /// transaction, and marks their memberships, which `$connect` then skips).
    async fn put_members(
        &self,
        id: &ConversationId,
        members: &[Member],
        sockets: Sockets,
        first: MembersFirst<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut first = Some(first);
        for chunk in members.chunks(MEMBERS_PER_TRANSACTION) {
            let room = MEMBERS_MAX as i64 - chunk.len() as i64;
            let mut writes = Vec::new();
            let mut reasons = Vec::new();
            let mut update = "ADD member_count :k SET last_activity_at = :now".to_owned();
            let mut condition = "attribute_exists(pk) AND member_count <= :room".to_owned();
            let mut values = HashMap::from([
                (":k".to_owned(), n(chunk.len() as i64)),
                (":room".to_owned(), n(room)),
                (":now".to_owned(), n(now)),
            ]);
            let mut meta_reason = Conflict::Full { max: crate::chat::MEMBERS_MAX };
            if let Some(first) = first.take() {
                if let Some(caller) = first.caller {
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(user_pk(caller), &member_sk(id))))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .map_err(build_error)?;
                    writes.push(TransactWriteItem::builder().condition_check(check).build());
                    reasons.push(Conflict::NotMember);
                }
                if first.public_only {
                    condition.push_str(" AND visibility = :public");
                    values.insert(":public".into(), s("public"));
                    meta_reason = Conflict::NotMember;
                }
                if let Some(preview) = first.preview {
                    update.push_str(", member_preview = :preview");
                    values.insert(":preview".into(), AV::L(preview.iter().map(|p| s(p)).collect()));
                }
            }
            let meta = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(id), META)))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().update(meta).build());
            reasons.push(meta_reason);
            for member in chunk {
                writes.push(put(&self.table, member_item(id, member), "attribute_not_exists(pk)")?);
                writes.push(put(
                    &self.table,
                    membership_item(&member.username, id, member.joined_at, sockets),
                    "attribute_not_exists(pk)",
                )?);
                reasons.extend([Conflict::AlreadyMember, Conflict::AlreadyMember]);
            }
            if sockets == Sockets::OnProfiles {
                // Pushes find them on their profiles from this write on.
                let roster = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(conv_pk(id), ROSTER)))
                    .update_expression("ADD members :names")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":names", AV::Ss(chunk.iter().map(|m| m.username.clone()).collect()))
                    .build()
                    .map_err(build_error)?;
                writes.push(TransactWriteItem::builder().update(roster).build());
                reasons.push(Conflict::Missing);
            }
            self.transact(writes, &reasons).await?;
        }
        Ok(())
    }
}

/// What only the first transaction of [`DynamoStore::put_members`] checks and sets.
#[derive(Default)]
struct MembersFirst<'a> {
    /// Must be a member (adding) ...
    caller: Option<&'a str>,
    /// ... or the conversation must be public (joining).
    public_only: bool,
    preview: Option<&'a [String]>,
}

#[async_trait]
impl ConversationStore for DynamoStore {
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        members: &[Member],
        direct_key: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self.try_create_conversation(conversation, members, direct_key).await {
                // A direct conversation whose creator blocked or unblocked the other meanwhile.
                Err(StoreError::Conflict(Conflict::Missing)) if direct_key.is_some() && attempt < RETRIES => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn direct_conversation(&self, direct_key: &str) -> Result<Option<ConversationId>, StoreError> {
        match self.get(format!("DIRECT#{direct_key}"), "DIRECT").await? {
            Some(item) => Ok(Some(req_s(&item, "conversation_id")?.into())),
            None => Ok(None),
        }
    }

    async fn get_conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.get(conv_pk(id), META).await?.map(|item| parse_conversation(&item)).transpose()
    }

    async fn member_conversation(
        &self,
        id: &ConversationId,
        username: &str,
    ) -> Result<Option<(Conversation, ReadState)>, StoreError> {
        let items = self.get_consistent(vec![key(conv_pk(id), META), key(user_pk(username), &member_sk(id))]).await?;
        let conversation = items.iter().find(|i| opt_s(i, "sk").as_deref() == Some(META));
        let membership = items.iter().find(|i| opt_s(i, "sk").as_deref() != Some(META));
        match (conversation, membership) {
            (Some(c), Some(m)) => Ok(Some((parse_conversation(c)?, parse_read_state(m)?))),
            _ => Ok(None),
        }
    }

    async fn get_conversations(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError> {
        let keys = ids.iter().map(|id| key(conv_pk(id), META)).collect();
        self.batch_get(keys, None).await?.iter().map(parse_conversation).collect()
    }

    async fn memberships(&self, username: &str) -> Result<Vec<(ConversationId, ReadState)>, StoreError> {
        self.query_prefix(user_pk(username), "MEMBER#")
            .await?
            .iter()
            .map(|item| Ok((req_s(item, "conversation_id")?.into(), parse_read_state(item)?)))
            .collect()
    }

    async fn read_state(
        &self,
        username: &str,
        conversation_id: &ConversationId,
    ) -> Result<Option<ReadState>, StoreError> {
        self.get(user_pk(username), &member_sk(conversation_id)).await?.map(|i| parse_read_state(&i)).transpose()
    }

    async fn members_among(&self, id: &ConversationId, usernames: &[String]) -> Result<Vec<String>, StoreError> {
        let keys = usernames.iter().map(|u| key(conv_pk(id), &member_of_sk(u))).collect();
        let projection = ("#u", names(&[("#u", "username")]));
        self.batch_get(keys, Some(projection)).await?.iter().map(|i| req_s(i, "username")).collect()
    }

    async fn list_members(
        &self,
        id: &ConversationId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Member>, StoreError> {
        let start = after.map(|a| key(conv_pk(id), &member_of_sk(a)));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AV::S(conv_pk(id)))
            .expression_attribute_values(":prefix", s(MEMBER_OF))
            .set_exclusive_start_key(start)
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items = out.items.unwrap_or_default().iter().map(parse_member).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|m| m.username.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn longest_standing(&self, id: &ConversationId, except: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :k")
            .expression_attribute_values(":k", AV::S(members_gsi_pk(id)))
            .limit(2)
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out.items.unwrap_or_default() {
            let member = parse_member(&item)?;
            if member.username != except {
                return Ok(Some(member.username));
            }
        }
        Ok(None)
    }

    async fn set_notifications(
        &self,
        username: &str,
        conversation_id: &ConversationId,
        settings: &Settings,
    ) -> Result<(), StoreError> {
        let mut membership = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), &member_sk(conversation_id))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#level", "level")
            .expression_attribute_values(":level", s(settings.level.as_str()));
        membership = match settings.muted_until {
            Some(until) => membership
                .update_expression("SET #level = :level, muted_until = :until, badge_due = :due, badge_cause = :cause")
                .expression_attribute_values(":until", n(until)),
            None => membership
                .update_expression("SET #level = :level, badge_due = :due, badge_cause = :cause REMOVE muted_until"),
        };
        // Whether the conversation counts in the badge may have changed: a silent update follows.
        membership = membership
            .expression_attribute_values(":due", n(1))
            .expression_attribute_values(":cause", s(BADGE_CAUSE_SETTINGS));
        let membership = membership.build().map_err(build_error)?;
        let setting_key = key(conv_pk(conversation_id), &format!("{SETTING_OF}{username}"));
        let setting = if settings.is_default() {
            let delete =
                Delete::builder().table_name(&self.table).set_key(Some(setting_key)).build().map_err(build_error)?;
            TransactWriteItem::builder().delete(delete).build()
        } else {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(setting_item(conversation_id, username, settings)))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().put(put).build()
        };
        let writes = vec![TransactWriteItem::builder().update(membership).build(), setting];
        self.transact(writes, &[Conflict::NotMember, Conflict::Missing]).await
    }

    async fn update_conversation(
        &self,
        id: &ConversationId,
        name: Option<&str>,
        icon_file_id: Option<Option<&FileId>>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let mut expr = UpdateExpr::default();
        expr.set("last_activity_at", n(now));
        if let Some(name) = name {
            expr.set("name", s(name));
        }
        match icon_file_id {
            Some(Some(icon)) => expr.set("icon_file_id", s(icon.as_str())),
            Some(None) => expr.remove("icon_file_id"),
            None => {}
        }
        // With the marker the table's stream carries to the sync feed, in the same write.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(id), META)))
            .update_expression(expr.expression())
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(expr.names.clone()))
            .set_expression_attribute_values(Some(expr.values.clone()))
            .build()
            .map_err(build_error)?;
        let writes = vec![TransactWriteItem::builder().update(update).build(), self.changed_marker(id, now)?];
        self.transact(writes, &[Conflict::NotMember, Conflict::NotMember]).await?;
        let item = self.get(conv_pk(id), META).await?.ok_or(StoreError::Conflict(Conflict::NotMember))?;
        let updated = parse_conversation(&item)?;
        if name.is_some() && updated.visibility == Visibility::Public {
            // The directory of public conversations sorts by name.
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(id), META)))
                .update_expression("SET gsi1sk = :sk")
                .expression_attribute_values(":sk", s(&updated.public_sort_key()))
                .send()
                .await
                .map_err(sdk_error)?;
        }
        Ok(updated)
    }

    async fn add_members(
        &self,
        id: &ConversationId,
        caller: Option<&str>,
        members: &[Member],
        sockets: Sockets,
        preview: &[String],
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let first = MembersFirst { caller, public_only: caller.is_none(), preview: Some(preview) };
        self.put_members(id, members, sockets, first, now).await?;
        self.get_conversation(id).await?.ok_or(StoreError::Conflict(Conflict::NotMember))
    }

    async fn remove_member(
        &self,
        expected: &Conversation,
        username: &str,
        new_owner: Option<&str>,
        preview: &[String],
    ) -> Result<(), StoreError> {
        let mut values = HashMap::from([
            (":owner".to_owned(), s(&expected.owner)),
            (":minus".to_owned(), n(-1)),
            (":preview".to_owned(), AV::L(preview.iter().map(|p| s(p)).collect())),
        ]);
        let mut expression = "ADD member_count :minus SET member_preview = :preview".to_owned();
        if let Some(owner) = new_owner {
            expression.push_str(", #owner = :new_owner");
            values.insert(":new_owner".into(), s(owner));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(&expected.id), META)))
            .update_expression(expression)
            .condition_expression("#owner = :owner")
            .set_expression_attribute_names(Some(names(&[("#owner", "owner")])))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        let delete = |pk: String, sk: &str| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(build_error)
        };
        let mut writes = vec![
            TransactWriteItem::builder().update(update).build(),
            delete(conv_pk(&expected.id), &member_of_sk(username))?,
            delete(user_pk(username), &member_sk(&expected.id))?,
        ];
        // Their notification settings there, if they chose any.
        let setting = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(&expected.id), &format!("{SETTING_OF}{username}"))))
            .build()
            .map_err(build_error)?;
        writes.push(TransactWriteItem::builder().delete(setting).build());
        if expected.sockets == Sockets::OnProfiles {
            // Pushes stop reaching the one who left in the same write.
            let roster = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(&expected.id), ROSTER)))
                .update_expression("DELETE members :me")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":me", AV::Ss(vec![username.to_owned()]))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().update(roster).build());
        }
        if new_owner.is_some() {
            let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
            writes.push(self.changed_marker(&expected.id, now)?);
        }
        let reasons = vec![Conflict::Missing; writes.len()];
        self.transact(writes, &reasons).await
    }

    async fn list_public(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Conversation>, StoreError> {
        let Some(after) = crate::paging::resume_within(prefix, after) else {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .expression_attribute_values(":public", s("PUBLIC"))
            .limit(limit as i32 + 1);
        query = if prefix.is_empty() {
            query.key_condition_expression("gsi1pk = :public")
        } else {
            query
                .key_condition_expression("gsi1pk = :public AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        if let Some(after) = after {
            let id = ConversationId::new(after.rsplit('#').next().unwrap_or_default());
            let mut start = key(conv_pk(&id), META);
            start.insert("gsi1pk".into(), s("PUBLIC"));
            start.insert("gsi1sk".into(), s(after));
            query = query.set_exclusive_start_key(Some(start));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let mut items = out.items.unwrap_or_default().iter().map(parse_conversation).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(Conversation::public_sort_key)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

impl DynamoStore {
    /// One try at creating a conversation (`create_conversation`). For a direct one: refused
    /// (`Conflict::Blocked`) if the other member blocks the creator, the other's side marked if
    /// the creator blocks them, both as they stand when it is written (a block changed meanwhile
    /// fails it with `Conflict::Missing`, and the caller tries again).
    async fn try_create_conversation(
        &self,
        conversation: &Conversation,
        members: &[Member],
        direct_key: Option<&str>,
    ) -> Result<(), StoreError> {
        let creator = conversation.created_by.as_str();
        let other = direct_key.and_then(|_| members.iter().map(|m| m.username.as_str()).find(|u| *u != creator));
        let blocked_side = match other {
            Some(other) => self.get(user_pk(creator), &format!("BLOCK#{other}")).await?.map(|_| other),
            None => None,
        };
        let (first, rest) = members.split_at(members.len().min(MEMBERS_PER_TRANSACTION));
        let mut created = conversation.clone();
        created.member_count = first.len() as i64;
        let mut writes = vec![put(&self.table, conversation_item(&created), "attribute_not_exists(pk)")?];
        let mut reasons = vec![Conflict::Missing];
        for member in first {
            writes.push(put(&self.table, member_item(&conversation.id, member), "attribute_not_exists(pk)")?);
            let mut membership =
                membership_item(&member.username, &conversation.id, member.joined_at, conversation.sockets);
            if blocked_side == Some(member.username.as_str()) {
                membership.insert(BLOCKED.into(), AV::Bool(true));
            }
            writes.push(put(&self.table, membership, "attribute_not_exists(pk)")?);
            reasons.extend([Conflict::Missing, Conflict::Missing]);
        }
        if conversation.sockets == Sockets::OnProfiles {
            let mut roster = key(conv_pk(&conversation.id), ROSTER);
            roster.insert("members".into(), AV::Ss(first.iter().map(|m| m.username.clone()).collect()));
            writes.push(put(&self.table, roster, "attribute_not_exists(pk)")?);
            reasons.push(Conflict::Missing);
        }
        // Nothing notified yet: the notify function starts from the first message.
        let mut notified = key(conv_pk(&conversation.id), NOTIFIED);
        notified.insert("notified_id".into(), n(0));
        writes.push(put(&self.table, notified, "attribute_not_exists(pk)")?);
        reasons.push(Conflict::Missing);
        if let Some(direct) = direct_key {
            let mut item = key(format!("DIRECT#{direct}"), "DIRECT");
            item.insert("conversation_id".into(), s(conversation.id.as_str()));
            writes.push(put(&self.table, item, "attribute_not_exists(pk)")?);
            reasons.push(Conflict::DirectExists);
        }
        if let Some(other) = other {
            for (owner, blocked, blocks) in [(other, creator, false), (creator, other, blocked_side.is_some())] {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(owner), &format!("BLOCK#{blocked}"))))
                    .condition_expression(if blocks { "attribute_exists(pk)" } else { "attribute_not_exists(pk)" })
                    .build()
                    .map_err(build_error)?;
                writes.push(TransactWriteItem::builder().condition_check(check).build());
                reasons.push(if owner == other { Conflict::Blocked } else { Conflict::Missing });
            }
        }
        self.transact(writes, &reasons).await?;
        // Beyond one transaction's members the conversation is far past a roster's size.
        self.put_members(&conversation.id, rest, Sockets::Recorded, MembersFirst::default(), conversation.created_at)
            .await
    }
}
