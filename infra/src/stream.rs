//! The table's stream on DynamoDB Local, read as Lambda's event source mapping reads it on AWS:
//! every shard polled, records filtered with the notify function's event filter
//! (`STREAM_FILTERS`, the patterns template.yaml gives Lambda), batched in the Lambda event's own
//! JSON, and handed to the notify function's real handler. A batch that reports a failed record
//! is delivered again from that record, up to the retries template.yaml sets; then the failed
//! record is given up (on AWS it goes to the on-failure queue), so the shard moves on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use chathub_shared::notifications::alert::Content;
use chathub_shared::notifications::provider::PushProvider;
use chathub_shared::store::dynamo::stream::STREAM_FILTERS;
use chathub_shared::Ctx;
use serde_json::{json, Map, Value};

use crate::notify::{BATCH_SIZE, TRIES};

/// How long a poll of every shard that found nothing waits before the next (Lambda polls each
/// shard about four times a second; a local run need not wait as long).
const IDLE: Duration = Duration::from_millis(50);
/// How often the stream's shards are listed again (shards split and close).
const SHARDS_EVERY: Duration = Duration::from_secs(2);

/// The stream reader of a table, set up (each open shard read from now on) and ready to run.
pub struct Reader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// shard id → its iterator (`None`: the shard closed and was read to its end).
    shards: BTreeMap<String, Option<String>>,
    /// shard id → its parent's: a child is read once its parent is read to its end, as Lambda's
    /// event source mapping does, so a partition's records keep their order across a split.
    parents: BTreeMap<String, String>,
    /// shard id → the last sequence number read there: where a lost iterator is taken again.
    read_to: BTreeMap<String, String>,
}

fn error(e: impl std::error::Error) -> chathub_shared::error::StoreError {
    chathub_shared::error::StoreError::internal(aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e).to_string())
}

fn problem(text: String) -> chathub_shared::error::StoreError {
    chathub_shared::error::StoreError::internal(text)
}

impl Reader {
    /// Finds the table's stream and takes an iterator at the latest position of each open shard,
    /// before the gateway serves anything: every change from then on is read.
    pub async fn new(
        tables: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> Result<Self, chathub_shared::error::StoreError> {
        let described = tables.describe_table().table_name(table).send().await.map_err(error)?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| problem(format!("table {table} has no stream")))?;
        let mut reader =
            Self { client, stream_arn, shards: BTreeMap::new(), parents: BTreeMap::new(), read_to: BTreeMap::new() };
        reader.list_shards(ShardIteratorType::Latest).await?;
        // DynamoDB Local places a LATEST iterator when it is first read, not when it is made: read
        // each once now, so what happens after the gateway starts is after it. Nothing it finds
        // is from this run.
        let open: Vec<(String, String)> =
            reader.shards.iter().filter_map(|(id, it)| it.clone().map(|it| (id.clone(), it))).collect();
        for (id, iterator) in open {
            let page = reader.get_records(iterator).await?;
            reader.shards.insert(id, page["NextShardIterator"].as_str().map(str::to_owned));
        }
        Ok(reader)
    }

