//! Refusals against a real agent process: paths that leave the root (`..`, absolute, NUL,
//! backslash, symlinks pointing outside) get 400/403 with a reason and write nothing outside;
//! a symlink that stays inside is followed. Missing or wrong tokens get 401; `/healthz` needs
//! none; neither the token nor file contents reach the agent's logs.

mod common;

use std::os::unix::fs::symlink;

use common::{Agent, TOKEN, etag_of, http};

/// Every file below `dir`, as sorted relative names.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("ls").flatten() {
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).expect("below").display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn traversal_and_absolute_paths_are_refused() {
    let agent = Agent::start(&[]).await;
    std::fs::write(agent.outside().join("secret.txt"), b"outside secret").expect("write");
    let before = listing(agent.dir.path());
    let outside = agent.outside();
    let absolute = format!("/files/{}/secret.txt", outside.display());
    let cases: Vec<(String, u16, &str)> = vec![
        ("/files/../outside/secret.txt".into(), 400, "`..`"),
        ("/files/a/../../outside/secret.txt".into(), 400, "`..`"),
        ("/files/%2e%2e/outside/secret.txt".into(), 400, "`..`"),
        ("/files/..%2Foutside%2Fsecret.txt".into(), 400, "`..`"),
        (absolute, 400, "absolute"),
        ("/files/%2Fetc%2Fpasswd".into(), 400, "absolute"),
        ("/files/a%00b".into(), 400, "NUL"),
        ("/files/a%5C..%5Cb".into(), 400, "backslash"),
        ("/files/a//b".into(), 400, "empty"),
        ("/files/./a".into(), 400, "empty or `.`"),
    ];
    for (path, status, reason) in &cases {
        for method in ["GET", "PUT"] {
            let resp = agent
                .req(method, path, &[("If-None-Match", "*")], b"planted")
                .await;
            assert_eq!(resp.status, *status, "{method} {path}: {}", resp.text());
            assert!(
                resp.text().contains(reason),
                "{method} {path}: {}",
                resp.text()
            );
            assert!(!resp.text().contains("outside secret"));
        }
    }
    assert_eq!(listing(agent.dir.path()), before, "something was written");
    assert_eq!(
        std::fs::read(agent.outside().join("secret.txt")).expect("read"),
        b"outside secret"
    );
}

#[tokio::test]
async fn symlinks_out_of_the_root_are_refused_inside_ones_followed() {
    let agent = Agent::start(&[]).await;
    let root = agent.root();
    std::fs::write(agent.outside().join("secret.txt"), b"outside secret").expect("write");
    symlink(agent.outside(), root.join("out_dir")).expect("link");
    symlink(agent.outside().join("secret.txt"), root.join("out_file")).expect("link");
    symlink("/nonexistent-target", root.join("dangling")).expect("link");
    std::fs::create_dir(root.join("real")).expect("mkdir");
    std::fs::write(root.join("real/in.txt"), b"inside").expect("write");
    symlink(root.join("real"), root.join("in_dir")).expect("link");
    symlink("real/in.txt", root.join("in_file")).expect("link");
    let before = listing(agent.outside().as_path());

    for path in [
        "out_dir/secret.txt",
        "out_file",
        "out_dir/new.txt",
        "out_dir/sub/new.txt",
    ] {
        let got = agent.get(path).await;
        assert_eq!(got.status, 403, "GET {path}: {}", got.text());
        assert!(got.text().contains("outside the root"), "{}", got.text());
        assert!(!got.text().contains("outside secret"));
        let put = agent.create(path, b"planted").await;
        assert_eq!(put.status, 403, "PUT {path}: {}", put.text());
        let put = agent
            .replace(path, &etag_of(b"outside secret"), b"planted")
            .await;
        assert_eq!(put.status, 403, "PUT If-Match {path}: {}", put.text());
    }
    assert_eq!(agent.create("dangling", b"planted").await.status, 403);
    assert_eq!(
        listing(agent.outside().as_path()),
        before,
        "written outside"
    );
    assert!(!std::path::Path::new("/nonexistent-target").exists());
    assert_eq!(
        std::fs::read(agent.outside().join("secret.txt")).expect("read"),
        b"outside secret"
    );

    // Links that stay inside the root work, and a write lands on the real file.
    assert_eq!(agent.get("in_dir/in.txt").await.body, b"inside");
    assert_eq!(agent.get("in_file").await.body, b"inside");
    let put = agent
        .replace("in_file", &etag_of(b"inside"), b"changed")
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        std::fs::read(root.join("real/in.txt")).expect("read"),
        b"changed"
    );
    assert!(
        std::fs::symlink_metadata(root.join("in_file"))
            .expect("stat")
            .file_type()
            .is_symlink(),
        "the link itself was replaced"
    );
    assert_eq!(
        agent.create("in_dir/new/deep.txt", b"deep").await.status,
        201
    );
    assert_eq!(
        std::fs::read(root.join("real/new/deep.txt")).expect("read"),
        b"deep"
    );
}

#[tokio::test]
async fn tokens_are_required_and_never_logged() {
    let agent = Agent::start(&[]).await;
    std::fs::write(agent.root().join("a.txt"), b"file-contents-marker").expect("write");
    let wrong = format!("Bearer {TOKEN}x");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("Authorization", wrong.as_str())],
        vec![("Authorization", TOKEN)],
        vec![("Authorization", "Basic dXNlcjpwYXNz")],
        vec![("Authorization", "Bearer ")],
    ];
    for headers in &cases {
        for (method, path) in [
            ("GET", "/files/a.txt"),
            ("PUT", "/files/b.txt"),
            ("GET", "/changes"),
        ] {
            let mut all = headers.clone();
            all.push(("If-None-Match", "*"));
            let resp = http(&agent.addr, method, path, &all, b"planted").await;
            assert_eq!(resp.status, 401, "{method} {path} {headers:?}");
            assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
            assert!(!resp.text().contains("file-contents-marker"));
        }
    }
    assert!(!agent.root().join("b.txt").exists());
    let health = http(&agent.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(health.status, 200);

    // Real work, then the logs hold neither the token nor any file's bytes.
    assert_eq!(agent.get("a.txt").await.status, 200);
    assert_eq!(
        agent.create("c.txt", b"put-contents-marker").await.status,
        201
    );
    let logs = agent.wait_log("written").await;
    for secret in [TOKEN, "file-contents-marker", "put-contents-marker"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn token_from_a_file_and_help_warns_about_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("root")).expect("root");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token-0123456789\n").expect("write");
    let flag = token_file.display().to_string();
    let agent = Agent::start_in(dir, &["--token-file", &flag], &[]).await;
    std::fs::write(agent.root().join("a.txt"), b"x").expect("write");
    let ok = http(
        &agent.addr,
        "GET",
        "/files/a.txt",
        &[("Authorization", "Bearer file-token-0123456789")],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        agent.get("a.txt").await.status,
        401,
        "the env token is not the file's"
    );

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_collab-sandbox-agent"))
        .arg("--help")
        .env("COLLAB_AGENT_TOKEN", "env-secret-in-help")
        .output()
        .expect("--help");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--token-file") && text.contains("ps"),
        "{text}"
    );
    assert!(
        !text.contains("env-secret-in-help"),
        "--help shows the token: {text}"
    );

    let none = std::process::Command::new(env!("CARGO_BIN_EXE_collab-sandbox-agent"))
        .args(["--root", "/tmp", "--listen", "127.0.0.2:0"])
        .env_remove("COLLAB_AGENT_TOKEN")
        .env_remove("COLLAB_AGENT_TOKEN_FILE")
        .output()
        .expect("run");
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no token"));
}
