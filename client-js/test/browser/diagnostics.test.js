// End-to-end: the gateway's syntax diagnostics in the demo page. Ann and Bob open the same `.ts`
// file in two browser contexts, on two gateways. Ann types a syntax error on its own line; Bob's
// editor gets an error marker on that line (owner `collab:syntax`, severity 8), Monaco draws the
// red squiggle, and the page's problems count says so. A third person joining later gets the
// marker on join. Ann fixes the line: the markers of that source become empty everywhere, the
// squiggles go and the count says "No problems".
//
// Needs the gateway's diagnostics (`?ext=diagnostics`, tree-sitter by file extension, messages
// after edits settle and on join). Against a gateway without them no marker ever arrives and
// these tests fail: never skip them.
//
//   node --test test/browser/diagnostics.test.js   (needs dist/ built, the gateway, chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as decoding from 'lib0/decoding';
import { caretAtEndOfLine, editorText, launchBrowser, startGateway, startRedis, waitFor } from './harness.js';

const FILE = `diag-${Date.now().toString(36)}/main.ts`;
const OWNER = 'collab:syntax';
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The `diagnostics` messages among received WebSocket frames (type 100 JSON). */
function diagnosticsMessages(frames) {
  return frames.flatMap((payload) => {
    try {
      const decoder = decoding.createDecoder(new Uint8Array(payload));
      if (decoding.readVarUint(decoder) !== 100) return [];
      const message = JSON.parse(decoding.readVarString(decoder));
      return message.type === 'diagnostics' ? [message] : [];
    } catch {
      return [];
    }
  });
}

