//! `GET`/`PUT /files/{path}` against a real agent process: exact bytes, ETags that are the
//! SHA-256 of the bytes, conditional writes (412, 428), 404, 304, the size limit, the file
//! mode kept across a replace, and two racing PUTs of which exactly one wins.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Agent, etag_of};

/// Bytes a text editor may hold, and some it should not: the agent passes them all through.
const SAMPLES: &[(&str, &[u8])] = &[
    ("crlf.txt", b"line one\r\nline two\r\n"),
    (
        "emoji.ts",
        "const s = \"\u{1F600} caf\u{e9} \u{4e2d}\u{6587}\";\n".as_bytes(),
    ),
    ("bom.cs", b"\xEF\xBB\xBFclass A {}\n"),
    ("latin1.txt", b"caf\xE9 \xFF\xFE\x00 bytes"),
    ("empty.txt", b""),
];

#[tokio::test]
async fn round_trip_is_byte_exact_and_etag_is_sha256() {
    let agent = Agent::start(&[]).await;
    for (name, bytes) in SAMPLES {
        let path = format!("dir/{name}");
        let put = agent.create(&path, bytes).await;
        assert_eq!(put.status, 201, "{name}: {}", put.text());
        assert_eq!(put.etag(), Some(etag_of(bytes).as_str()), "{name}");
        let body: serde_json::Value = serde_json::from_slice(&put.body).expect("JSON body");
        assert_eq!(body["etag"], etag_of(bytes));
        assert_eq!(
            std::fs::read(agent.root().join(&path)).expect("on disk"),
            *bytes
        );

        let got = agent.get(&path).await;
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.body, *bytes, "{name}: served bytes differ");
        assert_eq!(got.etag(), Some(etag_of(bytes).as_str()), "{name}");
    }
    // A file written by someone else is served as it is, too.
    std::fs::write(agent.root().join("theirs.bin"), b"\x00\x01\r\n\xC3").expect("write");
    let got = agent.get("theirs.bin").await;
    assert_eq!(got.body, b"\x00\x01\r\n\xC3");
    assert_eq!(got.etag(), Some(etag_of(b"\x00\x01\r\n\xC3").as_str()));
    // Percent-encoded names decode to the file.
    std::fs::write(agent.root().join("a b.txt"), b"spaced").expect("write");
    assert_eq!(agent.get("a%20b.txt").await.body, b"spaced");
}

#[tokio::test]
async fn conditional_puts() {
    let agent = Agent::start(&[]).await;
    let v1 = agent.create("src/app.ts", b"one").await;
    assert_eq!(v1.status, 201);
    let v1_tag = v1.etag().expect("etag").to_owned();

    // Create-only over an existing file: 412, file untouched, current ETag given.
    let again = agent.create("src/app.ts", b"clobber").await;
    assert_eq!(again.status, 412, "{}", again.text());
    assert_eq!(again.etag(), Some(v1_tag.as_str()));
    assert_eq!(
        std::fs::read(agent.root().join("src/app.ts")).expect("read"),
        b"one"
    );

    // Replace that version: 200 with the new ETag.
    let v2 = agent.replace("src/app.ts", &v1_tag, b"two").await;
    assert_eq!(v2.status, 200, "{}", v2.text());
    assert_eq!(v2.etag(), Some(etag_of(b"two").as_str()));

    // The old version again: stale, 412, nothing written.
    let stale = agent.replace("src/app.ts", &v1_tag, b"three").await;
    assert_eq!(stale.status, 412);
    assert!(stale.text().contains("precondition"), "{}", stale.text());
    assert_eq!(
        std::fs::read(agent.root().join("src/app.ts")).expect("read"),
        b"two"
    );

    // A version changed by someone else is stale too.
    std::fs::write(agent.root().join("src/app.ts"), b"edited outside").expect("write");
    let raced = agent.replace("src/app.ts", &etag_of(b"two"), b"mine").await;
    assert_eq!(raced.status, 412);
    assert_eq!(raced.etag(), Some(etag_of(b"edited outside").as_str()));

    // If-Match on a missing file: 412 (there is no such version).
    assert_eq!(agent.replace("nope.ts", &v1_tag, b"x").await.status, 412);
    assert!(!agent.root().join("nope.ts").exists());

    // Neither header: 428 with the reason; nothing written.
    let bare = agent.req("PUT", "/files/bare.ts", &[], b"x").await;
    assert_eq!(bare.status, 428);
    assert!(bare.text().contains("If-Match"), "{}", bare.text());
    assert!(!agent.root().join("bare.ts").exists());

    // Malformed or contradictory preconditions: 400.
    let weird = agent
        .req("PUT", "/files/w.ts", &[("If-Match", "abc")], b"x")
        .await;
    assert_eq!(weird.status, 400);
    let both = agent
        .req(
            "PUT",
            "/files/w.ts",
            &[("If-Match", "*"), ("If-None-Match", "*")],
            b"x",
        )
        .await;
    assert_eq!(both.status, 400);
    assert!(!agent.root().join("w.ts").exists());
}

