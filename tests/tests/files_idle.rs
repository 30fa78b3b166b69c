//! `--files dir` at rest: the folder's watcher reacts to content changes only. The watcher
//! once also reacted to the gateway's own reads of a changed file (inotify reports opens
//! and closes), so each read announced the next and one outside write kept a gateway at a
//! full core forever. Real redis-server and gateway processes; CPU read from /proc.

use std::time::Duration;

use collab_tests::{Gateway, RedisServer};

/// The gateway's CPU time so far (user + system), from /proc (Linux's USER_HZ is 100).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // The fields after the command (which may hold spaces) start after the last ')'.
    let after = &stat[stat.rfind(')').expect("a command in parentheses") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_write_to_a_file_nobody_has_open_leaves_the_gateway_idle() {
    let redis = RedisServer::start().await.expect("redis starts");
    let dir = tempfile::tempdir().expect("a temp folder");
    let gateway = Gateway::start(
        &redis.url(),
        &[
            "--files",
            "dir",
            "--files-dir",
            dir.path().to_str().expect("UTF-8"),
        ],
    )
    .await
    .expect("gateway starts");
    let pid = gateway.pid().expect("the gateway runs");
    std::fs::create_dir_all(dir.path().join("s1")).expect("mkdir");
    std::fs::write(dir.path().join("s1/app.ts"), "let a = 1;\n").expect("an outside write");
    // The watcher coalesces and reads the file within a few hundred ms; then all is quiet.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let before = cpu_time(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_time(pid) - before;
    // Idle is a few ms (heartbeats); the loop this guards against spent a core: 2 s.
    assert!(
        spent < Duration::from_millis(500),
        "the gateway spent {spent:?} of CPU in 2 s with nothing to do"
    );
}
