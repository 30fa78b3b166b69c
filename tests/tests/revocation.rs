//! Revocation of live connections under `--auth redis`: the platform changes its records
//! straight in Redis, behind the gateways' backs, and every gateway acts within 5 s.
//!
//! | change in Redis                          | connections affected            | effect                         |
//! | ---------------------------------------- | ------------------------------- | ------------------------------ |
//! | `DEL session:{token}`                    | that token's, on both gateways  | close 4401 `session-revoked`   |
//! | `PEXPIRE session:{token}` (it expires)   | that token's                    | close 4401 `session-revoked`   |
//! | `HSET user:{id} sandbox_id other`        | the user's, to its old sandbox  | close 4403 `access-revoked`    |
//! | `HDEL sandbox:{sid}:members {id}`        | the member's, to that sandbox   | close 4403 `access-revoked`    |
//! | `HSET sandbox:{sid}:members {id} ro`     | the member's                    | read-only, stays open          |
//! | `HSET sandbox:{sid}:members {id} rw`     | the member's                    | read-write again, stays open   |
//!
//! Each case has clients on both gateways and clients that must not be touched (another
//! session of the same user, other users, the user's other sandboxes), which stay open and
//! keep syncing. The gateways run with identity tracking (`CLIENT TRACKING` invalidation
//! pushes, the default) and a sweep set to 10 minutes, so only the pushes can act within
//! the bound: each case shows that path. The expiry case also turns Redis's active expiry
//! off, so no invalidation comes when the session's TTL runs out and only the gateways'
//! own deadlines (from `PTTL`) act. One deleted session runs with tracking off at the
//! default period (the 2 s sweep alone), to show the 5 s bound holds without it too. Each
//! case prints the latency it measured (`--nocapture` shows it).

use std::time::{Duration, Instant};

use collab_protocol::close::{FORBIDDEN, UNAUTHENTICATED};
use collab_tests::admission::admitted;
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisServer, eventually, prometheus};

/// The promise: every gateway acts on a change within this long.
const BOUND: Duration = Duration::from_secs(5);
const FILE: &str = "sb1/main.rs";
const OTHER_FILE: &str = "sb2/lib.rs";
const SEED: &str = "fn main() {}\n";
const TTL: Duration = Duration::from_secs(600);
/// Tracking on; the sweep so rare that it never comes during a test.
const TRACKED: &[&str] = &["--auth", "redis", "--revalidate-ms", "600000"];
/// No tracking: the sweep alone, at its default period (2 s).
const SWEEP_ONLY: &[&str] = &["--auth", "redis", "--client-tracking", "false"];

/// Two gateways, and the platform's records: Ann owns sb1 (and is an `rw` member of sb2,
/// which Bob owns), Cyd is an `rw` member of sb1 with two sessions, Dee an `ro` member.
struct World {
    _redis: RedisServer,
    gws: [Gateway; 2],
    platform: Platform,
    ann: String,
    cyd: String,
    cyd_other: String,
    dee: String,
    bob: String,
}

async fn world(args: &[&str]) -> World {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), args).await.expect("gateway 1");
    let gw2 = Gateway::start(&redis.url(), args).await.expect("gateway 2");
    let tracking = if args.contains(&"--client-tracking") {
        0.0
    } else {
        1.0
    };
    for gw in [&gw1, &gw2] {
        let text = gw.metrics().await.expect("/metrics");
        let state = prometheus::value(&text, "collab_identity_tracking", &[]);
        assert_eq!(state, Some(tracking), "identity tracking on {}", gw.addr());
    }
    let mut platform = Platform::connect(&redis).await.expect("platform");
    for (id, sandbox, name) in [
        ("u-ann", "sb1", "Ann"),
        ("u-bob", "sb2", "Bob"),
        ("u-cyd", "sb9", "Cyd"),
        ("u-dee", "sb8", "Dee"),
    ] {
        platform
            .user(id, sandbox, "10.0.0.9", name, "#123456")
            .await
            .expect("user record");
    }
    platform.member("sb1", "u-cyd", "rw").await.expect("share");
    platform.member("sb1", "u-dee", "ro").await.expect("share");
    platform.member("sb2", "u-ann", "rw").await.expect("share");
    let mut tokens = Vec::new();
    for user in ["u-ann", "u-cyd", "u-cyd", "u-dee", "u-bob"] {
        tokens.push(platform.session(user, TTL).await.expect("session"));
    }
    let [ann, cyd, cyd_other, dee, bob] = tokens.try_into().expect("five tokens");
    World {
        _redis: redis,
        gws: [gw1, gw2],
        platform,
        ann,
        cyd,
        cyd_other,
        dee,
        bob,
    }
}

impl World {
    /// One synced client of `token` on `file` through each gateway.
    async fn on_both(&self, file: &str, token: &str) -> [Client; 2] {
        let [gw1, gw2] = &self.gws;
        let (url1, url2) = (
            gw1.ws_url_with_token(file, token),
            gw2.ws_url_with_token(file, token),
        );
        let (one, two) = tokio::join!(admitted(&url1), admitted(&url2));
        [
            one.expect("admitted on gateway 1"),
            two.expect("admitted on gateway 2"),
        ]
    }

