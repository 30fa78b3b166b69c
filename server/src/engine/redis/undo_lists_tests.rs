//! The undo lists as the Redis scripts keep them, against a private redis-server: an item
//! still growing is one list element per edit (no keystroke rewrites it), yet counts, the
//! depth and pops are in items, whole and in order.

use std::sync::Arc;
use std::time::Duration;

use collab_protocol::{FileId, Keys, UndoOp};
use collab_room_core::ext::undo::{UndoCounts, UndoPolicy, UndoRecord, UndoStack};
use redis::aio::ConnectionManager;

use super::store::RedisStore;
use crate::embedded_redis::EmbeddedRedis;
use crate::engine::Store;
use crate::engine::log::{AppendBatch, Authored};

const USER: &str = "u1";

struct Fixture {
    redis: EmbeddedRedis,
    conn: ConnectionManager,
    store: RedisStore<ConnectionManager>,
    file: FileId,
    _dir: tempfile::TempDir,
}

/// A store whose capture window never closes during a test, keeping `depth` items.
async fn fixture(depth: u32) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let redis = EmbeddedRedis::start(Some(dir.path().to_path_buf()))
        .await
        .expect("redis-server starts");
    let client = redis::Client::open(redis.url()).expect("client");
    let conn = ConnectionManager::new(client).await.expect("connection");
    let policy = UndoPolicy {
        capture: Duration::from_secs(3600),
        depth,
        ttl: Duration::from_secs(3600),
    };
    let store = RedisStore::new(conn.clone(), Keys::default(), "gw-test".into(), policy);
    let file = FileId::parse("sb/undo.txt").expect("file id");
    Fixture {
        redis,
        conn,
        store,
        file,
        _dir: dir,
    }
}

impl Fixture {
    async fn record(&self, record: UndoRecord) {
        let batch = AppendBatch::single(Authored {
            author: Some(Arc::from(USER)),
            update: vec![1, 2, 3],
            undo: Some(record),
        });
        self.store.append(&self.file, &batch).await.expect("append");
    }

    async fn pop(&self, op: UndoOp) -> (Option<Vec<u8>>, UndoCounts) {
        let popped = self.store.pop(&self.file, USER, op).await.expect("pop");
        (popped.item, popped.counts)
    }

    async fn counts(&self) -> UndoCounts {
        self.store.counts(&self.file, USER).await.expect("counts")
    }

    async fn elements(&self) -> u64 {
        let mut conn = self.conn.clone();
        redis::cmd("LLEN")
            .arg(Keys::default().undo(&self.file, USER))
            .query_async(&mut conn)
            .await
            .expect("LLEN")
    }
}

fn counts(undo: u64, redo: u64) -> UndoCounts {
    UndoCounts { undo, redo }
}

/// A part of `len` bytes, all `tag`.
fn part(tag: u8, len: usize) -> Vec<u8> {
    vec![tag; len]
}

#[tokio::test]
async fn typing_within_the_window_is_one_item_kept_as_one_element_per_edit() {
    let f = fixture(200).await;
    let mut typed = Vec::new();
    for i in 0..40u8 {
        let p = part(b'a' + i % 26, 3);
        typed.extend_from_slice(&p);
        f.record(UndoRecord::Edit(p)).await;
    }
    assert_eq!(
        f.counts().await,
        counts(1, 0),
        "forty quick edits are one item"
    );
    assert_eq!(
        f.elements().await,
        40,
        "each edit pushed its own element instead of rewriting the item"
    );
    let (item, after) = f.pop(UndoOp::Undo).await;
    assert_eq!(
        item,
        Some(typed),
        "the item comes back whole, parts in typing order"
    );
    assert_eq!(after, counts(0, 0));
    assert_eq!(f.elements().await, 0);
    f.redis.stop().await;
}

