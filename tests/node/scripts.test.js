// The shell checks that scripts/test, scripts/demo, .ci/run and client-js/run-tests.sh run
// first (scripts/lib/check-versions, scripts/lib/find-chromium): the version comparison, and
// the one line each prints when something is missing. Real tools only: what is on this
// machine must pass, and an empty PATH must produce the line that says how to get them.

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
  const full = `source '${lib}/check-versions'; source '${lib}/find-chromium'; ${script}`
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
