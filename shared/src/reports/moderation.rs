//! Where reports go for the people who run the deployment: an SNS topic on AWS (operators
//! subscribe e-mail, a chat webhook, a ticket queue), a recorder locally (`GET /_local/reports`).

use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::BoxError;
use crate::reports::store::Report;

/// Hands a report to the moderators.
#[async_trait]
pub trait Moderation: Send + Sync {
    async fn publish(&self, report: &Report) -> Result<(), BoxError>;
}

/// The subject line moderators see.
pub fn subject(report: &Report) -> String {
    format!("Chathub report: {} by {}", report.reason.as_str(), report.reporter)
}

/// The deployment's moderation topic (`MODERATION_TOPIC_ARN`): each report one message, its
/// subject naming the reason and the reporter, its body the report as JSON.
pub struct SnsModeration {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsModeration {
    pub fn from_env(shared: &aws_config::SdkConfig) -> Option<Self> {
        let topic_arn = std::env::var("MODERATION_TOPIC_ARN").ok().filter(|t| !t.is_empty())?;
        Some(Self { client: aws_sdk_sns::Client::new(shared), topic_arn })
    }
}

#[async_trait]
impl Moderation for SnsModeration {
    async fn publish(&self, report: &Report) -> Result<(), BoxError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(report))
            .message(serde_json::to_string_pretty(report)?)
            .send()
            .await
            .map_err(|e| Box::new(e) as BoxError)?;
        Ok(())
    }
}

/// What the local gateway would have sent (`GET /_local/reports`), oldest first.
#[derive(Default)]
pub struct ReportRecorder {
    sent: Mutex<Vec<Report>>,
}

impl ReportRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<Report> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Moderation for ReportRecorder {
    async fn publish(&self, report: &Report) -> Result<(), BoxError> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push(report.clone());
        Ok(())
    }
}
