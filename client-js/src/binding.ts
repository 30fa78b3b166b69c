/**
 * The Monaco binding: keeps one Monaco text model and one `Y.Text` equal, in both directions.
 *
 * - Offsets: Monaco model offsets and `Y.Text` indices are both UTF-16 code units, so an offset
 *   maps one to one as long as the two texts are equal, which this binding keeps true.
 * - Line endings: the model's EOL is set to LF and the model shows the LF form of the text
 *   (CRLF and lone CR become LF). A CR that is not followed by LF is one code unit, like the LF
 *   the model shows for it, so offsets still match one to one. A CRLF pair would not: a writing
 *   binding removes the CR of every CRLF that remote edits bring into the shared text. Deletions
 *   are idempotent, so replicas doing this at the same time converge. (A CRLF made by a local
 *   LF typed after a lone CR is two line breaks on screen: that CR becomes an LF instead.)
 *   A read-only binding never writes: it rebuilds the model from the LF form of the text.
 * - Local selections survive remote edits: they are kept as Yjs relative positions across
 *   every remote transaction and restored afterwards.
 * - `destroy()` removes every listener this binding added; nothing else needs cleaning.
 */
import * as Y from 'yjs';
import type * as Monaco from 'monaco-editor';

/** The part of a Monaco text model the binding uses (a real `ITextModel` satisfies it). */
export type TextModelLike = Pick<
  Monaco.editor.ITextModel,
  'getValue' | 'getPositionAt' | 'getOffsetAt' | 'applyEdits' | 'onDidChangeContent' | 'setEOL'
>;

/** The part of a Monaco editor the binding uses to keep selections in place. */
export type EditorLike = Pick<
  Monaco.editor.ICodeEditor,
  'getModel' | 'getSelections' | 'setSelections'
>;

/** `monaco.editor.EndOfLineSequence.LF`, a stable enum value of the Monaco API. */
const EOL_LF = 0 as Monaco.editor.EndOfLineSequence.LF;

/** Rewrites CRLF and lone CR to LF. */
export function normalizeEol(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** A Yjs relative position (JSON form, as y-monaco puts it in awareness) for a text offset. */
export function relativeFromOffset(ytext: Y.Text, offset: number): unknown {
  return Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(ytext, offset));
}

/** The current text offset of a relative position (JSON or object), or `null` if unresolvable. */
export function offsetFromRelative(ytext: Y.Text, relative: unknown): number | null {
  if (typeof relative !== 'object' || relative === null || !ytext.doc) return null;
  try {
    const absolute = Y.createAbsolutePositionFromRelativePosition(
      Y.createRelativePositionFromJSON(relative),
      ytext.doc,
    );
    if (!absolute || absolute.type !== ytext) return null;
    return absolute.index;
  } catch {
    return null;
  }
}

/**
 * The smallest single replacement turning `from` into `to`: common prefix and suffix kept.
 * Never splits a surrogate pair.
 */
export function minimalReplace(from: string, to: string): { start: number; deleteCount: number; insert: string } {
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (start > 0 && isHighSurrogate(from.charCodeAt(start - 1))) start--;
  let end = 0;
  while (
    end < max - start &&
    from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)
  ) {
    end++;
  }
  if (end > 0 && isLowSurrogate(from.charCodeAt(from.length - end))) end--;
  return {
    start,
    deleteCount: from.length - start - end,
    insert: to.slice(start, to.length - end),
  };
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

export interface BindingOptions {
  /** Editors showing the model whose selections should survive remote edits. */
  editors?: EditorLike[];
  /** Never write to the shared text (remote edits are still shown). */
  readOnly?: boolean;
}

/** Keeps a Monaco model and a `Y.Text` equal. */
export class MonacoBinding {
  readonly ytext: Y.Text;
  readonly model: TextModelLike;
  readonly doc: Y.Doc;
  private readonly editors: EditorLike[];
  private readonly readOnly: boolean;
  /** True while the binding itself changes the model (so its change event is not echoed). */
  private applyingToModel = false;
  /** True while the binding writes local edits to the text (selections need no saving). */
  private writingShared = false;
  /** True while saved selections are put back after a remote transaction. */
  private restoringSelections = false;
  /** False while the shared text surely holds no CR (then no CRLF check is needed). */
  private mayHaveCr: boolean;
  /** Selections saved as relative positions before a remote transaction. */
  private savedSelections = new Map<EditorLike, { anchor: Y.RelativePosition; head: Y.RelativePosition }[]>();
  private readonly disposers: (() => void)[] = [];
  private destroyed = false;