#[tokio::test]
async fn the_depth_counts_items_while_the_top_one_is_still_growing() {
    let f = fixture(3).await;
    // 3,000-byte parts: two fit an item of at most 8 KiB, a third starts the next.
    for i in 0..9u8 {
        f.record(UndoRecord::Edit(part(b'0' + i, 3000))).await;
    }
    // Items: [8] [6 7] [4 5]; [2 3] [0 1] fell off the depth of 3.
    assert_eq!(f.counts().await, counts(3, 0));
    let expected = [vec![8], vec![6, 7], vec![4, 5]];
    for (i, parts) in expected.iter().enumerate() {
        let whole: Vec<u8> = parts.iter().flat_map(|&p| part(b'0' + p, 3000)).collect();
        let (item, after) = f.pop(UndoOp::Undo).await;
        assert!(
            item == Some(whole),
            "item {i} comes back whole, parts in order"
        );
        assert_eq!(
            after,
            counts(2 - i as u64, 0),
            "counts after popping item {i}"
        );
        assert_eq!(f.counts().await, after);
    }
    assert_eq!(f.pop(UndoOp::Undo).await, (None, counts(0, 0)));
    f.redis.stop().await;
}

#[tokio::test]
async fn a_growing_item_is_folded_before_an_inverse_goes_above_it() {
    let f = fixture(200).await;
    f.record(UndoRecord::Edit(b"ab".to_vec())).await;
    f.record(UndoRecord::Edit(b"cd".to_vec())).await;
    f.record(UndoRecord::Edit(b"ef".to_vec())).await;
    f.record(UndoRecord::Redone(b"RR".to_vec())).await;
    assert_eq!(f.counts().await, counts(2, 0));
    assert_eq!(f.elements().await, 2, "the growing item became one element");
    // An edit after an inverse starts a new item: an inverse never absorbs edits.
    f.record(UndoRecord::Edit(b"gh".to_vec())).await;
    assert_eq!(f.counts().await, counts(3, 0));
    assert_eq!(
        f.pop(UndoOp::Undo).await,
        (Some(b"gh".to_vec()), counts(2, 0))
    );
    assert_eq!(
        f.pop(UndoOp::Undo).await,
        (Some(b"RR".to_vec()), counts(1, 0))
    );
    assert_eq!(
        f.pop(UndoOp::Undo).await,
        (Some(b"abcdef".to_vec()), counts(0, 0))
    );
    f.redis.stop().await;
}

#[tokio::test]
async fn undone_goes_to_redo_and_a_new_edit_clears_it() {
    let f = fixture(200).await;
    f.record(UndoRecord::Edit(b"ab".to_vec())).await;
    f.record(UndoRecord::Edit(b"cd".to_vec())).await;
    let (item, after) = f.pop(UndoOp::Undo).await;
    assert_eq!((item, after), (Some(b"abcd".to_vec()), counts(0, 0)));
    f.record(UndoRecord::Undone(b"UU".to_vec())).await;
    assert_eq!(f.counts().await, counts(0, 1));
    f.record(UndoRecord::Edit(b"ef".to_vec())).await;
    assert_eq!(f.counts().await, counts(1, 0), "a new edit cleared redo");
    assert_eq!(f.pop(UndoOp::Redo).await, (None, counts(1, 0)));
    f.redis.stop().await;
}

#[tokio::test]
async fn an_item_an_older_gateway_stored_whole_still_pops_and_counts() {
    let f = fixture(200).await;
    let mut conn = f.conn.clone();
    let key = Keys::default().undo(&f.file, USER);
    let _: () = redis::cmd("RPUSH")
        .arg(&key)
        .arg(b"17\nOLD".as_slice())
        .query_async(&mut conn)
        .await
        .expect("RPUSH");
    f.record(UndoRecord::Edit(b"ab".to_vec())).await;
    f.record(UndoRecord::Edit(b"cd".to_vec())).await;
    assert_eq!(f.counts().await, counts(2, 0));
    assert_eq!(
        f.pop(UndoOp::Undo).await,
        (Some(b"abcd".to_vec()), counts(1, 0))
    );
    assert_eq!(
        f.pop(UndoOp::Undo).await,
        (Some(b"OLD".to_vec()), counts(0, 0))
    );
    f.redis.stop().await;
}
