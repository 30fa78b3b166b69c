//! One client WebSocket: decodes frames strictly, enforces frame limits, feeds the room,
//! and writes what the room queues, with keepalives so stock clients never see silence.
//!
//! Before it joins a room, a session has the file id checked and the token authorised
//! ([`crate::access::Authority`]): a refusal is an extension error and a close frame
//! (4400, 4401, 4403) right after the upgrade, and a grant that ends (a JWT's `exp`)
//! closes the connection with 4401 `token-expired` when it does. Under `--auth redis` its
//! grant is registered for revocation from the moment it was checked, before the room join
//! (which can take a while), until the connection ends.
//!
//! A session never touches Redis, and a room never touches a socket: they meet at the
//! room's command queue (client to room) and the connection's [`Outbox`] (room to client).
//! The reading half is here, with the keepalive's timer; the writing half (the room's
//! straight writes, and a writer task while frames wait for the socket) is [`writer`].

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use collab_protocol::{FileId, Message, close};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;
use tungstenite::Message as WsMessage;

use crate::access::revocation::Registration;
use crate::access::sandbox::sandbox_of;
use crate::access::{Authority, Principal, Refusal, Token, Unauthenticated};
use crate::config::Config;
use crate::limits::InputLimits;
use crate::linger;
use crate::outbox::Outbox;
use crate::room::JoinError;
use crate::rooms::Membership;
use crate::state::AppState;
use crate::upgrade::Socket;
use collab_room_core::close::CloseReason;
use collab_room_core::ext::OptIns;

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod footprint_tests;
mod writer;
#[cfg(test)]
mod writer_tests;
use writer::DirectSink;

/// What the upgrade request asked for, as the HTTP layer read it.
pub struct Opening {
    /// The file id from the URL path, not yet checked.
    pub file: String,
    /// The unsolicited extension messages asked for with `?ext=`.
    pub opt_ins: OptIns,
    /// The credential from `?token=`, not yet checked.
    pub token: Option<Token>,
    /// `?user=`: the user id under `--auth none` (whose undo stack), ignored otherwise.
    pub user: Option<String>,
}

/// Serves one upgraded connection for the file named in its URL: returns the reader, the
/// future the connection's task runs (a writer task runs only while frames wait).
///
/// Not an `async fn`: an async function keeps its arguments for the whole of its life,
/// and the socket (328 B) and the opening (80 B) would stay in the task of every idle
/// connection, once per layer, after being split and read. Here the socket is split and
/// the opening boxed before the future exists (`footprint_tests`).
pub fn serve(
    socket: Socket,
    opening: Opening,
    state: Arc<AppState>,
) -> impl Future<Output = ()> + Send + 'static {
    let outbox = Outbox::new(state.config.send_queue);
    let (sink, stream) = socket.split();
    let direct = Arc::new(DirectSink::new(sink));
    outbox.attach(direct.clone());
    serve_halves(stream, direct, outbox, Box::new(opening), state)
}

