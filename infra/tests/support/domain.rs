//! Domain-level scenarios: the services on a `Ctx` over either store, without the gateway, for
//! what needs thousands of users (created straight in the store, no password hashing), control of
//! the push path (a recording notifier that can freeze), or DynamoDB's own numbers (requests and
//! capacity units, counted by an SDK interceptor).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use chathub_shared::blobs::NoBlobStore;
use chathub_shared::clients::Local;
use chathub_shared::clock::{Clock, ManualClock};
use chathub_shared::config::Config;
use chathub_shared::keys::{Signer, SigningKey};
use chathub_shared::model::UserRecord;
use chathub_shared::notify::{Notifier, PushError};
use chathub_shared::store::dynamo::{self, DynamoStore};
use chathub_shared::store::memory::MemoryStore;
use chathub_shared::{conversations, presence, Ctx, With};
use chathub_shared::{ConnectionId, ConversationId};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

/// The key material every domain test signs and verifies with.
const KEY: [u8; 32] = [7u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    Memory,
    Dynamo,
}

/// A context on `backing` with a recording notifier and a manual clock; on DynamoDB, also the
/// meter of its requests and capacity units, and the table's name.
pub struct Domain {
    /// The store and every client (pushes go to `pushes`; no blob store).
    pub ctx: With<Local>,
    pub pushes: Arc<Recorder>,
    /// What the notify function publishes to devices, and its decisions not to.
    pub devices: Arc<chathub_shared::notifications::provider::Recorder>,
    pub clock: Arc<ManualClock>,
    pub meter: Meter,
}

impl Domain {
    pub async fn new(backing: Backing) -> Self {
        Self::with_endpoint(backing, None).await
    }

    /// On DynamoDB, reached through `endpoint` instead of DynamoDB Local's own (a fault-injecting
    /// proxy), with the SDK trying each request only twice, so injected faults reach our code.
    pub async fn with_endpoint(backing: Backing, endpoint: Option<String>) -> Self {
        let meter = Meter::default();
        let table = format!("dom-{}", ulid::Ulid::new().to_string().to_lowercase());
        let store: Arc<dyn chathub_shared::store::Store> = match backing {
            Backing::Memory => Arc::new(MemoryStore::new()),
            Backing::Dynamo => {
                let local = dynamodb_endpoint();
                dynamo::ensure_table(&dynamo::local_client(&local).await, &table).await.unwrap();
                let base = dynamo::local_client(endpoint.as_deref().unwrap_or(&local)).await;
                let mut config = base.config().to_builder().interceptor(meter.clone());
                if endpoint.is_some() {
                    config = config
                        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2));
                }
                let config = config.build();
                Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table.clone()))
            }
        };
        let clock = Arc::new(ManualClock::starting_now());
        let pushes = Arc::new(Recorder::default());
        let devices = Arc::new(chathub_shared::notifications::provider::Recorder::new());
        let ctx = Ctx::new(Config::new(KEY, table).unwrap(), store).with_clock(clock.clone() as Arc<dyn Clock>);
        let signer = Signer::local(SigningKey::from_material(&KEY).unwrap());
        let push_provider = devices.clone();
        let ctx = With {
            ctx,
            clients: Local {
                pusher: pushes.clone(),
                blobs: Arc::new(NoBlobStore),
                signer,
                push_provider,
                moderation: Arc::new(chathub_shared::reports::moderation::ReportRecorder::new()),
            },
        };
        Self { ctx, pushes, devices, clock, meter }
    }

    /// Users created straight in the store (no password hashing), 32 at a time.
    pub async fn users(&self, names: &[String]) {
        stream::iter(names)
            .for_each_concurrent(32, |name| async move {
                self.ctx.store.create_user(&user(name)).await.unwrap();
            })
            .await;
    }

    /// A group of `members` (the first owns it), created with the first 1,000 and grown 1,000 at
    /// a time, as clients would.
    pub async fn room(&self, members: &[String]) -> ConversationId {
        let owner = &members[0];
        let mut rest = members[1..].chunks(1000);
        let first = rest.next().map(<[String]>::to_vec).unwrap_or_default();
        let request = serde_json::from_value(json!({"name": "room", "members": first})).unwrap();
        let (conversation, _) = conversations::create(&self.ctx, owner, request, None).await.unwrap();
        for chunk in rest {
            let request = serde_json::from_value(json!({"usernames": chunk})).unwrap();
            conversations::add_members(&self.ctx, owner, &conversation.id, request).await.unwrap();
        }
        conversation.id
    }

    /// Opens a socket for `username` (what `$connect` does); its id is `<username>-<n>`.
    pub async fn connect(&self, username: &str, n: usize) -> ConnectionId {
        let connection = ConnectionId::new(format!("{username}-{n}"));
        presence::connect(&self.ctx, username, &connection, Default::default()).await.unwrap();
        connection
    }

    /// The same for a socket that asked for batch frames (`?batch=1`); its id is
    /// `<username>-batch-<n>`.
    pub async fn connect_batch(&self, username: &str, n: usize) -> ConnectionId {
        let connection = ConnectionId::new(format!("{username}-batch-{n}"));
        let socket = chathub_shared::store::SocketOptions { session: None, batch: true };
        presence::connect(&self.ctx, username, &connection, socket).await.unwrap();
        connection
    }
}

