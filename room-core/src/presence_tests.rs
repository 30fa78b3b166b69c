//! Unit tests of [`super::Presence`]: echoes, who may move or remove a cursor, the flood
//! cap, dead gateways, and ownership by user through the engine's claims.

use std::collections::HashMap;

use super::*;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::updates::decoder::Decode;

const ANON: &str = crate::principal::ANONYMOUS;

fn update(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
    let clients = entries
        .iter()
        .map(|(id, clock, json)| {
            let entry = AwarenessUpdateEntry {
                clock: *clock,
                json: (*json).into(),
            };
            (ClientID::new(*id), entry)
        })
        .collect();
    AwarenessUpdate { clients }
}

fn states(encoded: Option<Vec<u8>>) -> Vec<(u64, String)> {
    let Some(bytes) = encoded else {
        return Vec::new();
    };
    let update = AwarenessUpdate::decode_v1(&bytes).expect("decodes");
    let mut out: Vec<(u64, String)> = update
        .clients
        .into_iter()
        .map(|(id, e)| (id.get(), e.json.to_string()))
        .collect();
    out.sort();
    out
}

/// The engine's claims, first user wins (what `collab:{F}:cursor:{id}` does).
#[derive(Default)]
struct Claims(HashMap<ClientID, String>);

impl Claims {
    /// Applies a local update and answers its claims at once; the changes relayed.
    fn local(
        &mut self,
        p: &mut Presence,
        conn: ConnId,
        user: &str,
        u: AwarenessUpdate,
    ) -> Vec<(u64, String)> {
        let local = p.apply_local(conn, user, u);
        let mut out = states(local.changes.map(|c| c.encoded));
        let results: Vec<(ClientID, bool)> = local
            .claim
            .iter()
            .map(|id| {
                let owner = self.0.entry(*id).or_insert_with(|| user.to_owned());
                (*id, owner == user)
            })
            .collect();
        out.extend(states(p.claimed(user, &results).map(|(_, c)| c.encoded)));
        out
    }
}

