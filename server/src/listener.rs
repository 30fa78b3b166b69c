//! The HTTP side of the gateway: accepts TCP connections and serves the router on them.
//!
//! A client is anonymous until its upgrade request (which carries the file and the token)
//! has been read, so everything before that is bounded here, before any room or Redis
//! work: how long the request head may take to arrive (slow or silent clients), how big it
//! may be, and how many connections may be in that state at once. Past a bound the
//! connection is refused or dropped and the refusal counted; sessions already open never
//! notice.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Bounds on connections that have not yet become WebSocket sessions.
#[derive(Debug, Clone, Copy)]
pub struct HandshakeLimits {
    /// Largest request line plus headers (larger: 431 and close).
    pub max_head_bytes: usize,
    /// Time allowed for a request head to arrive, counted from the accept (or from the end
    /// of the previous request on a kept-alive connection).
    pub timeout: Duration,
    /// Connections accepted but not yet upgraded (or plain HTTP) at once; more are closed
    /// at once.
    pub max_in_flight: usize,
}

/// Serves `router` on `listener` until `stop` resolves. Then stops accepting and asks every
/// plain HTTP connection to finish its request and close; upgraded WebSockets are the
/// sessions' business (the gateway drains them itself).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HandshakeLimits,
    stop: impl Future<Output = ()>,
) {
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let (closing, closing_rx) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let tcp = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            crate::metrics::rejected("too-many-handshakes");
            drop(tcp);
            continue;
        };
        let router = router.clone();
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            serve_connection(tcp, router, limits, closing).await;
            drop(permit);
        });
    }
    let _ = closing.send(true);
}

/// Serves one TCP connection; returns once it closed or was upgraded (the WebSocket then
/// lives on in its own task, and no longer counts as a handshake).
async fn serve_connection(
    tcp: TcpStream,
    router: Router,
    limits: HandshakeLimits,
    mut closing: watch::Receiver<bool>,
) {
    // Edits are small frames: without TCP_NODELAY they wait on delayed ACKs (~40 ms).
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    let service = TowerToHyperService::new(
        router.map_request(|request: http::Request<Incoming>| request.map(Body::new)),
    );
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.timeout)
        .max_header_size(limits.max_head_bytes)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    let closing = async move {
        // (The guard `wait_for` returns is not Send: drop it here, not across an await.)
        let _ = closing.wait_for(|closing| *closing).await.is_ok();
    };
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        _ = closing => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = outcome {
        let reason = if error.is_timeout() {
            Some("handshake-timeout")
        } else if error.is_parse_too_large() {
            Some("request-too-large")
        } else if error.is_parse() {
            Some("malformed-request")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                crate::metrics::rejected(reason);
                tracing::debug!(%error, reason, "connection refused before upgrade");
            }
            None => tracing::debug!(%error, "connection ended"),
        }
    }
}