    /// Ann's clients on sb1 (one per gateway), after she typed the seed.
    async fn seeded(&self) -> [Client; 2] {
        let anns = self.on_both(FILE, &self.ann).await;
        anns[0].push(SEED).expect("types");
        for ann in &anns {
            text_is(ann, SEED).await;
        }
        anns
    }
}

async fn text_is(client: &Client, want: &str) {
    client
        .wait_for(|c| c.text() == want, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("wanted {want:?}, have {:?}: {e:#}", client.text()));
}

/// Awaits the close of every client in `victims` (together), each within [`BOUND`] of
/// `changed`, with `code` and `reason`; returns the slowest latency.
async fn all_closed(victims: &[&Client], code: u16, reason: &str, changed: Instant) -> Duration {
    let waits = victims.iter().map(|client| async move {
        let left = BOUND.saturating_sub(changed.elapsed());
        let got = client
            .wait_closed(left)
            .await
            .unwrap_or_else(|e| panic!("not closed within {BOUND:?} of the change: {e:#}"));
        let took = changed.elapsed();
        assert_eq!((got, client.close_reason()), (code, reason.to_owned()));
        let errors = client.errors();
        assert!(
            errors.iter().any(|e| e.code == code && e.reason == reason),
            "the extension error precedes the close: {errors:?}"
        );
        took
    });
    let took = futures_util::future::join_all(waits).await;
    took.into_iter().max().expect("at least one victim")
}

/// Awaits, on both gateways together, `collab_revocations_total{kind}` reaching `count`,
/// within [`BOUND`] of `changed`; returns the slowest latency.
async fn counted_on_both(gws: &[Gateway; 2], kind: &str, count: f64, changed: Instant) -> Duration {
    let waits = gws.iter().map(|gw| async move {
        let left = BOUND.saturating_sub(changed.elapsed());
        let seen = eventually(left, || async {
            let text = gw.metrics().await.unwrap_or_default();
            prometheus::count(&text, "collab_revocations_total", &[("kind", kind)]) >= count
        })
        .await;
        assert!(seen, "no {kind} within {BOUND:?} on {}", gw.addr());
        changed.elapsed()
    });
    let took = futures_util::future::join_all(waits).await;
    took.into_iter().max().expect("two gateways")
}

/// The clients in `bystanders` are still open and still receive Ann's edits.
async fn still_served(writer: &Client, bystanders: &[&Client], marker: &str) {
    let before = writer.text();
    writer.push(marker).expect("types");
    let want = format!("{before}{marker}");
    for client in bystanders {
        assert_eq!(
            client.closed_with(),
            None,
            "an unaffected client was closed"
        );
        client
            .wait_for(|c| c.text().contains(marker), DEADLINE)
            .await
            .expect("an unaffected client still syncs");
    }
    text_is(writer, &want).await;
}

/// Cyd's session is deleted in Redis: its connections on both gateways close with 4401,
/// counted once on each; Cyd's other session and Ann are untouched.
async fn deleting_a_session_closes_it_on_both(w: &mut World, case: &str) {
    let anns = w.seeded().await;
    let victims = w.on_both(FILE, &w.cyd).await;
    let other_session = w.on_both(FILE, &w.cyd_other).await;
    let changed = Instant::now();
    w.platform.delete_session(&w.cyd).await.expect("DEL");
    let took = all_closed(
        &[&victims[0], &victims[1]],
        UNAUTHENTICATED,
        "session-revoked",
        changed,
    )
    .await;
    report(case, took);
    counted_on_both(&w.gws, "session", 1.0, changed).await;
    // Cyd's other session, and Ann, are untouched.
    still_served(
        &anns[0],
        &[&anns[1], &other_session[0], &other_session[1]],
        "// after DEL\n",
    )
    .await;
}

