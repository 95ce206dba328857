//! End to end: every REST route over real HTTP through the local gateway, on the embedded store
//! and on DynamoDB Local (the same scenarios on both).

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use support::tokens::{bad_tokens, forge, published_key, test_seed};
use support::{Session, TestApp};

on_both_stores!(
    ping_answers_pong_and_unknown_routes_404,
    register_returns_tokens_and_a_private_profile,
    usernames_and_emails_are_unique_case_insensitively,
    register_refuses_bad_input,
    login_by_username_or_email_sets_the_cookie,
    unknown_user_and_wrong_password_look_the_same,
    five_failed_logins_throttle_until_the_window_passes,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_one_session_or_all,
    verify_accepts_bearer_or_cookie_and_refuses_bad_tokens,
    jwks_publishes_the_key_that_verifies_tokens,
    every_authenticated_route_refuses_missing_and_bad_tokens,
    profile_updates_and_clears_fields,
    email_change_moves_the_unique_claim,
    password_change_revokes_other_sessions,
    directory_pages_by_prefix_without_gaps,
    profiles_hide_private_fields_from_others,
    contacts_add_list_remove,
    malformed_bodies_never_cause_a_server_error,
);

async fn ping_answers_pong_and_unknown_routes_404(app: &TestApp) {
    let reply = app.call("GET", "/ping", None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text, "pong");
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(reply.headers.contains_key("apigw-requestid"));
    let missing = app.call("GET", "/nope", None, None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json, json!({"message": "Not Found"}));
}

async fn register_returns_tokens_and_a_private_profile(app: &TestApp) {
    let reply = app
        .post(
            "/auth/register",
            None,
            json!({"username": "Alice", "password": "correct horse", "fullname": "Alice Liddell",
                   "email": "Alice@Example.com", "first_name": "Alice", "last_name": "Liddell",
                   "role": "tester", "date_of_birth": "1852-05-04"}),
        )
        .await;
    let body = reply.assert_status(201);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    let user = &body["user"];
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["fullname"], "Alice Liddell");
    assert_eq!(user["date_of_birth"], "1852-05-04");
    assert_eq!(user["role"], "tester");
    assert_eq!(user["is_online"], false);
    assert_eq!(user["last_online"], Value::Null);
    assert!(user["created_at"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    // The access token is a three-part EdDSA JWT, with a kid, carrying sub, iat, exp and jti.
    let token = body["access_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(claims["jti"].is_string());

    let me = app.get("/users/me", token).await;
    assert_eq!(me.assert_status(200), user);

    // Without a fullname, the username stands in.
    let bob = app.post("/auth/register", None, json!({"username": "bob", "password": "12345678"})).await;
    assert_eq!(bob.assert_status(201)["user"]["fullname"], "bob");
    assert!(bob.json["user"].get("email").is_none());
}

async fn usernames_and_emails_are_unique_case_insensitively(app: &TestApp) {
    app.register_with(json!({"username": "carol", "password": "password1", "email": "carol@example.com"})).await;
    app.post("/auth/register", None, json!({"username": "CAROL", "password": "password2"}))
        .await
        .assert_problem(409, "username_taken");
    app.post(
        "/auth/register",
        None,
        json!({"username": "carol2", "password": "password2", "email": "CAROL@example.com"}),
    )
    .await
    .assert_problem(409, "email_taken");
    // The refused registration left nothing behind: carol2 does not exist and can still register.
    app.login("carol2", "password2").await.assert_problem(401, "invalid_credentials");
    app.post("/auth/register", None, json!({"username": "carol2", "password": "password2"})).await.assert_status(201);
    // And the email still belongs to carol.
    let login = app.login("carol@example.com", "password1").await;
    assert_eq!(login.assert_status(200)["user"]["username"], "carol");
}

async fn register_refuses_bad_input(app: &TestApp) {
    let long = "x".repeat(101);
    let cases = [
        json!("{not json"),
        json!("[]"),
        json!(""),
        json!({}),
        json!({"username": "dave"}),
        json!({"password": "long enough"}),
        json!({"username": 42, "password": "long enough"}),
        json!({"username": "dave", "password": ["long enough"]}),
        json!({"username": "da", "password": "long enough"}),
        json!({"username": "dave!", "password": "long enough"}),
        json!({"username": "d".repeat(33), "password": "long enough"}),
        json!({"username": "dave", "password": "short"}),
        json!({"username": "dave", "password": "p".repeat(257)}),
        json!({"username": "dave", "password": "long enough", "email": "not-an-email"}),
        json!({"username": "dave", "password": "long enough", "fullname": long}),
        json!({"username": "dave", "password": "long enough", "date_of_birth": "2001-02-30"}),
        json!({"username": "dave", "password": "long enough", "first_name": "bell\u{7}"}),
    ];
    for body in cases {
        let reply = app.post("/auth/register", None, body.clone()).await;
        reply.assert_problem(400, "invalid_request");
    }
    let huge = json!({"username": "dave", "password": "long enough", "fullname": "y".repeat(70_000)});
    app.post("/auth/register", None, huge).await.assert_problem(413, "payload_too_large");
    // None of it created dave.
    app.login("dave", "long enough").await.assert_problem(401, "invalid_credentials");
}

async fn login_by_username_or_email_sets_the_cookie(app: &TestApp) {
    app.register_with(json!({"username": "erin", "password": "erin-password", "email": "erin@example.com"})).await;
    for identifier in ["erin", "ERIN", "erin@example.com", "Erin@Example.com"] {
        let reply = app.login(identifier, "erin-password").await;
        let body = reply.assert_status(200);
        assert_eq!(body["user"]["username"], "erin");
        assert_eq!(body["expires_in"], 900);
        let cookie = reply.headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with(&format!("login-token={}", body["access_token"].as_str().unwrap())));
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Max-Age=900"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
    }
    let by_email_field =
        app.post("/auth/login", None, json!({"email": "erin@example.com", "password": "erin-password"})).await;
    by_email_field.assert_status(200);
    app.post("/auth/login", None, json!({"password": "erin-password"})).await.assert_problem(400, "invalid_request");
}

async fn unknown_user_and_wrong_password_look_the_same(app: &TestApp) {
    app.register("frank").await;
    let wrong = app.login("frank", "not the password").await;
    let unknown = app.login("nobody", "not the password").await;
    let unknown_email = app.login("nobody@example.com", "not the password").await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    unknown_email.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.json, unknown.json);
    assert_eq!(wrong.json, unknown_email.json);
}

