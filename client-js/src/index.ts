/**
 * `@collab/client`: connects a Monaco editor to a file on the collab gateway.
 *
 * ```ts
 * import * as monaco from 'monaco-editor/editor';
 * import { connect, fileStateText } from '@collab/client';
 * const session = connect({ monaco, editor, url: 'ws://127.0.0.1:8080', fileId: 'src/main.ts',
 *   token, name: 'Ada', color: '#d1495b' });
 * session.on('status', (s) => console.log(s.state, s.message));
 * session.on('presence', (people) => console.log(people.map((p) => p.name)));
 * session.on('undo-state', (u) => console.log(u.mode, u.undo, u.redo)); // Ctrl+Z goes to the gateway
 * session.undo();                                                         // when it offers undo
 * // With `diagnostics: true`: the gateway's markers in the editor, and their counts.
 * session.on('diagnostics', (d) => console.log(d.errors, d.warnings, d.bySource));
 * // With `files: true`: where the file stands with its copy in the sandbox.
 * session.on('file-state', (f) => console.log(fileStateText(f))); // saved, saving…, …
 * session.disconnect();
 * ```
 *
 * The layout: `binding.ts` keeps the Monaco model and the shared `Y.Text` equal; `cursors.ts`
 * publishes our selection and draws everyone else's; `provider.ts` is the connection (status,
 * failover, extension messages); `extension.ts` is the extension message codec; `undo.ts` routes
 * Ctrl+Z and Monaco's undo commands to the gateway or a local undo manager; `diagnostics.ts`
 * shows the gateway's diagnostics as markers, for the text on screen only; `files.ts` is the
 * file state (saved, saving, merged outside…) and its status-bar words. This file wires
 * them together for one editor and one file, and takes them apart again on `disconnect()`.
 */
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import type * as Monaco from 'monaco-editor';
import type { MonacoBinding } from './binding.js';
import { presenceOf, type Presence } from './cursors.js';
import type { ConnectionStatus, GatewayConnection } from './provider.js';
import type { Extension, OutgoingExtension } from './extension.js';
import { Emitter } from './emitter.js';
import { Link, type LinkOptions } from './link.js';
import type { MonacoApi } from './monaco.js';
import { NO_UNDO, type UndoState } from './undo.js';
import { NO_DIAGNOSTICS, type DiagnosticCounts } from './diagnostics.js';
import { fileStateOf, type FileState } from './files.js';

export * from './binding.js';
export * from './cursors.js';
export * from './extension.js';
export { NO_UNDO, type UndoMode, type UndoState } from './undo.js';
export * from './diagnostics.js';
export * from './files.js';
export { GatewayConnection, closeExplanation, gatewayDocUrl, isPermanentClose, roomName } from './provider.js';
export type { ConnectionState, ConnectionStatus, GatewayConnectionOptions, ServerUndo } from './provider.js';
export type { MonacoApi } from './monaco.js';

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
  /** Session token, sent as `?token=` (y-websocket's `params: { token }`). */
  token?: string;
  /** The user's name and colour (`#rrggbb`), shown to the others with the cursor. */
  name: string;
  color?: string;
  /**
   * Open for reading only: remote edits show, the editor is read-only, nothing is sent. Without
   * it, a session becomes read-only when the gateway says so (see {@link CollabSession.readOnly}).
   */
  readOnly?: boolean;
  /** The root `Y.Text` of the file (the gateway's `--text-name`); default `monaco`. */
  textName?: string;
  /**
   * Replace Monaco's own undo and redo (default true): Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z, Ctrl/Cmd+Y
   * and Monaco's undo commands undo and redo this user's own changes only. On the gateway when it
   * offers server-side undo (the history survives reloads and spans tabs and devices), else with
   * a Yjs undo manager of this tab's edits. Read-only sessions have none.
   */
  undo?: boolean;
  /**
   * Show the gateway's diagnostics (default false): the connection opts in with
   * `?ext=diagnostics` (also read-only ones), each source's markers (`syntax`, a language
   * server's) appear in the editor under the owner `collab:<source>`, for the text on screen only,
   * and the `diagnostics` event carries the counts of errors and warnings.
   */
  diagnostics?: boolean;
  /**
   * Follow the file's state with its source (default false): the connection opts in with
   * `?ext=files` (also read-only ones), {@link CollabSession.fileState} keeps the gateway's last
   * `file-state` and the `file-state` event carries each one (saved, saving, merged, deleted,
   * failed). For gateways started with `--files dir` or `--files sandbox`; others send none.
   */
  files?: boolean;
  /**
   * The user id for a gateway with `--auth none`, sent as `?user=` (its server-side undo keeps
   * each user's history by it). Gateways that check tokens take the user from the token.
   */
  user?: string;
  /** For Node or tests. */
  WebSocketPolyfill?: typeof WebSocket;
  maxBackoffTime?: number;
}

