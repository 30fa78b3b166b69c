// A frame far over --max-frame-bytes (200 MB, ten times the socket layer's own limit) is
// refused with a close code the client can read: 1009 `frame-too-big`, not the 1006 of a
// reset. The gateway sends its close frame as soon as the frame's header arrives, then
// reads and drops what the client still sends (a lingering close, bounded in time and
// bytes) so the close frame is not destroyed by a reset before the client reads it.
//
// The client is the `ws` package, as a y-websocket client in Node would use.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import WebSocket from 'ws'
import { startGateway, startRedis } from './lib/harness.js'

const WAIT_MS = Number(process.env.COLLAB_NODE_WAIT_MS || 30000)
const BIG = 200 * 1024 * 1024

let redis
let gateway

before(async () => {
  redis = await startRedis()
  gateway = await startGateway({ name: 'gateway', redisUrl: redis.url })
})

after(async () => {
  await gateway?.stop()
  await redis?.stop()
})

/** Resolves with {code, reason} of the socket's close event, or rejects after `ms`. */
function closed (ws, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no close event within ${ms} ms`)), ms)
    ws.once('close', (code, reason) => {
      clearTimeout(timer)
      resolve({ code, reason: reason.toString() })
    })
  })
}

describe('an oversized frame', () => {
  it('ends with 1009 frame-too-big, and the gateway goes on serving', async () => {
    const ws = new WebSocket(`${gateway.url}/proj/oversized.ts`)
    ws.on('error', () => {}) // the close event carries what this test checks
    await once(ws, 'open')
    const end = closed(ws, WAIT_MS)
    ws.send(Buffer.alloc(BIG, 0x61))
    const { code, reason } = await end
    assert.equal(code, 1009, `close code (reason ${JSON.stringify(reason)})`)
    assert.equal(reason, 'frame-too-big')

    // Another client of the same file is served as usual.
    const next = new WebSocket(`${gateway.url}/proj/oversized.ts`)
    next.on('error', () => {})
    const [first] = await Promise.race([
      once(next, 'message'),
      new Promise((resolve, reject) => setTimeout(() => reject(new Error('no message from the gateway')), WAIT_MS))
    ])
    assert.equal(Buffer.from(first)[0], 0, 'the gateway opens with sync step 1')
    next.close()
    assert.ok(gateway.proc.running, 'the gateway still runs')
  })
})
