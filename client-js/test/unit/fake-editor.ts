// Stand-ins for a Monaco editor and the monaco namespace, with just what `connect()` touches:
// options (read-only), selections, actions (with their keybindings, resolved like Monaco does:
// an action's keybinding first, else Monaco's own undo / redo bindings, which call the model),
// decorations and content widgets, each a no-op or a record the test can read. The model is a FakeModel; `document` gets a minimal stub for the
// cursors' style element (vitest runs in Node). Real Monaco runs in the browser tests.
import type * as Monaco from 'monaco-editor';
import type { MonacoApi } from '../../src/index.js';
import { FakeModel } from './fake-model.js';

const disposable = { dispose: () => {} };

export class FakeEditor {
  model: FakeModel;
  options: { readOnly?: boolean } = {};
  /** Every `updateOptions` call, in order. */
  updates: { readOnly?: boolean }[] = [];
  /** Actions added with `addAction`, by id, until disposed. */
  actions = new Map<string, Monaco.editor.IActionDescriptor>();
  private selections: Monaco.ISelection[] | null = null;

  constructor(model = new FakeModel()) {
    this.model = model;
  }

  getModel() {
    return this.model;
  }
  setModel(model: FakeModel) {
    this.model = model;
  }
  getRawOptions() {
    return this.options;
  }
  updateOptions(options: { readOnly?: boolean }) {
    this.updates.push(options);
    this.options = { ...this.options, ...options };
  }
  getSelection() {
    return this.selections?.[0] ?? null;
  }
  getSelections() {
    return this.selections;
  }
  setSelections(selections: Monaco.ISelection[]) {
    this.selections = selections;
  }
  onDidChangeCursorSelection() {
    return disposable;
  }
  private cursorListeners = new Set<(event: { reason: number; source: string }) => void>();
  onDidChangeCursorPosition(listener: (event: { reason: number; source: string }) => void) {
    this.cursorListeners.add(listener);
    return { dispose: () => this.cursorListeners.delete(listener) };
  }
  /** The caret moved, as Monaco reports it (`reason` 3 is `CursorChangeReason.Explicit`). */
  moveCaret(event: { reason: number; source: string } = { reason: 3, source: 'keyboard' }) {
    for (const listener of [...this.cursorListeners]) listener(event);
  }
  addAction(descriptor: Monaco.editor.IActionDescriptor) {
    this.actions.set(descriptor.id, descriptor);
    return { dispose: () => this.actions.delete(descriptor.id) };
  }
  getAction(id: string) {
    const action = this.actions.get(id);
    return action ? { id, run: () => Promise.resolve(action.run(this.asEditor)) } : null;
  }
  /** A key chord (`KeyMod | KeyCode`): an action bound to it runs, else Monaco's default binding. */
  press(chord: number) {
    for (const action of this.actions.values()) {
      if (action.keybindings?.includes(chord)) return void action.run(this.asEditor);
    }
    const { CtrlCmd, Shift } = fakeMonaco.KeyMod;
    const { KeyZ, KeyY } = fakeMonaco.KeyCode;
    // Monaco's `undo` / `redo` commands end in the focused editor's model (unless read-only).
    if (this.options.readOnly) return;
    if (chord === (CtrlCmd | KeyZ)) void this.model.undo();
    else if (chord === (CtrlCmd | KeyY) || chord === (CtrlCmd | Shift | KeyZ)) void this.model.redo();
  }
  /** `editor.trigger(source, id)`: an action of that id, else the global command (the model's). */
  trigger(_source: string, id: string) {
    const action = this.getAction(id);
    if (action) return void action.run();
    if (id === 'undo') void this.model.undo();
    if (id === 'redo') void this.model.redo();
  }
  createDecorationsCollection() {
    return { set: () => [], clear: () => {} };
  }
  addContentWidget() {}
  removeContentWidget() {}
  layoutContentWidget() {}

  /** This object where `connect()` wants a Monaco editor. */
  get asEditor(): Monaco.editor.IStandaloneCodeEditor {
    return this as unknown as Monaco.editor.IStandaloneCodeEditor;
  }
}

class FakeRange {
  constructor(
    readonly startLineNumber: number,
    readonly startColumn: number,
    readonly endLineNumber: number,
    readonly endColumn: number,
  ) {}
}

/** The monaco namespace as far as `connect()` uses it. */
export const fakeMonaco = {
  editor: {
    createModel: () => new FakeModel(),
    CursorChangeReason: { Explicit: 3 },
    TrackedRangeStickiness: { NeverGrowsWhenTypingAtEdges: 1 },
    ContentWidgetPositionPreference: { EXACT: 0, ABOVE: 1, BELOW: 2 },
  },
  Range: FakeRange,
  KeyMod: { CtrlCmd: 2048, Shift: 1024 },
  KeyCode: { KeyZ: 56, KeyY: 55 },
} as unknown as MonacoApi;

/** A `document` with just enough for the cursors' `<style>` element, unless one exists. */
export function stubDocument(): void {
  if (typeof (globalThis as { document?: unknown }).document !== 'undefined') return;
  const element = () => ({ dataset: {}, style: {}, textContent: '', remove() {} });
  (globalThis as { document?: unknown }).document = { createElement: element, head: { appendChild() {} } };
}
