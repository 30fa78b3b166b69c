/**
 * Diagnostics from the gateway (`?ext=diagnostics`), shown as Monaco markers.
 *
 * - One marker owner per source (`collab:syntax`, `collab:<tool>`), so each source replaces only
 *   its own markers and an empty list clears only that source.
 * - A message names the text it belongs to by the SHA-256 of its UTF-8 bytes (`version`). It is
 *   shown only when that is the text on screen: the digest of the model's text is computed (Web
 *   Crypto, async) and compared, and the model's version id is compared before and after, so an
 *   edit made while the digest ran drops the message rather than drawing markers at offsets of a
 *   text that is gone. A dropped message leaves that source's previous markers where they are
 *   (Monaco moves them along with edits); the next settled version brings fresh ones.
 * - A dropped message may be early rather than stale: a joiner gets the file's diagnostics before
 *   the gateway's sync reply brings the text, and an edit may reach the gateway's checker before it
 *   reaches us. So the newest message of each source waits (up to `waitMs`) and is checked again
 *   after the model's content changes; it is shown if the text becomes its version.
 * - Only the newest message of a source is ever shown or waits: an older one whose digest finishes
 *   later is dropped.
 * - Markers are clamped to the model's lines and columns (a tool may be off by one).
 * - `dispose()` clears every owner this set.
 */
import type * as Monaco from 'monaco-editor';
import { digest as sha256Sync } from 'lib0/hash/sha256';
import type { DiagnosticMarker, DiagnosticsExtension, Extension } from './extension.js';

/** The part of a Monaco text model diagnostics read (a real `ITextModel` satisfies it). */
export type DiagnosticsModel = Pick<
  Monaco.editor.ITextModel,
  'getValue' | 'getVersionId' | 'getLineCount' | 'getLineMaxColumn' | 'onDidChangeContent'
>;

/** `monaco.editor.setModelMarkers`, for the model type at hand (a dependency, for tests). */
export type SetModelMarkers<M> = (model: M, owner: string, markers: Monaco.editor.IMarkerData[]) => void;

/** Errors and warnings of one source, or of all. */
export interface MarkerCounts {
  errors: number;
  warnings: number;
}

/** What a status bar shows: totals, and the counts of each source that has markers now. */
export interface DiagnosticCounts extends MarkerCounts {
  bySource: Record<string, MarkerCounts>;
}

/** The counts of a file without markers (or a session without diagnostics). */
export const NO_DIAGNOSTICS: DiagnosticCounts = Object.freeze({ errors: 0, warnings: 0, bySource: Object.freeze({}) as Record<string, MarkerCounts> });

