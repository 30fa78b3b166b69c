//! `--auth jwt`: signed tokens carrying `sub`, `sandbox`, optional `role`, `exp`.
//!
//! | token                                  | read | write | close                  |
//! | -------------------------------------- | ---- | ----- | ---------------------- |
//! | HS256, sandbox sb1, no role (rw)       | yes  | yes   | -                      |
//! | HS256, sandbox sb1, `ro`               | yes  | no    | - (one read-only error) |
//! | past its `exp`                         | no   | no    | 4401 token-expired     |
//! | signed with another secret             | no   | no    | 4401 bad-token         |
//! | not a JWT / role `admin` / no `exp`    | no   | no    | 4401 bad-token         |
//! | none                                   | no   | no    | 4401 missing-token     |
//! | sandbox sb2 for a file of sb1          | no   | no    | 4403 outside-sandbox   |
//! | `exp` 3 s ahead                        | yes, until `exp` | yes | 4401 token-expired at `exp` |
//! | ES256 (key from a PEM): valid / other key / HS256 keyed with the PEM | yes / no / no | | - / 4401 / 4401 |

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use collab_protocol::close::{FORBIDDEN, UNAUTHENTICATED};
use collab_tests::admission::{admitted, refused};
use collab_tests::jwt::{claims, es256, fixture, hs256, now};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer};
use serde_json::json;

const FILE: &str = "sb1/app.ts";
const SECRET: &[u8] = b"jwt test secret: thirty-two bytes or more";

async fn text_is(client: &Client, want: &str) {
    client
        .wait_for(|c| c.text() == want, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("wanted {want:?}, have {:?}: {e:#}", client.text()));
}

