// Checks of deploy/observability: the alert rules load and fire as their unit tests say
// (promtool), the Grafana dashboard is well formed, and every metric its queries and the
// rules name is one a real gateway exports. The PromQL is parsed with Prometheus's own
// grammar (@prometheus-io/lezer-promql); a histogram's _bucket/_sum/_count series count for
// the histogram, and rate()/increase() must take counters or histogram series.
//
// The live part runs one gateway on a 3-master Redis Cluster (the per-node metrics exist
// only there) with files in a folder, drives a little traffic with stock Yjs clients (edits,
// an undo, a parsed TypeScript file, a write-back, an outside change), then stops one master
// so that its probes fail, and reads /metrics until every name is there.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { WebsocketProvider } from 'y-websocket'
import YAML from 'yaml'
import { parser } from '@prometheus-io/lezer-promql'
import { repoRoot, startGateway, waitFor, waitForAsync } from './lib/harness.js'
import { startRedisCluster } from './lib/redis-cluster.js'
import { promtool } from './lib/ops-tools.js'

const dir = path.join(repoRoot, 'deploy', 'observability')
const dashboardPath = path.join(dir, 'grafana-dashboard.json')
const rulesPath = path.join(dir, 'alerts.yaml')
const WAIT_MS = Number(process.env.COLLAB_NODE_WAIT_MS || 30000)
// Names that come from elsewhere, and where: the rules may use them, the dashboard not.
const EXTERNAL = {
  up: 'Prometheus itself (scrape health)',
  kube_pod_status_ready: 'kube-state-metrics (the readiness probe, /readyz)'
}
// The panels the issue asks for, by a word of their titles.
const TOPICS = ['Connections', 'Rooms', 'Edits and deliveries', 'Delivery latency', 'Slow-consumer', 'Redis nodes up',
  'Redis probe', 'Undo', 'Diagnostics', 'write-back']
const RATE_FUNCTIONS = new Set(['rate', 'irate', 'increase'])
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/

/** Grafana's variables as PromQL the parser accepts (a range and label values). */
function grafanaToPromql (expr) {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?[A-Za-z_]+\}?/g, 'x')
}

/**
 * The metric selectors of a PromQL expression: [{name, inRate}] (`inRate`: the selector is
 * the argument of rate/irate/increase). Fails on a syntax error or a selector without a name.
 */
function selectors (expr, where) {
  const tree = parser.parse(expr)
  const out = []
  const errors = []
  tree.iterate({
    enter (node) {
      if (node.type.isError) errors.push(node.from)
      if (node.name !== 'VectorSelector') return
      const id = node.node.getChild('Identifier')
      assert.ok(id, `${where}: a selector without a metric name at ${node.from}: ${expr}`)
      let inRate = false
      for (let up = node.node.parent; up; up = up.parent) {
        if (up.name === 'FunctionCall') {
          inRate = RATE_FUNCTIONS.has(expr.slice(up.from, up.getChild('FunctionIdentifier').to))
          break
        }
      }
      out.push({ name: expr.slice(id.from, id.to), inRate })
    }
  })
  assert.deepEqual(errors, [], `${where}: PromQL syntax error at ${errors.map((p) => `offset ${p}`).join(', ')}: ${expr}`)
  return out
}

function dashboardQueries () {
  const dashboard = JSON.parse(fs.readFileSync(dashboardPath, 'utf8'))
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels || [])]).filter((p) => p.type !== 'row')
  return { dashboard, panels, queries: panels.flatMap((p) => (p.targets || []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))) }
}

function ruleQueries () {
  const rules = YAML.parse(fs.readFileSync(rulesPath, 'utf8'))
  return rules.groups.flatMap((g) => g.rules).map((r) => ({ where: `rule ${r.alert || r.record}`, expr: r.expr, rule: r }))
}

/** /metrics text as {types: Map(name -> type), samples: Set(sample names)}. */
function parseExposition (text) {
  const types = new Map()
  const samples = new Set()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line)
    if (type) types.set(type[1], type[2])
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)[0])
  }
  return { types, samples }
}

