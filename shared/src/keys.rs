//! Access-token keys: EdDSA (Ed25519) with a `kid` in every token's header.
//!
//! Only the functions that issue tokens (register, login, refresh) hold a [`SigningKey`]: on AWS
//! they read it from Secrets Manager at cold start. Every function verifies with the public keys of
//! a [`Keyring`], which on AWS come from configuration (`JWT_PUBLIC_KEYS`, a JWK set) and are
//! published at `GET /.well-known/jwks.json`. Rotation is by `kid`: the set may hold the new key
//! and the old one while tokens signed with the old one are still alive.
//!
//! Key formats are the standard ones: a private key is an OKP JWK with `d` (RFC 8037), the public
//! keys a JWK set (RFC 7517), and a key's `kid` is its RFC 7638 thumbprint unless one is given.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
    OctetKeyPairType, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{Claims, ACCESS_TOKEN_TTL_SECS};
use crate::error::{ApiError, ConfigError};

/// The smallest key material [`SigningKey::from_material`] accepts: 256 bits.
pub const MIN_KEY_MATERIAL_BYTES: usize = 32;

/// The longest token we try to verify.
const MAX_TOKEN_BYTES: usize = 4096;

/// An Ed25519 private key with its `kid`.
#[derive(Clone)]
pub struct SigningKey {
    seed: [u8; 32],
    encoding: EncodingKey,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

/// A private key as a JWK (RFC 8037): what the signing-key secret holds.
#[derive(Serialize, Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    d: String,
}

impl SigningKey {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        Self::from_seed(seed, None).expect("any 32 bytes are an Ed25519 seed")
    }

    /// The key pair of this 32-byte seed, with `kid` (default: the public key's thumbprint).
    fn from_seed(seed: [u8; 32], kid: Option<String>) -> Result<Self, ConfigError> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| ConfigError::BadKey("not an Ed25519 seed"))?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| ConfigError::BadKey("cannot encode the key as PKCS#8"))?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let mut public = public_jwk(x, None);
        let kid = kid.unwrap_or_else(|| public.thumbprint(ThumbprintHash::SHA256));
        public.common.key_id = Some(kid);
        Ok(Self { seed, encoding: EncodingKey::from_ed_der(pkcs8.as_ref()), public })
    }

    /// A private JWK (`{"kty":"OKP","crv":"Ed25519","d":…}`, with `kid` and `x` optional; `x`, when
    /// present, must be `d`'s public key): the format of the signing-key secret.
    pub fn from_private_jwk(text: &str) -> Result<Self, ConfigError> {
        let jwk: PrivateJwk =
            serde_json::from_str(text).map_err(|_| ConfigError::BadKey("not a JSON Web Key with a private part"))?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(ConfigError::BadKey("not an Ed25519 key (kty OKP, crv Ed25519)"));
        }
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(jwk.d.trim_end_matches('='))
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or(ConfigError::BadKey("d is not 32 base64url bytes"))?;
        let key = Self::from_seed(seed, jwk.kid)?;
        if jwk.x.is_some_and(|x| x.trim_end_matches('=') != key.x()) {
            return Err(ConfigError::BadKey("x is not the public key of d"));
        }
        Ok(key)
    }

    /// For the local gateway and tests: a private JWK as [`from_private_jwk`](Self::from_private_jwk)
    /// reads it, or else at least 32 bytes of key material, hashed (SHA-256) into the seed, so the
    /// same material always gives the same key pair.
    pub fn from_material(material: &[u8]) -> Result<Self, ConfigError> {
        if let Some(text) = std::str::from_utf8(material).ok().filter(|t| t.trim_start().starts_with('{')) {
            return Self::from_private_jwk(text);
        }
        if material.len() < MIN_KEY_MATERIAL_BYTES {
            return Err(ConfigError::WeakSecret(MIN_KEY_MATERIAL_BYTES));
        }
        Self::from_seed(Sha256::digest(material).into(), None)
    }

    pub fn kid(&self) -> &str {
        self.public.common.key_id.as_deref().unwrap_or_default()
    }

    fn x(&self) -> &str {
        match &self.public.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => &okp.x,
            _ => "",
        }
    }

    /// The public half, as published.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The private JWK, for the signing-key secret (`chathub-local keys` prints it).
    pub fn to_private_jwk(&self) -> String {
        serde_json::to_string(&PrivateJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: Some(self.kid().to_owned()),
            x: Some(self.x().to_owned()),
            d: URL_SAFE_NO_PAD.encode(self.seed),
        })
        .unwrap_or_default()
    }
}

