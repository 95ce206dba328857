//! The floor for cold starts: a Lambda that does nothing but the runtime handshake (lambda_runtime,
//! tokio) and echoes its event. A function can start no faster than this.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
        Ok::<_, lambda_runtime::Error>(event.payload)
    }))
    .await
}
