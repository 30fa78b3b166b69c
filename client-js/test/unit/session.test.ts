import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { connect, type CollabSession, type ConnectionStatus } from '../../src/index.js';
import { encodeExtension } from '../../src/extension.js';
import { FakeSocket } from './fake-socket.js';
import { FakeEditor, fakeMonaco, stubDocument } from './fake-editor.js';

const READ_ONLY_NOTICE = { type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' };

/** The gateway's copy of the file, whose updates the test relays to sockets. */
function gatewayDoc(text: string) {
  const doc = new Y.Doc();
  doc.getText('monaco').insert(0, text);
  return doc;
}

function open({ readOnly = false, token = 'tok-vic' } = {}) {
  const editor = new FakeEditor();
  const session = connect({
    monaco: fakeMonaco,
    editor: editor.asEditor,
    url: 'ws://gw:1',
    fileId: 'demo/main.ts',
    token,
    name: 'Vic',
    readOnly,
    WebSocketPolyfill: FakeSocket as unknown as typeof WebSocket,
  });
  const statuses: ConnectionStatus[] = [];
  session.on('status', (s) => statuses.push(s));
  return { editor, session, statuses, sockets: FakeSocket.all };
}

const readOnlyOption = (editor: FakeEditor) => editor.options.readOnly ?? false;

describe('a session and read-only', () => {
  let session: CollabSession | null = null;
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    stubDocument();
  });
  afterEach(() => {
    session?.disconnect();
    session = null;
    vi.useRealTimers();
  });

  it('sends the token as ?token= and, opened read-only, locks the editor, says read-only and sends no edit', () => {
    const opened = open({ readOnly: true });
    session = opened.session;
    const { editor, statuses, sockets } = opened;
    expect(sockets[0].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?token=tok-vic');
    expect(readOnlyOption(editor)).toBe(true);
    expect(session.readOnly).toBe(true);
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('hello\n'));
    expect(editor.model.getValue()).toBe('hello\n');
    expect(statuses.map((s) => [s.state, s.readOnly])).toEqual([
      ['connected', true],
      ['synced', true],
    ]);
    editor.model.type(0, 'typed anyway'); // e.g. by a script: the shared text wins
    expect(editor.model.getValue()).toBe('hello\n');
    expect(sockets[0].sentUpdates()).toEqual([]);
  });

  it("told read-only by the gateway: locks at once, reloads the file without the dropped edit, and stays read-only", () => {
    const opened = open();
    session = opened.session;
    const { editor, statuses, sockets } = opened;
    const gateway = gatewayDoc('hello\n');
    sockets[0].accept();
    sockets[0].sync(gateway);
    expect(readOnlyOption(editor)).toBe(false);
    expect(session.readOnly).toBe(false);

    editor.model.type(0, 'x'); // goes out before the gateway can say no
    expect(sockets[0].sentUpdates()).toHaveLength(1);
    sockets[0].receive(encodeExtension(READ_ONLY_NOTICE));
    expect(readOnlyOption(editor)).toBe(true);
    expect(session.readOnly).toBe(true);
    expect(session.status).toMatchObject({ state: 'synced', readOnly: true });
    expect(sockets).toHaveLength(2); // the reload, with the same token, and no undo for a reader
    expect(sockets[0].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?token=tok-vic&ext=undo');
    expect(sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?token=tok-vic');

    // Someone else edits meanwhile: the old connection still shows it.
    const relay = (update: Uint8Array) => sockets[0].update(update);
    gateway.on('update', relay);
    gateway.getText('monaco').insert(6, 'world\n');
    gateway.off('update', relay);
    expect(editor.model.getValue()).toBe('xhello\nworld\n');

    sockets[1].accept();
    sockets[1].sync(gateway);
    expect(editor.model.getValue()).toBe('hello\nworld\n'); // what everyone else sees
    expect(sockets[0].readyState).toBe(3);
    expect(session.text.toString()).toBe('hello\nworld\n');
    // The reload's own connecting/connected statuses were not shown: no flicker in the banner.
    expect(statuses.map((s) => [s.state, s.readOnly])).toEqual([
      ['connected', false],
      ['synced', false],
      ['synced', true],
      ['synced', true],
    ]);
    editor.model.type(0, 'y');
    expect(editor.model.getValue()).toBe('hello\nworld\n');
    expect(sockets[1].sentUpdates()).toEqual([]);
    // Later edits of others reach the new link.
    gateway.on('update', (update) => sockets[1].update(update));
    gateway.getText('monaco').insert(0, '// ');
    expect(editor.model.getValue()).toBe('// hello\nworld\n');
  });

  it('a reload the gateway refuses ends the session with its reason and keeps the last text', () => {
    const opened = open();
    session = opened.session;
    const { editor, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('shared\n'));
    sockets[0].receive(encodeExtension(READ_ONLY_NOTICE));
    sockets[1].accept();
    sockets[1].drop(4401, 'session expired');
    expect(session.status).toMatchObject({ state: 'closed', code: 4401, readOnly: true });
    expect(session.status.message).toMatch(/Not signed in/);
    expect(readOnlyOption(editor)).toBe(true);
    expect(editor.model.getValue()).toBe('shared\n');
    expect(sockets[0].readyState).toBe(3);
    vi.advanceTimersByTime(60000);
    expect(sockets).toHaveLength(2);
  });

  it('refused with 4403: the editor is locked, the banner has a plain reason, and nothing reconnects', () => {
    const opened = open();
    session = opened.session;
    const { editor, sockets } = opened;
    sockets[0].accept();
    sockets[0].drop(4403, 'forbidden');
    expect(session.status).toMatchObject({ state: 'closed', code: 4403 });
    expect(session.status.message).toMatch(/Access denied/);
    expect(readOnlyOption(editor)).toBe(true);
    vi.advanceTimersByTime(60000);
    expect(sockets).toHaveLength(1);
  });

  it('disconnect() gives the editor its own read-only setting back and ends the reload too', () => {
    const opened = open();
    const { editor, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('a\n'));
    sockets[0].receive(encodeExtension(READ_ONLY_NOTICE));
    expect(sockets).toHaveLength(2);
    opened.session.disconnect();
    expect(readOnlyOption(editor)).toBe(false);
    expect(sockets.every((s) => s.readyState === 3)).toBe(true);
    expect(opened.session.status).toMatchObject({ state: 'closed', code: 1000 });
    vi.advanceTimersByTime(60000);
    expect(sockets).toHaveLength(2);
  });
});
