// A string-backed stand-in for a Monaco text model with the semantics the binding relies on:
// 1-based lines and columns counted in UTF-16 code units, edits applied at once against the
// text before them, inserted text normalised to the model's EOL, one change event per call
// with offsets of the text before it. (The browser tests run the binding on real Monaco.)
import type * as Monaco from 'monaco-editor';
import type { TextModelLike } from '../../src/binding.js';

type Listener = (event: Monaco.editor.IModelContentChangedEvent) => void;

export class FakeModel implements TextModelLike {
  private text: string;
  private eol: '\n' | '\r\n' = '\n';
  readonly listeners = new Set<Listener>();
  private versionId = 1;

  constructor(text = '') {
    this.text = text;
  }

  getValue(): string {
    return this.text;
  }

  setEOL(eol: Monaco.editor.EndOfLineSequence): void {
    this.eol = eol === 0 ? '\n' : '\r\n';
    const normalized = this.text.replace(/\r\n?|\n/g, this.eol);
    if (normalized !== this.text) {
      this.applyEdits([{ range: this.fullRange(), text: normalized }]);
    }
  }

  /** Goes up by one with every edit, like Monaco's. */
  getVersionId(): number {
    return this.versionId;
  }

  getLineCount(): number {
    return this.text.split('\n').length;
  }

  getLineMaxColumn(lineNumber: number): number {
    const lines = this.text.split('\n');
    if (lineNumber < 1 || lineNumber > lines.length) throw new Error(`Illegal value for lineNumber: ${lineNumber}`);
    return lines[lineNumber - 1].length + 1;
  }

  getOffsetAt(position: Monaco.IPosition): number {
    const lines = this.text.split('\n');
    let offset = 0;
    const line = Math.min(Math.max(position.lineNumber, 1), lines.length);
    for (let i = 0; i < line - 1; i++) offset += lines[i].length + 1;
    return offset + Math.min(Math.max(position.column, 1), lines[line - 1].length + 1) - 1;
  }

  getPositionAt(offset: number): Monaco.Position {
    const clamped = Math.min(Math.max(offset, 0), this.text.length);
    const before = this.text.slice(0, clamped);
    const lineNumber = before.split('\n').length;
    const column = clamped - (before.lastIndexOf('\n') + 1) + 1;
    return { lineNumber, column } as Monaco.Position;
  }

  applyEdits(operations: readonly Monaco.editor.IIdentifiedSingleEditOperation[]): void;
  applyEdits(operations: readonly Monaco.editor.IIdentifiedSingleEditOperation[], computeUndoEdits: false): void;
  applyEdits(operations: readonly Monaco.editor.IIdentifiedSingleEditOperation[], computeUndoEdits: true): Monaco.editor.IValidEditOperation[];
  applyEdits(operations: readonly Monaco.editor.IIdentifiedSingleEditOperation[]): void | Monaco.editor.IValidEditOperation[] {
    const edits = operations
      .map((op) => {
        const start = this.getOffsetAt({ lineNumber: op.range.startLineNumber, column: op.range.startColumn });
        const end = this.getOffsetAt({ lineNumber: op.range.endLineNumber, column: op.range.endColumn });
        const text = (op.text ?? '').replace(/\r\n?|\n/g, this.eol);
        return { start, end, text, range: op.range };
      })
      .sort((a, b) => b.start - a.start);
    const changes: Monaco.editor.IModelContentChange[] = [];
    for (const edit of edits) {
      this.text = this.text.slice(0, edit.start) + edit.text + this.text.slice(edit.end);
      changes.push({
        range: edit.range as Monaco.IRange,
        rangeOffset: edit.start,
        rangeLength: edit.end - edit.start,
        text: edit.text,
      } as Monaco.editor.IModelContentChange);
    }
    this.versionId++;
    const event = { changes, eol: this.eol, versionId: this.versionId, isUndoing: false, isRedoing: false, isFlush: false, isEolChange: false } as unknown as Monaco.editor.IModelContentChangedEvent;
    for (const listener of [...this.listeners]) listener(event);
  }

  onDidChangeContent(listener: Listener): Monaco.IDisposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Calls of Monaco's own undo and redo (its undo stack), which a session must never reach. */
  nativeUndo = { undo: 0, redo: 0 };

  undo(): void {
    this.nativeUndo.undo++;
  }

  redo(): void {
    this.nativeUndo.redo++;
  }

  /** Types `text` at `offset` as a user would (one edit). */
  type(offset: number, text: string): void {
    const at = this.getPositionAt(offset);
    this.applyEdits([{ range: { startLineNumber: at.lineNumber, startColumn: at.column, endLineNumber: at.lineNumber, endColumn: at.column }, text }]);
  }

  /** Deletes `length` code units at `offset`. */
  remove(offset: number, length: number): void {
    const a = this.getPositionAt(offset);
    const b = this.getPositionAt(offset + length);
    this.applyEdits([{ range: { startLineNumber: a.lineNumber, startColumn: a.column, endLineNumber: b.lineNumber, endColumn: b.column }, text: '' }]);
  }

  private fullRange(): Monaco.IRange {
    const end = this.getPositionAt(this.text.length);
    return { startLineNumber: 1, startColumn: 1, endLineNumber: end.lineNumber, endColumn: end.column };
  }
}
