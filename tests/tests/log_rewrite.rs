//! A log rewritten under a gateway (a failover to a replica that missed its last entry,
//! then another writer's entry in its place) is noticed by the gateway's periodic head
//! check even while its client is idle, and the log gets its whole state back.

use std::collections::HashMap;

use collab_protocol::{FileId, Keys};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, converge, eventually};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Text, Transact, Update};

fn keys_of(file: &str) -> (String, String) {
    let id = FileId::parse(file).expect("valid file id");
    let keys = Keys::default();
    (keys.log(&id), keys.snap(&id))
}

/// A failover to a replica that missed a gateway's last entry, and another gateway appended
/// in its place: the log's head is level with the first gateway's position again, but the
/// entry there is another writer's. The first gateway's client is idle, so no append of its
/// own notices; its periodic head check must, and give the log its whole state back. The
/// test builds that log (the earlier DUMP plus another writer's entry at the lost position)
/// beside the file's and swaps it in with one RENAME, so the gateway never sees the log
/// shorter than its position (which it would notice by the head alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_rewritten_at_an_idle_gateways_position_is_restored() {
    const FILE: &str = "sandbox-7/src/rewritten.ts";
    let redis = RedisServer::start().await.expect("redis-server starts");
    let flags = ["--tail-check-ms", "200"];
    let gw_a = Gateway::start(&redis.url(), &flags).await.expect("gw a");
    let (log, _) = keys_of(FILE);
    let scratch = log.replace(":log", ":rewritten");
    let mut con = redis.connection().await.expect("redis connection");
    let log_holds = |n: u64| {
        let (redis, log) = (&redis, log.clone());
        async move {
            eventually(DEADLINE, || async {
                redis.log_len(&log).await.is_ok_and(|len| len == n)
            })
            .await
        }
    };

    let a = Client::connect_synced(&gw_a.ws_url(FILE), DEADLINE)
        .await
        .expect("a joins on gateway a");
    a.push("before ").expect("type");
    assert!(log_holds(1).await, "the first edit reaches the log");
    let earlier: Vec<u8> = redis::cmd("DUMP")
        .arg(&log)
        .query_async(&mut con)
        .await
        .expect("DUMP the log");
    a.push("lost ").expect("type");
    assert!(log_holds(2).await, "the second edit reaches the log");

    // The promoted replica's log: the earlier one, plus another gateway's edit at 2.
    let _: () = redis::cmd("RESTORE")
        .arg(&scratch)
        .arg(0)
        .arg(earlier)
        .query_async(&mut con)
        .await
        .expect("RESTORE the earlier log beside the file's");
    let first: Vec<(String, HashMap<String, Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(&scratch)
        .arg("-")
        .arg("+")
        .query_async(&mut con)
        .await
        .expect("XRANGE");
    let other_writer = Doc::with_client_id(777);
    let text = other_writer.get_or_insert_text("monaco");
    let update = Update::decode_v1(&first[0].1["u"]).expect("the first entry decodes");
    other_writer
        .transact_mut()
        .apply_update(update)
        .expect("the first entry applies");
    let before = other_writer.transact().state_vector();
    text.insert(&mut other_writer.transact_mut(), 0, "kept ");
    let kept = other_writer.transact().encode_diff_v1(&before);
    let _: String = redis::cmd("XADD")
        .arg(&scratch)
        .arg("2-1")
        .arg("o")
        .arg("gw-promoted-elsewhere")
        .arg("u")
        .arg(kept)
        .query_async(&mut con)
        .await
        .expect("XADD the other writer's entry");
    let _: () = redis::cmd("RENAME")
        .arg(&scratch)
        .arg(&log)
        .query_async(&mut con)
        .await
        .expect("RENAME it over the file's log");

    let whole = |c: &Client| {
        let text = c.text();
        text.contains("before ") && text.contains("lost ") && text.contains("kept ")
    };
    assert!(
        a.wait_for(whole, DEADLINE).await.is_ok(),
        "a never got the other writer's edit: {:?}",
        a.text()
    );
    // Whoever opens the file now gets the edit the log had lost.
    let gw_b = Gateway::start(&redis.url(), &flags).await.expect("gw b");
    let b = Client::connect_synced(&gw_b.ws_url(FILE), DEADLINE)
        .await
        .expect("b joins on gateway b");
    assert!(
        b.wait_for(whole, DEADLINE).await.is_ok(),
        "a fresh joiner never got the edit the log lost: {:?}",
        b.text()
    );
    let text = converge(&[&a, &b], DEADLINE)
        .await
        .expect("a and b converge");
    assert!(whole(&b) && b.text() == text);
    assert!(
        gw_a.all_output()
            .iter()
            .any(|line| line.contains("the log in redis went backwards")),
        "gateway a did not say it restored the log"
    );
}
