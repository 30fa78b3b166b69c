import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { MonacoBinding, relativeFromOffset } from '../../src/binding.js';
import { displayName, presenceOf, safeColor, textColorOn } from '../../src/cursors.js';
import { gatewayDocUrl, isPermanentClose, roomName } from '../../src/provider.js';
import { FakeModel } from './fake-model.js';

describe('presence', () => {
  it('lists everyone with a user, own entry first, with their caret position', () => {
    const doc = new Y.Doc();
    const text = doc.getText('monaco');
    const model = new FakeModel();
    new MonacoBinding(text, model);
    model.type(0, 'ab\ncd');
    const awareness = new Awareness(doc);
    awareness.setLocalStateField('user', { name: 'Zoe', color: '#123456' });
    const other = new Awareness(new Y.Doc());
    other.setLocalState({ user: { name: 'Ada', color: 'red; background: url(x)' }, selection: { anchor: relativeFromOffset(text, 4), head: relativeFromOffset(text, 4) } });
    // Copy the other client's state in as the network would.
    awareness.states.set(other.clientID, other.getLocalState()!);
    const people = presenceOf(awareness, text, model);
    expect(people.map((p) => [p.name, p.self])).toEqual([['Zoe', true], ['Ada', false]]);
    expect(people[1].cursor).toEqual({ lineNumber: 2, column: 2 });
    expect(people[1].color).toMatch(/^#[0-9a-f]{6}$/i); // unsafe colour replaced
    expect(people[0].color).toBe('#123456');
  });

  it('sanitises names and colours', () => {
    expect(displayName('  Ada  ', 1)).toBe('Ada');
    expect(displayName('', 12345)).toBe('guest 2345');
    expect(displayName('x'.repeat(100), 1)).toHaveLength(40);
    expect(safeColor('#abc', 1)).toBe('#aabbcc');
    expect(safeColor('#D1495B80', 1)).toBe('#d1495b');
    expect(safeColor('expression(alert(1))', 1)).toMatch(/^#/);
    expect(textColorOn('#ffffff')).toBe('#000000');
    expect(textColorOn('#2e4057')).toBe('#ffffff');
  });
});

describe('gateway URLs', () => {
  it('accept a base, an http URL or a /doc URL', () => {
    expect(gatewayDocUrl('ws://h:1')).toBe('ws://h:1/doc');
    expect(gatewayDocUrl('http://h:1/')).toBe('ws://h:1/doc');
    expect(gatewayDocUrl('https://h/doc')).toBe('wss://h/doc');
  });

  it('encode the whole file id so URL parsing cannot drop dot segments', () => {
    expect(roomName('src/a b.ts')).toBe('src%2Fa%20b.ts');
    expect(new URL(`ws://h/doc/${roomName('a/../b')}`).pathname).toBe('/doc/a%2F..%2Fb');
  });

  it('treat only 4400-4499 as permanent', () => {
    expect([4400, 4401, 4403, 4499].every(isPermanentClose)).toBe(true);
    expect([1000, 1006, 1012, 1013, 4500, 4399].some(isPermanentClose)).toBe(false);
  });
});