pub fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:05}")).collect()
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: name.to_owned(),
        password_hash: "not-a-hash".into(),
        fullname: name.to_owned(),
        email: None,
        first_name: None,
        last_name: None,
        role: None,
        date_of_birth: None,
        avatar_file_id: None,
        created_at: 0,
        last_online: None,
        connections: Default::default(),
        blocks: Default::default(),
    }
}

pub fn dynamodb_endpoint() -> String {
    std::env::var("CHATHUB_TEST_DYNAMODB_ENDPOINT").expect(
        "CHATHUB_TEST_DYNAMODB_ENDPOINT is not set: run the suite with scripts/test, which starts DynamoDB Local",
    )
}

/// A notifier that records every frame per connection. `freeze` makes every later post hang
/// forever, as a pusher whose Lambda died mid fan-out would; `hold` makes later posts wait until
/// `let_go`, as a slow fan-out would.
#[derive(Default)]
pub struct Recorder {
    frames: Mutex<HashMap<String, Vec<Value>>>,
    frozen: AtomicBool,
    freeze_after: AtomicUsize,
    posts: AtomicUsize,
    holding: AtomicBool,
    hold_after: AtomicUsize,
    held_posts: AtomicUsize,
    waiting: AtomicUsize,
    gone: Mutex<std::collections::HashSet<String>>,
}

impl Recorder {
    /// From the `n`-th post on (counting from now), posts never return.
    pub fn freeze_after(&self, n: usize) {
        self.posts.store(0, Ordering::SeqCst);
        self.freeze_after.store(n, Ordering::SeqCst);
        self.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }

    /// From the `n`-th post on (counting from now), posts wait until [`Recorder::let_go`] (for
    /// at most a minute).
    pub fn hold_after(&self, n: usize) {
        self.held_posts.store(0, Ordering::SeqCst);
        self.waiting.store(0, Ordering::SeqCst);
        self.hold_after.store(n, Ordering::SeqCst);
        self.holding.store(true, Ordering::SeqCst);
    }

    /// How many posts are waiting for [`Recorder::let_go`].
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn let_go(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }

    /// From now on posts to `connection` answer 410 Gone, as for a socket closed without a
    /// `$disconnect`.
    pub fn make_gone(&self, connection: &ConnectionId) {
        self.gone.lock().unwrap().insert(connection.to_string());
    }

    /// The `send_message` ids each connection got, in arrival order.
    pub fn message_ids(&self, connection: impl AsRef<str>) -> Vec<i64> {
        let frames = self.frames.lock().unwrap();
        frames
            .get(connection.as_ref())
            .map(|f| {
                f.iter().filter(|v| v["type"] == "send_message").map(|v| v["data"]["id"].as_i64().unwrap()).collect()
            })
            .unwrap_or_default()
    }

