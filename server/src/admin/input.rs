//! Reading admin requests: ids from the path and fields from a JSON body, each checked
//! with a clear message.
//!
//! No message ever repeats a value it refuses: a refused value may be a token or a
//! `sandbox_ip`, and errors end up in clients' logs. That is also why bodies are read
//! field by field here rather than by serde's derive, whose messages quote the input.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error::AdminError;

/// Longest id (user, sandbox, token), in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest display name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest TTL a session or user record may be given: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;
/// TTL of a session or user record when the body names none (an hour, like the platform's
/// `EXPIRE user:{id} 3600`).
pub const DEFAULT_TTL_SECS: u64 = 3600;

/// What an id names, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    User,
    Sandbox,
    Token,
}

impl IdKind {
    fn what(self) -> &'static str {
        match self {
            IdKind::User => "user id",
            IdKind::Sandbox => "sandbox id",
            IdKind::Token => "token",
        }
    }
}

/// Checks an id: 1 to 256 bytes, no control characters, no `/`. A sandbox id is also the
/// first segment of its file ids (`{sandbox_id}/{path}`), so it may not be `.` or `..`
/// nor start with `}` (file ids refuse both).
pub fn id(kind: IdKind, value: &str) -> Result<String, AdminError> {
    let what = kind.what();
    if value.is_empty() || value.len() > MAX_ID_BYTES {
        return Err(AdminError::bad(format!(
            "{what} must be 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(AdminError::bad(format!(
            "{what} contains a control character"
        )));
    }
    if value.contains('/') {
        return Err(AdminError::bad(format!("{what} contains '/'")));
    }
    if kind == IdKind::Sandbox && (value == "." || value == ".." || value.starts_with('}')) {
        return Err(AdminError::bad(
            "sandbox id may not be '.' or '..' nor start with '}' (it starts its file ids)",
        ));
    }
    Ok(value.to_owned())
}

/// The fields of a JSON object body, taken one by one; [`Fields::finish`] refuses any left.
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Parses `body` as a JSON object.
    pub fn parse(body: &[u8]) -> Result<Fields, AdminError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields { map }),
            Ok(_) => Err(AdminError::bad("the body must be a JSON object")),
            // serde_json's syntax errors name a position, never the text there.
            Err(error) => Err(AdminError::bad(format!(
                "the body must be a JSON object (invalid JSON at line {}, column {})",
                error.line(),
                error.column()
            ))),
        }
    }

    /// A string field, if present (`null` counts as absent).
    pub fn string(&mut self, name: &str) -> Result<Option<String>, AdminError> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(AdminError::bad(format!("`{name}` must be a string"))),
        }
    }

    /// A string field that must be present.
    pub fn required_string(&mut self, name: &str) -> Result<String, AdminError> {
        self.string(name)?
            .ok_or_else(|| AdminError::bad(format!("`{name}` is required")))
    }

    /// `ttl_secs`: whole seconds from 1 to [`MAX_TTL_SECS`], [`DEFAULT_TTL_SECS`] when absent.
    pub fn ttl(&mut self) -> Result<Duration, AdminError> {
        let secs = match self.map.remove("ttl_secs") {
            None | Some(Value::Null) => DEFAULT_TTL_SECS,
            Some(value) => value
                .as_u64()
                .filter(|secs| (1..=MAX_TTL_SECS).contains(secs))
                .ok_or_else(|| {
                    AdminError::bad(format!(
                        "`ttl_secs` must be a whole number of seconds from 1 to {MAX_TTL_SECS}"
                    ))
                })?,
        };
        Ok(Duration::from_secs(secs))
    }

    /// Refuses fields nobody took (a typo such as `ttl` for `ttl_secs` must not pass
    /// silently). Names that look like ordinary field names are quoted, others are not.
    pub fn finish(self, allowed: &[&str]) -> Result<(), AdminError> {
        let Some(name) = self.map.keys().next() else {
            return Ok(());
        };
        let plain = name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let which = if plain {
            format!("unknown field `{name}`")
        } else {
            "unknown field".to_owned()
        };
        Err(AdminError::bad(format!(
            "{which} (allowed: {})",
            allowed.join(", ")
        )))
    }
}

