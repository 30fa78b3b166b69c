import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MonacoBinding, minimalReplace, normalizeEol, offsetFromRelative, relativeFromOffset, type EditorLike } from '../../src/binding.js';
import { FakeModel } from './fake-model.js';

/** A doc whose text is bound to a fake model. */
function replica(options: { readOnly?: boolean; editors?: EditorLike[] } = {}) {
  const doc = new Y.Doc();
  const text = doc.getText('monaco');
  const model = new FakeModel();
  const binding = new MonacoBinding(text, model, options);
  return { doc, text, model, binding };
}

/** Exchanges everything two docs have (as a reconnect would). */
function sync(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote');
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)), 'remote');
}

/** Relays every update between two docs as it happens (as a live connection would). */
function link(a: Y.Doc, b: Y.Doc): void {
  a.on('update', (u: Uint8Array, origin: unknown) => origin !== b && Y.applyUpdate(b, u, a));
  b.on('update', (u: Uint8Array, origin: unknown) => origin !== a && Y.applyUpdate(a, u, b));
}

describe('MonacoBinding', () => {
  it('sends model edits to the Y.Text and applies remote edits to the model', () => {
    const a = replica();
    const remote = new Y.Doc();
    link(a.doc, remote);
    a.model.type(0, 'hello world');
    expect(remote.getText('monaco').toString()).toBe('hello world');
    remote.getText('monaco').insert(5, ',');
    remote.getText('monaco').delete(7, 5);
    expect(a.model.getValue()).toBe('hello, ');
    expect(a.text.toString()).toBe('hello, ');
  });

  it('maps offsets in UTF-16 code units around emoji (surrogate pairs) both ways', () => {
    const a = replica();
    const remote = new Y.Doc();
    link(a.doc, remote);
    const rtext = remote.getText('monaco');
    a.model.type(0, 'a😀b'); // 😀 is two code units
    a.model.type(3, 'X'); // between 😀 and b
    expect(rtext.toString()).toBe('a😀Xb');
    rtext.insert(1, '👍🏽'); // four code units (emoji + skin tone modifier)
    expect(a.model.getValue()).toBe('a👍🏽😀Xb');
    rtext.delete(5, 2); // the 😀
    expect(a.model.getValue()).toBe('a👍🏽Xb');
    a.model.remove(1, 4); // the 👍🏽
    expect(rtext.toString()).toBe('aXb');
    const position = a.model.getPositionAt(rtext.toString().indexOf('X'));
    expect(position).toEqual({ lineNumber: 1, column: 2 });
  });

  it('never splits a surrogate pair when rebuilding the model', () => {
    expect(minimalReplace('a😀b', 'a😃b')).toEqual({ start: 1, deleteCount: 2, insert: '😃' });
    expect(minimalReplace('x😀', 'x😀y')).toEqual({ start: 3, deleteCount: 0, insert: 'y' });
    expect(minimalReplace('same', 'same')).toEqual({ start: 4, deleteCount: 0, insert: '' });
  });

  it('shows CRLF and CR from a remote client as LF and removes CRLF from the shared text', () => {
    const a = replica();
    const remote = new Y.Doc();
    link(a.doc, remote);
    remote.getText('monaco').insert(0, 'one\r\ntwo\rthree\r\n');
    expect(a.model.getValue()).toBe('one\ntwo\nthree\n');
    // CRLF (two code units, one line break) is rewritten; a lone CR is one unit, like LF.
    expect(a.text.toString()).toBe('one\ntwo\rthree\n');
    expect(remote.getText('monaco').toString()).toBe('one\ntwo\rthree\n');
    // Offsets agree: an edit on line 3 lands on line 3 everywhere.
    a.model.type(a.model.getOffsetAt({ lineNumber: 3, column: 1 }), '3:');
    expect(remote.getText('monaco').toString()).toBe('one\ntwo\r3:three\n');
    // An LF arriving right after a lone CR makes a CRLF: one line break, like Monaco shows it.
    remote.getText('monaco').insert(8, '\n');
    expect(a.model.getValue()).toBe('one\ntwo\n3:three\n');
    expect(a.text.toString()).toBe('one\ntwo\n3:three\n');
  });

  it('an LF typed after a lone CR is a second line break', () => {
    const a = replica();
    const remote = new Y.Doc();
    link(a.doc, remote);
    remote.getText('monaco').insert(0, 'x\ry');
    expect(a.model.getValue()).toBe('x\ny');
    a.model.type(2, '\n');
    expect(a.model.getValue()).toBe('x\n\ny');
    expect(remote.getText('monaco').toString()).toBe('x\n\ny');
  });

  it('normalises text that already has CRLF when it binds, and CRLF pasted into the model', () => {
    const doc = new Y.Doc();
    const text = doc.getText('monaco');
    text.insert(0, 'a\r\nb\r\n');
    const model = new FakeModel('stale\r\ncontent');
    new MonacoBinding(text, model);
    expect(text.toString()).toBe('a\nb\n');
    expect(model.getValue()).toBe('a\nb\n');
    model.applyEdits([{ range: { startLineNumber: 3, startColumn: 1, endLineNumber: 3, endColumn: 1 }, text: 'c\r\nd' }]);
    expect(text.toString()).toBe('a\nb\nc\nd');
    expect(normalizeEol('x\r\ny\rz\n')).toBe('x\ny\nz\n');
  });

  it('converges when two replicas rewrite the same CRs concurrently', () => {
    const source = new Y.Doc();
    source.getText('monaco').insert(0, 'x\r\ny\rz');
    const a = replica();
    const b = replica();
    Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(source), 'remote');
    Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(source), 'remote');
    sync(a.doc, b.doc);
    expect(a.text.toString()).toBe('x\ny\rz');
    expect(b.text.toString()).toBe('x\ny\rz');
    expect(a.model.getValue()).toBe('x\ny\nz');
    expect(b.model.getValue()).toBe('x\ny\nz');
  });

  it('keeps concurrent typing on two replicas convergent (seeded random edits)', () => {
    const a = replica();
    const b = replica();
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['a', 'b', '\n', '😀', 'é', ' '];
    for (let round = 0; round < 200; round++) {
      for (const r of [a, b]) {
        const length = r.model.getValue().length;
        let offset = Math.floor(random() * (length + 1));
        // Never type inside a surrogate pair, as Monaco would not.
        if (offset > 0 && /[\ud800-\udbff]/.test(r.model.getValue()[offset - 1])) offset--;
        if (random() < 0.7 || length === 0) {
          r.model.type(offset, alphabet[Math.floor(random() * alphabet.length)]);
        } else {
          const value = r.model.getValue();
          const width = /[\ud800-\udbff]/.test(value[offset] ?? '') ? 2 : 1;
          if (offset + width <= length) r.model.remove(offset, width);
        }
      }
      if (round % 7 === 0) sync(a.doc, b.doc);
    }
    sync(a.doc, b.doc);
    expect(a.text.toString()).toBe(b.text.toString());
    expect(a.model.getValue()).toBe(a.text.toString());
    expect(b.model.getValue()).toBe(b.text.toString());
  });

  it('a read-only binding shows remote edits and never writes to the shared text', () => {
    const a = replica({ readOnly: true });
    const remote = new Y.Doc();
    link(a.doc, remote);
    remote.getText('monaco').insert(0, 'shared\r\ntext');
    expect(a.model.getValue()).toBe('shared\ntext');
    expect(remote.getText('monaco').toString()).toBe('shared\r\ntext'); // not rewritten
    a.model.type(0, 'local ');
    expect(a.model.getValue()).toBe('shared\ntext'); // reverted
    expect(remote.getText('monaco').toString()).toBe('shared\r\ntext');
    remote.getText('monaco').insert(0, '>');
    expect(a.model.getValue()).toBe('>shared\ntext');
  });

  it('keeps the local selection on its text when remote edits move it', () => {
    let selections = [{ selectionStartLineNumber: 2, selectionStartColumn: 3, positionLineNumber: 2, positionColumn: 5 }];
    const model = new FakeModel();
    const editor = {
      getModel: () => model,
      getSelections: () => selections,
      setSelections: (next: typeof selections) => {
        selections = next;
      },
    } as unknown as EditorLike;
    const doc = new Y.Doc();
    const text = doc.getText('monaco');
    new MonacoBinding(text, model, { editors: [editor] });
    const remote = new Y.Doc();
    link(doc, remote);
    model.type(0, 'hello\nworld');
    remote.getText('monaco').insert(5, '\nnew line');
    remote.getText('monaco').insert(6, '>>'); // at the start of the new line 2
    expect(model.getValue()).toBe('hello\n>>new line\nworld');
    expect(selections).toEqual([{ selectionStartLineNumber: 3, selectionStartColumn: 3, positionLineNumber: 3, positionColumn: 5 }]);
  });

  it('destroy() removes every listener it added', () => {
    const a = replica();
    const observers = (event: string) => (a.doc as unknown as { _observers: Map<string, Set<unknown>> })._observers.get(event)?.size ?? 0;
    expect(a.model.listeners.size).toBe(1);
    expect(observers('beforeAllTransactions')).toBe(1);
    a.binding.destroy();
    a.binding.destroy(); // idempotent
    expect(a.model.listeners.size).toBe(0);
    expect(observers('beforeAllTransactions')).toBe(0);
    expect(observers('afterAllTransactions')).toBe(0);
    a.model.type(0, 'unbound');
    expect(a.text.toString()).toBe('');
    a.text.insert(0, 'also unbound');
    expect(a.model.getValue()).toBe('unbound');
  });
});

