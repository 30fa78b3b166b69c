// Where Ctrl+Z goes: to the gateway once it offers server-side undo (an `undo-state` arrived),
// else to the local undo manager; never to Monaco's own undo stack; nowhere when read-only.
// The test plays the gateway through FakeSocket and presses keys on a FakeEditor that resolves
// them the way Monaco does (an action's keybinding, else Monaco's default, which calls the model).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { connect, decodeExtensionFrame, type CollabSession, type UndoState } from '../../src/index.js';
import { encodeExtension } from '../../src/extension.js';
import { FakeSocket } from './fake-socket.js';
import { FakeEditor, fakeMonaco, stubDocument } from './fake-editor.js';

const { CtrlCmd, Shift } = fakeMonaco.KeyMod;
const { KeyZ, KeyY } = fakeMonaco.KeyCode;
const CTRL_Z = CtrlCmd | KeyZ;
const CTRL_SHIFT_Z = CtrlCmd | Shift | KeyZ;
const CTRL_Y = CtrlCmd | KeyY;

function gatewayDoc(text: string) {
  const doc = new Y.Doc();
  doc.getText('monaco').insert(0, text);
  return doc;
}

function open(options: { readOnly?: boolean; undo?: boolean; user?: string } = {}) {
  const editor = new FakeEditor();
  const session = connect({
    monaco: fakeMonaco,
    editor: editor.asEditor,
    url: 'ws://gw:1',
    fileId: 'demo/main.ts',
    name: 'Ann',
    WebSocketPolyfill: FakeSocket as unknown as typeof WebSocket,
    ...options,
  });
  const states: UndoState[] = [];
  session.on('undo-state', (s) => states.push(s));
  return { editor, session, states, sockets: FakeSocket.all };
}

/** The extension requests (their `type`s) a socket sent, in order. */
function requests(socket: FakeSocket): string[] {
  return socket.sent.flatMap((frame) => {
    const message = decodeExtensionFrame(frame);
    return message?.type === 'unknown' ? [message.raw.type] : [];
  });
}

const undoState = (undo: number, redo: number, extra: Record<string, unknown> = {}) =>
  encodeExtension({ type: 'undo-state', undo, redo, ...extra });

