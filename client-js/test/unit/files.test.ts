// File state (`?ext=files`): the `file-state` message decoded as the gateway writes it (unknown
// states and malformed fields ignored), the session's opt-in URL, its `fileState` and its
// `file-state` event (the gateway played by a FakeSocket), and the words the status bar shows,
// in the library and in the demo's tool bar.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import {
  FILE_SYNC_STATES,
  connect,
  fileStateDetail,
  fileStateOf,
  fileStateText,
  parseExtension,
  shortEtag,
  type CollabSession,
  type Extension,
  type FileState,
} from '../../src/index.js';
import { encodeExtension } from '../../src/extension.js';
import { showFileState, type StatusElement } from '../../demo/file-status.js';
import { FakeSocket } from './fake-socket.js';
import { FakeEditor, fakeMonaco, stubDocument } from './fake-editor.js';

const ETAG = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

describe('file-state messages', () => {
  it('parse as the protocol crate writes them: etag and reason only when sent', () => {
    // The Rust side's own test strings (protocol/src/extension.rs).
    expect(parseExtension(`{"type":"file-state","state":"saved","etag":"${ETAG}"}`)).toEqual({ type: 'file-state', state: 'saved', etag: ETAG });
    expect(parseExtension('{"type":"file-state","state":"failed","reason":"disk full"}')).toEqual({ type: 'file-state', state: 'failed', reason: 'disk full' });
    expect(parseExtension('{"type":"file-state","state":"saving"}')).toEqual({ type: 'file-state', state: 'saving' });
    expect(parseExtension('{"type":"file-state","state":"deleted","etag":null,"reason":null,"later":1}')).toEqual({ type: 'file-state', state: 'deleted' });
    for (const state of FILE_SYNC_STATES) expect(parseExtension(JSON.stringify({ type: 'file-state', state }))).toEqual({ type: 'file-state', state });
    expect(FILE_SYNC_STATES).toEqual(['saved', 'saving', 'merged', 'deleted', 'failed']);
  });

  it('treat an unknown state or a malformed field as unknown (ignored), never as a state', () => {
    for (const body of [
      '{"type":"file-state","state":"archived"}', // a state a newer gateway may add
      '{"type":"file-state","state":"Saved"}',
      '{"type":"file-state"}',
      '{"type":"file-state","state":3}',
      '{"type":"file-state","state":"saved","etag":42}',
      '{"type":"file-state","state":"failed","reason":{"text":"disk full"}}',
    ]) {
      expect(parseExtension(body)?.type, body).toBe('unknown');
    }
  });

  it('become a FileState with the time they arrived; other messages do not', () => {
    const saved = parseExtension(`{"type":"file-state","state":"saved","etag":"${ETAG}"}`)!;
    expect(fileStateOf(saved, 1234)).toEqual({ state: 'saved', etag: ETAG, at: 1234 });
    const failed = parseExtension('{"type":"file-state","state":"failed","reason":"disk full"}')!;
    expect(fileStateOf(failed, 5)).toEqual({ state: 'failed', reason: 'disk full', at: 5 });
    const now = Date.now();
    expect(fileStateOf({ type: 'file-state', state: 'saving' })!.at).toBeGreaterThanOrEqual(now);
    expect(fileStateOf({ type: 'undo-state', undo: 1, redo: 0 })).toBeNull();
    expect(fileStateOf(parseExtension('{"type":"file-state","state":"archived"}')!)).toBeNull();
  });
});