describe('syntax diagnostics in the demo: a marker where the error is, for everyone, gone when fixed', { timeout: 180000 }, () => {
  let redis;
  let gatewayA;
  let gatewayB;
  let browser;
  const cleanups = [];

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
    [gatewayA, gatewayB] = await Promise.all([startGateway(redis.url), startGateway(redis.url)]);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await browser?.close();
    await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
    await redis?.stop();
  });

  /** Opens FILE on `gateway` as `name` in a context of its own, recording the frames it receives. */
  async function join(gateway, name, color) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const user = { name, page, errors: [], sockets: [], received: [] };
    page.on('pageerror', (error) => user.errors.push(error.message));
    page.on('websocket', (ws) => {
      user.sockets.push(ws.url());
      ws.on('framereceived', ({ payload }) => typeof payload !== 'string' && user.received.push(Buffer.from(payload)));
    });
    const query = new URLSearchParams({ file: FILE, name, color, gateways: gateway.ws });
    await page.goto(`${gateway.http}/?${query}`);
    await page.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });
    return user;
  }

  /** The page's markers of the gateway's syntax source (through the test hook). */
  const syntaxMarkers = (user) => user.page.evaluate((owner) => window.__collab.markers().filter((m) => m.owner === owner), OWNER);
  /** What the user sees: the problems count and how many red squiggles the editor draws. */
  const shown = (user) =>
    user.page.evaluate(() => ({
      problems: document.getElementById('problems').textContent,
      errors: Number(document.getElementById('problems').dataset.errors),
      squiggles: document.querySelectorAll('#editor .squiggly-error').length,
    }));

  /** Waits until every user shows `text`. */
  async function allShow(users, text, what) {
    for (const user of users) {
      await waitFor(async () => (await editorText(user.page)) === text, { what: `${what}, at ${user.name}` });
    }
  }

  /** Waits for an error marker of the syntax source on `line`, its squiggle and the count. */
  async function seesErrorOn(user, line) {
    const markers = await waitFor(
      async () => {
        const found = await syntaxMarkers(user);
        return found.some((m) => m.severity === 8 && m.startLineNumber === line) && found;
      },
      { what: `an error marker on line ${line} at ${user.name}` },
    );
    assert.ok(markers.every((m) => m.severity === 8 && m.startLineNumber === line), `${user.name}: every syntax marker is an error on line ${line}: ${JSON.stringify(markers)}`);
    const seen = await waitFor(
      async () => {
        const now = await shown(user);
        return now.squiggles > 0 && now.errors === markers.length && now;
      },
      { what: `a red squiggle and the error count at ${user.name}` },
    );
    assert.equal(seen.problems, `${markers.length} error${markers.length === 1 ? '' : 's'}, 0 warnings`);
    return markers;
  }

  it('an error Ann types shows at Bob (and at a late joiner) on its line, and goes when she fixes it', async () => {
    const ann = await join(gatewayA, 'Ann', '#e91e63');
    const bob = await join(gatewayB, 'Bob', '#00798c');
    for (const user of [ann, bob]) assert.match(user.sockets[0], /[?&]ext=undo%2Cdiagnostics%2Cfiles(&|$)/, `${user.name}'s page opts in (undo, diagnostics, files)`);

    // A valid first line, then the error on a line of its own. Monaco closes brackets as they are
    // typed: the selection to the end of the line takes what it added, so the line is exactly this.
    await caretAtEndOfLine(ann.page, 1);
    await ann.page.keyboard.type('const ok = 1;', { delay: 15 });
    await ann.page.keyboard.press('Enter');
    await ann.page.keyboard.type('function f( {', { delay: 15 });
    await ann.page.keyboard.press('Shift+End');
    await ann.page.keyboard.press('Delete');
    const broken = 'const ok = 1;\nfunction f( {';
    await allShow([ann, bob], broken, "Ann's error");

    // The gateway names the text its markers belong to by its SHA-256: Bob gets those of the
    // text he has (after any of the texts on the way there, whose markers Monaco moved along).
    const forBroken = await waitFor(
      () => diagnosticsMessages(bob.received).find((m) => m.source === 'syntax' && m.version === sha256(broken)),
      { what: "the gateway's syntax markers for the broken text, at Bob" },
    );
    assert.ok(forBroken.markers.length > 0, `markers for the broken text: ${JSON.stringify(forBroken)}`);
    const markers = await seesErrorOn(bob, 2);
    await seesErrorOn(ann, 2);
    assert.ok(markers.every((m) => m.source === 'syntax' && m.message.length > 0));

    // Someone joining now gets them on join.
    const cy = await join(gatewayA, 'Cy', '#66a182');
    await allShow([cy], broken, 'the file');
    await seesErrorOn(cy, 2);

    // Ann fixes it: `function f() {` and a closing brace below.
    await ann.page.evaluate(() => {
      const { editor } = window.__collab;
      editor.setPosition({ lineNumber: 2, column: 'function f('.length + 1 });
      editor.focus();
    });
    await ann.page.keyboard.type(')', { delay: 15 });
    await ann.page.keyboard.press('End');
    await ann.page.keyboard.press('Enter');
    await ann.page.keyboard.type('}', { delay: 15 });
    const fixed = await editorText(ann.page);
    assert.match(fixed, /^const ok = 1;\nfunction f\(\) \{\n\s*\}$/, `Ann's fix: ${JSON.stringify(fixed)}`);
    await allShow([bob, cy], fixed, "Ann's fix");
    for (const user of [bob, cy, ann]) {
      await waitFor(async () => (await syntaxMarkers(user)).length === 0, { what: `the syntax markers cleared at ${user.name}` });
      const now = await waitFor(async () => {
        const s = await shown(user);
        return s.squiggles === 0 && s;
      }, { what: `the squiggles gone at ${user.name}` });
      assert.equal(now.problems, 'No problems', `${user.name}'s count`);
    }
    await waitFor(
      () => diagnosticsMessages(bob.received).some((m) => m.source === 'syntax' && m.version === sha256(fixed) && m.markers.length === 0),
      { what: 'an empty syntax list for the fixed text, at Bob' },
    );
    assert.deepEqual([...ann.errors, ...bob.errors, ...cy.errors], []);
  });
});
