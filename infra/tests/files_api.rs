//! End to end: files through presigned URLs. The same aws-sdk-s3 code that runs on AWS signs; a
//! plain HTTP client uploads and downloads against a real SigV4-verifying S3 server (s3s-fs),
//! embedded in the gateway or separate; on both stores.

mod support;

use serde_json::{json, Value};
use support::{Session, TestApp};

on_both_blob_stores!(
    avatars_upload_download_and_use,
    presigned_urls_refuse_tampering_expiry_and_other_bodies,
    limits_and_bad_declarations_are_refused,
    attachments_travel_with_messages_and_only_members_read_them,
    group_icons_are_set_by_members_and_readable_by_anyone,
    only_images_download_inline,
);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n pretend this is an image";

/// Declares a file; returns the answer.
async fn declare(app: &TestApp, who: &Session, body: Value) -> Value {
    app.post("/files", Some(&who.access), body).await.assert_status(201).clone()
}

/// PUTs `body` to the upload URL with the signed headers (content type overridable).
async fn upload(app: &TestApp, upload: &Value, body: &[u8], content_type: Option<&str>) -> u16 {
    let mut request = app.http.put(upload["upload_url"].as_str().unwrap()).body(body.to_vec());
    for (name, value) in upload["upload_headers"].as_object().unwrap() {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // the client sets it from the body
        }
        let value = if name.eq_ignore_ascii_case("content-type") {
            content_type.unwrap_or(value.as_str().unwrap())
        } else {
            value.as_str().unwrap()
        };
        request = request.header(name.as_str(), value);
    }
    request.send().await.expect("upload reaches storage").status().as_u16()
}

async fn fetch(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    let response = app.http.get(url).send().await.expect("download reaches storage");
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

/// GET /files/{id} without following the redirect.
async fn locate(app: &TestApp, who: &Session, file_id: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    client.get(format!("{}/files/{file_id}", app.url)).bearer_auth(&who.access).send().await.unwrap()
}

async fn avatars_upload_download_and_use(app: &TestApp) {
    let amy = app.register("amy").await;
    let bev = app.register("bev").await;
    let declared = declare(
        app,
        &amy,
        json!({"purpose": "avatar", "content_type": "image/png", "size": PNG.len(), "name": "me.png"}),
    )
    .await;
    assert_eq!(declared["upload_method"], "PUT");
    let file_id = declared["file_id"].as_str().unwrap().to_owned();
    let headers = declared["upload_headers"].as_object().unwrap();
    assert_eq!(headers.get("content-type").and_then(Value::as_str), Some("image/png"));
    assert!(declared["expires_at"].as_i64().unwrap() > app.clock_now());

    // Not uploaded yet: refused where it is used.
    app.patch("/users/me", &amy.access, json!({"avatar_file_id": file_id}))
        .await
        .assert_problem(400, "file_not_uploaded");

    assert_eq!(upload(app, &declared, PNG, None).await, 200);
    // Until something references it, the upload sits where unreferenced uploads expire.
    let pending = app.get(&format!("/files/{file_id}?redirect=false"), &amy.access).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pending.contains(&format!("/uploads/{file_id}")), "{pending}");
    let me = app.patch("/users/me", &amy.access, json!({"avatar_file_id": file_id})).await;
    assert_eq!(me.assert_status(200)["avatar_file_id"], file_id.as_str());
    assert_eq!(app.get("/users/amy", &bev.access).await.json["avatar_file_id"], file_id.as_str());

    // Anyone signed in downloads it: a 302 to a short-lived URL, or the URL as JSON.
    let located = locate(app, &bev, &file_id).await;
    assert_eq!(located.status().as_u16(), 302);
    let location = located.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains(&format!("/files/{file_id}")), "referenced files are kept for good: {location}");
    assert_eq!(fetch(app, &location).await, (200, PNG.to_vec()));
    let as_json = app.get(&format!("/files/{file_id}?redirect=false"), &bev.access).await;
    let url = as_json.assert_status(200)["url"].as_str().unwrap().to_owned();
    assert!(as_json.json["expires_at"].as_i64().unwrap() > app.clock_now());
    assert_eq!(fetch(app, &url).await, (200, PNG.to_vec()));
    app.call("GET", &format!("/files/{file_id}"), None, None).await.assert_problem(401, "unauthorized");
    app.get("/files/01HNOSUCHFILE0000000000000?redirect=false", &bev.access).await.assert_problem(404, "not_found");
    app.get(&format!("/files/{file_id}?redirect=maybe"), &bev.access).await.assert_problem(400, "invalid_request");

    // Only its uploader uses it, and only for its purpose.
    app.patch("/users/me", &bev.access, json!({"avatar_file_id": file_id}))
        .await
        .assert_problem(400, "file_not_uploaded");
    let group = app.post("/conversations", Some(&amy.access), json!({"name": "G", "members": []})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch(&format!("/conversations/{group}"), &amy.access, json!({"icon_file_id": file_id}))
        .await
        .assert_problem(400, "file_not_uploaded");
    // Clearing works.
    let cleared = app.patch("/users/me", &amy.access, json!({"avatar_file_id": null})).await;
    assert!(cleared.assert_status(200).get("avatar_file_id").is_none());
}

