//! WebSocket close codes (README, "Protocol"). The stock y-websocket client stops reconnecting on
//! 4400-4499 only, so permanent refusals use that range and transient ones do not.

/// Normal closure.
pub const NORMAL: u16 = 1000;
/// Undecodable message or update.
pub const INVALID_PAYLOAD: u16 = 1007;
/// Rate or size policy violated.
pub const POLICY: u16 = 1008;
/// Message too big.
pub const TOO_BIG: u16 = 1009;
/// Gateway restarting: reconnect elsewhere.
pub const RESTARTING: u16 = 1012;
/// Gateway overloaded or client too slow: reconnect later.
pub const OVERLOADED: u16 = 1013;
/// Invalid request, such as a bad file id. Permanent.
pub const INVALID_REQUEST: u16 = 4400;
/// Not authenticated. Permanent.
pub const UNAUTHENTICATED: u16 = 4401;
/// Forbidden. Permanent.
pub const FORBIDDEN: u16 = 4403;
