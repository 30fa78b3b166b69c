// End-to-end: the demo page in headless Chromium, two gateways sharing one redis-server.
//
//   node --test test/browser/   (needs dist/ built, the gateway binary and /usr/bin/chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as Y from 'yjs';
import {
  SCREENSHOT,
  caretAtEndOfLine,
  editorText,
  launchBrowser,
  nodeClient,
  openEditor,
  startGateway,
  startRedis,
  waitFor,
} from './harness.js';

const ALICE = { name: 'Alice', color: '#d1495b' };
const BOB = { name: 'Bob', color: '#00798c' };
/** The gateways' `--undo-capture-ms`: a user's edits closer together than this are one undo item. */
const UNDO_CAPTURE_MS = 300;

describe('the Monaco client in Chromium, against two gateways', { timeout: 180000 }, () => {
  let redis;
  let gatewayA;
  let gatewayB;
  let browser;
  const cleanups = [];

  before(async () => {
    // Fail fast and clearly when the browser is missing, before starting anything else.
    browser = await launchBrowser();
    redis = await startRedis();
    const args = ['--undo-capture-ms', String(UNDO_CAPTURE_MS)];
    [gatewayA, gatewayB] = await Promise.all([startGateway(redis.url, { args }), startGateway(redis.url, { args })]);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await browser?.close();
    await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
    await redis?.stop();
  });

  /** Alice on gateway A and Bob on gateway B, both in `file`. */
  async function twoUsers(file) {
    const alice = await openEditor(browser, { pageFrom: gatewayA.http, gateways: [gatewayA.ws], file, ...ALICE });
    const bob = await openEditor(browser, { pageFrom: gatewayB.http, gateways: [gatewayB.ws], file, ...BOB });
    cleanups.push(() => alice.context.close(), () => bob.context.close());
    return { alice, bob };
  }

  let shared; // the two users of the first test, reused by the cursor and screenshot tests
  const FILE = 'e2e/converge.ts';
  const ALICE_TYPES = ' alice was here 123';
  const BOB_TYPES = ' and bob typed this 456';
  const EXPECTED = `// line one${ALICE_TYPES}\n// line two${BOB_TYPES}\n`;

  it('two users on different gateways type at once on different lines and converge with a Node Yjs client', async () => {
    const seed = await nodeClient(gatewayB.ws, FILE, { raw: true }); // `/doc/e2e/converge.ts`
    cleanups.push(async () => seed.close());
    seed.text.insert(0, '// line one\n// line two\n');
    shared = await twoUsers(FILE);
    const { alice, bob } = shared;
    await waitFor(async () => (await editorText(alice.page)) === seed.text.toString(), { what: 'seed text at Alice' });
    await waitFor(async () => (await editorText(bob.page)) === seed.text.toString(), { what: 'seed text at Bob' });

    await caretAtEndOfLine(alice.page, 1);
    await caretAtEndOfLine(bob.page, 2);
    await Promise.all([
      alice.page.keyboard.type(ALICE_TYPES, { delay: 25 }),
      bob.page.keyboard.type(BOB_TYPES, { delay: 25 }),
    ]);

    const reader = await nodeClient(gatewayA.ws, FILE);
    cleanups.push(async () => reader.close());
    await waitFor(async () => reader.text.toString() === EXPECTED, { what: 'the Node client to read both edits' });
    await waitFor(async () => (await editorText(alice.page)) === EXPECTED, { what: "Alice's editor to converge" });
    await waitFor(async () => (await editorText(bob.page)) === EXPECTED, { what: "Bob's editor to converge" });
    assert.equal(seed.text.toString(), EXPECTED);
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  it("each sees the other's cursor with the other's name (readable on line 1 too)", async () => {
    assert.ok(shared, 'needs the users of the first test');
    const { alice, bob } = shared;
    const seesLabel = async (page, name) => {
      const label = page.locator('.collab-cursor-label', { hasText: name });
      await label.waitFor({ state: 'visible', timeout: 15000 });
      const caret = page.locator('.collab-remote-caret');
      await caret.first().waitFor({ state: 'attached', timeout: 15000 });
      // The label lies inside the editor (not cut off above line 1).
      const box = await label.boundingBox();
      const editorBox = await page.locator('#editor').boundingBox();
      assert.ok(box && editorBox, 'label and editor have boxes');
      assert.ok(box.y >= editorBox.y && box.y + box.height <= editorBox.y + editorBox.height, `label of ${name} inside the editor`);
      return box;
    };
    await seesLabel(alice.page, 'Bob');
    const aliceLabelAtBob = await seesLabel(bob.page, 'Alice'); // Alice's caret is on line 1
    assert.ok(aliceLabelAtBob.height > 5);
    // Presence lists name both people.
    for (const page of [alice.page, bob.page]) {
      await waitFor(
        async () => {
          const names = await page.locator('#presence li .name').allTextContents();
          return names.some((n) => n.startsWith('Alice')) && names.some((n) => n.startsWith('Bob'));
        },
        { what: 'both names in the presence list' },
      );
    }
    // The caret Alice sees for Bob is at the end of line 2.
    const bobAtAlice = await alice.page.evaluate(() => window.__collab.presence.find((p) => p.name === 'Bob')?.cursor);
    assert.deepEqual(bobAtAlice, { lineNumber: 2, column: `// line two${BOB_TYPES}`.length + 1 });
  });

  it('saves a screenshot of two users editing, which is not blank', async () => {
    assert.ok(shared, 'needs the users of the first test');
    const { alice } = shared;
    // Make Bob's selection visible too, then wait until Alice sees it.
    await shared.bob.page.evaluate(() => window.__collab.editor.setSelection({ startLineNumber: 2, startColumn: 4, endLineNumber: 2, endColumn: 12 }));
    await alice.page.locator('.collab-selection').first().waitFor({ state: 'attached', timeout: 15000 });
    rmSync(SCREENSHOT, { force: true });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await alice.page.screenshot({ path: SCREENSHOT });
    await shared.bob.page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-bob.png') }); // the other side, for people
    const size = statSync(SCREENSHOT).size;
    assert.ok(size > 5000, `screenshot has ${size} bytes`);
    // Not blank: decode it in a page and look at its pixels.
    const png = (await import('node:fs')).readFileSync(SCREENSHOT).toString('base64');
    const stats = await alice.page.evaluate(async (data) => {
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const g = canvas.getContext('2d');
      g.drawImage(image, 0, 0);
      const pixels = g.getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Set();
      let dark = 0;
      for (let i = 0; i < pixels.length; i += 4 * 7) {
        colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
        if (pixels[i] + pixels[i + 1] + pixels[i + 2] < 200) dark++;
      }
      return { width: canvas.width, height: canvas.height, colours: colours.size, dark };
    }, png);
    assert.equal(stats.width, 1000);
    assert.ok(stats.colours > 20, `screenshot has ${stats.colours} colours`);
    assert.ok(stats.dark > 100, `screenshot has ${stats.dark} dark samples (text)`);
  });

  it('leaving removes the cursor for the others and every decoration, widget and style from the page', async () => {
    assert.ok(shared, 'needs the users of the first test');
    const { alice, bob } = shared;
    await bob.page.click('#leave');
    assert.equal(await bob.page.evaluate(() => window.__collab.session), null);
    const leftovers = await bob.page.evaluate(() => ({
      carets: document.querySelectorAll('.collab-remote-caret').length,
      selections: document.querySelectorAll('.collab-selection').length,
      labels: document.querySelectorAll('.collab-cursor-label').length,
      styles: document.querySelectorAll('style[data-collab-cursors]').length,
    }));
    assert.deepEqual(leftovers, { carets: 0, selections: 0, labels: 0, styles: 0 });
    assert.equal(await bob.page.locator('#banner').getAttribute('data-state'), 'idle');
    await alice.page.locator('.collab-cursor-label', { hasText: 'Bob' }).waitFor({ state: 'detached', timeout: 15000 });
    await waitFor(
      async () => (await alice.page.locator('#presence li .name').allTextContents()).join() === 'Alice (you)',
      { what: 'Bob gone from the presence list' },
    );
  });

  it('real Monaco: UTF-16 offsets after emoji, CRLF from another client becomes LF, undo is per user', async () => {
    const file = 'e2e/offsets.txt';
    const other = await nodeClient(gatewayA.ws, file);
    cleanups.push(async () => other.close());
    other.text.insert(0, 'x😀\r\ny👍🏽z\r\n');
    const dana = await openEditor(browser, { pageFrom: gatewayB.http, gateways: [gatewayB.ws], file, name: 'Dana', color: '#66a182', user: 'dana' });
    cleanups.push(() => dana.context.close());
    await waitFor(async () => (await editorText(dana.page)) === 'x😀\ny👍🏽z\n', { what: 'the LF form in Monaco' });
    await waitFor(() => other.text.toString() === 'x😀\ny👍🏽z\n', { what: 'CRLF rewritten in the shared text' });
    // Column 4 on line 1 is after the emoji (two UTF-16 units); column 6 on line 2 after 👍🏽.
    await dana.page.evaluate(() => {
      window.__collab.editor.setPosition({ lineNumber: 1, column: 4 });
      window.__collab.editor.focus();
    });
    await dana.page.keyboard.type('!');
    // Undo is the gateway's (Dana is `?user=dana`), which ends an undo item when the user's edits
    // pause for --undo-capture-ms; no message marks that, so this waits for time itself.
    await new Promise((r) => setTimeout(r, UNDO_CAPTURE_MS * 2));
    await dana.page.evaluate(() => window.__collab.editor.setPosition({ lineNumber: 2, column: 6 }));
    await dana.page.keyboard.type('?');
    await waitFor(() => other.text.toString() === 'x😀!\ny👍🏽?z\n', { what: 'edits after emoji at the right offsets' });
    // Someone else edits; Ctrl+Z undoes Dana's last edit only.
    other.text.insert(0, '>');
    await waitFor(async () => (await editorText(dana.page)) === '>x😀!\ny👍🏽?z\n', { what: 'the remote edit' });
    assert.equal(await dana.page.evaluate(() => window.__collab.undo.mode), 'server', 'the gateway offered undo');
    await dana.page.keyboard.press('Control+z');
    await waitFor(() => other.text.toString() === '>x😀!\ny👍🏽z\n', {
      what: "undo of Dana's last edit only",
    });
    assert.equal(await editorText(dana.page), '>x😀!\ny👍🏽z\n');
    assert.deepEqual(dana.errors, []);
  });

  it('a read-only connection shows remote edits and makes the editor read-only', async () => {
    const file = 'e2e/read-only.md';
    const writer = await nodeClient(gatewayA.ws, file);
    cleanups.push(async () => writer.close());
    writer.text.insert(0, 'written elsewhere\n');
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const query = new URLSearchParams({ file, name: 'Reader', gateways: gatewayB.ws, readonly: '1' });
    await page.goto(`${gatewayB.http}/?${query}`);
    await page.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });
    await waitFor(async () => (await editorText(page)) === 'written elsewhere\n', { what: 'the text at the reader' });
    writer.text.insert(0, 'more: ');
    await waitFor(async () => (await editorText(page)) === 'more: written elsewhere\n', { what: 'a remote edit at the reader' });
    assert.equal(await page.evaluate(() => window.__collab.editor.getOption(window.__collab.monaco.editor.EditorOption.readOnly)), true);
    await caretAtEndOfLine(page, 1);
    await page.keyboard.type('nope');
    // Then move the caret: once the writer sees it there, anything typed before (same socket,
    // in order) would have arrived too. The cursor does reach the writer; no edit does.
    await page.evaluate(() => window.__collab.editor.setPosition({ lineNumber: 1, column: 3 }));
    await waitFor(
      () =>
        [...writer.provider.awareness.getStates().values()].some((s) => {
          if (s.user?.name !== 'Reader' || !s.selection) return false;
          const head = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(s.selection.head), writer.doc);
          return head?.index === 2;
        }),
      { what: "the reader's moved cursor at the writer" },
    );
    assert.equal(await editorText(page), 'more: written elsewhere\n');
    assert.equal(writer.text.toString(), 'more: written elsewhere\n');
  });

  it('a refused connection (invalid file id, close 4400) shows the reason and stops retrying', async () => {
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const query = new URLSearchParams({ file: 'a/../etc/passwd', name: 'Mallory', gateways: gatewayB.ws });
    await page.goto(`${gatewayB.http}/?${query}`);
    await page.waitForFunction(() => window.__collab?.session?.status.state === 'closed', null, { timeout: 15000 });
    const status = await page.evaluate(() => window.__collab.session.status);
    assert.equal(status.code, 4400);
    assert.ok(status.message && status.message.length > 0, 'the gateway gave a reason');
    const banner = page.locator('#banner');
    assert.equal(await banner.getAttribute('data-state'), 'closed');
    const text = await banner.textContent();
    assert.ok(text.includes(status.message) && text.includes('4400'), `banner shows the reason: ${text}`);
    assert.ok(await banner.isVisible());
    const readOnly = await page.evaluate(() => window.__collab.editor.getOption(window.__collab.monaco.editor.EditorOption.readOnly));
    assert.equal(readOnly, true, 'a refused editor takes no edits');
    // No reconnect loop: y-websocket would have retried within 200-400 ms; allow far more.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sockets.length, 1, `one connection attempt, saw ${sockets.join(', ')}`);
    assert.equal(await page.evaluate(() => window.__collab.session.status.state), 'closed');
    assert.ok(sockets[0].includes('a%2F..%2Fetc%2Fpasswd'), `the id reached the gateway unresolved: ${sockets[0]}`);
  });

  it('a gateway killed while a user types: the page shows reconnecting, fails over, and loses no character', async () => {
    const file = 'e2e/failover.ts';
    // Carol's page comes from gateway B but edits through A first, with B as the fallback.
    const carol = await openEditor(browser, {
      pageFrom: gatewayB.http,
      gateways: [gatewayA.ws, gatewayB.ws],
      file,
      name: 'Carol',
      color: '#8e6c8a',
    });
    cleanups.push(() => carol.context.close());
    const watcher = await nodeClient(gatewayB.ws, file);
    cleanups.push(async () => watcher.close());
    const typed = 'the quick brown fox jumps over the lazy dog 0123456789 again and again';
    await caretAtEndOfLine(carol.page, 1);
    const typing = carol.page.keyboard.type(typed, { delay: 30 });
    // Kill A once some of the typing has reached the other gateway.
    await waitFor(() => watcher.text.toString().length >= 10, { what: 'first keystrokes to arrive through A' });
    await gatewayA.kill();
    await carol.page.waitForFunction(
      () => window.__collab.statuses.some((s) => s.state === 'reconnecting'),
      null,
      { timeout: 15000 },
    );
    await typing;
    await carol.page.waitForFunction(
      (b) => window.__collab.session.status.state === 'synced' && window.__collab.session.status.url === `${b}/doc`,
      gatewayB.ws,
      { timeout: 20000 },
    );
    await waitFor(() => watcher.text.toString() === typed, { what: 'every typed character at the Node client' });
    assert.equal(await editorText(carol.page), typed);
    const states = await carol.page.evaluate(() => window.__collab.statuses.map((s) => s.state));
    assert.ok(states.indexOf('reconnecting') > states.indexOf('synced'), `status history: ${states.join(' > ')}`);
    assert.equal(await carol.page.locator('#banner').getAttribute('data-state'), 'synced');
    assert.deepEqual(carol.errors, []);
  });
});
