/**
 * The connection to the gateways: a stock y-websocket `WebsocketProvider` plus what the product
 * needs around it.
 *
 * - One status at a time: `connecting` (first attempt), `connected` (socket open), `synced`
 *   (first sync done), `reconnecting` (lost or refused transiently; y-websocket retries with
 *   backoff), `offline` (the browser says it has no network; retries go on), `closed`
 *   (permanent: a 4400-4499 refusal, or `destroy()`), with the gateway's reason when it gave
 *   one in an error extension message before closing. 4401 (not signed in) and 4403 (no
 *   access) get a plain explanation. After a permanent close nothing reconnects by itself.
 * - Every status says whether the connection is read-only: because it was opened so, or
 *   because the gateway said so (its `read-only` notice, {@link isReadOnlyNotice}).
 * - Failover: given several gateway URLs, each transient close moves on to the next one (any
 *   gateway serves any file, so this is what a load balancer would do).
 * - Extension messages (type 100) are decoded and handed to listeners, and can be sent.
 * - Server-side undo: with `extensions: ['undo']` the connection opts in (`?ext=undo`) and keeps
 *   the gateway's `undo-state` counts ({@link ServerUndo}); `requestUndo` asks for an undo or a
 *   redo of this user's last change, when the current socket has been offered it.
 */
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import * as decoding from 'lib0/decoding';
import { WebsocketProvider } from 'y-websocket';
import {
  MESSAGE_EXTENSION,
  encodeExtension,
  isReadOnlyNotice,
  parseExtension,
  undoRequest,
  type ErrorExtension,
  type Extension,
  type OutgoingExtension,
  type UndoOp,
} from './extension.js';
import { Emitter } from './emitter.js';

export type ConnectionState = 'connecting' | 'connected' | 'synced' | 'reconnecting' | 'offline' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** The gateway URL (`ws://host:port/doc`) in use or being tried. */
  url: string;
  /** Failed or lost connections since the last successful sync. */
  failures: number;
  /** For `closed`, and for `reconnecting` after the gateway closed us: the close code. */
  code?: number;
  /** Machine-readable reason (the gateway's error `reason`, else the close frame's reason). */
  reason?: string;
  /** Human-readable explanation. */
  message?: string;
  /** For a 4401/4403 close: the gateway's own words, when it gave any (`message` is ours). */
  detail?: string;
  /**
   * Whether edits are refused: the connection was opened read-only, or the gateway said so
   * (`{"type":"error","code":4403,"reason":"read-only"}`). Stays true for the connection's life.
   */
  readOnly: boolean;
}

/**
 * What the gateway said about the user's undo history of the file on this connection, once it
 * has offered server-side undo (sent an `undo-state`).
 */
export interface ServerUndo {
  /** The gateway's counts of the user's undo and redo items (see {@link UndoStateExtension}). */
  undo: number;
  redo: number;
  /**
   * Whether the current socket was offered undo (an `undo-state` arrived on it), so a request
   * can go out now. False from a disconnection until the next socket's first `undo-state`.
   */
  ready: boolean;
  /** On the gateway's reply to a request: which one, and whether it changed the file. */
  op?: UndoOp;
  applied?: boolean;
}

/** A status before the connection adds whether it is read-only. */
type StatusFields = Omit<ConnectionStatus, 'readOnly'>;

export interface GatewayConnectionOptions {
  /** Gateway URLs to use in turn, each ending in `/doc` (see {@link gatewayDocUrl}). */
  urls: string[];
  fileId: string;
  token?: string;
  doc: Y.Doc;
  awareness: Awareness;
  /** For Node (the `ws` package) or tests. */
  WebSocketPolyfill?: typeof WebSocket;
  /** Longest wait between reconnection attempts (ms); y-websocket's default is 2500. */
  maxBackoffTime?: number;
  /** Opened for reading only (the statuses say `readOnly` from the start). */
  readOnly?: boolean;
  /** Features whose unsolicited messages the gateway should send (`?ext=undo,diagnostics,files`). */
  extensions?: string[];
  /**
   * The user id under a gateway with `--auth none` (sent as `?user=`), which then keeps that
   * user's undo history; gateways that check tokens take the user from the token instead.
   */
  user?: string;
}

/** Close codes after which retrying cannot help (y-websocket stops on these by itself). */
export function isPermanentClose(code: number): boolean {
  return code >= 4400 && code <= 4499;
}

/** `ws://h:p`, `http://h:p`, `ws://h:p/` or `ws://h:p/doc` -> `ws://h:p/doc`. */
export function gatewayDocUrl(url: string): string {
  let u = url.trim().replace(/^http(s?):/i, 'ws$1:').replace(/\/+$/, '');
  if (!/\/doc$/.test(u)) u += '/doc';
  return u;
}

