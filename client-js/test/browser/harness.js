// Test harness for the browser tests: a redis-server and collab gateways on free ports, headless
// Chromium through playwright-core, a Yjs client in Node, and waiting with deadlines.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';

export const CLIENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO_DIR = resolve(CLIENT_DIR, '..');
export const DIST_DIR = resolve(CLIENT_DIR, 'dist');
/** Where the screenshot of two users editing is saved (the README names this path). */
export const SCREENSHOT = resolve(CLIENT_DIR, 'test-results/two-users.png');

const VERBOSE = process.env.COLLAB_GATEWAY_LOG === '1';

/** Polls `check` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function waitFor(check, { timeout = 15000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts a process and resolves once a stdout line matches `ready` (with the match). */
function startProcess(command, args, { ready, timeout = 20000, name }) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const keep = (chunk) => {
    const text = chunk.toString();
    log.push(text);
    if (log.length > 400) log.shift();
    if (VERBOSE) process.stderr.write(`[${name}] ${text}`);
  };
  child.stderr.on('data', keep);
  return new Promise((resolveStart, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeout} ms:\n${log.join('')}`));
    }, timeout);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} (${command}) could not be started: ${error.message}`));
    });
    const early = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early (code ${code}, signal ${signal}):\n${log.join('')}`));
    };
    child.on('exit', early);
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      buffer += chunk.toString();
      const match = buffer.match(ready);
      if (match) {
        clearTimeout(timer);
        child.off('exit', early);
        resolveStart({ child, match, log });
      }
    });
  });
}

/** A redis-server of its own on a free port (never 6379), without persistence. */
export async function startRedis() {
  const port = await freePort();
  const { child } = await startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    { ready: /Ready to accept connections/, name: `redis:${port}` },
  );
  return { port, url: `redis://127.0.0.1:${port}`, stop: () => stop(child) };
}

export function gatewayBinary() {
  const bin = process.env.COLLAB_GATEWAY_BIN || resolve(REPO_DIR, 'target/debug/collab-gateway');
  if (!existsSync(bin)) {
    throw new Error(`collab-gateway not found at ${bin}: build it with 'cargo build -p collab-server' or set COLLAB_GATEWAY_BIN`);
  }
  return bin;
}

/**
 * A gateway on the given port (0 = free) serving the demo page from `staticDir` (default dist/),
 * with extra flags in `args` (such as `--admin-token`).
 */
export async function startGateway(redisUrl, { port = 0, args = [], staticDir = DIST_DIR } = {}) {
  const { child, match, log } = await startProcess(
    gatewayBinary(),
    ['--listen', `127.0.0.1:${port}`, '--redis-url', redisUrl, '--static-dir', staticDir, '--room-grace-ms', '500', ...(args.includes('--auth') ? [] : ['--auth', 'none']), ...args],
    { ready: /collab-gateway listening on 127\.0\.0\.1:(\d+)/, name: 'gateway' },
  );
  const bound = Number(match[1]);
  return {
    port: bound,
    ws: `ws://127.0.0.1:${bound}`,
    http: `http://127.0.0.1:${bound}`,
    log,
    child,
    /** SIGKILL: no goodbye, no close frames (a crash). */
    kill: () => stop(child, 'SIGKILL'),
    stop: () => stop(child),
  };
}

function stop(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill(signal);
  });
}

// The browser names tried in order when $CHROMIUM is not set (as scripts/lib/find-chromium
// does; client-js/run-tests.sh exports the one it found as CHROMIUM): Debian's `chromium`,
// Ubuntu's snap `chromium-browser` (the deb of that name only wraps the snap), Chrome.
const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** `name` resolved on PATH (or itself when it holds a slash and exists), else null. */
function onPath(name) {
  if (name.includes('/')) return existsSync(name) ? name : null;
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const candidate = join(dir || '.', name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** True when `path` runs and answers --version (Ubuntu's wrapper without the snap does not). */
function works(path) {
  try {
    execFileSync(path, ['--version'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** The browser to launch: $CHROMIUM (which must work), else the first working name on PATH. */
export function findChromium() {
  const wanted = process.env.CHROMIUM || process.env.CHROMIUM_PATH;
  if (wanted) {
    const path = onPath(wanted);
    if (path && works(path)) return path;
    throw new Error(
      `CHROMIUM=${wanted} is not a working browser (it must run and answer --version): ` +
        `point CHROMIUM at a Chromium or Chrome executable, or unset it to search ${CHROMIUM_NAMES.join(', ')}`,
    );
  }
  for (const name of CHROMIUM_NAMES) {
    const path = onPath(name);
    if (path && works(path)) return path;
  }
  throw new Error(
    `no working Chromium found (tried ${CHROMIUM_NAMES.join(', ')} on PATH), one needed for the browser tests: ` +
      "Debian: apt-get install chromium; Ubuntu: snap install chromium (apt's chromium-browser only wraps the snap); " +
      'or install Google Chrome; or set CHROMIUM=/path/to/browser',
  );
}

/** Headless Chromium; a missing browser is an error, never a skip. */
export async function launchBrowser() {
  const executablePath = findChromium();
  // playwright-core adds --headless and a fresh temporary --user-data-dir itself.
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Opens the demo page in a browser context of its own (one per user) and waits until it is
 * synced. `user` is the user id for a gateway with `--auth none` (`?user=`: whose undo history
 * the edits go to; the gateway then shows that id as the name). `gateways` are the ws:// URLs the page should use, in order.
 */
export async function openEditor(browser, { pageFrom, gateways, file, name, color, user, expect = 'synced' }) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const query = new URLSearchParams({ file, name, color, gateways: gateways.join(','), ...(user ? { user } : {}) });
  await page.goto(`${pageFrom}/?${query}`);
  await page.waitForFunction(
    (state) => window.__collab?.session?.status.state === state,
    expect,
    { timeout: 20000 },
  );
  return { context, page, errors };
}

/** The text in a page's editor. */
export const editorText = (page) => page.evaluate(() => window.__collab.text());

/** Puts the caret at the end of a line and focuses the editor, ready for the keyboard. */
export async function caretAtEndOfLine(page, lineNumber) {
  await page.evaluate((line) => {
    const { editor } = window.__collab;
    const column = editor.getModel().getLineMaxColumn(line);
    editor.setPosition({ lineNumber: line, column });
    editor.focus();
  }, lineNumber);
}

/**
 * A plain Yjs client in Node (stock y-websocket provider), synced with the file. `raw` puts the
 * file id in the URL as stock clients do (`/doc/dir/file`), else percent-encoded as ours does
 * (`/doc/dir%2Ffile`): the gateway must treat both as the same file.
 */
export async function nodeClient(gatewayWs, file, { raw = false, token } = {}) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`${gatewayWs}/doc`, raw ? file : encodeURIComponent(file), doc, {
    WebSocketPolyfill: WebSocket,
    disableBc: true,
    ...(token ? { params: { token } } : {}),
  });
  await waitFor(() => provider.synced, { what: `Node client synced on ${file}` });
  return {
    doc,
    text: doc.getText('monaco'),
    provider,
    close: () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

/**
 * A copy of dist/ in a temporary folder, for gateways whose page should read a
 * `demo-users.json` of the test's own (dist/ itself may be serving a running demo).
 */
export function copyOfDist() {
  if (!existsSync(join(DIST_DIR, 'index.html'))) {
    throw new Error(`${DIST_DIR}/index.html missing: build the demo page first (npm run build:demo)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'collab-demo-page-'));
  cpSync(DIST_DIR, dir, { recursive: true, filter: (source) => !source.endsWith('demo-users.json') });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
