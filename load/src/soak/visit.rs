//! One visit, as a stock y-websocket client with y-monaco makes it: connect, sync, type a
//! few characters, show a cursor, make sure the gateway has it all (a sync step 1 whose
//! answer comes after the edits: a room handles a connection's messages in order), take
//! the cursor away and close.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use collab_protocol::Message;
use collab_protocol::message::{encode_awareness, encode_update};
use rand::Rng;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{Assoc, ClientID, IndexedSequence, ReadTxn, Text, Transact};

use crate::client;
use crate::conn::Conn;
use crate::framing::Framing;
use crate::target::FileUrl;

/// Where a visit goes and what it types.
pub(super) struct Plan {
    pub url: FileUrl,
    pub file: String,
    pub edits: u32,
}

/// Makes the visit within `timeout`.
pub(super) async fn run(plan: Plan, timeout: Duration) -> anyhow::Result<()> {
    tokio::time::timeout(timeout, visit(&plan))
        .await
        .map_err(|_| anyhow::anyhow!("{}: visit took over {timeout:?}", plan.url))?
}

async fn visit(plan: &Plan) -> anyhow::Result<()> {
    let client_id = rand::rng().random_range(1..u32::MAX);
    let (doc, text) = client::new_doc(client_id);
    let mut conn = Conn::open(Framing::YWebsocket, &plan.url, &plan.file).await?;
    conn.sync(&doc).await?;
    for _ in 0..plan.edits {
        let update = {
            let mut txn = doc.transact_mut();
            let at = rand::rng().random_range(0..=text.len(&txn));
            text.insert(&mut txn, at, "x");
            txn.encode_update_v1()
        };
        conn.send(encode_update(&update)).await?;
    }
    let selection = {
        let txn = doc.transact();
        let at = rand::rng().random_range(0..=text.len(&txn));
        text.sticky_index(&txn, at, Assoc::After)
            .map(|pos| serde_json::json!({ "anchor": pos, "head": pos }))
    };
    let state = serde_json::json!({
        "user": { "name": format!("soak-{client_id}"), "color": "#30bced" },
        "selection": selection,
    });
    conn.send(awareness(client_id, 1, &state.to_string()))
        .await?;
    let step1 = Message::Sync(SyncMessage::SyncStep1(doc.transact().state_vector()));
    conn.send(step1.encode()).await?;
    loop {
        let message = conn.recv().await.context("waiting for the sync answer")?;
        conn.check(&message)?;
        if matches!(message, Message::Sync(SyncMessage::SyncStep2(_))) {
            break;
        }
    }
    // What y-websocket sends when a provider is destroyed: its state, removed.
    conn.send(awareness(client_id, 2, "null")).await?;
    conn.close().await;
    Ok(())
}

/// An awareness frame with one client's state (`"null"` removes it).
fn awareness(client_id: u32, clock: u32, json: &str) -> Vec<u8> {
    let mut clients = HashMap::new();
    clients.insert(
        ClientID::new(u64::from(client_id)),
        AwarenessUpdateEntry {
            clock,
            json: json.into(),
        },
    );
    encode_awareness(&AwarenessUpdate { clients }.encode_v1())
}
