// A WebSocket double for y-websocket: the test plays the gateway (accepts, syncs, relays,
// sends extension messages, closes with a code) and reads what the client sent.
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';

/** A WebSocket double: the test plays the gateway. */
export class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readonly OPEN = 1;
  readyState = 0;
  binaryType = 'blob';
  sent: Uint8Array[] = [];
  onopen: (() => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  accept() {
    this.readyState = 1;
    this.onopen?.();
  }
  /** Sends sync step 2 of `doc` (default: an empty doc): the client is synced. */
  sync(doc: Y.Doc = new Y.Doc()) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.writeSyncStep2(encoder, doc);
    this.receive(encoding.toUint8Array(encoder));
  }
  /** Relays a document update, as the gateway does for other people's edits. */
  update(update: Uint8Array) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.writeUpdate(encoder, update);
    this.receive(encoding.toUint8Array(encoder));
  }
  /** Sync updates (message 0, step 2 = update) this client sent: its edits. */
  sentUpdates(): Uint8Array[] {
    return this.sent.filter((frame) => frame[0] === 0 && frame[1] === 2);
  }
  receive(frame: Uint8Array) {
    this.onmessage?.({ data: frame.slice().buffer });
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
