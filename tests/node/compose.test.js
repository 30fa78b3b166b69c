// Static checks of the deployment files: docker-compose.yml, the Dockerfile,
// .dockerignore and the load balancer's config. No Docker engine is needed:
// the files are parsed and cross-checked so that they cannot rot silently
// (a renamed service, a port changed in one place only, a lost WebSocket
// header...).

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { gatewayBinary, repoRoot } from './lib/harness.js'
import { all, nginxSeconds, one, parseNginx } from './lib/nginx-conf.js'

const composePath = path.join(repoRoot, 'docker-compose.yml')
// WebSockets idle between keepalives; anything shorter than this is treated as
// the proxy default creeping back in.
const MIN_PROXY_READ_TIMEOUT_S = 600
const GATEWAY_REPLICAS = 3

// ---------------------------------------------------------------------------
// compose helpers

function loadCompose () {
  const text = fs.readFileSync(composePath, 'utf8')
  const doc = YAML.parseDocument(text, { merge: true })
  assert.deepEqual(doc.errors.map(String), [], 'docker-compose.yml is valid YAML')
  const compose = doc.toJS({ maxAliasCount: 1000 })
  assert.equal(typeof compose, 'object')
  assert.ok(compose.services && typeof compose.services === 'object', 'has services')
  return compose
}

/** environment as a map, from either the map or the list form. */
function envOf (service) {
  const env = service.environment
  if (!env) return {}
  if (Array.isArray(env)) {
    const out = {}
    for (const item of env) {
      const s = String(item)
      const eq = s.indexOf('=')
      if (eq > 0) out[s.slice(0, eq)] = s.slice(eq + 1)
    }
    return out
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]))
}

/** A command (string or list) as a list of words. */
function commandWords (command) {
  if (command == null) return []
  if (Array.isArray(command)) return command.map(String)
  return String(command).trim().split(/\s+/)
}

/** depends_on as a list of service names (list or map form). */
function dependsOn (service) {
  const d = service.depends_on
  if (!d) return []
  return Array.isArray(d) ? d.map(String) : Object.keys(d)
}

/** A volume entry (short or long syntax) as {type, source, target}. */
function parseVolume (v) {
  if (typeof v === 'object' && v !== null) {
    return { type: v.type || (v.source && /^[./~]/.test(v.source) ? 'bind' : 'volume'), source: v.source, target: v.target }
  }
  const parts = String(v).split(':')
  if (parts.length === 1) return { type: 'volume', source: null, target: parts[0] }
  const [source, target] = parts
  return { type: /^[./~]/.test(source) ? 'bind' : 'volume', source, target }
}

/** A port entry (short or long syntax) as {published, target}. */
function parsePort (p) {
  if (typeof p === 'object' && p !== null) {
    return { published: p.published == null ? null : String(p.published), target: Number(p.target) }
  }
  const s = String(p).replace(/\/(tcp|udp)$/, '')
  const parts = s.split(':')
  if (parts.length === 1) return { published: null, target: Number(parts[0]) }
  return { published: parts[parts.length - 2], target: Number(parts[parts.length - 1]) }
}

/** The service's build as {context, dockerfile} absolute paths, or null. */
function buildOf (service) {
  if (!service.build) return null
  const b = typeof service.build === 'string' ? { context: service.build } : service.build
  const context = path.resolve(path.dirname(composePath), b.context || '.')
  return { context, dockerfile: path.resolve(context, b.dockerfile || 'Dockerfile') }
}

function instancesOf (service) {
  const replicas = service.deploy?.replicas ?? service.scale ?? 1
  return Number(replicas)
}

function imageName (service) {
  return typeof service.image === 'string' ? service.image : ''
}

/**
 * The services of one stack: `profile` null gives those without `profiles` (what
 * `docker compose up` runs), a name those of that profile (which `--profile NAME`
 * adds).
 */
function stackOf (compose, profile) {
  return Object.entries(compose.services).filter(([, s]) =>
    profile == null ? !s.profiles : (s.profiles || []).includes(profile))
}

