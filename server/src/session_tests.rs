//! Sessions on a gateway whose engine is process memory, over a real WebSocket on
//! loopback: a session token admits its user, refusals close with their codes, and a
//! read-only member syncs but has its edits refused while it stays connected.

use std::time::Duration;

use collab_protocol::{Extension, FileId, Message, close};
use collab_room_core::ext::diagnostics::DiagPolicy;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::SyncMessage;
use yrs::updates::decoder::Decode;
use yrs::{GetString, Transact};

use crate::engine::Engine;
use crate::engine::identity_admin::{MemberRole, UserRecord};
use crate::engine::memory::{self, MemoryServer};
use crate::gateway::Gateway;
use crate::test_support::{DEADLINE, Peer, config, eventually_async, file};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A memory gateway under `--auth redis` serving on loopback, with ann (own sandbox
/// `sb1`) and bob (own sandbox `sb9`, read-only member of `sb1`) on record.
struct Served {
    gateway: Gateway,
    /// Another gateway's engine on the same server, to read what the served one stored.
    reader: Engine,
    addr: std::net::SocketAddr,
    _stop: oneshot::Sender<()>,
}

fn diag() -> DiagPolicy {
    DiagPolicy {
        ttl: Duration::from_secs(60),
        claim: Duration::from_secs(5),
        keep_versions: 2,
    }
}

async fn serve(flags: &[&str]) -> Served {
    let mut all = vec!["--auth", "redis"];
    all.extend_from_slice(flags);
    let server = MemoryServer::new();
    let gateway = Gateway::in_memory(config(&all), &server).expect("a memory gateway");
    let reader = memory::connect(&server, "gw-reader".into(), Default::default(), diag());
    let admin = gateway.state.identity_admin.clone();
    let ttl = Duration::from_secs(60);
    for (token, user, sandbox) in [("tok-ann", "ann", "sb1"), ("tok-bob", "bob", "sb9")] {
        admin
            .create_session(token, user, ttl)
            .await
            .expect("session");
        let record = UserRecord {
            sandbox_id: sandbox.into(),
            sandbox_ip: Some("10.0.0.9".into()),
            name: None,
            color: None,
        };
        admin.put_user(user, &record, ttl).await.expect("user");
    }
    let ro = MemberRole::ReadOnly;
    admin.put_member("sb1", "bob", ro).await.expect("member");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = crate::app::router(gateway.state.clone());
    let limits = gateway.state.config.handshake_limits();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(crate::listener::serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Served {
        gateway,
        reader,
        addr,
        _stop: stop,
    }
}

async fn connect(served: &Served, path: &str) -> Ws {
    let url = format!("ws://{}{path}", served.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    ws
}

/// The next binary message, decoded (`None`: closed or nothing within the deadline).
async fn next(ws: &mut Ws) -> Option<Message> {
    loop {
        match tokio::time::timeout(DEADLINE, ws.next()).await.ok()?? {
            Ok(WsMessage::Binary(bytes)) => {
                return Some(Message::decode(&bytes).expect("the gateway sends decodable frames"));
            }
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Reads until the close frame; its code and the extension error's reason before it.
async fn closed_with(ws: &mut Ws) -> (u16, Option<String>) {
    let mut reason = None;
    loop {
        let frame = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("closed in time");
        match frame {
            Some(Ok(WsMessage::Binary(bytes))) => {
                if let Ok(Message::Extension(Extension::Error { reason: r, .. })) =
                    Message::decode(&bytes)
                {
                    reason = Some(r);
                }
            }
            Some(Ok(WsMessage::Close(Some(frame)))) => return (frame.code.into(), reason),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, message: Message) {
    let frame = WsMessage::Binary(message.encode().into());
    ws.send(frame).await.expect("sent");
}

async fn until_head(served: &Served, f: &FileId, pos: u64) {
    let store = served.reader.store.clone();
    eventually_async(&format!("the log of {f} reaches {pos}"), || {
        let (store, f) = (store.clone(), f.clone());
        async move { store.head(&f).await.is_ok_and(|head| head.pos == pos) }
    })
    .await;
}

#[tokio::test]
async fn a_session_token_admits_its_user_who_syncs_and_edits() {
    let served = serve(&[]).await;
    let mut ann = connect(&served, "/doc/sb1/notes.txt?token=tok-ann").await;
    let first = next(&mut ann).await.expect("a first message");
    assert!(
        matches!(first, Message::Sync(SyncMessage::SyncStep1(_))),
        "{first:?}"
    );
    let typed = Peer::new().types("hi");
    send(&mut ann, typed).await;
    until_head(&served, &file("sb1/notes.txt"), 1).await;
}

#[tokio::test]
async fn refusals_close_with_their_codes() {
    let served = serve(&[]).await;
    let cases = [
        ("/doc/sb1/x.txt", close::UNAUTHENTICATED),
        ("/doc/sb1/x.txt?token=unknown", close::UNAUTHENTICATED),
        ("/doc/sb2/x.txt?token=tok-ann", close::FORBIDDEN),
        ("/doc/?token=tok-ann", close::INVALID_REQUEST),
    ];
    for (path, code) in cases {
        let mut ws = connect(&served, path).await;
        let (got, reason) = closed_with(&mut ws).await;
        assert_eq!(got, code, "{path}: {reason:?}");
        assert!(reason.is_some(), "{path}: an error message comes first");
    }
    // Revoking ann's session shuts her out too.
    let admin = served.gateway.state.identity_admin.clone();
    assert!(admin.revoke_session("tok-ann").await.expect("revoke"));
    let mut ws = connect(&served, "/doc/sb1/x.txt?token=tok-ann").await;
    assert_eq!(closed_with(&mut ws).await.0, close::UNAUTHENTICATED);
}

#[tokio::test]
async fn a_gateway_at_its_connection_limit_refuses_with_1013() {
    let served = serve(&["--max-connections", "1"]).await;
    let mut ann = connect(&served, "/doc/sb1/a.txt?token=tok-ann").await;
    next(&mut ann).await.expect("ann is in");
    let mut bob = connect(&served, "/doc/sb1/a.txt?token=tok-bob").await;
    let (code, reason) = closed_with(&mut bob).await;
    assert_eq!(
        (code, reason.as_deref()),
        (close::OVERLOADED, Some("gateway-full"))
    );
}

#[tokio::test]
async fn a_read_only_member_syncs_but_its_edits_are_refused() {
    let served = serve(&[]).await;
    let f = file("sb1/shared.txt");
    let mut bob = connect(&served, "/doc/sb1/shared.txt?token=tok-bob").await;
    next(&mut bob).await.expect("bob is in");
    send(&mut bob, Peer::new().types("not mine to write")).await;
    let refused = loop {
        match next(&mut bob).await.expect("an answer") {
            Message::Extension(Extension::Error { code, reason, .. }) => break (code, reason),
            _ => continue,
        }
    };
    assert_eq!(refused, (close::FORBIDDEN, "read-only".to_owned()));

    // Still connected: ann's edit reaches bob, and only hers is in the log.
    let mut ann = connect(&served, "/doc/sb1/shared.txt?token=tok-ann").await;
    next(&mut ann).await.expect("ann is in");
    send(&mut ann, Peer::new().types("ann's")).await;
    let relayed = loop {
        match next(&mut bob).await.expect("bob still hears") {
            Message::Sync(SyncMessage::Update(update)) => break update,
            _ => continue,
        }
    };
    assert!(!relayed.is_empty());
    until_head(&served, &f, 1).await;
    let tail = served.reader.store.read_since(&f, 0).await.expect("read");
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("monaco");
    for entry in tail.entries {
        let update = yrs::Update::decode_v1(&entry.update).expect("decodes");
        doc.transact_mut().apply_update(update).expect("applies");
    }
    assert_eq!(text.get_string(&doc.transact()), "ann's");
}

#[tokio::test]
async fn revoking_a_live_session_closes_it_with_4401() {
    let served = serve(&[]).await;
    let mut ann = connect(&served, "/doc/sb1/live.txt?token=tok-ann").await;
    next(&mut ann).await.expect("ann is in");
    let admin = served.gateway.state.identity_admin.clone();
    assert!(admin.revoke_session("tok-ann").await.expect("revoke"));
    // The change is announced: revocation re-reads at once, not at its periodic sweep.
    let (code, _) = closed_with(&mut ann).await;
    assert_eq!(code, close::UNAUTHENTICATED);
}

/// A client may send its first frame in the same packet as its upgrade request: hyper has
/// read those bytes already, and the session must read them before the socket's.
#[tokio::test]
async fn a_frame_sent_along_with_the_upgrade_request_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let served = serve(&[]).await;
    let update = Peer::new().types("hi").encode();
    assert!(update.len() < 126, "one length byte");
    let mask = [0x5a, 0x17, 0xc3, 0x08];
    let mut bytes = format!(
        "GET /doc/sb1/early.txt?token=tok-ann HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        served.addr
    )
    .into_bytes();
    bytes.extend([0x82, 0x80 | update.len() as u8]);
    bytes.extend(mask);
    bytes.extend(update.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let mut tcp = tokio::net::TcpStream::connect(served.addr)
        .await
        .expect("connect");
    tcp.write_all(&bytes).await.expect("one write");
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.expect("a response");
    assert_eq!(&head, b"HTTP/1.1 101");
    until_head(&served, &file("sb1/early.txt"), 1).await;
}
