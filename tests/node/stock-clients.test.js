// Stock Yjs clients against two collab-gateway processes sharing one Redis.
//
// The clients are the unmodified `WebsocketProvider` of y-websocket 3.x (the
// Yjs 13 line) with the `ws` package as WebSocket: what a browser running
// Monaco + y-monaco uses. Nothing here speaks the wire protocol by hand.
//
// Topology: one private redis-server on a free loopback port, gateways A and B
// both pointed at it. Every wait has a deadline; a timeout error names what
// was awaited, the clients' view, and the tail of each process's stderr.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import {
  describeProcesses,
  gatewayBinary,
  redisCommand,
  startGateway,
  startRedis,
  waitFor,
  waitForAsync
} from './lib/harness.js'

const ROOM = 'proj/file.ts'
const TEXT = 'monaco' // y-monaco's root Y.Text
const WAIT_MS = Number(process.env.COLLAB_NODE_WAIT_MS || 15000)
// The channel of a file: `collab:{F}` (default key prefix; README, "Redis layout").
const CHANNEL = `collab:{${ROOM}}`

/** @type {Awaited<ReturnType<typeof startRedis>>} */
let redis
/** @type {Awaited<ReturnType<typeof startGateway>>} */
let gwA
/** @type {Awaited<ReturnType<typeof startGateway>>} */
let gwB

/** Every client made by `client()`, destroyed in `after`. */
const clients = new Set()

/**
 * A stock client: a fresh Y.Doc and an unmodified WebsocketProvider connected
 * to `gateway`. BroadcastChannel is off so that two providers of this one
 * process never talk to each other except through the gateways.
 */
function client (label, gateway, room = ROOM) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(gateway.url, room, doc, {
    WebSocketPolyfill: WebSocket,
    disableBc: true
  })
  const c = {
    label,
    gateway,
    doc,
    provider,
    awareness: provider.awareness,
    text: doc.getText(TEXT),
    closeCodes: [],
    destroyed: false,
    destroy () {
      if (c.destroyed) return
      c.destroyed = true
      provider.destroy()
      provider.awareness.destroy()
      doc.destroy()
      clients.delete(c)
    }
  }
  provider.on('connection-close', (event) => {
    if (event) c.closeCodes.push(`${event.code}${event.reason ? ` ${event.reason}` : ''}`)
  })
  clients.add(c)
  return c
}

function view () {
  const out = {}
  for (const c of clients) {
    out[c.label] = {
      gateway: c.gateway.name,
      clientID: c.doc.clientID,
      wsconnected: c.provider.wsconnected,
      synced: c.provider.synced,
      closeCodes: c.closeCodes,
      text: c.text.toString(),
      awareness: Object.fromEntries([...c.awareness.getStates()].map(([id, s]) => [id, s]))
    }
  }
  return JSON.stringify(out, null, 1)
}

function waitSynced (c) {
  return waitFor({
    what: `${c.label} connected to ${c.gateway.name} and synced (the gateway answers sync step 1 with step 2)`,
    predicate: () => c.provider.synced,
    sources: [[c.provider, 'sync'], [c.provider, 'status']],
    timeoutMs: WAIT_MS,
    describe: view
  })
}

function waitText (c, predicate, what) {
  return waitFor({
    what: `${c.label}: ${what}`,
    predicate: () => predicate(c.text.toString()),
    sources: [[c.doc, 'update']],
    timeoutMs: WAIT_MS,
    describe: view
  })
}

function waitAwareness (c, predicate, what) {
  return waitFor({
    what: `${c.label}: ${what}`,
    predicate: () => predicate(c.awareness.getStates()),
    sources: [[c.awareness, 'change'], [c.awareness, 'update']],
    timeoutMs: WAIT_MS,
    describe: view
  })
}

/** A cursor-like awareness state the way y-monaco writes it. */
function setCursor (c, name, color, anchorIndex, headIndex) {
  c.awareness.setLocalStateField('user', { name, color })
  c.awareness.setLocalStateField('selection', {
    anchor: Y.createRelativePositionFromTypeIndex(c.text, anchorIndex),
    head: Y.createRelativePositionFromTypeIndex(c.text, headIndex)
  })
}

/** The absolute index a remote selection end points at in `c`'s doc. */
function resolveIn (c, relJson) {
  const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(relJson), c.doc)
  return abs && abs.type === c.text ? abs.index : null
}