describe('the status-bar text', () => {
  it('says saved, saving…, changed outside, merged, deleted outside, write failed: <reason>', () => {
    expect(fileStateText({ state: 'saved' })).toBe('saved');
    expect(fileStateText({ state: 'saving' })).toBe('saving…');
    expect(fileStateText({ state: 'merged' })).toBe('changed outside, merged');
    expect(fileStateText({ state: 'deleted' })).toBe('deleted outside');
    expect(fileStateText({ state: 'failed', reason: 'disk full' })).toBe('write failed: disk full');
    expect(fileStateText({ state: 'failed' })).toBe('write failed');
    expect(fileStateText(null)).toBe('');
  });

  it('explains each state in the tooltip, with the short version when there is one', () => {
    expect(shortEtag(ETAG)).toBe('9f86d081');
    expect(shortEtag(`"${ETAG}"`)).toBe('9f86d081'); // as HTTP quotes it
    expect(fileStateDetail({ state: 'saved', etag: ETAG })).toBe('The file has the text shown here (version 9f86d081).');
    expect(fileStateDetail({ state: 'merged', etag: ETAG })).toContain('changed outside the editor (version 9f86d081)');
    expect(fileStateDetail({ state: 'deleted' })).toBe('The file was deleted outside the editor; the next edit writes it again.');
    expect(fileStateDetail({ state: 'failed', reason: 'disk full' })).toBe('Writing the file failed: disk full. The gateway tries again; your text is kept.');
    expect(fileStateDetail({ state: 'saving' })).toBe('Writing the text shown here to the file…');
    expect(fileStateDetail(null)).toBe('');
  });

  it("in the demo's tool bar: hidden until the first state, then its text, state and tooltip", () => {
    const element: StatusElement = { textContent: '', title: '', hidden: true, dataset: { state: 'none' } };
    showFileState(element, { state: 'saving', at: 1 });
    expect(element).toEqual({ textContent: 'saving…', title: 'Writing the text shown here to the file…', hidden: false, dataset: { state: 'saving' } });
    showFileState(element, { state: 'failed', reason: 'permission denied', at: 2 });
    expect([element.textContent, element.dataset.state, element.hidden]).toEqual(['write failed: permission denied', 'failed', false]);
    showFileState(element, { state: 'merged', etag: ETAG, at: 3 });
    expect([element.textContent, element.dataset.state]).toEqual(['changed outside, merged', 'merged']);
    expect(element.title).toContain('version 9f86d081');
    showFileState(element, null); // left the file
    expect(element).toEqual({ textContent: '', title: '', hidden: true, dataset: { state: 'none' } });
  });
});

