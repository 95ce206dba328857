//! The notify function: not a route, but the Lambda AWS invokes with batches of the table's
//! stream records (filtered to the ones that may call for a push: `STREAM_FILTERS`), which turns
//! them into pushes on members' devices (`chathub_shared::notifications::deliver`). It answers
//! with the records that failed (`ReportBatchItemFailures`), so Lambda retries from the first of
//! them, splits the batch (`BisectBatchOnFunctionError`), and after its retries sends the rest to
//! the on-failure queue instead of holding the shard.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::deliver::Deliverer;
use chathub_shared::notifications::provider::PushProvider;
use chathub_shared::store::dynamo::stream::change_of;
use chathub_shared::Ctx;
use lambda_runtime::{service_fn, LambdaEvent};

/// The function's (binary's) name.
pub const FUNCTION: &str = "notify";

/// The Lambda binary's whole life: the table and SNS clients once per cold start, then a batch
/// per invocation.
pub async fn main() -> Result<(), lambda_runtime::Error> {
    chathub_shared::telemetry::init();
    let content = std::env::var("PUSH_CONTENT").unwrap_or_else(|_| "full".into());
    let content = Content::parse(&content).ok_or(chathub_shared::error::ConfigError::Invalid("PUSH_CONTENT"))?;
    let config = chathub_shared::config::Config::from_env()?;
    let shared = chathub_shared::aws::load().await;
    let ctx = Ctx::dynamo(config, &shared).await;
    let provider = chathub_shared::notifications::sns::SnsProvider::from_env(&shared);
    let (ctx, provider) = (&ctx, &provider);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(handle(ctx, provider, content, event.payload).await)
    }))
    .await
}

/// One batch: every record that means a change is handled; the answer names the first record
/// that failed (a record that is not ours in a form we wrote, or one whose pushes could not be
/// done), and Lambda delivers the batch again from there.
pub async fn handle(ctx: &Ctx, provider: &dyn PushProvider, content: Content, event: Event) -> DynamoDbEventResponse {
    let mut changes = Vec::new();
    let mut origin = Vec::new();
    let mut failed: Option<usize> = None;
    for (i, record) in event.records.iter().enumerate() {
        match change_of(record) {
            Ok(Some(change)) => {
                changes.push(change);
                origin.push(i);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %chathub_shared::error::Chain(&e), event_id = %record.event_id, "notify: a record we cannot read");
                failed = Some(failed.map_or(i, |f| f.min(i)));
            }
        }
    }
    let deliverer = Deliverer { ctx, provider, content };
    for (index, error) in deliverer.deliver(&changes).await {
        tracing::warn!(error = %chathub_shared::error::Chain(&error), "notify: a change failed; it is delivered again");
        failed = Some(failed.map_or(origin[index], |f| f.min(origin[index])));
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(first) = failed {
        response.batch_item_failures.push(failure(&event.records[first]));
    }
    response
}

fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    failure
}
