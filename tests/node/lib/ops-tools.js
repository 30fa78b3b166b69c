// The tools that check deploy/ without a cluster, found or installed by scripts/lib/ops-tools
// (the functions scripts/test runs first; run here again they answer at once): kubectl (for
// `kubectl kustomize`), kubernetes-validate and promtool. A tool that cannot be had fails the
// test that needs it, with the line saying what to install.

import { execFile, execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { repoRoot } from './harness.js'

const cache = new Map()

/** Runs the bash function `fn` of scripts/lib/install and returns the variables it exported. */
function ensure (fn, names) {
  if (cache.has(fn)) return cache.get(fn)
  const lib = path.join(repoRoot, 'scripts', 'lib', 'install')
  const script = `source '${lib}' && ${fn} ${fn} >&2 && printf '%s\\n' ${names.map((n) => `"$${n}"`).join(' ')}`
  const run = spawnSync('/bin/bash', ['-c', script], { encoding: 'utf8', env: process.env })
  if (run.status !== 0) {
    throw new Error(`${fn} (scripts/lib/ops-tools) failed: the deploy/ checks cannot run.\n${run.stderr}`)
  }
  const values = run.stdout.trim().split('\n')
  const out = Object.fromEntries(names.map((n, i) => [n, values[i]]))
  cache.set(fn, out)
  return out
}

/** {kubectl, validate}: paths of a kustomize-capable kubectl and kubernetes-validate. */
export function kubeTools () {
  const t = ensure('collab_ensure_kube_tools', ['COLLAB_KUBECTL', 'COLLAB_KUBERNETES_VALIDATE'])
  return { kubectl: t.COLLAB_KUBECTL, validate: t.COLLAB_KUBERNETES_VALIDATE }
}

/** The path of promtool. */
export function promtool () {
  return ensure('collab_ensure_promtool', ['PROMTOOL']).PROMTOOL
}

/** Parses a multi-document YAML text into its objects (empty documents dropped). */
export function parseDocuments (text, where) {
  const docs = YAML.parseAllDocuments(text)
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors.map(String).join('; ')}`)
  }
  return docs.map((d) => d.toJS()).filter((d) => d != null)
}

/**
 * Renders a kustomization directory with `kubectl kustomize` (no cluster involved) and
 * returns its objects. `components` adds kustomize components, through a kustomization
 * written to a temporary folder (kustomize wants relative paths).
 */
export function render (dir, components = []) {
  const key = JSON.stringify([dir, components])
  if (!renders.has(key)) renders.set(key, renderNow(dir, components))
  const { text } = renders.get(key)
  // A fresh copy each time: callers may change what they get.
  return { text, objects: parseDocuments(text, `kubectl kustomize ${dir}`) }
}

const renders = new Map()

function renderNow (dir, components) {
  const { kubectl } = kubeTools()
  let target = dir
  let tmp = null
  if (components.length) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-kustomize-'))
    const rel = (p) => path.relative(tmp, p)
    fs.writeFileSync(path.join(tmp, 'kustomization.yaml'), YAML.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [rel(dir)],
      components: components.map(rel)
    }))
    target = tmp
  }
  try {
    return { text: execFileSync(kubectl, ['kustomize', target], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * Validates YAML files against the Kubernetes schemas of `version` (strict: unknown fields
 * are errors). Resolves with {ok, output}.
 */
export function validate (files, version) {
  const { validate: bin } = kubeTools()
  return new Promise((resolve) => {
    execFile(bin, ['--strict', '--quiet', '-k', version, ...files], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: !err, output: `${stdout}${stderr}${err && !stdout && !stderr ? err.message : ''}`.trim() })
    })
  })
}