/** Why `name` (as a query uses it) is not exported as used, or null when it is. */
function problem ({ name, inRate }, { types, samples }) {
  const base = name.replace(HISTOGRAM_SERIES, '')
  const histogram = base !== name && ['histogram', 'summary'].includes(types.get(base))
  const type = histogram ? 'histogram' : types.get(name)
  if (!type) return 'not exported'
  if (type === 'histogram' && !histogram) return `a histogram: query ${name}_bucket, _sum or _count`
  if (!samples.has(name)) return 'declared but without samples'
  if (inRate && !(histogram || type === 'counter')) return `rate() of a ${type}`
  if (!inRate && type === 'counter') return 'a counter used without rate()/increase()'
  return null
}

describe('deploy/observability alert rules', () => {
  it('pass promtool check rules', () => {
    const run = spawnSync(promtool(), ['check', 'rules', rulesPath], { encoding: 'utf8' })
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  })

  it('fire as alerts.test.yaml expects (promtool test rules)', () => {
    const run = spawnSync(promtool(), ['test', 'rules', path.join(dir, 'alerts.test.yaml')], { encoding: 'utf8', cwd: dir })
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  })

  it('cover a gateway not ready, a Redis node down, write-back failing and delivery p99', () => {
    const names = ruleQueries().map(({ expr }) => selectors(expr, 'rules').map((s) => s.name)).map((n) => new Set(n))
    const covered = (metric) => names.some((n) => n.has(metric))
    for (const metric of ['kube_pod_status_ready', 'collab_redis_node_up', 'collab_file_writes_total', 'collab_delivery_seconds_bucket']) {
      assert.ok(covered(metric), `an alert on ${metric}`)
    }
    for (const { rule } of ruleQueries()) {
      assert.match(rule.annotations?.description || '', /docs\/operating\.md#alerts/, `${rule.alert} points at what to do`)
      assert.ok(rule.labels?.severity, `${rule.alert} has a severity`)
    }
  })
})

describe('deploy/observability Grafana dashboard', () => {
  it('is a dashboard with a Prometheus datasource variable and the panels an operator needs', () => {
    const { dashboard, panels, queries } = dashboardQueries()
    assert.ok(dashboard.uid && dashboard.title && Number.isInteger(dashboard.schemaVersion), 'uid, title, schemaVersion')
    assert.ok(dashboard.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus'), 'a Prometheus datasource variable')
    const ids = panels.map((p) => p.id)
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
    for (const topic of TOPICS) {
      assert.ok(panels.some((p) => p.title.toLowerCase().includes(topic.toLowerCase())), `a panel about ${topic}`)
    }
    for (const p of panels) {
      assert.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}" uses the datasource variable`)
      assert.ok(p.targets?.length, `panel "${p.title}" has queries`)
    }
    for (const { where, expr } of queries) selectors(grafanaToPromql(expr), where)
  })
})

describe('the metrics the dashboard and the rules name', () => {
  let cluster
  let gw
  let filesDir
  const clients = []

  before(async () => {
    cluster = await startRedisCluster({ masters: 3 })
    filesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-observability-files-'))
    fs.mkdirSync(path.join(filesDir, 'proj'))
    fs.writeFileSync(path.join(filesDir, 'proj', 'a.ts'), 'let a = 1;\n')
    gw = await startGateway({
      name: 'gateway (cluster, files dir)',
      redisUrl: cluster.seeds,
      extraArgs: ['--redis-cluster', '--files', 'dir', '--files-dir', filesDir,
        '--write-back-ms', '50', '--write-back-max-ms', '200', '--diagnostics-debounce-ms', '20']
    })
  })

  after(async () => {
    for (const c of clients) { c.provider.destroy(); c.doc.destroy() }
    await gw?.stop()
    await cluster?.stop()
    if (filesDir) fs.rmSync(filesDir, { recursive: true, force: true })
  })

  function client () {
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(gw.url, 'proj/a.ts', doc, { WebSocketPolyfill: WebSocket, disableBc: true, params: { ext: 'undo,diagnostics' } })
    const c = { doc, provider, text: doc.getText('monaco') }
    clients.push(c)
    return c
  }

  const synced = (c) => waitFor({ what: 'a client synced', predicate: () => c.provider.synced, sources: [[c.provider, 'sync']], timeoutMs: WAIT_MS })

  it('are all exported by a gateway that served a little traffic', async () => {
    const a = client()
    const b = client()
    await synced(a)
    await synced(b)
    await waitFor({ what: 'the file\'s text from disk', predicate: () => a.text.toString().includes('let a'), sources: [[a.doc, 'update']], timeoutMs: WAIT_MS })
    a.text.insert(a.text.length, 'let b = ;\n') // a syntax error for the diagnostics
    await waitFor({ what: 'b sees a\'s edit', predicate: () => b.text.toString().includes('let b'), sources: [[b.doc, 'update']], timeoutMs: WAIT_MS })
    await waitForAsync({
      what: 'the edit is written back to the file',
      probe: async () => ({ ok: fs.readFileSync(path.join(filesDir, 'proj', 'a.ts'), 'utf8').includes('let b') }),
      timeoutMs: WAIT_MS
    })
    // An outside program saves the file (a temporary file renamed into place, as editors do).
    fs.writeFileSync(path.join(filesDir, 'proj', '.a.ts.tmp'), 'let outside = 2;\n')
    fs.renameSync(path.join(filesDir, 'proj', '.a.ts.tmp'), path.join(filesDir, 'proj', 'a.ts'))
    await waitFor({ what: 'the outside change reaches the editors', predicate: () => b.text.toString().includes('outside'), sources: [[b.doc, 'update']], timeoutMs: WAIT_MS })
    const undo = encoding.createEncoder()
    encoding.writeVarUint(undo, 100)
    encoding.writeVarString(undo, JSON.stringify({ type: 'undo' }))
    a.provider.ws.send(encoding.toUint8Array(undo))

    const used = [...dashboardQueries().queries.map((q) => ({ ...q, expr: grafanaToPromql(q.expr), from: 'dashboard' })),
      ...ruleQueries().map((q) => ({ ...q, from: 'rules' }))]
      .flatMap(({ where, expr, from }) => selectors(expr, where).map((s) => ({ ...s, where, from })))
    for (const u of used.filter((s) => s.name in EXTERNAL)) {
      assert.equal(u.from, 'rules', `${u.where}: ${u.name} comes from ${EXTERNAL[u.name]}, not the gateway: the dashboard shows what the gateway exports`)
    }
    const ours = used.filter((u) => !(u.name in EXTERNAL))
    /** Reads /metrics until no use of a metric has a problem that `tolerated` does not allow. */
    const check = async (stage, tolerated) => {
      let text = ''
      let faults = []
      try {
        await waitForAsync({
          what: stage,
          probe: async () => {
            text = await (await fetch(`${gw.httpUrl}/metrics`)).text()
            const exposition = parseExposition(text)
            faults = ours.map((u) => [u, problem(u, exposition)]).filter(([u, why]) => why && !tolerated(u, why))
            return { ok: faults.length === 0 }
          },
          timeoutMs: WAIT_MS,
          pollMs: 250
        })
      } catch (err) {
        assert.fail(`${stage}:\n${faults.map(([u, why]) => `${u.where} uses ${u.name}: ${why}`).join('\n')}\n${err.message}\n/metrics:\n${text}`)
      }
    }
    // Probe failures are counted from the first one on: every other name is there already.
    await check('every metric the queries use is exported, as used',
      (u, why) => u.name === 'collab_redis_node_probe_failures_total' && why === 'not exported')
    // Stop one master: the gateway's probes of it fail, and the failure counter appears.
    await cluster.nodes[2].stop()
    await check('after a master stopped, its failed probes are counted too', () => false)
  })
})