/**
 * The room part of the URL. The whole id is percent-encoded (also `/`), so the browser's URL
 * parser cannot resolve `.` or `..` segments away: the gateway sees the id exactly as given
 * (and refuses a `..` segment with 4400 instead of silently opening another file).
 */
export function roomName(fileId: string): string {
  return encodeURIComponent(fileId);
}

const CLOSE_TEXT: Record<number, string> = {
  1000: 'The connection was closed.',
  1006: 'The connection to the gateway was lost.',
  1007: 'The gateway refused invalid data.',
  1008: 'The gateway closed the connection (policy limit).',
  1009: 'A message or the document is too big.',
  1012: 'The gateway is restarting.',
  1013: 'The gateway is overloaded.',
  4400: 'The gateway refused the request.',
  4401: 'Not signed in: the session token is missing, unknown or expired. Sign in again to get a new one.',
  4403: 'Access denied: your account may not open this file (it is outside your sandboxes).',
};

/** Close codes whose explanation is ours whatever the gateway said (its words go to `detail`). */
const EXPLAINED_HERE = new Set([4401, 4403]);

/**
 * The explanation of a permanent close: ours for 4401/4403 (the gateway's words, from its error
 * message or else the close frame, go to `detail`); for other codes the gateway's error message,
 * else ours.
 */
export function closeExplanation(code: number, errorMessage?: string, closeReason?: string): { message: string; detail?: string } {
  if (EXPLAINED_HERE.has(code)) {
    const detail = errorMessage || closeReason;
    return { message: CLOSE_TEXT[code], ...(detail ? { detail } : {}) };
  }
  return { message: errorMessage ?? CLOSE_TEXT[code] ?? `The gateway refused the connection (${code}).` };
}

type ConnectionEvents = {
  status: (status: ConnectionStatus) => void;
  extension: (message: Extension) => void;
  /** Server-side undo changed: counts from the gateway, or a socket lost (`ready: false`). */
  'server-undo': (state: ServerUndo) => void;
};

export class GatewayConnection extends Emitter<ConnectionEvents> {
  readonly provider: WebsocketProvider;
  private readonly urls: string[];
  private urlIndex = 0;
  private current: ConnectionStatus;
  private everConnected = false;
  /** The last error extension of the current socket: explains the close that follows. */
  private lastError: ErrorExtension | null = null;
  private readonly disposers: (() => void)[] = [];
  private destroyed = false;
  private readOnly: boolean;
  /** Null until the gateway offers server-side undo on this connection (then it stays). */
  private serverUndo: ServerUndo | null = null;