describe('relative positions (the awareness selection format)', () => {
  it('follow concurrent edits on other replicas, through a JSON round trip', () => {
    const a = replica();
    const b = replica();
    a.model.type(0, 'line one\nline two\n');
    sync(a.doc, b.doc);
    const two = a.model.getValue().indexOf('two');
    // As awareness carries it: JSON.
    const anchor = JSON.parse(JSON.stringify(relativeFromOffset(a.text, two)));
    // Concurrently: b inserts an emoji and a line before it; a types after it.
    b.model.type(0, '😀 first\n');
    a.model.type(a.model.getValue().indexOf('two') + 3, ' and more');
    b.model.type(b.model.getValue().indexOf('line two'), '>');
    sync(a.doc, b.doc);
    expect(a.model.getValue()).toBe('😀 first\nline one\n>line two and more\n');
    expect(b.model.getValue()).toBe(a.model.getValue());
    for (const r of [a, b]) {
      const offset = offsetFromRelative(r.text, anchor);
      expect(offset).not.toBeNull();
      expect(r.model.getValue().slice(offset!, offset! + 3)).toBe('two');
      expect(r.model.getPositionAt(offset!)).toEqual({ lineNumber: 3, column: 7 });
    }
  });

  it('survive the deletion of the text they point into (collapse to the gap)', () => {
    const a = replica();
    a.model.type(0, 'abcdef');
    const rel = relativeFromOffset(a.text, 3); // before d
    a.model.remove(2, 3); // c, d, e
    expect(offsetFromRelative(a.text, rel)).toBe(2);
  });

  it('reject garbage instead of throwing', () => {
    const a = replica();
    expect(offsetFromRelative(a.text, null)).toBeNull();
    expect(offsetFromRelative(a.text, 'nope')).toBeNull();
    expect(offsetFromRelative(a.text, { type: null, tname: 'other', item: null, assoc: 0 })).toBeNull();
  });
});
