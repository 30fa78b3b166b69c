//! The status page: one self-contained HTML file (`page.html`: inline script and style,
//! no framework, nothing loaded from elsewhere) that holds no data. It is served with a
//! Content-Security-Policy that allows exactly its own inline script and style (by their
//! SHA-256) and fetches to its own origin, no framing, no referrer, no caching (and an
//! empty inline icon, so the browser asks for no `/favicon.ico`).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The page, as built into the binary.
pub const PAGE: &str = include_str!("page.html");

/// `/status`: the page and its headers; the same bytes for everyone.
pub async fn serve() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, policy()),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

/// The page's Content-Security-Policy, computed once from the page.
pub fn policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash_of(inline(PAGE, "script")),
            hash_of(inline(PAGE, "style")),
        )
    })
}

/// The text of the page's one `<tag>` element (empty if it has none).
fn inline<'a>(page: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    page.split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&close))
        .map_or("", |(body, _)| body)
}

/// A CSP source for `text`: `'sha256-<base64>'`.
fn hash_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_script_and_one_style_and_the_policy_names_them() {
        for tag in ["script", "style"] {
            assert_eq!(PAGE.matches(&format!("<{tag}")).count(), 1, "one <{tag}>");
            assert!(!inline(PAGE, tag).trim().is_empty());
            assert!(policy().contains(&hash_of(inline(PAGE, tag))));
        }
        assert!(
            !PAGE.contains("http://") && !PAGE.contains("https://"),
            "nothing is loaded from elsewhere"
        );
    }

    #[test]
    fn hashes_are_csp_sources() {
        // echo -n 'a' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hash_of("a"),
            "'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs='"
        );
    }
}