  constructor(ytext: Y.Text, model: TextModelLike, options: BindingOptions = {}) {
    if (!ytext.doc) throw new Error('MonacoBinding: the Y.Text must belong to a Y.Doc');
    this.ytext = ytext;
    this.doc = ytext.doc;
    this.model = model;
    this.editors = options.editors ?? [];
    this.readOnly = options.readOnly ?? false;

    model.setEOL(EOL_LF);
    this.mayHaveCr = ytext.toString().includes('\r');
    if (!this.readOnly) this.rewriteCrlf('remote');
    this.resyncModel();

    const onBeforeTransactions = () => this.saveSelections();
    this.doc.on('beforeAllTransactions', onBeforeTransactions);
    this.disposers.push(() => this.doc.off('beforeAllTransactions', onBeforeTransactions));

    const onText = (event: Y.YTextEvent, transaction: Y.Transaction) => {
      if (transaction.origin === this) return;
      this.applyRemote(event);
    };
    ytext.observe(onText);
    this.disposers.push(() => ytext.unobserve(onText));

    const onAfterTransactions = () => this.restoreSelections();
    this.doc.on('afterAllTransactions', onAfterTransactions);
    this.disposers.push(() => this.doc.off('afterAllTransactions', onAfterTransactions));

    const contentListener = model.onDidChangeContent((event) => this.applyLocal(event));
    this.disposers.push(() => contentListener.dispose());
  }

  /** True while the binding applies remote changes to the model or puts selections back. */
  get isApplyingRemote(): boolean {
    return this.applyingToModel || this.restoringSelections;
  }

  /** The origin of every transaction this binding makes (for `Y.UndoManager` tracking). */
  get origin(): MonacoBinding {
    return this;
  }