fn report(case: &str, took: Duration) {
    println!("revocation latency, {case}: {} ms", took.as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_tracking_a_deleted_session_closes_with_4401_on_both_gateways_within_5s_by_the_sweep()
 {
    let mut w = world(SWEEP_ONLY).await;
    // Every kind is counted from zero, before anything happened.
    let text = w.gws[0].metrics().await.expect("/metrics");
    for kind in ["session", "access", "downgrade", "upgrade"] {
        let labels = [("kind", kind)];
        let value = prometheus::value(&text, "collab_revocations_total", &labels);
        assert_eq!(value, Some(0.0), "{kind}:\n{text}");
    }
    deleting_a_session_closes_it_on_both(&mut w, "DEL session, no tracking, the 2 s sweep").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_session_closes_with_4401_on_both_gateways_by_tracking() {
    let mut w = world(TRACKED).await;
    deleting_a_session_closes_it_on_both(&mut w, "DEL session, tracking").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_session_closes_with_4401_on_both_gateways_even_without_active_expiry() {
    let mut w = world(TRACKED).await;
    // Redis deletes expired keys only when they are read: no invalidation at expiry.
    let mut redis = w._redis.connection().await.expect("redis");
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query_async(&mut redis)
        .await
        .expect("DEBUG SET-ACTIVE-EXPIRE 0");
    let anns = w.seeded().await;
    let victims = w.on_both(FILE, &w.cyd).await;
    let other_session = w.on_both(FILE, &w.cyd_other).await;
    let ttl = Duration::from_millis(300);
    w.platform
        .expire_session(&w.cyd, ttl)
        .await
        .expect("PEXPIRE");
    let expires = Instant::now() + ttl;
    let took = all_closed(
        &[&victims[0], &victims[1]],
        UNAUTHENTICATED,
        "session-revoked",
        expires,
    )
    .await;
    report("session expired (PEXPIRE), from the expiry", took);
    still_served(
        &anns[0],
        &[&anns[1], &other_session[0], &other_session[1]],
        "// after expiry\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_moved_to_another_sandbox_is_closed_with_4403_there_and_nowhere_else() {
    let mut w = world(TRACKED).await;
    let anns = w.seeded().await;
    let cyds = w.on_both(FILE, &w.cyd).await;
    // Ann's share of sb2 does not depend on her own sandbox.
    let bob = admitted(&w.gws[0].ws_url_with_token(OTHER_FILE, &w.bob))
        .await
        .expect("sb2's owner");
    let ann_in_sb2 = w.on_both(OTHER_FILE, &w.ann).await;
    let changed = Instant::now();
    w.platform.move_user("u-ann", "sb7").await.expect("HSET");
    let took = all_closed(&[&anns[0], &anns[1]], FORBIDDEN, "access-revoked", changed).await;
    report("user moved (HSET user sandbox_id)", took);
    counted_on_both(&w.gws, "access", 1.0, changed).await;
    still_served(&cyds[0], &[&cyds[1]], "// cyd stays\n").await;
    still_served(&bob, &[&ann_in_sb2[0], &ann_in_sb2[1]], "// sb2 stays\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_membership_is_closed_with_4403_on_both_gateways() {
    let mut w = world(TRACKED).await;
    let anns = w.seeded().await;
    let cyds = w.on_both(FILE, &w.cyd).await;
    let cyd_other = w.on_both(FILE, &w.cyd_other).await;
    let dees = w.on_both(FILE, &w.dee).await;
    let changed = Instant::now();
    w.platform.unshare("sb1", "u-cyd").await.expect("HDEL");
    let victims = [&cyds[0], &cyds[1], &cyd_other[0], &cyd_other[1]];
    let took = all_closed(&victims, FORBIDDEN, "access-revoked", changed).await;
    report("membership removed (HDEL)", took);
    still_served(&anns[0], &[&anns[1], &dees[0], &dees[1]], "// after HDEL\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_downgraded_to_ro_stays_open_and_its_edits_are_dropped() {
    let mut w = world(TRACKED).await;
    let anns = w.seeded().await;
    let cyds = w.on_both(FILE, &w.cyd).await;
    let changed = Instant::now();
    w.platform
        .member("sb1", "u-cyd", "ro")
        .await
        .expect("HSET ro");
    let took = counted_on_both(&w.gws, "downgrade", 1.0, changed).await;
    report("rw -> ro downgrade", took);
    for (n, cyd) in cyds.iter().enumerate() {
        cyd.push(&format!("RO-EDIT-{n}")).expect("types locally");
        cyd.wait_for(|c| !c.errors().is_empty(), DEADLINE)
            .await
            .expect("told read-only");
        let errors: Vec<(u16, String)> = cyd
            .errors()
            .into_iter()
            .map(|e| (e.code, e.reason))
            .collect();
        assert_eq!(errors, vec![(FORBIDDEN, "read-only".to_owned())]);
    }
    // The dropped edits reach no one; the downgraded clients stay and still see edits.
    still_served(&anns[0], &[&anns[1], &cyds[0], &cyds[1]], "// marker\n").await;
    for client in [&anns[0], &anns[1]] {
        assert!(!client.text().contains("RO-EDIT"), "a dropped edit arrived");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_upgraded_to_rw_may_write_without_reconnecting() {
    let mut w = world(TRACKED).await;
    let anns = w.seeded().await;
    let dees = w.on_both(FILE, &w.dee).await;
    let changed = Instant::now();
    w.platform
        .member("sb1", "u-dee", "rw")
        .await
        .expect("HSET rw");
    let took = counted_on_both(&w.gws, "upgrade", 1.0, changed).await;
    report("ro -> rw upgrade", took);
    for (n, dee) in dees.iter().enumerate() {
        let line = format!("// dee {n}\n");
        dee.push(&line).expect("types");
        for ann in &anns {
            ann.wait_for(|c| c.text().contains(&line), DEADLINE)
                .await
                .expect("the upgraded member's edit reaches everyone");
        }
        assert_eq!(dee.closed_with(), None);
        assert!(
            dee.errors().is_empty(),
            "no read-only error after the upgrade"
        );
    }
}
