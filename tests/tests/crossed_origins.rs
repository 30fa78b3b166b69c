//! A writer cannot split a document (issue 22 item 1): an update whose item's right origin
//! lies before its left origin, or whose origins skip text its author knew (shapes no Yjs
//! client writes), is refused with an error and 1007 before the room takes it in, and a late
//! joiner sees exactly what the live editors see.
//!
//! Two gateways on one Redis: writer W on gateway 1, a live editor and the late joiner on
//! gateway 2, the crafted item sent from gateway 1.

use collab_protocol::close::INVALID_PAYLOAD;
use collab_protocol::message::encode_update;
use collab_tests::{Client, DEADLINE, Gateway, RedisServer};

const FILE: &str = "sandbox-22/src/split.rs";

/// One string item `text` of `client` at clock 0 with the given origins (v1 update).
fn crafted(client: u64, left: (u64, u64), right: (u64, u64), text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for n in [1, 1, client, 0] {
        var(&mut out, n);
    }
    out.push(0x80 | 0x40 | 4); // left origin, right origin, string content
    for n in [left.0, left.1, right.0, right.1, text.len() as u64] {
        var(&mut out, n);
    }
    out.extend_from_slice(text.as_bytes());
    out.push(0); // empty delete set
    out
}

fn var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[tokio::test]
async fn a_crossed_item_is_refused_and_a_late_joiner_sees_what_the_editors_see() {
    // Left origin W#2 `z`, right origin W#1 `y`: the other way round.
    refused_and_late_joiners_agree(2, 1).await;
}

#[tokio::test]
async fn an_item_skipping_known_text_is_refused_and_a_late_joiner_sees_what_the_editors_see() {
    // Left origin W#0 `x`, right origin W#2 `z`: in order, but `y` lies between them, and
    // the item's author knew it (W#2 comes after W#1 in W's own past).
    refused_and_late_joiners_agree(0, 2).await;
}

/// W types `xyz` on gateway 1; an attacker there sends one item `EVIL` with left origin
/// W#`left` and right origin W#`right`; it must be refused with 1007, and everyone, live
/// or joining late on either gateway, must see `xyz!` after W types on.
async fn refused_and_late_joiners_agree(left: u64, right: u64) {
    let redis = RedisServer::start().await.expect("redis-server starts");
    let gw1 = Gateway::start(&redis.url(), &[]).await.expect("gw 1");
    let gw2 = Gateway::start(&redis.url(), &[]).await.expect("gw 2");
    let w = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("W joins on gw 1");
    let live = Client::connect_synced(&gw2.ws_url(FILE), DEADLINE)
        .await
        .expect("a live editor joins on gw 2");
    // W#0 x, W#1 y, W#2 z: three edits.
    for ch in ["x", "y", "z"] {
        w.push(ch).expect("W types");
    }
    live.wait_for(|c| c.text() == "xyz", DEADLINE)
        .await
        .expect("the live editor sees xyz");

    let evil = Client::connect_synced(&gw1.ws_url(FILE), DEADLINE)
        .await
        .expect("the attacker joins on gw 1");
    let id = w.client_id();
    evil.send_frame(encode_update(&crafted(
        evil.client_id(),
        (id, left),
        (id, right),
        "EVIL",
    )));
    let closed = evil.wait_closed(DEADLINE).await;
    assert_eq!(
        closed.ok(),
        Some(INVALID_PAYLOAD),
        "the item is refused with 1007 (got {:?}, reason {:?})",
        evil.closed_with(),
        evil.close_reason()
    );
    let notices = evil.errors_before_close();
    assert!(
        notices
            .iter()
            .any(|n| n.code == INVALID_PAYLOAD && n.message.contains("origins cross or skip")),
        "an error message says why: {notices:?}"
    );

    w.push("!").expect("W types on");
    live.wait_for(|c| c.text().ends_with('!'), DEADLINE)
        .await
        .expect("the live editor sees W's !");
    assert_eq!(w.closed_with(), None, "W is still connected");
    assert_eq!(
        live.closed_with(),
        None,
        "the live editor is still connected"
    );
    assert_eq!(w.text(), "xyz!");
    assert_eq!(live.text(), "xyz!");

    for gw in [&gw1, &gw2] {
        let late = Client::connect_synced(&gw.ws_url(FILE), DEADLINE)
            .await
            .expect("a late joiner syncs");
        late.wait_for(|c| c.text().ends_with('!'), DEADLINE)
            .await
            .expect("the late joiner gets the whole file");
        assert_eq!(
            late.text(),
            live.text(),
            "the late joiner sees what the editors see"
        );
    }
}
