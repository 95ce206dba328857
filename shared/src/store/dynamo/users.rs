//! Users, email claims and the user directory: the `UserStore` port on DynamoDB.

use super::*;

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
        ] {
            match change {
                Some(Some(value)) => expr.set(name, s(value)),
                Some(None) => expr.remove(name),
                None => {}
            }
        }
        match &update.avatar_file_id {
            Some(Some(value)) => expr.set("avatar_file_id", s(value.as_str())),
            Some(None) => expr.remove("avatar_file_id"),
            None => {}
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
        let Some(after) = crate::paging::resume_within(prefix, after) else {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        };
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
