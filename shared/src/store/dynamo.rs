//! The DynamoDB adapter: one table, generic `pk`/`sk` keys, one global secondary index.
//!
//! | item                | pk                  | sk                  | gsi1pk / gsi1sk     |
//! |---------------------|---------------------|---------------------|---------------------|
//! | user profile        | `USER#<username>`   | `PROFILE`           | `USERDIR` / username|
//! | email claim         | `EMAIL#<email>`     | `EMAIL`             |                     |
//! | session family      | `USER#<username>`   | `SESSION#<family>`  |                     |
//! | refresh token       | `REFRESH#<sha256>`  | `REFRESH`           |                     |
//! | login failures      | `LOGINFAIL#<name>`  | `LOGINFAIL`         |                     |
//! | contact             | `USER#<owner>`      | `CONTACT#<contact>` | `CONTACTOF#<contact>` / owner |
//! | conversation        | `CONV#<id>`         | `META`              | `PUBLIC` / name#id (public only) |
//! | message             | `CONV#<id>`         | `MSG#<20-digit id>` |                     |
//! | client_id claim     | `CONV#<id>`         | `CLIENT#<sender>#<client_id>` |           |
//! | push turn           | `CONV#<id>`         | `PUSH`              |                     |
//! | membership          | `USER#<username>`   | `MEMBER#<conv id>`  |                     |
//! | direct pair         | `DIRECT#<a>#<b>`    | `DIRECT`            |                     |
//! | member (by conv)    | `CONV#<id>`         | `MEMBER#<username>` | `MEMBERS#<id>` / joined_at#username |
//! | connection (by conv)| `CONV#<id>`         | `CONN#<connection>` | (TTL 2 h)           |
//! | file                | `FILE#<id>`         | `FILE`              |                     |
//!
//! Every access is a GetItem, Query, BatchGetItem or a (transactional) conditional write on a
//! key; nothing scans. docs/architecture.md lists the requests per operation.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue as AV;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest, ReturnValue, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::{
    Attempt, Attempts, Connected, ConnectionStore, ContactStore, ConversationStore, FileStore, MessageStore,
    PushRelease, PushTurn, RefreshTokenRecord, Released, SendRate, SessionStore, SocketOptions, Target, ThrottleStore,
    UserStore, UserUpdate,
};
use crate::chat::{Attachment, Conversation, Kind, Member, Message, ReadState, Visibility, MEMBERS_MAX};
use crate::error::{Conflict, StoreError};
use crate::model::{FileRecord, Purpose};
use crate::model::{Page, UserRecord};

type Item = HashMap<String, AV>;

const GSI1: &str = "gsi1";
const USER_DIRECTORY: &str = "USERDIR";
const PROFILE: &str = "PROFILE";
/// BatchGetItem takes at most 100 keys; BatchWriteItem 25 requests.
const BATCH_GET_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;
/// Bounded retries for unprocessed batch keys and lost conditional races.
const RETRIES: u32 = 5;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AV::S(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Every item of one partition whose sort key starts with `prefix`, following pages.
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", AV::S(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn batch_delete(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let requests = keys
            .into_iter()
            .map(|key| {
                let delete = DeleteRequest::builder().set_key(Some(key)).build().map_err(build_error)?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<_, StoreError>>()?;
        self.batch_write(requests).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item)).build().map_err(build_error)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        self.batch_write(requests).await
    }

    /// BatchWriteItem over any number of writes, following unprocessed ones with bounded retries.
    async fn batch_write(&self, all: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in all.chunks(BATCH_WRITE_MAX) {
            let mut requests = chunk.to_vec();
            for attempt in 0..=RETRIES {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == RETRIES {
                    return Err(StoreError::Unavailable("unprocessed batch writes".into()));
                }
                backoff(attempt).await;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut writes = vec![put(&self.table, user_item(user), "attribute_not_exists(pk)")?];
        if let Some(email) = &user.email {
            writes.push(put(&self.table, email_item(email, &user.username), "attribute_not_exists(pk)")?);
        }
        self.transact(writes, &[Conflict::UsernameTaken, Conflict::EmailTaken]).await?;
        Ok(())
    }

    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        self.get(user_pk(username), PROFILE).await?.map(|item| parse_user(&item)).transpose()
    }

    async fn get_users(&self, usernames: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let keys = usernames.iter().map(|u| key(user_pk(u), PROFILE)).collect();
        self.batch_get(keys, None).await?.iter().map(parse_user).collect()
    }

    async fn username_for_email(&self, email: &str) -> Result<Option<String>, StoreError> {
        match self.get(email_pk(email), "EMAIL").await? {
            Some(item) => Ok(Some(req_s(&item, "username")?)),
            None => Ok(None),
        }
    }

    async fn update_user(&self, current: &UserRecord, update: &UserUpdate) -> Result<UserRecord, StoreError> {
        let username = current.username.as_str();
        let email_change = update.email.as_ref().filter(|new| **new != current.email);

        let mut expr = UpdateExpr::default();
        if let Some(fullname) = &update.fullname {
            expr.set("fullname", s(fullname));
        }
        if let Some(hash) = &update.password_hash {
            expr.set("password_hash", s(hash));
        }
        for (name, change) in [
            ("email", &update.email),
            ("first_name", &update.first_name),
            ("last_name", &update.last_name),
            ("role", &update.role),
            ("date_of_birth", &update.date_of_birth),
            ("avatar_file_id", &update.avatar_file_id),
        ] {
            match change {
                Some(Some(value)) => expr.set(name, s(value)),
                Some(None) => expr.remove(name),
                None => {}
            }
        }
        if expr.is_empty() {
            return Ok(current.clone());
        }
        // The email we read must still be the stored one, or another change won the race.
        let (guard, guard_values) = match &current.email {
            Some(old) => ("attribute_exists(pk) AND email = :old_email", vec![(":old_email", s(old))]),
            None => ("attribute_exists(pk) AND attribute_not_exists(email)", vec![]),
        };

        let Some(new_email) = email_change else {
            let out = expr
                .apply(
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", AV::S(user_pk(username)))
                        .key("sk", s(PROFILE)),
                )
                .condition_expression(guard)
                .set_expression_attribute_values(
                    Some(merge(expr.values.clone(), guard_values)).filter(|v| !v.is_empty()),
                )
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map_err(|e| conditional_error(e, Conflict::Missing))?;
            return parse_user(&out.attributes.unwrap_or_default());
        };

        // Moving the email claim: update the profile, claim the new address, free the old one,
        // all or nothing.
        let profile = Update::builder()
            .table_name(&self.table)
            .key("pk", AV::S(user_pk(username)))
            .key("sk", s(PROFILE))
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names.clone()))
            .set_expression_attribute_values(Some(merge(expr.values.clone(), guard_values)).filter(|v| !v.is_empty()))
            .condition_expression(guard)
            .build()
            .map_err(build_error)?;
        let mut writes = vec![TransactWriteItem::builder().update(profile).build()];
        if let Some(new) = new_email {
            writes.push(put(&self.table, email_item(new, username), "attribute_not_exists(pk)")?);
        }
        if let Some(old) = &current.email {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(email_pk(old), "EMAIL")))
                .condition_expression("username = :u")
                .expression_attribute_values(":u", s(username))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        let reasons = [
            Conflict::Missing,
            if new_email.is_some() { Conflict::EmailTaken } else { Conflict::Missing },
            Conflict::Missing,
        ];
        self.transact(writes, &reasons).await?;
        self.get_user(username).await?.ok_or(StoreError::Conflict(Conflict::Missing))
    }

    async fn list_users(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .expression_attribute_values(":dir", s(USER_DIRECTORY))
            .limit(limit as i32 + 1);
        query = if prefix.is_empty() {
            query.key_condition_expression("gsi1pk = :dir")
        } else {
            query
                .key_condition_expression("gsi1pk = :dir AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        if let Some(after) = after {
            let mut start = key(user_pk(after), PROFILE);
            start.insert("gsi1pk".into(), s(USER_DIRECTORY));
            start.insert("gsi1sk".into(), s(after));
            query = query.set_exclusive_start_key(Some(start));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let mut items = out.items.unwrap_or_default().iter().map(parse_user).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|u| u.username.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn create_session(&self, token: &RefreshTokenRecord, now: i64) -> Result<(), StoreError> {
        let writes = vec![
            put(
                &self.table,
                session_item(&token.username, &token.family_id, now, token.expires_at),
                "attribute_not_exists(pk)",
            )?,
            put(&self.table, refresh_item(token), "attribute_not_exists(pk)")?,
        ];
        self.transact(writes, &[Conflict::Missing, Conflict::Missing]).await?;
        Ok(())
    }

    async fn get_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.get(refresh_pk(token_hash), "REFRESH").await?.map(|item| parse_refresh(&item)).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old: &RefreshTokenRecord,
        new: &RefreshTokenRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let mark_used = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(refresh_pk(&old.token_hash), "REFRESH")))
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(build_error)?;
        let family_open = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&old.username), &format!("SESSION#{}", old.family_id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_error)?;
        let writes = vec![
            TransactWriteItem::builder().update(mark_used).build(),
            put(&self.table, refresh_item(new), "attribute_not_exists(pk)")?,
            TransactWriteItem::builder().condition_check(family_open).build(),
        ];
        self.client.transact_write_items().set_transact_items(Some(writes)).send().await.map_err(|e| {
            transaction_error(e, &[Conflict::TokenAlreadyUsed, Conflict::TokenAlreadyUsed, Conflict::SessionRevoked])
        })?;
        Ok(())
    }

    async fn revoke_session(&self, username: &str, family_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), &format!("SESSION#{family_id}"))))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn session_open(&self, username: &str, family_id: &str) -> Result<bool, StoreError> {
        Ok(self.get(user_pk(username), &format!("SESSION#{family_id}")).await?.is_some())
    }

    async fn revoke_sessions(&self, username: &str, keep: Option<&str>) -> Result<(), StoreError> {
        let keep_sk = keep.map(|k| format!("SESSION#{k}"));
        let keys = self
            .query_prefix(user_pk(username), "SESSION#")
            .await?
            .iter()
            .map(|item| req_s(item, "sk"))
            .filter(|sk| sk.as_ref().ok() != keep_sk.as_ref())
            .map(|sk| sk.map(|sk| key(user_pk(username), &sk)))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_delete(keys).await
    }
}

