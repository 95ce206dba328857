//! Access logs as API Gateway writes them (template.yaml's `AccessLogSettings`): one line per HTTP
//! request and per WebSocket event, under the same field names and rendered the same way (every
//! value a string, `-` where API Gateway has none), so a query written against a stage's access
//! log works on the gateway's output (`jq 'select(.message == "access" and (.status | startswith("5")))'`
//! here, `filter status like /^5/` in CloudWatch Logs Insights). `infra/tests/logs.rs` holds the
//! field names to the template's formats.
//!
//! `integrationRequestId` is the function invocation's request id, which every line the function
//! writes carries (the `Lambda runtime invoke` span's `requestId`), as on AWS.

/// What the gateway knows of one function invocation.
pub struct Integration {
    /// The invocation's own request id (Lambda's, not API Gateway's).
    pub request_id: String,
    /// The status the function answered with; `None` when it failed.
    pub status: Option<u16>,
    pub latency_ms: u128,
    /// Why the invocation failed, when it did.
    pub error: Option<&'static str>,
}

impl Integration {
    /// A fresh invocation request id, as Lambda gives one per invocation.
    pub fn request_id() -> String {
        ulid::Ulid::new().to_string()
    }
}

/// One HTTP API request.
pub struct Http<'a> {
    pub request_id: &'a str,
    pub received_ms: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The route it matched (`GET /users/{username}`); `None` for no route.
    pub route_key: Option<String>,
    pub status: u16,
    pub response_length: Option<u64>,
    pub response_latency_ms: u128,
    pub integration: Option<Integration>,
}

/// One WebSocket event: a connection, a frame, a disconnection.
pub struct WebSocket<'a> {
    pub request_id: &'a str,
    pub received_ms: i64,
    pub ip: &'a str,
    pub connection_id: &'a str,
    /// CONNECT, MESSAGE or DISCONNECT.
    pub event_type: &'a str,
    pub route_key: &'a str,
    pub status: u16,
    pub integration: Option<Integration>,
    pub authorizer_error: Option<&'a str>,
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).filter(|v| !v.is_empty()).unwrap_or_else(|| "-".to_owned())
}

/// The integration's four fields: request id, status, latency, error.
fn integration_fields(integration: Option<&Integration>) -> [String; 4] {
    [
        or_dash(integration.map(|i| i.request_id.as_str())),
        or_dash(integration.and_then(|i| i.status)),
        or_dash(integration.map(|i| i.latency_ms)),
        or_dash(integration.and_then(|i| i.error)),
    ]
}

impl Http<'_> {
    pub fn log(&self) {
        let [integration_request_id, integration_status, integration_latency, integration_error] =
            integration_fields(self.integration.as_ref());
        tracing::info!(
            requestId = self.request_id,
            integrationRequestId = integration_request_id,
            requestTime = clf(self.received_ms),
            ip = or_dash(Some(self.ip)),
            userAgent = or_dash(Some(self.user_agent)),
            httpMethod = self.method,
            path = self.path,
            routeKey = or_dash(self.route_key.as_deref()),
            status = self.status.to_string(),
            responseLength = or_dash(self.response_length),
            responseLatency = self.response_latency_ms.to_string(),
            integrationStatus = integration_status,
            integrationLatency = integration_latency,
            integrationError = integration_error,
            "access"
        );
    }
}

impl WebSocket<'_> {
    pub fn log(&self) {
        let [integration_request_id, integration_status, integration_latency, integration_error] =
            integration_fields(self.integration.as_ref());
        tracing::info!(
            requestId = self.request_id,
            integrationRequestId = integration_request_id,
            requestTime = clf(self.received_ms),
            ip = or_dash(Some(self.ip)),
            connectionId = self.connection_id,
            eventType = self.event_type,
            routeKey = self.route_key,
            status = self.status.to_string(),
            integrationStatus = integration_status,
            integrationLatency = integration_latency,
            integrationError = integration_error,
            authorizerError = or_dash(self.authorizer_error),
            "access"
        );
    }
}

/// A UTC time in milliseconds since the epoch as (year, month, day, hour, minute, second,
/// millisecond), by the civil calendar (no date library).
pub fn civil(ms: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, ms.rem_euclid(1000))
}

/// The time as API Gateway's `$context.requestTime` renders it (CLF): `07/Dec/2026:03:30:00 +0000`.
pub fn clf(ms: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d, hh, mm, ss, _) = civil(ms);
    format!("{d:02}/{}/{y:04}:{hh:02}:{mm:02}:{ss:02} +0000", MONTHS[(m - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_common_log_format() {
        assert_eq!(clf(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf(1_795_341_600_123), "22/Nov/2026:10:00:00 +0000");
        assert_eq!(clf(951_782_400_000), "29/Feb/2000:00:00:00 +0000");
    }
}
