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

/// Registers a grant checked now, of a connection that then joined its room.
fn watch(
    revocations: &Arc<Revocations>,
    token: Token,
    sandbox: &str,
    principal: &Principal,
    outbox: Outbox,
    switch: AccessSwitch,
) -> Registration {
    let mark = revocations.mark();
    let registration = revocations.register(mark, token, sandbox, principal, outbox);
    registration.joined(switch, principal.access);
    registration
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
            watch(&revocations, token(t), "sb1", &rw, outbox.clone(), switch)
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

    let late_outbox = Outbox::new(8);
    let switch = AccessSwitch::for_test(4, tx.clone());
    let late = watch(
        &revocations,
        token("tok"),
        "sb1",
        &principal(Access::ReadOnly),
        late_outbox.clone(),
        switch,
    );
    directory.set(Script::Gone);
    assert_eq!(revocations.revalidate().await.expect("a round").sessions, 1);
    assert_eq!(
        is_closed(&late_outbox),
        Some((close::UNAUTHENTICATED, "session-revoked"))
    );
    drop(late);
    assert!(revocations.is_empty());
}

#[tokio::test]
async fn an_announced_change_rereads_only_the_grants_that_read_that_record() {
    let directory = Arc::new(Scripted {
        script: Mutex::new(Script::Member("own", Some(MemberRole::ReadWrite))),
        asked: Mutex::new(Vec::new()),
    });
    let revocations = Revocations::new(directory.clone());
    let (tx, _room) = mpsc::channel(8);
    let token = |t: &str| Token::new(t.to_owned()).expect("non-empty");
    let outboxes: Vec<Outbox> = (0..3).map(|_| Outbox::new(8)).collect();
    // u1's session "tok" in sb1 and sb2, and its session "other" in sb3.
    let _watches: Vec<Registration> = [("tok", "sb1"), ("tok", "sb2"), ("other", "sb3")]
        .into_iter()
        .zip(&outboxes)
        .enumerate()
        .map(|(conn, ((t, sandbox), outbox))| {
            let switch = AccessSwitch::for_test(conn as u64, tx.clone());
            let rw = principal(Access::ReadWrite);
            watch(&revocations, token(t), sandbox, &rw, outbox.clone(), switch)
        })
        .collect();
    let touching = |records: &[Record]| records.iter().cloned().collect::<HashSet<_>>();
    let asked = |directory: &Scripted| {
        directory
            .asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
    };

    let members = touching(&[Record::Members("sb2".into())]);
    let round = revocations
        .revalidate_touching(&members)
        .await
        .expect("a round");
    assert_eq!(round.checked, 1);
    let session = touching(&[Record::Session("tok".into())]);
    let round = revocations
        .revalidate_touching(&session)
        .await
        .expect("a round");
    assert_eq!(round.checked, 2);
    let user = touching(&[Record::User("u1".into())]);
    assert_eq!(
        revocations
            .revalidate_touching(&user)
            .await
            .expect("a round")
            .checked,
        3
    );
    let nobody = touching(&[Record::User("u2".into()), Record::Members("sb9".into())]);
    assert_eq!(
        revocations
            .revalidate_touching(&nobody)
            .await
            .expect("a round")
            .checked,
        0
    );
    assert_eq!(asked(&directory), Some(3), "no read for untouched records");

    // Run with a live feed and a sweep that never comes: the change alone closes "tok".
    let feed = ChangeFeed::new();
    feed.set_live(true);
    assert_eq!(
        feed.take(),
        Some(Change::All),
        "going live re-reads everything"
    );
    let periods = Periods {
        tracked: Duration::from_secs(3600),
        untracked: Duration::from_secs(3600),
    };
    let before = directory
        .asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    let task = tokio::spawn(revocations.clone().run(Some(feed.clone()), periods));
    // The first sweep, with nothing changed yet.
    let settled = tokio::time::timeout(Duration::from_secs(5), async {
        while directory
            .asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
            < before + 1
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    settled.await.expect("the first rounds");
    directory.set(Script::Gone);
    feed.changed(Record::Session("tok".into()));
    for outbox in &outboxes[..2] {
        let reason = tokio::time::timeout(Duration::from_secs(5), outbox.closed())
            .await
            .expect("closed after the announced change");
        assert_eq!(reason.code, close::UNAUTHENTICATED);
    }
    assert!(
        is_closed(&outboxes[2]).is_none(),
        "the other session is untouched"
    );
    task.abort();
}

#[tokio::test]
async fn a_grant_is_watched_before_its_connection_joins_a_room() {
    let directory = Arc::new(Scripted {
        script: Mutex::new(Script::Member("own", Some(MemberRole::ReadOnly))),
        asked: Mutex::new(Vec::new()),
    });
    let revocations = Revocations::new(directory.clone());
    let (tx, mut room) = mpsc::channel(8);
    let token = |t: &str| Token::new(t.to_owned()).expect("non-empty");
    let rw = principal(Access::ReadWrite);

    // Downgraded while joining: the room is told once the connection is in.
    let joining = Outbox::new(8);
    let mark = revocations.mark();
    let registration = revocations.register(mark, token("tok"), "sb1", &rw, joining.clone());
    assert_eq!(
        revocations.revalidate().await.expect("a round").downgrades,
        1
    );
    assert!(room.try_recv().is_err(), "no room to tell yet");
    registration.joined(AccessSwitch::for_test(1, tx.clone()), Access::ReadWrite);
    assert!(matches!(
        room.try_recv(),
        Ok(RoomCmd::SetAccess {
            conn: 1,
            access: Access::ReadOnly
        })
    ));

    // Revoked while joining: closed at once; joining afterwards changes nothing.
    let other = Outbox::new(8);
    let revoked = revocations.register(revocations.mark(), token("t2"), "sb1", &rw, other.clone());
    directory.set(Script::Member("own", None));
    assert_eq!(revocations.revalidate().await.expect("a round").access, 2);
    assert_eq!(
        is_closed(&other),
        Some((close::FORBIDDEN, "access-revoked"))
    );
    revoked.joined(AccessSwitch::for_test(2, tx.clone()), Access::ReadWrite);
    assert!(room.try_recv().is_err(), "a revoked grant tells no room");
}

#[tokio::test]
async fn a_grant_checked_before_a_change_and_registered_after_it_is_reread_at_once() {
    let directory = Arc::new(Scripted {
        script: Mutex::new(Script::Member("own", None)),
        asked: Mutex::new(Vec::new()),
    });
    let revocations = Revocations::new(directory.clone());
    let feed = ChangeFeed::new();
    feed.set_live(true);
    let periods = Periods {
        tracked: Duration::from_secs(3600),
        untracked: Duration::from_secs(3600),
    };
    let task = tokio::spawn(revocations.clone().run(Some(feed.clone()), periods));
    // The check reads the records (the membership is still there) ...
    let mark = revocations.mark();
    // ... the membership goes, and the change is handled before the grant is registered:
    // it touched no grant.
    feed.changed(Record::Members("sb1".into()));
    let handled = tokio::time::timeout(Duration::from_secs(5), async {
        while revocations.mark() == mark {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    handled.await.expect("the change was taken");
    let outbox = Outbox::new(8);
    let token = Token::new("tok".to_owned()).expect("non-empty");
    let rw = principal(Access::ReadWrite);
    let _registration = revocations.register(mark, token, "sb1", &rw, outbox.clone());
    let reason = tokio::time::timeout(Duration::from_secs(5), outbox.closed())
        .await
        .expect("re-read at once, not at the next sweep");
    assert_eq!(
        (reason.code, reason.reason),
        (close::FORBIDDEN, "access-revoked")
    );

    // A grant registered with a current mark is not re-read for nothing.
    let asked = directory
        .asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    let calm = Outbox::new(8);
    let token = Token::new("calm".to_owned()).expect("non-empty");
    let _calm = revocations.register(revocations.mark(), token, "sb1", &rw, calm.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        directory
            .asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len(),
        asked,
        "no re-read without a change"
    );
    assert!(is_closed(&calm).is_none());
    task.abort();
}