async fn presigned_urls_refuse_tampering_expiry_and_other_bodies(app: &TestApp) {
    let cal = app.register("cal").await;
    let declared =
        declare(app, &cal, json!({"purpose": "avatar", "content_type": "image/png", "size": PNG.len()})).await;
    // Another type, another size, a tampered signature: storage refuses each.
    assert_eq!(upload(app, &declared, PNG, Some("image/gif")).await, 403);
    assert_eq!(upload(app, &declared, &PNG[1..], None).await, 403);
    let bigger = [PNG, b"!"].concat();
    assert_eq!(upload(app, &declared, &bigger, None).await, 403);
    let mut tampered = declared.clone();
    let url = declared["upload_url"].as_str().unwrap();
    let signature_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[signature_at..signature_at + 1] == "0" { "1" } else { "0" };
    tampered["upload_url"] = json!(format!("{}{}{}", &url[..signature_at], flipped, &url[signature_at + 1..]));
    assert_eq!(upload(app, &tampered, PNG, None).await, 403);
    let other_key = url.replace(declared["file_id"].as_str().unwrap(), "01HOTHERKEY000000000000000");
    let mut moved = declared.clone();
    moved["upload_url"] = json!(other_key);
    assert_eq!(upload(app, &moved, PNG, None).await, 403);
    // None of it counts as an upload.
    app.patch("/users/me", &cal.access, json!({"avatar_file_id": declared["file_id"]}))
        .await
        .assert_problem(400, "file_not_uploaded");

    // An expired URL: signed 20 minutes ago, valid for 15.
    app.clock.advance_ms(-20 * 60 * 1000);
    let stale = declare(app, &cal, json!({"purpose": "avatar", "content_type": "image/png", "size": PNG.len()})).await;
    app.clock.advance_ms(20 * 60 * 1000);
    assert_eq!(upload(app, &stale, PNG, None).await, 403);

    // The right body with the right headers works, once.
    assert_eq!(upload(app, &declared, PNG, None).await, 200);
    app.patch("/users/me", &cal.access, json!({"avatar_file_id": declared["file_id"]})).await.assert_status(200);
    let file_id = declared["file_id"].as_str().unwrap();
    let download = app.get(&format!("/files/{file_id}?redirect=false"), &cal.access).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = download.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &download[at..at + 1] == "0" { "1" } else { "0" };
    let bad = format!("{}{}{}", &download[..at], flipped, &download[at + 1..]);
    assert_eq!(fetch(app, &bad).await.0, 403);
    // A download URL signed long ago has expired.
    app.clock.advance_ms(-10 * 60 * 1000);
    let old = app.get(&format!("/files/{file_id}?redirect=false"), &cal.access).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance_ms(10 * 60 * 1000);
    assert_eq!(fetch(app, &old).await.0, 403);
}

