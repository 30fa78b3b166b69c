import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { GatewayConnection, closeExplanation, type ConnectionStatus } from '../../src/provider.js';
import { decodeExtensionFrame, encodeExtension } from '../../src/extension.js';
import { FakeSocket } from './fake-socket.js';

function open(urls = ['ws://a:1', 'ws://b:2'], { readOnly = false } = {}) {
  const doc = new Y.Doc();
  const connection = new GatewayConnection({
    urls,
    fileId: 'dir/file.ts',
    token: 't0k',
    doc,
    awareness: new Awareness(doc),
    readOnly,
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

  it("the gateway's read-only notice makes the status read-only; the connection stays, and the notice explains no later close", () => {
    const { connection, statuses, socket } = open();
    socket().accept();
    socket().sync();
    expect(connection.status.readOnly).toBe(false);
    socket().receive(encodeExtension({ type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' }));
    expect(connection.status).toMatchObject({ state: 'synced', readOnly: true });
    expect(connection.isReadOnly).toBe(true);
    expect(statuses.map((s) => [s.state, s.readOnly])).toEqual([
      ['connected', false],
      ['synced', false],
      ['synced', true],
    ]);
    // A second notice changes nothing; a transient close is explained by its code, not the notice.
    socket().receive(encodeExtension({ type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' }));
    expect(statuses).toHaveLength(3);
    socket().drop(1012);
    expect(connection.status).toMatchObject({ state: 'reconnecting', code: 1012, readOnly: true });
    expect(connection.status.message).toMatch(/restarting/);
    connection.destroy();
  });

  it('opened read-only, every status says so from the start', () => {
    const { connection, statuses, socket } = open(['ws://a:1'], { readOnly: true });
    expect(connection.status).toMatchObject({ state: 'connecting', readOnly: true });
    socket().accept();
    socket().sync();
    expect(statuses.every((s) => s.readOnly)).toBe(true);
    connection.destroy();
  });

  it('4401 and 4403 closes end the session with a plain explanation, the gateway words as detail, and no retry', () => {
    for (const [code, reason, plain] of [
      [4401, 'unauthenticated', /Not signed in/],
      [4403, 'forbidden', /Access denied/],
    ] as const) {
      FakeSocket.all = [];
      const { connection, socket } = open();
      socket().accept();
      socket().receive(encodeExtension({ type: 'error', code, reason, message: 'the gateway says no' }));
      socket().drop(code, reason);
      expect(connection.status).toMatchObject({ state: 'closed', code, reason, detail: 'the gateway says no' });
      expect(connection.status.message).toMatch(plain);
      vi.advanceTimersByTime(60000);
      expect(FakeSocket.all).toHaveLength(1);
      expect(connection.status.state).toBe('closed');
      expect(connection.provider.shouldReconnect({ code } as CloseEvent, connection.provider)).toBe(false);
      connection.destroy();
    }
  });

  it('a 4401 close without an error message still explains itself (the close frame reason is the detail)', () => {
    const { connection, socket } = open();
    socket().accept();
    socket().drop(4401, 'session expired');
    expect(connection.status).toMatchObject({ state: 'closed', code: 4401, reason: 'session expired', detail: 'session expired' });
    expect(connection.status.message).toMatch(/Not signed in/);
    connection.destroy();
  });

  it('explains closes: ours for 4401/4403, the gateway message for the rest', () => {
    expect(closeExplanation(4401)).toEqual({ message: expect.stringMatching(/^Not signed in/) });
    expect(closeExplanation(4403, 'outside sandbox')).toEqual({ message: expect.stringMatching(/^Access denied/), detail: 'outside sandbox' });
    expect(closeExplanation(4400, "file id contains a '..' segment")).toEqual({ message: "file id contains a '..' segment" });
    expect(closeExplanation(4400)).toEqual({ message: 'The gateway refused the request.' });
    expect(closeExplanation(4499)).toEqual({ message: 'The gateway refused the connection (4499).' });
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
