//! JWTs for `--auth jwt` tests: the claims the gateway reads (`sub`, `sandbox`, optional
//! `role`, `exp`), signed with a test secret or the test key pairs in `tests/fixtures/jwt`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// `tests/fixtures/jwt/NAME` (`es256-public.pem`, `es256-private.pem`, ...).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("jwt")
        .join(name)
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// `{"sub", "sandbox", "role"?, "exp": now + exp_in}`.
pub fn claims(sub: &str, sandbox: &str, role: Option<&str>, exp_in: i64) -> Value {
    let mut claims = json!({ "sub": sub, "sandbox": sandbox, "exp": now() + exp_in });
    if let Some(role) = role {
        claims["role"] = json!(role);
    }
    claims
}

/// `claims` signed with HS256 and `secret`.
pub fn hs256(secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret).expect("an HS256 key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("signs")
}

/// `claims` signed with ES256 and the PKCS#8 private key in fixture `private`.
pub fn es256(private: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(private)).expect("a fixture key");
    let key = EncodingKey::from_ec_pem(&pem).expect("an EC private key");
    jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).expect("signs")
}