/// A display name: 1 to 256 bytes without control characters.
pub fn name(value: String) -> Result<String, AdminError> {
    if value.is_empty() || value.len() > MAX_NAME_BYTES {
        return Err(AdminError::bad(format!(
            "`name` must be 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(AdminError::bad("`name` contains a control character"));
    }
    Ok(value)
}

/// A cursor colour: `#` and 3, 4, 6 or 8 hex digits (it ends up in CSS).
pub fn color(value: String) -> Result<String, AdminError> {
    let ok = value.strip_prefix('#').is_some_and(|hex| {
        matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if ok {
        Ok(value)
    } else {
        Err(AdminError::bad(
            "`color` must be '#' and 3, 4, 6 or 8 hex digits, such as #e91e63",
        ))
    }
}

/// A sandbox's internal address: an IPv4 or IPv6 address (never quoted back).
pub fn sandbox_ip(value: String) -> Result<String, AdminError> {
    match value.parse::<std::net::IpAddr>() {
        Ok(_) => Ok(value),
        Err(_) => Err(AdminError::bad(
            "`sandbox_ip` must be an IPv4 or IPv6 address",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (Not `expect_err`: `Fields` has no `Debug`, as it may hold a `sandbox_ip`.)
    fn refused<T>(result: Result<T, AdminError>) -> String {
        match result {
            Ok(_) => panic!("accepted, expected a refusal"),
            Err(error) => error.message,
        }
    }

    #[test]
    fn ids_are_bounded_plain_and_slash_free() {
        assert_eq!(id(IdKind::User, "u1").expect("a valid test value"), "u1");
        assert_eq!(
            id(IdKind::Sandbox, "lxc-abc123").expect("a valid test value"),
            "lxc-abc123"
        );
        assert!(refused(id(IdKind::User, "")).contains("1 to 256"));
        assert!(refused(id(IdKind::User, &"x".repeat(257))).contains("1 to 256"));
        assert!(id(IdKind::User, &"x".repeat(256)).is_ok());
        assert!(refused(id(IdKind::User, "a\nb")).contains("control"));
        assert!(refused(id(IdKind::Sandbox, "a/b")).contains('/'));
        assert!(refused(id(IdKind::Token, "a/b")).starts_with("token"));
        for bad in [".", "..", "}x"] {
            assert!(id(IdKind::Sandbox, bad).is_err(), "{bad}");
        }
        assert!(
            id(IdKind::User, "..").is_ok(),
            "only sandbox ids start file ids"
        );
    }

    #[test]
    fn fields_are_typed_and_unknown_ones_refused() {
        let mut fields =
            Fields::parse(br#"{"user":"u1","ttl_secs":60,"extra":1}"#).expect("a valid test value");
        assert_eq!(
            fields.required_string("user").expect("a valid test value"),
            "u1"
        );
        assert_eq!(
            fields.ttl().expect("a valid test value"),
            Duration::from_secs(60)
        );
        assert_eq!(
            refused(fields.finish(&["user", "ttl_secs"])),
            "unknown field `extra` (allowed: user, ttl_secs)"
        );
        let mut fields = Fields::parse(br#"{}"#).expect("a valid test value");
        assert_eq!(
            fields.ttl().expect("a valid test value"),
            Duration::from_secs(DEFAULT_TTL_SECS)
        );
        assert!(refused(fields.required_string("user")).contains("required"));
        let weird = Fields::parse(br#"{"10.0.0.42 secret":1}"#).expect("a valid test value");
        assert_eq!(refused(weird.finish(&["a"])), "unknown field (allowed: a)");
    }

    #[test]
    fn bad_ttls_and_types_are_refused() {
        for body in [
            &br#"{"ttl_secs":0}"#[..],
            br#"{"ttl_secs":-5}"#,
            br#"{"ttl_secs":1.5}"#,
            br#"{"ttl_secs":"60"}"#,
            br#"{"ttl_secs":99999999999}"#,
        ] {
            let mut fields = Fields::parse(body).expect("a valid test value");
            assert!(refused(fields.ttl()).contains("ttl_secs"));
        }
        let mut fields = Fields::parse(br#"{"user":7}"#).expect("a valid test value");
        assert_eq!(refused(fields.string("user")), "`user` must be a string");
    }

    #[test]
    fn invalid_json_is_described_without_quoting_it() {
        let message = refused(Fields::parse(br#"{"sandbox_ip": 10.0.0.42"#));
        assert!(message.contains("line 1"), "{message}");
        assert!(!message.contains("10.0"), "{message}");
        assert!(refused(Fields::parse(b"[1]")).contains("JSON object"));
    }

    #[test]
    fn names_colors_and_addresses() {
        assert!(name("Ann".into()).is_ok());
        assert!(name(String::new()).is_err());
        assert!(name("a\u{7}".into()).is_err());
        for ok in ["#e91e63", "#fff", "#ffff", "#11223344"] {
            assert!(color(ok.into()).is_ok(), "{ok}");
        }
        for bad in ["e91e63", "#e91e6", "red", "#ggg", "#e91e63;x"] {
            assert!(color(bad.into()).is_err(), "{bad}");
        }
        assert!(sandbox_ip("10.0.0.42".into()).is_ok());
        assert!(sandbox_ip("fd00::1".into()).is_ok());
        let message = refused(sandbox_ip("10.0.0.420".into()));
        assert!(!message.contains("10.0"), "{message}");
    }
}
