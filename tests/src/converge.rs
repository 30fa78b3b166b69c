//! Convergence checks across replicas.
//!
//! Equal texts alone could be a coincidence (two replicas that both missed the same edit),
//! so [`converge`] first waits until every client holds every client's own operations (its
//! state vector covers each writer's own clock), and only then compares the texts.

use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

use crate::client::Client;

/// `(client id, own clock)` of each client: the operations each one wrote.
pub fn writes_of(clients: &[&Client]) -> Vec<(u64, u32)> {
    clients
        .iter()
        .map(|c| (c.client_id(), c.own_clock()))
        .filter(|(_, clock)| *clock > 0)
        .collect()
}

/// Waits until every client has seen every client's writes, then checks that all texts
/// are equal and returns that text.
pub async fn converge(clients: &[&Client], within: Duration) -> Result<String> {
    let target = writes_of(clients);
    converge_to(clients, &target, within).await
}

/// Waits until every client has seen `target` (see [`writes_of`]), then checks that all
/// texts are equal and returns that text.
pub async fn converge_to(
    clients: &[&Client],
    target: &[(u64, u32)],
    within: Duration,
) -> Result<String> {
    let deadline = Instant::now() + within;
    for (i, client) in clients.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = client.wait_for(|c| c.has_seen(target), left).await {
            let sv = client.state_vector();
            let missing: Vec<String> = target
                .iter()
                .filter_map(|(id, clock)| {
                    let have = sv.get(&yrs::ClientID::new(*id));
                    (have < *clock).then(|| format!("client {id}: has {have} of {clock} ops"))
                })
                .collect();
            bail!(
                "replica #{i} (client {}) did not receive every edit: missing {}; {e:#}",
                client.client_id(),
                missing.join(", ")
            );
        }
    }
    let texts: Vec<String> = clients.iter().map(|c| c.text()).collect();
    for (i, text) in texts.iter().enumerate().skip(1) {
        if *text != texts[0] {
            bail!(
                "replicas hold the same operations but differ: #0 has {:?}, #{i} has {:?}",
                texts[0],
                text
            );
        }
    }
    Ok(texts.into_iter().next().unwrap_or_default())
}