  /** Removes every listener; the model and the text stay as they are. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.savedSelections.clear();
  }

  /** Model -> Y.Text. */
  private applyLocal(event: Monaco.editor.IModelContentChangedEvent): void {
    if (this.applyingToModel) return;
    if (this.readOnly) {
      // Someone changed a read-only model programmatically: the shared text wins.
      this.resyncModel();
      return;
    }
    // Offsets of one event refer to the model before it; apply from the end backwards.
    const changes = [...event.changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
    this.writingShared = true;
    try {
      this.doc.transact(() => {
        for (const change of changes) {
          if (change.rangeLength > 0) this.ytext.delete(change.rangeOffset, change.rangeLength);
          if (change.text.length > 0) this.ytext.insert(change.rangeOffset, normalizeEol(change.text));
        }
      }, this);
    } finally {
      this.writingShared = false;
    }
    if (this.mayHaveCr) this.rewriteCrlf('local');
    // Anything that slipped through would break the offset mapping: repair.
    if (this.model.getValue() !== normalizeEol(this.ytext.toString())) this.resyncModel();
  }

  /** Y.Text -> model, for a transaction that did not come from this binding. */
  private applyRemote(event: Y.YTextEvent): void {
    const inserts = event.delta.flatMap((op) => (typeof op.insert === 'string' ? [op.insert] : []));
    if (inserts.some((text) => text.includes('\r'))) this.mayHaveCr = true;
    if (this.readOnly) {
      // May keep CRLF in the text, where offsets differ: rebuild from the LF form.
      this.resyncModel();
      return;
    }
    if (this.mayHaveCr && inserts.some((text) => /[\r\n]/.test(text)) && this.rewriteCrlf('remote')) {
      this.resyncModel();
      return;
    }
    this.withModelEdits(() => {
      let index = 0;
      for (const op of event.delta) {
        if (op.retain !== undefined) {
          index += op.retain;
        } else if (op.insert !== undefined) {
          // A lone CR shows as LF: same length, so offsets stay aligned.
          const text = typeof op.insert === 'string' ? op.insert.replace(/\r/g, '\n') : '';
          const at = this.model.getPositionAt(index);
          this.model.applyEdits([{ range: rangeOf(at, at), text }]);
          index += text.length;
        } else if (op.delete !== undefined) {
          const start = this.model.getPositionAt(index);
          const end = this.model.getPositionAt(index + op.delete);
          this.model.applyEdits([{ range: rangeOf(start, end), text: '' }]);
        }
      }
    });
    if (this.model.getValue() !== normalizeEol(this.ytext.toString())) this.resyncModel();
  }

  /** Makes the model equal to the (LF form of the) shared text with one minimal edit. */
  private resyncModel(): void {
    const current = this.model.getValue();
    const wanted = normalizeEol(this.ytext.toString());
    if (current === wanted) return;
    const { start, deleteCount, insert } = minimalReplace(current, wanted);
    this.withModelEdits(() => {
      const from = this.model.getPositionAt(start);
      const to = this.model.getPositionAt(start + deleteCount);
      this.model.applyEdits([{ range: rangeOf(from, to), text: insert }]);
    });
  }

  /**
   * Removes CRLF pairs from the shared text, in one transaction of this binding: a pair that
   * came from remote edits is one line break (its CR goes); one made by a local edit is two
   * (its CR becomes LF). Returns whether anything changed.
   */
  private rewriteCrlf(cause: 'remote' | 'local'): boolean {
    const text = this.ytext.toString();
    this.mayHaveCr = text.includes('\r');
    if (!this.mayHaveCr || !text.includes('\r\n')) return false;
    this.doc.transact(() => {
      for (let i = text.length - 2; i >= 0; i--) {
        if (text[i] !== '\r' || text[i + 1] !== '\n') continue;
        this.ytext.delete(i, 1);
        if (cause === 'local') this.ytext.insert(i, '\n');
      }
    }, this);
    return true;
  }

  private withModelEdits(edit: () => void): void {
    this.applyingToModel = true;
    try {
      edit();
    } finally {
      this.applyingToModel = false;
    }
  }

  private saveSelections(): void {
    this.savedSelections.clear();
    if (this.writingShared) return;
    for (const editor of this.editors) {
      if (editor.getModel() !== this.model) continue;
      const selections = editor.getSelections();
      if (!selections) continue;
      this.savedSelections.set(
        editor,
        selections.map((selection) => ({
          anchor: Y.createRelativePositionFromTypeIndex(
            this.ytext,
            this.model.getOffsetAt({ lineNumber: selection.selectionStartLineNumber, column: selection.selectionStartColumn }),
          ),
          head: Y.createRelativePositionFromTypeIndex(
            this.ytext,
            this.model.getOffsetAt({ lineNumber: selection.positionLineNumber, column: selection.positionColumn }),
          ),
        })),
      );
    }
  }

  private restoreSelections(): void {
    for (const [editor, saved] of this.savedSelections) {
      if (editor.getModel() !== this.model) continue;
      const selections: Monaco.ISelection[] = [];
      for (const { anchor, head } of saved) {
        const a = Y.createAbsolutePositionFromRelativePosition(anchor, this.doc);
        const h = Y.createAbsolutePositionFromRelativePosition(head, this.doc);
        if (!a || !h || a.type !== this.ytext || h.type !== this.ytext) continue;
        const start = this.model.getPositionAt(a.index);
        const end = this.model.getPositionAt(h.index);
        selections.push({
          selectionStartLineNumber: start.lineNumber,
          selectionStartColumn: start.column,
          positionLineNumber: end.lineNumber,
          positionColumn: end.column,
        });
      }
      if (selections.length > 0) {
        const current = editor.getSelections() ?? [];
        if (!sameSelections(current, selections)) {
          this.restoringSelections = true;
          try {
            editor.setSelections(selections);
          } finally {
            this.restoringSelections = false;
          }
        }
      }
    }
    this.savedSelections.clear();
  }
}

function rangeOf(start: Monaco.IPosition, end: Monaco.IPosition): Monaco.IRange {
  return {
    startLineNumber: start.lineNumber,
    startColumn: start.column,
    endLineNumber: end.lineNumber,
    endColumn: end.column,
  };
}

function sameSelections(a: readonly Monaco.ISelection[], b: readonly Monaco.ISelection[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (s, i) =>
        s.selectionStartLineNumber === b[i].selectionStartLineNumber &&
        s.selectionStartColumn === b[i].selectionStartColumn &&
        s.positionLineNumber === b[i].positionLineNumber &&
        s.positionColumn === b[i].positionColumn,
    )
  );
}