type SessionEvents = {
  status: (status: ConnectionStatus) => void;
  presence: (people: Presence[]) => void;
  extension: (message: Extension) => void;
  /** What undo and redo can do changed, or the gateway answered an undo or redo request. */
  'undo-state': (state: UndoState) => void;
  /** The counts of the gateway's markers shown in the editor changed (with `diagnostics: true`). */
  diagnostics: (counts: DiagnosticCounts) => void;
  /** The gateway sent a `file-state` (with `files: true`): the file was saved, merged outside… */
  'file-state': (state: FileState) => void;
};

/**
 * One connected editor. Everything it set up goes away with `disconnect()`.
 *
 * When the gateway answers an edit with its read-only notice (a viewer that opened without
 * `readOnly`, or a member downgraded meanwhile), the session turns read-only for good: the editor
 * stops taking input at once, statuses say `readOnly`, and a fresh connection reloads the file so
 * the editor shows what everyone else sees, without the edits the gateway dropped. Until that
 * reload has synced, the old connection keeps showing remote edits.
 */
export class CollabSession extends Emitter<SessionEvents> {
  private readonly editor: Monaco.editor.IStandaloneCodeEditor;
  private readonly model: Monaco.editor.ITextModel;
  private readonly monaco: MonacoApi;
  private readonly linkOptions: LinkOptions;
  private readonly undoWanted: boolean;
  private readonly filesWanted: boolean;
  private link: Link;
  /** The read-only link that replaces `link` once it has synced. */
  private replacement: Link | null = null;
  private readonly disposers: (() => void)[] = [];
  private people: Presence[] = [];
  /** The gateway's last `file-state` (null before the first, and without `files: true`). */
  private file: FileState | null = null;
  private disconnected = false;
  private locked = false;

  constructor(options: ConnectOptions) {
    super();
    const { monaco, editor } = options;
    this.monaco = monaco;
    this.editor = editor;
    this.undoWanted = options.undo !== false;
    this.filesWanted = options.files ?? false;
    let model = editor.getModel();
    if (!model) {
      const created = monaco.editor.createModel('', undefined);
      editor.setModel(created);
      this.disposers.push(() => created.dispose());
      model = created;
    }
    this.model = model;
    this.linkOptions = {
      urls: Array.isArray(options.url) ? options.url : [options.url],
      fileId: options.fileId,
      token: options.token,
      name: options.name,
      color: options.color,
      readOnly: options.readOnly ?? false,
      undo: this.undoWanted,
      diagnostics: options.diagnostics ?? false,
      files: this.filesWanted,
      user: options.user,
      textName: options.textName,
      WebSocketPolyfill: options.WebSocketPolyfill,
      maxBackoffTime: options.maxBackoffTime,
    };
    if (this.linkOptions.readOnly) this.lockEditor();
    this.link = this.openLink(this.linkOptions.readOnly);
    this.link.attach(this.view());
    this.updatePresence();
  }

  /** The Yjs doc of the current link (a reload after a read-only notice brings a new one). */
  get doc(): Y.Doc {
    return this.link.doc;
  }

  get text(): Y.Text {
    return this.link.text;
  }

  get awareness(): Awareness {
    return this.link.awareness;
  }

  get connection(): GatewayConnection {
    return this.link.connection;
  }

  /** The binding of the model to the doc; null after `disconnect()` (or a refused reload). */
  get binding(): MonacoBinding | null {
    return this.link.binding;
  }

  /** Whether edits are refused: opened with `readOnly`, or told so by the gateway. */
  get readOnly(): boolean {
    return this.link.readOnly || this.link.connection.isReadOnly;
  }

  /** The connection's current status. */
  get status(): ConnectionStatus {
    return this.link.connection.status;
  }

  /** Everyone present in the file, this connection first. */
  get presence(): Presence[] {
    return this.people;
  }

  /** Sends an extension message (type 100); false when not connected. */
  send(message: OutgoingExtension): boolean {
    return this.link.connection.send(message);
  }

  /**
   * Where undo goes and what it can take: `server` (the gateway's counts), `local` (this tab's
   * undo manager) or `none` (read-only, `undo: false`, or after `disconnect()`).
   */
  get undoState(): UndoState {
    if (this.disconnected || this.locked) return NO_UNDO;
    return this.link.undoState;
  }

  /** Errors and warnings among the gateway's markers shown now, in all and by source. */
  get diagnostics(): DiagnosticCounts {
    if (this.disconnected) return NO_DIAGNOSTICS;
    return this.link.diagnosticCounts;
  }

