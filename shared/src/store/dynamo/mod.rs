//! The DynamoDB adapter: one table, generic `pk`/`sk` keys, one global secondary index.
//!
//! | item                | pk                  | sk                  | gsi1pk / gsi1sk     |
//! |---------------------|---------------------|---------------------|---------------------|
//! | user profile        | `USER#<username>`   | `PROFILE`           | `USERDIR` / username|
//! | email claim         | `EMAIL#<email>`     | `EMAIL`             |                     |
//! | session family      | `USER#<username>`   | `SESSION#<family>`  |                     |
//! | refresh token       | `REFRESH#<sha256>`  | `REFRESH`           |                     |
//! | attempt counter     | `THROTTLE#<key>`    | `ATTEMPTS`          | (TTL: its window)   |
//! | send window         | `RATE#<username>`   | `SEND#<window start>` | (TTL: its window) |
//! | contact             | `USER#<owner>`      | `CONTACT#<contact>` | `CONTACTOF#<contact>` / owner |
//! | conversation (id counter, push turn) | `CONV#<id>` | `META`     | `PUBLIC` / name#id (public only) |
//! | message             | `CONV#<id>`         | `MSG#<20-digit id>` |                     |
//! | client_id claim     | `CONV#<id>`         | `CLIENT#<sender>#<client_id>` |           |
//! | membership          | `USER#<username>`   | `MEMBER#<conv id>`  |                     |
//! | direct pair         | `DIRECT#<a>#<b>`    | `DIRECT`            |                     |
//! | member (by conv)    | `CONV#<id>`         | `MEMBER#<username>` | `MEMBERS#<id>` / joined_at#username |
//! | connection (by conv)| `CONV#<id>`         | `CONN#<connection>` | (TTL 2 h)           |
//! | file                | `FILE#<id>`         | `FILE`              |                     |
//! | device              | `USER#<username>`   | `DEVICE#<device id>` | (TTL: its session) |
//! | push token claim    | `PUSHTOKEN#<sha256>` | `TOKEN`            | (TTL: its session)  |
//! | notification setting| `CONV#<id>`         | `NOTIFY#<username>` |                     |
//! | notified up to      | `CONV#<id>`         | `NOTIFIED`          |                     |
//! | my reactions on a message | `CONV#<id>`   | `RXU#<username>#<20-digit id>` |          |
//! | pin                 | `CONV#<id>`         | `PIN#<20-digit id>` |                     |
//! | pin count           | `CONV#<id>`         | `PINS`              |                     |
//!
//! Every access is a GetItem, Query, BatchGetItem or a (transactional) conditional write on a
//! key; nothing scans. docs/architecture.md lists the requests per operation.
//!
//! One file per area of the port (`users`, `sessions`, `devices`, `notifications`, `throttle`, `contacts`,
//! `conversations`, `messages`, `connections`, `files`); every key and item encoding in `codec` (unit-tested
//! there); this file holds the client, the generic reads and writes, and the error mapping.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue as AV;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, DeleteRequest, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest, ReturnValue, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::{
    Attempt, Attempts, Connected, ConnectionStore, ContactStore, ConversationStore, DeviceStore, Disconnected,
    FileStore, MessageStore, NotificationStore, PushRelease, PushTurn, RefreshTokenRecord, ReleaseMode, Released,
    SendRate, SessionStore, Signalled, SocketOptions, SyncStore, Target, ThrottleStore, TurnClaim, UserStore,
    UserUpdate,
};
use crate::chat::{Attachment, Conversation, Kind, Member, Message, ReadState, Sockets, Visibility, MEMBERS_MAX};
use crate::error::{Conflict, StoreError};
use crate::ids::{ConnectionId, ConversationId, FileId, MessageId};
use crate::model::{FileRecord, Purpose};
use crate::model::{Page, UserRecord};
use crate::notifications::decision::Recipient;
use crate::notifications::devices::{Device, DeviceId, Platform};
use crate::notifications::settings::{Level, Settings};

