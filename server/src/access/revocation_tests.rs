//! One revalidation round driven with a scripted directory: distinct grants are read
//! once, a failed read changes nothing, changes switch access, revocations close.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::*;
use crate::engine::{MemberRole, Standing};
use crate::room::RoomCmd;

/// What the directory answers for every `(token, sandbox)`.
#[derive(Clone)]
enum Script {
    Fail,
    Gone,
    Member(&'static str, Option<MemberRole>),
}

struct Scripted {
    script: Mutex<Script>,
    asked: Mutex<Vec<usize>>,
}

impl Scripted {
    fn set(&self, script: Script) {
        *self.script.lock().unwrap_or_else(|e| e.into_inner()) = script;
    }
}

impl Directory for Scripted {
    fn session_user<'a>(
        &'a self,
        _token: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EngineError>> {
        unreachable!("a round asks in one batch")
    }

    fn standing<'a>(
        &'a self,
        _user: &'a str,
        _sandbox: &'a str,
    ) -> BoxFuture<'a, Result<Standing, EngineError>> {
        unreachable!("a round asks in one batch")
    }

    fn recheck<'a>(
        &'a self,
        asks: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Vec<Rechecked>, EngineError>> {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(asks.len());
        let script = self
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let answer = match script {
            Script::Fail => Err(EngineError::Reply("redis is down".into())),
            Script::Gone => Ok(asks.iter().map(|_| None).collect()),
            Script::Member(own, role) => Ok(asks
                .iter()
                .map(|_| {
                    let standing = Standing {
                        own_sandbox: Some(own.to_owned()),
                        role,
                        ..Standing::default()
                    };
                    Some(("u1".to_owned(), standing))
                })
                .collect()),
        };
        Box::pin(async move { answer })
    }
}

fn principal(access: Access) -> Principal {
    Principal {
        verified: true,
        user: Arc::from("u1"),
        name: None,
        color: None,
        access,
    }
}

fn is_closed(outbox: &Outbox) -> Option<(u16, &'static str)> {
    outbox
        .closed()
        .now_or_never()
        .map(|reason| (reason.code, reason.reason))
}

#[tokio::test]
async fn a_round_reads_each_grant_once_keeps_all_on_error_and_applies_changes() {
    let directory = Arc::new(Scripted {
        script: Mutex::new(Script::Member("own", Some(MemberRole::ReadWrite))),
        asked: Mutex::new(Vec::new()),
    });
    let revocations = Revocations::new(directory.clone());
    let (tx, mut room) = mpsc::channel(8);
    let token = |t: &str| Token::new(t.to_owned()).expect("non-empty");
    let outboxes: Vec<Outbox> = (0..3).map(|_| Outbox::new(8)).collect();
    // Two tabs of one session in sb1, and another session.
    let _watches: Vec<Registration> = [("tok", 1), ("tok", 2), ("other", 3)]
        .into_iter()
        .zip(&outboxes)
        .map(|((t, conn), outbox)| {
            let switch = AccessSwitch::for_test(conn, tx.clone());
            let rw = principal(Access::ReadWrite);
            revocations.register(token(t), "sb1", &rw, outbox.clone(), switch)
        })
        .collect();

    let unchanged = revocations.revalidate().await.expect("a round");
    assert_eq!(
        unchanged,
        Round {
            checked: 2,
            ..Round::default()
        }
    );
    assert_eq!(
        *directory.asked.lock().unwrap_or_else(|e| e.into_inner()),
        [2],
        "one read per distinct grant"
    );

    // Redis fails: nothing changes, nobody is closed.
    directory.set(Script::Fail);
    assert!(revocations.revalidate().await.is_err());
    assert!(outboxes.iter().all(|o| is_closed(o).is_none()));
    assert!(room.try_recv().is_err());

    // Downgraded: each connection's room is told, once.
    directory.set(Script::Member("own", Some(MemberRole::ReadOnly)));
    let round = revocations.revalidate().await.expect("a round");
    assert_eq!(round.downgrades, 3);
    let mut told = Vec::new();
    while let Ok(RoomCmd::SetAccess { conn, access }) = room.try_recv() {
        told.push((conn, access));
    }
    told.sort_by_key(|(conn, _)| *conn);
    assert_eq!(told, [1, 2, 3].map(|c| (c, Access::ReadOnly)));
    assert_eq!(
        revocations.revalidate().await.expect("a round").downgrades,
        0
    );

    // The membership goes: 4403; then (for what is left) the session goes: 4401.
    directory.set(Script::Member("own", None));
    assert_eq!(revocations.revalidate().await.expect("a round").access, 3);
    assert!(
        outboxes
            .iter()
            .all(|o| is_closed(o) == Some((close::FORBIDDEN, "access-revoked")))
    );
    assert!(
        revocations.is_empty(),
        "closed grants are no longer watched"
    );

    let late = Outbox::new(8);
    let switch = AccessSwitch::for_test(4, tx.clone());
    let watch = revocations.register(
        token("tok"),
        "sb1",
        &principal(Access::ReadOnly),
        late.clone(),
        switch,
    );
    directory.set(Script::Gone);
    assert_eq!(revocations.revalidate().await.expect("a round").sessions, 1);
    assert_eq!(
        is_closed(&late),
        Some((close::UNAUTHENTICATED, "session-revoked"))
    );
    drop(watch);
    assert!(revocations.is_empty());
}