/// The public JWK of an Ed25519 key: for signatures, EdDSA.
fn public_jwk(x: String, kid: Option<String>) -> Jwk {
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            key_id: kid,
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x,
        }),
    }
}

/// The public keys every function verifies access tokens with (published as a JWK set).
#[derive(Clone)]
pub struct Keyring {
    published: JwkSet,
    verifiers: Vec<(String, DecodingKey)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("verifies", &self.verifiers.iter().map(|(kid, _)| kid).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Verifies with the Ed25519 keys of `jwks` (a JWK set, as `JWT_PUBLIC_KEYS` holds it); signs
    /// nothing. Every key needs a `kid`; keys of other types are refused, not skipped, so a
    /// mistyped set fails at cold start instead of at the first token.
    pub fn verifying(jwks: &str) -> Result<Self, ConfigError> {
        let set: JwkSet =
            serde_json::from_str(jwks).map_err(|_| ConfigError::BadKey("JWT_PUBLIC_KEYS is not a JWK set"))?;
        if set.keys.is_empty() {
            return Err(ConfigError::BadKey("JWT_PUBLIC_KEYS holds no key"));
        }
        let mut published = JwkSet { keys: Vec::new() };
        let mut verifiers = Vec::new();
        for jwk in set.keys {
            let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
                return Err(ConfigError::BadKey("JWT_PUBLIC_KEYS holds a key that is not Ed25519"));
            };
            let decoded = URL_SAFE_NO_PAD.decode(okp.x.trim_end_matches('=')).map(|x| x.len());
            if okp.curve != EllipticCurve::Ed25519 || decoded != Ok(32) {
                return Err(ConfigError::BadKey("JWT_PUBLIC_KEYS holds a key that is not Ed25519"));
            }
            let kid =
                jwk.common.key_id.clone().ok_or(ConfigError::BadKey("JWT_PUBLIC_KEYS holds a key without kid"))?;
            if verifiers.iter().any(|(known, _)| *known == kid) {
                return Err(ConfigError::BadKey("JWT_PUBLIC_KEYS holds two keys with one kid"));
            }
            let key =
                DecodingKey::from_jwk(&jwk).map_err(|_| ConfigError::BadKey("JWT_PUBLIC_KEYS holds a bad key"))?;
            // Published as an Ed25519 signature key whatever optional members it came with.
            published.keys.push(public_jwk(okp.x.trim_end_matches('=').to_owned(), Some(kid.clone())));
            verifiers.push((kid, key));
        }
        Ok(Self { published, verifiers })
    }

    /// Verifies with `key`'s public key alone: the local gateway and tests.
    pub fn local(key: &SigningKey) -> Self {
        let set = serde_json::json!({ "keys": [key.public_jwk()] }).to_string();
        Self::verifying(&set).expect("a key pair's own public key is a valid set")
    }

    /// The public keys, as `GET /.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> &JwkSet {
        &self.published
    }

    /// Verifies a token: EdDSA only (`none`, HMAC and every other algorithm are refused), signed by
    /// the key its `kid` names in this set, and unexpired by the caller's clock.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Claims, ApiError> {
        let invalid = || ApiError::Unauthorized { code: "invalid_token", detail: "access token is invalid" };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.verifiers.iter().find(|(known, _)| *known == kid).map(|(_, key)| key).ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked below against our own clock, so tests can move time.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["sub", "exp", "iat"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| invalid())?;
        if data.claims.exp * 1000 <= now_ms {
            return Err(ApiError::Unauthorized { code: "token_expired", detail: "access token has expired" });
        }
        Ok(data.claims)
    }
}

