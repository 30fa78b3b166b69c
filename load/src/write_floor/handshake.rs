//! The HTTP upgrade of a write-floor connection, done by tungstenite's public helpers (its
//! request parser, `create_response` for the accept key and `write_response`) on bytes the
//! event loop read: no blocking stream, no WebSocket object kept afterwards.

use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::handshake::server::{Request, create_response, write_response};

use crate::floor::{PATH_PREFIX, file_of};

/// Longest upgrade request accepted.
pub const MAX_REQUEST: usize = 8 * 1024;

/// What the start of a connection's bytes says.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Not a whole request yet.
    Incomplete,
    /// Upgraded: send `response`; the request took the first `consumed` bytes.
    Accepted {
        file: String,
        response: Vec<u8>,
        consumed: usize,
    },
    /// Refused: send `response` and close.
    Refused { response: Vec<u8> },
}

/// Reads an upgrade request to `/doc/{file}` from the start of `buf`.
pub fn upgrade(buf: &[u8]) -> Upgrade {
    let (consumed, request) = match Request::try_parse(buf) {
        Ok(Some(parsed)) => parsed,
        Ok(None) if buf.len() < MAX_REQUEST => return Upgrade::Incomplete,
        Ok(None) => return refusal(431, "Request Header Fields Too Large"),
        Err(_) => return refusal(400, "Bad Request"),
    };
    let Some(file) = file_of(request.uri().path()) else {
        return refusal(404, "Not Found");
    };
    let Ok(accepted) = create_response(&request) else {
        return refusal(400, "Bad Request");
    };
    let mut response = Vec::with_capacity(160);
    if write_response(&mut response, &accepted).is_err() {
        return refusal(500, "Internal Server Error");
    }
    Upgrade::Accepted {
        file: file.to_owned(),
        response,
        consumed,
    }
}

fn refusal(status: u16, reason: &str) -> Upgrade {
    let body = format!("use {PATH_PREFIX}{{file}} with a WebSocket upgrade\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Upgrade::Refused {
        response: response.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request of RFC 6455 section 1.3, for a file path.
    fn request(path: &str) -> String {
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
    }

    #[test]
    fn upgrades_with_the_rfc_accept_key() {
        let mut bytes = request("/doc/load-1/7").into_bytes();
        let length = bytes.len();
        bytes.extend_from_slice(&[0x82, 0x84]); // a frame right behind it
        match upgrade(&bytes) {
            Upgrade::Accepted {
                file,
                response,
                consumed,
            } => {
                assert_eq!(file, "load-1/7");
                assert_eq!(consumed, length);
                let text = String::from_utf8_lossy(&response);
                assert!(text.starts_with("HTTP/1.1 101"), "{text}");
                assert!(
                    text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                    "the RFC's accept key: {text}"
                );
                assert!(text.ends_with("\r\n\r\n"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn partial_wrong_path_and_garbage() {
        let full = request("/doc/a");
        assert_eq!(upgrade(&full.as_bytes()[..20]), Upgrade::Incomplete);
        let status = |u: Upgrade| match u {
            Upgrade::Refused { response } => String::from_utf8_lossy(&response)[..12].to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            status(upgrade(request("/other/a").as_bytes())),
            "HTTP/1.1 404"
        );
        assert_eq!(status(upgrade(request("/doc/").as_bytes())), "HTTP/1.1 404");
        assert_eq!(
            status(upgrade(b"\x00\x01 nonsense\r\n\r\n")),
            "HTTP/1.1 400"
        );
        let endless = format!("GET /doc/a HTTP/1.1\r\nX: {}", "y".repeat(MAX_REQUEST));
        assert_eq!(status(upgrade(endless.as_bytes())), "HTTP/1.1 431");
    }
}
