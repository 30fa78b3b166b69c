/**
 * `@collab/client`: connects a Monaco editor to a file on the collab gateway.
 *
 * ```ts
 * import * as monaco from 'monaco-editor/editor';
 * import { connect } from '@collab/client';
 * const session = connect({ monaco, editor, url: 'ws://127.0.0.1:8080', fileId: 'src/main.ts',
 *   token, name: 'Ada', color: '#d1495b' });
 * session.on('status', (s) => console.log(s.state, s.message));
 * session.on('presence', (people) => console.log(people.map((p) => p.name)));
 * session.disconnect();
 * ```
 *
 * The layout: `binding.ts` keeps the Monaco model and the shared `Y.Text` equal; `cursors.ts`
 * publishes our selection and draws everyone else's; `provider.ts` is the connection (status,
 * failover, extension messages); `extension.ts` is the extension message codec. This file wires
 * them together for one editor and one file, and takes them apart again on `disconnect()`.
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type * as Monaco from 'monaco-editor';
import { MonacoBinding } from './binding.js';
import { RemoteCursors, presenceOf, publishLocalSelection, safeColor, displayName, type Presence } from './cursors.js';
import { GatewayConnection, type ConnectionStatus } from './provider.js';
import type { Extension, OutgoingExtension } from './extension.js';
import { Emitter } from './emitter.js';

export * from './binding.js';
export * from './cursors.js';
export * from './extension.js';
export { GatewayConnection, gatewayDocUrl, isPermanentClose, roomName } from './provider.js';
export type { ConnectionState, ConnectionStatus, GatewayConnectionOptions } from './provider.js';

/** The parts of the monaco namespace used here (`monaco-editor` and `monaco-editor/editor` fit). */
export type MonacoApi = Pick<typeof Monaco, 'editor' | 'Range' | 'KeyMod' | 'KeyCode'>;

export interface ConnectOptions {
  /** The monaco namespace the editor was made with (this package bundles no monaco). */
  monaco: MonacoApi;
  editor: Monaco.editor.IStandaloneCodeEditor;
  /**
   * The gateway: `ws://host:port` (or `http(s)://`, or ending in `/doc`). Several URLs: each
   * transient disconnection moves on to the next (failover without a load balancer).
   */
  url: string | string[];
  /** The file id (the room); may contain `/`. */
  fileId: string;
  /** Session token, sent as `?token=`. */
  token?: string;
  /** The user's name and colour (`#rrggbb`), shown to the others with the cursor. */
  name: string;
  color?: string;
  /** Show remote edits but make the editor read-only and send no edits. */
  readOnly?: boolean;
  /** The root `Y.Text` of the file (the gateway's `--text-name`); default `monaco`. */
  textName?: string;
  /** Replace Monaco's Ctrl+Z / Ctrl+Shift+Z with a Yjs undo manager of our own edits (default true). */
  undo?: boolean;
  /** For Node or tests. */
  WebSocketPolyfill?: typeof WebSocket;
  maxBackoffTime?: number;
}

type SessionEvents = {
  status: (status: ConnectionStatus) => void;
  presence: (people: Presence[]) => void;
  extension: (message: Extension) => void;
};

/** One connected editor. Everything it set up goes away with `disconnect()`. */
export class CollabSession extends Emitter<SessionEvents> {
  readonly doc: Y.Doc;
  readonly text: Y.Text;
  readonly awareness: Awareness;
  readonly connection: GatewayConnection;
  readonly binding: MonacoBinding;
  readonly readOnly: boolean;
  private readonly editor: Monaco.editor.IStandaloneCodeEditor;
  private readonly model: Monaco.editor.ITextModel;
  private readonly cursors: RemoteCursors;
  private readonly undoManager: Y.UndoManager | null;
  private readonly disposers: (() => void)[] = [];
  private people: Presence[] = [];
  private disconnected = false;
  private locked = false;

