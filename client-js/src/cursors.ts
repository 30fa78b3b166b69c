/**
 * Cursors and presence over Yjs awareness, in y-monaco's format so other Yjs editors see our
 * cursors and we see theirs:
 *
 *   { user: { name, color }, selection: { anchor, head } | null }
 *
 * where `anchor` and `head` are Yjs relative positions (JSON form) in the shared `Y.Text`.
 *
 * - {@link publishLocalSelection} writes the local editor's selection into awareness.
 * - {@link RemoteCursors} draws everyone else's selection (a decoration collection), caret and
 *   name label (a content widget that sits above the caret, or below it on the first line).
 * - {@link presenceOf} turns awareness states into the list of people present.
 */
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import type * as Monaco from 'monaco-editor';
import { offsetFromRelative, relativeFromOffset, type TextModelLike } from './binding.js';

/** What a client says about its user. */
export interface UserInfo {
  name: string;
  color: string;
}

/** One person present in the file. */
export interface Presence {
  clientId: number;
  name: string;
  color: string;
  /** This connection's own entry. */
  self: boolean;
  /** Where their caret is, when they have one (1-based, in this model). */
  cursor: { lineNumber: number; column: number } | null;
}

/** The awareness `selection` field. */
export interface AwarenessSelection {
  anchor: unknown;
  head: unknown;
}

const PALETTE = ['#d1495b', '#00798c', '#edae49', '#66a182', '#8e6c8a', '#2e4057', '#e76f51', '#3d5a80'];

/**
 * A colour that is safe to put in CSS, as `#rrggbb` (from `#rgb`, `#rrggbb` or `#rrggbbaa`);
 * anything else gets a palette colour chosen by client id.
 */
export function safeColor(color: unknown, clientId: number): string {
  if (typeof color === 'string') {
    const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(color);
    if (short) return `#${short[1]}${short[1]}${short[2]}${short[2]}${short[3]}${short[3]}`.toLowerCase();
    const long = /^#([0-9a-f]{6})(?:[0-9a-f]{2})?$/i.exec(color);
    if (long) return `#${long[1]}`.toLowerCase();
  }
  return PALETTE[clientId % PALETTE.length];
}

/** A display name: trimmed, at most 40 characters, never empty. */
export function displayName(name: unknown, clientId: number): string {
  const text = typeof name === 'string' ? name.trim().slice(0, 40) : '';
  return text.length > 0 ? text : `guest ${clientId % 10000}`;
}

/** Black or white, whichever reads better on `background` (`#rrggbb`). */
export function textColorOn(background: string): string {
  const hex = background.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.6 ? '#000000' : '#ffffff';
}

/** Awareness states to a presence list (own entry first, then by name). */
export function presenceOf(awareness: Awareness, ytext: Y.Text, model: TextModelLike): Presence[] {
  const list: Presence[] = [];
  awareness.getStates().forEach((state, clientId) => {
    if (!state || typeof state !== 'object') return;
    const user = (state as { user?: Partial<UserInfo> }).user;
    const selection = (state as { selection?: AwarenessSelection | null }).selection;
    let cursor: Presence['cursor'] = null;
    if (selection && typeof selection === 'object') {
      const head = offsetFromRelative(ytext, selection.head);
      if (head !== null) cursor = model.getPositionAt(head);
    }
    list.push({
      clientId,
      name: displayName(user?.name, clientId),
      color: safeColor(user?.color, clientId),
      self: clientId === awareness.clientID,
      cursor: cursor ? { lineNumber: cursor.lineNumber, column: cursor.column } : null,
    });
  });
  return list.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId);
}

/** Publishes the editor's selection in awareness on every change; returns the disposer. */
export function publishLocalSelection(
  editor: Monaco.editor.ICodeEditor,
  model: TextModelLike,
  ytext: Y.Text,
  awareness: Awareness,
): () => void {
  const publish = () => {
    const selection = editor.getSelection();
    if (!selection || editor.getModel() !== (model as unknown)) {
      awareness.setLocalStateField('selection', null);
      return;
    }
    const anchor = model.getOffsetAt({
      lineNumber: selection.selectionStartLineNumber,
      column: selection.selectionStartColumn,
    });
    const head = model.getOffsetAt({ lineNumber: selection.positionLineNumber, column: selection.positionColumn });
    awareness.setLocalStateField('selection', {
      anchor: relativeFromOffset(ytext, anchor),
      head: relativeFromOffset(ytext, head),
    } satisfies AwarenessSelection);
  };
  publish();
  const listener = editor.onDidChangeCursorSelection(publish);
  return () => {
    listener.dispose();
    if (awareness.getLocalState() !== null) awareness.setLocalStateField('selection', null);
  };
}

/** Static rules shared by every remote cursor (colours come per client). */
const BASE_CSS = `
.collab-remote-caret { position: absolute; height: 100%; margin-left: -1px; box-sizing: border-box; border-left: 2px solid; pointer-events: none; }
.collab-cursor-label { font: 600 11px/15px system-ui, sans-serif; padding: 0 4px; border-radius: 3px; white-space: nowrap; pointer-events: none; user-select: none; opacity: 0.95; }
`;

