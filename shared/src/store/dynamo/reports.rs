//! Reports: the `ReportStore` port on DynamoDB. `CONV#<c>` / `REPORT#<message id>#<reporter>`
//! holds one (so a reporter reports a message once), the message as it was inside as JSON; in the
//! index under `REPORTS`, newest last by `<created_at>#<report id>`, so an operator lists them
//! (docs/operations.md, "Reports").

use super::*;
use crate::reports::store::{Report, ReportStore};

pub(super) const REPORTS: &str = "REPORTS";

fn report_sk(report: &Report) -> String {
    format!("REPORT#{:020}#{}", report.message_id.get(), report.reporter)
}

fn report_key(report: &Report) -> Item {
    key(conv_pk(&report.conversation_id), &report_sk(report))
}

fn parse_report(item: &Item) -> Result<Report, StoreError> {
    let mut report: Report = serde_json::from_str(&req_s(item, "report")?).map_err(StoreError::internal)?;
    report.published = matches!(item.get("published"), Some(AV::Bool(true)));
    Ok(report)
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn put_report(&self, report: &Report) -> Result<Option<Report>, StoreError> {
        let mut item = report_key(report);
        item.insert("report".into(), s(&serde_json::to_string(report).map_err(StoreError::internal)?));
        item.insert("report_id".into(), s(&report.report_id));
        item.insert("reason".into(), s(report.reason.as_str()));
        item.insert("reporter".into(), s(&report.reporter));
        item.insert("published".into(), AV::Bool(false));
        item.insert("gsi1pk".into(), s(REPORTS));
        item.insert("gsi1sk".into(), AV::S(format!("{:013}#{}", report.created_at, report.report_id)));
        if self.put_if_absent(item).await? {
            return Ok(None);
        }
        // Reported before: that report.
        let existing = self.get(conv_pk(&report.conversation_id), &report_sk(report)).await?;
        existing.map(|item| parse_report(&item)).transpose()?.map(Some).ok_or(StoreError::Conflict(Conflict::Missing))
    }

    async fn mark_report_published(&self, report: &Report) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(report_key(report)))
            .update_expression("SET published = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AV::Bool(true))
            .send()
            .await
            .map_err(|e| conditional_error(e, Conflict::Missing))?;
        Ok(())
    }
}
