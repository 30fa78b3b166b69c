//! `--files dir`: documents open from a folder, typing reaches the files, outside changes
//! merge with typing, nothing is seeded twice, and what may not be opened is refused. Real
//! redis-server and gateway processes; the files are in a temporary folder.

use std::path::{Path, PathBuf};

use collab_protocol::{Extension, FileSyncState};
use collab_tests::{Client, DEADLINE, Gateway, RedisServer, eventually, file_holds};

/// Short write-back bounds, so tests wait for milliseconds, not seconds.
const WRITE_BACK_MS: &str = "100";
const WRITE_BACK_MAX_MS: &str = "400";

async fn gateway(redis: &RedisServer, dir: &Path) -> Gateway {
    let dir = dir.to_str().expect("a UTF-8 temp path");
    Gateway::start(
        &redis.url(),
        &[
            "--files",
            "dir",
            "--files-dir",
            dir,
            "--write-back-ms",
            WRITE_BACK_MS,
            "--write-back-max-ms",
            WRITE_BACK_MAX_MS,
            "--max-file-bytes",
            "4096",
        ],
    )
    .await
    .expect("gateway starts")
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write the file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_file_opens_exactly_and_typing_on_two_gateways_reaches_it() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let original = "\u{feff}fn main() {\r\n    // 🦀 三\r\n}\r\n";
    let path = write(dir.path(), "s1/src/main.rs", original.as_bytes());
    let (a, b) = (
        gateway(&redis, dir.path()).await,
        gateway(&redis, dir.path()).await,
    );
    let one = Client::connect_synced(&a.ws_url("s1/src/main.rs"), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(
        one.text().as_bytes(),
        original.as_bytes(),
        "the exact bytes"
    );
    let two = Client::connect_synced(&b.ws_url("s1/src/main.rs"), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(two.text(), original);
    one.push("// from a\r\n").expect("edit");
    two.insert(0, "// from b\r\n").expect("edit");
    let both = |c: &Client| c.text().contains("// from a") && c.text().contains("// from b");
    one.wait_for(both, DEADLINE).await.expect("one converges");
    two.wait_for(both, DEADLINE).await.expect("two converges");
    let text = one.text();
    assert!(
        file_holds(&path, &text).await,
        "the file on disk is the document: {:?} vs {:?}",
        std::fs::read_to_string(&path),
        text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_file_opened_on_two_gateways_at_once_is_never_seeded_twice() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let (a, b) = (
        gateway(&redis, dir.path()).await,
        gateway(&redis, dir.path()).await,
    );
    for round in 0..20 {
        let file = format!("s1/race{round}.txt");
        let content = format!("round {round}: once\n");
        write(dir.path(), &file, content.as_bytes());
        let (url_a, url_b) = (a.ws_url(&file), b.ws_url(&file));
        let (one, two) = tokio::join!(
            Client::connect_synced(&url_a, DEADLINE),
            Client::connect_synced(&url_b, DEADLINE),
        );
        let (one, two) = (one.expect("connects"), two.expect("connects"));
        // Whatever arrives later would show as doubled text: a late joiner sees it all.
        let late = Client::connect_synced(&a.ws_url(&file), DEADLINE)
            .await
            .expect("connects");
        for client in [&one, &two, &late] {
            assert_eq!(client.text(), content, "round {round}: seeded once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_rewrite_merges_with_typing_elsewhere() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let original = "head\nmiddle 🦀\ntail 三\n";
    let path = write(dir.path(), "s1/a.txt", original.as_bytes());
    let (a, b) = (
        gateway(&redis, dir.path()).await,
        gateway(&redis, dir.path()).await,
    );
    let one = Client::connect_synced(&a.ws_url("s1/a.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    let two = Client::connect_synced(&b.ws_url("s1/a.txt"), DEADLINE)
        .await
        .expect("connects");
    // Typing at the start and at the end, while the middle line is rewritten outside
    // (inside the write-back window: the typing is not on disk yet).
    one.insert(0, "A").expect("edit");
    two.push("Z").expect("edit");
    std::fs::write(&path, "head\nMIDDLE CHANGED 🎉\ntail 三\n").expect("outside write");
    one.insert(0, "B").expect("edit");
    let expected = "BAhead\nMIDDLE CHANGED 🎉\ntail 三\nZ";
    for client in [&one, &two] {
        let got = client.wait_for(|c| c.text() == expected, DEADLINE).await;
        assert!(got.is_ok(), "every editor has both: {:?}", client.text());
    }
    assert!(
        file_holds(&path, expected).await,
        "the file has both: {:?}",
        std::fs::read_to_string(&path)
    );
    let merged = one
        .wait_for(
            |c| {
                c.extensions()
                    .iter()
                    .any(|e| format!("{e:?}").contains("Merged"))
            },
            DEADLINE,
        )
        .await;
    assert!(
        merged.is_ok(),
        "an opted-in client is told: {:?}",
        one.extensions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_comes_back_from_disk_after_redis_is_flushed() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "s1/keep.txt", b"kept\n");
    let mut gw = gateway(&redis, dir.path()).await;
    let one = Client::connect_synced(&gw.ws_url("s1/keep.txt"), DEADLINE)
        .await
        .expect("connects");
    one.push("typed\n").expect("edit");
    assert!(file_holds(&path, "kept\ntyped\n").await, "written back");
    drop(one);
    gw.terminate().await.expect("the gateway stops");
    let mut conn = redis.connection().await.expect("redis connection");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut conn)
        .await
        .expect("flushall");
    gw.restart().await.expect("the gateway starts again");
    let again = Client::connect_synced(&gw.ws_url("s1/keep.txt"), DEADLINE)
        .await
        .expect("connects");
    assert_eq!(
        again.text(),
        "kept\ntyped\n",
        "the content is back from disk"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_a_burst_writes_the_burst() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "s1/burst.txt", b"");
    let mut gw = gateway(&redis, dir.path()).await;
    let one = Client::connect_synced(&gw.ws_url("s1/burst.txt"), DEADLINE)
        .await
        .expect("connects");
    for n in 0..50 {
        one.push(&format!("<{n}>")).expect("edit");
    }
    let expected: String = (0..50).map(|n| format!("<{n}>")).collect();
    // The gateway has it all before it is told to stop.
    let probe = Client::connect_synced(&gw.ws_url("s1/burst.txt"), DEADLINE)
        .await
        .expect("connects");
    probe
        .wait_for(|c| c.text() == expected, DEADLINE)
        .await
        .expect("the gateway has the burst");
    gw.terminate().await.expect("the gateway stops");
    assert_eq!(
        std::fs::read_to_string(&path).expect("reads"),
        expected,
        "the burst is on disk when the gateway has exited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_may_not_be_opened_are_refused_and_nothing_is_written() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let outside = tempfile::tempdir().expect("another temp dir");
    write(outside.path(), "secret.txt", b"secret\n");
    std::fs::create_dir_all(dir.path().join("s1")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("s1/link")).expect("symlink");
    write(dir.path(), "s1/binary.bin", &[0x66, 0x6f, 0xff, 0xfe, 0x00]);
    write(dir.path(), "s1/big.txt", &[b'x'; 5000]);
    let gw = gateway(&redis, dir.path()).await;
    for (file, why) in [
        ("s1/link/secret.txt", "outside"),
        ("s1/binary.bin", "UTF-8"),
        ("s1/big.txt", "4096"),
        ("s1/../../etc/passwd", ""),
        ("/etc/passwd", ""),
    ] {
        let client = Client::connect(&gw.ws_url(file)).await.expect("upgrades");
        let code = client.wait_closed(DEADLINE).await.expect("closed");
        assert_eq!(code, 4400, "{file}: close 4400 ({})", client.close_reason());
        let said = format!(
            "{:?} {}",
            client.errors_before_close(),
            client.close_reason()
        );
        assert!(
            said.contains(why),
            "{file}: the reason says {why:?}: {said}"
        );
    }
    assert_eq!(
        std::fs::read(outside.path().join("secret.txt")).expect("reads"),
        b"secret\n"
    );
    let mut conn = redis.connection().await.expect("redis connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("collab:{*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(keys.is_empty(), "nothing written to Redis: {keys:?}");
    // Nothing appeared in the files folder either.
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("s1"))
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["big.txt", "binary.bin", "link"]);
}

/// The lowercase hex SHA-256 of `bytes`: the ETag a `saved` state names.
fn etag_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `client` was told the file is saved as `etag`.
fn told_saved(client: &Client, etag: &str) -> bool {
    client.extensions().iter().any(|e| {
        matches!(e, Extension::FileState { state: FileSyncState::Saved, etag: Some(t), .. } if t == etag)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_state_reaches_every_gateway_and_late_joiners_at_once() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "s1/state.txt", b"hello\n");
    let (a, b, c) = (
        gateway(&redis, dir.path()).await,
        gateway(&redis, dir.path()).await,
        gateway(&redis, dir.path()).await,
    );
    // The typist opens the file first on A, so A holds the write lease and writes.
    let typist = Client::connect_synced(&a.ws_url("s1/state.txt"), DEADLINE)
        .await
        .expect("connects");
    let watcher = Client::connect_synced(&b.ws_url("s1/state.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    typist.push("typed on A\n").expect("edit");
    assert!(file_holds(&path, "hello\ntyped on A\n").await, "written");
    let etag = etag_of(b"hello\ntyped on A\n");
    let told = watcher.wait_for(|c| told_saved(c, &etag), DEADLINE).await;
    assert!(
        told.is_ok(),
        "a member of gateway B is told `saved` for the write A made: {:?}",
        watcher.extensions()
    );
    // A late joiner on a gateway that holds the file has the state once it is synced;
    // on a gateway that opens the file just now, it comes from the others.
    let late_b = Client::connect_synced(&b.ws_url("s1/state.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    assert!(
        told_saved(&late_b, &etag),
        "at join: {:?}",
        late_b.extensions()
    );
    let late_a = Client::connect_synced(&a.ws_url("s1/state.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    assert!(
        told_saved(&late_a, &etag),
        "at join: {:?}",
        late_a.extensions()
    );
    let fresh_c = Client::connect_synced(&c.ws_url("s1/state.txt?ext=files"), DEADLINE)
        .await
        .expect("connects");
    let told = fresh_c.wait_for(|c| told_saved(c, &etag), DEADLINE).await;
    assert!(
        told.is_ok(),
        "a room opening on C hears the state: {:?}",
        fresh_c.extensions()
    );
    // A stock client (no `?ext=files`) is never sent one.
    let stock = Client::connect_synced(&b.ws_url("s1/state.txt"), DEADLINE)
        .await
        .expect("connects");
    typist.push("more\n").expect("edit");
    assert!(
        file_holds(&path, "hello\ntyped on A\nmore\n").await,
        "written"
    );
    let etag = etag_of(b"hello\ntyped on A\nmore\n");
    late_b
        .wait_for(|c| told_saved(c, &etag), DEADLINE)
        .await
        .expect("the next write is told too");
    assert!(stock.extensions().is_empty(), "{:?}", stock.extensions());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_on_another_gateway_reaches_disk_after_the_lease_holder_is_killed() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "s1/lease.txt", b"start\n");
    // A opens the file first: its check takes the write lease, and it writes.
    let mut a = gateway(&redis, dir.path()).await;
    let one = Client::connect_synced(&a.ws_url("s1/lease.txt"), DEADLINE)
        .await
        .expect("connects");
    one.push("from a\n").expect("edit");
    assert!(file_holds(&path, "start\nfrom a\n").await, "A writes");
    let b = gateway(&redis, dir.path()).await;
    let two = Client::connect_synced(&b.ws_url("s1/lease.txt"), DEADLINE)
        .await
        .expect("connects");
    two.wait_for(|c| c.text() == "start\nfrom a\n", DEADLINE)
        .await
        .expect("B has A's text");
    a.kill9().await.expect("kill -9 of the lease holder");
    let killed = std::time::Instant::now();
    // B's client keeps typing through the dead holder's lease: a line every 100 ms (the
    // pace of the typing, not a wait for a condition) for two write-back maxima.
    let mut expected = String::from("start\nfrom a\n");
    for n in 0..8 {
        let line = format!("b{n}\n");
        two.push(&line).expect("edit");
        expected.push_str(&line);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reached = eventually(DEADLINE, || async {
        std::fs::read_to_string(&path).is_ok_and(|text| text.contains("b0\n"))
    })
    .await;
    let took = killed.elapsed();
    assert!(
        reached,
        "B's typing reaches disk: {:?}",
        std::fs::read_to_string(&path)
    );
    // The lease lives 2 x --write-back-max-ms + 1 s (1.8 s here) from the holder's last
    // renewal (before the kill); a gateway refused the lease retries after half of that, and
    // a write waits up to --write-back-max-ms: B's first typing is on disk within a lease's
    // life, one retry and one write-back (3.1 s), given 1 s more on a loaded machine.
    let lease = std::time::Duration::from_millis(2 * 400 + 1000);
    let write_back_max = std::time::Duration::from_millis(400);
    assert!(
        took <= lease + lease / 2 + write_back_max + std::time::Duration::from_secs(1),
        "B took over the write within a lease lifetime: {took:?}"
    );
    eprintln!("lease takeover: kill -9 of the holder to B's typing on disk: {took:?}");
    assert!(
        file_holds(&path, &expected).await,
        "all of B's typing is on disk"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_and_writes_are_counted_in_metrics() {
    use collab_tests::prometheus::value;
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = write(dir.path(), "s1/count.txt", b"one\n");
    let gw = gateway(&redis, dir.path()).await;
    let client = Client::connect_synced(&gw.ws_url("s1/count.txt"), DEADLINE)
        .await
        .expect("connects");
    client.push("two\n").expect("edit");
    assert!(file_holds(&path, "one\ntwo\n").await, "written");
    let written = |text: &str| {
        value(text, "collab_file_writes_total", &[("outcome", "written")]).unwrap_or(0.0) >= 1.0
    };
    let counted = eventually(DEADLINE, || async {
        written(&gw.metrics().await.unwrap_or_default())
    })
    .await;
    let text = gw.metrics().await.expect("metrics");
    assert!(counted && written(&text), "a write is counted:\n{text}");
    assert_eq!(
        value(&text, "collab_file_loads_total", &[("outcome", "seeded")]),
        Some(1.0),
        "the file was loaded once:\n{text}"
    );
}
