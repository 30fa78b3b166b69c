import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { Awareness } from 'y-protocols/awareness';
import { GatewayConnection, type ConnectionStatus } from '../../src/provider.js';
import { decodeExtensionFrame, encodeExtension } from '../../src/extension.js';

/** A WebSocket double: the test plays the gateway. */
class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readonly OPEN = 1;
  readyState = 0;
  binaryType = 'blob';
  sent: Uint8Array[] = [];
  onopen: (() => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  accept() {
    this.readyState = 1;
    this.onopen?.();
  }
  /** Sends sync step 2 of an empty doc: the client is synced. */
  sync() {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.writeSyncStep2(encoder, new Y.Doc());
    this.receive(encoding.toUint8Array(encoder));
  }
  receive(frame: Uint8Array) {
    this.onmessage?.({ data: frame.slice().buffer });
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function open(urls = ['ws://a:1', 'ws://b:2']) {
  const doc = new Y.Doc();
  const connection = new GatewayConnection({
    urls,
    fileId: 'dir/file.ts',
    token: 't0k',
    doc,
    awareness: new Awareness(doc),
    WebSocketPolyfill: FakeSocket as unknown as typeof WebSocket,
  });
  const statuses: ConnectionStatus[] = [];
  connection.on('status', (s) => statuses.push(s));
  return { connection, statuses, socket: () => FakeSocket.all[FakeSocket.all.length - 1] };
}

describe('GatewayConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('goes connecting -> connected -> synced, with the file id encoded and the token in the query', () => {
    const { connection, statuses, socket } = open();
    expect(connection.status.state).toBe('connecting');
    expect(socket().url).toBe('ws://a:1/doc/dir%2Ffile.ts?token=t0k');
    socket().accept();
    socket().sync();
    expect(statuses.map((s) => s.state)).toEqual(['connected', 'synced']);
    connection.destroy();
  });

  it('reconnects on a transient close, to the next gateway, and says why', () => {
    const { connection, statuses, socket } = open();
    socket().accept();
    socket().sync();
    socket().drop(1012, 'gateway restarting');
    expect(connection.status).toMatchObject({ state: 'reconnecting', code: 1012, url: 'ws://b:2/doc' });
    expect(connection.status.message).toMatch(/restarting/);
    vi.advanceTimersByTime(3000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(socket().url).toMatch(/^ws:\/\/b:2\/doc\//);
    socket().accept();
    socket().sync();
    expect(statuses.map((s) => s.state)).toEqual(['connected', 'synced', 'reconnecting', 'connected', 'synced']);
    connection.destroy();
  });

  it('a 4400-4499 close ends the session with the reason of the error message before it, and no retry', () => {
    const { connection, socket } = open();
    socket().accept();
    socket().receive(encodeExtension({ type: 'error', code: 4400, reason: 'invalid-file-id', message: "file id contains a '..' segment" }));
    socket().drop(4400, 'invalid request');
    expect(connection.status).toMatchObject({ state: 'closed', code: 4400, reason: 'invalid-file-id', message: "file id contains a '..' segment" });
    vi.advanceTimersByTime(60000);
    expect(FakeSocket.all).toHaveLength(1);
    connection.destroy();
  });

  it('hands extension messages to listeners, ignores unknown ones, and sends only when open', () => {
    const { connection, socket } = open();
    const received: unknown[] = [];
    connection.on('extension', (m) => received.push(m));
    expect(connection.send({ type: 'ping' })).toBe(false);
    socket().accept();
    socket().receive(encodeExtension({ type: 'from-the-future', x: 1 }));
    socket().receive(new Uint8Array([100, 3, 0x6e, 0x6f, 0x21])); // "no!": not JSON, dropped
    expect(received).toEqual([{ type: 'unknown', raw: { type: 'from-the-future', x: 1 } }]);
    expect(connection.status.state).toBe('connected');
    expect(connection.send({ type: 'ping', n: 1 })).toBe(true);
    expect(decodeExtensionFrame(socket().sent[socket().sent.length - 1])).toEqual({ type: 'unknown', raw: { type: 'ping', n: 1 } });
    connection.destroy();
  });

  it('destroy() closes for good with code 1000 and stops reconnecting', () => {
    const { connection, socket } = open();
    socket().accept();
    connection.destroy();
    expect(connection.status).toMatchObject({ state: 'closed', code: 1000 });
    vi.advanceTimersByTime(60000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
