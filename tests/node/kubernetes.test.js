// Checks of deploy/kubernetes without a cluster: every manifest and every rendered overlay
// validates against the Kubernetes schemas (kubernetes-validate, strict), the overlays render
// with kustomize (kubectl kustomize), and what they set means what it should: only settings
// `collab-gateway --help` knows, probes on /readyz and /healthz, a grace period that covers the
// drain, locked-down pods, Secrets that exist, Redis addresses that name rendered Services, a
// NetworkPolicy that lets sandboxes be reached on the agent port only. Last, a real gateway
// started with exactly a rendered Deployment's environment serves and stops in time.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { gatewayBinary, repoRoot, startGateway, startRedis, waitForAsync } from './lib/harness.js'
import { parseDocuments, render, validate } from './lib/ops-tools.js'

const kube = path.join(repoRoot, 'deploy', 'kubernetes')
const OVERLAYS = ['single-redis', 'redis-cluster']
const COMPONENTS = { 'jwt-auth': path.join(kube, 'components', 'jwt-auth') }
// The oldest Kubernetes the manifests are meant for, and the newest schemas the validator has.
const VERSIONS = ['1.29.0', '1.37.0']
const MIN_PROXY_TIMEOUT_S = 600
const GRACE_MARGIN_S = 5
const WAIT_MS = Number(process.env.COLLAB_NODE_WAIT_MS || 30000)

/** Every render the checks below look at: the two overlays, and one with the JWT component. */
const variants = [
  ...OVERLAYS.map((o) => ({ name: o, dir: path.join(kube, 'overlays', o), components: [] })),
  { name: 'single-redis + jwt-auth', dir: path.join(kube, 'overlays', 'single-redis'), components: [COMPONENTS['jwt-auth']] }
]

/** Resource files of a kustomization (recursively through local bases), not its patches. */
function resourceFiles (dir, seen = new Set()) {
  const k = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))
  const out = []
  for (const r of [...(k.resources || []), ...(k.components || [])]) {
    const p = path.resolve(dir, r)
    if (seen.has(p)) continue
    seen.add(p)
    if (fs.statSync(p).isDirectory()) out.push(...resourceFiles(p, seen))
    else out.push(p)
  }
  return out
}

const byKind = (objects, kind) => objects.filter((o) => o.kind === kind)
const named = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata?.name === name)
const gatewayOf = (objects) => named(objects, 'Deployment', 'collab-gateway')
const gatewayContainer = (objects) => gatewayOf(objects).spec.template.spec.containers.find((c) => c.name === 'gateway')
const envValue = (container, name) => container.env?.find((e) => e.name === name)?.value
const podTemplates = (objects) => objects
  .filter((o) => ['Deployment', 'StatefulSet', 'Job', 'DaemonSet'].includes(o.kind))
  .map((o) => [`${o.kind}/${o.metadata.name}`, o.spec.template])
/** True when `labels` satisfy a matchLabels selector. */
const selects = (selector, labels) => Object.entries(selector?.matchLabels || {}).every(([k, v]) => labels?.[k] === v)

/** The environment variable and flag names `collab-gateway --help` lists. */
function knownSettings () {
  const help = execFileSync(gatewayBinary(), ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } })
  const env = new Set([...help.matchAll(/\b(COLLAB_[A-Z0-9_]+)\b/g)].map((m) => m[1]))
  const flags = new Set([...help.matchAll(/(?:^|\s)(--[a-z0-9-]+)/g)].map((m) => m[1]))
  assert.ok(env.has('COLLAB_REDIS_URL') && flags.has('--redis-url'), `--help lists the settings:\n${help}`)
  return { env, flags }
}