/**
 * Records every awareness state removal the observers see (a removal of a
 * client that stays connected makes its cursor blink out for everyone until
 * that client re-announces itself). `settle()` waits a fixed observation
 * window: absence of an event cannot be awaited any other way.
 */
function watchRemovals (observers, windowMs = 1500) {
  const seen = []
  const handlers = observers.map((c) => {
    const h = ({ removed }) => {
      for (const id of removed) seen.push({ observer: c.label, id, at: Date.now() })
    }
    c.awareness.on('change', h)
    return () => c.awareness.off('change', h)
  })
  return {
    seen,
    async settle () {
      await new Promise((resolve) => setTimeout(resolve, windowMs))
      for (const off of handlers) off()
    }
  }
}

function labelOf (id) {
  for (const c of clients) if (c.doc.clientID === id) return `${c.label} (clientID ${id})`
  return `clientID ${id}`
}

function assertOnlyRemoved (seen, leaverId, event) {
  const wrong = seen.filter((r) => r.id !== leaverId)
  assert.deepEqual(
    wrong.map((r) => `${r.observer} saw the state of ${labelOf(r.id)} removed`),
    [],
    `after ${event}, only its own awareness state may be removed; the states of clients ` +
    'that are still connected were removed too (their cursors blink out until they re-announce)'
  )
}

/** Subscribers of `channel`, plain and sharded pub/sub counted together. */
async function numsub (channel) {
  const plain = await redisCommand(redis.port, ['PUBSUB', 'NUMSUB', channel])
  const sharded = await redisCommand(redis.port, ['PUBSUB', 'SHARDNUMSUB', channel])
  return Number(plain[1]) + Number(sharded[1])
}

