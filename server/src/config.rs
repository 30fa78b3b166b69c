//! Gateway configuration: every knob is a flag and an environment variable (clap).
//! Operators and other programs start the gateway by these names: keep them stable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// A y-websocket gateway that shares documents with other gateways through Redis.
#[derive(Debug, Clone, Parser)]
#[command(name = "collab-gateway", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port; the bound address is printed).
    #[arg(long, env = "COLLAB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Where documents, undo lists, diagnostics and identity records live: `redis` (the
    /// default) or `memory`, this process alone: one gateway, nothing shared with others,
    /// nothing kept across a restart (experiments and tests; a warning at start).
    #[arg(long, env = "COLLAB_ENGINE", value_enum, default_value_t = EngineKind::Redis)]
    pub engine: EngineKind,

    /// Redis URL. Without one, the gateway starts a local redis-server child process.
    /// With `--redis-cluster`: one or more seed nodes of the cluster, comma-separated
    /// (`redis://10.0.0.1:6379,redis://10.0.0.2:6379`).
    #[arg(long, env = "COLLAB_REDIS_URL")]
    pub redis_url: Option<String>,

    /// `--redis-url` names seed nodes of a Redis Cluster (7.0 or later): file channels
    /// use sharded pub/sub on each file's slot, and identity tracking is off (revocation
    /// polls). Needs `--redis-url`.
    #[arg(long, env = "COLLAB_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// Folder for the embedded redis-server's data (append-only file). Default: a folder
    /// named `collab-redis-data` in the working directory.
    #[arg(long, env = "COLLAB_EMBEDDED_REDIS_DIR")]
    pub embedded_redis_dir: Option<PathBuf>,

    /// Who may open which file: `redis` (the default: `?token=` is a session the platform
    /// recorded in Redis), `jwt` (`?token=` is a JWT signed with the `--jwt-key` key) or
    /// `none` (anyone reads and writes every file; for local experiments; a warning at start).
    #[arg(long, env = "COLLAB_AUTH", value_enum, default_value_t = AuthMode::Redis)]
    pub auth: AuthMode,

    /// With `--auth jwt`: file holding the verification key, either an HS256 secret (the
    /// file's bytes; a trailing line break is ignored) or an EC P-256 (ES256) or RSA (RS256)
    /// public key in PEM.
    #[arg(long, env = "COLLAB_JWT_KEY")]
    pub jwt_key: Option<PathBuf>,

    /// With `--auth jwt`: the one algorithm tokens must be signed with. Default: read from
    /// the key (an EC public key PEM: ES256; an RSA one: RS256; anything else: HS256).
    #[arg(long, env = "COLLAB_JWT_ALG", value_enum, ignore_case = true)]
    pub jwt_alg: Option<JwtAlg>,

    /// Prefix of every Redis key and channel (not of the platform's identity keys).
    #[arg(long, env = "COLLAB_KEY_PREFIX", default_value = "collab")]
    pub key_prefix: String,

    /// This gateway's id in published messages (`[A-Za-z0-9_-]`, at most 64). Default: random.
    #[arg(long, env = "COLLAB_GATEWAY_ID")]
    pub gateway_id: Option<String>,

    /// Largest WebSocket frame a client may send, in bytes (larger: close 1009). A
    /// reconnecting client sends its whole document in one frame: keep this above the
    /// largest document you expect.
    #[arg(long, env = "COLLAB_MAX_FRAME_BYTES", default_value_t = 16 << 20)]
    pub max_frame_bytes: usize,

    /// Most messages per second one client may send, sustained (bursts to twice that);
    /// more: close 1008. 0 = unlimited.
    #[arg(long, env = "COLLAB_MAX_MESSAGES_PER_SEC", default_value_t = 300.0)]
    pub max_messages_per_sec: f64,

    /// Most bytes per second one client may send, sustained (bursts to one largest frame);
    /// more: close 1008. 0 = unlimited.
    #[arg(long, env = "COLLAB_MAX_BYTES_PER_SEC", default_value_t = 4194304.0)]
    pub max_bytes_per_sec: f64,

    /// Most client connections this gateway serves at once; more are closed with 1013.
    #[arg(long, env = "COLLAB_MAX_CONNECTIONS", default_value_t = 50_000)]
    pub max_connections: usize,

    /// Largest document a room accepts, in bytes of its encoded state (larger: close 1009).
    #[arg(long, env = "COLLAB_MAX_DOC_BYTES", default_value_t = 64 << 20)]
    pub max_doc_bytes: usize,

    /// Largest awareness state (a cursor's JSON) a room accepts, in bytes; larger states
    /// are dropped with an `awareness-too-big` error and the connection goes on.
    #[arg(long, env = "COLLAB_MAX_AWARENESS_BYTES", default_value_t = 16 << 10)]
    pub max_awareness_bytes: usize,

    /// Largest HTTP request head (request line with the token, and headers) a client may
    /// send before it is a session, in bytes; larger: 431 and close.
    #[arg(long, env = "COLLAB_MAX_REQUEST_HEAD_BYTES", default_value_t = 16 << 10)]
    pub max_request_head_bytes: usize,

    /// Time a new connection has to send its request head (the WebSocket upgrade), in
    /// milliseconds; slower or silent connections are dropped.
    #[arg(long, env = "COLLAB_HANDSHAKE_TIMEOUT_MS", default_value_t = 10_000)]
    pub handshake_timeout_ms: u64,

    /// Connections accepted but not yet upgraded to WebSocket (or serving plain HTTP) at
    /// once; more are dropped at once.
    #[arg(long, env = "COLLAB_MAX_HANDSHAKES", default_value_t = 1024)]
    pub max_handshakes: usize,

    /// Messages queued for one client before it counts as too slow (close 1013).
    #[arg(long, env = "COLLAB_SEND_QUEUE", default_value_t = 1024)]
    pub send_queue: usize,

    /// Bytes of accepted updates this gateway may hold while Redis is unreachable; past
    /// that, writing clients are closed with 1013 and resync later.
    #[arg(long, env = "COLLAB_MAX_PENDING_BYTES", default_value_t = 64 << 20)]
    pub max_pending_bytes: usize,

    /// How long a stopping gateway (SIGTERM) may take to close its clients with 1012 and
    /// store pending updates, in milliseconds.
    #[arg(long, env = "COLLAB_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub drain_timeout_ms: u64,

    /// Log entries of a file before they are compacted into its snapshot.
    #[arg(long, env = "COLLAB_COMPACT_AFTER", default_value_t = 256)]
    pub compact_after: u64,

    /// How long a room stays open after its last client left, in milliseconds.
    #[arg(long, env = "COLLAB_ROOM_GRACE_MS", default_value_t = 2000)]
    pub room_grace_ms: u64,

    /// glibc builds: free pages inside malloc's arenas go back to the system
    /// (`malloc_trim`) within a second of the last room ending, and at most this often,
    /// in milliseconds, while rooms are open and others end; 0 turns it off. Keeps RSS flat
    /// over a day of rooms opening and closing (docs/memory.md).
    #[arg(long, env = "COLLAB_MALLOC_TRIM_MS", default_value_t = 10_000)]
    pub malloc_trim_ms: u64,

    /// Longest silence towards a client, in milliseconds, before a keepalive is sent
    /// (the stock client reconnects after 30 s without a message).
    #[arg(long, env = "COLLAB_KEEPALIVE_MS", default_value_t = 10_000)]
    pub keepalive_ms: u64,

    /// A gateway not heard from for this long, in milliseconds, counts as dead: its
    /// clients' cursors are removed.
    #[arg(long, env = "COLLAB_GATEWAY_TIMEOUT_MS", default_value_t = 6000)]
    pub gateway_timeout_ms: u64,

    /// How often each room checks the log head for missed updates, in milliseconds (the
    /// safety net under pub/sub's at-most-once delivery).
    #[arg(long, env = "COLLAB_TAIL_CHECK_MS", default_value_t = 5000)]
    pub tail_check_ms: u64,

    /// With `--auth redis`: how often every live connection's grant is re-read in full, in
    /// milliseconds (the sweep). By default 30000 while Redis pushes identity
    /// invalidations (`--client-tracking`: changes then land within milliseconds and the
    /// sweep is only the backstop), and 2000 without them (tracking off, or a Redis that
    /// refuses it, or its connection down), so revocations still land within 2 s plus a
    /// round trip. A value given here applies in both cases.
    #[arg(long, env = "COLLAB_REVALIDATE_MS")]
    pub revalidate_ms: Option<u64>,

    /// With `--auth redis`: cache identity reads and hear their changes through Redis
    /// server-assisted client-side caching (RESP3 `CLIENT TRACKING ON BCAST` on
    /// `session:`, `user:`, `sandbox:`). `false` turns it off: every handshake reads
    /// Redis and revocation relies on the sweep alone.
    #[arg(long, env = "COLLAB_CLIENT_TRACKING", default_value_t = true, action = clap::ArgAction::Set)]
    pub client_tracking: bool,

    /// Folder of static files served at `/` (the demo page: `client-js/dist`).
    #[arg(long, env = "COLLAB_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Bearer token of the admin API (`/admin/...`: sessions, users, sandbox members; at
    /// least 16 bytes). Without one the admin routes do not exist.
    #[arg(long, env = "COLLAB_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<crate::secret::Secret>,

    /// Name of the root `Y.Text` holding a file's content.
    #[arg(long, env = "COLLAB_TEXT_NAME", default_value = "monaco")]
    pub text_name: String,

    /// Server-side undo: a user's edits closer together than this (milliseconds) form one
    /// undo item, like `Y.UndoManager`'s captureTimeout; also across connections and
    /// gateways of the same user.
    #[arg(long, env = "COLLAB_UNDO_CAPTURE_MS", default_value_t = 500)]
    pub undo_capture_ms: u64,

    /// Server-side undo: most items kept on a user's undo (and redo) list of one file;
    /// 0 turns server-side undo off (nothing is recorded, requests change nothing).
    #[arg(long, env = "COLLAB_UNDO_DEPTH", default_value_t = 200)]
    pub undo_depth: u32,

    /// Server-side undo: a user's lists of a file expire this many seconds after the last
    /// push (24 h by default).
    #[arg(long, env = "COLLAB_UNDO_TTL", default_value_t = 86_400)]
    pub undo_ttl: u64,

    /// Diagnostics: quiet time after an edit before a file's text is checked again, in
    /// milliseconds (while someone keeps typing, it is checked at least every second).
    #[arg(long, env = "COLLAB_DIAGNOSTICS_DEBOUNCE_MS", default_value_t = 150)]
    pub diagnostics_debounce_ms: u64,

    /// Diagnostics: cached markers of a file (`collab:{F}:diag`) expire this many seconds
    /// after the last write.
    #[arg(long, env = "COLLAB_DIAGNOSTICS_TTL", default_value_t = 3600)]
    pub diagnostics_ttl: u64,

    /// Diagnostics: threads that hash and parse files at once, off the rooms' tasks.
    /// Default: half the cores, at least one. 0 turns the gateway's syntax checks off
    /// (external sources still work).
    #[arg(long, env = "COLLAB_DIAGNOSTICS_WORKERS")]
    pub diagnostics_workers: Option<usize>,

    /// Diagnostics: files larger than this many bytes are not parsed (their syntax
    /// markers are an empty list).
    #[arg(long, env = "COLLAB_DIAGNOSTICS_MAX_BYTES", default_value_t = 2 << 20)]
    pub diagnostics_max_bytes: usize,

    /// Diagnostics: longest one parse may take, in milliseconds; a slower one is
    /// abandoned (its markers are an empty list).
    #[arg(
        long,
        env = "COLLAB_DIAGNOSTICS_PARSE_TIMEOUT_MS",
        default_value_t = 500
    )]
    pub diagnostics_parse_timeout_ms: u64,

    /// Where files live besides Redis: `none` (Redis only), `dir` (a folder of this
    /// machine, `--files-dir`), `sandbox` (each sandbox's file agent, reached at the
    /// `sandbox_ip` of the user's record; needs `--auth redis`).
    #[arg(long, env = "COLLAB_FILES", value_enum, default_value_t = FilesMode::None)]
    pub files: FilesMode,

    /// With `--files dir`: the folder holding the files; file `{sandbox}/{path}` is
    /// `PATH/{sandbox}/{path}` (under `--auth none`, `PATH/{file id}`).
    #[arg(long, env = "COLLAB_FILES_DIR")]
    pub files_dir: Option<PathBuf>,

    /// With `--files sandbox`: the port of the sandbox file agent.
    #[arg(long, env = "COLLAB_SANDBOX_AGENT_PORT", default_value_t = 7447)]
    pub sandbox_agent_port: u16,

    /// With `--files sandbox`: the bearer token the sandbox file agents expect.
    #[arg(long, env = "COLLAB_SANDBOX_AGENT_TOKEN", hide_env_values = true)]
    pub sandbox_agent_token: Option<crate::secret::Secret>,

    /// Files: quiet time after an edit before the text is written back, in milliseconds.
    #[arg(long, env = "COLLAB_WRITE_BACK_MS", default_value_t = 1000)]
    pub write_back_ms: u64,

    /// Files: while someone keeps typing, the text is written back at least this often,
    /// in milliseconds.
    #[arg(long, env = "COLLAB_WRITE_BACK_MAX_MS", default_value_t = 5000)]
    pub write_back_max_ms: u64,

    /// Files: largest file opened from its source, in bytes (larger: close 4400).
    #[arg(long, env = "COLLAB_MAX_FILE_BYTES", default_value_t = 5 << 20)]
    pub max_file_bytes: usize,

    /// Log format.
    #[arg(long, env = "COLLAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Tests only, honoured by debug builds alone: the room of this file panics once, on
    /// its first client message, to show that a dead room leaves nothing behind.
    #[arg(long, hide = true)]
    pub test_panic_file: Option<String>,
}

