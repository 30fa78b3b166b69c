//! Access control on a Redis Cluster (`--auth redis`): the identity records of one
//! handshake live in several slots, owners and members get in on either gateway, strangers
//! and unknown tokens do not, and revocation (which polls under a cluster) still closes a
//! revoked session. The cluster is started by the test: this never skips.

use std::time::Duration;

use collab_protocol::close::{FORBIDDEN, UNAUTHENTICATED};
use collab_tests::admission::{admitted, refused};
use collab_tests::{Client, DEADLINE, Gateway, Platform, RedisCluster, converge};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_control_reads_identity_records_in_every_slot() {
    const FILE: &str = "sb-ann/src/main.rs";
    const SESSION: Duration = Duration::from_secs(600);
    let cluster = RedisCluster::start().await.expect("the cluster starts");
    let auth = &["--auth", "redis"];
    let gw1 = Gateway::start_on_cluster(&cluster, auth)
        .await
        .expect("gateway 1 on the cluster");
    let gw2 = Gateway::start_on_cluster(&cluster, auth)
        .await
        .expect("gateway 2 on the cluster");
    let mut platform = Platform::connect_cluster(&cluster)
        .await
        .expect("the platform writes into the cluster");
    for (user, sandbox) in [("ann", "sb-ann"), ("bob", "sb-bob"), ("eve", "sb-eve")] {
        platform
            .user(user, sandbox, "10.1.2.3", user, "#123456")
            .await
            .expect("user record");
    }
    platform
        .member("sb-ann", "bob", "rw")
        .await
        .expect("membership");
    let mut tokens = Vec::new();
    for user in ["ann", "bob", "eve"] {
        tokens.push(platform.session(user, SESSION).await.expect("session"));
    }
    let (ann, bob, eve) = (&tokens[0], &tokens[1], &tokens[2]);

    // Owner and member get in on either gateway and edit together; a stranger and an
    // unknown token do not.
    let ann_client = admitted(&gw1.ws_url_with_token(FILE, ann))
        .await
        .expect("ann opens her own file");
    let bob_client = admitted(&gw2.ws_url_with_token(FILE, bob))
        .await
        .expect("bob opens a file of a sandbox shared with him");
    ann_client.push("ann was here ").expect("edit");
    bob_client.push("bob too").expect("edit");
    let writers = [ann_client, bob_client];
    let refs: Vec<&Client> = writers.iter().collect();
    converge(&refs, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("owner and member did not converge: {e:#}"));
    refused(
        &gw1.ws_url_with_token(FILE, eve),
        FORBIDDEN,
        "outside-sandbox",
    )
    .await
    .expect("a stranger is refused");
    refused(
        &gw2.ws_url_with_token(FILE, &collab_tests::identity::new_token()),
        UNAUTHENTICATED,
        "unknown-token",
    )
    .await
    .expect("an unknown token is refused");

    // Cursors are claimed for their user in the file's slot: ann's shows on the other
    // gateway as hers, and bob cannot take her client id.
    writers[0].set_awareness(serde_json::json!({"cursor": 1}));
    let ann_id = writers[0].client_id();
    let hers = |c: &Client| {
        c.awareness_of(ann_id)
            .is_some_and(|s| s["user"]["id"] == "ann")
    };
    writers[1]
        .wait_for(hers, DEADLINE)
        .await
        .expect("bob sees ann's cursor, claimed on the cluster");
    let mut forged = std::collections::HashMap::new();
    forged.insert(
        yrs::ClientID::new(ann_id),
        yrs::sync::awareness::AwarenessUpdateEntry {
            clock: 1000,
            json: r#"{"cursor":"bob's"}"#.into(),
        },
    );
    let update = yrs::sync::AwarenessUpdate { clients: forged };
    let frame = yrs::updates::encoder::Encode::encode_v1(&update);
    writers[1].send_frame(collab_protocol::message::encode_awareness(&frame));
    writers[0].set_awareness(serde_json::json!({"cursor": 2}));
    writers[1]
        .wait_for(
            |c| hers(c) && c.awareness_of(ann_id).is_some_and(|s| s["cursor"] == 2),
            DEADLINE,
        )
        .await
        .expect("ann's next move still shows as hers");

    // The platform revokes ann's session: without identity tracking the gateways poll,
    // and her connection still closes within the bound.
    platform.delete_session(ann).await.expect("DEL session");
    let code = writers[0]
        .wait_closed(Duration::from_secs(5) + DEADLINE / 3)
        .await
        .expect("ann's connection closes after her session was revoked");
    assert_eq!(code, UNAUTHENTICATED);
    assert_eq!(writers[0].close_reason(), "session-revoked");
    assert_eq!(writers[1].closed_with(), None, "bob keeps editing");
}
