// One Hocuspocus instance with the Redis extension: the peer `collab-load --framing
// hocuspocus` is compared with. Start two on one redis-server to get the multi-instance
// setup (documents relayed through Redis pub/sub), like two of our gateways.
//
//   node server.mjs --port 0 --redis-port 6391
//
// Listens on 127.0.0.1 only, accepts any token (no auth extension). Documents are stored in
// the same Redis (the Database extension, key `hocuspocus:doc:NAME`), as Hocuspocus's docs
// pair the Redis extension with a database: without one, an instance that opens a document
// another instance holds starts it empty (the Redis extension relays changes, not state).
// Prints exactly one line on stdout once its Redis connections are ready and it listens:
//   hocuspocus listening on 127.0.0.1:PORT
// and exits with status 0 on SIGTERM or SIGINT.

import { Server } from "@hocuspocus/server";
import { Redis } from "@hocuspocus/extension-redis";
import { Database } from "@hocuspocus/extension-database";

const HOST = "127.0.0.1";

/** How long shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5000;

function usage(message) {
  process.stderr.write(`hocuspocus peer: ${message}\n`);
  process.stderr.write("usage: node server.mjs --port N (0 = free port) --redis-port P\n");
  process.exit(2);
}

/** Reads `--port` and `--redis-port` (both required, `--flag value` or `--flag=value`). */
function parseArgs(argv) {
  const values = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    if (flag !== "--port" && flag !== "--redis-port") usage(`unknown argument ${argv[i]}`);
    const raw = inline ?? argv[++i];
    const n = Number(raw);
    if (raw === undefined || !Number.isInteger(n) || n < 0 || n > 65535) {
      usage(`${flag} needs a port number, got ${raw}`);
    }
    values[flag] = n;
  }
  if (values["--port"] === undefined) usage("--port is required");
  if (!values["--redis-port"]) usage("--redis-port is required");
  return { port: values["--port"], redisPort: values["--redis-port"] };
}

const { port, redisPort } = parseArgs(process.argv.slice(2));

// The Redis extension makes the instances race for a store lock after changes and the
// loser's hook throws an empty error, which the server logs in full each time although it
// is expected (the winner stores the document). Drop exactly that line; keep the rest.
const logError = console.error;
console.error = (...args) => {
  const [what, error] = args;
  const lostLockRace =
    what === "Caught error during storeDocumentHooks" &&
    !error?.message &&
    String(error?.cause).startsWith("Could not acquire lock");
  if (!lostLockRace) logError(...args);
};

const redis = new Redis({ host: HOST, port: redisPort });

/**
 * Resolves once an ioredis connection is ready. A document opened before the subscriber
 * connection is ready makes ioredis's ready check fail ("Connection in subscriber mode")
 * and that document never hears from the other instance: listen only afterwards.
 */
function ready(connection) {
  if (connection.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    connection.once("ready", resolve);
    connection.once("error", reject);
  });
}

try {
  await Promise.all([ready(redis.pub), ready(redis.sub)]);
} catch (error) {
  process.stderr.write(`hocuspocus peer: Redis on ${HOST}:${redisPort}: ${error}\n`);
  process.exit(1);
}

/** Documents live in Redis beside the pub/sub traffic, as ours do. */
const database = new Database({
  fetch: async ({ documentName }) => redis.pub.getBuffer(`hocuspocus:doc:${documentName}`),
  store: async ({ documentName, state }) => {
    await redis.pub.set(`hocuspocus:doc:${documentName}`, Buffer.from(state));
  },
});

const server = new Server({
  port,
  address: HOST,
  // No start screen, no signal handlers of its own: shutdown is ours (below).
  quiet: true,
  stopOnSignals: false,
  extensions: [database, redis],
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // destroy() waits for every document to unload (the Redis extension delays each by its
  // disconnectDelay); never let a stuck Redis keep the process alive.
  setTimeout(() => process.exit(0), SHUTDOWN_TIMEOUT_MS).unref();
  try {
    await server.destroy();
  } catch (error) {
    process.stderr.write(`hocuspocus peer: shutdown: ${error}\n`);
  }
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

try {
  await server.listen();
} catch (error) {
  process.stderr.write(`hocuspocus peer: could not listen: ${error}\n`);
  process.exit(1);
}
process.stdout.write(`hocuspocus listening on ${HOST}:${server.address.port}\n`);