#[tokio::test]
async fn get_missing_304_and_directories() {
    let agent = Agent::start(&[]).await;
    let missing = agent.get("src/missing.ts").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no such file"));

    std::fs::write(agent.root().join("a.txt"), b"abc").expect("write");
    let tag = etag_of(b"abc");
    let same = agent
        .req("GET", "/files/a.txt", &[("If-None-Match", &tag)], b"")
        .await;
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    assert_eq!(same.etag(), Some(tag.as_str()));
    let other = agent
        .req("GET", "/files/a.txt", &[("If-None-Match", "\"0000\"")], b"")
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body, b"abc");

    std::fs::create_dir(agent.root().join("d")).expect("mkdir");
    assert_eq!(agent.get("d").await.status, 409);
    assert_eq!(agent.create("d", b"x").await.status, 409);
    // A parent that is a file.
    assert_eq!(agent.create("a.txt/child", b"x").await.status, 409);
    assert_eq!(agent.get("a.txt/child").await.status, 404);
}

#[tokio::test]
async fn size_limit_applies_to_put_and_get() {
    let agent = Agent::start(&["--max-file-bytes", "1024"]).await;
    let exact = vec![b'a'; 1024];
    assert_eq!(agent.create("exact.txt", &exact).await.status, 201);
    let over = vec![b'b'; 1025];
    let refused = agent.create("over.txt", &over).await;
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert!(!agent.root().join("over.txt").exists());
    let big = vec![b'c'; 4096];
    assert_eq!(agent.create("big.txt", &big).await.status, 413);

    std::fs::write(agent.root().join("large.log"), vec![b'x'; 2000]).expect("write");
    let got = agent.get("large.log").await;
    assert_eq!(got.status, 413);
    assert!(got.text().contains("--max-file-bytes"), "{}", got.text());
}

#[tokio::test]
async fn replace_keeps_the_file_mode() {
    let agent = Agent::start(&[]).await;
    let script = agent.root().join("run.sh");
    std::fs::write(&script, b"#!/bin/sh\necho one\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o751)).expect("chmod");
    let put = agent
        .replace(
            "run.sh",
            &etag_of(b"#!/bin/sh\necho one\n"),
            b"#!/bin/sh\necho two\n",
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let meta = std::fs::metadata(&script).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o751);
    assert_eq!(
        std::fs::read(&script).expect("read"),
        b"#!/bin/sh\necho two\n"
    );
    // No temp file is left behind.
    let names: Vec<_> = std::fs::read_dir(agent.root())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["run.sh".to_owned()]);
}

#[tokio::test]
async fn concurrent_puts_with_one_version_have_one_winner() {
    let agent = std::sync::Arc::new(Agent::start(&[]).await);
    for round in 0..20 {
        let path = format!("race/{round}.txt");
        let base = agent.create(&path, b"base").await;
        let tag = base.etag().expect("etag").to_owned();
        let mut tasks = Vec::new();
        for writer in 0..2 {
            let agent = std::sync::Arc::clone(&agent);
            let (path, tag) = (path.clone(), tag.clone());
            tasks.push(tokio::spawn(async move {
                let body = format!("writer {writer}");
                let resp = agent.replace(&path, &tag, body.as_bytes()).await;
                (resp.status, body)
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        let winners: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
        let losers = results.iter().filter(|(s, _)| *s == 412).count();
        assert_eq!(
            (winners.len(), losers),
            (1, 1),
            "round {round}: {results:?}"
        );
        let on_disk = std::fs::read(agent.root().join(&path)).expect("read");
        assert_eq!(
            on_disk,
            winners[0].1.as_bytes(),
            "round {round}: the winner's bytes"
        );
    }
}
