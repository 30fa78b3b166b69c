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

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use collab_protocol::message::KEEPALIVE;
use collab_protocol::{FileId, Message, close};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;
use tungstenite::Message as WsMessage;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

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

/// Serves one upgraded connection for the file named in its URL.
pub async fn serve(socket: Socket, opening: Opening, state: Arc<AppState>) {
    // The span names the file and, once known, the user and connection: never the token.
    let span = tracing::info_span!(
        "session",
        file = %opening.file,
        user = tracing::field::Empty,
        conn = tracing::field::Empty
    );
    serve_in_span(socket, opening, state).instrument(span).await
}

async fn serve_in_span(socket: Socket, opening: Opening, state: Arc<AppState>) {
    let counted = state.sessions.enter();
    let over_capacity = counted.count() > state.config.max_connections;
    let outbox = Outbox::new(state.config.send_queue);
    let closer = outbox.clone();
    let (sink, mut stream) = socket.split();
    let keepalive = state.config.keepalive();
    let writer = tokio::spawn(write_frames(sink, closer.clone(), keepalive));

    let admitted = if over_capacity {
        Err(CloseReason::error(
            close::OVERLOADED,
            "gateway-full",
            "this gateway serves its maximum number of connections; try another",
        ))
    } else {
        admit(opening, outbox, &state).await
    };
    let ended = match admitted {
        Ok(Admitted {
            member,
            expires,
            watch,
        }) => {
            tracing::Span::current().record("conn", member.conn);
            tracing::debug!("client joined");
            let shutdown = state.shutdown.clone();
            let config = &state.config;
            let end = read_frames(&mut stream, &member, &closer, config, shutdown, expires).await;
            tracing::debug!("client left");
            drop(watch);
            member.leave().await;
            end
        }
        Err(refusal) => {
            refuse(&closer, refusal);
            ReadEnd::BetweenFrames
        }
    };
    closer.close(CloseReason::normal());
    let sink = writer.await.ok();
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
    /// When the grant ends (a JWT's `exp`).
    expires: Option<Instant>,
    /// Under `--auth redis`: the grant under watch for revocation, while this lives.
    watch: Option<Registration>,
}

/// Checks the file id and the token, then joins the file's room: no room is opened (and
/// no Redis key of the file read) for a connection that may not open the file. Under
/// `--auth redis` the grant is watched ([`crate::access::revocation`]) from the check on:
/// a revocation during the join closes the outbox, so nothing the join queues is sent.
async fn admit(
    opening: Opening,
    outbox: Outbox,
    state: &AppState,
) -> Result<Admitted, CloseReason> {
    let Opening {
        file,
        opt_ins,
        token,
        user,
    } = opening;
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

/// How long a closing session tries to deliver its error message and close frame. A client
/// closed as too slow has stopped reading: its goodbye waits behind what the kernel already
/// buffers for it (up to `tcp_wmem`'s 4 MiB), until it reads again. At 30 s, a client that
/// resumed later (common under load, where small socket buffers make the close come early)
/// got the backlog and then a bare end, 1006, not 1013 and its reason. The wait holds only
/// the socket (the queue is dropped) and the connection's slot; its kernel buffer is held
/// either way (an orphaned socket keeps delivering it).
const GOODBYE_WAIT: Duration = Duration::from_secs(300);

/// An instant no connection lives to see.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// What to do with one frame read from the client.
enum Inbound {
    Deliver(Message),
    Ignore,
    End,
}

/// Reads client frames until the client leaves, breaks a rule, or is closed.
async fn read_frames(
    stream: &mut SplitStream<Socket>,
    member: &Membership,
    closer: &Outbox,
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
    expires: Option<Instant>,
) -> ReadEnd {
    let mut limits = InputLimits::new(
        config.max_messages_per_sec,
        config.max_bytes_per_sec,
        config.max_frame_bytes,
    );
    // A grant that never ends still needs a timer to select on: one that never fires.
    let expiry = tokio::time::sleep_until(expires.unwrap_or_else(far_future));
    tokio::pin!(expiry);
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = closer.closed() => return ReadEnd::BetweenFrames,
            () = &mut expiry, if expires.is_some() => {
                refuse(closer, refused(Refusal::Unauthenticated(Unauthenticated::TokenExpired)));
                return ReadEnd::BetweenFrames;
            }
            _ = shutdown.wait_for(|stop| *stop) => {
                closer.close(CloseReason::error(
                    close::RESTARTING,
                    "gateway-restarting",
                    "this gateway is shutting down; reconnect",
                ));
                return ReadEnd::BetweenFrames;
            }
        };
        // The socket layer refuses a frame over its limit from the header and stops there.
        let mid_frame = matches!(frame, Some(Err(tungstenite::Error::Capacity(_))));
        match inspect(frame, config.max_frame_bytes, &mut limits) {
            Ok(Inbound::Deliver(msg)) => {
                if !member.send(msg).await {
                    return ReadEnd::BetweenFrames;
                }
            }
            Ok(Inbound::Ignore) => {}
            Ok(Inbound::End) => return ReadEnd::BetweenFrames,
            Err(refusal) => {
                refuse(closer, refusal);
                return if mid_frame {
                    ReadEnd::MidFrame
                } else {
                    ReadEnd::BetweenFrames
                };
            }
        }
    }
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