/// The capability to issue access tokens: a signing key whose public key the functions verify
/// with. Only the functions that issue tokens hold one (`crate::clients::Signs`).
#[derive(Clone, Debug)]
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// Signs with `key`, whose public key must be in `keys`: a token nobody else could verify
    /// would be a rotation done in the wrong order.
    pub fn new(key: SigningKey, keys: &Keyring) -> Result<Self, ConfigError> {
        if !keys.verifiers.iter().any(|(kid, _)| kid == key.kid()) {
            return Err(ConfigError::BadKey("the signing key's kid is not in JWT_PUBLIC_KEYS"));
        }
        if keys.published.find(key.kid()) != Some(key.public_jwk()) {
            return Err(ConfigError::BadKey("JWT_PUBLIC_KEYS holds another public key under the signing key's kid"));
        }
        Ok(Self { key })
    }

    /// Signs with `key` and is verified by [`Keyring::local`] of the same key: the local gateway
    /// and tests.
    pub fn local(key: SigningKey) -> Self {
        Self { key }
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs an access token for `username` in session `sid`, valid from `now_ms` for 15 minutes.
    pub fn issue(&self, username: &str, sid: &str, now_ms: i64) -> Result<String, ApiError> {
        let iat = now_ms / 1000;
        let claims = Claims {
            sub: username.to_owned(),
            iat,
            exp: iat + ACCESS_TOKEN_TTL_SECS,
            jti: ulid::Ulid::new().to_string(),
            sid: Some(sid.to_owned()),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid().to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(|e| ApiError::internal(format!("jwt encode: {e}")))
    }
}

/// The signing key in the Secrets Manager secret `secret_id` (a name or ARN; its value a private
/// JWK): read once per cold start of a function that issues tokens.
pub async fn signing_key_from_secrets_manager(
    shared: &aws_config::SdkConfig,
    secret_id: &str,
) -> Result<SigningKey, ConfigError> {
    let started = std::time::Instant::now();
    let output = aws_sdk_secretsmanager::Client::new(shared)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| ConfigError::SigningKeyUnavailable(Box::new(e)))?;
    let key = SigningKey::from_private_jwk(output.secret_string().unwrap_or_default())?;
    tracing::info!(kid = key.kid(), ms = started.elapsed().as_secs_f64() * 1000.0, "signing key read");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn set_of(keys: &[&SigningKey]) -> String {
        serde_json::json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() }).to_string()
    }

    fn payload(claims: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(claims.to_string())
    }

    #[test]
    fn tokens_carry_the_kid_verify_and_expire() {
        let key = SigningKey::generate();
        let keys = Keyring::local(&key);
        let token = Signer::local(key.clone()).issue("alice", "s1", NOW).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let claims = keys.verify(&token, NOW + 1000).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_deref(), claims.exp - claims.iat), ("alice", Some("s1"), 900));
        let late = NOW + ACCESS_TOKEN_TTL_SECS * 1000;
        assert!(matches!(keys.verify(&token, late), Err(ApiError::Unauthorized { code: "token_expired", .. })));
    }

    #[test]
    fn a_verifying_keyring_checks_tokens_of_the_keys_it_publishes() {
        // It cannot sign: a Keyring has no private key and no way to issue (only a Signer does,
        // and only the functions whose clients include `Signs` hold one).
        let signer = SigningKey::generate();
        let token = Signer::local(signer.clone()).issue("alice", "s1", NOW).unwrap();
        let verifier = Keyring::verifying(&set_of(&[&signer])).unwrap();
        assert_eq!(verifier.verify(&token, NOW).unwrap().sub, "alice");
        assert!(Signer::new(signer, &verifier).is_ok());
    }

    #[test]
    fn rotation_accepts_both_keys_of_the_set_and_no_other() {
        let (old, new, stranger) = (SigningKey::generate(), SigningKey::generate(), SigningKey::generate());
        let both = set_of(&[&new, &old]);
        let verifier = Keyring::verifying(&both).unwrap();
        let by_old = Signer::new(old.clone(), &verifier).unwrap().issue("a", "s", NOW).unwrap();
        let by_new = Signer::new(new.clone(), &verifier).unwrap().issue("a", "s", NOW).unwrap();
        assert!(verifier.verify(&by_old, NOW).is_ok());
        assert!(verifier.verify(&by_new, NOW).is_ok());
        // After the old key leaves the set, its tokens stop verifying.
        assert!(Keyring::verifying(&set_of(&[&new])).unwrap().verify(&by_old, NOW).is_err());
        // A key outside the set: whether it names its own kid or a trusted one.
        assert!(verifier.verify(&Signer::local(stranger.clone()).issue("a", "s", NOW).unwrap(), NOW).is_err());
        let impostor = SigningKey::from_seed(stranger.seed, Some(new.kid().to_owned())).unwrap();
        assert!(verifier.verify(&Signer::local(impostor.clone()).issue("a", "s", NOW).unwrap(), NOW).is_err());
        // Signing with a key the set does not publish is refused at cold start.
        assert!(Signer::new(stranger, &verifier).is_err());
        assert!(Signer::new(impostor, &verifier).is_err());
    }

    #[test]
    fn none_hmac_and_missing_kids_are_refused() {
        let signer = SigningKey::generate();
        let keys = Keyring::local(&signer);
        let body = payload(serde_json::json!({"sub": "alice", "iat": NOW / 1000, "exp": NOW / 1000 + 900, "jti": "x"}));
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": signer.kid()}),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT"}),
        ] {
            let token = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header.to_string()));
            assert!(keys.verify(&token, NOW).is_err(), "{header} accepted");
        }
        // HMAC keyed with the public key (the classic algorithm confusion).
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(signer.kid().to_owned());
        let claims = Claims { sub: "alice".into(), iat: NOW / 1000, exp: NOW / 1000 + 900, jti: "x".into(), sid: None };
        for secret in [signer.x().as_bytes().to_vec(), URL_SAFE_NO_PAD.decode(signer.x()).unwrap()] {
            let hs256 = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
            assert!(keys.verify(&hs256, NOW).is_err());
        }
        // A valid token with its signature bit-flipped.
        let token = Signer::local(signer.clone()).issue("alice", "s1", NOW).unwrap();
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes[0] ^= 1;
        assert!(keys.verify(&format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes)), NOW).is_err());
    }

    #[test]
    fn private_jwks_round_trip_and_bad_ones_are_refused() {
        let key = SigningKey::generate();
        let again = SigningKey::from_private_jwk(&key.to_private_jwk()).unwrap();
        assert_eq!(again.public_jwk(), key.public_jwk());
        assert_eq!(key.kid(), key.public_jwk().thumbprint(ThumbprintHash::SHA256).as_str());
        let other = SigningKey::generate();
        let mismatched = key.to_private_jwk().replace(key.x(), other.x());
        for bad in [
            "",
            "{}",
            r#"{"kty":"RSA","crv":"Ed25519","d":"AAAA"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","d":"AAAA"}"#,
            mismatched.as_str(),
        ] {
            assert!(SigningKey::from_private_jwk(bad).is_err(), "{bad} accepted");
        }
        // Material: the same bytes give the same pair; short material is refused.
        let material = b"0123456789abcdef0123456789abcdef";
        assert_eq!(
            SigningKey::from_material(material).unwrap().kid(),
            SigningKey::from_material(material).unwrap().kid()
        );
        assert!(SigningKey::from_material(b"short").is_err());
        assert_eq!(SigningKey::from_material(key.to_private_jwk().as_bytes()).unwrap().kid(), key.kid());
    }

    #[test]
    fn public_sets_must_be_ed25519_with_distinct_kids() {
        let key = SigningKey::generate();
        let mut no_kid = key.public_jwk().clone();
        no_kid.common.key_id = None;
        let rsa = r#"{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}"#;
        for bad in [
            String::new(),
            r#"{"keys":[]}"#.to_owned(),
            rsa.to_owned(),
            serde_json::json!({"keys": [no_kid]}).to_string(),
            set_of(&[&key, &key]),
            serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"}]}).to_string(),
        ] {
            assert!(Keyring::verifying(&bad).is_err(), "{bad} accepted");
        }
        let published = serde_json::to_value(Keyring::verifying(&set_of(&[&key])).unwrap().jwks()).unwrap();
        assert_eq!(published["keys"][0]["kty"], "OKP");
        assert_eq!(published["keys"][0]["crv"], "Ed25519");
        assert_eq!(published["keys"][0]["alg"], "EdDSA");
        assert_eq!(published["keys"][0]["use"], "sig");
        assert_eq!(published["keys"][0]["kid"], key.kid());
        assert!(published["keys"][0].get("d").is_none());
    }
}
