//! Asserting how a gateway admits a connection: synced, or refused after the upgrade with
//! one extension error and a close frame carrying the code and the reason, and nothing of
//! the document.

use anyhow::{Result, bail};

use crate::{Client, DEADLINE};

/// Connects to `url` (recording every frame) and returns the client once it synced.
pub async fn admitted(url: &str) -> Result<Client> {
    let client = Client::connect_recording(url).await?;
    client.wait_synced(DEADLINE).await?;
    Ok(client)
}

/// Connects to `url` (recording every frame) and checks that it is refused with `code`
/// and `reason`: exactly one frame before the close, the extension error with that code
/// and reason; the close frame with the same; never synced, no text. Returns the client,
/// whose recorded frames a test may scan further.
pub async fn refused(url: &str, code: u16, reason: &str) -> Result<Client> {
    let client = Client::connect_recording(url).await?;
    let closed = client.wait_closed(DEADLINE).await?;
    let errors = client.errors_before_close();
    let told = errors.iter().any(|e| e.code == code && e.reason == reason);
    if closed != code || client.close_reason() != reason || errors.len() != 1 || !told {
        bail!(
            "{}: wanted a refusal {code} {reason:?}, got close {closed} {:?} after errors {errors:?}",
            redact(url),
            client.close_reason()
        );
    }
    if client.is_synced() || !client.is_empty() || client.frames_received() != 1 {
        bail!(
            "{}: a refused client got more than its refusal: synced {}, {} chars, {} frames",
            redact(url),
            client.is_synced(),
            client.len(),
            client.frames_received()
        );
    }
    Ok(client)
}

/// `url` without its query (test failure messages name no token either).
pub fn redact(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}
