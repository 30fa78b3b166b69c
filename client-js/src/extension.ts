/**
 * Extension messages (y-websocket message type 100): one JSON object with a `"type"` field,
 * sent as `varUint(100) varString(json)` in one binary frame.
 *
 * Mirrors `protocol/src/extension.rs`. Unknown types decode to `{ type: 'unknown' }` and are
 * ignored, never fatal, so a newer gateway can talk to an older client and the reverse.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Wire type of extension messages. */
export const MESSAGE_EXTENSION = 100;

/**
 * The gateway explains why it is about to close the connection (or refused a message).
 * `code` is the WebSocket close code that follows, when one does.
 */
export interface ErrorExtension {
  type: 'error';
  code: number;
  /** Machine-readable reason, such as `invalid-update` or `frame-too-big`. */
  reason: string;
  /** Human-readable detail. */
  message: string;
}

/** Any type this build does not know; `raw` keeps the parsed object for callers who do. */
export interface UnknownExtension {
  type: 'unknown';
  raw: Record<string, unknown> & { type: string };
}

/** One decoded extension message. */
export type Extension = ErrorExtension | UnknownExtension;

/** What a client may send: any JSON object with a string `type`. */
export type OutgoingExtension = { type: string } & Record<string, unknown>;

/** An error message, as the gateway builds it. */
export function errorExtension(code: number, reason: string, message: string): ErrorExtension {
  return { type: 'error', code, reason, message };
}

/** Close code of a refusal for lack of permission; also the code of the read-only notice. */
export const CODE_FORBIDDEN = 4403;

/**
 * The gateway's notice that this connection may read but not edit:
 * `{"type":"error","code":4403,"reason":"read-only",...}`, sent once per connection after its
 * first dropped edit. The connection stays open.
 */
export function isReadOnlyNotice(message: Extension): boolean {
  return message.type === 'error' && message.code === CODE_FORBIDDEN && message.reason === 'read-only';
}

/**
 * Parses the JSON body of an extension message. Returns `null` for bodies that are not a JSON
 * object with a string `type` (those are dropped); unknown types come back as `unknown`.
 */
export function parseExtension(json: string): Extension | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const object = value as Record<string, unknown>;
  if (typeof object.type !== 'string') return null;
  if (
    object.type === 'error' &&
    typeof object.code === 'number' &&
    Number.isInteger(object.code) &&
    typeof object.reason === 'string' &&
    typeof object.message === 'string'
  ) {
    return errorExtension(object.code, object.reason, object.message);
  }
  return { type: 'unknown', raw: object as UnknownExtension['raw'] };
}

/** Encodes a whole extension frame: `varUint(100) varString(json)`. */
export function encodeExtension(message: OutgoingExtension): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_EXTENSION);
  encoding.writeVarString(encoder, JSON.stringify(message));
  return encoding.toUint8Array(encoder);
}

/** Decodes a whole extension frame; `null` when it is not one or its body is unusable. */
export function decodeExtensionFrame(frame: Uint8Array): Extension | null {
  try {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) !== MESSAGE_EXTENSION) return null;
    return parseExtension(decoding.readVarString(decoder));
  } catch {
    return null;
  }
}
