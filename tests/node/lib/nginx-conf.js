// A small parser for nginx configuration files: enough to check which
// directives a file sets where. It knows nginx's lexical rules (directives end
// with ';', blocks are '{ ... }', '#' comments, single/double quotes with
// backslash escapes) but not the meaning of any directive.

/**
 * @typedef {{ name: string, args: string[], block: Directive[] | null, line: number }} Directive
 */

/** @returns {Directive[]} */
export function parseNginx (text) {
  const tokens = tokenize(text)
  let i = 0
  function parseBlock (depth) {
    /** @type {Directive[]} */
    const out = []
    for (;;) {
      if (i >= tokens.length) {
        if (depth > 0) throw new Error('nginx config: unexpected end of file, missing "}"')
        return out
      }
      const t = tokens[i]
      if (t.type === '}') {
        if (depth === 0) throw new Error(`nginx config line ${t.line}: unexpected "}"`)
        i++
        return out
      }
      if (t.type !== 'word') throw new Error(`nginx config line ${t.line}: unexpected "${t.type}"`)
      const name = t.value
      const line = t.line
      const args = []
      i++
      for (;;) {
        const a = tokens[i]
        if (!a) throw new Error(`nginx config line ${line}: directive "${name}" is not terminated`)
        if (a.type === 'word') { args.push(a.value); i++; continue }
        if (a.type === ';') { i++; out.push({ name, args, block: null, line }); break }
        if (a.type === '{') { i++; out.push({ name, args, block: parseBlock(depth + 1), line }); break }
        throw new Error(`nginx config line ${a.line}: unexpected "}" inside directive "${name}"`)
      }
    }
  }
  return parseBlock(0)
}

function tokenize (text) {
  const tokens = []
  let line = 1
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '\n') { line++; i++; continue }
    if (/\s/.test(c)) { i++; continue }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
      continue
    }
    if (c === ';' || c === '{' || c === '}') {
      tokens.push({ type: c, line })
      i++
      continue
    }
    if (c === '"' || c === "'") {
      const start = line
      let value = ''
      i++
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) {
          value += text[i + 1]
          i += 2
          continue
        }
        if (text[i] === '\n') line++
        value += text[i++]
      }
      if (i >= text.length) throw new Error(`nginx config line ${start}: unterminated string`)
      i++
      tokens.push({ type: 'word', value, line: start })
      continue
    }
    let value = ''
    while (i < text.length && !/[\s;{}]/.test(text[i])) {
      // "${var}" is one word; braces only end a word outside "${...}"
      if (text[i] === '$' && text[i + 1] === '{') {
        const close = text.indexOf('}', i)
        if (close < 0) throw new Error(`nginx config line ${line}: unterminated \${`)
        value += text.slice(i, close + 1)
        i = close + 1
        continue
      }
      if (text[i] === '\\' && i + 1 < text.length) {
        value += text[i + 1]
        i += 2
        continue
      }
      value += text[i++]
    }
    tokens.push({ type: 'word', value, line })
  }
  return tokens
}

/** Directives named `name` directly inside `block`. */
export function all (block, name) {
  return (block || []).filter((d) => d.name === name)
}

/** The one directive named `name` directly inside `block`, or undefined. */
export function one (block, name) {
  return all(block, name)[0]
}

/**
 * An nginx time ("90", "60s", "1h", "1m30s", "500ms") in seconds.
 * Returns NaN when it is not a valid nginx time.
 */
export function nginxSeconds (value) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000, y: 31536000 }
  if (/^\d+$/.test(value)) return Number(value)
  const re = /(\d+)(ms|s|m|h|d|w|M|y)/g
  let total = 0
  let consumed = 0
  let m
  while ((m = re.exec(value)) !== null) {
    if (m.index !== consumed) return NaN
    total += Number(m[1]) * units[m[2]]
    consumed = re.lastIndex
  }
  return consumed === value.length && consumed > 0 ? total : NaN
}