#[async_trait]
impl ThrottleStore for DynamoStore {
    async fn take_attempt(
        &self,
        key_name: &str,
        limit: u32,
        now: i64,
        window_start_min: i64,
    ) -> Result<Attempt, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
        for _ in 0..RETRIES {
            // Count in the current window unless it is full, or open the first one: one request…
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(throttle_pk(key_name), ATTEMPTS)))
                .update_expression("SET window_start = if_not_exists(window_start, :now), #ttl = if_not_exists(#ttl, :ttl) ADD #count :one")
                .condition_expression("attribute_not_exists(pk) OR (window_start > :min AND #count < :limit)")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":ttl", n(now / 1000 + 24 * 3600))
                .expression_attribute_values(":min", n(window_start_min))
                .expression_attribute_values(":limit", n(i64::from(limit)))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match counted {
                Ok(out) => return Ok(Attempt::Taken(parse_attempts(&out.attributes.unwrap_or_default())?)),
                Err(e) if is_conditional_failure(&e) => {
                    let old = match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
                        _ => None,
                    };
                    if let Some(old) = old {
                        let attempts = parse_attempts(&old)?;
                        if attempts.window_start > window_start_min {
                            return Ok(Attempt::Refused(attempts));
                        }
                    }
                }
                Err(e) => return Err(sdk_error(e)),
            }
            // …or, the window having passed, open a new one, unless someone else just did.
            let mut item = key(throttle_pk(key_name), ATTEMPTS);
            item.insert("count".into(), n(1));
            item.insert("window_start".into(), n(now));
            item.insert("ttl".into(), n(now / 1000 + 24 * 3600));
            let opened = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR window_start <= :min")
                .expression_attribute_values(":min", n(window_start_min))
                .send()
                .await;
            match opened {
                Ok(_) => return Ok(Attempt::Taken(Attempts { count: 1, window_start: now })),
                Err(e) if !is_conditional_failure(&e) => return Err(sdk_error(e)),
                Err(_) => {}
            }
        }
        Err(StoreError::Unavailable("attempt counter contended".into()))
    }

    async fn refund_attempt(&self, key_name: &str, window_start: i64) -> Result<(), StoreError> {
        let refunded = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(throttle_pk(key_name), ATTEMPTS)))
            .update_expression("ADD #count :minus")
            .condition_expression("window_start = :start AND #count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":start", n(window_start))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match refunded {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn clear_attempts(&self, key_name: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(throttle_pk(key_name), ATTEMPTS)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError> {
        let mut item = key(user_pk(owner), &format!("CONTACT#{contact}"));
        item.insert("contact".into(), s(contact));
        item.insert("added_at".into(), n(now));
        item.insert("gsi1pk".into(), AV::S(format!("CONTACTOF#{contact}")));
        item.insert("gsi1sk".into(), s(owner));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::AlreadyContact))?;
        Ok(())
    }

    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(owner), &format!("CONTACT#{contact}"))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list_contacts(&self, owner: &str, after: Option<&str>, limit: usize) -> Result<Page<String>, StoreError> {
        // `!` sorts before every username character, so `CONTACT#<after>!` starts just past `after`;
        // `$` sorts right after `#`, so `CONTACT$` ends the contact range.
        let from = match after {
            Some(after) => format!("CONTACT#{after}!"),
            None => "CONTACT#".to_owned(),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(user_pk(owner)))
            .expression_attribute_values(":from", AV::S(from))
            .expression_attribute_values(":to", s("CONTACT$"))
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items =
            out.items.unwrap_or_default().iter().map(|item| req_s(item, "contact")).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().cloned()
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

const META: &str = "META";
/// The push turn's item under a conversation: who pushes, until when, and how far.
const PUSH: &str = "PUSH";
/// Where the message range of a conversation ends (above every `MSG#` key).
const MSG_END: &str = "MSG$";

fn conv_pk(id: &str) -> String {
    format!("CONV#{id}")
}

fn msg_sk(id: i64) -> String {
    format!("MSG#{:020}", id.max(0))
}

fn member_sk(conversation_id: &str) -> String {
    format!("MEMBER#{conversation_id}")
}

/// Members under their conversation: `MEMBER#<username>`.
const MEMBER_OF: &str = "MEMBER#";

fn member_of_sk(username: &str) -> String {
    format!("{MEMBER_OF}{username}")
}

fn members_gsi_pk(conversation_id: &str) -> String {
    format!("MEMBERS#{conversation_id}")
}

/// Connections recorded under a conversation: `CONN#<connection id>`.
const CONNECTION_OF: &str = "CONN#";

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn conversation_item(c: &Conversation) -> Item {
    let mut item = key(conv_pk(&c.id), META);
    item.insert("id".into(), s(&c.id));
    if let Some(name) = &c.name {
        item.insert("name".into(), s(name));
    }
    item.insert("kind".into(), s(c.kind.as_str()));
    item.insert("visibility".into(), s(c.visibility.as_str()));
    item.insert("owner".into(), s(&c.owner));
    item.insert("member_count".into(), n(c.member_count));
    item.insert("member_preview".into(), AV::L(c.member_preview.iter().map(|m| s(m)).collect()));
    if let Some(icon) = &c.icon_file_id {
        item.insert("icon_file_id".into(), s(icon));
    }
    item.insert("created_at".into(), n(c.created_at));
    item.insert("created_by".into(), s(&c.created_by));
    item.insert("last_message_id".into(), n(c.last_message_id));
    item.insert("last_activity_at".into(), n(c.last_activity_at));
    if c.visibility == Visibility::Public {
        item.insert("gsi1pk".into(), s("PUBLIC"));
        item.insert("gsi1sk".into(), s(&c.public_sort_key()));
    }
    item
}

fn parse_conversation(item: &Item) -> Result<Conversation, StoreError> {
    let member_preview = match item.get("member_preview") {
        Some(AV::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    Ok(Conversation {
        id: req_s(item, "id")?,
        name: opt_s(item, "name"),
        kind: if req_s(item, "kind")? == "direct" { Kind::Direct } else { Kind::Group },
        visibility: if req_s(item, "visibility")? == "public" { Visibility::Public } else { Visibility::Private },
        owner: req_s(item, "owner")?,
        member_count: opt_n(item, "member_count")?.unwrap_or(0),
        member_preview,
        icon_file_id: opt_s(item, "icon_file_id"),
        created_at: req_n(item, "created_at")?,
        created_by: req_s(item, "created_by")?,
        last_message_id: req_n(item, "last_message_id")?,
        last_activity_at: req_n(item, "last_activity_at")?,
    })
}

/// A member under its conversation, also indexed by join time (who has been in longest).
fn member_item(conversation_id: &str, member: &Member) -> Item {
    let mut item = key(conv_pk(conversation_id), &member_of_sk(&member.username));
    item.insert("username".into(), s(&member.username));
    item.insert("joined_at".into(), n(member.joined_at));
    item.insert("gsi1pk".into(), AV::S(members_gsi_pk(conversation_id)));
    item.insert("gsi1sk".into(), AV::S(format!("{:015}#{}", member.joined_at.max(0), member.username)));
    item
}

fn parse_member(item: &Item) -> Result<Member, StoreError> {
    Ok(Member { username: req_s(item, "username")?, joined_at: req_n(item, "joined_at")? })
}

/// A member under the user: my conversations and my read state there.
fn membership_item(username: &str, conversation_id: &str, joined_at: i64) -> Item {
    let mut item = key(user_pk(username), &member_sk(conversation_id));
    item.insert("conversation_id".into(), s(conversation_id));
    item.insert("joined_at".into(), n(joined_at));
    item.insert("last_read".into(), n(0));
    item.insert("own_after_read".into(), n(0));
    item
}

fn parse_read_state(item: &Item) -> Result<ReadState, StoreError> {
    Ok(ReadState {
        last_read: opt_n(item, "last_read")?.unwrap_or(0),
        own_after_read: opt_n(item, "own_after_read")?.unwrap_or(0),
    })
}

fn message_item(m: &Message) -> Item {
    let mut item = key(conv_pk(&m.conversation_id), &msg_sk(m.id));
    item.insert("id".into(), n(m.id));
    item.insert("conversation_id".into(), s(&m.conversation_id));
    item.insert("sender".into(), s(&m.sender_username));
    item.insert("content".into(), s(&m.content));
    if let Some(reply) = m.reply_id {
        item.insert("reply_id".into(), n(reply));
    }
    if let Some(client_id) = &m.client_id {
        item.insert("client_id".into(), s(client_id));
    }
    let attachments = m
        .attachments
        .iter()
        .map(|a| {
            let mut map = HashMap::from([
                ("file_id".to_owned(), s(&a.file_id)),
                ("content_type".to_owned(), s(&a.content_type)),
                ("size".to_owned(), n(a.size)),
            ]);
            if let Some(name) = &a.name {
                map.insert("name".into(), s(name));
            }
            AV::M(map)
        })
        .collect();
    item.insert("attachments".into(), AV::L(attachments));
    item.insert("sent_at".into(), n(m.sent_at));
    if let Some(at) = m.edited_at {
        item.insert("edited_at".into(), n(at));
    }
    item.insert("deleted".into(), AV::Bool(m.deleted));
    if let Some(origin) = &m.origin {
        item.insert("origin".into(), s(origin));
    }
    item
}

/// `None` for a void id.
fn parse_message(item: &Item) -> Result<Option<Message>, StoreError> {
    if matches!(item.get("is_void"), Some(AV::Bool(true))) {
        return Ok(None);
    }
    let attachments = match item.get("attachments") {
        Some(AV::L(list)) => list
            .iter()
            .map(|a| match a {
                AV::M(m) => Ok(Attachment {
                    file_id: req_s(m, "file_id")?,
                    content_type: req_s(m, "content_type")?,
                    size: req_n(m, "size")?,
                    name: opt_s(m, "name"),
                }),
                _ => Err(StoreError::Internal("attachment is not a map".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(Some(Message {
        id: req_n(item, "id")?,
        conversation_id: req_s(item, "conversation_id")?,
        sender_username: req_s(item, "sender")?,
        content: req_s(item, "content")?,
        reply_id: opt_n(item, "reply_id")?,
        client_id: opt_s(item, "client_id"),
        attachments,
        sent_at: req_n(item, "sent_at")?,
        edited_at: opt_n(item, "edited_at")?,
        deleted: matches!(item.get("deleted"), Some(AV::Bool(true))),
        origin: opt_s(item, "origin"),
    }))
}

fn parse_connections(item: &Item) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
    Ok(parse_sockets(item)?.into_iter().map(|s| (s.connection, s.expires_at)).collect())
}

/// A socket as the profile records it.
struct ProfileSocket {
    connection: String,
    expires_at: i64,
    session: Option<String>,
    batch: bool,
}

/// The profile's sockets. A socket is
/// `{expires_at, sid, batch}`, or its expiry alone when it was recorded before sockets knew their
/// session.
fn parse_sockets(item: &Item) -> Result<Vec<ProfileSocket>, StoreError> {
    let bad = || StoreError::Internal("connection record".into());
    let number = |v: &AV| match v {
        AV::N(v) => v.parse::<i64>().map_err(|_| bad()),
        _ => Err(bad()),
    };
    match item.get("connections") {
        Some(AV::M(m)) => m
            .iter()
            .map(|(id, socket)| match socket {
                AV::M(fields) => {
                    let expires = fields.get("expires_at").ok_or_else(bad).and_then(number)?;
                    let batch = matches!(fields.get("batch"), Some(AV::Bool(true)));
                    Ok(ProfileSocket {
                        connection: id.clone(),
                        expires_at: expires,
                        session: opt_s(fields, "sid"),
                        batch,
                    })
                }
                other => Ok(ProfileSocket {
                    connection: id.clone(),
                    expires_at: number(other)?,
                    session: None,
                    batch: false,
                }),
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

impl DynamoStore {
    /// BatchGetItem over any number of keys, eventually consistent.
    async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<(&str, HashMap<String, String>)>,
    ) -> Result<Vec<Item>, StoreError> {
        self.batch_read(keys, projection, false).await
    }

    /// BatchGetItem over any number of keys, following unprocessed keys with bounded retries.
    async fn batch_read(
        &self,
        keys: Vec<Item>,
        projection: Option<(&str, HashMap<String, String>)>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        // BatchGetItem refuses a request that names a key twice.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<Item> = keys
            .into_iter()
            .filter(|k| seen.insert((opt_s(k, "pk").unwrap_or_default(), opt_s(k, "sk").unwrap_or_default())))
            .collect();
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let mut request = KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).consistent_read(consistent);
            if let Some((expression, names)) = &projection {
                request =
                    request.projection_expression(*expression).set_expression_attribute_names(Some(names.clone()));
            }
            let mut pending = Some(request.build().map_err(build_error)?);
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let out =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_error)?;
                found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
                pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    if attempt == RETRIES {
                        return Err(StoreError::Unavailable("unprocessed batch reads".into()));
                    }
                    backoff(attempt).await;
                    attempt += 1;
                }
            }
        }
        Ok(found)
    }

    /// One TransactWriteItems; `conflicts[i]` names what a failed condition on write `i` means.
    async fn transact(&self, writes: Vec<TransactWriteItem>, conflicts: &[Conflict]) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| transaction_error(e, conflicts))?;
        Ok(())
    }
}

/// Members per transaction: two items each (under the conversation and under the user), beside the
/// conversation item, a caller check and a direct-pair claim, within DynamoDB's 100 items.
const MEMBERS_PER_TRANSACTION: usize = 45;

impl DynamoStore {
    /// Adds `members` in transactions of [`MEMBERS_PER_TRANSACTION`], each counting its members on
    /// the conversation item under `condition` (`room`: the most members there may be before).
    /// The first carries `first_update` (more to set) and `check` (a ConditionCheck with its reason).
    async fn put_members(
        &self,
        id: &str,
        members: &[Member],
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
                    membership_item(&member.username, id, member.joined_at),
                    "attribute_not_exists(pk)",
                )?);
                reasons.extend([Conflict::AlreadyMember, Conflict::AlreadyMember]);
            }
            self.transact(writes, &reasons).await?;
        }
        Ok(())
    }

    /// BatchGetItem of any number of keys, strongly consistent.
    async fn get_consistent(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.batch_read(keys, None, true).await
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
        let (first, rest) = members.split_at(members.len().min(MEMBERS_PER_TRANSACTION));
        let mut created = conversation.clone();
        created.member_count = first.len() as i64;
        let mut writes = vec![put(&self.table, conversation_item(&created), "attribute_not_exists(pk)")?];
        let mut reasons = vec![Conflict::Missing];
        for member in first {
            writes.push(put(&self.table, member_item(&conversation.id, member), "attribute_not_exists(pk)")?);
            writes.push(put(
                &self.table,
                membership_item(&member.username, &conversation.id, member.joined_at),
                "attribute_not_exists(pk)",
            )?);
            reasons.extend([Conflict::Missing, Conflict::Missing]);
        }
        if let Some(direct) = direct_key {
            let mut item = key(format!("DIRECT#{direct}"), "DIRECT");
            item.insert("conversation_id".into(), s(&conversation.id));
            writes.push(put(&self.table, item, "attribute_not_exists(pk)")?);
            reasons.push(Conflict::DirectExists);
        }
        self.transact(writes, &reasons).await?;
        self.put_members(&conversation.id, rest, MembersFirst::default(), conversation.created_at).await
    }

    async fn direct_conversation(&self, direct_key: &str) -> Result<Option<String>, StoreError> {
        match self.get(format!("DIRECT#{direct_key}"), "DIRECT").await? {
            Some(item) => Ok(Some(req_s(&item, "conversation_id")?)),
            None => Ok(None),
        }
    }

    async fn get_conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        self.get(conv_pk(id), META).await?.map(|item| parse_conversation(&item)).transpose()
    }

    async fn member_conversation(
        &self,
        id: &str,
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

    async fn get_conversations(&self, ids: &[String]) -> Result<Vec<Conversation>, StoreError> {
        let keys = ids.iter().map(|id| key(conv_pk(id), META)).collect();
        self.batch_get(keys, None).await?.iter().map(parse_conversation).collect()
    }

    async fn memberships(&self, username: &str) -> Result<Vec<(String, ReadState)>, StoreError> {
        self.query_prefix(user_pk(username), "MEMBER#")
            .await?
            .iter()
            .map(|item| Ok((req_s(item, "conversation_id")?, parse_read_state(item)?)))
            .collect()
    }

    async fn read_state(&self, username: &str, conversation_id: &str) -> Result<Option<ReadState>, StoreError> {
        self.get(user_pk(username), &member_sk(conversation_id)).await?.map(|i| parse_read_state(&i)).transpose()
    }

    async fn members_among(&self, id: &str, usernames: &[String]) -> Result<Vec<String>, StoreError> {
        let keys = usernames.iter().map(|u| key(conv_pk(id), &member_of_sk(u))).collect();
        let projection = ("#u", names(&[("#u", "username")]));
        self.batch_get(keys, Some(projection)).await?.iter().map(|i| req_s(i, "username")).collect()
    }

    async fn list_members(&self, id: &str, after: Option<&str>, limit: usize) -> Result<Page<Member>, StoreError> {
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

    async fn longest_standing(&self, id: &str, except: &str) -> Result<Option<String>, StoreError> {
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

    async fn update_conversation(
        &self,
        id: &str,
        name: Option<&str>,
        icon_file_id: Option<Option<&str>>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let mut expr = UpdateExpr::default();
        expr.set("last_activity_at", n(now));
        if let Some(name) = name {
            expr.set("name", s(name));
        }
        match icon_file_id {
            Some(Some(icon)) => expr.set("icon_file_id", s(icon)),
            Some(None) => expr.remove("icon_file_id"),
            None => {}
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(id), META)))
            .update_expression(expr.expression())
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(expr.names.clone()))
            .set_expression_attribute_values(Some(expr.values.clone()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::NotMember))?;
        let updated = parse_conversation(&out.attributes.unwrap_or_default())?;
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
        id: &str,
        caller: Option<&str>,
        members: &[Member],
        preview: &[String],
        now: i64,
    ) -> Result<Conversation, StoreError> {
        let first = MembersFirst { caller, public_only: caller.is_none(), preview: Some(preview) };
        self.put_members(id, members, first, now).await?;
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
        let writes = vec![
            TransactWriteItem::builder().update(update).build(),
            delete(conv_pk(&expected.id), &member_of_sk(username))?,
            delete(user_pk(username), &member_sk(&expected.id))?,
        ];
        self.transact(writes, &[Conflict::Missing, Conflict::Missing, Conflict::Missing]).await
    }

    async fn list_public(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Conversation>, StoreError> {
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
            let id = after.rsplit('#').next().unwrap_or_default();
            let mut start = key(conv_pk(id), META);
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

#[async_trait]
impl MessageStore for DynamoStore {
    async fn allocate_message_id(&self, conversation_id: &str, now: i64) -> Result<Conversation, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), META)))
            .update_expression("SET last_message_id = last_message_id + :one, last_activity_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::NotMember))?;
        parse_conversation(&out.attributes.unwrap_or_default())
    }

    async fn put_message(&self, message: &Message, rate: &SendRate) -> Result<(), StoreError> {
        // The sender's own counter doubles as the membership check.
        let own = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&message.sender_username), &member_sk(&message.conversation_id))))
            .update_expression("ADD own_after_read :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_error)?;
        let mut writes = vec![
            TransactWriteItem::builder().update(own).build(),
            put(&self.table, message_item(message), "attribute_not_exists(pk)")?,
        ];
        // The sender's sends in this window: an item per (sender, window), gone with its TTL.
        let counted = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{}", message.sender_username), &format!("SEND#{}", rate.window_start))))
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
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(&message.conversation_id), &msg_sk(reply))))
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(is_void)")
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().condition_check(check).build());
            reasons.push(Conflict::Missing);
        }
        if let Some(client_id) = &message.client_id {
            let mut claim =
                key(conv_pk(&message.conversation_id), &format!("CLIENT#{}#{client_id}", message.sender_username));
            claim.insert("message_id".into(), n(message.id));
            writes.push(put(&self.table, claim, "attribute_not_exists(pk)")?);
            reasons.push(Conflict::DuplicateClientId);
        }
        self.transact(writes, &reasons).await?;
        Ok(())
    }

    async fn put_void(&self, conversation_id: &str, id: i64) -> Result<(), StoreError> {
        let mut item = key(conv_pk(conversation_id), &msg_sk(id));
        item.insert("is_void".into(), AV::Bool(true));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn message_id_for_client_id(
        &self,
        conversation_id: &str,
        sender: &str,
        client_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        match self.get(conv_pk(conversation_id), &format!("CLIENT#{sender}#{client_id}")).await? {
            Some(item) => Ok(Some(req_n(&item, "message_id")?)),
            None => Ok(None),
        }
    }

    async fn get_message(&self, conversation_id: &str, id: i64) -> Result<Option<Message>, StoreError> {
        Ok(self.get(conv_pk(conversation_id), &msg_sk(id)).await?.map(|i| parse_message(&i)).transpose()?.flatten())
    }

    async fn get_messages(&self, keys: &[(String, i64)]) -> Result<Vec<Message>, StoreError> {
        let keys = keys.iter().map(|(c, id)| key(conv_pk(c), &msg_sk(*id))).collect();
        let items = self.batch_get(keys, None).await?;
        Ok(items.iter().map(parse_message).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
    }

    async fn list_messages(
        &self,
        conversation_id: &str,
        before: Option<i64>,
        after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool), StoreError> {
        let (from, to, forward) = match after {
            // Nothing lies after the largest id there is.
            Some(after) => match after.checked_add(1) {
                Some(first) => (msg_sk(first), MSG_END.to_owned(), true),
                None => return Ok((Vec::new(), false)),
            },
            None => {
                (msg_sk(0), before.map(|b| msg_sk(b.saturating_sub(1))).unwrap_or_else(|| MSG_END.to_owned()), false)
            }
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
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(message_item(message)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(is_void) AND deleted = :false")
            .expression_attribute_values(":false", AV::Bool(false))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => {
                let old = e.as_service_error().and_then(|se| match se {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.as_ref()
                    }
                    _ => None,
                });
                match old.and_then(|item| item.get("deleted")) {
                    Some(AV::Bool(true)) => Err(StoreError::Conflict(Conflict::Deleted)),
                    _ => Err(StoreError::Conflict(Conflict::Missing)),
                }
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn mark_read(
        &self,
        username: &str,
        conversation_id: &str,
        message_id: i64,
        own_after_read: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), &member_sk(conversation_id))))
            .update_expression("SET last_read = :id, own_after_read = :own")
            .condition_expression("attribute_exists(pk) AND last_read < :id")
            .expression_attribute_values(":id", n(message_id))
            .expression_attribute_values(":own", n(own_after_read))
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
        conversation_id: &str,
        username: &str,
        after: i64,
        through: i64,
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
        conversation_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Option<Message>)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(conv_pk(conversation_id)))
            .expression_attribute_values(":from", AV::S(msg_sk(after.saturating_add(1))))
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
                    .ok_or_else(|| StoreError::Internal("message sort key".into()))?;
                Ok((id, parse_message(item)?))
            })
            .collect()
    }

    async fn claim_push_turn(
        &self,
        conversation_id: &str,
        holder: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<PushTurn>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), PUSH)))
            .update_expression(CLAIM)
            .set_expression_attribute_names(Some(push_names(&[CLAIM])))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":until", n(lease_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let item = out.attributes.unwrap_or_default();
        if opt_s(&item, "holder").as_deref() == Some(holder) {
            return Ok(Some(parse_push_turn(&item)?));
        }
        let until = opt_n(&item, "lease_until")?.unwrap_or(0);
        if until >= now {
            return Ok(None);
        }
        // The holder's lease ran out (it died): take over, unless someone else just did.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), PUSH)))
            .update_expression(TAKE_OVER)
            .condition_expression(TAKE_OVER_IF)
            .set_expression_attribute_names(Some(push_names(&[TAKE_OVER, TAKE_OVER_IF])))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":until", n(lease_until))
            .expression_attribute_values(":old", item.get("holder").cloned().unwrap_or_else(|| s("")))
            .expression_attribute_values(":old_until", n(until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(parse_push_turn(&out.attributes.unwrap_or_default())?)),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn release_push_turn(
        &self,
        conversation_id: &str,
        holder: &str,
        release: PushRelease,
    ) -> Result<Released, StoreError> {
        if let Some(seen) = release.seen_signal {
            let update = if release.clean {
                "REMOVE #holder, #until SET #pushed = :pushed, #clean = :seen"
            } else {
                "REMOVE #holder, #until SET #pushed = :pushed"
            };
            let released = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(conversation_id), PUSH)))
                .update_expression(update)
                .condition_expression(RELEASE_IF)
                .set_expression_attribute_names(Some(push_names(&[update, RELEASE_IF])))
                .expression_attribute_values(":me", s(holder))
                .expression_attribute_values(":pushed", n(release.pushed_id))
                .expression_attribute_values(":seen", n(seen))
                .send()
                .await;
            match released {
                Ok(_) => return Ok(Released::Released),
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(sdk_error(e)),
            }
        }
        // Signalled meanwhile (or no longer ours): keep the turn, recording the progress.
        let kept = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation_id), PUSH)))
            .update_expression(KEEP)
            .condition_expression(KEEP_IF)
            .set_expression_attribute_names(Some(push_names(&[KEEP, KEEP_IF])))
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":pushed", n(release.pushed_id))
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

