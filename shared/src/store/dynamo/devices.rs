//! Devices and their push tokens' claims: the `DeviceStore` port on DynamoDB.
//!
//! A device item exists exactly while its token's claim names it: registering writes both in one
//! transaction (deleting whichever device the claim named before), and forgetting a device
//! deletes its claim if the claim still names it.

use super::*;

#[async_trait]
impl DeviceStore for DynamoStore {
    async fn devices(&self, username: &str) -> Result<Vec<Device>, StoreError> {
        self.query_prefix(user_pk(username), "DEVICE#").await?.iter().map(parse_device).collect()
    }

    async fn put_device(
        &self,
        device: &Device,
        previous: Option<&Device>,
        evict: Option<&Device>,
    ) -> Result<(), StoreError> {
        let this = (device.username.as_str(), device.device_id.as_str());
        let claim = self.get(token_pk(&device.token), TOKEN).await?;
        let holder = claim.as_ref().map(|c| Ok::<_, StoreError>((req_s(c, "username")?, req_s(c, "device_id")?)));
        let holder = holder.transpose()?;

        let session_open = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(&device.username), &format!("SESSION#{}", device.session))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_error)?;
        let mut writes = vec![TransactWriteItem::builder().condition_check(session_open).build()];
        let mut conflicts = vec![Conflict::SessionRevoked];

        // The device itself, unchanged since it was read.
        let mut put_device = Put::builder().table_name(&self.table).set_item(Some(device_item(device)));
        put_device = match previous {
            None => put_device.condition_expression("attribute_not_exists(pk)"),
            Some(p) => put_device
                .condition_expression("updated_at = :prev_updated AND #token = :prev_token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":prev_updated", n(p.updated_at))
                .expression_attribute_values(":prev_token", s(&p.token)),
        };
        writes.push(TransactWriteItem::builder().put(put_device.build().map_err(build_error)?).build());
        conflicts.push(Conflict::Missing);

        // The token's claim, still held by whoever held it when it was read.
        let mut put_claim = Put::builder().table_name(&self.table).set_item(Some(token_item(device)));
        put_claim = match &holder {
            None => put_claim.condition_expression("attribute_not_exists(pk)"),
            Some((user, id)) => put_claim
                .condition_expression("username = :holder_user AND device_id = :holder_device")
                .expression_attribute_values(":holder_user", s(user))
                .expression_attribute_values(":holder_device", s(id)),
        };
        writes.push(TransactWriteItem::builder().put(put_claim.build().map_err(build_error)?).build());
        conflicts.push(Conflict::Missing);

        // The device that held the token loses it (gone already, or holding another token: fine).
        let moved_from = holder.as_ref().filter(|(user, id)| (user.as_str(), id.as_str()) != this);
        if let Some((user, id)) = moved_from {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(user), &format!("DEVICE#{id}"))))
                .condition_expression("attribute_not_exists(pk) OR #token = :token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":token", s(&device.token))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
            conflicts.push(Conflict::Missing);
        }
        // This device's old token is no longer its.
        if let Some(p) = previous.filter(|p| p.token != device.token) {
            writes.push(delete_claim(&self.table, p)?);
            conflicts.push(Conflict::Missing);
        }
        // Room for one more, unless the token's move made it already.
        let evict = evict.filter(|e| {
            moved_from
                .is_none_or(|(user, id)| (user.as_str(), id.as_str()) != (e.username.as_str(), e.device_id.as_str()))
        });
        if let Some(e) = evict {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(user_pk(&e.username), &device_sk(&e.device_id))))
                .condition_expression("updated_at = :evict_updated")
                .expression_attribute_values(":evict_updated", n(e.updated_at))
                .build()
                .map_err(build_error)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
            conflicts.push(Conflict::Missing);
            if e.token != device.token {
                writes.push(delete_claim(&self.table, e)?);
                conflicts.push(Conflict::Missing);
            }
        }
        self.transact(writes, &conflicts).await
    }

    async fn delete_device(&self, username: &str, device_id: &DeviceId) -> Result<bool, StoreError> {
        self.forget_device(username, &device_sk(device_id), None).await
    }
}

impl DynamoStore {
    /// Deletes a device (if `session` is given, only if that session registered it), then its
    /// token's claim if the claim still names it; whether it was deleted. A claim left behind by
    /// a failure between the two names a device that no longer exists, which registering the
    /// token again overwrites.
    pub(super) async fn forget_device(
        &self,
        username: &str,
        device_sk: &str,
        session: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(username), device_sk)))
            .return_values(ReturnValue::AllOld);
        if let Some(session) = session {
            delete = delete
                .condition_expression("#session = :session")
                .expression_attribute_names("#session", "session")
                .expression_attribute_values(":session", s(session));
        }
        let old = match delete.send().await {
            Ok(out) => out.attributes,
            Err(e) if is_conditional_failure(&e) => return Ok(false),
            Err(e) => return Err(sdk_error(e)),
        };
        let Some(old) = old.filter(|item| !item.is_empty()) else { return Ok(false) };
        let device = parse_device(&old)?;
        let claim = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(token_pk(&device.token), TOKEN)))
            .condition_expression("username = :user AND device_id = :device")
            .expression_attribute_values(":user", s(&device.username))
            .expression_attribute_values(":device", s(device.device_id.as_str()))
            .send()
            .await;
        match claim {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(true),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Forgets the user's devices registered by a session `ended` says has ended.
    pub(super) async fn forget_devices(&self, username: &str, ended: impl Fn(&str) -> bool) -> Result<(), StoreError> {
        for item in self.query_prefix(user_pk(username), "DEVICE#").await? {
            let session = req_s(&item, "session")?;
            if ended(&session) {
                self.forget_device(username, &req_s(&item, "sk")?, Some(&session)).await?;
            }
        }
        Ok(())
    }
}

/// Deletes `device`'s token claim (the transaction that holds this also holds the device's own
/// condition, so the claim is still the device's).
fn delete_claim(table: &str, device: &Device) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key(token_pk(&device.token), TOKEN)))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}