interface Label {
  widget: Monaco.editor.IContentWidget;
  node: HTMLElement;
  position: Monaco.IPosition;
}

/** Draws remote selections, carets and name labels into one editor. */
export class RemoteCursors {
  private readonly decorations: Monaco.editor.IEditorDecorationsCollection;
  private readonly labels = new Map<number, Label>();
  private readonly style: HTMLStyleElement;
  private readonly disposers: (() => void)[] = [];
  private scheduled = false;
  private destroyed = false;

  constructor(
    private readonly monaco: Pick<typeof Monaco, 'editor' | 'Range'>,
    private readonly editor: Monaco.editor.ICodeEditor,
    private readonly model: TextModelLike,
    private readonly ytext: Y.Text,
    private readonly awareness: Awareness,
  ) {
    this.decorations = editor.createDecorationsCollection();
    this.style = document.createElement('style');
    this.style.dataset.collabCursors = '';
    document.head.appendChild(this.style);

    const onAwareness = () => this.schedule();
    awareness.on('change', onAwareness);
    this.disposers.push(() => awareness.off('change', onAwareness));
    const content = model.onDidChangeContent(() => this.schedule());
    this.disposers.push(() => content.dispose());
    this.render();
  }

  /** Removes every decoration, label, style rule and listener. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.decorations.clear();
    for (const label of this.labels.values()) this.editor.removeContentWidget(label.widget);
    this.labels.clear();
    this.style.remove();
  }

  private schedule(): void {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (!this.destroyed) this.render();
    });
  }

  private render(): void {
    const decorations: Monaco.editor.IModelDeltaDecoration[] = [];
    let css = BASE_CSS;
    const seen = new Set<number>();
    this.awareness.getStates().forEach((state, clientId) => {
      if (clientId === this.awareness.clientID || !state) return;
      const selection = (state as { selection?: AwarenessSelection | null }).selection;
      if (!selection || typeof selection !== 'object') return;
      const anchor = offsetFromRelative(this.ytext, selection.anchor);
      const head = offsetFromRelative(this.ytext, selection.head);
      if (anchor === null || head === null) return;
      const user = (state as { user?: Partial<UserInfo> }).user;
      const color = safeColor(user?.color, clientId);
      const name = displayName(user?.name, clientId);
      const id = String(clientId);
      css += `.collab-selection-${id} { background-color: ${color}40; }\n`;
      css += `.collab-caret-${id} { border-color: ${color}; }\n`;

      const start = this.model.getPositionAt(Math.min(anchor, head));
      const end = this.model.getPositionAt(Math.max(anchor, head));
      const headPos = this.model.getPositionAt(head);
      if (anchor !== head) {
        decorations.push({
          range: new this.monaco.Range(start.lineNumber, start.column, end.lineNumber, end.column),
          options: {
            className: `collab-selection collab-selection-${id}`,
            stickiness: this.monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges,
            hoverMessage: { value: name },
          },
        });
      }
      decorations.push({
        range: new this.monaco.Range(headPos.lineNumber, headPos.column, headPos.lineNumber, headPos.column),
        options: {
          beforeContentClassName: `collab-remote-caret collab-caret-${id}`,
          stickiness: this.monaco.editor.TrackedRangeStickiness.NeverGrowsWhenTypingAtEdges,
        },
      });
      this.placeLabel(clientId, name, color, headPos);
      seen.add(clientId);
    });
    for (const [clientId, label] of this.labels) {
      if (seen.has(clientId)) continue;
      this.editor.removeContentWidget(label.widget);
      this.labels.delete(clientId);
    }
    this.style.textContent = css;
    this.decorations.set(decorations);
  }

  private placeLabel(clientId: number, name: string, color: string, position: Monaco.IPosition): void {
    let label = this.labels.get(clientId);
    if (!label) {
      const node = document.createElement('div');
      node.className = 'collab-cursor-label';
      node.dataset.clientId = String(clientId);
      const { ContentWidgetPositionPreference } = this.monaco.editor;
      const created: Label = {
        node,
        position,
        widget: {
          getId: () => `collab.cursor.${clientId}`,
          getDomNode: () => node,
          // Above the caret; on the first line there is no room above, so Monaco puts it below.
          getPosition: () => ({
            position: created.position,
            preference: [ContentWidgetPositionPreference.ABOVE, ContentWidgetPositionPreference.BELOW],
          }),
        },
      };
      label = created;
      this.labels.set(clientId, label);
      this.editor.addContentWidget(label.widget);
    }
    label.node.textContent = name;
    label.node.title = name;
    label.node.style.backgroundColor = color;
    label.node.style.color = textColorOn(color);
    label.position = position;
    this.editor.layoutContentWidget(label.widget);
  }
}