const CLAIM: &str =
    "ADD #signal :one SET #holder = if_not_exists(#holder, :me), #until = if_not_exists(#until, :until)";
const TAKE_OVER: &str = "SET #holder = :me, #until = :until";
const TAKE_OVER_IF: &str = "#holder = :old AND #until = :old_until";
const RELEASE_IF: &str = "#holder = :me AND #signal = :seen";
const KEEP: &str = "SET #pushed = :pushed, #until = :until";
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
    ]
    .into_iter()
    .filter(|(placeholder, _)| expressions.iter().any(|e| e.contains(placeholder)))
    .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
    .collect()
}

fn parse_push_turn(item: &Item) -> Result<PushTurn, StoreError> {
    Ok(PushTurn {
        pushed_id: opt_n(item, "pushed_id")?.unwrap_or(0),
        signal: opt_n(item, "signal")?.unwrap_or(0),
        clean_signal: opt_n(item, "clean_signal")?.unwrap_or(0),
    })
}

/// A connection recorded under a conversation (TTL'd like the connection itself).
fn connection_item(conversation_id: &str, username: &str, connection_id: &str, expires_at: i64, batch: bool) -> Item {
    let mut item = key(conv_pk(conversation_id), &format!("{CONNECTION_OF}{connection_id}"));
    item.insert("username".into(), s(username));
    item.insert("expires_at".into(), n(expires_at));
    item.insert("ttl".into(), n(expires_at / 1000));
    if batch {
        item.insert("batch".into(), AV::Bool(true));
    }
    item
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(
        &self,
        username: &str,
        connection_id: &str,
        options: &SocketOptions<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<Connected, StoreError> {
        // The profile's `connections` map: connection id → {expires_at, sid, batch} (or, written
        // before sockets knew their session, the expiry alone).
        let mut socket = HashMap::from([("expires_at".to_owned(), n(expires_at))]);
        if let Some(session) = options.session {
            socket.insert("sid".into(), s(session));
        }
        if options.batch {
            socket.insert("batch".into(), AV::Bool(true));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), PROFILE)))
            .update_expression("SET connections.#c = :socket")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", connection_id)
            .expression_attribute_values(":socket", AV::M(socket))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::Missing))?;
        let profile = out.attributes.unwrap_or_default();
        let before = parse_connections(&profile)?;
        let conversations = self.memberships(username).await?;
        let records = conversations
            .iter()
            .map(|(conversation, _)| connection_item(conversation, username, connection_id, expires_at, options.batch))
            .collect();
        self.batch_put(records).await?;
        Ok(Connected { first: !before.values().any(|exp| *exp > now), last_online: opt_n(&profile, "last_online")? })
    }

    async fn remove_connection(&self, username: &str, connection_id: &str, now: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), PROFILE)))
            .update_expression("REMOVE connections.#c SET last_online = :now")
            .condition_expression("attribute_exists(connections.#c)")
            .expression_attribute_names("#c", connection_id)
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if is_conditional_failure(&e) => return Ok(false),
            Err(e) => return Err(sdk_error(e)),
        };
        let after = parse_connections(&out.attributes.unwrap_or_default())?;
        Ok(!after.values().any(|exp| *exp > now))
    }

    async fn sockets(&self, username: &str, now: i64) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let profile = self.get(user_pk(username), PROFILE).await?.unwrap_or_default();
        Ok(parse_sockets(&profile)?
            .into_iter()
            .filter(|socket| socket.expires_at > now)
            .map(|socket| (socket.connection, socket.session))
            .collect())
    }

    async fn connections_of(&self, usernames: &[String], now: i64) -> Result<Vec<(String, String)>, StoreError> {
        let keys = usernames.iter().map(|u| key(user_pk(u), PROFILE)).collect();
        let projection = ("#u, connections", names(&[("#u", "username")]));
        let items = self.batch_get(keys, Some(projection)).await?;
        let mut found = Vec::new();
        for item in &items {
            let user = req_s(item, "username")?;
            for (id, expires) in parse_connections(item)? {
                if expires > now {
                    found.push((user.clone(), id));
                }
            }
        }
        Ok(found)
    }

    async fn conversation_connections(&self, conversation_id: &str, now: i64) -> Result<Vec<Target>, StoreError> {
        let mut found = Vec::new();
        for item in self.query_prefix(conv_pk(conversation_id), CONNECTION_OF).await? {
            if opt_n(&item, "expires_at")?.unwrap_or(0) > now {
                let connection = req_s(&item, "sk")?.trim_start_matches(CONNECTION_OF).to_owned();
                let batch = matches!(item.get("batch"), Some(AV::Bool(true)));
                found.push(Target { user: req_s(&item, "username")?, connection, batch });
            }
        }
        Ok(found)
    }

    async fn register_connections(
        &self,
        conversation_id: &str,
        usernames: &[String],
        now: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // Strongly consistent, against a `$connect` racing the join: it writes the profile, then
        // reads the memberships; this writes the memberships, then reads the profiles. One of
        // the two sees the other, so the socket is recorded either way.
        let keys: Vec<Item> = usernames.iter().map(|u| key(user_pk(u), PROFILE)).collect();
        let mut records = Vec::new();
        let mut live = Vec::new();
        for item in self.get_consistent(keys).await? {
            let user = req_s(&item, "username")?;
            for socket in parse_sockets(&item)? {
                if socket.expires_at > now {
                    records.push(connection_item(
                        conversation_id,
                        &user,
                        &socket.connection,
                        socket.expires_at,
                        socket.batch,
                    ));
                    live.push((user.clone(), socket.connection));
                }
            }
        }
        self.batch_put(records).await?;
        Ok(live)
    }

    async fn unregister_connections(
        &self,
        conversation_id: &str,
        username: &str,
        connection_id: Option<&str>,
        _now: i64,
    ) -> Result<(), StoreError> {
        let connections: Vec<String> = match connection_id {
            Some(connection) => vec![connection.to_owned()],
            None => match self.get(user_pk(username), PROFILE).await? {
                Some(profile) => parse_connections(&profile)?.into_keys().collect(),
                None => Vec::new(),
            },
        };
        let keys = connections.iter().map(|c| key(conv_pk(conversation_id), &format!("{CONNECTION_OF}{c}"))).collect();
        self.batch_delete(keys).await
    }

    async fn contact_of(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let mut owners = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :k")
                .expression_attribute_values(":k", AV::S(format!("CONTACTOF#{username}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                owners.push(req_s(&item, "gsi1sk")?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(owners),
            }
        }
    }
}

