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

/**
 * The gateway's count of the user's undo and redo items for this file (server-side undo, asked
 * for with `?ext=undo`): `{"type":"undo-state","undo":N,"redo":M}`. Sent on join (right after
 * sync), as the reply to each `undo` / `redo` request (then with `op` and whether it `applied`),
 * and whenever either count moves between zero and non-zero (so a non-zero count may be behind).
 */
export interface UndoStateExtension {
  type: 'undo-state';
  undo: number;
  redo: number;
  /** On a reply: the request it answers. */
  op?: UndoOp;
  /** On a reply: whether the request changed the file (false: there was nothing to take). */
  applied?: boolean;
}

/** The two requests of server-side undo: `{"type":"undo"}` and `{"type":"redo"}`. */
export type UndoOp = 'undo' | 'redo';

/** One decoded extension message. */
export type Extension = ErrorExtension | UndoStateExtension | UnknownExtension;

/** What a client may send: any JSON object with a string `type`. */
export type OutgoingExtension = { type: string } & Record<string, unknown>;

/** An error message, as the gateway builds it. */
export function errorExtension(code: number, reason: string, message: string): ErrorExtension {
  return { type: 'error', code, reason, message };
}

/** A request to undo or redo this user's last change to the file, on the gateway. */
export function undoRequest(op: UndoOp): OutgoingExtension {
  return { type: op };
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
  if (object.type === 'undo-state') {
    const state = parseUndoState(object);
    if (state) return state;
  }
  return { type: 'unknown', raw: object as UnknownExtension['raw'] };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** An `undo-state` with counts that are whole numbers >= 0; anything else is not one (null). */
function parseUndoState(object: Record<string, unknown>): UndoStateExtension | null {
  const { undo, redo, op, applied } = object;
  if (!isCount(undo) || !isCount(redo)) return null;
  if (op !== undefined && op !== 'undo' && op !== 'redo') return null;
  if (applied !== undefined && typeof applied !== 'boolean') return null;
  return {
    type: 'undo-state',
    undo,
    redo,
    ...(op !== undefined ? { op } : {}),
    ...(applied !== undefined ? { applied } : {}),
  };
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
