/**
 * One link between an editor and a file: a Yjs doc, its awareness and its gateway connection,
 * plus, once attached to the editor, the binding, the cursors and (for writers) the undo manager.
 *
 * A session usually has one link for its whole life. It gets a second when the gateway says a
 * writable-looking connection is read-only: the edits made before that notice exist only in the
 * old doc (the gateway dropped them), and Yjs cannot take integrated changes back out of a doc.
 * So a fresh read-only link syncs a fresh doc from the gateway, and only then replaces the old
 * one in the editor ({@link CollabSession} in `index.ts` does the swap).
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type * as Monaco from 'monaco-editor';
import { MonacoBinding } from './binding.js';
import { RemoteCursors, publishLocalSelection, safeColor, displayName } from './cursors.js';
import { GatewayConnection } from './provider.js';

/** The parts of the monaco namespace used here (`monaco-editor` and `monaco-editor/editor` fit). */
export type MonacoApi = Pick<typeof Monaco, 'editor' | 'Range' | 'KeyMod' | 'KeyCode'>;

export interface LinkOptions {
  urls: string[];
  fileId: string;
  token?: string;
  name: string;
  color?: string;
  readOnly: boolean;
  textName?: string;
  WebSocketPolyfill?: typeof WebSocket;
  maxBackoffTime?: number;
}

/** The editor side a link attaches to. */
export interface LinkView {
  monaco: MonacoApi;
  editor: Monaco.editor.IStandaloneCodeEditor;
  model: Monaco.editor.ITextModel;
  /** Install the undo manager of own edits (writers only). */
  undo: boolean;
  /** Called when cursors or content change, to refresh the presence list. */
  onPresence: () => void;
}

export class Link {
  readonly doc: Y.Doc;
  readonly text: Y.Text;
  readonly awareness: Awareness;
  readonly connection: GatewayConnection;
  readonly readOnly: boolean;
  private attached: { binding: MonacoBinding; undoManager: Y.UndoManager | null; disposers: (() => void)[] } | null = null;
  private destroyed = false;

  /** Creates the doc and starts connecting (nothing touches the editor before `attach`). */
  constructor(options: LinkOptions) {
    this.readOnly = options.readOnly;
    this.doc = new Y.Doc();
    this.text = this.doc.getText(options.textName ?? 'monaco');
    this.awareness = new Awareness(this.doc);
    this.awareness.setLocalStateField('user', {
      name: displayName(options.name, this.doc.clientID),
      color: safeColor(options.color, this.doc.clientID),
    });
    this.connection = new GatewayConnection({
      urls: options.urls,
      fileId: options.fileId,
      token: options.token,
      doc: this.doc,
      awareness: this.awareness,
      readOnly: options.readOnly,
      WebSocketPolyfill: options.WebSocketPolyfill,
      maxBackoffTime: options.maxBackoffTime,
    });
  }

  /** The binding, once attached. */
  get binding(): MonacoBinding | null {
    return this.attached?.binding ?? null;
  }

  get undoManager(): Y.UndoManager | null {
    return this.attached?.undoManager ?? null;
  }

  /** Binds the editor's model to this doc (the model shows the doc's text from now on). */
  attach(view: LinkView): void {
    if (this.attached || this.destroyed) return;
    const { editor, model } = view;
    const disposers: (() => void)[] = [];
    const binding = new MonacoBinding(this.text, model, { editors: [editor], readOnly: this.readOnly });
    disposers.push(() => binding.destroy());
    disposers.push(publishLocalSelection(editor, model, this.text, this.awareness));
    const cursors = new RemoteCursors(view.monaco, editor, model, this.text, this.awareness);
    disposers.push(() => cursors.destroy());
    const undoManager = !this.readOnly && view.undo ? installUndo(view.monaco, editor, this.text, binding, disposers) : null;
    this.awareness.on('change', view.onPresence);
    disposers.push(() => this.awareness.off('change', view.onPresence));
    const onContent = model.onDidChangeContent(() => view.onPresence());
    disposers.push(() => onContent.dispose());
    this.attached = { binding, undoManager, disposers };
  }

  /**
   * Ends the link: our cursor disappears for the others (while the socket is still open), the
   * connection closes, and everything `attach` added to the editor goes. Idempotent.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const attached = this.attached;
    this.attached = null;
    if (attached) {
      for (const dispose of attached.disposers.splice(0).reverse()) dispose();
      attached.undoManager?.destroy();
    }
    this.awareness.setLocalState(null);
    this.connection.destroy();
    this.awareness.destroy();
    this.doc.destroy();
  }
}

function installUndo(
  monaco: MonacoApi,
  editor: Monaco.editor.IStandaloneCodeEditor,
  text: Y.Text,
  binding: MonacoBinding,
  disposers: (() => void)[],
): Y.UndoManager {
  const manager = new Y.UndoManager(text, { trackedOrigins: new Set([binding.origin]) });
  const { KeyMod, KeyCode } = monaco;
  const undo = editor.addAction({
    id: 'collab.undo',
    label: 'Undo (own edits)',
    keybindings: [KeyMod.CtrlCmd | KeyCode.KeyZ],
    run: () => void manager.undo(),
  });
  const redo = editor.addAction({
    id: 'collab.redo',
    label: 'Redo (own edits)',
    keybindings: [KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, KeyMod.CtrlCmd | KeyCode.KeyY],
    run: () => void manager.redo(),
  });
  // Like Monaco's own undo: moving the caret (click, arrows, API) ends the current undo step,
  // so separate edits are undone separately. Moves caused by remote edits do not.
  const { CursorChangeReason } = monaco.editor;
  const moves = editor.onDidChangeCursorPosition((event) => {
    if (binding.isApplyingRemote) return;
    if (event.reason === CursorChangeReason.Explicit || event.source === 'mouse' || event.source === 'api') {
      manager.stopCapturing();
    }
  });
  disposers.push(() => undo.dispose(), () => redo.dispose(), () => moves.dispose());
  return manager;
}
