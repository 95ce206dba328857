//! Declared files: the `FileStore` port on DynamoDB.

use super::*;

#[async_trait]
impl FileStore for DynamoStore {
    async fn put_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        let item = file_item(file);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        let Some(item) = self.get(file_pk(id), "FILE").await? else { return Ok(None) };
        parse_file(&item).map(Some)
    }

    async fn mark_file_referenced(&self, id: &FileId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(file_pk(id), "FILE")))
            .update_expression("SET referenced = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AV::Bool(true))
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::Missing))?;
        Ok(())
    }
}