async fn limits_and_bad_declarations_are_refused(app: &TestApp) {
    let dot = app.register("dot").await;
    let eve = app.register("eve").await;
    let conversation = app.post("/conversations", Some(&dot.access), json!({"name": "D", "members": []})).await.json
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mib = 1024 * 1024;
    let post = |body: Value| app.post("/files", Some(&dot.access), body);
    post(json!({"purpose": "avatar", "content_type": "image/png", "size": 5 * mib + 1}))
        .await
        .assert_problem(413, "payload_too_large");
    post(json!({"purpose": "icon", "content_type": "image/webp", "size": 5 * mib + 1}))
        .await
        .assert_problem(413, "payload_too_large");
    post(json!({"purpose": "avatar", "content_type": "image/png", "size": 5 * mib})).await.assert_status(201);
    post(json!({"purpose": "attachment", "content_type": "video/mp4", "size": 25 * mib + 1, "conversation_id": conversation}))
        .await
        .assert_problem(413, "payload_too_large");
    post(json!({"purpose": "attachment", "content_type": "video/mp4", "size": 25 * mib, "conversation_id": conversation})).await.assert_status(201);
    for bad in [
        json!({"purpose": "avatar", "content_type": "application/pdf", "size": 10}),
        json!({"purpose": "icon", "content_type": "text/html", "size": 10}),
        json!({"purpose": "banner", "content_type": "image/png", "size": 10}),
        json!({"purpose": "avatar", "content_type": "image/png", "size": 0}),
        json!({"purpose": "avatar", "content_type": "image/png", "size": -5}),
        json!({"purpose": "avatar", "content_type": "not a type", "size": 10}),
        json!({"purpose": "avatar", "content_type": "image/png", "size": "10"}),
        json!({"purpose": "attachment", "content_type": "text/plain", "size": 10}),
        json!({"purpose": "avatar", "content_type": "image/png"}),
        json!("{"),
    ] {
        post(bad).await.assert_problem(400, "invalid_request");
    }
    // Attachments need membership of their conversation.
    app.post(
        "/files",
        Some(&eve.access),
        json!({"purpose": "attachment", "content_type": "text/plain", "size": 3, "conversation_id": conversation}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post("/files", None, json!({"purpose": "avatar", "content_type": "image/png", "size": 3}))
        .await
        .assert_problem(401, "unauthorized");
}

async fn attachments_travel_with_messages_and_only_members_read_them(app: &TestApp) {
    let ann = app.register("ann").await;
    let ben = app.register("ben").await;
    let cat = app.register("cat").await;
    let id = app.post("/conversations", Some(&ann.access), json!({"name": "Docs", "members": ["ben"]})).await.json
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.post("/conversations", Some(&ann.access), json!({"name": "Other", "members": []})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = b"minutes of the meeting";
    let declared = declare(app, &ann, json!({"purpose": "attachment", "content_type": "text/plain", "size": text.len(), "name": "minutes.txt", "conversation_id": id})).await;
    let file_id = declared["file_id"].as_str().unwrap().to_owned();
    let messages = format!("/conversations/{id}/messages");

    app.post(&messages, Some(&ann.access), json!({"content": "see attached", "attachments": [file_id]}))
        .await
        .assert_problem(400, "file_not_uploaded");
    assert_eq!(upload(app, &declared, text, None).await, 200);

    let mut ben_socket = app.socket(&ben).await;
    let sent = app.post(&messages, Some(&ann.access), json!({"content": "", "attachments": [file_id]})).await;
    let message = sent.assert_status(201).clone();
    assert_eq!(
        message["attachments"],
        json!([{"file_id": file_id, "content_type": "text/plain", "size": text.len(), "name": "minutes.txt"}])
    );
    assert_eq!(ben_socket.event("send_message").await["data"], message);

    // Over the WebSocket too.
    let answer = ben_socket
        .request("send_message", json!({"conversation_id": id, "content": "thanks", "attachments": [file_id]}))
        .await;
    assert_eq!(answer["code"], "file_not_uploaded", "ben cannot attach ann's file");
    ben_socket.close().await;

    // Members read it; others do not learn it exists.
    let located = locate(app, &ben, &file_id).await;
    assert_eq!(located.status().as_u16(), 302);
    assert_eq!(fetch(app, located.headers()["location"].to_str().unwrap()).await, (200, text.to_vec()));
    app.get(&format!("/files/{file_id}?redirect=false"), &cat.access).await.assert_problem(404, "not_found");

    // Used only in its own conversation, at most 10 at once, each once.
    app.post(
        &format!("/conversations/{other}/messages"),
        Some(&ann.access),
        json!({"content": "x", "attachments": [file_id]}),
    )
    .await
    .assert_problem(400, "file_not_uploaded");
    let eleven: Vec<String> = (0..11).map(|_| file_id.clone()).collect();
    app.post(&messages, Some(&ann.access), json!({"content": "x", "attachments": eleven}))
        .await
        .assert_problem(400, "invalid_request");
    app.post(&messages, Some(&ann.access), json!({"content": "x", "attachments": [file_id, file_id]}))
        .await
        .assert_problem(400, "invalid_request");
    app.post(&messages, Some(&ann.access), json!({"content": "", "attachments": []}))
        .await
        .assert_problem(400, "invalid_request");

    // After ben leaves, the attachment is closed to him.
    assert_eq!(app.delete(&format!("/conversations/{id}/members/me"), &ben.access).await.status, 204);
    app.get(&format!("/files/{file_id}?redirect=false"), &ben.access).await.assert_problem(404, "not_found");
}

async fn group_icons_are_set_by_members_and_readable_by_anyone(app: &TestApp) {
    let fay = app.register("fay").await;
    let gil = app.register("gil").await;
    let outsider = app.register("hap").await;
    let id = app.post("/conversations", Some(&fay.access), json!({"name": "Icons", "members": ["gil"]})).await.json
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let declared = declare(app, &gil, json!({"purpose": "icon", "content_type": "image/gif", "size": 6})).await;
    assert_eq!(upload(app, &declared, b"GIF89a", None).await, 200);
    let file_id = declared["file_id"].as_str().unwrap();
    app.patch(&format!("/conversations/{id}"), &outsider.access, json!({"icon_file_id": file_id}))
        .await
        .assert_problem(404, "not_found");
    let updated = app.patch(&format!("/conversations/{id}"), &gil.access, json!({"icon_file_id": file_id})).await;
    assert_eq!(updated.assert_status(200)["icon_file_id"], file_id);
    assert_eq!(app.get(&format!("/conversations/{id}"), &fay.access).await.json["icon_file_id"], file_id);
    let url = app.get(&format!("/files/{file_id}?redirect=false"), &outsider.access).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fetch(app, &url).await, (200, b"GIF89a".to_vec()));
}

/// Security finding 8: an uploaded HTML or SVG attachment must never render in the browser. The
/// disposition is signed into the URL: taking it off breaks the signature.
async fn only_images_download_inline(app: &TestApp) {
    let ivy = app.register("ivy").await;
    let id = app.post("/conversations", Some(&ivy.access), json!({"name": "Files", "members": []})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = b"<script>alert(document.cookie)</script>";
    let cases: [(&str, &[u8], &str, Option<&str>); 3] = [
        ("text/html", page, "page one.html", Some("attachment; filename*=UTF-8''page%20one.html")),
        ("image/svg+xml", page, "logo.svg", Some("attachment; filename*=UTF-8''logo.svg")),
        ("image/png", PNG, "photo.png", None),
    ];
    for (content_type, body, name, expected) in cases {
        let declared = declare(
            app,
            &ivy,
            json!({"purpose": "attachment", "content_type": content_type, "size": body.len(), "name": name, "conversation_id": id}),
        )
        .await;
        assert_eq!(upload(app, &declared, body, None).await, 200);
        let file_id = declared["file_id"].as_str().unwrap();
        let url = app.get(&format!("/files/{file_id}?redirect=false"), &ivy.access).await.json["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{content_type}");
        let disposition = response.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(disposition.as_deref(), expected, "{content_type}");
        if expected.is_some() {
            let stripped: String = {
                let (base, query) = url.split_once('?').unwrap();
                let kept: Vec<&str> =
                    query.split('&').filter(|p| !p.starts_with("response-content-disposition=")).collect();
                format!("{base}?{}", kept.join("&"))
            };
            assert_eq!(fetch(app, &stripped).await.0, 403, "the disposition is part of the signature");
        }
    }
}

/// A throttled store is a 503 the client may retry, not a "file not found": the membership check
/// of an attachment's download used to turn every error into 404.
#[tokio::test]
async fn a_throttled_membership_check_is_unavailable_not_not_found() {
    use chathub_shared::files::{self, FileRecord, Purpose};
    use chathub_shared::ApiError;
    use support::domain::{dynamodb_endpoint, names, Backing, Domain};
    let proxy = support::proxy::throttling_proxy(dynamodb_endpoint(), 100, Some("BatchGetItem")).await;
    let d = Domain::with_endpoint(Backing::Dynamo, Some(proxy.url.clone())).await;
    let members = names("f", 2);
    d.users(&members).await;
    let id = d.room(&members).await;
    let file = FileRecord {
        id: ulid::Ulid::new().to_string().into(),
        owner: members[0].clone(),
        purpose: Purpose::Attachment,
        content_type: "image/png".into(),
        size: 10,
        name: None,
        conversation_id: Some(id),
        created_at: 0,
        referenced: true,
    };
    d.ctx.store.put_file(&file).await.unwrap();
    // The membership check is one consistent BatchGetItem, throttled on every try.
    proxy.on.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = files::download(&d.ctx, &members[1], &file.id).await;
    assert!(matches!(refused, Err(ApiError::Unavailable { .. })), "{refused:?}");
    proxy.on.store(false, std::sync::atomic::Ordering::SeqCst);
    // Not a member, unthrottled: still 404.
    assert!(matches!(files::download(&d.ctx, "stranger", &file.id).await, Err(ApiError::NotFound(_))));
}