#[async_trait]
impl FileStore for DynamoStore {
    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        let mut item = key(format!("FILE#{}", file.id), "FILE");
        item.insert("id".into(), s(&file.id));
        item.insert("owner".into(), s(&file.owner));
        item.insert("purpose".into(), s(file.purpose.as_str()));
        item.insert("content_type".into(), s(&file.content_type));
        item.insert("size".into(), n(file.size));
        if let Some(name) = &file.name {
            item.insert("name".into(), s(name));
        }
        if let Some(conversation) = &file.conversation_id {
            item.insert("conversation_id".into(), s(conversation));
        }
        item.insert("created_at".into(), n(file.created_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let Some(item) = self.get(format!("FILE#{id}"), "FILE").await? else { return Ok(None) };
        Ok(Some(FileRecord {
            id: req_s(&item, "id")?,
            owner: req_s(&item, "owner")?,
            purpose: Purpose::parse(&req_s(&item, "purpose")?).ok_or(StoreError::Internal("file purpose".into()))?,
            content_type: req_s(&item, "content_type")?,
            size: req_n(&item, "size")?,
            name: opt_s(&item, "name"),
            conversation_id: opt_s(&item, "conversation_id"),
            created_at: req_n(&item, "created_at")?,
            referenced: matches!(item.get("referenced"), Some(AV::Bool(true))),
        }))
    }

    async fn mark_file_referenced(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("FILE#{id}"), "FILE")))
            .update_expression("SET referenced = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AV::Bool(true))
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::Missing))?;
        Ok(())
    }
}

