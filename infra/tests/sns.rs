//! The SNS adapter against a real SNS emulator no one here wrote: moto's server (PyPI
//! `moto[server]`, started by scripts/test, `CHATHUB_TEST_SNS_ENDPOINT`). Devices get platform
//! endpoints at registration, pushes are published to them with `MessageStructure=json`, a token
//! that moves takes its endpoint along, and an endpoint the platform disabled disables the device.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chathub_shared::notifications::sns::{Applications, SnsProvider};
use serde_json::{json, Value};
use support::{Session, TestApp};

fn endpoint() -> String {
    std::env::var("CHATHUB_TEST_SNS_ENDPOINT")
        .expect("CHATHUB_TEST_SNS_ENDPOINT is not set: run the suite with scripts/test, which starts moto's server")
}

async fn sns_client() -> aws_sdk_sns::Client {
    let config =
        aws_sdk_sns::config::Builder::from(&chathub_shared::aws::local().await).endpoint_url(endpoint()).build();
    aws_sdk_sns::Client::from_conf(config)
}

/// moto's platform endpoints, each with its token, enabled flag and the messages published to it.
async fn endpoints() -> Vec<Value> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", endpoint())).await.unwrap().json().await.unwrap();
    data["sns"]["PlatformEndpoint"].as_array().cloned().unwrap_or_default()
}

async fn endpoint_of(token: &str) -> Value {
    let all = endpoints().await;
    let found: Vec<&Value> = all.iter().filter(|e| e["token"] == token).collect();
    assert_eq!(found.len(), 1, "one endpoint for {token}: {all:#?}");
    found[0].clone()
}

/// The platform payloads published to `token`'s endpoint (bounded wait: 10 s for `count`).
async fn published(token: &str, count: usize) -> Vec<Value> {
    let mut messages = Vec::new();
    for _ in 0..200 {
        let endpoint = endpoint_of(token).await;
        messages = endpoint["messages"].as_object().map(|m| m.values().cloned().collect()).unwrap_or_default();
        if messages.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(messages.len(), count, "{token}: {messages:#?}");
    messages.iter().map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap()).collect()
}

async fn put_device(app: &TestApp, who: &Session, id: &str, platform: &str, token: &str) -> support::Reply {
    let body = json!({"platform": platform, "token": token});
    app.call("PUT", &format!("/devices/{id}"), Some(&who.access), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_go_through_sns_platform_endpoints() {
    let sns = sns_client().await;
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let app_arn = |platform: &str| {
        let sns = sns.clone();
        let name = format!("chathub-{platform}-{run}");
        let platform = platform.to_owned();
        async move {
            let created = sns
                .create_platform_application()
                .name(name)
                .platform(platform)
                .attributes("PlatformCredential", "test-credential")
                .send()
                .await
                .unwrap();
            created.platform_application_arn.unwrap()
        }
    };
    let applications =
        Applications { fcm: Some(app_arn("GCM").await), apns: Some(app_arn("APNS").await), apns_sandbox: None };
    let app = TestApp::embedded_with_push(Arc::new(SnsProvider::new(sns.clone(), applications))).await;
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let cat = app.register("cat").await;
    let (bob_token, cat_token) = (format!("fcm-bob-{run}"), format!("apns-cat-{run}"));

    // Registering makes an enabled endpoint for the token.
    put_device(&app, &bob, "pixel", "fcm", &bob_token).await.assert_status(200);
    put_device(&app, &cat, "iphone", "apns", &cat_token).await.assert_status(200);
    let bobs = endpoint_of(&bob_token).await;
    assert_eq!((bobs["enabled"].clone(), bobs["attributes"]["CustomUserData"].clone()), (json!(true), json!("bob")));
    // A platform without an application here takes no devices.
    put_device(&app, &cat, "dev-build", "apns_sandbox", &format!("sandbox-{run}"))
        .await
        .assert_problem(400, "platform_unavailable");

    // Being added, then a message: FCM v1 payloads on bob's endpoint, APNs on cat's.
    let created =
        app.post("/conversations", Some(&ann.access), json!({"name": "Team", "members": ["bob", "cat"]})).await;
    let room = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    published(&bob_token, 1).await;
    let sent = app.post(&format!("/conversations/{room}/messages"), Some(&ann.access), json!({"content": "hi"})).await;
    let id = sent.assert_status(201)["id"].as_i64().unwrap();
    let fcm: Vec<Value> = published(&bob_token, 2)
        .await
        .iter()
        .map(|m| serde_json::from_str(m["GCM"].as_str().unwrap()).unwrap())
        .collect();
    // FCM data values are strings.
    let id_text = id.to_string();
    let message = fcm.iter().find(|m| m["fcmV1Message"]["message"]["data"]["message_id"] == id_text.as_str()).unwrap();
    let inner = &message["fcmV1Message"]["message"];
    assert_eq!(inner["notification"], json!({"title": "Team", "body": "ann: hi"}));
    assert_eq!(inner["data"]["conversation_id"], room.as_str());
    assert_eq!(inner["android"]["notification"]["notification_count"], 1);
    let apns: Vec<Value> = published(&cat_token, 2)
        .await
        .iter()
        .map(|m| serde_json::from_str(m["APNS"].as_str().unwrap()).unwrap())
        .collect();
    assert!(apns.iter().any(|m| m["aps"]["alert"]["body"] == "ann: hi" && m["aps"]["thread-id"] == room.as_str()));

    // The phone changed hands: the token moves to cat, its endpoint with it (SNS refuses a second
    // endpoint for a known token; the adapter takes the existing one over).
    put_device(&app, &cat, "old-pixel", "fcm", &bob_token).await.assert_status(200);
    assert_eq!(endpoint_of(&bob_token).await["attributes"]["CustomUserData"], "cat");
    assert_eq!(app.get("/devices", &bob.access).await.json["items"], json!([]));

    // The platform disables the endpoint (the app was uninstalled): the next publish fails and the
    // device is disabled; registering it again enables both.
    let arn = endpoint_of(&cat_token).await["arn"].as_str().unwrap().to_owned();
    sns.set_endpoint_attributes().endpoint_arn(&arn).attributes("Enabled", "false").send().await.unwrap();
    app.post(&format!("/conversations/{room}/messages"), Some(&ann.access), json!({"content": "there?"}))
        .await
        .assert_status(201);
    let mut disabled = false;
    for _ in 0..200 {
        let devices = app.get("/devices", &cat.access).await;
        let iphone = devices.json["items"].as_array().unwrap().iter().find(|d| d["device_id"] == "iphone").cloned();
        if iphone.is_some_and(|d| d["enabled"] == false) {
            disabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(disabled, "the rejected device was not disabled");
    let again = put_device(&app, &cat, "iphone", "apns", &cat_token).await;
    assert_eq!(again.assert_status(200)["enabled"], true);
    assert_eq!(endpoint_of(&cat_token).await["enabled"], true);
    app.stop().await;
}
