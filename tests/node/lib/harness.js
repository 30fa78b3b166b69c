// Process and waiting helpers for the Node interop tests.
//
// Everything here talks to processes on the loopback interface only: a private
// redis-server on a free port (never 6379) and collab-gateway processes that
// listen on 127.0.0.1:0.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
/** tests/node */
export const packageDir = path.resolve(here, '..')
/** the repository root (tests/node/../..) */
export const repoRoot = path.resolve(packageDir, '..', '..')

// ---------------------------------------------------------------------------
// Child processes: tracked so that they are killed even when a test crashes.

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()

function killAllSync () {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGKILL') } catch {}
    }
  }
}
process.on('exit', killAllSync)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAllSync()
    process.exit(128 + (os.constants.signals[signal] ?? 0))
  })
}

/** Keeps the last `limit` characters written to it. */
class Tail {
  constructor (limit = 64 * 1024) {
    this.limit = limit
    this.text = ''
  }

  push (chunk) {
    this.text += chunk
    if (this.text.length > this.limit) {
      this.text = this.text.slice(this.text.length - this.limit)
    }
  }

  last (lines = 40) {
    return this.text.split('\n').slice(-lines - 1).join('\n')
  }
}

/**
 * A spawned process with its output tails and an `exited` promise.
 */
class Proc {
  constructor (name, command, args, options = {}) {
    this.name = name
    this.command = command
    this.args = args
    this.stdout = new Tail()
    this.stderr = new Tail()
    this.stopping = false
    this.child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options
    })
    children.add(this.child)
    this.child.stdout.setEncoding('utf8')
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (d) => this.stderr.push(d))
    /** @type {Promise<{code: number|null, signal: string|null}>} */
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.spawnError = err
        children.delete(this.child)
        resolve({ code: null, signal: null, error: err })
      })
      this.child.once('exit', (code, signal) => {
        children.delete(this.child)
        this.exit = { code, signal }
        resolve({ code, signal })
      })
    })
  }

  get running () {
    return this.exit === undefined && this.spawnError === undefined
  }

  /** Exited although nobody asked it to stop. */
  get diedUnexpectedly () {
    return !this.running && !this.stopping
  }

  describe (lines = 40) {
    const state = this.spawnError
      ? `failed to start: ${this.spawnError.message}`
      : this.running
        ? `running (pid ${this.child.pid})`
        : `exited (code ${this.exit.code}, signal ${this.exit.signal})${this.stopping ? '' : ' UNEXPECTEDLY'}`
    const err = this.stderr.last(lines).trim()
    return `--- ${this.name}: ${state}\n` +
      `    command: ${this.command} ${this.args.map((a) => JSON.stringify(a)).join(' ')}\n` +
      (err ? `    stderr (last ${lines} lines):\n${indent(err, '      ')}\n` : '    stderr: (empty)\n')
  }

  /** Sends `signal` on purpose (not counted as dying); resolves when the process is gone. */
  async kill (signal = 'SIGKILL') {
    this.stopping = true
    if (!this.running) return this.exit
    try { this.child.kill(signal) } catch {}
    return this.exited
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  async stop (graceMs = 5000) {
    this.stopping = true
    if (!this.running) return this.exit
    try { this.child.kill('SIGTERM') } catch {}
    const timer = setTimeout(() => {
      try { this.child.kill('SIGKILL') } catch {}
    }, graceMs)
    const result = await this.exited
    clearTimeout(timer)
    return result
  }
}

function indent (text, prefix) {
  return text.split('\n').map((l) => prefix + l).join('\n')
}

/** All processes started through this module (for failure messages). */
const procs = []

/** A text block describing every process started so far, for failure messages. */
export function describeProcesses (lines = 40) {
  return procs.map((p) => p.describe(lines)).join('')
}

// ---------------------------------------------------------------------------
// Waiting with deadlines.

/**
 * Resolves once `predicate()` is true. The predicate is checked at once, then on
 * every event named in `sources` ([observable, eventName] pairs, anything with
 * on/off such as a Y.Doc, an Awareness or a WebsocketProvider), and every
 * `pollMs` as a fallback. Rejects after `timeoutMs` with `what`, the
 * `describe()` output and the state of every spawned process.
 *
 * @param {object} o
 * @param {string} o.what
 * @param {() => boolean} o.predicate
 * @param {Array<[any, string]>} [o.sources]
 * @param {number} [o.timeoutMs]
 * @param {number} [o.pollMs]
 * @param {() => string} [o.describe]
 */