// ---- table management (local gateway and tests; on AWS the template owns the table) ----

/// Creates the table with its index and TTL if it does not exist yet.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(e)),
    }
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key_elem = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_error)
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key_elem("gsi1pk", KeyType::Hash)?)
        .key_schema(key_elem("gsi1sk", KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(build_error)?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("gsi1pk")?)
        .attribute_definitions(attr("gsi1sk")?)
        .key_schema(key_elem("pk", KeyType::Hash)?)
        .key_schema(key_elem("sk", KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Someone else created it meanwhile: fine.
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(sdk_error(e)),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(true).attribute_name("ttl").build().map_err(build_error)?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}

/// A client for the configured AWS environment (`shared`), or for `DYNAMODB_ENDPOINT` (DynamoDB
/// Local) when set.
pub async fn client_from_env(shared: &aws_config::SdkConfig) -> Client {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => local_client(&endpoint).await,
        _ => Client::new(shared),
    }
}

/// A client for DynamoDB Local at `endpoint`.
pub async fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&crate::aws::local().await).endpoint_url(endpoint).build();
    Client::from_conf(config)
}

// ---- items ----

fn s(value: &str) -> AV {
    AV::S(value.to_owned())
}

fn n(value: i64) -> AV {
    AV::N(value.to_string())
}