  constructor(options: ConnectOptions) {
    super();
    const { monaco, editor } = options;
    this.editor = editor;
    this.readOnly = options.readOnly ?? false;
    let model = editor.getModel();
    if (!model) {
      const created = monaco.editor.createModel('', undefined);
      editor.setModel(created);
      this.disposers.push(() => created.dispose());
      model = created;
    }
    this.model = model;

    this.doc = new Y.Doc();
    this.text = this.doc.getText(options.textName ?? 'monaco');
    this.awareness = new Awareness(this.doc);
    this.awareness.setLocalStateField('user', {
      name: displayName(options.name, this.doc.clientID),
      color: safeColor(options.color, this.doc.clientID),
    });

    if (this.readOnly) this.lockEditor();

    this.binding = new MonacoBinding(this.text, model, { editors: [editor], readOnly: this.readOnly });
    this.disposers.push(() => this.binding.destroy());
    this.disposers.push(publishLocalSelection(editor, model, this.text, this.awareness));
    this.cursors = new RemoteCursors(monaco, editor, model, this.text, this.awareness);
    this.disposers.push(() => this.cursors.destroy());

    this.undoManager = !this.readOnly && options.undo !== false ? this.installUndo(monaco) : null;

    const onAwareness = () => this.updatePresence();
    this.awareness.on('change', onAwareness);
    this.disposers.push(() => this.awareness.off('change', onAwareness));
    const onContent = model.onDidChangeContent(() => this.updatePresence());
    this.disposers.push(() => onContent.dispose());

    this.connection = new GatewayConnection({
      urls: Array.isArray(options.url) ? options.url : [options.url],
      fileId: options.fileId,
      token: options.token,
      doc: this.doc,
      awareness: this.awareness,
      WebSocketPolyfill: options.WebSocketPolyfill,
      maxBackoffTime: options.maxBackoffTime,
    });
    this.connection.on('status', (status) => {
      // Refused for good: edits could reach no one, so the editor stops taking them.
      if (status.state === 'closed' && !this.disconnected) this.lockEditor();
      this.emit('status', status);
    });
    this.connection.on('extension', (message) => this.emit('extension', message));
    this.updatePresence();
  }

  /** The connection's current status. */
  get status(): ConnectionStatus {
    return this.connection.status;
  }

  /** Everyone present in the file, this connection first. */
  get presence(): Presence[] {
    return this.people;
  }

  /** Sends an extension message (type 100); false when not connected. */
  send(message: OutgoingExtension): boolean {
    return this.connection.send(message);
  }

  /** Undoes this user's last edit (not other people's). */
  undo(): void {
    this.undoManager?.undo();
  }

  redo(): void {
    this.undoManager?.redo();
  }

  /**
   * Leaves the file: our cursor disappears for the others, the socket closes (status `closed`
   * with code 1000), and every listener, decoration, widget and style this session added is
   * removed. The editor keeps the text it shows. Idempotent.
   */
  disconnect(): void {
    if (this.disconnected) return;
    this.disconnected = true;
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
    this.undoManager?.destroy();
    this.awareness.setLocalState(null); // tells the others while the socket is still open
    this.connection.destroy();
    this.emit('presence', (this.people = []));
    this.awareness.destroy();
    this.doc.destroy();
    this.clear();
  }

  /** Makes the editor read-only until `disconnect()`, which restores its previous setting. */
  private lockEditor(): void {
    if (this.locked) return;
    this.locked = true;
    const before = this.editor.getRawOptions().readOnly ?? false;
    this.editor.updateOptions({ readOnly: true });
    this.disposers.push(() => this.editor.updateOptions({ readOnly: before }));
  }

  private installUndo(monaco: MonacoApi): Y.UndoManager {
    const manager = new Y.UndoManager(this.text, { trackedOrigins: new Set([this.binding.origin]) });
    const { KeyMod, KeyCode } = monaco;
    const undo = this.editor.addAction({
      id: 'collab.undo',
      label: 'Undo (own edits)',
      keybindings: [KeyMod.CtrlCmd | KeyCode.KeyZ],
      run: () => void manager.undo(),
    });
    const redo = this.editor.addAction({
      id: 'collab.redo',
      label: 'Redo (own edits)',
      keybindings: [KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, KeyMod.CtrlCmd | KeyCode.KeyY],
      run: () => void manager.redo(),
    });
    // Like Monaco's own undo: moving the caret (click, arrows, API) ends the current undo step,
    // so separate edits are undone separately. Moves caused by remote edits do not.
    const { CursorChangeReason } = monaco.editor;
    const moves = this.editor.onDidChangeCursorPosition((event) => {
      if (this.binding.isApplyingRemote) return;
      if (event.reason === CursorChangeReason.Explicit || event.source === 'mouse' || event.source === 'api') {
        manager.stopCapturing();
      }
    });
    this.disposers.push(() => undo.dispose(), () => redo.dispose(), () => moves.dispose());
    return manager;
  }

  private updatePresence(): void {
    if (this.disconnected) return;
    this.people = presenceOf(this.awareness, this.text, this.model);
    this.emit('presence', this.people);
  }
}

/** Connects an editor to a file on the gateway. */
export function connect(options: ConnectOptions): CollabSession {
  return new CollabSession(options);
}
