//! Attempt counters (password throttles, typing limits): the `ThrottleStore` port on DynamoDB.

use super::*;

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
        Err(StoreError::unavailable("attempt counter contended"))
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
        unless_condition_failed(refunded)
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