/** Picks out the redis, gateway and load-balancer services of a stack. */
function classify (entries) {
  const redis = entries.filter(([, s]) => /^(docker\.io\/)?(library\/)?redis(:|@|$)/.test(imageName(s)))
  const lbs = entries.filter(([, s]) => /^(docker\.io\/)?(library\/)?(nginx|haproxy)(:|@|$)/.test(imageName(s)))
  const rootDockerfile = path.join(repoRoot, 'Dockerfile')
  const gateways = entries.filter(([, s]) => buildOf(s)?.dockerfile === rootDockerfile)
  return { redis, lbs, gateways }
}

// ---------------------------------------------------------------------------
// Dockerfile helpers

/** Logical Dockerfile instructions: continuation lines joined, comments dropped. */
function dockerInstructions (text) {
  const out = []
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '')
    if (current === '' && /^\s*#/.test(line)) continue
    if (current !== '' && /^\s*#/.test(line)) continue // comment inside a continuation
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, ' ')
      continue
    }
    current += line
    if (current.trim()) {
      const m = /^\s*(\S+)\s*(.*)$/.exec(current)
      out.push({ op: m[1].toUpperCase(), rest: m[2].trim() })
    }
    current = ''
  }
  return out
}

/** ENV instructions as a map (key=value pairs, or the legacy "key value" form). */
function dockerEnv (instructions) {
  const env = {}
  for (const { op, rest } of instructions.filter((i) => i.op === 'ENV')) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(rest)) {
      const m = /^(\S+)\s+(.*)$/.exec(rest)
      if (m) env[m[1]] = m[2]
      continue
    }
    const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g
    let m
    while ((m = re.exec(rest)) !== null) {
      env[m[1]] = m[2].replace(/^["']|["']$/g, '')
    }
  }
  return env
}

// ---------------------------------------------------------------------------
// nginx helpers

/** The http-context directives of a full nginx.conf, or of a conf.d snippet. */
function httpContext (conf) {
  const http = one(conf, 'http')
  return http ? http.block : conf
}

/**
 * The location nginx would pick for `uri` in `server` (exact match, else the
 * longest prefix; regex locations are not evaluated and make the check fail).
 */
function matchLocation (server, uri) {
  const locations = all(server, 'location')
  const exact = locations.find((l) => l.args.length === 2 && l.args[0] === '=' && l.args[1] === uri)
  if (exact) return exact
  let best = null
  for (const l of locations) {
    const prefix = l.args.length === 1 ? l.args[0] : (l.args[0] === '^~' ? l.args[1] : null)
    if (prefix == null) continue
    if (uri.startsWith(prefix) && (!best || prefix.length > best.prefix.length)) best = { prefix, l }
  }
  if (best) {
    const regex = locations.find((l) => l.args[0] === '~' || l.args[0] === '~*')
    assert.ok(!regex || best.l.args[0] === '^~',
      `regex location "${regex?.args.join(' ')}" (line ${regex?.line}) might win for ${uri}: this check does not evaluate regexes`)
  }
  return best ? best.l : null
}

/** The effective value of a directive in location -> server -> http (nginx inheritance). */
function effective (levels, name) {
  for (const level of levels) {
    const d = all(level, name)
    if (d.length) return d[d.length - 1]
  }
  return undefined
}

/** Effective proxy_set_header map: only the innermost level that sets any counts. */
function effectiveHeaders (levels) {
  for (const level of levels) {
    const headers = all(level, 'proxy_set_header')
    if (headers.length) {
      return Object.fromEntries(headers.map((h) => [h.args[0].toLowerCase(), h.args[1]]))
    }
  }
  return {}
}

function listenPorts (server) {
  return all(server, 'listen').map((l) => {
    const m = /(?:^|:)(\d+)$/.exec(l.args[0])
    return m ? Number(m[1]) : NaN
  })
}

function versionAtLeast (image, [major, minor, patch]) {
  const m = /:(\d+)\.(\d+)(?:\.(\d+))?/.exec(image)
  if (!m) return false
  const v = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  for (let i = 0; i < 3; i++) {
    if (v[i] !== [major, minor, patch][i]) return v[i] > [major, minor, patch][i]
  }
  return true
}

