//! HTTP to a sandbox's file agent: `GET /files/{path}`, conditional `PUT /files/{path}`
//! and the `GET /changes` stream, with the bearer token, a timeout on every request, and
//! each path segment percent-encoded.
//!
//! Errors never carry the agent's address, its URL or a transport error's text (which can
//! name the address): each says in fixed words what went wrong, such as "the sandbox's file
//! agent did not answer".

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, ETAG, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ext::files::source::{Etag, Loaded, Precondition, SourceError};
use crate::sandbox_ip::SandboxIp;
use crate::secret::Secret;

/// Connecting to an agent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One whole GET or PUT, body included (5 MiB on a sandbox network takes well under it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Opening the change feed, up to its response head.
const FEED_OPEN_TIMEOUT: Duration = Duration::from_secs(10);

pub const NO_ANSWER: &str = "the sandbox's file agent did not answer";
pub const TOKEN_REFUSED: &str =
    "the sandbox's file agent refused the gateway's token (check --sandbox-agent-token)";

/// Requests to sandbox agents, over one connection pool.
#[derive(Clone)]
pub struct AgentClient {
    http: Client<HttpConnector, Full<Bytes>>,
    port: u16,
    auth: HeaderValue,
}

impl AgentClient {
    pub fn new(port: u16, token: &Secret) -> anyhow::Result<AgentClient> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| anyhow::anyhow!("--sandbox-agent-token: not a valid header value"))?;
        auth.set_sensitive(true);
        Ok(AgentClient { http, port, auth })
    }

    fn request(
        &self,
        method: Method,
        ip: SandboxIp,
        path: &str,
    ) -> Result<http::request::Builder, SourceError> {
        let uri = format!("http://{}{path}", ip.socket(self.port));
        let uri: http::Uri = uri
            .parse()
            .map_err(|_| SourceError::Refused("the file's path makes no valid request".into()))?;
        Ok(Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.auth.clone()))
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, SourceError> {
        self.http
            .request(request)
            .await
            .map_err(|_| SourceError::Unanswered(NO_ANSWER.into()))
    }

    /// `GET /files/{path}`: at most `max` bytes.
    pub async fn get(&self, ip: SandboxIp, path: &str, max: usize) -> Result<Loaded, SourceError> {
        let request = self
            .request(Method::GET, ip, &files_path(path))?
            .body(Full::new(Bytes::new()))
            .map_err(|_| SourceError::Refused("no valid request".into()))?;
        within(REQUEST_TIMEOUT, async {
            let response = self.send(request).await?;
            let status = response.status();
            if status != StatusCode::OK {
                return Err(refusal(status, response).await);
            }
            let etag = etag_of(response.headers());
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| SourceError::Unanswered(NO_ANSWER.into()))?;
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > max {
                        return Err(SourceError::TooBig {
                            size: (bytes.len() + data.len()) as u64,
                            max,
                        });
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            let etag = etag.unwrap_or_else(|| Etag::of(&bytes));
            Ok(Loaded { bytes, etag })
        })
        .await
    }

    /// `PUT /files/{path}` on `condition`; the new ETag.
    pub async fn put(
        &self,
        ip: SandboxIp,
        path: &str,
        bytes: &[u8],
        condition: &Precondition,
    ) -> Result<Etag, SourceError> {
        let body = Bytes::copy_from_slice(bytes);
        let builder = self.request(Method::PUT, ip, &files_path(path))?;
        let builder = match condition {
            Precondition::IfMatch(etag) => builder.header(IF_MATCH, format!("\"{}\"", etag.0)),
            Precondition::CreateOnly => builder.header(IF_NONE_MATCH, "*"),
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|_| SourceError::Refused("no valid request".into()))?;
        within(REQUEST_TIMEOUT, async {
            let response = self.send(request).await?;
            let status = response.status();
            match status {
                StatusCode::OK | StatusCode::CREATED => {
                    Ok(etag_of(response.headers()).unwrap_or_else(|| Etag::of(bytes)))
                }
                StatusCode::PRECONDITION_FAILED => Err(SourceError::Conflict),
                _ => Err(refusal(status, response).await),
            }
        })
        .await
    }

    /// `GET /changes`: the response body, once its head says 200.
    pub async fn changes(&self, ip: SandboxIp) -> Result<Incoming, SourceError> {
        let request = self
            .request(Method::GET, ip, "/changes")?
            .header(http::header::ACCEPT, "text/event-stream")
            .body(Full::new(Bytes::new()))
            .map_err(|_| SourceError::Refused("no valid request".into()))?;
        within(FEED_OPEN_TIMEOUT, async {
            let response = self.send(request).await?;
            let status = response.status();
            if status != StatusCode::OK {
                return Err(refusal(status, response).await);
            }
            Ok(response.into_body())
        })
        .await
    }
}

async fn within<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(SourceError::Unanswered(NO_ANSWER.into())))
}

/// `/files/` and the path's segments, each percent-encoded.
fn files_path(path: &str) -> String {
    let mut out = String::from("/files");
    for segment in path.split('/') {
        out.push('/');
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// The ETag header without its quotes, if it is one of ours (hex SHA-256).
fn etag_of(headers: &http::HeaderMap) -> Option<Etag> {
    let value = headers.get(ETAG)?.to_str().ok()?;
    let hex = value.trim().trim_matches('"');
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Etag(hex.to_ascii_lowercase()))
}

/// An answer other than success, in words (the agent's own short reason included where it
/// refuses a path; it never holds the address).
async fn refusal(status: StatusCode, response: http::Response<Incoming>) -> SourceError {
    match status {
        StatusCode::NOT_FOUND => SourceError::NotFound,
        StatusCode::UNAUTHORIZED => SourceError::Unanswered(TOKEN_REFUSED.into()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            SourceError::Refused("the file is larger than the sandbox's file agent serves".into())
        }
        StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
            let reason = agent_reason(response).await;
            SourceError::Refused(format!(
                "the sandbox's file agent refused the path: {reason}"
            ))
        }
        other => SourceError::Unanswered(format!(
            "the sandbox's file agent answered {}",
            other.as_u16()
        )),
    }
}

/// `{"error": "..."}` of an agent's refusal, at most a short line of it.
async fn agent_reason(response: http::Response<Incoming>) -> String {
    let body = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect()).await;
    let Ok(Ok(body)) = body else {
        return "no reason given".into();
    };
    let bytes = body.to_bytes();
    let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "no reason given".into());
    reason.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(files_path("src/app.ts"), "/files/src/app.ts");
        assert_eq!(
            files_path("a b/ü?#%.txt"),
            "/files/a%20b/%C3%BC%3F%23%25.txt"
        );
    }

    #[test]
    fn etags_lose_their_quotes() {
        let hex = "ab".repeat(32);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            ETAG,
            HeaderValue::from_str(&format!("\"{hex}\"")).expect("value"),
        );
        assert_eq!(etag_of(&headers), Some(Etag(hex)));
        headers.insert(ETAG, HeaderValue::from_static("W/\"x\""));
        assert_eq!(etag_of(&headers), None);
    }
}