describe('deploy/kubernetes manifests', () => {
  it('every manifest file validates against the Kubernetes schemas (strict)', async () => {
    const files = [...new Set(OVERLAYS.flatMap((o) => resourceFiles(path.join(kube, 'overlays', o))))]
      .filter((f) => /\.ya?ml$/.test(f))
    assert.ok(files.length >= 10, `resource files found: ${files.join(', ')}`)
    for (const f of files) parseDocuments(fs.readFileSync(f, 'utf8'), f)
    const results = await Promise.all(VERSIONS.map((version) => validate(files, version)))
    VERSIONS.forEach((version, i) => assert.ok(results[i].ok, `kubernetes-validate -k ${version}:\n${results[i].output}`))
  })

  it('the validator refuses what the API server would (so the check above can fail)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-kube-bad-'))
    try {
      const bad = path.join(dir, 'bad.yaml')
      const deployment = structuredClone(gatewayOf(render(path.join(kube, 'overlays', 'single-redis')).objects))
      deployment.spec.template.spec.containers[0].readinesProbe = { httpGet: { path: '/readyz' } }
      fs.writeFileSync(bad, YAML.stringify(deployment))
      const { ok, output } = await validate([bad], VERSIONS[0])
      assert.ok(!ok, 'a misspelt field is an error')
      assert.match(output, /readinesProbe/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('every rendered overlay validates against the Kubernetes schemas (strict)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-kube-render-'))
    try {
      const files = variants.map((v, i) => {
        const file = path.join(dir, `${i}-${v.name.replace(/[^a-z0-9-]+/g, '-')}.yaml`)
        fs.writeFileSync(file, render(v.dir, v.components).text)
        return file
      })
      const results = await Promise.all(VERSIONS.map((version) => validate(files, version)))
      VERSIONS.forEach((version, i) => assert.ok(results[i].ok, `rendered ${variants.map((v) => v.name).join(', ')}, kubernetes-validate -k ${version}:\n${results[i].output}`))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const variant of variants) {
    describe(`rendered: ${variant.name}`, () => {
      let objects
      before(() => { objects = render(variant.dir, variant.components).objects })

      it('has the gateway and puts everything in one namespace', () => {
        assert.ok(gatewayOf(objects), 'a Deployment collab-gateway')
        const namespaced = objects.filter((o) => o.kind !== 'Namespace')
        assert.deepEqual([...new Set(namespaced.map((o) => o.metadata.namespace))], ['collab'])
      })

      it('sets only settings collab-gateway --help knows', () => {
        const { env, flags } = knownSettings()
        const c = gatewayContainer(objects)
        for (const e of c.env || []) assert.ok(env.has(e.name), `${variant.name}: env ${e.name} is not a collab-gateway setting`)
        assert.equal(c.envFrom, undefined, 'no envFrom: every setting is named where it can be checked')
        for (const a of [...(c.args || []), ...(c.command || []).slice(1)]) {
          if (a.startsWith('--')) assert.ok(flags.has(a.split('=')[0]), `${variant.name}: flag ${a} is not a collab-gateway flag`)
        }
      })

      it('probes /readyz and /healthz, pauses before SIGTERM, and waits out the drain', () => {
        const pod = gatewayOf(objects).spec.template.spec
        const c = gatewayContainer(objects)
        const port = c.ports.find((p) => p.name === 'http')
        assert.equal(port.containerPort, Number(envValue(c, 'COLLAB_LISTEN').split(':')[1]), 'the named port is where COLLAB_LISTEN listens')
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz')
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz')
        assert.equal(c.startupProbe?.httpGet?.path, '/healthz')
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          assert.ok([port.name, port.containerPort].includes(c[probe].httpGet.port), `${probe} asks the gateway's port`)
        }
        const pause = c.lifecycle?.preStop?.exec?.command
        assert.ok(pause?.[0] === 'sleep' && Number(pause[1]) > 0, `preStop pauses (${JSON.stringify(pause)})`)
        const drainS = Number(envValue(c, 'COLLAB_DRAIN_TIMEOUT_MS')) / 1000
        assert.ok(drainS > 0, 'COLLAB_DRAIN_TIMEOUT_MS is set, so the grace period can be checked against it')
        const need = Number(pause[1]) + drainS + GRACE_MARGIN_S
        assert.ok(pod.terminationGracePeriodSeconds >= need,
          `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} covers preStop ${pause[1]} s + drain ${drainS} s + ${GRACE_MARGIN_S} s`)
        const strategy = gatewayOf(objects).spec.strategy.rollingUpdate
        assert.equal(strategy.maxUnavailable, 0, 'a rollout starts a new pod before it stops an old one')
      })

      it('runs every pod non-root, read-only, unprivileged, with seccomp and resources', () => {
        for (const [name, template] of podTemplates(objects)) {
          const pod = template.spec
          assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: runAsNonRoot`)
          assert.ok(pod.securityContext?.runAsUser > 0, `${name}: a numeric non-root uid`)
          assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${name}: seccomp RuntimeDefault`)
          assert.equal(pod.automountServiceAccountToken, false, `${name}: no API token mounted`)
          for (const c of [...pod.containers, ...(pod.initContainers || [])]) {
            const sc = c.securityContext || {}
            assert.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}: allowPrivilegeEscalation false`)
            assert.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}: read-only root filesystem`)
            assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${name}/${c.name}: drops all capabilities`)
            assert.ok(!sc.privileged, `${name}/${c.name}: not privileged`)
            assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${name}/${c.name}: requests cpu and memory`)
            assert.ok(c.resources?.limits?.memory, `${name}/${c.name}: a memory limit`)
          }
        }
        const gateway = gatewayOf(objects).spec.template.spec
        // The image's user (the Dockerfile's last USER) is the uid the pod runs as.
        const user = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').match(/^USER\s+(\d+)(?::(\d+))?\s*$/gm)?.pop()
        const [, uid, gid] = /^USER\s+(\d+)(?::(\d+))?/.exec(user || '') || []
        assert.equal(gateway.securityContext.runAsUser, Number(uid), `gateway runs as the image's uid (Dockerfile ${user})`)
        if (gid) assert.equal(gateway.securityContext.runAsGroup, Number(gid), 'and its gid')
        const tmp = gatewayContainer(objects).volumeMounts?.find((m) => m.mountPath === '/tmp')
        assert.ok(tmp && gateway.volumes.find((v) => v.name === tmp.name)?.emptyDir, 'gateway: /tmp is a writable emptyDir')
      })

      it('takes its tokens from Secrets that exist, holding marked placeholders', () => {
        const secrets = byKind(objects, 'Secret')
        const c = gatewayContainer(objects)
        const pod = gatewayOf(objects).spec.template.spec
        const refs = (c.env || []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom.secretKeyRef])
        for (const [name, ref] of refs) {
          const secret = secrets.find((s) => s.metadata.name === ref.name)
          assert.ok(secret, `${name}: Secret ${ref.name} is rendered`)
          assert.ok(ref.key in (secret.stringData || {}), `${name}: Secret ${ref.name} has ${ref.key}`)
          assert.match(secret.stringData[ref.key], /^CHANGE-ME/, `${ref.name}.${ref.key} is a clearly marked placeholder`)
        }
        assert.ok(refs.some(([n]) => n === 'COLLAB_ADMIN_TOKEN'), 'the admin token comes from a Secret')
        for (const e of c.env || []) {
          if (/TOKEN|KEY$/.test(e.name) && e.name !== 'COLLAB_JWT_KEY') assert.equal(e.value, undefined, `${e.name} is not written in the manifest`)
        }
        const auth = envValue(c, 'COLLAB_AUTH')
        const files = envValue(c, 'COLLAB_FILES')
        if (files === 'sandbox') {
          assert.equal(auth, 'redis', '--files sandbox needs --auth redis')
          assert.ok(refs.some(([n]) => n === 'COLLAB_SANDBOX_AGENT_TOKEN'), 'the sandbox agent token comes from a Secret')
        }
        if (auth === 'jwt') {
          const keyPath = envValue(c, 'COLLAB_JWT_KEY')
          const mount = c.volumeMounts.find((m) => keyPath.startsWith(`${m.mountPath}/`))
          assert.ok(mount, `COLLAB_JWT_KEY ${keyPath} lies in a mounted volume`)
          const volume = pod.volumes.find((v) => v.name === mount.name)
          const item = volume.secret?.items?.find((i) => i.path === path.relative(mount.mountPath, keyPath))
          assert.ok(item, `COLLAB_JWT_KEY ${keyPath} is an item of a Secret volume`)
          assert.ok(item.key in secrets.find((s) => s.metadata.name === volume.secret.secretName).stringData, `the Secret has ${item.key}`)
        } else {
          assert.equal(envValue(c, 'COLLAB_JWT_KEY'), undefined, '--jwt-key applies to --auth jwt only')
        }
      })

      it('points the gateways at the Redis it renders', () => {
        const c = gatewayContainer(objects)
        const seeds = envValue(c, 'COLLAB_REDIS_URL').split(',').map((u) => new URL(u))
        const cluster = envValue(c, 'COLLAB_REDIS_CLUSTER') === 'true'
        assert.equal(cluster, variant.name.startsWith('redis-cluster'), 'COLLAB_REDIS_CLUSTER matches the overlay')
        const services = byKind(objects, 'Service')
        const sets = byKind(objects, 'StatefulSet')
        const hosts = new Set()
        for (const u of seeds) {
          assert.match(u.protocol, /^rediss?:$/)
          const port = Number(u.port || 6379)
          const [first, second] = u.hostname.split('.')
          let service = services.find((s) => s.metadata.name === first)
          if (!service) {
            // A pod of a StatefulSet by its stable name: <set>-<n>.<headless service>.
            const set = sets.find((s) => first.startsWith(`${s.metadata.name}-`))
            assert.ok(set && set.spec.serviceName === second, `${u.hostname} names a rendered Service or StatefulSet pod`)
            assert.ok(Number(first.slice(set.metadata.name.length + 1)) < set.spec.replicas, `${u.hostname} is one of ${set.spec.replicas} pods`)
            service = services.find((s) => s.metadata.name === second)
          }
          assert.ok(service?.spec.ports.some((p) => p.port === port), `${u.hostname}:${port} is a port of Service ${service?.metadata.name}`)
          hosts.add(u.hostname)
        }
        if (cluster) {
          const set = sets.find((s) => s.spec.serviceName === [...hosts][0].split('.')[1])
          assert.equal(hosts.size, set.spec.replicas, 'the seeds name every cluster node')
          assert.ok(byKind(objects, 'Job').some((j) => /--cluster create/.test(JSON.stringify(j.spec.template))), 'a Job joins the cluster')
        }
      })

      it('reaches the gateways through a WebSocket-safe ingress, a PDB and an HPA', () => {
        const labels = gatewayOf(objects).spec.template.metadata.labels
        const service = named(objects, 'Service', 'collab-gateway')
        assert.ok(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v), 'the Service selects the gateway pods')
        const ingress = byKind(objects, 'Ingress')[0]
        const a = ingress.metadata.annotations
        for (const key of ['proxy-read-timeout', 'proxy-send-timeout']) {
          assert.ok(Number(a[`nginx.ingress.kubernetes.io/${key}`]) >= MIN_PROXY_TIMEOUT_S, `ingress ${key} at least ${MIN_PROXY_TIMEOUT_S} s`)
        }
        const paths = ingress.spec.rules.flatMap((r) => r.http.paths)
        assert.deepEqual(paths.map((p) => p.path), ['/doc/'], 'only /doc/ is public (not /admin, not /metrics)')
        assert.equal(paths[0].backend.service.name, 'collab-gateway')
        const pdb = byKind(objects, 'PodDisruptionBudget')[0]
        assert.ok(selects(pdb.spec.selector, labels) && pdb.spec.maxUnavailable === 1, 'the PDB lets one gateway go at a time')
        const hpa = byKind(objects, 'HorizontalPodAutoscaler')[0]
        assert.equal(hpa.spec.scaleTargetRef.name, 'collab-gateway')
        assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas, 'the HPA keeps at least two gateways')
      })

      it('lets gateways reach Redis, sandboxes only on the agent port, and nothing else in', () => {
        const policies = byKind(objects, 'NetworkPolicy')
        assert.ok(policies.some((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes('Ingress') &&
          p.spec.policyTypes.includes('Egress') && !p.spec.ingress && !p.spec.egress), 'a default-deny policy')
        const labels = gatewayOf(objects).spec.template.metadata.labels
        const gw = policies.find((p) => selects(p.spec.podSelector, labels))
        const c = gatewayContainer(objects)
        const redisPods = podTemplates(objects).filter(([n]) => /redis/.test(n) && !/init/.test(n)).map(([, t]) => t.metadata.labels)
        assert.ok(redisPods.length, 'a Redis pod template is rendered')
        for (const redisLabels of redisPods) {
          assert.ok(gw.spec.egress.some((r) => r.to.some((t) => t.podSelector && !t.namespaceSelector && selects(t.podSelector, redisLabels)) &&
            r.ports.some((p) => p.port === 6379)), 'gateway egress reaches Redis on 6379')
          const redisIn = policies.filter((p) => selects(p.spec.podSelector, redisLabels)).flatMap((p) => p.spec.ingress || [])
          assert.ok(redisIn.some((r) => r.from.some((f) => selects(f.podSelector, labels))), 'Redis admits the gateways')
          for (const r of redisIn) {
            for (const f of r.from) {
              assert.ok(!f.namespaceSelector && !f.ipBlock, `Redis admits pods of this namespace only (${JSON.stringify(f)})`)
            }
          }
        }
        const agentPort = Number(envValue(c, 'COLLAB_SANDBOX_AGENT_PORT') ?? 7447)
        const sandboxRules = gw.spec.egress.filter((r) => r.to.some((t) => t.namespaceSelector?.matchLabels?.['collab.example.com/sandboxes']))
        assert.equal(sandboxRules.length, 1, 'one egress rule for the sandboxes')
        assert.deepEqual(sandboxRules[0].ports.map((p) => p.port), [agentPort], 'sandboxes only on the agent port')
        for (const r of gw.spec.egress) assert.ok(r.ports?.length && r.to?.length, 'every gateway egress rule names its peers and ports')
        assert.ok(gw.spec.ingress.every((r) => r.ports.every((p) => p.port === 'http' || p.port === 8080)), 'gateway ingress on its HTTP port only')
      })
    })
  }
})