export function waitFor ({ what, predicate, sources = [], timeoutMs = 10000, pollMs = 250, describe }) {
  return new Promise((resolve, reject) => {
    let done = false
    let poll = null
    let timer = null
    const cleanup = () => {
      done = true
      clearTimeout(timer)
      clearInterval(poll)
      for (const [obs, ev] of sources) obs.off(ev, check)
    }
    const fail = (err) => {
      if (done) return
      cleanup()
      reject(err)
    }
    function check () {
      if (done) return
      let ok
      try {
        ok = predicate()
      } catch (err) {
        fail(err)
        return
      }
      if (ok) {
        cleanup()
        resolve()
      }
    }
    for (const [obs, ev] of sources) obs.on(ev, check)
    poll = setInterval(check, pollMs)
    timer = setTimeout(() => {
      let state = ''
      try { state = describe ? describe() : '' } catch (err) { state = `(describe failed: ${err})` }
      fail(new Error(
        `timed out after ${timeoutMs} ms waiting for: ${what}` +
        (state ? `\nstate: ${state}` : '') +
        `\nprocesses:\n${describeProcesses()}`
      ))
    }, timeoutMs)
    check()
  })
}

/** Like waitFor, but for an async probe (polled every `pollMs`). */
export async function waitForAsync ({ what, probe, timeoutMs = 10000, pollMs = 100 }) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      last = await probe()
      if (last && last.ok) return last
    } catch (err) {
      last = { error: err }
    }
    if (Date.now() >= deadline) {
      const detail = last && last.error ? last.error.message : JSON.stringify(last)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\nlast probe: ${detail}\nprocesses:\n${describeProcesses()}`)
    }
    await sleep(pollMs)
  }
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A port that was free on 127.0.0.1 a moment ago (never 6379). */
export async function freePort () {
  for (;;) {
    const server = net.createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address()
    server.close()
    await once(server, 'close')
    if (port !== 6379) return port
  }
}

// ---------------------------------------------------------------------------
// A minimal RESP client: enough for PING and a few inspection commands.

/**
 * Sends one command to the Redis on `port` and resolves with the decoded reply
 * (strings, integers, arrays; an error reply rejects).
 */
export function redisCommand (port, args, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = (err, value) => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err); else resolve(value)
    }
    socket.on('error', (err) => finish(err))
    socket.on('connect', () => {
      let out = `*${args.length}\r\n`
      for (const a of args) {
        const s = Buffer.from(String(a))
        out += `$${s.length}\r\n${s.toString('latin1')}\r\n`
      }
      socket.write(Buffer.from(out, 'latin1'))
    })
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      let parsed
      try {
        parsed = parseResp(buf, 0)
      } catch (err) {
        finish(err)
        return
      }
      if (parsed) {
        if (parsed.value instanceof Error) finish(parsed.value)
        else finish(null, parsed.value)
      }
    })
    socket.on('close', () => finish(new Error(`redis ${args[0]}: connection closed before a reply`)))
  })
}

/** Returns {value, end} or null when `buf` holds no complete reply yet. */
function parseResp (buf, pos) {
  const lineEnd = buf.indexOf('\r\n', pos)
  if (lineEnd < 0) return null
  const type = String.fromCharCode(buf[pos])
  const line = buf.toString('utf8', pos + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+': return { value: line, end: next }
    case '-': return { value: new Error(`redis error: ${line}`), end: next }
    case ':': return { value: Number(line), end: next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, end: next }
      if (buf.length < next + len + 2) return null
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 }
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      const items = []
      let p = next
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, p)
        if (!item) return null
        items.push(item.value)
        p = item.end
      }
      return { value: items, end: p }
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

// ---------------------------------------------------------------------------
// redis-server

/**
 * Starts a private redis-server on a free loopback port with persistence off,
 * in a temporary directory, and waits until it answers PING.
 * `extraArgs` are added to its command line; `portBelow` keeps the port under a bound (a
 * cluster node also listens on port + 10000).
 * Returns {port, url, proc, dir, stop()}.
 */
export async function startRedis ({ timeoutMs = 10000, extraArgs = [], portBelow = 65536 } = {}) {
  const bin = process.env.REDIS_SERVER_BIN || 'redis-server'
  let lastError
  for (let attempt = 0; attempt < 3; attempt++) {
    let port = await freePort()
    for (let tries = 0; port >= portBelow && tries < 100; tries++) port = await freePort()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-node-redis-'))
    const proc = new Proc(`redis-server :${port}`, bin, [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
      '--logfile', '',
      ...extraArgs
    ], { cwd: dir })
    proc.child.stdout.on('data', (d) => proc.stdout.push(d))
    procs.push(proc)
    const deadline = Date.now() + timeoutMs
    let ready = false
    while (Date.now() < deadline && proc.running) {
      try {
        if (await redisCommand(port, ['PING'], 500) === 'PONG') { ready = true; break }
      } catch (err) {
        lastError = err
      }
      await sleep(50)
    }
    const stop = async () => {
      await proc.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    if (ready) return { port, url: `redis://127.0.0.1:${port}`, proc, dir, stop }
    await stop()
    if (proc.spawnError) {
      throw new Error(`cannot start redis-server (${bin}): ${proc.spawnError.message}; install redis-server or set REDIS_SERVER_BIN`)
    }
    lastError = new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms\n` +
      proc.describe() + `    stdout:\n${indent(proc.stdout.last(20), '      ')}\n`)
    // A port race (someone took the port) is retried with another port.
  }
  throw lastError
}

// ---------------------------------------------------------------------------
// collab-gateway

/** The gateway binary: $COLLAB_GATEWAY_BIN, else target/debug/collab-gateway. */
export function gatewayBinary () {
  const fromEnv = process.env.COLLAB_GATEWAY_BIN
  const bin = fromEnv ? path.resolve(fromEnv) : path.join(repoRoot, 'target', 'debug', 'collab-gateway')
  let ok = false
  try {
    fs.accessSync(bin, fs.constants.X_OK)
    ok = fs.statSync(bin).isFile()
  } catch {}
  if (!ok) {
    throw new Error(
      `collab-gateway binary not found or not executable at ${bin}` +
      (fromEnv ? ' (from COLLAB_GATEWAY_BIN)' : '') +
      '.\nBuild it first: (cd ' + repoRoot + ' && cargo build -p collab-server),' +
      ' or point COLLAB_GATEWAY_BIN at a built collab-gateway.'
    )
  }
  return bin
}

const READY_LINE = /^collab-gateway listening on (127\.0\.0\.1:(\d+))\s*$/

/**
 * Starts one collab-gateway with `--listen 127.0.0.1:0 --redis-url URL` plus
 * `extraArgs` (and `--auth none` unless they name an `--auth` mode: these tests
 * are about the protocol, not tokens), and waits for its readiness line on stdout.
 * `env` adds COLLAB_* settings (a deployment's environment; the flags above still win,
 * and a COLLAB_AUTH there is kept).
 * Returns {name, addr, port, url (ws://.../doc), httpUrl, proc, stop()}.
 */
export async function startGateway ({ name, redisUrl, extraArgs = [], env: settings = {}, timeoutMs = 30000 }) {
  const bin = gatewayBinary()
  const namesAuth = extraArgs.some((a) => a === '--auth' || a.startsWith('--auth=')) || 'COLLAB_AUTH' in settings
  const args = ['--listen', '127.0.0.1:0', '--redis-url', redisUrl, ...extraArgs, ...(namesAuth ? [] : ['--auth', 'none'])]
  const env = { ...process.env }
  // Flags win over env, but do not let stray COLLAB_* settings of the caller's
  // shell change what is tested, except the binary path itself.
  for (const key of Object.keys(env)) {
    if (key.startsWith('COLLAB_') && key !== 'COLLAB_GATEWAY_BIN') delete env[key]
  }
  Object.assign(env, settings)
  if (!env.RUST_BACKTRACE) env.RUST_BACKTRACE = '1'
  const proc = new Proc(name, bin, args, { env })
  procs.push(proc)
  const lines = readline.createInterface({ input: proc.child.stdout, crlfDelay: Infinity })
  let readyLine = null
  const ready = new Promise((resolve) => {
    lines.on('line', (line) => {
      proc.stdout.push(line + '\n')
      const m = READY_LINE.exec(line)
      if (m && !readyLine) {
        readyLine = line
        resolve({ addr: m[1], port: Number(m[2]) })
      }
    })
  })
  let timer
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs) })
  const result = await Promise.race([ready, proc.exited.then(() => 'exited'), timeout])
  clearTimeout(timer)
  if (result === 'timeout' || result === 'exited') {
    await proc.stop()
    const why = result === 'timeout'
      ? `did not print "collab-gateway listening on 127.0.0.1:PORT" within ${timeoutMs} ms`
      : 'exited before printing its readiness line'
    throw new Error(`${name} ${why}\n${proc.describe(60)}    stdout:\n${indent(proc.stdout.last(20), '      ')}\n`)
  }
  const { addr, port } = result
  return {
    name,
    addr,
    port,
    url: `ws://${addr}/doc`,
    httpUrl: `http://${addr}`,
    proc,
    stop: () => proc.stop()
  }
}
