use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/jwt/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).expect("a test key")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(sandbox: &str, role: Option<&str>, exp: u64) -> Value {
    let mut claims = json!({ "sub": "u1", "sandbox": sandbox, "exp": exp });
    if let Some(role) = role {
        claims["role"] = json!(role);
    }
    claims
}

fn token(alg: Algorithm, key: &EncodingKey, claims: &Value) -> Token {
    let jwt = jsonwebtoken::encode(&Header::new(alg), claims, key).expect("signs");
    Token::new(jwt).expect("non-empty")
}

fn hs(secret: &[u8], claims: &Value) -> Token {
    let key = EncodingKey::from_secret(secret).expect("an HS256 key");
    token(Algorithm::HS256, &key, claims)
}

const SECRET: &[u8] = b"an hs256 secret of at least 32 bytes";

fn refusal(access: &JwtAccess, token: &Token, sandbox: &str) -> &'static str {
    access
        .authorize(token, sandbox)
        .expect_err("refused")
        .reason()
}

#[test]
fn hs256_grants_the_token_sandbox_with_its_role_until_exp() {
    let mut file = SECRET.to_vec();
    file.push(b'\n');
    let access = JwtAccess::from_key(&file, None).expect("a secret");
    assert_eq!(access.algorithm(), JwtAlg::Hs256);
    let exp = now() + 600;

    let grant = access
        .authorize(&hs(SECRET, &claims("sb1", None, exp)), "sb1")
        .expect("rw by default");
    assert_eq!(&*grant.principal.user, "u1");
    assert_eq!(grant.principal.access, Access::ReadWrite);
    assert_eq!((grant.principal.name, grant.principal.color), (None, None));
    assert_eq!(
        grant.expires,
        Some(UNIX_EPOCH + Duration::from_secs(exp)),
        "the grant ends at exp"
    );
    let ro = access
        .authorize(&hs(SECRET, &claims("sb1", Some("ro"), exp)), "sb1")
        .expect("ro");
    assert_eq!(ro.principal.access, Access::ReadOnly);

    assert_eq!(
        refusal(&access, &hs(SECRET, &claims("sb1", None, exp)), "sb2"),
        "outside-sandbox"
    );
    assert_eq!(
        refusal(&access, &hs(SECRET, &claims("sb1", None, now() - 5)), "sb1"),
        "token-expired"
    );
    assert_eq!(
        refusal(
            &access,
            &hs(
                b"another secret, also 32 bytes long",
                &claims("sb1", None, exp)
            ),
            "sb1"
        ),
        "bad-token"
    );
    assert_eq!(
        refusal(
            &access,
            &hs(SECRET, &claims("sb1", Some("admin"), exp)),
            "sb1"
        ),
        "bad-token"
    );
    let no_exp = json!({ "sub": "u1", "sandbox": "sb1" });
    assert_eq!(refusal(&access, &hs(SECRET, &no_exp), "sb1"), "bad-token");
    let no_sandbox = json!({ "sub": "u1", "exp": exp });
    assert_eq!(
        refusal(&access, &hs(SECRET, &no_sandbox), "sb1"),
        "bad-token"
    );
    let future = json!({ "sub": "u1", "sandbox": "sb1", "exp": exp, "nbf": exp - 10 });
    assert_eq!(refusal(&access, &hs(SECRET, &future), "sb1"), "bad-token");
    for junk in ["x", "a.b.c", "eyJ.eyJ.sig"] {
        let junk = Token::new(junk.to_owned()).expect("non-empty");
        assert_eq!(refusal(&access, &junk, "sb1"), "bad-token");
    }
}

#[test]
fn es256_and_rs256_keys_pick_their_algorithm_and_refuse_others() {
    let exp = now() + 600;
    let es = JwtAccess::from_key(&fixture("es256-public.pem"), None).expect("an EC key");
    assert_eq!(es.algorithm(), JwtAlg::Es256);
    let signer = EncodingKey::from_ec_pem(&fixture("es256-private.pem")).expect("EC private");
    let good = token(Algorithm::ES256, &signer, &claims("sb1", None, exp));
    assert!(es.authorize(&good, "sb1").is_ok());
    let other = EncodingKey::from_ec_pem(&fixture("es256-other-private.pem")).expect("EC private");
    let wrong_key = token(Algorithm::ES256, &other, &claims("sb1", None, exp));
    assert_eq!(refusal(&es, &wrong_key, "sb1"), "bad-token");
    // Algorithm confusion: an HS256 token keyed with the public key's text.
    let confused = hs(&fixture("es256-public.pem"), &claims("sb1", None, exp));
    assert_eq!(refusal(&es, &confused, "sb1"), "bad-token");

    let rs = JwtAccess::from_key(&fixture("rs256-public.pem"), None).expect("an RSA key");
    assert_eq!(rs.algorithm(), JwtAlg::Rs256);
    let signer = EncodingKey::from_rsa_pem(&fixture("rs256-private.pem")).expect("RSA private");
    let good = token(Algorithm::RS256, &signer, &claims("sb1", Some("ro"), exp));
    let grant = rs.authorize(&good, "sb1").expect("valid");
    assert_eq!(grant.principal.access, Access::ReadOnly);
    assert_eq!(refusal(&rs, &wrong_key, "sb1"), "bad-token");
}

#[test]
fn keys_that_do_not_fit_are_refused_at_start() {
    assert!(JwtAccess::from_key(b"", None).is_err(), "empty secret");
    assert!(JwtAccess::from_key(b"\n", None).is_err(), "empty secret");
    assert!(
        JwtAccess::from_key(&fixture("es256-private.pem"), None).is_err(),
        "a private key is not a verification key"
    );
    assert!(JwtAccess::from_key(&fixture("rs256-public.pem"), Some(JwtAlg::Es256)).is_err());
    assert!(JwtAccess::from_key(&fixture("es256-public.pem"), Some(JwtAlg::Rs256)).is_err());
    let forced = JwtAccess::from_key(SECRET, Some(JwtAlg::Hs256)).expect("a secret");
    assert_eq!(forced.algorithm(), JwtAlg::Hs256);
}
