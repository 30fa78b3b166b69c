//! What an external source may post: its name, a version, and Monaco markers, checked
//! before anything reaches the room or the cache. Errors name what is wrong, never quote
//! the value.

use collab_protocol::Marker;
use collab_protocol::extension::severity;
use serde::Deserialize;

/// Longest source name.
const MAX_SOURCE: usize = 64;
/// Most markers in one post.
pub const MAX_MARKERS: usize = 1000;
/// Longest marker message and code, in bytes.
const MAX_MESSAGE: usize = 2000;
const MAX_CODE: usize = 200;

/// A `POST /files/{F}/diagnostics` body.
#[derive(Debug, Deserialize)]
pub struct Post {
    pub source: String,
    pub version: String,
    pub markers: Vec<Marker>,
}

/// Checks a source name: 1 to 64 of `A-Z a-z 0-9 _ . -`, and not a name of the
/// gateway's own (`syntax`) or of the cache's bookkeeping.
pub fn check_source(source: &str) -> Result<(), String> {
    let valid = !source.is_empty()
        && source.len() <= MAX_SOURCE
        && source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !valid {
        return Err(format!(
            "source must be 1 to {MAX_SOURCE} characters of A-Z, a-z, 0-9, '_', '.' and '-'"
        ));
    }
    if matches!(
        source,
        collab_room_core::ext::diagnostics::SYNTAX | "claim" | "order"
    ) {
        return Err("that source name is reserved for the gateway".into());
    }
    Ok(())
}

/// Checks a version: the lowercase hex SHA-256 of the text (64 characters).
pub fn check_version(version: &str) -> Result<(), String> {
    let valid = version.len() == 64
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid {
        Ok(())
    } else {
        Err("version must be the lowercase hex SHA-256 of the file's text".into())
    }
}

/// Checks a whole post.
pub fn check_post(post: &Post) -> Result<(), String> {
    check_source(&post.source)?;
    check_version(&post.version)?;
    if post.markers.len() > MAX_MARKERS {
        return Err(format!("at most {MAX_MARKERS} markers per post"));
    }
    for (i, marker) in post.markers.iter().enumerate() {
        check_marker(marker).map_err(|e| format!("markers[{i}]: {e}"))?;
    }
    Ok(())
}

fn check_marker(marker: &Marker) -> Result<(), &'static str> {
    if !severity::is_valid(marker.severity) {
        return Err("severity must be 1, 2, 4 or 8");
    }
    if marker.start_line_number == 0 || marker.start_column == 0 {
        return Err("lines and columns start at 1");
    }
    let start = (marker.start_line_number, marker.start_column);
    if (marker.end_line_number, marker.end_column) < start {
        return Err("the end comes before the start");
    }
    if marker.message.len() > MAX_MESSAGE {
        return Err("message is too long");
    }
    if marker
        .code
        .as_ref()
        .is_some_and(|code| code.len() > MAX_CODE)
    {
        return Err("code is too long");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            severity: 4,
            message: "unused".into(),
            start_line_number: 1,
            start_column: 1,
            end_line_number: 1,
            end_column: 4,
            code: Some("W1".into()),
        }
    }

    fn post(markers: Vec<Marker>) -> Post {
        Post {
            source: "eslint".into(),
            version: "a".repeat(64),
            markers,
        }
    }

    #[test]
    fn a_sane_post_passes() {
        assert_eq!(check_post(&post(vec![marker()])), Ok(()));
        assert_eq!(check_post(&post(Vec::new())), Ok(()));
    }

    #[test]
    fn bad_sources_versions_and_markers_are_named() {
        for source in ["", "syntax", "claim", "a:b", &"x".repeat(65)] {
            assert!(check_source(source).is_err(), "{source:?}");
        }
        for version in ["abc", &"A".repeat(64), &"g".repeat(64)] {
            assert!(check_version(version).is_err(), "{version:?}");
        }
        let mut bad = marker();
        bad.severity = 3;
        assert!(
            check_post(&post(vec![bad]))
                .unwrap_err()
                .starts_with("markers[0]")
        );
        let mut backwards = marker();
        backwards.end_line_number = 0;
        assert!(
            check_post(&post(vec![marker(), backwards]))
                .unwrap_err()
                .starts_with("markers[1]")
        );
        assert!(check_post(&post(vec![marker(); MAX_MARKERS + 1])).is_err());
    }
}
