//! Session families and refresh tokens: the `SessionStore` port on DynamoDB.

use super::*;

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
        // After the session is gone: a registration that checked it before is in this read.
        self.forget_devices(username, |session| session == family_id).await
    }

    async fn session_expiry(&self, username: &str, family_id: &str) -> Result<Option<i64>, StoreError> {
        let item = self.get(user_pk(username), &format!("SESSION#{family_id}")).await?;
        item.map(|item| Ok(req_n(&item, "ttl")? * 1000)).transpose()
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
        self.batch_delete(keys).await?;
        self.forget_devices(username, |session| Some(session) != keep).await
    }
}