describe('undo and redo: on the gateway when it offers them, else local', () => {
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

  it('opts in with ?ext=undo (and ?user= when given); read-only and undo: false do not', () => {
    session = open({ user: 'ann' }).session;
    expect(FakeSocket.all[0].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo&user=ann');
    session.disconnect();
    session = open({ readOnly: true }).session;
    expect(FakeSocket.all[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts');
    session.disconnect();
    session = open({ undo: false }).session;
    expect(FakeSocket.all[2].url).toBe('ws://gw:1/doc/demo%2Fmain.ts');
  });

  it('offered: Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y, editor.trigger, the actions and Monaco\'s own commands all ask the gateway; nothing changes locally', () => {
    const opened = open();
    session = opened.session;
    const { editor, states, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('hello\n'));
    expect(session.undoState).toMatchObject({ mode: 'local' }); // not offered yet
    sockets[0].receive(undoState(0, 0)); // on join, right after sync
    expect(session.undoState).toEqual({ mode: 'server', undo: 0, redo: 0, ready: true });
    editor.model.type(6, 'mine');
    sockets[0].receive(undoState(1, 0)); // the count moved from zero
    expect(states.at(-1)).toEqual({ mode: 'server', undo: 1, redo: 0, ready: true });

    editor.press(CTRL_Z);
    editor.press(CTRL_SHIFT_Z);
    editor.press(CTRL_Y);
    editor.trigger('keyboard', 'undo');
    editor.trigger('keyboard', 'redo');
    void editor.model.undo(); // Monaco's global `undo` command (its menus, its own keybinding)
    void editor.model.redo();
    expect(requests(sockets[0])).toEqual(['undo', 'redo', 'redo', 'undo', 'redo', 'undo', 'redo']);
    expect(editor.model.getValue()).toBe('hello\nmine'); // the result comes as an update
    expect(editor.model.nativeUndo).toEqual({ undo: 0, redo: 0 });
    expect(session.undo()).toBe(true);
    expect(requests(sockets[0]).at(-1)).toBe('undo');

    // The reply is an event even when the counts stay; the result is an ordinary update.
    sockets[0].receive(undoState(0, 1, { op: 'undo', applied: true }));
    expect(states.at(-1)).toEqual({ mode: 'server', undo: 0, redo: 1, ready: true, op: 'undo', applied: true });
    sockets[0].receive(undoState(0, 1, { op: 'undo', applied: false }));
    expect(states.at(-1)).toEqual({ mode: 'server', undo: 0, redo: 1, ready: true, op: 'undo', applied: false });
    expect(session.undoState).toEqual({ mode: 'server', undo: 0, redo: 1, ready: true }); // no op in the state itself
    // The editor offers both in its context menu.
    expect([...editor.actions.values()].map((a) => [a.id, a.contextMenuGroupId])).toEqual([
      ['undo', '8_undo'],
      ['redo', '8_undo'],
    ]);
  });

  it('not offered: the local undo manager takes back and brings back this tab\'s own edits, and nothing is sent', () => {
    const opened = open();
    session = opened.session;
    const { editor, states, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('shared\n'));
    editor.model.type(7, 'mine');
    expect(states.at(-1)).toEqual({ mode: 'local', undo: 1, redo: 0, ready: true });
    editor.press(CTRL_Z);
    expect(editor.model.getValue()).toBe('shared\n');
    expect(states.at(-1)).toEqual({ mode: 'local', undo: 0, redo: 1, ready: true });
    editor.press(CTRL_Y);
    expect(editor.model.getValue()).toBe('shared\nmine');
    editor.trigger('keyboard', 'undo');
    expect(editor.model.getValue()).toBe('shared\n');
    void editor.model.redo();
    expect(editor.model.getValue()).toBe('shared\nmine');
    editor.press(CTRL_Z);
    editor.press(CTRL_SHIFT_Z);
    expect(editor.model.getValue()).toBe('shared\nmine');
    expect(requests(sockets[0])).toEqual([]);
    expect(editor.model.nativeUndo).toEqual({ undo: 0, redo: 0 });
    // Moving the caret ends the local undo step (edits in one step otherwise: the clock stands still).
    editor.model.type(0, 'a');
    editor.moveCaret();
    editor.model.type(1, 'b');
    editor.press(CTRL_Z);
    expect(editor.model.getValue()).toBe('ashared\nmine');
    // An unknown or malformed undo-state offers nothing.
    sockets[0].receive(encodeExtension({ type: 'undo-state', undo: -1, redo: 0 }));
    expect(session.undoState.mode).toBe('local');
  });

  it('once offered, the local history is dropped (one history only), and it stays server undo across a reconnect', () => {
    const opened = open();
    session = opened.session;
    const { editor, states, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc(''));
    editor.model.type(0, 'before the offer');
    expect(session.undoState).toEqual({ mode: 'local', undo: 1, redo: 0, ready: true });
    sockets[0].receive(undoState(1, 0));
    expect(session.undoState).toEqual({ mode: 'server', undo: 1, redo: 0, ready: true });
    editor.model.type(0, '>');
    editor.press(CTRL_Z);
    expect(editor.model.getValue()).toBe('>before the offer'); // not undone locally
    expect(requests(sockets[0])).toEqual(['undo']);

    // The socket drops: requests wait for the next socket's offer (never the local manager).
    sockets[0].drop(1006);
    expect(states.at(-1)).toEqual({ mode: 'server', undo: 1, redo: 0, ready: false });
    expect(session.undo()).toBe(false);
    editor.press(CTRL_Z);
    expect(editor.model.getValue()).toBe('>before the offer');
    vi.advanceTimersByTime(3000);
    expect(sockets).toHaveLength(2);
    sockets[1].accept();
    sockets[1].sync(gatewayDoc(''));
    editor.press(CTRL_Z);
    expect(requests(sockets[1])).toEqual([]); // this socket has not been offered yet
    sockets[1].receive(undoState(2, 0));
    expect(states.at(-1)).toEqual({ mode: 'server', undo: 2, redo: 0, ready: true });
    editor.press(CTRL_Z);
    expect(requests(sockets[1])).toEqual(['undo']);
  });

  it('read-only: no undo, opened so or told so by the gateway', () => {
    const viewer = open({ readOnly: true });
    session = viewer.session;
    viewer.sockets[0].accept();
    viewer.sockets[0].sync(gatewayDoc('text\n'));
    viewer.sockets[0].receive(undoState(0, 0)); // a gateway would not send it; ignored anyway
    expect(session.undoState).toEqual({ mode: 'none', undo: 0, redo: 0, ready: false });
    expect(session.undo()).toBe(false);
    viewer.editor.press(CTRL_Z); // Monaco's own undo, which a read-only editor ignores
    expect(viewer.editor.model.nativeUndo.undo).toBe(0);
    expect(requests(viewer.sockets[0])).toEqual([]);
    session.disconnect();

    FakeSocket.all = [];
    const told = open();
    session = told.session;
    const { editor, states, sockets } = told;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('text\n'));
    sockets[0].receive(undoState(0, 0));
    expect(session.undoState.mode).toBe('server');
    sockets[0].receive(encodeExtension({ type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' }));
    expect(states.at(-1)).toEqual({ mode: 'none', undo: 0, redo: 0, ready: false });
    expect(session.undoState.mode).toBe('none');
    editor.press(CTRL_Z);
    editor.trigger('keyboard', 'undo');
    expect(session.undo()).toBe(false);
    expect(requests(sockets[0])).toEqual([]);
  });

  it('disconnect() removes the actions and gives the model its own undo and redo back', () => {
    const opened = open();
    const { editor, sockets } = opened;
    sockets[0].accept();
    sockets[0].sync(gatewayDoc(''));
    sockets[0].receive(undoState(0, 0));
    expect(editor.actions.size).toBe(2);
    expect(Object.prototype.hasOwnProperty.call(editor.model, 'undo')).toBe(true);
    opened.session.disconnect();
    expect(editor.actions.size).toBe(0);
    expect(Object.prototype.hasOwnProperty.call(editor.model, 'undo')).toBe(false);
    editor.press(CTRL_Z);
    expect(editor.model.nativeUndo).toEqual({ undo: 1, redo: 0 });
    expect(opened.session.undoState.mode).toBe('none');
  });
});
