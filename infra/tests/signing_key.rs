//! Security finding 2, the deployed path: a function that issues tokens reads its Ed25519 key from
//! Secrets Manager at cold start (here the gateway's stand-in, through the unchanged SDK client,
//! signed with the run's keys), and the tokens it signs verify against the JWK set the API
//! publishes, as they must on AWS where the signer and the verifiers are different functions.

use chathub_gateway::{secrets::SIGNING_KEY_SECRET, sigv4, BlobChoice, Options, StoreChoice};
use chathub_shared::error::ConfigError;
use chathub_shared::keys::{signing_key_from_secrets_manager, Keyring, Signer};

#[tokio::test]
async fn issuers_read_the_key_from_secrets_manager_and_their_tokens_verify_everywhere() {
    let gateway = chathub_gateway::start_with_management_keys(
        Options {
            rest_addr: "127.0.0.1:0".parse().unwrap(),
            ws_addr: "127.0.0.1:0".parse().unwrap(),
            blobs: BlobChoice::Embedded {
                addr: "127.0.0.1:0".parse().unwrap(),
                root: std::env::temp_dir().join(format!("chathub-test-{}", ulid::Ulid::new())),
            },
            store: StoreChoice::Embedded,
            jwt_secret: chathub_gateway::signing_key(None),
            cors_origins: vec![],
            clock: None,
            limits: Default::default(),
            push_content: Default::default(),
            push_provider: None,
            ws_limits: Default::default(),
        },
        sigv4::Keys::new("issuer", "issuer-secret-issuer-secret"),
    )
    .await
    .unwrap();
    let endpoint = gateway.ws_url().replacen("ws://", "http://", 1);
    let sdk = |secret: &str| {
        let endpoint = endpoint.clone();
        let secret = secret.to_owned();
        async move {
            chathub_shared::aws::local_with_keys("issuer", &secret).await.to_builder().endpoint_url(endpoint).build()
        }
    };
    let http = reqwest::Client::new();
    let jwks = http.get(format!("{}/.well-known/jwks.json", gateway.rest_url())).send().await.unwrap();
    let jwks = jwks.text().await.unwrap();

    let key =
        signing_key_from_secrets_manager(&sdk("issuer-secret-issuer-secret").await, SIGNING_KEY_SECRET).await.unwrap();
    // The cold-start check of an issuing function: its key is in the published set.
    let signer = Signer::new(key, &Keyring::verifying(&jwks).unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let token = signer.issue("ann", "s1", now).unwrap();
    let verified = http.get(format!("{}/auth/verify", gateway.rest_url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(verified.status().as_u16(), 200);

    // Other credentials, or another secret's name, get no key: the function does not start.
    for (secret, id) in
        [("not-the-secret-not-the-secret", SIGNING_KEY_SECRET), ("issuer-secret-issuer-secret", "other")]
    {
        let refused = signing_key_from_secrets_manager(&sdk(secret).await, id).await;
        assert!(matches!(refused, Err(ConfigError::SigningKeyUnavailable(_))), "{secret} {id}: {refused:?}");
    }
    // A key the set does not publish is refused at cold start.
    let stranger = chathub_shared::keys::SigningKey::generate();
    assert!(matches!(Signer::new(stranger, &Keyring::verifying(&jwks).unwrap()), Err(ConfigError::BadKey(_))));
    gateway.shutdown().await;
}
