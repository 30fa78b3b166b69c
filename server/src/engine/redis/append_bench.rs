//! A measurement, not a check (ignored): appends per second through [`RedisStore`] into a
//! private redis-server, for small edits and for whole-state-sized entries, so the cost
//! of what an append computes and stores (such as the entry's digest) can be compared
//! before and after a change. Run: `cargo test -p collab-server --lib append_bench --
//! --ignored --nocapture`.

use std::time::Instant;

use collab_protocol::{FileId, Keys};
use collab_room_core::ext::undo::UndoPolicy;
use redis::aio::ConnectionManager;

use super::store::RedisStore;
use crate::embedded_redis::EmbeddedRedis;
use crate::engine::Store;
use crate::engine::log::{AppendBatch, Authored};

/// Appends `count` entries of `bytes` bytes to a fresh file; returns appends per second.
async fn appends_per_second(
    store: &RedisStore<ConnectionManager>,
    conn: &ConnectionManager,
    run: usize,
    bytes: usize,
    count: usize,
) -> f64 {
    let file = FileId::parse(&format!("bench/run-{run}-{bytes}.txt")).expect("file id");
    let batch = AppendBatch::single(Authored {
        author: None,
        update: vec![7u8; bytes],
        undo: None,
    });
    let started = Instant::now();
    for _ in 0..count {
        store.append(&file, &batch).await.expect("append");
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let mut conn = conn.clone();
    let _: () = redis::cmd("DEL")
        .arg(Keys::default().log(&file))
        .query_async(&mut conn)
        .await
        .expect("DEL the log");
    rate
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn append_throughput() {
    let dir = tempfile::tempdir().expect("temp dir");
    let redis = EmbeddedRedis::start(Some(dir.path().to_path_buf()))
        .await
        .expect("redis-server starts");
    let client = redis::Client::open(redis.url()).expect("client");
    let conn = ConnectionManager::new(client).await.expect("connection");
    let store = RedisStore::new(
        conn.clone(),
        Keys::default(),
        "gw-bench".into(),
        UndoPolicy::default(),
    );
    for (bytes, count) in [(40, 5_000), (64 << 10, 500)] {
        let mut rates: Vec<f64> = Vec::new();
        for run in 0..5 {
            rates.push(appends_per_second(&store, &conn, run, bytes, count).await);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "append {bytes:>7} B x {count}: median {:.0}/s (min {:.0}, max {:.0}) over 5 runs",
            rates[2], rates[0], rates[4]
        );
    }
    redis.stop().await;
}
