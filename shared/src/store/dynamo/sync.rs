//! The sync feed's items: `USER#u/FEED` (the head: `seq`, the `pending` string set),
//! `USER#u/PULL#<conversation id>` (a conversation the user pulls: `log_seq`, `last_message_id`
//! where it stood then), `USER#u/SYNC#<seq>` (a closed bucket: `keys`, `at`, `ttl`),
//! `CONV#c/SYNC#<seq>` (a pulled conversation's log entry: `key`, `at`, `ttl`) and, on
//! `CONV#c/META`, `pulled` and `log_seq`. The head sorts between `DEVICE#` and `PROFILE`, so the
//! notify function's Query of a member's partition reads it too; buckets and log entries sort after
//! everything a Query of those partitions asks for.

use super::*;
use crate::sync::feed::{Bucket, FeedHead, FeedKey, LogEntry, Pull, StateKeys, States};

const FEED: &str = "FEED";
const PULL_PREFIX: &str = "PULL#";
const SYNC_PREFIX: &str = "SYNC#";

fn sync_sk(seq: i64) -> String {
    format!("{SYNC_PREFIX}{seq:020}")
}

fn string_set(values: impl IntoIterator<Item = String>) -> AV {
    AV::Ss(values.into_iter().collect())
}

fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AV::Ss(values)) => values.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn parse_head(item: &Item) -> Result<FeedHead, StoreError> {
    Ok(FeedHead { seq: opt_n(item, "seq")?.unwrap_or(0), pending: strings(item, "pending") })
}

/// Whether a member's partition item is their feed's head (read by the notify function's Query).
pub(super) fn is_head(sk: &str) -> bool {
    sk == FEED
}

#[async_trait]
impl SyncStore for DynamoStore {
    async fn feed_head(&self, username: &str) -> Result<(FeedHead, Vec<Pull>), StoreError> {
        let head = self.feed_pending(username).await?;
        let pulls = self
            .query_prefix(user_pk(username), PULL_PREFIX)
            .await?
            .iter()
            .map(|item| {
                Ok(Pull {
                    conversation_id: req_s(item, "conversation_id")?.into(),
                    log_seq: req_n(item, "log_seq")?,
                    last_message_id: MessageId::new(req_n(item, "last_message_id")?),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((head, pulls))
    }

    async fn feed_pending(&self, username: &str) -> Result<FeedHead, StoreError> {
        self.get(user_pk(username), FEED).await?.map_or_else(|| Ok(FeedHead::default()), |item| parse_head(&item))
    }

    async fn feed_record(&self, username: &str, keys: &[FeedKey]) -> Result<FeedHead, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), FEED)))
            .update_expression("ADD pending :keys")
            .expression_attribute_values(":keys", string_set(keys.iter().map(FeedKey::encode)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_error)?;
        parse_head(&out.attributes.unwrap_or_default())
    }