/** The load balancer's config file: a bind-mounted file, or one COPYed into its image. */
function lbConfigFile (lbService, kind) {
  const wanted = kind === 'nginx'
    ? (t) => t === '/etc/nginx/nginx.conf' || /^\/etc\/nginx\/conf\.d\/[^/]+\.conf$/.test(t)
    : (t) => t === '/usr/local/etc/haproxy/haproxy.cfg' || t === '/etc/haproxy/haproxy.cfg'
  for (const v of (lbService.volumes || []).map(parseVolume)) {
    if (v.type === 'bind' && wanted(v.target)) {
      return { file: path.resolve(path.dirname(composePath), v.source), target: v.target }
    }
  }
  const build = buildOf(lbService)
  if (build) {
    for (const { op, rest } of dockerInstructions(fs.readFileSync(build.dockerfile, 'utf8'))) {
      if (op !== 'COPY' && op !== 'ADD') continue
      const words = rest.split(/\s+/).filter((w) => !w.startsWith('--'))
      const dest = words[words.length - 1]
      if (words.length === 2 && wanted(dest)) {
        return { file: path.resolve(build.context, words[0]), target: dest }
      }
    }
  }
  return null
}

// ---------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const compose = loadCompose()
  const { redis, lbs, gateways } = classify(stackOf(compose, null))
  const serviceNames = Object.keys(compose.services)

  it('references only services, volumes and networks it defines', () => {
    const namedVolumes = Object.keys(compose.volumes || {})
    const networks = ['default', ...Object.keys(compose.networks || {})]
    for (const [name, s] of Object.entries(compose.services)) {
      const joined = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks || {})
      for (const network of joined) {
        assert.ok(networks.includes(network), `${name} joins network ${network}, not declared under top-level networks`)
      }
      for (const dep of dependsOn(s)) {
        assert.ok(serviceNames.includes(dep), `${name} depends on unknown service ${dep}`)
      }
      for (const v of (s.volumes || []).map(parseVolume)) {
        if (v.type === 'volume' && v.source) {
          assert.ok(namedVolumes.includes(v.source), `${name} uses volume ${v.source}, not declared under top-level volumes`)
        }
        if (v.type === 'bind') {
          const src = path.resolve(path.dirname(composePath), v.source)
          assert.ok(fs.existsSync(src), `${name} bind-mounts ${v.source}, which does not exist (${src})`)
        }
      }
    }
  })

  it('has one Redis 7 with append-only persistence on a volume', () => {
    assert.equal(redis.length, 1, `exactly one redis service (found: ${redis.map(([n]) => n).join(', ') || 'none'})`)
    const [name, s] = redis[0]
    assert.match(imageName(s), /redis:7(\.|-|$)/, `${name} runs a Redis 7 image`)
    const words = commandWords(s.command)
    let appendonly = null
    for (let i = 0; i < words.length; i++) {
      if (words[i] === '--appendonly') appendonly = words[i + 1]
    }
    if (appendonly === null) {
      // A config file given to redis-server: the first word after redis-server
      // that is not a flag, mounted into the container.
      const conf = words.find((w, i) => i > 0 && !w.startsWith('--') && w.endsWith('.conf'))
      assert.ok(conf, `${name}: no "--appendonly yes" in command and no config file passed (${JSON.stringify(s.command)})`)
      const mount = (s.volumes || []).map(parseVolume).find((v) => v.type === 'bind' && v.target === conf)
      assert.ok(mount, `${name}: config ${conf} is not bind-mounted`)
      const text = fs.readFileSync(path.resolve(path.dirname(composePath), mount.source), 'utf8')
      const m = /^\s*appendonly\s+(\S+)/m.exec(text)
      appendonly = m ? m[1] : null
    }
    assert.equal(appendonly, 'yes', `${name} enables appendonly`)
    const data = (s.volumes || []).map(parseVolume).find((v) => v.target === '/data')
    assert.ok(data && data.source, `${name} keeps /data on a volume`)
  })

  it(`runs ${GATEWAY_REPLICAS} gateways built from the repository's Dockerfile, wired to Redis`, () => {
    const count = gateways.reduce((n, [, s]) => n + instancesOf(s), 0)
    assert.equal(count, GATEWAY_REPLICAS,
      `gateway instances built from ${path.join(repoRoot, 'Dockerfile')}: ${gateways.map(([n, s]) => `${n}×${instancesOf(s)}`).join(', ') || 'none'}`)
    const [redisName] = redis[0] || []
    const listenPortsSeen = new Set()
    for (const [name, s] of gateways) {
      const env = envOf(s)
      assert.ok(env.COLLAB_REDIS_URL, `${name} sets COLLAB_REDIS_URL`)
      const url = new URL(env.COLLAB_REDIS_URL)
      assert.match(url.protocol, /^rediss?:$/, `${name}: COLLAB_REDIS_URL is a redis URL`)
      assert.equal(url.hostname, redisName, `${name}: COLLAB_REDIS_URL points at the redis service`)
      assert.equal(url.port || '6379', '6379', `${name}: COLLAB_REDIS_URL uses the redis port`)
      assert.match(env.COLLAB_LISTEN ?? '', /^0\.0\.0\.0:\d+$/, `${name}: COLLAB_LISTEN listens on 0.0.0.0`)
      listenPortsSeen.add(Number(env.COLLAB_LISTEN.split(':')[1]))
      assert.ok(dependsOn(s).includes(redisName), `${name} depends on ${redisName}`)
      if (env.COLLAB_GATEWAY_ID) {
        assert.match(env.COLLAB_GATEWAY_ID, /^[A-Za-z0-9_-]{1,64}$/, `${name}: COLLAB_GATEWAY_ID is a valid gateway id`)
      }
      if (env.COLLAB_AUTH !== undefined) {
        assert.match(String(env.COLLAB_AUTH), /^(redis|jwt|none)$/, `${name}: COLLAB_AUTH is redis, jwt or none`)
        if (env.COLLAB_AUTH === 'jwt') assert.ok(env.COLLAB_JWT_KEY, `${name}: COLLAB_AUTH jwt needs COLLAB_JWT_KEY`)
      }
    }
    assert.equal(listenPortsSeen.size, 1, 'all gateways listen on the same port')
    const ids = gateways.map(([, s]) => envOf(s).COLLAB_GATEWAY_ID).filter(Boolean)
    assert.equal(new Set(ids).size, ids.length, 'gateway ids are unique')
  })

  it('sets only environment variables the gateway reads (as `collab-gateway --help` lists them)', () => {
    // The flags' `[env: NAME=...]` and the names the help text names (COLLAB_LOG, the log
    // filter, has no flag). A variable the gateway ignores (RUST_LOG) is a setting that
    // silently does nothing.
    const help = execFileSync(gatewayBinary(), ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } })
    const known = new Set([...help.matchAll(/\b(COLLAB_[A-Z0-9_]+)\b/g)].map((m) => m[1]))
    assert.ok(known.has('COLLAB_REDIS_URL') && known.has('COLLAB_LOG'), `--help lists the env names:\n${help}`)
    const runtime = dockerInstructions(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'))
    const everyGateway = classify(Object.entries(compose.services)).gateways
    const sources = [
      ...everyGateway.map(([name, s]) => [`docker-compose.yml service ${name}`, envOf(s)]),
      ['Dockerfile ENV', dockerEnv(runtime)]
    ]
    for (const [where, env] of sources) {
      for (const key of Object.keys(env)) {
        assert.ok(known.has(key), `${where} sets ${key}, which collab-gateway does not read (see collab-gateway --help)`)
      }
    }
  })

  it('builds the gateway image with the Dockerfile at the repository root', () => {
    const dockerfile = path.join(repoRoot, 'Dockerfile')
    const ins = dockerInstructions(fs.readFileSync(dockerfile, 'utf8'))
    const froms = ins.filter((i) => i.op === 'FROM')
    assert.ok(froms.length >= 2, 'multi-stage build')
    assert.match(froms[0].rest, /^rust:1\.95-slim-bookworm\s+AS\s+(\S+)$/i, 'builder stage')
    const builderStage = /\s+AS\s+(\S+)$/i.exec(froms[0].rest)[1]
    assert.match(froms[froms.length - 1].rest, /^debian:bookworm-slim(\s+AS\s+\S+)?$/i, 'runtime stage')
    const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.rest)
    assert.ok(runs.some((r) => /cargo build\b.*--release/.test(r) && /(-p|--package)\s+collab-server\b/.test(r)),
      'builds collab-server in release mode')
    const lastFrom = ins.lastIndexOf(froms[froms.length - 1])
    const runtime = ins.slice(lastFrom)
    assert.ok(runtime.some((i) => i.op === 'COPY' && new RegExp(`--from=${builderStage}\\b`).test(i.rest) && /collab-gateway/.test(i.rest)),
      'runtime stage copies collab-gateway from the builder')
    const user = runtime.filter((i) => i.op === 'USER').pop()
    assert.ok(user, 'runtime stage sets USER')
    assert.doesNotMatch(user.rest, /^(root|0)(:|$)/, 'runs as a non-root user')
    const env = dockerEnv(runtime)
    assert.equal(env.COLLAB_LISTEN, '0.0.0.0:8080', 'ENV COLLAB_LISTEN=0.0.0.0:8080')
    assert.ok(runtime.some((i) => i.op === 'EXPOSE' && i.rest.split(/\s+/).includes('8080')), 'EXPOSE 8080')
    const entry = runtime.filter((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD')
    assert.ok(entry.some((i) => /collab-gateway/.test(i.rest)), 'starts collab-gateway')

    // The compose gateways listen where the image says.
    for (const [name, s] of gateways) {
      assert.equal(envOf(s).COLLAB_LISTEN ?? env.COLLAB_LISTEN, '0.0.0.0:8080', `${name} listens on the exposed port`)
    }

    const ignore = fs.readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    for (const needed of ['target', '.git']) {
      assert.ok(ignore.includes(needed) || ignore.includes(`/${needed}`), `.dockerignore leaves out ${needed}`)
    }
    assert.ok(ignore.includes('**/node_modules'), '.dockerignore leaves out node_modules at any depth (**/node_modules)')
  })

  it('publishes one port through a load balancer that spreads WebSockets over all gateways', () => {
    assert.equal(lbs.length, 1, `exactly one nginx or haproxy service (found: ${lbs.map(([n]) => n).join(', ') || 'none'})`)
    const [lbName, lb] = lbs[0]
    const ports = (lb.ports || []).map(parsePort)
    assert.equal(ports.length, 1, `${lbName} publishes exactly one port`)
    const [{ target }] = ports
    assert.ok(Number.isInteger(target) && target > 0, `${lbName}: container port of the published mapping`)
    for (const [name] of gateways) {
      assert.ok(dependsOn(lb).includes(name), `${lbName} depends on ${name}`)
    }

    const kind = /haproxy/.test(imageName(lb)) ? 'haproxy' : 'nginx'
    const conf = lbConfigFile(lb, kind)
    assert.ok(conf, `${lbName}: its ${kind} config is neither bind-mounted nor copied into its image`)
    assert.ok(fs.existsSync(conf.file), `${lbName}: config file ${conf.file} exists`)
    const text = fs.readFileSync(conf.file, 'utf8')

    const gatewayPort = Number((envOf(gateways[0][1]).COLLAB_LISTEN || '0.0.0.0:8080').split(':')[1])
    // With replicas, the one service name resolves to every replica.
    const expectedHosts = gateways.map(([n]) => n).sort()

    if (kind === 'nginx') {
      checkNginx({ text, lbImage: imageName(lb), listenPort: target, expectedHosts, gatewayPort })
    } else {
      checkHaproxy({ text, listenPort: target, expectedHosts, gatewayPort })
    }
  })
})