    /// Takes an iterator for every shard not seen yet: at `start` (the latest position for the
    /// shards open when the reader starts, the beginning for shards that open later).
    async fn list_shards(&mut self, start: ShardIteratorType) -> Result<(), chathub_shared::error::StoreError> {
        let described = self.client.describe_stream().stream_arn(&self.stream_arn).send().await.map_err(error)?;
        let shards = described.stream_description.and_then(|d| d.shards).unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id else { continue };
            if self.shards.contains_key(&id) {
                continue;
            }
            if let Some(parent) = shard.parent_shard_id {
                self.parents.insert(id.clone(), parent);
            }
            let closed = shard.sequence_number_range.as_ref().and_then(|r| r.ending_sequence_number.as_ref()).is_some();
            if closed && start == ShardIteratorType::Latest {
                self.shards.insert(id, None);
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&id)
                .shard_iterator_type(start.clone())
                .send()
                .await
                .map_err(error)?
                .shard_iterator;
            self.shards.insert(id, iterator);
        }
        Ok(())
    }

    /// Reads every shard for ever, handing each batch to the notify function.
    pub fn spawn(mut self, ctx: Ctx, provider: Arc<dyn PushProvider>, content: Content) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut listed = tokio::time::Instant::now();
            loop {
                let mut found = false;
                // A shard whose parent is still being read waits for it.
                let ids: Vec<String> = self
                    .shards
                    .keys()
                    .filter(|id| !self.parents.get(*id).is_some_and(|p| matches!(self.shards.get(p), Some(Some(_)))))
                    .cloned()
                    .collect();
                for id in ids {
                    match self.poll(&id, &ctx, provider.as_ref(), content).await {
                        Ok(any) => found |= any,
                        Err(e) => {
                            tracing::warn!(error = %chathub_shared::error::Chain(&e), shard = %id, "stream: reading a shard failed");
                        }
                    }
                }
                if listed.elapsed() >= SHARDS_EVERY {
                    if let Err(e) = self.list_shards(ShardIteratorType::TrimHorizon).await {
                        tracing::warn!(error = %chathub_shared::error::Chain(&e), "stream: listing shards failed");
                    }
                    listed = tokio::time::Instant::now();
                }
                if !found {
                    tokio::time::sleep(IDLE).await;
                }
            }
        })
    }

    /// One GetRecords of a shard and the notify function over what passes the filter; whether
    /// it found records.
    async fn poll(
        &mut self,
        shard: &str,
        ctx: &Ctx,
        provider: &dyn PushProvider,
        content: Content,
    ) -> Result<bool, chathub_shared::error::StoreError> {
        let Some(Some(iterator)) = self.shards.get(shard).cloned() else { return Ok(false) };
        let page = match self.get_records(iterator).await {
            Ok(page) => page,
            Err(e) => {
                // DynamoDB Local sometimes refuses an iterator it handed out (TrimmedDataAccess,
                // ExpiredIterator): take one again after what was read, as Lambda's poller does.
                tracing::debug!(error = %chathub_shared::error::Chain(&e), shard, "stream: iterator refused; taking another");
                let again = match self.read_to.get(shard) {
                    Some(seq) => self
                        .client
                        .get_shard_iterator()
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(seq),
                    None => self.client.get_shard_iterator().shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                let iterator = again.stream_arn(&self.stream_arn).shard_id(shard).send().await.map_err(error)?;
                self.shards.insert(shard.to_owned(), iterator.shard_iterator);
                return Ok(false);
            }
        };
        self.shards.insert(shard.to_owned(), page["NextShardIterator"].as_str().map(str::to_owned));
        let records: Vec<Value> = page["Records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut record| {
                record["eventSourceARN"] = json!(self.stream_arn);
                drop_empty_values(&mut record["dynamodb"]);
                record
            })
            .filter(passes)
            .collect();
        let last =
            page["Records"].as_array().and_then(|r| r.last()).and_then(|r| r["dynamodb"]["SequenceNumber"].as_str());
        if let Some(last) = last {
            self.read_to.insert(shard.to_owned(), last.to_owned());
        }
        if records.is_empty() {
            return Ok(last.is_some());
        }
        // As Lambda does: a batch that reports a failed record is delivered again from it; after
        // TRIES deliveries the record is given up (the on-failure queue on AWS) and the rest goes on.
        let mut pending = records;
        let mut attempt = 0;
        while !pending.is_empty() {
            let event: Event = serde_json::from_value(json!({ "Records": pending }))
                .map_err(|e| problem(format!("a stream record as Lambda's event: {e}")))?;
            let response = chathub_functions::notify::handle(ctx, provider, content, event).await;
            let Some(failed) = response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()) else {
                break;
            };
            let from = pending.iter().position(|r| r["dynamodb"]["SequenceNumber"] == failed.as_str()).unwrap_or(0);
            pending = pending.split_off(from);
            attempt += 1;
            if attempt == TRIES {
                tracing::error!(shard, sequence_number = %failed, "stream: a record given up after its retries (the on-failure queue on AWS)");
                pending.remove(0);
                attempt = 0;
            } else {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(true)
    }
}

impl Reader {
    /// One GetRecords, as its JSON answer (`Records` in the Lambda event's own form, and
    /// `NextShardIterator`). DynamoDB Local writes an empty map attribute as `{}`, which is no
    /// attribute value and fails the SDK's parsing of the whole page: then the page is read from
    /// the answer's own text, where [`drop_empty_values`] takes such values out.
    async fn get_records(&self, iterator: String) -> Result<Value, chathub_shared::error::StoreError> {
        match self.client.get_records().shard_iterator(iterator).limit(BATCH_SIZE as i32).send().await {
            Ok(out) => Ok(json!({
                "Records": out.records.unwrap_or_default().iter().map(lambda_record).collect::<Vec<_>>(),
                "NextShardIterator": out.next_shard_iterator,
            })),
            Err(aws_sdk_dynamodbstreams::error::SdkError::ServiceError(e)) if e.raw().status().as_u16() == 200 => {
                let text = e.raw().body().bytes().unwrap_or_default();
                serde_json::from_slice(text).map_err(|e| problem(format!("a GetRecords answer: {e}")))
            }
            Err(e) => Err(error(e)),
        }
    }
}