async fn five_failed_logins_throttle_until_the_window_passes(app: &TestApp) {
    app.register("grace").await;
    for _ in 0..5 {
        app.login("grace", "wrong password").await.assert_problem(401, "invalid_credentials");
    }
    // Even the right password waits now.
    let throttled = app.login("grace", "grace-password").await;
    throttled.assert_problem(429, "too_many_requests");
    let retry_after: u64 = throttled.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "Retry-After {retry_after}");
    // Another user is not affected.
    app.register("heidi").await;
    app.login("heidi", "heidi-password").await.assert_status(200);
    // Once the window has passed, the right password works again and the count starts over.
    app.clock.advance_ms(15 * 60 * 1000 + 1000);
    app.login("grace", "grace-password").await.assert_status(200);
    app.login("grace", "wrong password").await.assert_problem(401, "invalid_credentials");
    app.login("grace", "grace-password").await.assert_status(200);
}

async fn refresh_rotates_and_reuse_revokes_the_family(app: &TestApp) {
    let ivan = app.register("ivan").await;
    let first = app.post("/auth/refresh", None, json!({"refresh_token": ivan.refresh})).await;
    let body = first.assert_status(200).clone();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let second_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, ivan.refresh);
    app.get("/auth/verify", body["access_token"].as_str().unwrap()).await.assert_status(200);

    // Another session of ivan's, which reuse in the first must not touch.
    let other = app.login("ivan", "ivan-password").await.json["refresh_token"].as_str().unwrap().to_owned();

    // The rotated token presented again: refused, and the whole family with it.
    app.post("/auth/refresh", None, json!({"refresh_token": ivan.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.post("/auth/refresh", None, json!({"refresh_token": second_refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.post("/auth/refresh", None, json!({"refresh_token": other})).await.assert_status(200);

    for bad in
        [json!({"refresh_token": "made-up"}), json!({"refresh_token": ""}), json!({}), json!({"refresh_token": 7})]
    {
        let reply = app.post("/auth/refresh", None, bad).await;
        assert!(matches!(reply.status.as_u16(), 400 | 401), "{}", reply.text);
    }

    // Refresh tokens expire after 30 days.
    let judy = app.register("judy").await;
    app.clock.advance_ms(30 * 24 * 3600 * 1000 + 1000);
    app.post("/auth/refresh", None, json!({"refresh_token": judy.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
}

async fn logout_revokes_one_session_or_all(app: &TestApp) {
    let kim = app.register("kim").await;
    let second = app.login("kim", "kim-password").await.json.clone();
    let second_refresh = second["refresh_token"].as_str().unwrap();

    // One session: only that refresh token stops working.
    let reply = app.post("/auth/logout", Some(&kim.access), json!({"refresh_token": kim.refresh})).await;
    assert_eq!(reply.status, 204);
    assert!(reply.text.is_empty());
    app.post("/auth/refresh", None, json!({"refresh_token": kim.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    let rotated = app.post("/auth/refresh", None, json!({"refresh_token": second_refresh})).await;
    let third_refresh = rotated.assert_status(200)["refresh_token"].as_str().unwrap().to_owned();

    // No body: the session of the access token used.
    let fourth = app.login("kim", "kim-password").await.json.clone();
    let reply = app.call("POST", "/auth/logout", fourth["access_token"].as_str(), None).await;
    assert_eq!(reply.status, 204);
    app.post("/auth/refresh", None, json!({"refresh_token": fourth["refresh_token"]}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.post("/auth/refresh", None, json!({"refresh_token": third_refresh.clone()})).await.assert_status(200);

    // All: every session.
    let fifth = app.login("kim", "kim-password").await.json.clone();
    let reply = app.post("/auth/logout", fifth["access_token"].as_str(), json!({"all": true})).await;
    assert_eq!(reply.status, 204);
    for token in [fifth["refresh_token"].as_str().unwrap()] {
        app.post("/auth/refresh", None, json!({"refresh_token": token}))
            .await
            .assert_problem(401, "invalid_refresh_token");
    }
    app.post("/auth/logout", None, json!({})).await.assert_problem(401, "unauthorized");
    app.post("/auth/logout", Some(&kim.access), json!({"all": "yes"})).await.assert_problem(400, "invalid_request");
}

/// `GET /.well-known/jwks.json` needs no token and publishes the public key, with its kid, that
/// verifies the tokens the API issues: checked here with aws-lc-rs alone, as another service would.
async fn jwks_publishes_the_key_that_verifies_tokens(app: &TestApp) {
    let reply = app.call("GET", "/.well-known/jwks.json", None, None).await;
    let set = reply.assert_status(200);
    assert_eq!(reply.headers["content-type"], "application/jwk-set+json");
    assert!(reply.headers["cache-control"].to_str().unwrap().contains("max-age="));
    let key = &set["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"), &json!("sig"))
    );
    assert!(key.get("d").is_none(), "the private key is published: {set}");

    let ann = app.register("ann").await;
    let parts: Vec<&str> = ann.access.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], key["kid"]);
    let public = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &public)
        .verify(signed.as_bytes(), &signature)
        .expect("the token verifies with the published key");
    // So does a token of the refresh function's.
    let refreshed = app.post("/auth/refresh", None, json!({"refresh_token": ann.refresh})).await;
    let refreshed = refreshed.assert_status(200)["access_token"].as_str().unwrap().to_owned();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(refreshed.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], key["kid"]);
}

async fn verify_accepts_bearer_or_cookie_and_refuses_bad_tokens(app: &TestApp) {
    let leo = app.register("leo").await;
    let reply = app.get("/auth/verify", &leo.access).await;
    let body = reply.assert_status(200);
    assert_eq!(body["username"], "leo");
    let expires_at = body["expires_at"].as_i64().unwrap();
    let now = app.clock_now();
    assert!(expires_at > now + 890_000 && expires_at <= now + 901_000, "expires_at {expires_at} vs now {now}");

    let by_cookie = app
        .send(
            app.http
                .get(format!("{}/auth/verify", app.url))
                .header("cookie", format!("theme=dark; login-token={}", leo.access)),
        )
        .await;
    assert_eq!(by_cookie.assert_status(200)["username"], "leo");

    // A correctly signed token of our own making, to show the forging helper is sound.
    let (kid, _) = published_key(app).await;
    let iat = now / 1000;
    let claims = json!({"sub": "leo", "iat": iat, "exp": iat + 900, "jti": "t"});
    let genuine = forge(json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), claims, &test_seed());
    app.get("/auth/verify", &genuine).await.assert_status(200);

    // Another key under our kid; our key under another kid or none; HS256 keyed with the public
    // key (as text and as bytes); alg none; expired; a payload swapped under a real signature.
    let tampered = {
        let parts: Vec<&str> = leo.access.split('.').collect();
        let evil =
            URL_SAFE_NO_PAD.encode(json!({"sub": "admin", "iat": iat, "exp": iat + 900, "jti": "t"}).to_string());
        format!("{}.{}.{}", parts[0], evil, parts[2])
    };
    let mut bad_tokens: Vec<String> = bad_tokens(app, "leo").await.into_iter().map(|(_, token)| token).collect();
    bad_tokens.push(tampered);
    bad_tokens.extend(["garbage".into(), "a.b.c".into(), "x".repeat(5000)]);
    for bad in bad_tokens {
        let reply = app.get("/auth/verify", &bad).await;
        assert_eq!(reply.status, 401, "{bad:.40} gave {}", reply.text);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    app.call("GET", "/auth/verify", None, None).await.assert_problem(401, "unauthorized");
    let basic =
        app.send(app.http.get(format!("{}/auth/verify", app.url)).header("authorization", "Basic bGVvOnB3")).await;
    basic.assert_problem(401, "unauthorized");

    // The real token expires after 15 minutes.
    app.clock.advance_ms(15 * 60 * 1000);
    app.get("/auth/verify", &leo.access).await.assert_problem(401, "token_expired");
}

async fn every_authenticated_route_refuses_missing_and_bad_tokens(app: &TestApp) {
    let routes = [
        ("POST", "/auth/logout"),
        ("GET", "/auth/verify"),
        ("GET", "/users/me"),
        ("PATCH", "/users/me"),
        ("GET", "/users"),
        ("GET", "/users/someone"),
        ("GET", "/contacts"),
        ("POST", "/contacts"),
        ("DELETE", "/contacts/someone"),
    ];
    for (method, path) in routes {
        for token in [None, Some("not.a.token")] {
            let reply = app.call(method, path, token, Some(json!({}))).await;
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}: {}", reply.text);
        }
    }
}

async fn profile_updates_and_clears_fields(app: &TestApp) {
    let mia = app
        .register_with(json!({"username": "mia", "password": "mia-password", "role": "dev", "first_name": "Mia"}))
        .await;
    let reply = app
        .patch(
            "/users/me",
            &mia.access,
            json!({"fullname": "Mia Wallace", "last_name": "Wallace", "role": null, "date_of_birth": "1990-01-31"}),
        )
        .await;
    let user = reply.assert_status(200).clone();
    assert_eq!(user["fullname"], "Mia Wallace");
    assert_eq!(user["first_name"], "Mia");
    assert_eq!(user["last_name"], "Wallace");
    assert!(user.get("role").is_none(), "role was cleared: {user}");
    assert_eq!(user["date_of_birth"], "1990-01-31");
    assert_eq!(app.get("/users/me", &mia.access).await.json, user);

    // Nothing to change is fine.
    assert_eq!(app.patch("/users/me", &mia.access, json!({})).await.assert_status(200), &user);

    for bad in [
        json!({"username": "other"}),
        json!({"fullname": 5}),
        json!({"fullname": "z".repeat(101)}),
        json!({"date_of_birth": "31/01/1990"}),
        json!({"email": "nope"}),
        json!({"new_password": "only-the-new-one"}),
        json!("[1,2]"),
    ] {
        app.patch("/users/me", &mia.access, bad).await.assert_problem(400, "invalid_request");
    }
    app.patch("/users/me", &mia.access, json!({"avatar_file_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}))
        .await
        .assert_problem(400, "file_not_uploaded");
    // The refused changes changed nothing.
    assert_eq!(app.get("/users/me", &mia.access).await.json, user);
}

async fn email_change_moves_the_unique_claim(app: &TestApp) {
    let nina =
        app.register_with(json!({"username": "nina", "password": "nina-password", "email": "nina@old.example"})).await;
    let omar =
        app.register_with(json!({"username": "omar", "password": "omar-password", "email": "omar@example.com"})).await;
    app.patch("/users/me", &nina.access, json!({"email": "OMAR@example.com"})).await.assert_problem(409, "email_taken");
    let moved = app.patch("/users/me", &nina.access, json!({"email": "Nina@New.example"})).await;
    assert_eq!(moved.assert_status(200)["email"], "nina@new.example");
    app.login("nina@new.example", "nina-password").await.assert_status(200);
    app.login("nina@old.example", "nina-password").await.assert_problem(401, "invalid_credentials");
    // The old address is free again.
    app.patch("/users/me", &omar.access, json!({"email": "nina@old.example"})).await.assert_status(200);
    app.login("nina@old.example", "omar-password").await.assert_status(200);
    // Clearing the email frees it too.
    let cleared = app.patch("/users/me", &nina.access, json!({"email": null})).await;
    assert!(cleared.assert_status(200).get("email").is_none());
    app.register_with(json!({"username": "pia", "password": "pia-password", "email": "nina@new.example"})).await;
}

async fn password_change_revokes_other_sessions(app: &TestApp) {
    let quinn = app.register("quinn").await;
    let other = app.login("quinn", "quinn-password").await.json.clone();
    app.patch(
        "/users/me",
        &quinn.access,
        json!({"current_password": "wrong-password", "new_password": "brand-new-password"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.patch("/users/me", &quinn.access, json!({"current_password": "quinn-password", "new_password": "short"}))
        .await
        .assert_problem(400, "invalid_request");
    let changed = app
        .patch(
            "/users/me",
            &quinn.access,
            json!({"current_password": "quinn-password", "new_password": "brand-new-password"}),
        )
        .await;
    changed.assert_status(200);
    app.login("quinn", "quinn-password").await.assert_problem(401, "invalid_credentials");
    app.login("quinn", "brand-new-password").await.assert_status(200);
    // The other session is over; the one that changed the password goes on.
    app.post("/auth/refresh", None, json!({"refresh_token": other["refresh_token"]}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.post("/auth/refresh", None, json!({"refresh_token": quinn.refresh})).await.assert_status(200);
}

async fn directory_pages_by_prefix_without_gaps(app: &TestApp) {
    let names = ["ray", "rita", "rob", "roberta", "rose", "rudy", "sam"];
    let mut sessions: Vec<Session> = Vec::new();
    for name in names {
        sessions.push(app.register(name).await);
    }
    let token = &sessions[0].access;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/users?prefix=R&limit=2&cursor={c}"),
            None => "/users?prefix=R&limit=2".to_owned(),
        };
        let page = app.get(&path, token).await.assert_status(200).clone();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for user in items {
            assert!(user.get("email").is_none());
            seen.push(user["username"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["ray", "rita", "rob", "roberta", "rose", "rudy"]);

    let rob = app.get("/users?prefix=rob", token).await;
    let rob_names: Vec<&str> =
        rob.json["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(rob_names, ["rob", "roberta"]);
    assert_eq!(rob.json["next_cursor"], Value::Null);
    let all = app.get("/users", token).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), names.len());
    assert_eq!(app.get("/users?prefix=zzz", token).await.json, json!({"items": [], "next_cursor": null}));
    // A cursor is a position: kept while the prefix changes, the page starts after it within the
    // prefix (before the prefix's names: from the first; after them: nothing), never a 500.
    let names_of = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        names_of(&app.get("/users?prefix=rob&cursor=rita", token).await.assert_status(200).clone()),
        ["rob", "roberta"]
    );
    assert_eq!(names_of(&app.get("/users?prefix=rob&cursor=rob", token).await.assert_status(200).clone()), ["roberta"]);
    assert_eq!(app.get("/users?prefix=rob&cursor=sam", token).await.json, json!({"items": [], "next_cursor": null}));

    for bad in [
        "/users?limit=0",
        "/users?limit=101",
        "/users?limit=abc",
        "/users?limit=-1",
        "/users?cursor=%%%",
        "/users?cursor=bm90IGEgdXNlcg",
    ] {
        app.get(bad, token).await.assert_problem(400, "invalid_request");
    }
}

async fn profiles_hide_private_fields_from_others(app: &TestApp) {
    let sue = app.register_with(json!({"username": "sue", "password": "sue-password", "email": "sue@example.com", "date_of_birth": "2000-01-01", "role": "ops"})).await;
    let tom = app.register("tom").await;
    let seen_by_tom = app.get("/users/SUE", &tom.access).await.assert_status(200).clone();
    assert_eq!(seen_by_tom["username"], "sue");
    assert_eq!(seen_by_tom["role"], "ops");
    assert!(seen_by_tom.get("email").is_none() && seen_by_tom.get("date_of_birth").is_none());
    assert_eq!(seen_by_tom["is_online"], false);
    let seen_by_sue = app.get("/users/sue", &sue.access).await;
    assert_eq!(seen_by_sue.assert_status(200)["email"], "sue@example.com");
    app.get("/users/nobody", &tom.access).await.assert_problem(404, "not_found");
    app.get("/users/no%20such%20user", &tom.access).await.assert_problem(404, "not_found");
}

async fn contacts_add_list_remove(app: &TestApp) {
    let uma =
        app.register_with(json!({"username": "uma", "password": "uma-password", "email": "uma@example.com"})).await;
    for name in ["vic", "walt", "xena"] {
        app.register_with(json!({"username": name, "password": "long enough", "email": format!("{name}@example.com")}))
            .await;
    }
    let added = app.post("/contacts", Some(&uma.access), json!({"username": "Walt"})).await;
    let walt = added.assert_status(201);
    assert_eq!(walt["username"], "walt");
    assert!(walt.get("email").is_none());
    assert_eq!(walt["is_online"], false);
    app.post("/contacts", Some(&uma.access), json!({"username": "walt"})).await.assert_problem(409, "already_contact");
    app.post("/contacts", Some(&uma.access), json!({"username": "uma"})).await.assert_problem(400, "cannot_add_self");
    app.post("/contacts", Some(&uma.access), json!({"username": "ghost"})).await.assert_problem(404, "not_found");
    app.post("/contacts", Some(&uma.access), json!({"name": "vic"})).await.assert_problem(400, "invalid_request");
    app.post("/contacts", Some(&uma.access), json!({"username": "vic"})).await.assert_status(201);
    app.post("/contacts", Some(&uma.access), json!({"username": "xena"})).await.assert_status(201);

    let first = app.get("/contacts?limit=2", &uma.access).await.assert_status(200).clone();
    let names: Vec<&str> = first["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["vic", "walt"]);
    for user in first["items"].as_array().unwrap() {
        assert!(user.get("is_online").is_some() && user.get("last_online").is_some());
        assert!(user.get("email").is_none());
    }
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/contacts?limit=2&cursor={cursor}"), &uma.access).await;
    assert_eq!(rest.json["items"][0]["username"], "xena");
    assert_eq!(rest.json["next_cursor"], Value::Null);

    // Contacts are one-way: walt's list is empty.
    let walt_session = app.login("walt", "long enough").await.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/contacts", &walt_session).await.json, json!({"items": [], "next_cursor": null}));

    let removed = app.delete("/contacts/walt", &uma.access).await;
    assert_eq!(removed.status, 204);
    app.delete("/contacts/walt", &uma.access).await.assert_problem(404, "not_found");
    let after: Vec<String> = app.get("/contacts", &uma.access).await.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(after, ["vic", "xena"]);
    app.get("/contacts?limit=1000", &uma.access).await.assert_problem(400, "invalid_request");
}

async fn malformed_bodies_never_cause_a_server_error(app: &TestApp) {
    let yan = app.register("yan").await;
    let bodies = [
        json!("{"),
        json!("null"),
        json!("\"a string\""),
        json!("12"),
        json!("{\"username\": \"\\ud800\"}"),
        json!({"username": null, "password": null}),
        json!({"username": {"nested": true}, "password": [1, 2]}),
        json!({"username": "", "password": "", "email": "", "refresh_token": "", "all": 1}),
        json!({"username": "\u{0}\u{0}\u{0}", "password": "\u{0}".repeat(300)}),
        json!({"fullname": "名前".repeat(60)}),
    ];
    let routes = [
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        ("PATCH", "/users/me"),
        ("POST", "/contacts"),
    ];
    for (method, path) in routes {
        for body in &bodies {
            // TestApp::send fails the test on any 5xx.
            let reply = app.call(method, path, Some(&yan.access), Some(body.clone())).await;
            assert!(reply.status.is_client_error() || reply.status.is_success(), "{method} {path}: {}", reply.text);
        }
    }
    // A body is an object: an array of the fields in order is not one (serde would take it).
    let array = json!(["arrayuser", "array-password"]);
    app.call("POST", "/auth/register", None, Some(array)).await.assert_problem(400, "invalid_request");
    let array = json!([null, {"old_password": "x"}]);
    app.call("PATCH", "/users/me", Some(&yan.access), Some(array)).await.assert_problem(400, "invalid_request");
    let odd_paths = ["/users/%ff%fe", "/contacts/%00", "/users/..", "/users?prefix=%ff", "/users?prefix="];
    for path in odd_paths {
        app.get(path, &yan.access).await;
        app.delete(path, &yan.access).await;
    }
}
