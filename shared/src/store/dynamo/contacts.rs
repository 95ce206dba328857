//! Contacts: the `ContactStore` port on DynamoDB.

use super::*;

#[async_trait]
impl ContactStore for DynamoStore {
    async fn add_contact(&self, owner: &str, contact: &str, now: i64) -> Result<(), StoreError> {
        let mut item = key(user_pk(owner), &format!("CONTACT#{contact}"));
        item.insert("contact".into(), s(contact));
        item.insert("added_at".into(), n(now));
        item.insert("gsi1pk".into(), AV::S(format!("CONTACTOF#{contact}")));
        item.insert("gsi1sk".into(), s(owner));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::AlreadyContact))?;
        Ok(())
    }

    async fn remove_contact(&self, owner: &str, contact: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(owner), &format!("CONTACT#{contact}"))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list_contacts(&self, owner: &str, after: Option<&str>, limit: usize) -> Result<Page<String>, StoreError> {
        // `!` sorts before every username character, so `CONTACT#<after>!` starts just past `after`;
        // `$` sorts right after `#`, so `CONTACT$` ends the contact range.
        let from = match after {
            Some(after) => format!("CONTACT#{after}!"),
            None => "CONTACT#".to_owned(),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AV::S(user_pk(owner)))
            .expression_attribute_values(":from", AV::S(from))
            .expression_attribute_values(":to", s("CONTACT$"))
            .limit(limit as i32 + 1)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items =
            out.items.unwrap_or_default().iter().map(|item| req_s(item, "contact")).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().cloned()
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