/// Takes out attribute values that are empty objects (DynamoDB Local's empty maps), at any depth.
fn drop_empty_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.as_object().is_some_and(Map::is_empty));
            map.values_mut().for_each(drop_empty_values);
        }
        Value::Array(list) => list.iter_mut().for_each(drop_empty_values),
        _ => {}
    }
}

/// A stream record as Lambda hands it to a function (DynamoDB JSON for keys and images).
fn lambda_record(record: &Record) -> Value {
    let change = record.dynamodb.as_ref();
    let item = |map: Option<&std::collections::HashMap<String, AttributeValue>>| -> Value {
        Value::Object(map.map(|m| m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()).unwrap_or_default())
    };
    json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|e| e.as_str()),
        "eventVersion": record.event_version,
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region.clone().unwrap_or_else(|| "us-east-1".into()),
        "dynamodb": {
            "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time).map(|t| t.secs()),
            "Keys": item(change.and_then(|c| c.keys.as_ref())),
            "NewImage": item(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": item(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
            "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
            "StreamViewType": change.and_then(|c| c.stream_view_type.as_ref()).map(|v| v.as_str()),
        }
    })
}

/// An attribute value in DynamoDB JSON (`{"S": "…"}`, `{"N": "…"}`, …).
fn attribute(value: &AttributeValue) -> Value {
    use base64::Engine;
    let b64 = |b: &aws_smithy_types::Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::Bs(list) => json!({ "BS": list.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => {
            json!({ "M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<Map<String, Value>>() })
        }
        _ => json!({ "NULL": true }),
    }
}

/// Whether a record passes one of the notify function's event filters.
pub fn passes(record: &Value) -> bool {
    STREAM_FILTERS.iter().any(|filter| matches(&serde_json::from_str(filter).unwrap_or(Value::Null), Some(record)))
}

/// Lambda's event-filter matching, for the forms our filters use: nested objects, lists of
/// alternatives, exact values, `prefix` and `exists`.
fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(name, inner)| matches(inner, value.and_then(|v| v.get(name)))),
        Value::Array(alternatives) => alternatives.iter().any(|alternative| match alternative {
            Value::Object(rule) => match (rule.get("prefix"), rule.get("exists")) {
                (Some(Value::String(prefix)), _) => {
                    value.and_then(Value::as_str).is_some_and(|v| v.starts_with(prefix.as_str()))
                }
                (_, Some(Value::Bool(exists))) => value.is_some() == *exists,
                _ => false,
            },
            exact => value == Some(exact),
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: &str, pk: &str, sk: &str, image: Value) -> Value {
        json!({"eventName": event, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "NewImage": image}})
    }

    #[test]
    fn the_filters_pass_messages_members_badge_and_conversation_changes_and_nothing_else() {
        assert!(passes(&record("INSERT", "CONV#c", "MSG#00000000000000000001", json!({}))));
        // An edit or a delete marks the message; a reply counted on its parent does not.
        assert!(passes(&record("MODIFY", "CONV#c", "MSG#00000000000000000001", json!({"changed_at": {"N": "5"}}))));
        assert!(!passes(&record("MODIFY", "CONV#c", "MSG#00000000000000000001", json!({"reply_count": {"N": "2"}}))));
        assert!(passes(&record("INSERT", "CONV#c", "MEMBER#bob", json!({}))));
        assert!(passes(&record("REMOVE", "CONV#c", "MEMBER#bob", json!({}))));
        assert!(passes(&record("MODIFY", "USER#bob", "MEMBER#c", json!({"badge_due": {"N": "1"}}))));
        assert!(passes(&record("MODIFY", "CONV#c", "CHANGED", json!({}))));
        assert!(!passes(&record("MODIFY", "USER#bob", "MEMBER#c", json!({"own_after_read": {"N": "1"}}))));
        assert!(!passes(&record("REMOVE", "CONV#c", "MSG#00000000000000000001", json!({}))));
        assert!(!passes(&record("MODIFY", "CONV#c", "META", json!({}))));
        assert!(!passes(&record("REMOVE", "CONV#c", "CHANGED", json!({}))));
        assert!(!passes(&record("INSERT", "CONV#c", "CONN#abc", json!({}))));
        assert!(!passes(&record("INSERT", "USER#bob", "FEED", json!({}))));
        assert!(!passes(&record("INSERT", "CONV#c", "SYNC#00000000000000000001", json!({}))));
        assert!(!passes(&record("INSERT", "USER#bob", "PROFILE", json!({}))));
    }
}