  constructor(options: GatewayConnectionOptions) {
    super();
    if (options.urls.length === 0) throw new Error('GatewayConnection: no gateway URL');
    this.urls = options.urls.map(gatewayDocUrl);
    this.readOnly = options.readOnly ?? false;
    this.current = { state: 'connecting', url: this.urls[0], failures: 0, readOnly: this.readOnly };
    const params: Record<string, string> = {};
    if (options.token) params.token = options.token;
    if (options.extensions && options.extensions.length > 0) params.ext = options.extensions.join(',');
    if (options.user) params.user = options.user;
    this.provider = new WebsocketProvider(this.urls[0], roomName(options.fileId), options.doc, {
      connect: false,
      awareness: options.awareness,
      params,
      disableBc: true,
      maxBackoffTime: options.maxBackoffTime ?? 2500,
      // Our policy, not only y-websocket's default: a 4400-4499 refusal is final.
      shouldReconnect: (event) => !isPermanentClose(event.code),
      ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill } : {}),
    });
    this.provider.messageHandlers[MESSAGE_EXTENSION] = (_encoder, decoder) => {
      const message = parseExtension(decoding.readVarString(decoder));
      if (!message) return;
      if (isReadOnlyNotice(message)) {
        // Not the reason of a close to come: the connection stays open, for reading.
        this.readOnly = true;
        this.setStatus({ ...this.current });
      } else if (message.type === 'error') {
        this.lastError = message;
      } else if (message.type === 'undo-state') {
        const { undo, redo, op, applied } = message;
        this.serverUndo = { undo, redo, ready: true, ...(op !== undefined ? { op } : {}), ...(applied !== undefined ? { applied } : {}) };
        this.emit('server-undo', this.serverUndo);
      }
      this.emit('extension', message);
    };
    this.listen();
    this.provider.connect();
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Whether edits are refused on this connection (opened so, or told so by the gateway). */
  get isReadOnly(): boolean {
    return this.readOnly;
  }

  /**
   * The gateway's undo counts, once it has offered server-side undo on this connection (null
   * before: the gateway does not offer it, or has not said so yet).
   */
  get undoState(): ServerUndo | null {
    return this.serverUndo;
  }

  /**
   * Asks the gateway to undo or redo the user's last change of the file. False (nothing sent,
   * nothing queued) unless the current socket was offered server-side undo. The answer is an
   * `undo-state` with `op` and `applied`; the change itself arrives as an ordinary update.
   */
  requestUndo(op: UndoOp): boolean {
    if (!this.serverUndo?.ready) return false;
    return this.send(undoRequest(op));
  }

  /** Sends an extension message; false when no connection is open (nothing is queued). */
  send(message: OutgoingExtension): boolean {
    const ws = this.provider.ws;
    if (!this.provider.wsconnected || !ws || ws.readyState !== ws.OPEN) return false;
    ws.send(encodeExtension(message));
    return true;
  }

  /** Closes for good (status `closed`, code 1000) and removes every listener. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.provider.destroy();
    this.setStatus({ state: 'closed', url: this.current.url, failures: this.current.failures, code: 1000, reason: 'disconnected', message: 'Disconnected.' });
    this.clear();
  }

  private listen(): void {
    const provider = this.provider;
    const on: WebsocketProvider['on'] = (name, handler) => {
      provider.on(name, handler);
      this.disposers.push(() => provider.off(name, handler));
      return handler;
    };

    on('status', ({ status }) => {
      if (status === 'connecting') {
        this.lastError = null;
        const state = this.isOffline() ? 'offline' : this.everConnected || this.current.failures > 0 ? 'reconnecting' : 'connecting';
        this.setStatus({ ...this.current, state, url: this.urls[this.urlIndex] });
      } else if (status === 'connected') {
        this.everConnected = true;
        this.setStatus({ state: 'connected', url: this.urls[this.urlIndex], failures: this.current.failures });
      }
    });
    on('sync', (synced) => {
      if (synced && provider.wsconnected) {
        this.setStatus({ state: 'synced', url: this.urls[this.urlIndex], failures: 0 });
      }
    });
    on('connection-close', (event) => {
      if (this.destroyed) return;
      this.undoNotReady(); // also after our own close (event null): that socket is gone too
      if (event === null) return;
      if (isPermanentClose(event.code)) return; // `closed` follows
      const failures = this.current.failures + 1;
      const code = event.code;
      const reason = this.lastError?.reason ?? (event.reason || undefined);
      const message = this.lastError?.message ?? CLOSE_TEXT[code] ?? `Connection closed (${code}).`;
      this.lastError = null;
      // Fail over: the next attempt (scheduled by y-websocket with backoff) uses the next URL.
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      provider.serverUrl = this.urls[this.urlIndex];
      this.setStatus({ state: this.isOffline() ? 'offline' : 'reconnecting', url: this.urls[this.urlIndex], failures, code, reason, message });
    });
    on('closed', ({ code, reason }) => {
      this.undoNotReady();
      const error = this.lastError;
      this.setStatus({
        state: 'closed',
        url: this.urls[this.urlIndex],
        failures: this.current.failures + 1,
        code,
        reason: error?.reason ?? (reason || 'refused'),
        ...closeExplanation(code, error?.message, reason),
      });
    });

    if (typeof window !== 'undefined' && typeof window.addEventListener === 'function') {
      const offline = () => {
        if (this.current.state !== 'closed') this.setStatus({ ...this.current, state: 'offline' });
      };
      const online = () => {
        if (this.current.state === 'offline') {
          this.setStatus({ ...this.current, state: provider.wsconnected ? (provider.synced ? 'synced' : 'connected') : 'reconnecting' });
        }
      };
      window.addEventListener('offline', offline);
      window.addEventListener('online', online);
      this.disposers.push(() => {
        window.removeEventListener('offline', offline);
        window.removeEventListener('online', online);
      });
    }
  }

  /** The socket is gone: server undo waits for the next socket's `undo-state`. */
  private undoNotReady(): void {
    if (!this.serverUndo?.ready) return;
    this.serverUndo = { undo: this.serverUndo.undo, redo: this.serverUndo.redo, ready: false };
    this.emit('server-undo', this.serverUndo);
  }

  private isOffline(): boolean {
    return typeof navigator !== 'undefined' && navigator.onLine === false;
  }

  private setStatus(fields: StatusFields): void {
    const prev = this.current;
    const next: ConnectionStatus = { ...fields, readOnly: this.readOnly };
    this.current = next;
    if (
      prev.state === next.state &&
      prev.url === next.url &&
      prev.code === next.code &&
      prev.message === next.message &&
      prev.failures === next.failures &&
      prev.readOnly === next.readOnly
    ) {
      return;
    }
    this.emit('status', next);
  }
}