describe('a gateway started with a rendered Deployment\'s environment', () => {
  let redis
  let dir
  before(async () => { redis = await startRedis(); dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-kube-env-')) })
  after(async () => { await redis?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }) })

  for (const variant of variants.filter((v) => !v.name.startsWith('redis-cluster'))) {
    it(`${variant.name}: serves, takes the Secrets, and stops well within the grace period`, async () => {
      const { objects } = render(variant.dir, variant.components)
      const pod = gatewayOf(objects).spec.template.spec
      const c = gatewayContainer(objects)
      const secrets = byKind(objects, 'Secret')
      const env = {}
      for (const e of c.env) {
        if (e.value !== undefined) env[e.name] = e.value
        else if (e.valueFrom?.secretKeyRef) {
          env[e.name] = secrets.find((s) => s.metadata.name === e.valueFrom.secretKeyRef.name).stringData[e.valueFrom.secretKeyRef.key]
        } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = 'collab-gateway-5d8f7c9b6-x2x7k'
        else assert.fail(`${e.name}: a source this test does not know (${JSON.stringify(e.valueFrom)})`)
      }
      if (env.COLLAB_JWT_KEY) {
        // The Secret volume's file, where this machine can read it.
        const mount = c.volumeMounts.find((m) => env.COLLAB_JWT_KEY.startsWith(`${m.mountPath}/`))
        const volume = pod.volumes.find((v) => v.name === mount.name)
        const item = volume.secret.items.find((i) => i.path === path.relative(mount.mountPath, env.COLLAB_JWT_KEY))
        env.COLLAB_JWT_KEY = path.join(dir, 'jwt-key')
        fs.writeFileSync(env.COLLAB_JWT_KEY, secrets.find((s) => s.metadata.name === volume.secret.secretName).stringData[item.key])
      }
      // --listen and --redis-url (loopback, this test's Redis) win over the manifest's values.
      const gw = await startGateway({ name: `gateway (${variant.name})`, redisUrl: redis.url, env })
      try {
        await waitForAsync({
          what: '/readyz answers 200',
          probe: async () => ({ ok: (await fetch(`${gw.httpUrl}/readyz`)).status === 200 }),
          timeoutMs: WAIT_MS
        })
        // The admin API takes the Secret's token, and only it.
        const adminCall = (token) => fetch(`${gw.httpUrl}/admin/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user: 'u1', ttl_secs: 60 })
        })
        assert.equal((await adminCall(`${env.COLLAB_ADMIN_TOKEN}-not`)).status, 401, 'a wrong admin token is refused')
        const admin = await adminCall(env.COLLAB_ADMIN_TOKEN)
        assert.ok(admin.status !== 401 && admin.status !== 404 && admin.status < 500, `the admin API accepts the Secret's token (${admin.status})`)
        // SIGTERM, as the kubelet sends it after the preStop pause: the drain ends well
        // within what is left of the grace period.
        const started = Date.now()
        const { code, signal } = await gw.proc.stop((pod.terminationGracePeriodSeconds + 5) * 1000)
        const tookS = (Date.now() - started) / 1000
        const pause = Number(c.lifecycle.preStop.exec.command[1])
        assert.equal(signal, null, 'exits by itself on SIGTERM')
        assert.equal(code, 0)
        assert.ok(tookS + pause < pod.terminationGracePeriodSeconds, `stopped in ${tookS.toFixed(1)} s + ${pause} s pause, within ${pod.terminationGracePeriodSeconds} s`)
      } finally {
        await gw.stop()
      }
    })
  }
})