/// A gateway under `--auth jwt` with the HS256 secret in a file (with a trailing line
/// break, as `echo` writes it).
async fn hs256_gateway(redis: &RedisServer, dir: &tempfile::TempDir) -> Gateway {
    let key = dir.path().join("jwt-secret");
    let mut file = SECRET.to_vec();
    file.push(b'\n');
    std::fs::write(&key, file).expect("writes the key");
    let key = key.to_str().expect("utf-8 path").to_owned();
    Gateway::start(&redis.url(), &["--auth", "jwt", "--jwt-key", &key])
        .await
        .expect("gateway")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hs256_tokens_open_their_sandbox_with_their_role_and_nothing_else() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = hs256_gateway(&redis, &dir).await;

    let writer =
        admitted(&gw.ws_url_with_token(FILE, &hs256(SECRET, &claims("w1", "sb1", None, 600))))
            .await
            .expect("an rw token syncs");
    writer.push("let a = 1;\n").expect("types");
    let reader_token = hs256(SECRET, &claims("r1", "sb1", Some("ro"), 600));
    let reader = admitted(&gw.ws_url_with_token(FILE, &reader_token))
        .await
        .expect("an ro token syncs");
    text_is(&reader, "let a = 1;\n").await;
    let second = admitted(
        &gw.ws_url_with_token(FILE, &hs256(SECRET, &claims("w2", "sb1", Some("rw"), 600))),
    )
    .await
    .expect("rw");
    second.push("let b = 2;\n").expect("types");
    let both = "let a = 1;\nlet b = 2;\n";
    text_is(&writer, both).await;
    text_is(&reader, both).await;

    reader.push("READER WAS HERE").expect("types locally");
    reader
        .wait_for(|c| !c.errors().is_empty(), DEADLINE)
        .await
        .expect("told read-only");
    writer.push("let c = 3;\n").expect("types");
    let all = "let a = 1;\nlet b = 2;\nlet c = 3;\n";
    text_is(&second, all).await;
    assert!(
        !writer.text().contains("READER"),
        "an ro edit reached a writer"
    );
    let notices: Vec<(u16, String)> = reader
        .errors()
        .into_iter()
        .map(|e| (e.code, e.reason))
        .collect();
    assert_eq!(notices, vec![(FORBIDDEN, "read-only".to_owned())]);
    assert_eq!(reader.closed_with(), None, "the ro connection stays open");
    let late = admitted(&gw.ws_url_with_token(FILE, &reader_token))
        .await
        .expect("late");
    text_is(&late, all).await;

    let wrong_secret = b"another secret, thirty-two bytes long";
    let rows = [
        (
            hs256(SECRET, &claims("w1", "sb1", None, -30)),
            UNAUTHENTICATED,
            "token-expired",
        ),
        (
            hs256(wrong_secret, &claims("w1", "sb1", None, 600)),
            UNAUTHENTICATED,
            "bad-token",
        ),
        (
            hs256(SECRET, &claims("w1", "sb1", Some("admin"), 600)),
            UNAUTHENTICATED,
            "bad-token",
        ),
        (
            hs256(SECRET, &json!({ "sub": "w1", "sandbox": "sb1" })),
            UNAUTHENTICATED,
            "bad-token",
        ),
        ("not.a.jwt".to_owned(), UNAUTHENTICATED, "bad-token"),
        (
            hs256(SECRET, &claims("w1", "sb2", None, 600)),
            FORBIDDEN,
            "outside-sandbox",
        ),
    ];
    for (token, code, reason) in rows {
        refused(&gw.ws_url_with_token(FILE, &token), code, reason)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    refused(&gw.ws_url(FILE), UNAUTHENTICATED, "missing-token")
        .await
        .expect("no token");
    // A token of sb2 opens sb2, not sb1.
    let sb2 = admitted(&gw.ws_url_with_token(
        "sb2/other.ts",
        &hs256(SECRET, &claims("w1", "sb2", None, 600)),
    ))
    .await
    .expect("sb2's token opens sb2");
    assert!(sb2.text().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_is_closed_with_4401_when_its_token_expires() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let gw = hs256_gateway(&redis, &dir).await;
    let exp = now() + 3;
    let token = hs256(
        SECRET,
        &json!({ "sub": "w1", "sandbox": "sb1", "exp": exp }),
    );
    let client = admitted(&gw.ws_url_with_token(FILE, &token))
        .await
        .expect("syncs");
    let long =
        admitted(&gw.ws_url_with_token(FILE, &hs256(SECRET, &claims("w2", "sb1", None, 600))))
            .await
            .expect("a longer token");
    client.push("before exp\n").expect("types");
    text_is(&long, "before exp\n").await;

    let code = client
        .wait_closed(Duration::from_secs(10))
        .await
        .expect("closed at exp");
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let exp_at = Duration::from_secs(exp as u64);
    assert_eq!(code, UNAUTHENTICATED);
    assert_eq!(client.close_reason(), "token-expired");
    let told: Vec<String> = client
        .errors_before_close()
        .into_iter()
        .map(|e| e.reason)
        .collect();
    assert_eq!(told, vec!["token-expired".to_owned()]);
    assert!(
        at + Duration::from_millis(100) >= exp_at,
        "closed {:?} before exp",
        exp_at - at
    );
    assert!(
        at <= exp_at + Duration::from_secs(2),
        "closed {:?} after exp",
        at - exp_at
    );
    // The other connection, whose token lives on, is untouched.
    long.push("after exp\n").expect("types");
    text_is(&long, "before exp\nafter exp\n").await;
    assert_eq!(long.closed_with(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn es256_tokens_are_checked_against_the_public_key() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let key = fixture("es256-public.pem");
    let key = key.to_str().expect("utf-8 path");
    let gw = Gateway::start(&redis.url(), &["--auth", "jwt", "--jwt-key", key])
        .await
        .expect("gateway");
    let good = es256("es256-private.pem", &claims("u1", "sb1", None, 600));
    let client = admitted(&gw.ws_url_with_token(FILE, &good))
        .await
        .expect("valid ES256");
    client.push("es256\n").expect("types");
    let other = es256("es256-other-private.pem", &claims("u1", "sb1", None, 600));
    refused(
        &gw.ws_url_with_token(FILE, &other),
        UNAUTHENTICATED,
        "bad-token",
    )
    .await
    .expect("another key");
    // Algorithm confusion: HS256 keyed with the public key's PEM text.
    let pem = std::fs::read(fixture("es256-public.pem")).expect("pem");
    let confused = hs256(&pem, &claims("u1", "sb1", None, 600));
    refused(
        &gw.ws_url_with_token(FILE, &confused),
        UNAUTHENTICATED,
        "bad-token",
    )
    .await
    .expect("HS256 with the public key");
    let expired = es256("es256-private.pem", &claims("u1", "sb1", None, -30));
    refused(
        &gw.ws_url_with_token(FILE, &expired),
        UNAUTHENTICATED,
        "token-expired",
    )
    .await
    .expect("expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_a_usable_key_does_not_start() {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let private = fixture("es256-private.pem");
    let private = private.to_str().expect("utf-8 path");
    for args in [
        vec!["--auth", "jwt"],
        vec!["--auth", "jwt", "--jwt-key", "/nonexistent/key.pem"],
        vec!["--auth", "jwt", "--jwt-key", private],
        vec!["--auth", "redis", "--jwt-key", private],
    ] {
        let started = Gateway::start(&redis.url(), &args).await;
        assert!(started.is_err(), "started with {args:?}");
    }
}