/// The session's future (an `async move` block, not an `async fn`, which would keep its
/// arguments twice: `footprint_tests`).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments besides the locals they move into"
)]
fn serve_halves(
    mut stream: SplitStream<Socket>,
    direct: Arc<DirectSink>,
    // The session closes its connection through it; the room gets a clone.
    closer: Outbox,
    opening: Box<Opening>,
    state: Arc<AppState>,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let counted = state.sessions.enter();
        let over_capacity = counted.count() > state.config.max_connections;

        // The span names the file and, once known, the user and connection: never the
        // token. It exists only while the session does something that may log (admission,
        // a refusal, leaving, lingering): held for the connection's life it cost ~0.4 KB
        // (the subscriber's slot, its extensions, the formatted fields; issue 23).
        let span = tracing::info_span!(
            "session",
            file = %opening.file,
            user = tracing::field::Empty,
            conn = tracing::field::Empty
        );
        // Boxed, as every step a session takes once: their futures (the authority's
        // look-ups, the room join, the goodbye) are large, and inline they would size the
        // task that idles in `read_frames` for the connection's whole life. The refusal
        // (96 B) lives only in this block for the same reason (`footprint_tests`).
        let admitted = Box::pin(
            async {
                let admission = if over_capacity {
                    Err(CloseReason::error(
                        close::OVERLOADED,
                        "gateway-full",
                        "this gateway serves its maximum number of connections; try another",
                    ))
                } else {
                    admit(opening, closer.clone(), &state).await
                };
                let admitted = admission.map_err(|refusal| refuse(&closer, refusal)).ok();
                if let Some(admitted) = &admitted {
                    tracing::Span::current().record("conn", admitted.member.conn);
                    tracing::debug!("client joined");
                }
                admitted
            }
            .instrument(span),
        )
        .await;
        // Read through a reference, not taken apart: parts moved out into locals would be
        // held twice while the connection idles.
        let ended = match &admitted {
            Some(admitted) => {
                let shutdown = state.shutdown.clone();
                let (config, member) = (&state.config, &admitted.member);
                let expires = admitted.expires;
                let read = read_frames(&mut stream, member, &closer, config, shutdown, expires);
                let (ended, refusal) = read.await;
                if let Some(refusal) = refusal {
                    admitted.span().in_scope(|| refuse(&closer, refusal));
                }
                ended
            }
            None => ReadEnd::BetweenFrames,
        };
        let span = admitted
            .as_ref()
            .map_or_else(tracing::Span::none, Admitted::span);
        Box::pin(part(admitted, ended, stream, direct, closer).instrument(span)).await;
    }
}

/// The end of a session: leaves the room, has the goodbye said, lingers for the client's
/// close reply.
async fn part(
    admitted: Option<Admitted>,
    ended: ReadEnd,
    stream: SplitStream<Socket>,
    direct: Arc<DirectSink>,
    closer: Outbox,
) {
    if let Some(admitted) = admitted {
        tracing::debug!("client left");
        drop(admitted.watch);
        admitted.member.leave().await;
    }
    closer.close(CloseReason::normal());
    let sink = direct.said_goodbye(&closer).await;
    match (ended, sink) {
        // The close frame is out; the client may still be sending the oversized frame.
        (ReadEnd::MidFrame, Some(sink)) => {
            if let Ok(socket) = sink.reunite(stream) {
                let drained = linger::drain_raw(socket).await;
                tracing::debug!(drained, "drained input after refusing an oversized frame");
            }
        }
        _ => linger::await_close_reply(stream).await,
    }
}

/// Where the reader stopped, which decides how the connection lingers ([`linger`]).
enum ReadEnd {
    /// Between frames: frames can be read until the client's close reply.
    BetweenFrames,
    /// Inside a frame too large for the socket layer to read.
    MidFrame,
}

/// A connection in its room.
struct Admitted {
    member: Membership,
    /// Its file and user, for the span of what it logs.
    file: Box<str>,
    user: Arc<str>,
    /// When the grant ends (a JWT's `exp`).
    expires: Option<Instant>,
    /// Under `--auth redis`: the grant under watch for revocation, while this lives.
    watch: Option<Registration>,
}

impl Admitted {
    /// The session's span, made when something is about to be logged.
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "session",
            file = %self.file,
            user = &*self.user,
            conn = self.member.conn
        )
    }
}