fn user_pk(username: &str) -> String {
    format!("USER#{username}")
}

fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

fn refresh_pk(hash: &str) -> String {
    format!("REFRESH#{hash}")
}

fn throttle_pk(key: &str) -> String {
    format!("THROTTLE#{key}")
}

/// The sort key of a throttle's attempt counter.
const ATTEMPTS: &str = "ATTEMPTS";

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), AV::S(pk)), ("sk".to_owned(), s(sk))])
}

fn merge(mut values: HashMap<String, AV>, extra: Vec<(&str, AV)>) -> HashMap<String, AV> {
    values.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    values
}

fn user_item(user: &UserRecord) -> Item {
    let mut item = key(user_pk(&user.username), PROFILE);
    item.insert("gsi1pk".into(), s(USER_DIRECTORY));
    item.insert("gsi1sk".into(), s(&user.username));
    item.insert("username".into(), s(&user.username));
    item.insert("password_hash".into(), s(&user.password_hash));
    item.insert("fullname".into(), s(&user.fullname));
    item.insert("created_at".into(), n(user.created_at));
    item.insert("connections".into(), AV::M(user.connections.iter().map(|(id, exp)| (id.clone(), n(*exp))).collect()));
    for (name, value) in [
        ("email", &user.email),
        ("first_name", &user.first_name),
        ("last_name", &user.last_name),
        ("role", &user.role),
        ("date_of_birth", &user.date_of_birth),
        ("avatar_file_id", &user.avatar_file_id),
    ] {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    if let Some(at) = user.last_online {
        item.insert("last_online".into(), n(at));
    }
    item
}

fn email_item(email: &str, username: &str) -> Item {
    let mut item = key(email_pk(email), "EMAIL");
    item.insert("username".into(), s(username));
    item
}

fn session_item(username: &str, family_id: &str, now: i64, expires_at: i64) -> Item {
    let mut item = key(user_pk(username), &format!("SESSION#{family_id}"));
    item.insert("created_at".into(), n(now));
    item.insert("ttl".into(), n(expires_at / 1000));
    item
}

fn refresh_item(token: &RefreshTokenRecord) -> Item {
    let mut item = key(refresh_pk(&token.token_hash), "REFRESH");
    item.insert("username".into(), s(&token.username));
    item.insert("family_id".into(), s(&token.family_id));
    item.insert("expires_at".into(), n(token.expires_at));
    item.insert("ttl".into(), n(token.expires_at / 1000));
    if let Some(at) = token.used_at {
        item.insert("used_at".into(), n(at));
    }
    item
}

fn parse_user(item: &Item) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        username: req_s(item, "username")?,
        password_hash: req_s(item, "password_hash")?,
        fullname: req_s(item, "fullname")?,
        email: opt_s(item, "email"),
        first_name: opt_s(item, "first_name"),
        last_name: opt_s(item, "last_name"),
        role: opt_s(item, "role"),
        date_of_birth: opt_s(item, "date_of_birth"),
        avatar_file_id: opt_s(item, "avatar_file_id"),
        created_at: req_n(item, "created_at")?,
        last_online: opt_n(item, "last_online")?,
        connections: parse_connections(item)?,
    })
}