describe('docker-compose.yml profile cluster', () => {
  const compose = loadCompose()
  const stack = stackOf(compose, 'cluster')
  const { redis, lbs, gateways } = classify(stack)
  const clusterWords = (s) => commandWords(s.command).join(' ')
  const nodes = redis.filter(([, s]) => !/--cluster\s+create/.test(clusterWords(s)))
  const inits = redis.filter(([, s]) => /--cluster\s+create/.test(clusterWords(s)))
  const nodeNames = nodes.map(([n]) => n)

  it('runs 6 Redis 7 cluster nodes, each with its own volume, append-only', () => {
    assert.equal(nodes.length, 6, `six cluster nodes (found: ${nodeNames.join(', ') || 'none'})`)
    const volumes = new Set()
    for (const [name, s] of nodes) {
      assert.match(imageName(s), /redis:7(\.|-|$)/, `${name} runs a Redis 7 image (sharded pub/sub needs 7.0)`)
      const words = commandWords(s.command)
      const conf = words.find((w, i) => i > 0 && w.endsWith('.conf'))
      const mount = (s.volumes || []).map(parseVolume).find((v) => v.type === 'bind' && v.target === conf)
      assert.ok(mount, `${name}: its config file ${conf} is bind-mounted`)
      const text = fs.readFileSync(path.resolve(path.dirname(composePath), mount.source), 'utf8')
      const setting = (key) => new RegExp(`^\\s*${key}\\s+(\\S+)`, 'm').exec(text)?.[1]
      assert.equal(setting('cluster-enabled'), 'yes', `${name}: cluster-enabled yes`)
      assert.equal(setting('appendonly'), 'yes', `${name}: appendonly yes`)
      assert.equal(setting('port'), '6379', `${name}: port 6379`)
      assert.equal(setting('maxmemory-policy'), 'noeviction', `${name}: the logs are never evicted`)
      const announced = words[words.indexOf('--cluster-announce-hostname') + 1]
      if (setting('cluster-preferred-endpoint-type') === 'hostname') {
        assert.equal(announced, name, `${name} announces its own service name`)
      }
      const data = (s.volumes || []).map(parseVolume).find((v) => v.target === '/data')
      assert.ok(data && data.type === 'volume' && data.source, `${name} keeps /data on a named volume`)
      volumes.add(data.source)
    }
    assert.equal(volumes.size, nodes.length, 'each node has a volume of its own')
  })

  it('joins them once into 3 masters with a replica each', () => {
    assert.equal(inits.length, 1, 'one one-shot service runs redis-cli --cluster create')
    const [name, init] = inits[0]
    const text = clusterWords(init)
    assert.match(text, /--cluster-replicas\s+1\b/, `${name}: --cluster-replicas 1 (6 nodes: 3 masters, 3 replicas)`)
    assert.match(text, /--cluster-yes/, `${name}: does not wait for a typed "yes"`)
    assert.equal(String(init.restart), 'no', `${name} runs once (restart: "no")`)
    for (const node of nodeNames) {
      assert.equal(init.depends_on?.[node]?.condition, 'service_healthy', `${name} waits for ${node} to be healthy`)
    }
  })

  it(`runs ${GATEWAY_REPLICAS} gateways with --redis-cluster, seeded with every node`, () => {
    const count = gateways.reduce((n, [, s]) => n + instancesOf(s), 0)
    assert.equal(count, GATEWAY_REPLICAS, `cluster gateways: ${gateways.map(([n]) => n).join(', ') || 'none'}`)
    const [initName] = inits[0]
    for (const [name, s] of gateways) {
      const env = envOf(s)
      assert.equal(env.COLLAB_REDIS_CLUSTER, 'true', `${name}: COLLAB_REDIS_CLUSTER=true`)
      const seeds = (env.COLLAB_REDIS_URL || '').split(',').map((u) => new URL(u.trim()))
      assert.deepEqual(seeds.map((u) => u.hostname).sort(), [...nodeNames].sort(), `${name}: COLLAB_REDIS_URL seeds every node`)
      for (const u of seeds) {
        assert.match(u.protocol, /^rediss?:$/, `${name}: seeds are redis URLs`)
        assert.equal(u.port || '6379', '6379', `${name}: seeds use the nodes' port`)
      }
      assert.equal(s.depends_on?.[initName]?.condition, 'service_completed_successfully',
        `${name} starts once ${initName} has formed the cluster`)
      assert.deepEqual(s.profiles, ['cluster'], `${name} belongs to the cluster profile only`)
    }
    const ids = gateways.map(([, s]) => envOf(s).COLLAB_GATEWAY_ID).filter(Boolean)
    assert.equal(new Set(ids).size, ids.length, 'gateway ids are unique')
  })

  it('publishes its own port through nginx, to the cluster gateways only', () => {
    assert.equal(lbs.length, 1, 'one load balancer in the cluster profile')
    const [lbName, lb] = lbs[0]
    const ports = (lb.ports || []).map(parsePort)
    assert.equal(ports.length, 1, `${lbName} publishes exactly one port`)
    const defaultPorts = classify(stackOf(compose, null)).lbs.flatMap(([, s]) => (s.ports || []).map(parsePort))
    assert.ok(!defaultPorts.some((p) => p.published === ports[0].published),
      `${lbName} publishes a port the default stack does not (both may run at once)`)
    const lbNetworks = Array.isArray(lb.networks) ? lb.networks : Object.keys(lb.networks || {})
    assert.ok(lbNetworks.length && !lbNetworks.includes('default'), `${lbName} stays off the default stack's network`)
    // On that network the cluster gateways answer to their aliases (nginx.conf names them).
    const expectedHosts = gateways.flatMap(([name, s]) => {
      const aliases = lbNetworks.flatMap((n) => s.networks?.[n]?.aliases || [])
      assert.ok(aliases.length || lbNetworks.some((n) => (s.networks || {})[n] !== undefined), `${name} is on ${lbName}'s network`)
      return aliases.length ? aliases : [name]
    }).sort()
    for (const [name] of gateways) {
      assert.ok(dependsOn(lb).includes(name), `${lbName} depends on ${name}`)
    }
    const conf = lbConfigFile(lb, 'nginx')
    assert.ok(conf && fs.existsSync(conf.file), `${lbName}: its nginx config exists`)
    const gatewayPort = Number((envOf(gateways[0][1]).COLLAB_LISTEN || '0.0.0.0:8080').split(':')[1])
    checkNginx({ text: fs.readFileSync(conf.file, 'utf8'), lbImage: imageName(lb), listenPort: ports[0].target, expectedHosts, gatewayPort })
  })
})

