//! Convergence checks across replicas.
//!
//! Equal texts alone could be a coincidence (two replicas that both missed the same edit),
//! so [`converge`] merges every client's whole state into an oracle document first: that
//! holds every insertion and deletion anyone made. Then it waits until every client holds
//! every writer's insertions (its state vector covers each writer's own clock; deletions do
//! not advance clocks) and shows exactly the oracle's text.

use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Transact, Update};

use crate::client::Client;

/// `(client id, own clock)` of each client: the operations each one wrote.
pub fn writes_of(clients: &[&Client]) -> Vec<(u64, u32)> {
    clients
        .iter()
        .map(|c| (c.client_id(), c.own_clock()))
        .filter(|(_, clock)| *clock > 0)
        .collect()
}

/// Waits until every client shows the merge of all clients' edits; returns that text.
pub async fn converge(clients: &[&Client], within: Duration) -> Result<String> {
    let target = writes_of(clients);
    let expected = merged_text(clients)?;
    converge_to(clients, &target, &expected, within).await
}

/// The text of a document holding every client's whole state.
pub fn merged_text(clients: &[&Client]) -> Result<String> {
    let oracle = Doc::new();
    let text = oracle.get_or_insert_text(crate::client::TEXT_NAME);
    let mut txn = oracle.transact_mut();
    for client in clients {
        txn.apply_update(Update::decode_v1(&client.encode_state())?)?;
    }
    Ok(text.get_string(&txn))
}

/// Waits until every client has seen `target` (see [`writes_of`]) and shows `expected`.
pub async fn converge_to(
    clients: &[&Client],
    target: &[(u64, u32)],
    expected: &str,
    within: Duration,
) -> Result<String> {
    let deadline = Instant::now() + within;
    for (i, client) in clients.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let done = |c: &Client| c.has_seen(target) && c.text() == expected;
        if let Err(e) = client.wait_for(done, left).await {
            let sv = client.state_vector();
            let missing: Vec<String> = target
                .iter()
                .filter_map(|(id, clock)| {
                    let have = sv.get(&yrs::ClientID::new(*id));
                    (have < *clock).then(|| format!("client {id}: has {have} of {clock} ops"))
                })
                .collect();
            if missing.is_empty() {
                bail!(
                    "replica #{i} (client {}) holds every insertion but shows a different text \
                     (a deletion never arrived?):\n expected {expected:?}\n got      {:?}\n{e:#}",
                    client.client_id(),
                    client.text()
                );
            }
            bail!(
                "replica #{i} (client {}) did not receive every edit: missing {}; {e:#}",
                client.client_id(),
                missing.join(", ")
            );
        }
    }
    Ok(expected.to_owned())
}