fn parse_refresh(item: &Item) -> Result<RefreshTokenRecord, StoreError> {
    let pk = req_s(item, "pk")?;
    Ok(RefreshTokenRecord {
        token_hash: pk.trim_start_matches("REFRESH#").to_owned(),
        username: req_s(item, "username")?,
        family_id: req_s(item, "family_id")?,
        expires_at: req_n(item, "expires_at")?,
        used_at: opt_n(item, "used_at")?,
    })
}

fn parse_attempts(item: &Item) -> Result<Attempts, StoreError> {
    Ok(Attempts {
        count: u32::try_from(req_n(item, "count")?).unwrap_or(u32::MAX),
        window_start: req_n(item, "window_start")?,
    })
}

fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AV::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn req_s(item: &Item, name: &str) -> Result<String, StoreError> {
    opt_s(item, name).ok_or_else(|| StoreError::Internal(format!("item lacks string {name}")))
}

fn opt_n(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        Some(AV::N(v)) => v.parse().map(Some).map_err(|_| StoreError::Internal(format!("{name} is not an integer"))),
        None => Ok(None),
        Some(_) => Err(StoreError::Internal(format!("{name} is not a number"))),
    }
}

fn req_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    opt_n(item, name)?.ok_or_else(|| StoreError::Internal(format!("item lacks number {name}")))
}