/// Checks the file id and the token, then joins the file's room: no room is opened (and
/// no Redis key of the file read) for a connection that may not open the file. Under
/// `--auth redis` the grant is watched ([`crate::access::revocation`]) from the check on:
/// a revocation during the join closes the outbox, so nothing the join queues is sent.
/// The opening's box is freed with this future: a session that moved out of it would
/// keep the empty box (80 B) for the connection's life.
async fn admit(
    opening: Box<Opening>,
    outbox: Outbox,
    state: &AppState,
) -> Result<Admitted, CloseReason> {
    let Opening {
        file,
        opt_ins,
        token,
        user,
    } = *opening;
    let file = FileId::parse(&file).map_err(|error| {
        CloseReason::error(close::INVALID_REQUEST, "invalid-file-id", error.to_string())
    })?;
    // Taken before the check: a change announced from here on reaches this grant.
    let mark = state.revocations.as_ref().map(|live| live.mark());
    let mut grant = state
        .authority
        .authorize(token.as_ref(), &file)
        .await
        .map_err(refused)?;
    if let (Authority::Open, Some(user)) = (&state.authority, user.as_deref()) {
        grant.principal = Principal::open_user(user);
    }
    tracing::Span::current().record("user", &*grant.principal.user);
    let user = Arc::clone(&grant.principal.user);
    let expires = grant.expires.map(|at| {
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        Instant::now() + left
    });
    let watch = match (&state.revocations, mark, token, sandbox_of(&file)) {
        (Some(live), Some(mark), Some(token), Some(sandbox)) => {
            Some(live.register(mark, token, sandbox, &grant.principal, outbox.clone()))
        }
        _ => None,
    };
    let access = grant.principal.access;
    // Before the room opens: an owner's admission tells the file source where the sandbox
    // is (`--files sandbox`), so the file can be loaded from it.
    if let (Some(files), Some(sandbox)) = (state.rooms.files(), sandbox_of(&file)) {
        files.source.admitted(&grant.principal.user, sandbox).await;
    }
    match state
        .rooms
        .join(&file, grant.principal, opt_ins, outbox)
        .await
    {
        Ok(member) => {
            if let Some(watch) = &watch {
                watch.joined(member.access_switch(), access);
            }
            Ok(Admitted {
                member,
                file: file.as_str().into(),
                user,
                expires,
                watch,
            })
        }
        Err(JoinError::Invalid(why)) => Err(CloseReason::error(
            close::INVALID_REQUEST,
            "file-unreadable",
            why,
        )),
        Err(JoinError::Retired | JoinError::Unavailable(_)) => Err(CloseReason::error(
            close::OVERLOADED,
            "document-unavailable",
            "the document could not be loaded; try again shortly",
        )),
    }
}

/// The close an access refusal gets: its code, its reason, its message.
fn refused(refusal: Refusal) -> CloseReason {
    CloseReason::error(refusal.code(), refusal.reason(), refusal.message())
}

/// Closes the connection for breaking a rule: logged, counted, explained to the client.
fn refuse(closer: &Outbox, refusal: CloseReason) {
    tracing::info!(code = refusal.code, error = ?refusal.error, "refusing a client");
    crate::metrics::rejected(refusal.reason);
    closer.close(refusal);
}

/// What to do with one frame read from the client.
enum Inbound {
    Deliver(Message),
    Ignore,
    End,
}

