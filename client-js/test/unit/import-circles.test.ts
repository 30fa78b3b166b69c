/**
 * No import circles in client-js/src: every module can be read, tested and moved without the
 * modules that import it. `link.ts` and `undo.ts` once imported each other (a type); the shared
 * type now lives in `monaco.ts`, and this test keeps any circle from coming back.
 */
import { describe, expect, it } from 'vitest';
import { circles, importGraph, relativeImports, type Sources } from './import-graph.js';

/** The sources as text, keyed by their path under src/ (Vite reads them at build time). */
function sources(): Sources {
  const raw = import.meta.glob('../../src/**/*.ts', { query: '?raw', import: 'default', eager: true });
  const out: Sources = {};
  for (const [file, text] of Object.entries(raw)) out[file.replace('../../src/', '')] = text as string;
  return out;
}

describe('import circles', () => {
  it('finds every kind of relative import, type-only and multi-line ones too', () => {
    const text = [
      "import * as Y from 'yjs';",
      "import type { A } from './a.js';",
      'import {',
      '  b,',
      "} from './b.js';",
      "export { c } from './c.js';",
      "import './d.js';",
      "const e = await import('./e.js');",
      "// import { f } from './f.js';",
      "/* import { g } from './g.js'; */",
    ].join('\n');
    expect(relativeImports(text)).toEqual(['./a.js', './b.js', './c.js', './d.js', './e.js']);
  });

  it('reports a circle, a type-only one included, as the path that closes it', () => {
    const graph = importGraph({
      'link.ts': "import { x } from './undo.js';",
      'undo.ts': "import type { MonacoApi } from './link.js';",
      'index.ts': "import { Link } from './link.js';",
      'sub/deep.ts': "import { y } from '../index.js';",
    });
    expect(circles(graph)).toEqual(['link.ts -> undo.ts -> link.ts']);
    expect(graph.get('sub/deep.ts')).toEqual(['index.ts']);
  });

  it('src has none', () => {
    const all = sources();
    expect(Object.keys(all)).toContain('link.ts');
    expect(Object.keys(all).length).toBeGreaterThan(5);
    expect(circles(importGraph(all))).toEqual([]);
  });
});
