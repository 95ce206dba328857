//! DynamoDB requests per operation, counted on DynamoDB Local by an SDK interceptor (not
//! estimated): `send_message` costs 4 requests plus one BatchGetItem per 100 members; register,
//! login, create_conversation and get_messages cost what docs/architecture.md says.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chathub_shared::config::Config;
use chathub_shared::messages::{self, HistoryQuery, SendMessage};
use chathub_shared::model::UserRecord;
use chathub_shared::store::dynamo::{self, DynamoStore};
use chathub_shared::{accounts, conversations, Ctx};
use serde_json::json;

/// Counts every request the client sends (retries included).
#[derive(Debug, Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "request-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

async fn counted_ctx() -> (Ctx, Counter) {
    let endpoint = std::env::var("CHATHUB_TEST_DYNAMODB_ENDPOINT").expect(
        "CHATHUB_TEST_DYNAMODB_ENDPOINT is not set: run the suite with scripts/test, which starts DynamoDB Local",
    );
    let table = format!("count-{}", ulid::Ulid::new().to_string().to_lowercase());
    let counter = Counter::default();
    let base = dynamo::local_client(&endpoint).await;
    dynamo::ensure_table(&base, &table).await.unwrap();
    let client = aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().interceptor(counter.clone()).build());
    let ctx = Ctx::new(Config::new(vec![1u8; 32], table.clone()).unwrap(), Arc::new(DynamoStore::new(client, table)));
    (ctx, counter)
}

/// A conversation of `members` users (the first is the owner); returns its id and the owner.
async fn conversation_of(ctx: &Ctx, members: usize) -> (String, String) {
    let names: Vec<String> = (0..members).map(|i| format!("member{i:04}")).collect();
    for name in &names {
        let user = UserRecord {
            username: name.clone(),
            password_hash: "not-a-hash".into(),
            fullname: name.clone(),
            email: None,
            first_name: None,
            last_name: None,
            role: None,
            date_of_birth: None,
            avatar_file_id: None,
            created_at: 0,
            last_online: None,
            connections: Default::default(),
        };
        ctx.store.create_user(&user).await.unwrap();
    }
    let owner = names[0].clone();
    let mut rest = names[1..].chunks(1000);
    let first = rest.next().map(<[String]>::to_vec).unwrap_or_default();
    let request = serde_json::from_value(json!({"name": "counted", "members": first})).unwrap();
    let (conversation, _) = conversations::create(ctx, &owner, request, None).await.unwrap();
    for chunk in rest {
        let request = serde_json::from_value(json!({"usernames": chunk})).unwrap();
        conversations::add_members(ctx, &owner, &conversation.id, request).await.unwrap();
    }
    let info = conversations::get(ctx, &owner, &conversation.id).await.unwrap();
    assert_eq!(info.members.unwrap().len(), members);
    (conversation.id, owner)
}

fn message(content: &str, client_id: Option<&str>) -> SendMessage {
    serde_json::from_value(json!({"content": content, "client_id": client_id})).unwrap()
}

/// Every counted operation and its requests, asserted here, and written as JSON to the file
/// `CHATHUB_REQUEST_COUNTS_OUT` names (scripts/bench puts them in docs/benchmarks.md).
#[tokio::test]
async fn requests_per_operation() {
    let mut counted: Vec<(String, usize, usize)> = Vec::new();
    let mut check = |operation: &str, got: usize, expected: usize| {
        assert_eq!(got, expected, "{operation}");
        counted.push((operation.to_owned(), got, expected));
    };

    let (ctx, counter) = counted_ctx().await;
    let register = json!({"username": "counted", "password": "correct horse battery", "email": "c@example.com"});
    accounts::register(&ctx, serde_json::from_value(register).unwrap()).await.unwrap();
    check("register (with email)", counter.take(), 2);
    let login = json!({"username": "counted", "password": "correct horse battery"});
    accounts::login(&ctx, serde_json::from_value(login).unwrap()).await.unwrap();
    check("login", counter.take(), 3);
    let (_, _) = conversation_of(&ctx, 10).await;
    counter.take();
    let names: Vec<String> = (1..10).map(|i| format!("member{i:04}")).collect();
    let request = serde_json::from_value(json!({"name": "counted again", "members": names})).unwrap();
    conversations::create(&ctx, "member0000", request, None).await.unwrap();
    check("create_conversation (10 members)", counter.take(), 3);

    for (members, expected) in [(10, 5), (300, 5)] {
        let (ctx, counter) = counted_ctx().await;
        let (id, owner) = conversation_of(&ctx, members).await;
        counter.take();
        messages::send(&ctx, &owner, &id, message("hello", None), None).await.unwrap();
        check(&format!("send_message ({members} members)"), counter.take(), expected);
        // A client_id costs one GetItem more (the retry check); a retry of it costs two reads, and
        // claiming and releasing the push turn (its first try may have stored but not pushed).
        messages::send(&ctx, &owner, &id, message("once", Some("c-1")), None).await.unwrap();
        check(&format!("send_message with client_id ({members} members)"), counter.take(), expected + 1);
        let (_, created) = messages::send(&ctx, &owner, &id, message("once", Some("c-1")), None).await.unwrap();
        assert!(!created);
        check(&format!("send_message, repeated client_id ({members} members)"), counter.take(), 4);
        messages::history(&ctx, &owner, &id, HistoryQuery { after: Some(0), ..Default::default() }).await.unwrap();
        check(&format!("get_messages ({members} members)"), counter.take(), 2);
    }

    if let Ok(out) = std::env::var("CHATHUB_REQUEST_COUNTS_OUT") {
        let rows: Vec<_> = counted.iter().map(|(op, got, _)| json!({"operation": op, "requests": got})).collect();
        std::fs::write(out, serde_json::to_string_pretty(&rows).unwrap()).unwrap();
    }
}
