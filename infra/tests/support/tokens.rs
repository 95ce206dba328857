//! Tokens made outside the code under test: signed with the gateway's test key or another, or
//! forged the ways attackers try (HS256 keyed with the public key, `alg: none`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::TestApp;

/// A JWT signed with the Ed25519 key of `seed`, by aws-lc-rs directly, not by the code under test.
pub fn forge(header: Value, claims: Value, seed: &[u8; 32]) -> String {
    let head = URL_SAFE_NO_PAD.encode(header.to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed).unwrap();
    let signature = URL_SAFE_NO_PAD.encode(pair.sign(format!("{head}.{body}").as_bytes()));
    format!("{head}.{body}.{signature}")
}

/// The gateway's signing seed in the tests: `TEST_SECRET` is key material, hashed into the seed.
pub fn test_seed() -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(super::TEST_SECRET).into()
}

/// HMAC-SHA256 by hand (RFC 2104): for tokens that try the HS256-with-the-public-key confusion.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).chain(message.iter().copied()).collect();
    let inner_hash = Sha256::digest(&inner);
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).chain(inner_hash.iter().copied()).collect();
    Sha256::digest(&outer).to_vec()
}

/// The one key of the gateway's JWK set: its kid and public key (`x`, base64url).
pub async fn published_key(app: &TestApp) -> (String, String) {
    let reply = app.call("GET", "/.well-known/jwks.json", None, None).await;
    let set = reply.assert_status(200);
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    (keys[0]["kid"].as_str().unwrap().to_owned(), keys[0]["x"].as_str().unwrap().to_owned())
}

/// What the tokens of `username` look like when they should not work: signed by another key
/// under the gateway's kid, under another kid, with no kid, `alg: none`, HS256 keyed with the
/// public key (as text and as bytes), expired, and not a token at all. Each with its name.
pub async fn bad_tokens(app: &TestApp, username: &str) -> Vec<(&'static str, String)> {
    let (kid, x) = published_key(app).await;
    let iat = app.clock_now() / 1000;
    let claims = json!({"sub": username, "iat": iat, "exp": iat + 900, "jti": "t"});
    let eddsa = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let hs256 = |key: &[u8]| {
        let head = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string());
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(key, format!("{head}.{body}").as_bytes()));
        format!("{head}.{body}.{mac}")
    };
    let expired = json!({"sub": username, "iat": iat - 2000, "exp": iat - 1000, "jti": "t"});
    vec![
        ("another key", forge(eddsa.clone(), claims.clone(), &[7u8; 32])),
        ("another kid", forge(json!({"alg": "EdDSA", "typ": "JWT", "kid": "another"}), claims.clone(), &test_seed())),
        ("no kid", forge(json!({"alg": "EdDSA", "typ": "JWT"}), claims.clone(), &test_seed())),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            ),
        ),
        ("HS256 keyed with the public key", hs256(x.as_bytes())),
        ("HS256 keyed with the public key's bytes", hs256(&URL_SAFE_NO_PAD.decode(&x).unwrap())),
        ("expired", forge(eddsa, expired, &test_seed())),
        ("not a token", "not.a.token".to_owned()),
    ]
}
