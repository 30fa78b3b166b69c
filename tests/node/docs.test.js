// The documents: README.md is a front page (under 200 lines) and every relative link in it
// and in docs/*.md points at a file that exists (and, with a #fragment into a Markdown file,
// at one of its headings); every docs/ page is listed in docs/README.md; and no committed
// Markdown file names a machine path such as /tmp/... (commands use $WORK_DIR and the like).

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from './lib/harness.js'

const docsDir = path.join(repoRoot, 'docs')

/** The Markdown text without fenced code blocks and inline code (links there are examples). */
function prose (text) {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** Link targets of `[text](target)` in a Markdown text, fenced and inline code left out. */
export function linkTargets (text) {
  const targets = []
  for (const match of prose(text).matchAll(/\]\(\s*(?:<([^<>\n]+)>|([^()\s]+))(?:\s+"[^"]*")?\s*\)/g)) {
    targets.push(match[1] ?? match[2])
  }
  return targets
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug (heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchors (file) {
  const text = fs.readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])))
}

/** Problems with the relative links of one Markdown file, as readable lines. */
function brokenLinks (file) {
  const problems = []
  const rel = path.relative(repoRoot, file)
  for (const target of linkTargets(fs.readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
    const [pathPart, fragment] = target.split('#')
    const resolved = pathPart === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(pathPart))
    if (!resolved.startsWith(repoRoot + path.sep) && resolved !== repoRoot) {
      problems.push(`${rel}: ${target} leaves the repository`)
      continue
    }
    if (!fs.existsSync(resolved)) {
      problems.push(`${rel}: ${target} names no file`)
      continue
    }
    if (fragment && resolved.endsWith('.md') && !anchors(resolved).has(fragment)) {
      problems.push(`${rel}: ${target}: no heading #${fragment} in ${path.relative(repoRoot, resolved)}`)
    }
  }
  return problems
}

const pages = () => fs.readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort()

describe('docs', () => {
  it('the link checker finds links, skips code and names headings as GitHub does', () => {
    const text = 'See [a](docs/a.md#the-platforms-keys), [b](<b c.md>) and [web](https://example.com).\n' +
      '`[not](code.md)`\n```sh\n[not](fenced.md)\n```\n'
    assert.deepEqual(linkTargets(text), ['docs/a.md#the-platforms-keys', 'b c.md', 'https://example.com'])
    assert.equal(slug("The platform's keys"), 'the-platforms-keys')
    assert.equal(slug('`/readyz`'), 'readyz')
    assert.equal(slug('Monaco client (`client-js/`)'), 'monaco-client-client-js')
    assert.equal(slug('On paper: 100 gateways and 1M connections'), 'on-paper-100-gateways-and-1m-connections')
  })

  it('README.md is a front page: under 200 lines, linking the docs', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
    const lines = readme.split('\n').length
    assert.ok(lines < 200, `README.md has ${lines} lines: move detail into docs/`)
    assert.ok(linkTargets(readme).some((t) => t.startsWith('docs/')), 'README.md links into docs/')
  })

  it('every relative link in README.md and docs/*.md resolves', () => {
    const files = [path.join(repoRoot, 'README.md'), ...pages().map((f) => path.join(docsDir, f))]
    const problems = files.flatMap(brokenLinks)
    assert.deepEqual(problems, [])
  })

  it('docs/README.md lists every page of docs/', () => {
    const listed = new Set(linkTargets(fs.readFileSync(path.join(docsDir, 'README.md'), 'utf8')))
    const missing = pages().filter((f) => f !== 'README.md' && !listed.has(f))
    assert.deepEqual(missing, [], 'pages not in docs/README.md')
  })

  it('no committed Markdown file names a machine path', () => {
    const git = spawnSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: repoRoot, encoding: 'utf8' })
    assert.equal(git.status, 0, git.stderr)
    const files = git.stdout.split('\0').filter(Boolean)
    assert.ok(files.includes('README.md') && files.includes('BENCHMARKS.md'), 'git lists the Markdown files')
    const machinePath = /(^|[\s`'"(=])\/(tmp|root|home|work|Users|var\/folders)\//
    const found = []
    for (const file of files) {
      const lines = fs.readFileSync(path.join(repoRoot, file), 'utf8').split('\n')
      lines.forEach((line, i) => { if (machinePath.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`) })
    }
    assert.deepEqual(found, [], 'use a placeholder such as $WORK_DIR instead')
  })
})
