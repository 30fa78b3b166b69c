//! The WebSocket handshake (RFC 6455, section 4.2), done here instead of by axum's
//! extractor so that a session owns a tokio-tungstenite stream and can write raw frames.
//!
//! Why it matters: tungstenite copies a whole frame into the connection's write buffer,
//! and that buffer keeps its capacity for the life of the connection. A joiner of a 20 MB
//! document would hold 20 MB for as long as it stays (150 joiners: 1.5 GB per gateway).
//! Sending large messages as a run of small frames keeps every buffer small.
//!
//! The session's socket is the plain TCP stream: hyper hands an upgraded connection back
//! as `Upgraded`, a boxed stream behind a buffer of bytes read early, and every read and
//! write through it passed three wrappers and a virtual call. In fan-out a room writes one
//! frame into hundreds of sockets per update, so each wrapper (and the heap box it reaches
//! through) was paid hundreds of times per update.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

/// A client connection after the handshake.
pub type Socket = WebSocketStream<TcpStream>;

/// Answers a WebSocket upgrade request with 101 and runs `serve` on the socket once the
/// connection is handed over; refuses anything else with a 4xx status.
pub fn accept<F, Fut>(mut request: Request, config: WebSocketConfig, serve: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let accept_key = match handshake_key(request.method(), request.headers()) {
        Ok(key) => derive_accept_key(key.as_bytes()),
        Err(refusal) => return refusal.into_response(),
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        )
            .into_response();
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let Some(socket) = websocket(upgraded, config).await else {
                    return;
                };
                // The session runs in a task of its own, sized by the session alone: this
                // one, which held the handshake's state, ends here.
                tokio::spawn(serve(socket));
            }
            Err(error) => tracing::debug!(%error, "the upgrade did not complete"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&accept_key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// The WebSocket over the TCP stream under `upgraded`, with any bytes the client sent
/// right behind its request (read by hyper already) as the first input.
async fn websocket(upgraded: Upgraded, config: WebSocketConfig) -> Option<Socket> {
    // Our listener serves every connection as a `TokioIo<TcpStream>`.
    let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
        tracing::error!("an upgraded connection is not a TCP stream; dropped");
        return None;
    };
    let (tcp, early) = (parts.io.into_inner(), parts.read_buf);
    let socket = if early.is_empty() {
        WebSocketStream::from_raw_socket(tcp, Role::Server, Some(config)).await
    } else {
        WebSocketStream::from_partially_read(tcp, early.to_vec(), Role::Server, Some(config)).await
    };
    Some(socket)
}

/// The client's `Sec-WebSocket-Key`, once the request is a valid upgrade request.
fn handshake_key<'a>(
    method: &Method,
    headers: &'a HeaderMap,
) -> Result<&'a HeaderValue, (StatusCode, &'static str)> {
    let refuse = |status: StatusCode, why: &'static str| Err((status, why));
    if method != Method::GET {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET",
        );
    }
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13");
    }
    match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) => Ok(key),
        None => refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing"),
    }
}

/// Whether a comma-separated header holds `token` (case-insensitively).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        h
    }

    #[test]
    fn a_browser_upgrade_request_is_accepted() {
        let headers = upgrade_headers();
        let key = handshake_key(&Method::GET, &headers).expect("accepted");
        // The example of RFC 6455, section 1.3.
        assert_eq!(
            derive_accept_key(key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn plain_http_and_old_versions_are_refused() {
        let mut headers = upgrade_headers();
        headers.remove(header::UPGRADE);
        let refused = handshake_key(&Method::GET, &headers).expect_err("no upgrade header");
        assert_eq!(refused.0, StatusCode::UPGRADE_REQUIRED);

        let mut headers = upgrade_headers();
        headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        let refused = handshake_key(&Method::GET, &headers).expect_err("old version");
        assert_eq!(refused.0, StatusCode::BAD_REQUEST);
    }
}
