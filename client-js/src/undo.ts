/**
 * Undo and redo in the editor, and where they go.
 *
 * - **Server**: once the gateway offers server-side undo (an `undo-state` arrived on the
 *   connection, which opted in with `?ext=undo`), undo and redo are requests to the gateway. It
 *   keeps each user's history of the file in Redis, so Ctrl+Z takes back this user's last change
 *   whichever tab, device or gateway made it, also after a reload, and never anyone else's. The
 *   result comes back as an ordinary update, like any remote edit.
 * - **Local** (the fallback, for gateways without it): a `Y.UndoManager` of this tab's own edits.
 *   When the gateway offers server undo, the local manager stops tracking and is emptied, so the
 *   two histories never both take the same edit back.
 * - **None**: read-only connections, and editors locked read-only (a refused session), undo
 *   nothing.
 *
 * Monaco's own undo stack is never used: it replays model edits at stale offsets once remote
 * edits interleave (y-monaco#9). Every way into Monaco's undo reaches the router instead:
 * Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z and Ctrl/Cmd+Y (keybindings of our actions), `editor.trigger(_,
 * 'undo' | 'redo')` and `editor.getAction('undo')` (our actions carry those ids), the context
 * menu (our entries), and Monaco's global `undo` / `redo` commands (its own keybindings, menus),
 * which end in `model.undo()` / `model.redo()`: patched on the model while attached.
 */
import * as Y from 'yjs';
import type * as Monaco from 'monaco-editor';
import type { MonacoBinding } from './binding.js';
import type { UndoOp } from './extension.js';
import type { MonacoApi } from './monaco.js';
import type { GatewayConnection, ServerUndo } from './provider.js';

/** Where undo goes: the gateway, this tab's undo manager, or nowhere (read-only). */
export type UndoMode = 'server' | 'local' | 'none';

/** What undo and redo can do now; a session emits it as `undo-state`. */
export interface UndoState {
  mode: UndoMode;
  /**
   * Items undo and redo can take. In `server` mode the gateway's counts: it sends them on join,
   * after each request and when a count moves between zero and non-zero, so a non-zero count may
   * be behind (zero and non-zero are always right). In `local` mode the undo manager's stacks.
   */
  undo: number;
  redo: number;
  /**
   * Whether a request can be made now: in `server` mode, after this socket's first `undo-state`
   * (false while reconnecting); always true in `local` mode, false in `none`.
   */
  ready: boolean;
  /** Only in the event of the gateway's reply to a request: which one, and whether it changed the file. */
  op?: UndoOp;
  applied?: boolean;
}

/** The state of a session that has no undo (read-only, `undo: false`, or disconnected). */
export const NO_UNDO: UndoState = Object.freeze({ mode: 'none', undo: 0, redo: 0, ready: false });

function sameState(a: UndoState, b: UndoState): boolean {
  return a.mode === b.mode && a.undo === b.undo && a.redo === b.redo && a.ready === b.ready;
}

/** The connection's part in undo (a {@link GatewayConnection} fits). */
export type UndoConnection = Pick<GatewayConnection, 'undoState' | 'requestUndo' | 'isReadOnly' | 'on'>;

/** Decides where undo and redo go, and says so whenever that or the counts change. */
export class UndoRouter {
  /** The fallback: this tab's own edits (tracks nothing once the gateway offers server undo). */
  readonly local: Y.UndoManager;
  private readonly connection: UndoConnection;
  private readonly binding: MonacoBinding;
  private readonly onChange: (state: UndoState) => void;
  private readonly disposers: (() => void)[] = [];
  private last: UndoState;
  private serverMode = false;
  private destroyed = false;

  constructor(connection: UndoConnection, text: Y.Text, binding: MonacoBinding, onChange: (state: UndoState) => void) {
    this.connection = connection;
    this.binding = binding;
    this.onChange = onChange;
    this.local = new Y.UndoManager(text, { trackedOrigins: new Set([binding.origin]) });
    const onLocal = () => this.changed();
    for (const name of ['stack-item-added', 'stack-item-popped', 'stack-cleared'] as const) {
      this.local.on(name, onLocal);
      this.disposers.push(() => this.local.off(name, onLocal));
    }
    this.disposers.push(connection.on('server-undo', (server) => this.changed(server)));
    this.disposers.push(connection.on('status', () => this.changed()));
    if (connection.undoState) this.enterServerMode();
    this.last = this.state;
  }

