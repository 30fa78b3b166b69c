/**
 * The parts of the `monaco` namespace this package uses, as one type that `link.ts`, `undo.ts`
 * and `index.ts` all name. It lives apart from them so that none of them imports another only
 * for this type (`link.ts` and `undo.ts` did once: an import circle).
 */
import type * as Monaco from 'monaco-editor';

/** The parts of the monaco namespace used here (`monaco-editor` and `monaco-editor/editor` fit). */
export type MonacoApi = Pick<typeof Monaco, 'editor' | 'Range' | 'KeyMod' | 'KeyCode'>;
