//! `wss://` targets: a tiny edit-storm through TLS to a real gateway, everything on loopback.
//!
//! The test makes its own certificate (rcgen, for `localhost` and 127.0.0.1), runs a TLS
//! terminator on a free loopback port in front of a test-started gateway (tokio-rustls,
//! relaying bytes to the gateway's plain port), and runs the built `collab-load` with
//! `--target wss://localhost:PORT/doc --tls-ca cert.pem`. Every edit must arrive, and the
//! editors' connections must be the terminator's TLS sessions. A second run without
//! `--tls-ca` must fail: the system's roots do not know the test's certificate.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use collab_tests::RedisServer;
use collab_tests::gateway::Gateway;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A loopback TLS terminator in front of `upstream` (`127.0.0.1:PORT`); returns its port
/// and the count of TLS handshakes it completed.
async fn tls_terminator(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    upstream: String,
) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, handshakes)
}

/// Runs collab-load's edit-storm against `target` with `extra` flags; returns its exit
/// status, its JSON report (when it wrote one) and its stderr.
async fn edit_storm(target: &str, extra: &[&str]) -> (bool, Option<Value>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_collab-load"));
    cmd.args(["edit-storm", "--target", target])
        .args(["--editors", "4", "--files", "2", "--edits-per-editor", "5"])
        .args(["--rate", "20"])
        .args(extra)
        .arg("--json")
        .arg(&json);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("running collab-load");
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), report, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_target_is_load_tested_through_tls() {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generating a certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("cert.pem");
    std::fs::write(&ca, generated.cert.pem()).expect("writing cert.pem");
    let ca = ca.to_str().expect("utf-8 path").to_owned();
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));

    let redis = RedisServer::start().await.expect("starting redis-server");
    let gateway = Gateway::start(&redis.url(), &[])
        .await
        .expect("starting collab-gateway");
    let (port, handshakes) = tls_terminator(cert, key, gateway.addr().to_owned()).await;
    let target = format!("wss://localhost:{port}/doc");

    let (ok, report, stderr) =
        edit_storm(&target, &["--tls-ca", &ca, "--connect-timeout", "20"]).await;
    assert!(ok, "collab-load over wss:// failed:\n{stderr}");
    let report = report.expect("a JSON report");
    let n = |k: &str| report[k].as_u64().unwrap_or_else(|| panic!("no {k}"));
    assert_eq!(n("synced"), 4, "{report}");
    assert_eq!(n("edits"), 20, "{report}");
    assert_eq!(n("deliveries"), n("expected_deliveries"), "{report}");
    assert_eq!(n("errors"), 0, "{report}");
    assert!(
        handshakes.load(Ordering::SeqCst) >= 4,
        "every editor connected through TLS ({} handshakes)",
        handshakes.load(Ordering::SeqCst)
    );

    // Without --tls-ca the test's certificate is unknown: no editor may connect.
    let before = handshakes.load(Ordering::SeqCst);
    let (ok, _, stderr) = edit_storm(&target, &["--connect-timeout", "5"]).await;
    assert!(
        !ok,
        "connected without trusting the test certificate:\n{stderr}"
    );
    assert_eq!(handshakes.load(Ordering::SeqCst), before, "{stderr}");
}
