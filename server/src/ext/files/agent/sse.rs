//! The agent's change feed as events: a sans-IO reader of `text/event-stream` bytes.
//!
//! Lines end with LF or CRLF; `data:` lines accumulate until a blank line ends the event;
//! lines starting with `:` are comments (`: connected` says the subscription is live,
//! `: ping` keeps it open). An event's data is `{"path":..,"etag":"\"<hex>\""|null,
//! "kind":"changed"|"deleted"}`; anything else is skipped.

use serde::Deserialize;

/// A line longer than this ends the feed (no event of the contract comes near it).
pub const MAX_LINE: usize = 64 * 1024;

/// What the feed said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// `: connected`: changes from here on are reported.
    Connected,
    /// A file under the agent's root changed (`etag` without quotes) or was deleted (`None`).
    Change { path: String, etag: Option<String> },
}

#[derive(Deserialize)]
struct Event {
    path: String,
    etag: Option<String>,
    kind: String,
}

#[derive(Default)]
pub struct Reader {
    line: Vec<u8>,
    data: String,
}

impl Reader {
    /// Feeds `bytes`; returns what complete events they finished, or an error for a line
    /// over [`MAX_LINE`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Said>, &'static str> {
        let mut said = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                if self.line.len() >= MAX_LINE {
                    return Err("a change-feed line is too long");
                }
                self.line.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                let data = std::mem::take(&mut self.data);
                if let Some(change) = change(&data) {
                    said.push(change);
                }
            } else if let Some(comment) = line.strip_prefix(':') {
                if comment.trim() == "connected" {
                    said.push(Said::Connected);
                }
            } else if let Some(data) = line.strip_prefix("data:") {
                if self.data.len() + data.len() > MAX_LINE {
                    return Err("a change-feed event is too long");
                }
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(data.strip_prefix(' ').unwrap_or(data));
            }
        }
        Ok(said)
    }
}

fn change(data: &str) -> Option<Said> {
    if data.is_empty() {
        return None;
    }
    let event: Event = serde_json::from_str(data).ok()?;
    let etag = match event.kind.as_str() {
        "deleted" => None,
        "changed" => Some(event.etag?.trim_matches('"').to_owned()),
        _ => return None,
    };
    Some(Said::Change {
        path: event.path,
        etag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_comments_in_pieces() {
        let feed = ": connected\n\ndata: {\"path\":\"src/a.ts\",\"etag\":\"\\\"ab\\\"\",\"kind\":\"changed\"}\r\n\r\n: ping\n\ndata: {\"path\":\"b\",\"etag\":null,\"kind\":\"deleted\"}\n\ndata: nonsense\n\n";
        let mut reader = Reader::default();
        let mut said = Vec::new();
        for piece in feed.as_bytes().chunks(7) {
            said.extend(reader.push(piece).expect("fine"));
        }
        assert_eq!(
            said,
            [
                Said::Connected,
                Said::Change {
                    path: "src/a.ts".into(),
                    etag: Some("ab".into())
                },
                Said::Change {
                    path: "b".into(),
                    etag: None
                },
            ]
        );
    }

    #[test]
    fn an_endless_line_ends_the_feed() {
        let mut reader = Reader::default();
        assert!(reader.push(&vec![b'x'; MAX_LINE + 1]).is_err());
    }
}