/// Reads client frames until the client leaves, breaks a rule, or is closed; a broken
/// rule comes back for the session to refuse (in its span, made then). Sends the
/// keepalive. (A function returning an `async move` block, like [`writer::write_frames`].)
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments besides the locals they move into"
)]
fn read_frames<'a>(
    stream: &'a mut SplitStream<Socket>,
    member: &'a Membership,
    closer: &'a Outbox,
    config: &'a Config,
    mut shutdown: watch::Receiver<bool>,
    expires: Option<Instant>,
) -> impl Future<Output = (ReadEnd, Option<CloseReason>)> + Send + 'a {
    async move {
        let mut limits = InputLimits::new(
            config.max_messages_per_sec,
            config.max_bytes_per_sec,
            config.max_frame_bytes,
        );
        // One timer: the keepalive's (the connection has no writer task to keep one while
        // it idles), or the grant's end (a JWT's) if that comes first. Boxed: 8 B in the
        // future that idles, where the timer inline would make its task a step larger.
        let every = config.keepalive();
        let mut timer = Box::pin(tokio::time::sleep_until(wake_at(every, expires)));
        loop {
            let frame = tokio::select! {
                frame = stream.next() => frame,
                _ = closer.closed() => return (ReadEnd::BetweenFrames, None),
                () = timer.as_mut() => {
                    if expires.is_some_and(|at| at <= Instant::now()) {
                        let expired = Refusal::Unauthenticated(Unauthenticated::TokenExpired);
                        return (ReadEnd::BetweenFrames, Some(refused(expired)));
                    }
                    let next = closer.keepalive(every);
                    timer.as_mut().reset(wake_at(next, expires));
                    continue;
                }
                _ = shutdown.wait_for(|stop| *stop) => {
                    closer.close(CloseReason::error(
                        close::RESTARTING,
                        "gateway-restarting",
                        "this gateway is shutting down; reconnect",
                    ));
                    return (ReadEnd::BetweenFrames, None);
                }
            };
            // The socket layer refuses a frame over its limit from the header and stops there.
            let mid_frame = matches!(frame, Some(Err(tungstenite::Error::Capacity(_))));
            match inspect(frame, config.max_frame_bytes, &mut limits) {
                Ok(Inbound::Deliver(msg)) => {
                    if !member.send(msg).await {
                        return (ReadEnd::BetweenFrames, None);
                    }
                }
                Ok(Inbound::Ignore) => {}
                Ok(Inbound::End) => return (ReadEnd::BetweenFrames, None),
                Err(refusal) => {
                    let end = if mid_frame {
                        ReadEnd::MidFrame
                    } else {
                        ReadEnd::BetweenFrames
                    };
                    return (end, Some(refusal));
                }
            }
        }
    }
}

/// When the reader's timer fires next: after `keepalive`, or when the grant ends.
fn wake_at(keepalive: std::time::Duration, expires: Option<Instant>) -> Instant {
    let due = Instant::now() + keepalive;
    expires.map_or(due, |at| at.min(due))
}

/// Checks a frame against the limits and decodes it strictly.
fn inspect(
    frame: Option<Result<WsMessage, tungstenite::Error>>,
    max_frame: usize,
    limits: &mut InputLimits,
) -> Result<Inbound, CloseReason> {
    let bytes = match frame {
        None | Some(Ok(WsMessage::Close(_))) => return Ok(Inbound::End),
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {
            return Ok(Inbound::Ignore);
        }
        Some(Ok(WsMessage::Binary(bytes))) => bytes,
        Some(Ok(WsMessage::Text(_))) => {
            return Err(CloseReason::error(
                close::INVALID_PAYLOAD,
                "text-frame",
                "messages are binary y-websocket frames",
            ));
        }
        Some(Err(tungstenite::Error::Capacity(_))) => return Err(too_big(0, max_frame)),
        Some(Err(_)) => return Ok(Inbound::End),
    };
    crate::metrics::message_in(&bytes);
    if bytes.len() > max_frame {
        return Err(too_big(bytes.len(), max_frame));
    }
    if !limits.messages.take(1.0) {
        return Err(CloseReason::error(
            close::POLICY,
            "message-rate",
            "the client sent more messages per second than this gateway allows",
        ));
    }
    if !limits.bytes.take(bytes.len() as f64) {
        return Err(CloseReason::error(
            close::POLICY,
            "byte-rate",
            "the client sent more bytes per second than this gateway allows",
        ));
    }
    Message::decode(&bytes)
        .map(Inbound::Deliver)
        .map_err(|error| {
            CloseReason::error(
                close::INVALID_PAYLOAD,
                "malformed-message",
                error.to_string(),
            )
        })
}

fn too_big(len: usize, max_frame: usize) -> CloseReason {
    let size = if len > 0 {
        format!("{len} bytes")
    } else {
        "a frame".to_owned()
    };
    CloseReason::error(
        close::TOO_BIG,
        "frame-too-big",
        format!("{size} exceeds the limit of {max_frame} bytes"),
    )
}