    async fn feed_close(&self, username: &str, head: &FeedHead, at: i64, expires_at: i64) -> Result<(), StoreError> {
        if head.pending.is_empty() {
            return Ok(());
        }
        let seq = head.seq + 1;
        let bucket = Bucket::close(seq, at, &head.pending);
        let mut item = key(user_pk(username), &sync_sk(seq));
        item.insert("seq".into(), n(seq));
        item.insert("at".into(), n(at));
        item.insert("ttl".into(), n(expires_at));
        item.insert("keys".into(), AV::L(bucket.keys.iter().map(|k| s(&k.encode())).collect()));
        let condition = if head.seq == 0 { "attribute_not_exists(seq)" } else { "seq = :seq" };
        let mut values =
            HashMap::from([(":next".to_owned(), n(seq)), (":keys".to_owned(), string_set(head.pending.clone()))]);
        if head.seq != 0 {
            values.insert(":seq".into(), n(head.seq));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), FEED)))
            .update_expression("SET seq = :next DELETE pending :keys")
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        let writes = vec![
            put(&self.table, item, "attribute_not_exists(pk)")?,
            TransactWriteItem::builder().update(update).build(),
        ];
        self.transact(writes, &[Conflict::Missing, Conflict::Missing]).await
    }

    async fn feed_buckets(&self, username: &str, from: i64, to: i64) -> Result<Vec<Bucket>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(user_pk(username)))
            .expression_attribute_values(":from", s(&sync_sk(from)))
            .expression_attribute_values(":to", s(&sync_sk(to)))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .iter()
            .map(|item| {
                let keys = match item.get("keys") {
                    Some(AV::L(list)) => {
                        list.iter().filter_map(|v| v.as_s().ok()).filter_map(|k| FeedKey::decode(k)).collect()
                    }
                    _ => Vec::new(),
                };
                Ok(Bucket { seq: req_n(item, "seq")?, at: req_n(item, "at")?, keys })
            })
            .collect()
    }

    async fn pull(&self, username: &str, pull: &Pull) -> Result<(), StoreError> {
        let mut item = key(user_pk(username), &format!("{PULL_PREFIX}{}", pull.conversation_id));
        item.insert("conversation_id".into(), s(pull.conversation_id.as_str()));
        item.insert("log_seq".into(), n(pull.log_seq));
        item.insert("last_message_id".into(), n(pull.last_message_id.get()));
        // A pull already recorded keeps where it started.
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        unless_condition_failed(written)
    }

    async fn unpull(&self, username: &str, conversation_id: &ConversationId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), &format!("{PULL_PREFIX}{conversation_id}"))))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn mark_pulled(&self, conversation_id: &ConversationId) -> Result<(), StoreError> {
        // A conversation that is gone has nothing to mark.
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression("SET pulled = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AV::Bool(true))
            .send()
            .await;
        unless_condition_failed(written)
    }

    async fn log_append(&self, feed_key: &FeedKey, at: i64, expires_at: i64) -> Result<(), StoreError> {
        let conversation = feed_key.conversation();
        let encoded = feed_key.encode();
        for attempt in 0..=RETRIES {
            let last = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AV::S(conv_pk(conversation)))
                .expression_attribute_values(":prefix", s(SYNC_PREFIX))
                .scan_index_forward(false)
                .limit(1)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?
                .items
                .unwrap_or_default()
                .pop();
            let (seq, last_key) = match &last {
                Some(item) => (req_n(item, "seq")?, opt_s(item, "key")),
                None => (0, None),
            };
            let repeated = last_key.as_deref() == Some(encoded.as_str());
            if !repeated {
                let mut item = key(conv_pk(conversation), &sync_sk(seq + 1));
                item.insert("seq".into(), n(seq + 1));
                item.insert("at".into(), n(at));
                item.insert("ttl".into(), n(expires_at));
                item.insert("key".into(), s(&encoded));
                // Taken by a concurrent append: read the log's end again.
                if !self.put_if_absent(item).await? {
                    if attempt < RETRIES {
                        continue;
                    }
                    return Err(StoreError::internal("the log's next entry kept being taken"));
                }
            }
            // Then the conversation item says how far its log goes (also after an append whose
            // move was lost: the entry found last is the one to point to).
            let last_seq = if repeated { seq } else { seq + 1 };
            let moved = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(conversation), META)))
                .update_expression("SET log_seq = :seq")
                .condition_expression("attribute_exists(pk) AND (attribute_not_exists(log_seq) OR log_seq < :seq)")
                .expression_attribute_values(":seq", n(last_seq))
                .send()
                .await;
            // Already as far (or further), or the conversation is gone.
            return unless_condition_failed(moved);
        }
        Err(StoreError::unavailable("log append contended"))
    }

    async fn log_entries(
        &self,
        conversation_id: &ConversationId,
        after: i64,
        to: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":from", s(&sync_sk(after + 1)))
            .expression_attribute_values(":to", s(&sync_sk(to)))
            .consistent_read(true);
        let mut entries = Vec::new();
        for item in self.query_all(query).await? {
            // A key this version cannot read is passed over (its position still counts).
            let Some(key) = opt_s(&item, "key").and_then(|k| FeedKey::decode(&k)) else { continue };
            entries.push(LogEntry { seq: req_n(&item, "seq")?, at: req_n(&item, "at")?, key });
        }
        Ok(entries)
    }

    async fn states(&self, username: &str, keys: &StateKeys) -> Result<States, StoreError> {
        let mut wanted: Vec<Item> = Vec::new();
        wanted.extend(keys.conversations.iter().map(|c| key(conv_pk(c), META)));
        wanted.extend(keys.memberships.iter().map(|c| key(user_pk(username), &member_sk(c))));
        wanted.extend(keys.messages.iter().map(|(c, id)| key(conv_pk(c), &msg_sk(*id))));
        wanted.extend(keys.members.iter().map(|(c, user)| key(conv_pk(c), &member_of_sk(user))));
        wanted.extend(keys.own_reactions.iter().map(|(c, id, user)| key(conv_pk(c), &own_reactions_sk(user, *id))));
        let mut states = States::default();
        for item in self.get_consistent(wanted).await? {
            let pk = req_s(&item, "pk")?;
            let sk = req_s(&item, "sk")?;
            if sk == META {
                states.conversations.push(parse_conversation(&item)?);
            } else if let Some(c) = sk.strip_prefix("MEMBER#").filter(|_| pk.starts_with("USER#")) {
                states.memberships.push((ConversationId::from(c), parse_read_state(&item)?));
            } else if let Some(user) = sk.strip_prefix(MEMBER_OF).filter(|_| pk.starts_with("CONV#")) {
                let c = pk.trim_start_matches("CONV#");
                states.members.push((ConversationId::from(c), user.to_owned()));
            } else if let Some(rest) = sk.strip_prefix("RXU#") {
                let c = ConversationId::from(pk.trim_start_matches("CONV#"));
                let user = rest.rsplit_once('#').map(|(user, _)| user.to_owned()).unwrap_or_default();
                if let Some((id, own)) = super::reactions::parse_own_reactions(&item)? {
                    states.own_reactions.push(((c, id, user), own));
                }
            } else if sk.starts_with("MSG#") {
                if let Some(message) = parse_message(&item)? {
                    states.messages.push(message);
                }
            }
        }
        Ok(states)
    }
}