function checkNginx ({ text, lbImage, listenPort, expectedHosts, gatewayPort }) {
  const conf = parseNginx(text)
  const http = httpContext(conf)
  const servers = all(http, 'server').map((s) => s.block)
  const server = servers.find((s) => listenPorts(s).includes(listenPort))
  assert.ok(server, `an nginx server block listens on the published container port ${listenPort}`)

  const upstreamOf = (location, what) => {
    assert.ok(location, `a location handles ${what}`)
    const pass = one(location.block, 'proxy_pass')
    assert.ok(pass, `location ${location.args.join(' ')} (line ${location.line}) has proxy_pass`)
    const m = /^http:\/\/([A-Za-z0-9_.-]+)$/.exec(pass.args[0])
    assert.ok(m, `proxy_pass ${pass.args[0]} (line ${pass.line}) names an upstream and has no URI part (the URI must pass unchanged)`)
    return m[1]
  }

  // WebSocket endpoint.
  const docLocation = matchLocation(server, '/doc/proj/file.ts')
  const upstreamName = upstreamOf(docLocation, '/doc/proj/file.ts')
  const levels = [docLocation.block, server, http]
  assert.equal(effective(levels, 'proxy_http_version')?.args[0], '1.1', '/doc/: proxy_http_version 1.1')
  const headers = effectiveHeaders(levels)
  assert.equal(headers.upgrade, '$http_upgrade', '/doc/: proxy_set_header Upgrade $http_upgrade')
  const connection = headers.connection
  assert.ok(connection, '/doc/: proxy_set_header Connection')
  if (connection.startsWith('$')) {
    const map = all(http, 'map').find((m) => m.args[0] === '$http_upgrade' && m.args[1] === connection)
    assert.ok(map, `Connection ${connection} comes from a "map $http_upgrade ${connection}"`)
    assert.equal(one(map.block, 'default')?.args[0]?.toLowerCase(), 'upgrade', `map ${connection}: default upgrade`)
  } else {
    assert.equal(connection.toLowerCase(), 'upgrade', '/doc/: Connection "upgrade"')
  }
  const readTimeout = effective(levels, 'proxy_read_timeout')
  assert.ok(readTimeout, '/doc/: proxy_read_timeout is set (the 60 s default drops idle editors)')
  assert.ok(nginxSeconds(readTimeout.args[0]) >= MIN_PROXY_READ_TIMEOUT_S,
    `/doc/: proxy_read_timeout ${readTimeout.args[0]} is at least ${MIN_PROXY_READ_TIMEOUT_S}s`)
  const sendTimeout = effective(levels, 'proxy_send_timeout')
  if (sendTimeout) {
    assert.ok(nginxSeconds(sendTimeout.args[0]) >= MIN_PROXY_READ_TIMEOUT_S, `/doc/: proxy_send_timeout ${sendTimeout.args[0]} is long too`)
  }
  assert.notEqual(effective(levels, 'proxy_buffering')?.args[0], 'on', '/doc/: proxy_buffering not forced on')

  // The upstream: every gateway, least connections.
  const upstream = all(http, 'upstream').find((u) => u.args[0] === upstreamName)
  assert.ok(upstream, `upstream ${upstreamName} is defined`)
  assert.ok(one(upstream.block, 'least_conn'), `upstream ${upstreamName}: least_conn`)
  const members = all(upstream.block, 'server').map((s) => {
    const [host, port] = s.args[0].split(':')
    return { host, port: Number(port || 80), params: s.args.slice(1), line: s.line }
  })
  assert.deepEqual(members.map((m) => m.host).sort(), expectedHosts, `upstream ${upstreamName} lists exactly the gateway services`)
  for (const m of members) {
    assert.equal(m.port, gatewayPort, `upstream server ${m.host} (line ${m.line}) uses the gateways' port ${gatewayPort}`)
    assert.ok(!m.params.includes('backup') && !m.params.includes('down'), `upstream server ${m.host} takes traffic`)
  }
  if (members.some((m) => m.params.includes('resolve'))) {
    assert.ok(one(upstream.block, 'zone'), `upstream ${upstreamName}: "resolve" needs a zone`)
    assert.ok(one(upstream.block, 'resolver') || one(http, 'resolver'), '"resolve" needs a resolver')
    assert.ok(versionAtLeast(lbImage, [1, 27, 3]), `"resolve" in an upstream needs nginx >= 1.27.3 (image ${lbImage})`)
  }

  // HTTP endpoints of the gateways.
  for (const p of ['/healthz', '/readyz', '/metrics']) {
    assert.equal(upstreamOf(matchLocation(server, p), p), upstreamName, `${p} is passed to the gateways`)
  }
}

