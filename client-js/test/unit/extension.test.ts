import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { MESSAGE_EXTENSION, decodeExtensionFrame, encodeExtension, errorExtension, isReadOnlyNotice, parseExtension, undoRequest } from '../../src/extension.js';

describe('extension messages', () => {
  it('match the protocol crate: tagged JSON with type, code, reason, message', () => {
    const json = JSON.stringify(errorExtension(1007, 'invalid-update', 'bad bytes'));
    expect(json).toBe('{"type":"error","code":1007,"reason":"invalid-update","message":"bad bytes"}');
    expect(parseExtension(json)).toEqual({ type: 'error', code: 1007, reason: 'invalid-update', message: 'bad bytes' });
  });

  it('encode as varUint(100) varString(json) and decode back', () => {
    const frame = encodeExtension({ type: 'hello', n: 1 });
    expect(frame[0]).toBe(100); // varUint(100) is one byte (< 0x80)
    expect(frame[1]).toBe('{"type":"hello","n":1}'.length); // varString: length, then UTF-8
    expect(decodeExtensionFrame(frame)).toEqual({ type: 'unknown', raw: { type: 'hello', n: 1 } });
    expect(MESSAGE_EXTENSION).toBe(100);
  });

  it('tolerate unknown types and drop bodies that are not tagged objects', () => {
    expect(parseExtension('{"type":"from-the-future","x":1}')).toEqual({ type: 'unknown', raw: { type: 'from-the-future', x: 1 } });
    expect(parseExtension('{"type":"error","code":"x"}')?.type).toBe('unknown');
    expect(parseExtension('not json')).toBeNull();
    expect(parseExtension('[1,2]')).toBeNull();
    expect(parseExtension('{"no":"type"}')).toBeNull();
    const sync = encoding.createEncoder();
    encoding.writeVarUint(sync, 0);
    expect(decodeExtensionFrame(encoding.toUint8Array(sync))).toBeNull();
    expect(decodeExtensionFrame(new Uint8Array([100, 50]))).toBeNull(); // truncated
  });

  it("recognise the gateway's read-only notice and nothing else as one", () => {
    expect(isReadOnlyNotice(errorExtension(4403, 'read-only', 'edits are dropped'))).toBe(true);
    expect(isReadOnlyNotice(errorExtension(4403, 'forbidden', 'outside your sandboxes'))).toBe(false);
    expect(isReadOnlyNotice(errorExtension(1008, 'read-only', 'x'))).toBe(false);
    expect(isReadOnlyNotice({ type: 'unknown', raw: { type: 'read-only' } })).toBe(false);
  });

  it('parse undo-state: counts on join and on a zero/non-zero change, op and applied on a reply', () => {
    expect(parseExtension('{"type":"undo-state","undo":3,"redo":0}')).toEqual({ type: 'undo-state', undo: 3, redo: 0 });
    expect(parseExtension('{"type":"undo-state","op":"redo","applied":false,"undo":0,"redo":0}')).toEqual({
      type: 'undo-state',
      undo: 0,
      redo: 0,
      op: 'redo',
      applied: false,
    });
    expect(parseExtension('{"type":"undo-state","undo":1,"redo":2,"later":"field"}')).toEqual({ type: 'undo-state', undo: 1, redo: 2 });
  });

  it('treat a malformed undo-state as unknown (ignored), never as counts', () => {
    for (const body of [
      '{"type":"undo-state","undo":-1,"redo":0}',
      '{"type":"undo-state","undo":1.5,"redo":0}',
      '{"type":"undo-state","undo":"1","redo":0}',
      '{"type":"undo-state","undo":1}',
      '{"type":"undo-state","undo":1,"redo":0,"op":"delete"}',
      '{"type":"undo-state","undo":1,"redo":0,"op":"undo","applied":"yes"}',
      `{"type":"undo-state","undo":${2 ** 53},"redo":0}`,
    ]) {
      expect(parseExtension(body)?.type, body).toBe('unknown');
    }
  });

  it('encode the undo and redo requests as the gateway reads them', () => {
    expect(new TextDecoder().decode(encodeExtension(undoRequest('undo')).slice(2))).toBe('{"type":"undo"}');
    expect(new TextDecoder().decode(encodeExtension(undoRequest('redo')).slice(2))).toBe('{"type":"redo"}');
  });

  it('parse diagnostics as the protocol crate writes them (unknown marker fields left out, code kept)', () => {
    const rust = '{"type":"diagnostics","source":"syntax","version":"ab","markers":[{"severity":8,"message":"syntax error","startLineNumber":1,"startColumn":5,"endLineNumber":1,"endColumn":6}]}';
    expect(parseExtension(rust)).toEqual({
      type: 'diagnostics',
      source: 'syntax',
      version: 'ab',
      markers: [{ severity: 8, message: 'syntax error', startLineNumber: 1, startColumn: 5, endLineNumber: 1, endColumn: 6 }],
    });
    const withCode = '{"type":"diagnostics","source":"tsc","version":"cd","markers":[{"severity":4,"message":"m","startLineNumber":2,"startColumn":1,"endLineNumber":3,"endColumn":1,"code":"TS6133","tags":[1]}]}';
    expect(parseExtension(withCode)).toEqual({
      type: 'diagnostics',
      source: 'tsc',
      version: 'cd',
      markers: [{ severity: 4, message: 'm', startLineNumber: 2, startColumn: 1, endLineNumber: 3, endColumn: 1, code: 'TS6133' }],
    });
    expect(parseExtension('{"type":"diagnostics","source":"syntax","version":"ab","markers":[]}')).toEqual({ type: 'diagnostics', source: 'syntax', version: 'ab', markers: [] });
  });
});