/// A changing text is checked at least this often, in milliseconds.
const DIAGNOSTICS_MAX_INTERVAL_MS: u64 = 1000;
/// Most syntax markers sent for one version (the first ones, in document order).
const DIAGNOSTICS_MAX_MARKERS: usize = 100;

/// Which engine holds the shared state (`--engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// One Redis (or a Redis Cluster with `--redis-cluster`).
    Redis,
    /// Process memory: a single gateway, nothing shared or durable.
    Memory,
}

/// How connections are authorised (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Session tokens resolved through the platform's records in Redis.
    Redis,
    /// Signed JWTs (`sub`, `sandbox`, optional `role`, `exp`).
    Jwt,
    /// No identity: every connection is an anonymous writer.
    None,
}

/// The signature algorithm of `--auth jwt` tokens (`--jwt-alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlg {
    /// HMAC with SHA-256 and a shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// ECDSA on P-256 with SHA-256.
    #[value(name = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
}

impl JwtAlg {
    /// The JOSE name (`HS256`, `ES256`, `RS256`).
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::Hs256 => "HS256",
            JwtAlg::Es256 => "ES256",
            JwtAlg::Rs256 => "RS256",
        }
    }
}

/// Where files live besides Redis (`--files`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FilesMode {
    /// Redis holds the documents; nothing is read or written elsewhere.
    None,
    /// A folder of the gateway's machine (`--files-dir`).
    Dir,
    /// Each sandbox's file agent over HTTP.
    Sandbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Bounds on connections that are not sessions yet.
    pub fn handshake_limits(&self) -> crate::listener::HandshakeLimits {
        crate::listener::HandshakeLimits {
            max_head_bytes: self.max_request_head_bytes.max(256),
            timeout: Duration::from_millis(self.handshake_timeout_ms.max(100)),
            max_in_flight: self.max_handshakes.max(1),
        }
    }
    pub fn room_grace(&self) -> Duration {
        Duration::from_millis(self.room_grace_ms)
    }
    /// The period of `malloc_trim`, or `None` when turned off.
    pub fn malloc_trim(&self) -> Option<Duration> {
        (self.malloc_trim_ms > 0).then(|| Duration::from_millis(self.malloc_trim_ms.max(100)))
    }
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
    pub fn keepalive(&self) -> Duration {
        Duration::from_millis(self.keepalive_ms.max(100))
    }
    pub fn gateway_timeout(&self) -> Duration {
        Duration::from_millis(self.gateway_timeout_ms.max(300))
    }
    pub fn tail_check(&self) -> Duration {
        Duration::from_millis(self.tail_check_ms.max(100))
    }
    /// The sweep's period while identity changes are pushed (30 s by default).
    pub fn revalidate_tracked(&self) -> Duration {
        Duration::from_millis(self.revalidate_ms.unwrap_or(30_000).max(100))
    }
    /// The sweep's period while they are not (2 s by default).
    pub fn revalidate_untracked(&self) -> Duration {
        Duration::from_millis(self.revalidate_ms.unwrap_or(2_000).max(100))
    }
    /// Threads of the diagnostics pool (0: syntax checks off).
    pub fn diagnostics_workers(&self) -> usize {
        self.diagnostics_workers.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            (cores / 2).max(1)
        })
    }
    pub fn diagnostics_settings(&self) -> collab_room_core::ext::diagnostics::Settings {
        collab_room_core::ext::diagnostics::Settings {
            debounce: Duration::from_millis(self.diagnostics_debounce_ms),
            max_interval: Duration::from_millis(
                DIAGNOSTICS_MAX_INTERVAL_MS.max(self.diagnostics_debounce_ms),
            ),
            syntax: self.diagnostics_workers() > 0,
            limits: collab_syntax::Limits {
                max_bytes: self.diagnostics_max_bytes,
                max_parse_time: Duration::from_millis(self.diagnostics_parse_timeout_ms.max(1)),
                max_markers: DIAGNOSTICS_MAX_MARKERS,
            },
        }
    }
    pub fn diag_policy(&self) -> collab_room_core::ext::diagnostics::DiagPolicy {
        collab_room_core::ext::diagnostics::DiagPolicy {
            ttl: Duration::from_secs(self.diagnostics_ttl.max(1)),
            // Longer than a parse may take, plus a round trip.
            claim: Duration::from_millis(self.diagnostics_parse_timeout_ms.max(1) + 1000),
            keep_versions: 8,
        }
    }
    pub fn undo_policy(&self) -> collab_room_core::ext::undo::UndoPolicy {
        collab_room_core::ext::undo::UndoPolicy {
            capture: Duration::from_millis(self.undo_capture_ms),
            depth: self.undo_depth,
            ttl: Duration::from_secs(self.undo_ttl.max(1)),
        }
    }
}