function checkHaproxy ({ text, listenPort, expectedHosts, gatewayPort }) {
  const sections = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line) continue
    const words = line.split(/\s+/)
    if (['global', 'defaults', 'frontend', 'backend', 'listen'].includes(words[0])) {
      sections.push({ kind: words[0], name: words[1], lines: [] })
    } else if (sections.length) {
      sections[sections.length - 1].lines.push(words)
    }
  }
  const proxies = sections.filter((s) => s.kind === 'frontend' || s.kind === 'listen')
  const front = proxies.find((s) => s.lines.some((w) => w[0] === 'bind' && /:(\d+)$/.exec(w[1])?.[1] === String(listenPort)))
  assert.ok(front, `a haproxy frontend binds the published container port ${listenPort}`)
  const backendName = front.kind === 'listen' ? front.name : front.lines.find((w) => w[0] === 'default_backend')?.[1]
  const backend = front.kind === 'listen' ? front : sections.find((s) => s.kind === 'backend' && s.name === backendName)
  assert.ok(backend, `backend ${backendName} is defined`)
  const defaults = sections.filter((s) => s.kind === 'defaults')
  const setting = (key) => [backend, front, ...defaults].map((s) => s.lines.find((w) => w[0] === key[0] && w[1] === key[1])).find(Boolean)
  assert.equal(([backend, front, ...defaults].map((s) => s.lines.find((w) => w[0] === 'mode')).find(Boolean) || [])[1], 'http', 'mode http (WebSocket upgrades pass through)')
  assert.equal((backend.lines.find((w) => w[0] === 'balance') || [])[1], 'leastconn', 'balance leastconn')
  const tunnel = setting(['timeout', 'tunnel'])
  assert.ok(tunnel && nginxSeconds(tunnel[2]) >= MIN_PROXY_READ_TIMEOUT_S, `timeout tunnel at least ${MIN_PROXY_READ_TIMEOUT_S}s`)
  const members = backend.lines.filter((w) => w[0] === 'server').map((w) => {
    const [host, port] = w[2].split(':')
    return { host, port: Number(port) }
  })
  assert.deepEqual(members.map((m) => m.host).sort(), expectedHosts, 'backend lists exactly the gateway services')
  for (const m of members) assert.equal(m.port, gatewayPort, `backend server ${m.host} uses port ${gatewayPort}`)
}
