import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { MESSAGE_EXTENSION, decodeExtensionFrame, encodeExtension, errorExtension, isReadOnlyNotice, parseExtension } from '../../src/extension.js';

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
});