  /**
   * Where the file stands with its source, as the gateway last said (with `files: true`): its
   * `state`, the `etag` and `reason` when it gave them, and when that arrived (`at`). Null
   * before the first `file-state` (the gateway sends one when the state changes, not on join),
   * without `files: true`, and after `disconnect()`. A reconnection keeps the last one.
   */
  get fileState(): FileState | null {
    if (this.disconnected) return null;
    return this.file;
  }

  /**
   * Undoes this user's last change to the file (never other people's), as Ctrl+Z does: asks the
   * gateway when it offers server-side undo (the result arrives like any remote edit), else the
   * local undo manager. Returns false when nothing was sent or undone (read-only, or reconnecting).
   */
  undo(): boolean {
    if (this.disconnected || this.locked) return false;
    return this.link.undo();
  }

  /** Redoes what `undo()` took back; see {@link undo}. */
  redo(): boolean {
    if (this.disconnected || this.locked) return false;
    return this.link.redo();
  }

  /**
   * Leaves the file: our cursor disappears for the others, the socket closes (status `closed`
   * with code 1000), and every listener, decoration, widget, style and marker this session added
   * is removed. The editor keeps the text it shows. Idempotent.
   */
  disconnect(): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.replacement?.destroy();
    this.replacement = null;
    this.link.destroy(); // emits the last status (`closed`, 1000) to our listeners
    for (const dispose of this.disposers.splice(0).reverse()) dispose();
    this.emit('presence', (this.people = []));
    this.clear();
  }

  private view() {
    return {
      monaco: this.monaco,
      editor: this.editor,
      model: this.model,
      undo: this.undoWanted,
      onPresence: () => this.updatePresence(),
      onUndo: (state: UndoState) => {
        if (!this.disconnected && !this.locked) this.emit('undo-state', state);
      },
      onDiagnostics: (counts: DiagnosticCounts) => {
        if (!this.disconnected) this.emit('diagnostics', counts);
      },
    };
  }

  private openLink(readOnly: boolean): Link {
    const link = new Link({ ...this.linkOptions, readOnly });
    link.connection.on('status', (status) => this.onStatus(link, status));
    link.connection.on('extension', (message) => {
      // The old link hears the file's messages until the replacement takes over, then only it.
      if (link !== this.link || this.disconnected) return;
      const file = this.filesWanted ? fileStateOf(message) : null;
      if (file) this.file = file;
      this.emit('extension', message);
      if (file) this.emit('file-state', file);
    });
    return link;
  }

  private onStatus(link: Link, status: ConnectionStatus): void {
    if (this.disconnected && status.state !== 'closed') return;
    if (link !== this.link) {
      // The replacement: silent until it holds the file (or was refused), then it takes over.
      if (link === this.replacement && (status.state === 'synced' || status.state === 'closed')) this.swap();
      return;
    }
    // Refused for good: edits could reach no one, so the editor stops taking them.
    if (status.state === 'closed' && !this.disconnected) this.lockEditor();
    if (status.readOnly && !link.readOnly && !this.replacement && !this.disconnected) {
      this.lockEditor();
      this.replacement = this.openLink(true);
    }
    this.emit('status', status);
  }

  /**
   * Puts the synced read-only replacement in the editor and ends the old link. A replacement the
   * gateway refused (its close explains why) ends the old link too, but is not attached: the
   * editor keeps showing the last text instead of an empty document.
   */
  private swap(): void {
    const next = this.replacement;
    if (!next || this.disconnected) return;
    this.replacement = null;
    const old = this.link;
    this.link = next;
    old.destroy(); // its statuses no longer reach anyone: `link` is the new one
    const status = next.connection.status;
    if (status.state === 'closed') this.lockEditor();
    else next.attach(this.view()); // the model now shows the gateway's text
    this.emit('status', status);
    this.updatePresence();
  }

  /** Makes the editor read-only until `disconnect()`, which restores its previous setting. */
  private lockEditor(): void {
    if (this.locked) return;
    this.locked = true;
    const before = this.editor.getRawOptions().readOnly ?? false;
    this.editor.updateOptions({ readOnly: true });
    this.disposers.push(() => this.editor.updateOptions({ readOnly: before }));
    this.emit('undo-state', NO_UNDO); // a locked editor takes nothing back
  }

  private updatePresence(): void {
    if (this.disconnected) return;
    this.people = presenceOf(this.link.awareness, this.link.text, this.model);
    this.emit('presence', this.people);
  }
}

/** Connects an editor to a file on the gateway. */
export function connect(options: ConnectOptions): CollabSession {
  return new CollabSession(options);
}