describe('file state in a session', () => {
  const sessions: CollabSession[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    stubDocument();
  });
  afterEach(() => {
    for (const session of sessions.splice(0)) session.disconnect();
    vi.useRealTimers();
  });

  function open(options: { readOnly?: boolean; files?: boolean; diagnostics?: boolean; undo?: boolean } = {}) {
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
    sessions.push(session);
    const events: FileState[] = [];
    const messages: Extension[] = [];
    session.on('file-state', (state) => events.push(state));
    session.on('extension', (message) => messages.push(message));
    return { session, editor, events, messages, sockets: FakeSocket.all };
  }

  const fileState = (state: string, fields: Record<string, string> = {}) => encodeExtension({ type: 'file-state', state, ...fields });

  function gatewayDoc(text: string) {
    const doc = new Y.Doc();
    doc.getText('monaco').insert(0, text);
    return doc;
  }

  it('opts in with ?ext=files only when asked, beside undo and diagnostics, readers too', () => {
    expect(open({ files: true }).sockets[0].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo%2Cfiles');
    expect(open({ files: true, diagnostics: true }).sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo%2Cdiagnostics%2Cfiles');
    expect(open({ files: true, readOnly: true }).sockets[2].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=files');
    expect(open({ files: true, undo: false }).sockets[3].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=files');
    expect(open().sockets[4].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo'); // not asked: not sent
  });

  it('keeps the last file-state with when it arrived and emits each one; null before the first', () => {
    vi.setSystemTime(1_000_000);
    const { session, events, messages, sockets } = open({ files: true });
    expect(session.fileState).toBeNull();
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('hello\n'));
    expect(session.fileState).toBeNull(); // the gateway sends none on join
    sockets[0].receive(fileState('saving'));
    expect(session.fileState).toEqual({ state: 'saving', at: 1_000_000 });
    vi.setSystemTime(1_000_250);
    sockets[0].receive(fileState('saved', { etag: ETAG }));
    expect(session.fileState).toEqual({ state: 'saved', etag: ETAG, at: 1_000_250 });
    sockets[0].receive(fileState('merged', { etag: ETAG }));
    sockets[0].receive(fileState('merged', { etag: ETAG })); // two merges are two events
    sockets[0].receive(fileState('deleted'));
    sockets[0].receive(fileState('failed', { reason: 'disk full' }));
    expect(events.map((e) => fileStateText(e))).toEqual(['saving…', 'saved', 'changed outside, merged', 'changed outside, merged', 'deleted outside', 'write failed: disk full']);
    expect(session.fileState).toEqual(events.at(-1));
    expect(messages.filter((m) => m.type === 'file-state')).toHaveLength(6); // also as extension messages
  });

  it('ignores unknown states and malformed messages: the state stays, no event, the connection lives', () => {
    const { session, events, messages, sockets } = open({ files: true });
    sockets[0].accept();
    sockets[0].sync();
    sockets[0].receive(fileState('saved', { etag: ETAG }));
    sockets[0].receive(fileState('archived'));
    sockets[0].receive(encodeExtension({ type: 'file-state', state: 'failed', reason: 7 }));
    sockets[0].receive(encodeExtension({ type: 'file-state' }));
    expect(events.map((e) => e.state)).toEqual(['saved']);
    expect(session.fileState?.state).toBe('saved');
    expect(messages.map((m) => m.type)).toEqual(['file-state', 'unknown', 'unknown', 'unknown']);
    expect(session.status.state).toBe('synced');
    sockets[0].receive(fileState('saving'));
    expect(session.fileState?.state).toBe('saving');
  });

  it('without files: true a file-state changes nothing (an extension message only)', () => {
    const { session, events, messages, sockets } = open();
    sockets[0].accept();
    sockets[0].sync();
    sockets[0].receive(fileState('saved'));
    expect(session.fileState).toBeNull();
    expect(events).toEqual([]);
    expect(messages.map((m) => m.type)).toEqual(['file-state']);
  });

  it('keeps the last state across a reconnection, opts in again, and follows the new socket', () => {
    const { session, events, sockets } = open({ files: true });
    sockets[0].accept();
    sockets[0].sync();
    sockets[0].receive(fileState('saved', { etag: ETAG }));
    sockets[0].drop(1012, 'gateway restarting');
    vi.advanceTimersByTime(3000);
    expect(sockets).toHaveLength(2);
    expect(sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo%2Cfiles');
    expect(session.fileState?.state).toBe('saved');
    sockets[1].accept();
    sockets[1].sync();
    sockets[1].receive(fileState('merged', { etag: 'beef' }));
    expect(session.fileState).toMatchObject({ state: 'merged', etag: 'beef' });
    expect(events.map((e) => e.state)).toEqual(['saved', 'merged']);
  });

  it('after a read-only notice: the reload opts in too, and its messages count once it took over', () => {
    const { session, events, sockets } = open({ files: true });
    sockets[0].accept();
    sockets[0].sync(gatewayDoc('hello\n'));
    sockets[0].receive(fileState('saved', { etag: ETAG }));
    sockets[0].receive(encodeExtension({ type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' }));
    expect(sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=files'); // a reader: no undo
    sockets[1].accept();
    sockets[1].receive(fileState('saving')); // before it synced: the old link still speaks for the file
    sockets[0].receive(fileState('saving'));
    expect(events.map((e) => e.state)).toEqual(['saved', 'saving']);
    sockets[1].sync(gatewayDoc('hello\n'));
    sockets[0].receive(fileState('failed', { reason: 'from the old link' })); // gone: ignored
    sockets[1].receive(fileState('saved', { etag: 'cafe' }));
    expect(events.map((e) => e.state)).toEqual(['saved', 'saving', 'saved']);
    expect(session.fileState).toMatchObject({ state: 'saved', etag: 'cafe' });
  });

  it('has no state after disconnect() and emits nothing more', () => {
    const { session, events, sockets } = open({ files: true });
    sockets[0].accept();
    sockets[0].sync();
    sockets[0].receive(fileState('saved'));
    session.disconnect();
    expect(session.fileState).toBeNull();
    sockets[0].receive(fileState('saving'));
    expect(events).toHaveLength(1);
  });
});