#[test]
fn an_echo_claims_nothing_and_is_not_relayed() {
    let mut p = Presence::new(Doc::new(), || 0);
    assert!(
        p.apply_local(1, ANON, update(&[(10, 1, r#"{"n":"a"}"#)]))
            .changes
            .is_some()
    );
    // Connection 2 echoes client 10's state with the same clock.
    let echo = p.apply_local(2, ANON, update(&[(10, 1, r#"{"n":"a"}"#)]));
    assert!(echo.changes.is_none() && echo.claim.is_empty());
    assert_eq!(p.remove_conn(2), None);
    assert_eq!(states(p.all_states()), vec![(10, r#"{"n":"a"}"#.into())]);
    assert_eq!(states(p.remove_conn(1)), vec![(10, "null".into())]);
    assert_eq!(p.all_states(), None);
}

#[test]
fn a_connection_cannot_move_or_remove_a_cursor_another_user_holds() {
    let mut p = Presence::new(Doc::new(), || 0);
    let mut claims = Claims::default();
    claims.local(&mut p, 1, "ann", update(&[(10, 1, r#"{"at":1}"#)]));
    // Bob's connection 2 sends a newer state, and then a removal, for client 10.
    assert!(
        claims
            .local(&mut p, 2, "bob", update(&[(10, 5, r#"{"at":99}"#)]))
            .is_empty()
    );
    assert!(
        claims
            .local(&mut p, 2, "bob", update(&[(10, 6, "null")]))
            .is_empty()
    );
    assert_eq!(states(p.all_states()), vec![(10, r#"{"at":1}"#.into())]);
    // Its own cursor in the same update still goes through.
    let mixed = update(&[(10, 7, "null"), (20, 1, r#"{"at":2}"#)]);
    assert_eq!(
        claims.local(&mut p, 2, "bob", mixed),
        vec![(20, r#"{"at":2}"#.into())]
    );
    // The owner moves its own, from another connection too.
    assert_eq!(
        claims
            .local(&mut p, 1, "ann", update(&[(10, 2, r#"{"at":3}"#)]))
            .len(),
        1
    );
    assert_eq!(
        claims
            .local(&mut p, 3, "ann", update(&[(10, 3, r#"{"at":4}"#)]))
            .len(),
        1
    );
}

#[test]
fn an_id_claimed_elsewhere_is_refused_though_this_gateway_never_saw_it() {
    let mut p = Presence::new(Doc::new(), || 0);
    let mut claims = Claims::default();
    // W introduced client 30 on another gateway; nothing of it reached this room yet.
    claims.0.insert(ClientID::new(30), "w".into());
    let local = p.apply_local(1, "r", update(&[(30, 99, r#"{"user":{"id":"r"}}"#)]));
    assert!(local.changes.is_none(), "held until the claim answers");
    assert_eq!(local.claim, vec![ClientID::new(30)]);
    assert_eq!(p.claimed("r", &[(ClientID::new(30), false)]), None);
    assert_eq!(p.all_states(), None);
    // W's state, relayed later with a lower clock, shows W.
    let w = r#"{"user":{"id":"w"}}"#;
    assert!(p.apply_remote("gw-a", update(&[(30, 2, w)])).is_some());
    assert_eq!(states(p.all_states()), vec![(30, w.into())]);
}

#[test]
fn a_relayed_state_for_another_users_id_is_dropped() {
    let mut p = Presence::new(Doc::new(), || 0);
    let mut claims = Claims::default();
    let w = r#"{"user":{"id":"w"}}"#;
    claims.local(&mut p, 1, "w", update(&[(30, 1, w)]));
    // An older gateway let R's state for W's id through.
    let forged = update(&[(30, 50, r#"{"user":{"id":"r"}}"#)]);
    assert_eq!(p.apply_remote("gw-b", forged), None);
    assert_eq!(p.apply_remote("gw-b", update(&[(30, 51, "null")])), None);
    assert_eq!(states(p.all_states()), vec![(30, w.into())]);
    assert_eq!(
        p.local_claims(),
        vec![(Arc::from("w"), vec![ClientID::new(30)])]
    );
}

#[test]
fn a_connection_introduces_a_few_client_ids_at_most() {
    let mut p = Presence::new(Doc::new(), || 0);
    let flood: Vec<(u64, u32, &str)> = (100..110).map(|id| (id, 1, "{}")).collect();
    p.apply_local(1, ANON, update(&flood));
    assert_eq!(states(p.all_states()).len(), MAX_CLIENTS_PER_CONN);
    let asked = p.apply_local(2, "ann", update(&flood));
    assert_eq!(
        asked.claim.len(),
        MAX_CLIENTS_PER_CONN,
        "held ids count too"
    );
}

#[test]
fn a_reconnected_client_takes_back_its_cursor_from_another_gateway_only_as_the_same_user() {
    let mut p = Presence::new(Doc::new(), || 0);
    let mut claims = Claims::default();
    let stamped = r#"{"user":{"id":"ann"}}"#;
    p.apply_remote("gw-b", update(&[(30, 1, stamped)]));
    let mallory = update(&[(30, 2, r#"{"user":{"id":"mallory"}}"#)]);
    assert!(claims.local(&mut p, 1, "mallory", mallory).is_empty());
    assert_eq!(
        claims
            .local(&mut p, 2, "ann", update(&[(30, 2, stamped)]))
            .len(),
        1
    );
    // Now held by connection 2: gw-b's death no longer removes it.
    assert_eq!(p.remove_gateway("gw-b"), None);
}

#[test]
fn a_dead_gateway_takes_only_its_own_cursors() {
    let mut p = Presence::new(Doc::new(), || 0);
    p.apply_local(1, ANON, update(&[(10, 1, "{}")]));
    p.apply_remote("gw-b", update(&[(20, 1, "{}")]));
    // gw-b relays our client 10's state back: same clock, not a change of owner.
    assert_eq!(p.apply_remote("gw-b", update(&[(10, 1, "{}")])), None);
    assert_eq!(states(p.remove_gateway("gw-b")), vec![(20, "null".into())]);
    assert_eq!(states(p.local_states()), vec![(10, "{}".into())]);
}

#[test]
fn a_connection_that_leaves_forgets_its_held_states() {
    let mut p = Presence::new(Doc::new(), || 0);
    let local = p.apply_local(1, "ann", update(&[(10, 1, "{}")]));
    assert_eq!(local.claim.len(), 1);
    assert_eq!(p.remove_conn(1), None);
    assert_eq!(p.held(), 0);
    assert_eq!(p.claimed("ann", &[(ClientID::new(10), true)]), None);
}

#[test]
fn a_removal_of_an_unknown_id_claims_nothing() {
    let mut p = Presence::new(Doc::new(), || 0);
    let local = p.apply_local(1, "ann", update(&[(10, 1, "null")]));
    assert!(local.changes.is_none() && local.claim.is_empty());
    assert_eq!(p.held(), 0);
}
