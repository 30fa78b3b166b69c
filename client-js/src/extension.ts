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

/** Monaco's `MarkerSeverity`: 8 error, 4 warning, 2 info, 1 hint. */
export type MarkerSeverityValue = 1 | 2 | 4 | 8;

/**
 * One diagnostic as Monaco's `IMarkerData` has it (mirrors the Rust `Marker`): 1-based lines,
 * 1-based UTF-16 columns, the end exclusive; `code` is a tool's own code for the problem.
 */
export interface DiagnosticMarker {
  severity: MarkerSeverityValue;
  message: string;
  startLineNumber: number;
  startColumn: number;
  endLineNumber: number;
  endColumn: number;
  code?: string;
}

/**
 * The markers of one source for one version of the text (asked for with `?ext=diagnostics`):
 * `{"type":"diagnostics","source":"syntax","version":"<sha-256 hex>","markers":[...]}`. `source`
 * is `syntax` (tree-sitter on the gateway) or an external tool's name; `version` is the lowercase
 * hex SHA-256 of the UTF-8 text the markers belong to. An empty list clears that source. Sent
 * after edits settle and on join.
 */
export interface DiagnosticsExtension {
  type: 'diagnostics';
  source: string;
  version: string;
  markers: DiagnosticMarker[];
}

/**
 * The states of a `file-state` message (mirrors the Rust `FileSyncState`): `saved` (the
 * document's text is on the source, as of `etag`), `saving` (a write is on its way), `merged` (a
 * change made outside was merged into the document), `deleted` (the file was deleted outside; the
 * next edit writes it again), `failed` (a write failed, `reason` says why; it is retried).
 */
export type FileSyncState = 'saved' | 'saving' | 'merged' | 'deleted' | 'failed';

/** Every {@link FileSyncState}, in the order above. */
export const FILE_SYNC_STATES: readonly FileSyncState[] = Object.freeze(['saved', 'saving', 'merged', 'deleted', 'failed']);

/**
 * Where the file stands with its source, the sandbox's own copy (asked for with `?ext=files`):
 * `{"type":"file-state","state":"saved","etag":"<hex sha256>"}` or
 * `{"type":"file-state","state":"failed","reason":"disk full"}`. `etag` is the version written or
 * merged, `reason` says why a write failed; each is absent when the gateway has none. Sent when
 * the state changes (not on join).
 */
export interface FileStateExtension {
  type: 'file-state';
  state: FileSyncState;
  etag?: string;
  reason?: string;
}

/** One decoded extension message. */
export type Extension = ErrorExtension | UndoStateExtension | DiagnosticsExtension | FileStateExtension | UnknownExtension;

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
  if (object.type === 'diagnostics') {
    const diagnostics = parseDiagnostics(object);
    if (diagnostics) return diagnostics;
  }
  if (object.type === 'file-state') {
    const fileState = parseFileState(object);
    if (fileState) return fileState;
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

const SEVERITIES: ReadonlySet<unknown> = new Set([1, 2, 4, 8]);

/** A line or column as the Rust side sends it (u32); 0 is accepted here and clamped on display. */
const isPosition = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;

/**
 * A `diagnostics` message whose every marker has the documented shape; anything else is not one
 * (null: ignored as unknown). One bad marker drops the whole message, never half of it: the next
 * settled version brings a whole list again. Fields this build does not know are left out.
 */
function parseDiagnostics(object: Record<string, unknown>): DiagnosticsExtension | null {
  const { source, version, markers } = object;
  if (typeof source !== 'string' || source.length === 0 || typeof version !== 'string' || !Array.isArray(markers)) return null;
  const parsed: DiagnosticMarker[] = [];
  for (const marker of markers as unknown[]) {
    if (typeof marker !== 'object' || marker === null || Array.isArray(marker)) return null;
    const m = marker as Record<string, unknown>;
    if (!SEVERITIES.has(m.severity) || typeof m.message !== 'string') return null;
    if (!isPosition(m.startLineNumber) || !isPosition(m.startColumn) || !isPosition(m.endLineNumber) || !isPosition(m.endColumn)) return null;
    if (m.code !== undefined && m.code !== null && typeof m.code !== 'string') return null;
    parsed.push({
      severity: m.severity as MarkerSeverityValue,
      message: m.message,
      startLineNumber: m.startLineNumber,
      startColumn: m.startColumn,
      endLineNumber: m.endLineNumber,
      endColumn: m.endColumn,
      ...(typeof m.code === 'string' ? { code: m.code } : {}),
    });
  }
  return { type: 'diagnostics', source, version, markers: parsed };
}

const FILE_STATES: ReadonlySet<unknown> = new Set(FILE_SYNC_STATES);

/**
 * A `file-state` with a known state, and `etag` and `reason` strings when present (null counts as
 * absent, as for the Rust side); anything else is not one (null: ignored as unknown), so a state
 * a newer gateway adds changes nothing here. Fields this build does not know are left out.
 */
function parseFileState(object: Record<string, unknown>): FileStateExtension | null {
  const { state, etag, reason } = object;
  if (!FILE_STATES.has(state)) return null;
  if (etag !== undefined && etag !== null && typeof etag !== 'string') return null;
  if (reason !== undefined && reason !== null && typeof reason !== 'string') return null;
  return {
    type: 'file-state',
    state: state as FileSyncState,
    ...(typeof etag === 'string' ? { etag } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
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
