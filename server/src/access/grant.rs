//! What an access check takes and gives: a [`Token`] in; a [`Grant`] or a [`Refusal`] out.
//!
//! A token is a secret: [`Token`] has no `Display` and a redacted `Debug`, so it cannot
//! slip into a log line or an error by formatting. Refusals carry static reasons and
//! messages only; nothing the client sent is echoed back.

use std::fmt;
use std::time::SystemTime;

use collab_protocol::close;

use super::Principal;

/// Longest token looked at, in bytes (the request head is bounded anyway; this keeps
/// absurd tokens out of Redis key names and the JWT parser).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// A token as the client presented it (`?token=`). Never formatted: see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token in `value`, or `None` for an empty one (no token at all).
    pub fn new(value: String) -> Option<Token> {
        (!value.is_empty()).then_some(Token(value))
    }

    /// The secret itself, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token is too long to be looked at.
    pub fn is_oversized(&self) -> bool {
        self.0.len() > MAX_TOKEN_BYTES
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What a connection may do with the file it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who the connection acts for: the user id, and under `--auth redis` the name and
    /// colour of `user:{id}`; whether it may write.
    pub principal: Principal,
    /// When the grant ends (a JWT's `exp`): the session closes the connection then, with
    /// 4401 `token-expired`. `None`: it lasts as long as the connection.
    pub expires: Option<SystemTime>,
}

/// Why a connection may not open a file, as the close code and reason it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 4401: no identity could be established.
    Unauthenticated(Unauthenticated),
    /// 4403: the identity may not open this file.
    Forbidden(Forbidden),
    /// 1013: the identity records could not be read; the client may retry.
    Unavailable,
}

/// The reasons behind a 4401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No `?token=` (or an empty one).
    MissingToken,
    /// No live session has this token (never created, deleted or expired: Redis cannot
    /// tell these apart).
    UnknownToken,
    /// The JWT's `exp` has passed (at connect, or while connected).
    TokenExpired,
    /// Not a token this gateway accepts: malformed, wrongly signed, wrong algorithm,
    /// missing or bad claims, oversized.
    BadToken,
}

/// The reasons behind a 4403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The file's sandbox is neither the user's own nor one that lists the user.
    OutsideSandbox,
    /// The file id has no sandbox segment (`{sandbox_id}/{path}`).
    NoSandbox,
}

impl Refusal {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Refusal::Unauthenticated(_) => close::UNAUTHENTICATED,
            Refusal::Forbidden(_) => close::FORBIDDEN,
            Refusal::Unavailable => close::OVERLOADED,
        }
    }

    /// The machine-readable reason: the extension error's `reason`, the close frame's
    /// text and the `collab_rejected_total` label.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unauthenticated(why) => match why {
                Unauthenticated::MissingToken => "missing-token",
                Unauthenticated::UnknownToken => "unknown-token",
                Unauthenticated::TokenExpired => "token-expired",
                Unauthenticated::BadToken => "bad-token",
            },
            Refusal::Forbidden(why) => match why {
                Forbidden::OutsideSandbox => "outside-sandbox",
                Forbidden::NoSandbox => "no-sandbox",
            },
            Refusal::Unavailable => "auth-unavailable",
        }
    }

    /// Human-readable detail for the client.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unauthenticated(why) => match why {
                Unauthenticated::MissingToken => {
                    "this gateway needs a token: connect with ?token=..."
                }
                Unauthenticated::UnknownToken => {
                    "the token is not a live session (unknown, revoked or expired); sign in again"
                }
                Unauthenticated::TokenExpired => "the token has expired; get a new one",
                Unauthenticated::BadToken => "the token is not one this gateway accepts",
            },
            Refusal::Forbidden(why) => match why {
                Forbidden::OutsideSandbox => "this file is in a sandbox your account may not open",
                Forbidden::NoSandbox => "a file id is {sandbox}/{path}; this one names no sandbox",
            },
            Refusal::Unavailable => "your access could not be checked just now; try again shortly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_formats_itself() {
        let token = Token::new("s3cr3t-t0k3n".to_owned()).expect("non-empty");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert_eq!(format!("{:?}", Some(&token)), "Some(Token(<redacted>))");
        assert_eq!(token.expose(), "s3cr3t-t0k3n");
        assert_eq!(Token::new(String::new()), None);
    }

    #[test]
    fn refusals_map_to_their_codes_and_reasons() {
        let all = [
            Refusal::Unauthenticated(Unauthenticated::MissingToken),
            Refusal::Unauthenticated(Unauthenticated::UnknownToken),
            Refusal::Unauthenticated(Unauthenticated::TokenExpired),
            Refusal::Unauthenticated(Unauthenticated::BadToken),
            Refusal::Forbidden(Forbidden::OutsideSandbox),
            Refusal::Forbidden(Forbidden::NoSandbox),
            Refusal::Unavailable,
        ];
        // Each reason's counter is registered at zero, so alerts work before the first one.
        for refusal in &all {
            assert!(
                crate::metrics::REJECTION_REASONS.contains(&refusal.reason()),
                "{} is not registered in metrics::REJECTION_REASONS",
                refusal.reason()
            );
        }
        assert_eq!(all[0].code(), 4401);
        assert_eq!(all[3].code(), 4401);
        assert_eq!(all[4].code(), 4403);
        assert_eq!(all[5].code(), 4403);
        assert_eq!(all[6].code(), 1013);
        // A close frame's reason holds at most 123 bytes.
        assert!(all.iter().all(|r| r.reason().len() <= 123));
    }
}