    pub fn frames(&self, connection: impl AsRef<str>) -> Vec<Value> {
        self.frames.lock().unwrap().get(connection.as_ref()).cloned().unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for Recorder {
    async fn post(&self, connection_id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        if self.gone.lock().unwrap().contains(connection_id.as_str()) {
            return Err(PushError::Gone);
        }
        if self.frozen.load(Ordering::SeqCst) {
            let n = self.posts.fetch_add(1, Ordering::SeqCst);
            if n >= self.freeze_after.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
        }
        if self.holding.load(Ordering::SeqCst)
            && self.held_posts.fetch_add(1, Ordering::SeqCst) >= self.hold_after.load(Ordering::SeqCst)
        {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            for _ in 0..30_000 {
                if !self.holding.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let frame: Value = serde_json::from_slice(payload).unwrap();
        self.frames.lock().unwrap().entry(connection_id.to_string()).or_default().push(frame);
        Ok(())
    }

    async fn close(&self, _connection_id: &ConnectionId) -> Result<(), PushError> {
        Ok(())
    }
}

/// Counts the DynamoDB requests a client sends (retries included) and the capacity units they
/// consume: it asks every request for `ReturnConsumedCapacity=TOTAL`, which DynamoDB Local
/// answers as DynamoDB does.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<Usage>>);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub requests: usize,
    pub read_units: f64,
    pub write_units: f64,
}

impl Usage {
    pub fn units(&self) -> f64 {
        self.read_units + self.write_units
    }
}

impl Meter {
    /// What was used since the last call.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn add(&self, operation: &str, consumed: &[ConsumedCapacity], write: bool) {
        let units: f64 = consumed.iter().filter_map(|c| c.capacity_units).sum();
        if std::env::var_os("CHATHUB_METER_TRACE").is_some() {
            eprintln!("meter: {operation} {units}");
        }
        let mut usage = self.0.lock().unwrap();
        if write {
            usage.write_units += units;
        } else {
            usage.read_units += units;
        }
    }
}

macro_rules! ask_capacity {
    ($input:expr, $($op:ident :: $ty:ident),*) => {{
        $(
            if let Some(input) = $input.downcast_mut::<aws_sdk_dynamodb::operation::$op::$ty>() {
                input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            }
        )*
    }};
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "capacity-meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        ask_capacity!(
            input,
            get_item::GetItemInput,
            put_item::PutItemInput,
            update_item::UpdateItemInput,
            delete_item::DeleteItemInput,
            query::QueryInput,
            batch_get_item::BatchGetItemInput,
            batch_write_item::BatchWriteItemInput,
            transact_write_items::TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap().requests += 1;
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as op;
        let Some(Ok(output)) = context.output_or_error() else {
            return Ok(());
        };
        let one = |c: &Option<ConsumedCapacity>| c.iter().cloned().collect::<Vec<_>>();
        if let Some(o) = output.downcast_ref::<op::get_item::GetItemOutput>() {
            self.add("get_item", &one(&o.consumed_capacity), false);
        } else if let Some(o) = output.downcast_ref::<op::query::QueryOutput>() {
            self.add("query", &one(&o.consumed_capacity), false);
        } else if let Some(o) = output.downcast_ref::<op::batch_get_item::BatchGetItemOutput>() {
            self.add("batch_get_item", o.consumed_capacity.as_deref().unwrap_or_default(), false);
        } else if let Some(o) = output.downcast_ref::<op::put_item::PutItemOutput>() {
            self.add("put_item", &one(&o.consumed_capacity), true);
        } else if let Some(o) = output.downcast_ref::<op::update_item::UpdateItemOutput>() {
            self.add("update_item", &one(&o.consumed_capacity), true);
        } else if let Some(o) = output.downcast_ref::<op::delete_item::DeleteItemOutput>() {
            self.add("delete_item", &one(&o.consumed_capacity), true);
        } else if let Some(o) = output.downcast_ref::<op::batch_write_item::BatchWriteItemOutput>() {
            self.add("batch_write_item", o.consumed_capacity.as_deref().unwrap_or_default(), true);
        } else if let Some(o) = output.downcast_ref::<op::transact_write_items::TransactWriteItemsOutput>() {
            self.add("transact_write_items", o.consumed_capacity.as_deref().unwrap_or_default(), true);
        }
        Ok(())
    }
}