mod blocks;
mod codec;
mod connections;
mod contacts;
mod conversations;
mod devices;
mod files;
mod messages;
mod notifications;
mod pins;
mod reactions;
mod reports;
mod sessions;
pub mod stream;
mod sync;
mod throttle;
mod users;

use codec::*;

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

    /// Writes `item` unless an item with its key exists; whether it wrote.
    async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Every item of one partition whose sort key starts with `prefix`, following pages.
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AV::S(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        self.query_all(query).await
    }

    /// Every item a Query on this table finds, following pages.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let query = query.table_name(&self.table);
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await.map_err(sdk_error)?;
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
                    return Err(StoreError::unavailable("unprocessed batch writes"));
                }
                backoff(attempt).await;
            }
        }
        Ok(())
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

    /// BatchGetItem of any number of keys, strongly consistent.
    async fn get_consistent(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.batch_read(keys, None, true).await
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
                        return Err(StoreError::unavailable("unprocessed batch reads"));
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

// ---- table management (local gateway and tests; on AWS the template owns the table) ----

/// Creates the table with its index and TTL if it does not exist yet.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let stream =
        || StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewImage).build();
    match client.describe_table().table_name(table).send().await {
        Ok(out) => {
            // A table made before notifications read its stream gets one.
            let streams = out.table.and_then(|t| t.stream_specification).is_some_and(|s| s.stream_enabled);
            if !streams {
                client
                    .update_table()
                    .table_name(table)
                    .stream_specification(stream().map_err(build_error)?)
                    .send()
                    .await
                    .map_err(sdk_error)?;
            }
            return Ok(());
        }
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

/// Turns on the table's stream (new images), as template.yaml declares it, where it is off: what
/// the local gateway reads to run the notify function. Tables nothing reads the stream of (the
/// domain tests') go without: DynamoDB Local keeps working on every stream it holds.
pub async fn ensure_stream(client: &Client, table: &str) -> Result<(), StoreError> {
    let described = client.describe_table().table_name(table).send().await.map_err(sdk_error)?;
    if described.table.and_then(|t| t.stream_specification).is_some_and(|s| s.stream_enabled) {
        return Ok(());
    }
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .map_err(build_error)?;
    client.update_table().table_name(table).stream_specification(stream).send().await.map_err(sdk_error)?;
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
    StoreError::internal(err)
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
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(_) => err.code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    // The SDK's error is the cause, its own causes under it (logged with error::Chain).
    if retryable {
        StoreError::unavailable(err)
    } else {
        StoreError::internal(err)
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(_)) && err.code() == Some("ConditionalCheckFailedException")
}

/// A conditional write whose condition failing means there was nothing to do (already done, or
/// nothing there): `Ok` either way.
fn unless_condition_failed<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<(), StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_conditional_failure(&e) => Ok(()),
        Err(e) => Err(sdk_error(e)),
    }
}

fn conditional_error<E, R>(err: SdkError<E, R>, conflict: Conflict) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if is_conditional_failure(&err) {
        StoreError::Conflict(conflict)
    } else {
        sdk_error(err)
    }
}

/// A cancelled transaction becomes the conflict of the first write whose condition failed
/// (`conflicts[i]` names write `i`'s).
fn transaction_error<R: std::fmt::Debug + Send + Sync + 'static>(
    err: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
    conflicts: &[Conflict],
) -> StoreError {
    if let Some(
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
            cancel,
        ),
    ) = err.as_service_error()
    {
        // DynamoDB names every item whose condition failed; a repeated `client_id` wins over the
        // others (a retry gets its original back, even past the send limit), else the first.
        let failed: Vec<Conflict> = cancel
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| conflicts.get(i).copied().unwrap_or(Conflict::Missing))
            .collect();
        if let Some(conflict) = failed.iter().find(|c| **c == Conflict::DuplicateClientId).or(failed.first()) {
            return StoreError::Conflict(*conflict);
        }
        let contended = cancel.cancellation_reasons().iter().any(|r| {
            matches!(r.code(), Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"))
        });
        if contended {
            return StoreError::unavailable("transaction contended");
        }
    }
    sdk_error(err)
}