describe('stock y-websocket clients across two gateways', { timeout: 180000 }, () => {
  before(async () => {
    gatewayBinary() // fails at once, with how to build it, when the binary is missing
    redis = await startRedis()
    ;[gwA, gwB] = await Promise.all([
      startGateway({ name: 'gateway A', redisUrl: redis.url }),
      startGateway({ name: 'gateway B', redisUrl: redis.url })
    ])
  })

  after(async () => {
    for (const c of [...clients]) {
      try { c.destroy() } catch {}
    }
    await Promise.allSettled([gwA?.stop(), gwB?.stop()])
    await redis?.stop()
    if (process.env.COLLAB_NODE_LOGS) {
      // COLLAB_NODE_LOGS=1 ./run.sh: print what the processes logged.
      process.stderr.write(`processes:\n${describeProcesses(400)}`)
    }
  })

  // Shared between the ordered tests below.
  let a1, b1

  it('both gateways answer GET /healthz with 200', async () => {
    for (const gw of [gwA, gwB]) {
      const res = await fetch(`${gw.httpUrl}/healthz`)
      assert.equal(res.status, 200, `${gw.name} /healthz`)
      await res.arrayBuffer()
    }
  })

  it('edits on either gateway reach the client on the other', async () => {
    a1 = client('a1', gwA)
    b1 = client('b1', gwB)
    await Promise.all([waitSynced(a1), waitSynced(b1)])

    a1.text.insert(0, 'const a = 1\n')
    await waitText(b1, (t) => t === 'const a = 1\n', 'sees the line typed on gateway A')

    b1.text.insert(b1.text.length, 'const b = 2\n')
    await waitText(a1, (t) => t === 'const a = 1\nconst b = 2\n', 'sees the line typed on gateway B')

    // A deletion and a replacement, the way Monaco applies a typed-over selection.
    a1.doc.transact(() => {
      a1.text.delete(6, 1)
      a1.text.insert(6, 'alpha')
    })
    await waitText(b1, (t) => t === 'const alpha = 1\nconst b = 2\n', 'sees the replacement made on A')

    // Concurrent edits on both sides (different lines, as two users would).
    for (let i = 0; i < 20; i++) {
      a1.text.insert(a1.text.toString().indexOf('\n'), ` // a${i}`)
      b1.text.insert(b1.text.length, `b${i};`)
    }
    await Promise.all([
      waitText(a1, (t) => t === b1.text.toString() && t.includes('b19;') && t.includes('// a19'), 'converges with b1 after concurrent edits'),
      waitText(b1, (t) => t === a1.text.toString() && t.includes('b19;') && t.includes('// a19'), 'converges with a1 after concurrent edits')
    ])
    assert.equal(a1.text.toString(), b1.text.toString())
    for (let i = 0; i < 20; i++) {
      assert.ok(a1.text.toString().includes(` // a${i}`), `edit a${i} kept`)
      assert.ok(a1.text.toString().includes(`b${i};`), `edit b${i} kept`)
    }
  })

  it('awareness (cursor, name, colour) crosses gateways both ways', async () => {
    assert.ok(a1 && b1, 'needs the clients of the previous test')
    setCursor(a1, 'Ada', '#e91e63', 6, 11)
    await waitAwareness(b1, (states) => states.get(a1.doc.clientID)?.user?.name === 'Ada' &&
      states.get(a1.doc.clientID)?.selection != null, "sees Ada's cursor from gateway A")
    const seen = b1.awareness.getStates().get(a1.doc.clientID)
    assert.deepEqual(seen.user, { name: 'Ada', color: '#e91e63' })
    assert.equal(resolveIn(b1, seen.selection.anchor), 6, 'anchor resolves to the same index on B')
    assert.equal(resolveIn(b1, seen.selection.head), 11, 'head resolves to the same index on B')

    setCursor(b1, 'Grace', '#3f51b5', 0, 0)
    await waitAwareness(a1, (states) => states.get(b1.doc.clientID)?.user?.name === 'Grace',
      "sees Grace's cursor from gateway B")

    // A cursor move is an awareness update, not a new state.
    a1.awareness.setLocalStateField('selection', {
      anchor: Y.createRelativePositionFromTypeIndex(a1.text, 2),
      head: Y.createRelativePositionFromTypeIndex(a1.text, 3)
    })
    await waitAwareness(b1, (states) => {
      const sel = states.get(a1.doc.clientID)?.selection
      return sel != null && resolveIn(b1, sel.anchor) === 2 && resolveIn(b1, sel.head) === 3
    }, "sees Ada's cursor move")
  })

  it('a late client on either gateway gets the whole text and the cursors already there', async () => {
    assert.ok(a1 && b1, 'needs the clients of the previous tests')
    const expected = a1.text.toString()
    assert.ok(expected.length > 0)

    const a2 = client('a2 (late, gateway A)', gwA)
    const b2 = client('b2 (late, gateway B)', gwB)
    await Promise.all([waitSynced(a2), waitSynced(b2)])
    await waitText(a2, (t) => t === expected, 'has the whole text after joining gateway A')
    await waitText(b2, (t) => t === expected, 'has the whole text after joining gateway B')

    // Cursors of clients on the same and on the other gateway.
    for (const late of [a2, b2]) {
      await waitAwareness(late, (states) =>
        states.get(a1.doc.clientID)?.user?.name === 'Ada' &&
        states.get(b1.doc.clientID)?.user?.name === 'Grace',
      'sees the cursors of Ada (gateway A) and Grace (gateway B) present before it joined')
    }

    // And its own edits reach everyone.
    b2.text.insert(0, '// late\n')
    for (const c of [a1, b1, a2]) {
      await waitText(c, (t) => t.startsWith('// late\n') && t === b2.text.toString(), 'sees the edit of the late client b2')
    }
    a2.destroy()
    b2.destroy()
  })

  it("a client's cursor disappears on the other gateway when it destroys its provider, and only its cursor", async () => {
    const b3 = client('b3 (leaves cleanly)', gwB)
    await waitSynced(b3)
    setCursor(b3, 'Linus', '#4caf50', 0, 1)
    const id = b3.doc.clientID
    await waitAwareness(a1, (states) => states.get(id)?.user?.name === 'Linus', "sees Linus's cursor")
    await waitAwareness(b1, (states) => states.get(id)?.user?.name === 'Linus', "sees Linus's cursor (same gateway)")
    const removals = watchRemovals([a1, b1])
    b3.destroy()
    await waitAwareness(a1, (states) => !states.has(id), "no longer has Linus's state after b3.destroy() (other gateway)")
    await waitAwareness(b1, (states) => !states.has(id), "no longer has Linus's state after b3.destroy() (same gateway)")
    await removals.settle()
    assertOnlyRemoved(removals.seen, id, 'b3 (Linus) left cleanly')
  })

  it("a client's cursor disappears on the other gateway when its socket drops without a goodbye, and only its cursor", async () => {
    // No awareness "null" message is sent here: the gateway itself must remove
    // the states of a socket that closed (browser tab killed, network gone).
    const b4 = client('b4 (socket dropped)', gwB)
    await waitSynced(b4)
    setCursor(b4, 'Barbara', '#ff9800', 0, 2)
    const id = b4.doc.clientID
    await waitAwareness(a1, (states) => states.get(id)?.user?.name === 'Barbara', "sees Barbara's cursor")
    await waitAwareness(b1, (states) => states.get(id)?.user?.name === 'Barbara', "sees Barbara's cursor (same gateway)")
    const removals = watchRemovals([a1, b1])
    b4.provider.shouldConnect = false // the provider must not reconnect
    b4.provider.ws.terminate() // TCP gone, no close frame, no awareness removal message
    await waitAwareness(a1, (states) => !states.has(id), "no longer has Barbara's state after her socket dropped (other gateway)")
    await waitAwareness(b1, (states) => !states.has(id), "no longer has Barbara's state after her socket dropped (same gateway)")
    await removals.settle()
    assertOnlyRemoved(removals.seen, id, "b4's (Barbara's) socket dropped")
    b4.destroy()
  })

  it('a client joining a gateway whose room was dropped gets the text written meanwhile', async () => {
    // Both gateways serve the room: each holds its subscription to the file's channel.
    await waitForAsync({
      what: `two subscribers (one per gateway) on channel ${CHANNEL}`,
      probe: async () => { const n = await numsub(CHANNEL); return { ok: n === 2, numsub: n } },
      timeoutMs: WAIT_MS
    })
    // The last client of gateway B leaves: after its grace period B drops the room
    // and unsubscribes (README, "Configuration": `--room-grace-ms`, how long a room
    // outlives its last client; default 2000 ms).
    b1.destroy()
    await waitForAsync({
      what: `gateway B to drop the empty room and unsubscribe from ${CHANNEL}`,
      probe: async () => { const n = await numsub(CHANNEL); return { ok: n === 1, numsub: n } },
      timeoutMs: WAIT_MS
    })
    // Edits while B has no room: they reach B only through Redis.
    a1.text.insert(a1.text.length, '\n// written while gateway B had no room\n')
    const expected = a1.text.toString()
    const b5 = client('b5 (after room drop, gateway B)', gwB)
    await waitSynced(b5)
    await waitText(b5, (t) => t === expected, 'has the whole text, loaded from Redis')
    // Still live in both directions.
    b5.text.insert(0, '/* b5 */')
    await waitText(a1, (t) => t.startsWith('/* b5 */') && t === b5.text.toString(), "sees b5's edit")
    b5.destroy()
  })

  it('when gateway B is killed, the cursors of its clients disappear on gateway A, and only those', async () => {
    // Contract: within --gateway-timeout-ms (default 6000) + a few seconds.
    const a6 = client('a6 (gateway A)', gwA)
    const b6 = client('b6 (on the gateway that dies)', gwB)
    await Promise.all([waitSynced(a6), waitSynced(b6)])
    setCursor(a6, 'Edsger', '#9c27b0', 0, 0)
    setCursor(b6, 'Frances', '#009688', 1, 1)
    for (const c of [a1, a6]) {
      await waitAwareness(c, (states) => states.get(b6.doc.clientID)?.user?.name === 'Frances', "sees Frances's cursor (gateway B)")
    }
    await waitAwareness(a6, (states) => states.get(a1.doc.clientID)?.user?.name === 'Ada', "sees Ada's cursor (gateway A)")
    await waitAwareness(a1, (states) => states.get(a6.doc.clientID)?.user?.name === 'Edsger', "sees Edsger's cursor (gateway A)")
    const removals = watchRemovals([a1, a6])
    const killedAt = Date.now()
    await gwB.proc.kill('SIGKILL')
    for (const c of [a1, a6]) {
      await waitFor({
        what: `${c.label}: Frances's state gone after gateway B was killed (gateway timeout 6000 ms + a few seconds)`,
        predicate: () => !c.awareness.getStates().has(b6.doc.clientID),
        sources: [[c.awareness, 'change']],
        timeoutMs: 6000 + WAIT_MS,
        describe: view
      })
    }
    const tookMs = Date.now() - killedAt
    await removals.settle()
    assertOnlyRemoved(removals.seen, b6.doc.clientID, `gateway B was killed (removal took ${tookMs} ms)`)
    // Gateway A goes on.
    a6.text.insert(0, '// after B died\n')
    await waitText(a1, (t) => t.startsWith('// after B died\n'), "sees a6's edit after gateway B died")
    b6.destroy()
    a6.destroy()
  })

  it('no gateway or redis process died during the tests', () => {
    const dead = [redis.proc, gwA.proc, gwB.proc].filter((p) => p.diedUnexpectedly)
    assert.equal(dead.length, 0, `processes died:\n${describeProcesses(80)}`)
  })
})