/// Writes queued frames; sends a keepalive after `keepalive` of silence; on close, sends
/// the extension error (if any) and the close frame.
async fn write_frames(
    mut sink: SplitSink<Socket, WsMessage>,
    outbox: Outbox,
    keepalive: Duration,
) -> SplitSink<Socket, WsMessage> {
    let mut quiet_until = Instant::now() + keepalive;
    loop {
        let (frame, queued_at) = tokio::select! {
            biased;
            reason = outbox.closed() => return say_goodbye(sink, reason, None).await,
            (frame, queued_at) = outbox.next_frame_queued_at() => (frame, Some(queued_at)),
            () = tokio::time::sleep_until(quiet_until) => (Bytes::from_static(KEEPALIVE), None),
        };
        let kind = crate::metrics::message_out(&frame);
        let mut outgoing = Outgoing::new(frame);
        // A client that stops reading blocks this send; a close request (such as the
        // room's slow-consumer verdict) must still end the connection.
        tokio::select! {
            sent = outgoing.send(&mut sink) => if sent.is_err() {
                outbox.close(CloseReason::normal());
                return sink;
            },
            reason = outbox.closed() => return say_goodbye(sink, reason, Some(outgoing)).await,
        }
        crate::metrics::delivered(kind, queued_at);
        quiet_until = Instant::now() + keepalive;
    }
}

/// Messages larger than this leave as a run of frames this large.
const FRAGMENT_BYTES: usize = 64 << 10;

/// One binary message on its way out, and how much of it is handed to the socket.
///
/// tungstenite copies each frame whole into the connection's write buffer, which keeps its
/// capacity afterwards: a large message (a joiner's copy of a big document) goes out as
/// fragments sliced from the shared bytes, so that buffer stays at one fragment. A send
/// interrupted by a close resumes where it stopped, so the client never sees half a
/// message followed by another one.
struct Outgoing {
    message: Bytes,
    /// Bytes of `message` already buffered in the socket as frames.
    handed: usize,
}

impl Outgoing {
    fn new(message: Bytes) -> Self {
        Outgoing { message, handed: 0 }
    }

    /// Hands the rest of the message to the socket and flushes it; safe to cancel and
    /// call again.
    async fn send(
        &mut self,
        sink: &mut SplitSink<Socket, WsMessage>,
    ) -> Result<(), tungstenite::Error> {
        let len = self.message.len();
        if len <= FRAGMENT_BYTES {
            if self.handed == 0 {
                sink.feed(WsMessage::Binary(self.message.clone())).await?;
                self.handed = len.max(1);
            }
        } else {
            while self.handed < len {
                let end = (self.handed + FRAGMENT_BYTES).min(len);
                let opcode = if self.handed == 0 {
                    OpCode::Data(Data::Binary)
                } else {
                    OpCode::Data(Data::Continue)
                };
                let fragment =
                    Frame::message(self.message.slice(self.handed..end), opcode, end == len);
                // Once `feed` returns the frame is buffered; no await comes before the
                // progress is recorded, so a cancelled send never repeats a fragment.
                sink.feed(WsMessage::Frame(fragment)).await?;
                self.handed = end;
                sink.flush().await?;
            }
        }
        sink.flush().await
    }
}

/// Sends the error message (if any) and the close frame, giving a client that reads
/// slowly (or stalled and was closed for it) time to take them. Its queue is already
/// dropped, so a waiting goodbye holds only the socket. Gives the sink back for lingering.
async fn say_goodbye(
    mut sink: SplitSink<Socket, WsMessage>,
    reason: CloseReason,
    unfinished: Option<Outgoing>,
) -> SplitSink<Socket, WsMessage> {
    let code = reason.code;
    let goodbye = async {
        if let Some(mut message) = unfinished {
            message.send(&mut sink).await?;
        }
        if let Some(error) = &reason.error {
            let frame = Message::Extension(error.clone()).encode();
            sink.send(WsMessage::Binary(frame.into())).await?;
        }
        // A refusal's machine reason goes into the close frame too: stock clients show the
        // close event, not our extension message.
        let text = match reason.error {
            Some(_) => reason.reason,
            None => close_text(code),
        };
        let close = CloseFrame {
            code: CloseCode::from(code),
            reason: text.into(),
        };
        sink.send(WsMessage::Close(Some(close))).await?;
        sink.close().await
    };
    if tokio::time::timeout(GOODBYE_WAIT, goodbye).await.is_err() {
        // No code can reach the client now: TCP carries none, it will see 1006.
        tracing::info!(code, "gave up on a goodbye the client never read");
    }
    sink
}

fn close_text(code: u16) -> &'static str {
    match code {
        close::NORMAL => "bye",
        close::INVALID_PAYLOAD => "invalid payload",
        close::POLICY => "policy violation",
        close::TOO_BIG => "message too big",
        close::RESTARTING => "gateway restarting",
        close::OVERLOADED => "try again later",
        close::INVALID_REQUEST => "invalid request",
        close::UNAUTHENTICATED => "not authenticated",
        close::FORBIDDEN => "forbidden",
        _ => "closed",
    }
}
