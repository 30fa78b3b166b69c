/**
 * One link between an editor and a file: a Yjs doc, its awareness and its gateway connection,
 * plus, once attached to the editor, the binding, the cursors, (for writers) undo and redo
 * (`undo.ts`: on the gateway when it offers that, else a local undo manager) and, when asked
 * for, the gateway's diagnostics as markers (`diagnostics.ts`). A link only opts in to file
 * state (`?ext=files`); the session keeps it (`files.ts`), as it concerns no editor.
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
import { Diagnostics, NO_DIAGNOSTICS, type DiagnosticCounts } from './diagnostics.js';
import type { DiagnosticsExtension } from './extension.js';
import { NO_UNDO, UndoRouter, installUndoCommands, type UndoState } from './undo.js';
import type { MonacoApi } from './monaco.js';

export interface LinkOptions {
  urls: string[];
  fileId: string;
  token?: string;
  name: string;
  color?: string;
  readOnly: boolean;
  /** Undo and redo wanted (writers only): opts in to the gateway's server-side undo. */
  undo: boolean;
  /** Diagnostics wanted: opts in to the gateway's markers (`?ext=diagnostics`), readers too. */
  diagnostics?: boolean;
  /** File state wanted: opts in to the gateway's `file-state` messages (`?ext=files`), readers too. */
  files?: boolean;
  /** The user id under `--auth none` (`?user=`). */
  user?: string;
  textName?: string;
  WebSocketPolyfill?: typeof WebSocket;
  maxBackoffTime?: number;
}

/** The editor side a link attaches to. */
export interface LinkView {
  monaco: MonacoApi;
  editor: Monaco.editor.IStandaloneCodeEditor;
  model: Monaco.editor.ITextModel;
  /** Install undo and redo (writers only). */
  undo: boolean;
  /** Called when cursors or content change, to refresh the presence list. */
  onPresence: () => void;
  /** Called when what undo and redo can do changes. */
  onUndo: (state: UndoState) => void;
  /** Called when the counts of the markers shown change (also once on attach, with zeros). */
  onDiagnostics?: (counts: DiagnosticCounts) => void;
}

export class Link {
  readonly doc: Y.Doc;
  readonly text: Y.Text;
  readonly awareness: Awareness;
  readonly connection: GatewayConnection;
  readonly readOnly: boolean;
  private readonly undoWanted: boolean;
  private readonly diagnosticsWanted: boolean;
  private attached: {
    binding: MonacoBinding;
    undo: UndoRouter | null;
    diagnostics: Diagnostics<Monaco.editor.ITextModel> | null;
    disposers: (() => void)[];
  } | null = null;
  /**
   * Diagnostics that arrived before `attach` (a read-only replacement syncs first), the last of
   * each source: shown once the model shows this link's text.
   */
  private readonly early = new Map<string, DiagnosticsExtension>();
  private destroyed = false;

  /** Creates the doc and starts connecting (nothing touches the editor before `attach`). */
  constructor(options: LinkOptions) {
    this.readOnly = options.readOnly;
    this.undoWanted = options.undo && !options.readOnly;
    this.diagnosticsWanted = options.diagnostics ?? false;
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
      extensions: [
        ...(this.undoWanted ? ['undo'] : []),
        ...(this.diagnosticsWanted ? ['diagnostics'] : []),
        ...(options.files ? ['files'] : []),
      ],
      user: options.user,
      WebSocketPolyfill: options.WebSocketPolyfill,
      maxBackoffTime: options.maxBackoffTime,
    });
    if (this.diagnosticsWanted) {
      this.connection.on('extension', (message) => {
        if (message.type !== 'diagnostics') return;
        if (this.attached?.diagnostics) void this.attached.diagnostics.receive(message);
        else this.early.set(message.source, message);
      });
    }
  }

  /** The binding, once attached. */
  get binding(): MonacoBinding | null {
    return this.attached?.binding ?? null;
  }

  /** The local undo manager (the fallback when the gateway offers no undo), once attached. */
  get undoManager(): Y.UndoManager | null {
    return this.attached?.undo?.local ?? null;
  }

  /** The counts of the gateway's markers shown now (zeros without diagnostics). */
  get diagnosticCounts(): DiagnosticCounts {
    return this.attached?.diagnostics?.counts ?? NO_DIAGNOSTICS;
  }

  /** What undo and redo can do now. */
  get undoState(): UndoState {
    return this.attached?.undo?.state ?? NO_UNDO;
  }

  /** Undoes this user's last change (on the gateway when it offers that); false if nothing was. */
  undo(): boolean {
    return this.attached?.undo?.undo() ?? false;
  }

  redo(): boolean {
    return this.attached?.undo?.redo() ?? false;
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
    let undo: UndoRouter | null = null;
    if (this.undoWanted && view.undo) {
      const router = new UndoRouter(this.connection, this.text, binding, view.onUndo);
      disposers.push(() => router.destroy());
      disposers.push(installUndoCommands(view.monaco, editor, model, router, () => binding.isApplyingRemote));
      undo = router;
    }
    let diagnostics: Diagnostics<Monaco.editor.ITextModel> | null = null;
    if (this.diagnosticsWanted) {
      const { monaco } = view;
      const shown = new Diagnostics({
        model,
        setModelMarkers: (m, owner, markers) => monaco.editor.setModelMarkers(m, owner, markers),
        onChange: view.onDiagnostics,
      });
      disposers.push(() => shown.dispose());
      diagnostics = shown;
      view.onDiagnostics?.(shown.counts);
      for (const message of this.early.values()) void shown.receive(message);
      this.early.clear();
    }
    this.awareness.on('change', view.onPresence);
    disposers.push(() => this.awareness.off('change', view.onPresence));
    const onContent = model.onDidChangeContent(() => view.onPresence());
    disposers.push(() => onContent.dispose());
    this.attached = { binding, undo, diagnostics, disposers };
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
    }
    this.awareness.setLocalState(null);
    this.connection.destroy();
    this.awareness.destroy();
    this.doc.destroy();
  }
}