// ---- requests ----

/// An update expression built field by field, with placeholder names so reserved words are safe.
#[derive(Default)]
struct UpdateExpr {
    sets: Vec<String>,
    removes: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AV>,
}

impl UpdateExpr {
    fn set(&mut self, field: &str, value: AV) {
        self.names.insert(format!("#{field}"), field.to_owned());
        self.values.insert(format!(":{field}"), value);
        self.sets.push(format!("#{field} = :{field}"));
    }

    fn remove(&mut self, field: &str) {
        self.names.insert(format!("#{field}"), field.to_owned());
        self.removes.push(format!("#{field}"));
    }

    fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.removes.is_empty()
    }

    fn expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.sets.is_empty() {
            parts.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            parts.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        parts.join(" ")
    }

    fn apply(
        &self,
        builder: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        builder.update_expression(self.expression()).set_expression_attribute_names(Some(self.names.clone()))
    }
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("request build: {err}"))
}

const RETRYABLE_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

/// Throttling and unreachable service become `Unavailable` (a 503 with Retry-After); the rest is
/// internal.
fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(_) => err.code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    let message = format!("{}", DisplayErrorContext(&err));
    if retryable {
        StoreError::Unavailable(message)
    } else {
        StoreError::Internal(message)
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(_)) && err.code() == Some("ConditionalCheckFailedException")
}

fn conditional_error<E, R>(err: SdkError<E, R>, conflict: Conflict) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if is_conditional_failure(&err) {
        StoreError::Conflict(conflict)
    } else {
        sdk_error(err)
    }
}

/// A cancelled transaction becomes the conflict of the first write whose condition failed
/// (`conflicts[i]` names write `i`'s).
fn transaction_error<R: std::fmt::Debug>(
    err: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
    conflicts: &[Conflict],
) -> StoreError {
    if let Some(
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
            cancel,
        ),
    ) = err.as_service_error()
    {
        let failed = cancel.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"));
        if let Some(i) = failed {
            return StoreError::Conflict(conflicts.get(i).copied().unwrap_or(Conflict::Missing));
        }
        let contended = cancel.cancellation_reasons().iter().any(|r| {
            matches!(r.code(), Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"))
        });
        if contended {
            return StoreError::Unavailable("transaction contended".into());
        }
    }
    sdk_error(err)
}