/** The marker owner of a source. */
export function markerOwner(source: string): string {
  return `collab:${source}`;
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text`: Web Crypto where offered, else lib0's. */
export async function sha256Hex(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  // `crypto.subtle` exists only in secure contexts (https, localhost): elsewhere hash in JS.
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  const hash = subtle ? new Uint8Array(await subtle.digest('SHA-256', bytes)) : sha256Sync(bytes);
  let hex = '';
  for (const byte of hash) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

export interface DiagnosticsOptions<M extends DiagnosticsModel> {
  model: M;
  /** Usually `(model, owner, markers) => monaco.editor.setModelMarkers(model, owner, markers)`. */
  setModelMarkers: SetModelMarkers<M>;
  /** Called when the counts change. */
  onChange?: (counts: DiagnosticCounts) => void;
  /** The version of a text (default {@link sha256Hex}); tests pass their own to control timing. */
  digest?: (text: string) => Promise<string>;
  /** How long a message whose version is not on screen waits for the text to become it (ms). */
  waitMs?: number;
}

/** The newest message of a source that is not shown (yet): being checked, or waiting. */
interface Candidate {
  message: DiagnosticsExtension;
  received: number;
  checking: boolean;
  /** The content changed while it was being checked: check again afterwards. */
  again: boolean;
}

const ERROR = 8;
const WARNING = 4;

/** Keeps the gateway's markers of one model, per source, for the text on screen only. */
export class Diagnostics<M extends DiagnosticsModel = DiagnosticsModel> {
  private readonly model: M;
  private readonly setModelMarkers: SetModelMarkers<M>;
  private readonly onChange: (counts: DiagnosticCounts) => void;
  private readonly digest: (text: string) => Promise<string>;
  private readonly waitMs: number;
  /** What each source shows now (sources with an empty list are left out). */
  private readonly shown = new Map<string, Monaco.editor.IMarkerData[]>();
  /** Per source, the newest message not shown yet. */
  private readonly candidates = new Map<string, Candidate>();
  private recheckQueued = false;
  private readonly subscription: { dispose(): void };
  /** The digest of one model version, shared by the messages that arrive for it. */
  private hashed: { versionId: number; digest: Promise<string> } | null = null;
  private last: DiagnosticCounts = NO_DIAGNOSTICS;
  private disposed = false;

  constructor(options: DiagnosticsOptions<M>) {
    this.model = options.model;
    this.setModelMarkers = options.setModelMarkers;
    this.onChange = options.onChange ?? (() => {});
    this.digest = options.digest ?? sha256Hex;
    this.waitMs = options.waitMs ?? 10_000;
    this.subscription = this.model.onDidChangeContent(() => this.queueRecheck());
  }

  /** The current counts. */
  get counts(): DiagnosticCounts {
    return this.last;
  }

  /**
   * Takes one extension message (anything but `diagnostics` is ignored). Resolves once it was
   * checked against the text on screen (shown, or left waiting); never rejects.
   */
  async receive(message: Extension): Promise<void> {
    if (message.type !== 'diagnostics' || this.disposed) return;
    const candidate: Candidate = { message, received: Date.now(), checking: false, again: false };
    this.candidates.set(message.source, candidate); // supersedes an older one of the source
    await this.check(candidate);
  }

  /** Shows the candidate if its version is the text on screen now; else it keeps waiting. */
  private async check(candidate: Candidate): Promise<void> {
    const { source, version, markers } = candidate.message;
    candidate.checking = true;
    candidate.again = false;
    let matches = false;
    try {
      const versionId = this.model.getVersionId();
      const digest = await this.digestOf(versionId);
      // The text changed while the digest ran: the markers may belong to neither text.
      matches = digest === version && !this.disposed && this.model.getVersionId() === versionId;
    } catch {
      // a disposed model, or no way to hash: nothing to show
    } finally {
      candidate.checking = false;
    }
    if (this.disposed || this.candidates.get(source) !== candidate) return; // superseded
    if (matches) {
      this.candidates.delete(source);
      this.show(source, markers.map((marker) => this.clamp(marker, source)));
    } else if (candidate.again) {
      void this.check(candidate);
    }
  }

  /** After a content change (coalesced): checks the waiting candidates again, drops expired ones. */
  private queueRecheck(): void {
    if (this.recheckQueued || this.candidates.size === 0) return;
    this.recheckQueued = true;
    queueMicrotask(() => {
      this.recheckQueued = false;
      if (this.disposed) return;
      const now = Date.now();
      for (const [source, candidate] of this.candidates) {
        if (now - candidate.received > this.waitMs) this.candidates.delete(source);
        else if (candidate.checking) candidate.again = true;
        else void this.check(candidate);
      }
    });
  }

  /** Clears every source's markers. Idempotent; later messages are ignored. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscription.dispose();
    for (const source of this.shown.keys()) this.setMarkers(source, []);
    this.shown.clear();
    this.candidates.clear();
    this.hashed = null;
  }

  private digestOf(versionId: number): Promise<string> {
    if (this.hashed?.versionId === versionId) return this.hashed.digest;
    const digest = this.digest(this.model.getValue());
    this.hashed = { versionId, digest };
    // A failure is this version's answer for every waiting message, and is not cached.
    digest.catch(() => {
      if (this.hashed?.digest === digest) this.hashed = null;
    });
    return digest;
  }

  private show(source: string, markers: Monaco.editor.IMarkerData[]): void {
    if (markers.length === 0 && !this.shown.has(source)) return;
    this.setMarkers(source, markers);
    if (markers.length === 0) this.shown.delete(source);
    else this.shown.set(source, markers);
    this.emitCounts();
  }

  private setMarkers(source: string, markers: Monaco.editor.IMarkerData[]): void {
    try {
      this.setModelMarkers(this.model, markerOwner(source), markers);
    } catch (error) {
      console.error('collab client: setting markers failed', error);
    }
  }

  /** The marker inside the model's text: lines 1..lineCount, columns 1..maxColumn, end >= start. */
  private clamp(marker: DiagnosticMarker, source: string): Monaco.editor.IMarkerData {
    const lines = this.model.getLineCount();
    const line = (n: number) => Math.min(Math.max(n, 1), lines);
    const column = (l: number, c: number) => Math.min(Math.max(c, 1), this.model.getLineMaxColumn(l));
    const startLineNumber = line(marker.startLineNumber);
    const startColumn = column(startLineNumber, marker.startColumn);
    let endLineNumber = line(marker.endLineNumber);
    let endColumn = column(endLineNumber, marker.endColumn);
    if (endLineNumber < startLineNumber || (endLineNumber === startLineNumber && endColumn < startColumn)) {
      endLineNumber = startLineNumber;
      endColumn = startColumn;
    }
    return {
      severity: marker.severity as Monaco.MarkerSeverity,
      message: marker.message,
      source,
      startLineNumber,
      startColumn,
      endLineNumber,
      endColumn,
      ...(marker.code !== undefined ? { code: marker.code } : {}),
    };
  }

  private emitCounts(): void {
    const bySource: Record<string, MarkerCounts> = {};
    let errors = 0;
    let warnings = 0;
    for (const [source, markers] of [...this.shown].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const counts = {
        errors: markers.filter((m) => m.severity === ERROR).length,
        warnings: markers.filter((m) => m.severity === WARNING).length,
      };
      bySource[source] = counts;
      errors += counts.errors;
      warnings += counts.warnings;
    }
    const next: DiagnosticCounts = { errors, warnings, bySource };
    if (JSON.stringify(next) === JSON.stringify(this.last)) return;
    this.last = next;
    this.onChange(next);
  }
}
