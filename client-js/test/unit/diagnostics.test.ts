// The gateway's diagnostics as markers: shown per source for the text on screen only, stale or
// raced messages dropped (the previous markers stay), cleared by an empty list and on dispose.
// The markers go to a recorder standing in for `monaco.editor.setModelMarkers`; the model is a
// FakeModel. The last tests run the wiring through a session, with the gateway played by a
// FakeSocket. (The browser test runs it on real Monaco against a real gateway.)
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as Monaco from 'monaco-editor';
import * as Y from 'yjs';
import { digest as sha256Js } from 'lib0/hash/sha256';
import {
  Diagnostics,
  connect,
  markerOwner,
  parseExtension,
  sha256Hex,
  type CollabSession,
  type DiagnosticCounts,
  type DiagnosticMarker,
  type Extension,
  type MonacoApi,
} from '../../src/index.js';
import { encodeExtension } from '../../src/extension.js';
import { FakeModel } from './fake-model.js';
import { FakeSocket } from './fake-socket.js';
import { FakeEditor, fakeMonaco, stubDocument } from './fake-editor.js';

/** The gateway's version of a text, computed with lib0's SHA-256 (not Web Crypto, which the code uses). */
const hex = (text: string) => [...sha256Js(new TextEncoder().encode(text))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** What `setModelMarkers` was told, by owner (the last call wins, as in Monaco). */
class MarkerRecorder {
  readonly byOwner = new Map<string, Monaco.editor.IMarkerData[]>();
  calls = 0;
  /** Every call: the owner and how many markers. */
  readonly log: [string, number][] = [];
  readonly set = (_model: unknown, owner: string, markers: Monaco.editor.IMarkerData[]) => {
    this.calls++;
    this.log.push([owner, markers.length]);
    if (markers.length === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, markers);
  };
  of(source: string) {
    return this.byOwner.get(markerOwner(source)) ?? [];
  }
}

const error = (line: number, message = 'missing `)`', from = 5, to = 6): DiagnosticMarker => ({
  severity: 8,
  message,
  startLineNumber: line,
  startColumn: from,
  endLineNumber: line,
  endColumn: to,
});
const warning = (line: number, message = 'unused'): DiagnosticMarker => ({ ...error(line, message, 1, 2), severity: 4 });

/** A decoded `diagnostics` message, as the connection hands it over. */
function message(source: string, text: string, markers: DiagnosticMarker[]): Extension {
  const parsed = parseExtension(JSON.stringify({ type: 'diagnostics', source, version: hex(text), markers }));
  if (parsed?.type !== 'diagnostics') throw new Error('not a diagnostics message');
  return parsed;
}

function setup(text: string, digest?: (text: string) => Promise<string>) {
  const model = new FakeModel(text);
  const markers = new MarkerRecorder();
  const counts: DiagnosticCounts[] = [];
  const diagnostics = new Diagnostics({ model, setModelMarkers: markers.set, onChange: (c) => counts.push(c), ...(digest ? { digest } : {}) });
  return { model, markers, counts, diagnostics };
}

const TEXT = 'const a = 1;\nfunction f( {\n}\n';

describe('diagnostics: the gateway\'s markers for the text on screen', () => {
  it('shows the markers of the current version under the source\'s owner, and counts them', async () => {
    const { markers, counts, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2, 'missing `)`', 12, 13), warning(1)]));
    expect([...markers.byOwner.keys()]).toEqual(['collab:syntax']);
    expect(markers.of('syntax')).toEqual([
      { severity: 8, message: 'missing `)`', source: 'syntax', startLineNumber: 2, startColumn: 12, endLineNumber: 2, endColumn: 13 },
      { severity: 4, message: 'unused', source: 'syntax', startLineNumber: 1, startColumn: 1, endLineNumber: 1, endColumn: 2 },
    ]);
    expect(counts).toEqual([{ errors: 1, warnings: 1, bySource: { syntax: { errors: 1, warnings: 1 } } }]);
    expect(diagnostics.counts).toEqual(counts[0]);
  });

  it('drops a stale version and keeps the markers shown before', async () => {
    const { model, markers, counts, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    model.type(0, '// edited\n');
    await diagnostics.receive(message('syntax', TEXT, [error(3, 'for the old text')])); // computed before the edit
    await diagnostics.receive(message('syntax', 'some other text', []));
    expect(markers.of('syntax').map((m) => [m.startLineNumber, m.message])).toEqual([[2, 'missing `)`']]);
    expect(counts).toHaveLength(1);
    // The settled version brings fresh ones.
    await diagnostics.receive(message('syntax', model.getValue(), [error(3, 'moved down')]));
    expect(markers.of('syntax').map((m) => [m.startLineNumber, m.message])).toEqual([[3, 'moved down']]);
  });

  it('clears a source with an empty list', async () => {
    const { model, markers, counts, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    model.type(TEXT.indexOf('( {') + 1, ')'); // fixed: `function f() {`
    await diagnostics.receive(message('syntax', model.getValue(), []));
    expect(markers.byOwner.size).toBe(0);
    expect(counts.at(-1)).toEqual({ errors: 0, warnings: 0, bySource: {} });
    const calls = markers.calls;
    await diagnostics.receive(message('syntax', model.getValue(), [])); // nothing shown: nothing to clear
    expect(markers.calls).toBe(calls);
  });

  it('keeps two sources independent', async () => {
    const { markers, counts, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    await diagnostics.receive(message('tsc', TEXT, [warning(1, 'a is unused'), error(3, 'expected }')]));
    expect(markers.of('syntax')).toHaveLength(1);
    expect(markers.of('tsc').map((m) => [m.severity, m.message, m.source])).toEqual([
      [4, 'a is unused', 'tsc'],
      [8, 'expected }', 'tsc'],
    ]);
    expect(counts.at(-1)).toEqual({ errors: 2, warnings: 1, bySource: { syntax: { errors: 1, warnings: 0 }, tsc: { errors: 1, warnings: 1 } } });
    await diagnostics.receive(message('syntax', TEXT, []));
    expect(markers.of('syntax')).toEqual([]);
    expect(markers.of('tsc')).toHaveLength(2);
    expect(counts.at(-1)).toEqual({ errors: 1, warnings: 1, bySource: { tsc: { errors: 1, warnings: 1 } } });
  });

  it('ignores a malformed message (it decodes as unknown) and every other extension', async () => {
    const { markers, counts, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    const version = hex(TEXT);
    const good = { severity: 8, message: 'x', startLineNumber: 1, startColumn: 1, endLineNumber: 1, endColumn: 2 };
    for (const body of [
      { type: 'diagnostics', source: 'syntax', version, markers: [{ ...good, severity: 3 }] },
      { type: 'diagnostics', source: 'syntax', version, markers: [{ ...good, startLineNumber: -1 }] },
      { type: 'diagnostics', source: 'syntax', version, markers: [{ ...good, endColumn: 1.5 }] },
      { type: 'diagnostics', source: 'syntax', version, markers: [{ ...good, message: 7 }] },
      { type: 'diagnostics', source: 'syntax', version, markers: [{ ...good, code: 42 }] },
      { type: 'diagnostics', source: 'syntax', version, markers: [good, null] },
      { type: 'diagnostics', source: 'syntax', version, markers: {} },
      { type: 'diagnostics', source: 'syntax', markers: [] },
      { type: 'diagnostics', source: '', version, markers: [] },
      { type: 'diagnostics', version, markers: [] },
    ]) {
      const parsed = parseExtension(JSON.stringify(body));
      expect(parsed?.type, JSON.stringify(body)).toBe('unknown');
      await diagnostics.receive(parsed!);
    }
    await diagnostics.receive({ type: 'undo-state', undo: 1, redo: 0 });
    expect(markers.of('syntax').map((m) => m.message)).toEqual(['missing `)`']);
    expect(counts).toHaveLength(1);
  });

  it('clears every source on dispose and ignores what comes after', async () => {
    const { markers, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    await diagnostics.receive(message('tsc', TEXT, [warning(1)]));
    diagnostics.dispose();
    expect(markers.byOwner.size).toBe(0);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    expect(markers.byOwner.size).toBe(0);
    diagnostics.dispose(); // idempotent
  });

  it('drops a message when the text changes while its digest runs (the previous markers stay)', async () => {
    const { model, markers, diagnostics } = setup(TEXT);
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    // Real Web Crypto: the edit lands after the digest started and before it resolved.
    const pending = diagnostics.receive(message('syntax', TEXT, [error(1, 'would be misplaced')]));
    model.type(0, 'x');
    await pending;
    expect(markers.of('syntax').map((m) => m.message)).toEqual(['missing `)`']);

    // The same with digests the test releases: the edit makes the first one the digest of a
    // text that is gone; the message is checked again against the new text, which it is not for.
    const releases: (() => void)[] = [];
    const held = setup(TEXT, (text) => new Promise<string>((resolve) => releases.push(() => resolve(hex(text)))));
    const racing = held.diagnostics.receive(message('syntax', TEXT, [error(2)]));
    held.model.type(0, '\n');
    releases[0]();
    await racing;
    await vi.waitFor(() => expect(releases).toHaveLength(2));
    releases[1]();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(held.markers.byOwner.size).toBe(0);

    // A message for the text an edit in flight brings: raced at first, shown after the recheck.
    releases.length = 0;
    const early = setup(TEXT, (text) => new Promise<string>((resolve) => releases.push(() => resolve(hex(text)))));
    const next = `${TEXT}// more\n`;
    const arriving = early.diagnostics.receive(message('syntax', next, [error(5, 'on the new line', 1, 3)]));
    early.model.type(TEXT.length, '// more\n');
    releases[0](); // the digest of TEXT: no match, and the text moved on
    await arriving;
    await vi.waitFor(() => expect(releases).toHaveLength(2));
    releases[1](); // the digest of the new text: its version
    await vi.waitFor(() => expect(early.markers.of('syntax').map((m) => m.message)).toEqual(['on the new line']));
  });

  it('shows a message that came before its text (a joiner gets diagnostics before the sync reply) once the text is there', async () => {
    const { model, markers, diagnostics } = setup('');
    await diagnostics.receive(message('syntax', TEXT, [error(2)]));
    expect(markers.byOwner.size).toBe(0);
    model.type(0, TEXT); // the sync reply
    await vi.waitFor(() => expect(markers.of('syntax')).toHaveLength(1));
  });

  it('lets only the newest message of a source wait, and not for ever', async () => {
    // Counting digests: a message checked again asks for one (the text changed).
    const hashed: string[] = [];
    const counting = (text: string) => (hashed.push(text), sha256Hex(text));
    const flush = () => new Promise((resolve) => setTimeout(resolve, 0)); // the coalesced recheck

    const { model, markers, diagnostics } = setup('', counting);
    await diagnostics.receive(message('syntax', TEXT, [error(2, 'superseded')]));
    await diagnostics.receive(message('syntax', '', [warning(1, 'for the empty text')]));
    expect(markers.of('syntax').map((m) => m.message)).toEqual(['for the empty text']);
    model.type(0, TEXT); // the text of the first message: it was superseded, nothing is checked
    await flush();
    expect(hashed).toEqual(['']);
    expect(markers.of('syntax').map((m) => m.message)).toEqual(['for the empty text']);

    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      hashed.length = 0;
      const later = setup('', counting);
      await later.diagnostics.receive(message('syntax', TEXT, [error(2)]));
      vi.setSystemTime(Date.now() + 10_001); // the default wait is 10 s
      later.model.type(0, TEXT);
      await flush();
      expect(hashed).toEqual(['']); // expired: not checked again
      expect(later.markers.byOwner.size).toBe(0);
      later.model.type(0, 'x');
      await flush();
      expect(hashed).toEqual(['']); // and forgotten
    } finally {
      vi.useRealTimers();
    }
  });

  it('shares one digest among the messages of one version, and shows them in the order they came', async () => {
    const releases: (() => void)[] = [];
    const { model, markers, diagnostics } = setup(TEXT, (text) => new Promise((resolve) => releases.push(() => resolve(hex(text)))));
    const older = diagnostics.receive(message('syntax', TEXT, [error(2, 'older')]));
    const newer = diagnostics.receive(message('syntax', TEXT, [error(2, 'newer')]));
    expect(releases).toHaveLength(1); // one digest per model version, shared
    releases[0]();
    await Promise.all([newer, older]);
    expect(markers.of('syntax').map((m) => m.message)).toEqual(['newer']);
    expect(model.getVersionId()).toBe(1);
  });

  it('clamps markers to the model: lines, columns, and an end before the start', async () => {
    const text = 'ab\n\nlast';
    const { markers, diagnostics } = setup(text);
    await diagnostics.receive(
      message('tool', text, [
        { severity: 2, message: 'past the end', startLineNumber: 9, startColumn: 9, endLineNumber: 12, endColumn: 1 },
        { severity: 1, message: 'zeros', startLineNumber: 0, startColumn: 0, endLineNumber: 0, endColumn: 0, code: 'H1' },
        { severity: 8, message: 'backwards', startLineNumber: 1, startColumn: 3, endLineNumber: 1, endColumn: 1 },
        { severity: 4, message: 'long column', startLineNumber: 2, startColumn: 1, endLineNumber: 2, endColumn: 80 },
      ]),
    );
    expect(markers.of('tool').map(({ startLineNumber, startColumn, endLineNumber, endColumn, code }) => [startLineNumber, startColumn, endLineNumber, endColumn, code])).toEqual([
      [3, 5, 3, 5, undefined],
      [1, 1, 1, 1, 'H1'],
      [1, 3, 1, 3, undefined],
      [2, 1, 2, 1, undefined],
    ]);
  });

  it('names a version by the lowercase hex SHA-256 of the UTF-8 text (Web Crypto and the JS fallback agree)', async () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // FIPS 180-2 test vector
    expect(await sha256Hex('abc')).toBe(abc);
    expect(hex('abc')).toBe(abc);
    const text = 'a😀é\n'; // UTF-8: 1 + 4 + 2 + 1 bytes
    expect(await sha256Hex(text)).toBe(hex(text));
  });
});

describe('diagnostics in a session', () => {
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

  function open(options: { readOnly?: boolean; diagnostics?: boolean } = {}) {
    const markers = new MarkerRecorder();
    const monaco = { ...fakeMonaco, editor: { ...fakeMonaco.editor, setModelMarkers: markers.set } } as unknown as MonacoApi;
    const editor = new FakeEditor();
    const opened = connect({
      monaco,
      editor: editor.asEditor,
      url: 'ws://gw:1',
      fileId: 'demo/main.ts',
      name: 'Bob',
      WebSocketPolyfill: FakeSocket as unknown as typeof WebSocket,
      ...options,
    });
    sessions.push(opened);
    const counts: DiagnosticCounts[] = [];
    opened.on('diagnostics', (c) => counts.push(c));
    return { session: opened, editor, markers, counts, sockets: FakeSocket.all };
  }

  const frame = (source: string, text: string, markers: DiagnosticMarker[]) =>
    encodeExtension({ type: 'diagnostics', source, version: hex(text), markers: markers as unknown as Record<string, unknown>[] });

  function gatewayDoc(text: string) {
    const doc = new Y.Doc();
    doc.getText('monaco').insert(0, text);
    return doc;
  }

  it('opts in with ?ext=diagnostics only when asked (writers and readers), and shows what the gateway sends', async () => {
    const { session, markers, counts, sockets } = open({ diagnostics: true });
    expect(sockets[0].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo%2Cdiagnostics');
    sockets[0].accept();
    sockets[0].sync(gatewayDoc(TEXT));
    sockets[0].receive(frame('syntax', TEXT, [error(2)]));
    await vi.waitFor(() => expect(markers.of('syntax')).toHaveLength(1));
    expect(counts.at(-1)).toEqual({ errors: 1, warnings: 0, bySource: { syntax: { errors: 1, warnings: 0 } } });
    expect(session.diagnostics).toEqual(counts.at(-1));
    // A malformed frame changes nothing.
    sockets[0].receive(encodeExtension({ type: 'diagnostics', source: 'syntax', version: hex(TEXT), markers: [{ severity: 8 }] }));
    sockets[0].receive(frame('syntax', 'stale', []));
    await vi.waitFor(() => expect(markers.of('syntax')).toHaveLength(1));
    session.disconnect();
    expect(markers.byOwner.size).toBe(0); // disconnect clears the markers

    expect(open({ readOnly: true, diagnostics: true }).sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=diagnostics');
    expect(open().sockets[2].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=undo'); // not asked: not sent
  });

  it('after a read-only notice the reload keeps diagnostics: the old link\'s markers go, the new one shows what came before it was attached', async () => {
    const { session, markers, counts, sockets } = open({ diagnostics: true });
    sockets[0].accept();
    sockets[0].sync(gatewayDoc(TEXT));
    sockets[0].receive(frame('syntax', TEXT, [error(2)]));
    await vi.waitFor(() => expect(markers.of('syntax')).toHaveLength(1));
    sockets[0].receive(encodeExtension({ type: 'error', code: 4403, reason: 'read-only', message: 'edits are dropped' }));
    expect(sockets[1].url).toBe('ws://gw:1/doc/demo%2Fmain.ts?ext=diagnostics'); // the reader asks too
    sockets[1].accept();
    const reloaded = TEXT + '// more\n';
    sockets[1].receive(frame('syntax', reloaded, [error(1, 'for the reloaded text')])); // before its sync
    sockets[1].sync(gatewayDoc(reloaded));
    await vi.waitFor(() => expect(markers.of('syntax').map((m) => m.message)).toEqual(['for the reloaded text']));
    expect(markers.log).toEqual([
      ['collab:syntax', 1], // the first link
      ['collab:syntax', 0], // cleared when it ended
      ['collab:syntax', 1], // the reload's
    ]);
    expect(counts.map((c) => c.errors)).toEqual([1, 0, 1]); // shown, the reload attached, its markers shown
    expect(session.diagnostics.errors).toBe(1);
  });
});
