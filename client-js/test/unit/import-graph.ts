/**
 * The import graph of client-js's sources and its circles, for `import-circles.test.ts`.
 *
 * Small on purpose: every relative import, re-export and dynamic import of a module is an edge
 * (type-only ones too: a circle of types is still two modules that cannot be read apart), and a
 * depth-first search reports each circle once, as the path of files that closes it.
 */

/** Module path (relative to the source root, `.ts`) -> its source text. */
export type Sources = Record<string, string>;

/** Relative specifiers a module imports: `from './x.js'`, `import './x.js'`, `import('./x.js')`. */
export function relativeImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const patterns = [
    /\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s+['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

/** `spec` imported from module `from`, as a module path of `sources` (`.js` names its `.ts`). */
export function resolve(from: string, spec: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const part of spec.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  return parts.join('/').replace(/\.(js|mjs|ts)$/, '') + '.ts';
}

/** Module -> the modules of `sources` it imports (imports of other files are left out). */
export function importGraph(sources: Sources): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [module, text] of Object.entries(sources)) {
    const targets = relativeImports(text).map((spec) => resolve(module, spec));
    graph.set(module, [...new Set(targets.filter((t) => t in sources))].sort());
  }
  return graph;
}

/** Every circle of the graph, each as `a.ts -> b.ts -> a.ts`, found once. */
export function circles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): void => {
    state.set(module, 'open');
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      if (state.get(next) === 'open') {
        found.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(module, 'done');
  };
  for (const module of [...graph.keys()].sort()) {
    if (!state.has(module)) visit(module);
  }
  return found;
}
