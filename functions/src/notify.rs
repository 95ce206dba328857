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

/// The function's (binary's) name.
pub const FUNCTION: &str = "notify";

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