  get state(): UndoState {
    if (this.destroyed || this.connection.isReadOnly) return NO_UNDO;
    const server = this.connection.undoState;
    if (server) {
      return { mode: 'server', undo: server.undo, redo: server.redo, ready: server.ready };
    }
    return { mode: 'local', undo: this.local.undoStack.length, redo: this.local.redoStack.length, ready: true };
  }

  /** Undoes this user's last change; false when nothing was sent or undone. */
  undo(): boolean {
    return this.run('undo');
  }

  redo(): boolean {
    return this.run('redo');
  }

  /** Ends the current local undo step (the caret moved), as Monaco's own undo does. */
  stopCapturing(): void {
    this.local.stopCapturing();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.local.destroy();
  }

  private run(op: UndoOp): boolean {
    if (this.destroyed || this.connection.isReadOnly) return false;
    if (this.connection.undoState) return this.connection.requestUndo(op);
    return (op === 'undo' ? this.local.undo() : this.local.redo()) !== null;
  }

  private enterServerMode(): void {
    if (this.serverMode) return;
    this.serverMode = true;
    this.local.trackedOrigins.delete(this.binding.origin);
    this.local.clear();
  }

  /**
   * Emits the state if it changed. What the gateway says always is (a reply, with its `op` and
   * whether it `applied`, even when the counts stay).
   */
  private changed(server?: ServerUndo): void {
    if (this.destroyed) return;
    if (this.connection.undoState) this.enterServerMode();
    const next = this.state;
    if (!server && sameState(next, this.last)) return;
    this.last = next;
    const reply = server?.op !== undefined && next.mode === 'server' ? { op: server.op, applied: server.applied ?? false } : {};
    this.onChange({ ...next, ...reply });
  }
}

/** What the undo commands call (a {@link UndoRouter}, seen from the editor). */
export interface UndoTarget {
  undo(): boolean;
  redo(): boolean;
  stopCapturing(): void;
}

/** The model methods Monaco's global `undo` / `redo` commands end in. */
type UndoableModel = Pick<Monaco.editor.ITextModel, 'undo' | 'redo'>;

/**
 * Routes every way into the editor's undo and redo to `target` (see the module comment).
 * Returns the function that removes all of it and gives the model its own methods back.
 */
export function installUndoCommands(
  monaco: MonacoApi,
  editor: Monaco.editor.IStandaloneCodeEditor,
  model: UndoableModel,
  target: UndoTarget,
  isApplyingRemote: () => boolean,
): () => void {
  const { KeyMod, KeyCode } = monaco;
  // A locked editor (read-only, or a refused session) takes nothing back, like Monaco's own undo.
  const editable = () => editor.getRawOptions().readOnly !== true;
  const undo = () => void (editable() && target.undo());
  const redo = () => void (editable() && target.redo());
  const actions = [
    editor.addAction({
      id: 'undo',
      label: 'Undo',
      keybindings: [KeyMod.CtrlCmd | KeyCode.KeyZ],
      contextMenuGroupId: '8_undo',
      contextMenuOrder: 1,
      run: undo,
    }),
    editor.addAction({
      id: 'redo',
      label: 'Redo',
      keybindings: [KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, KeyMod.CtrlCmd | KeyCode.KeyY],
      contextMenuGroupId: '8_undo',
      contextMenuOrder: 2,
      run: redo,
    }),
  ];
  // Monaco's global commands (its keybindings, menus) call the model: an own property shadows
  // the prototype's method until removed.
  const patched = model as UndoableModel & Record<'undo' | 'redo', unknown>;
  const had = { undo: Object.prototype.hasOwnProperty.call(model, 'undo'), redo: Object.prototype.hasOwnProperty.call(model, 'redo') };
  const own = { undo: patched.undo, redo: patched.redo };
  patched.undo = () => undo();
  patched.redo = () => redo();
  // Like Monaco's own undo: moving the caret (click, arrows, API) ends the current undo step of
  // the local fallback, so separate edits are undone separately. Moves by remote edits do not.
  const { CursorChangeReason } = monaco.editor;
  const moves = editor.onDidChangeCursorPosition((event) => {
    if (isApplyingRemote()) return;
    if (event.reason === CursorChangeReason.Explicit || event.source === 'mouse' || event.source === 'api') {
      target.stopCapturing();
    }
  });
  return () => {
    for (const action of actions) action.dispose();
    moves.dispose();
    for (const name of ['undo', 'redo'] as const) {
      if (had[name]) patched[name] = own[name];
      else delete (patched as Partial<Record<'undo' | 'redo', unknown>>)[name];
    }
  };
}
