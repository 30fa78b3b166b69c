// End-to-end: server-side undo in the demo page. Two gateways check tokens (`--auth redis`),
// the demo's people are seeded through the admin API, and each person has a browser context of
// their own. Ann and Bob type in two windows (on different gateways); Ann presses Ctrl+Z: only
// her last change vanishes, in both windows, and Bob's typing (also what he typed at the same
// time) stays. Ann reloads the page: her Ctrl+Z still undoes her earlier change, because the
// gateway keeps her history in Redis, not the page. Redo (the demo's button, Ctrl+Shift+Z)
// brings it back, the editor's context menu undoes again. The viewer Vic has no undo at all.
//
// Needs the gateway's server-side undo (`?ext=undo`, `undo-state`, `{"type":"undo"}`; issue 11):
// against a gateway without it the page falls back to its local undo manager, which forgets
// everything on a reload, and these tests fail (the page never reports `mode: 'server'`).
// Never skip them.
//
//   node --test test/browser/undo.test.js   (needs dist/ built, the gateway, /usr/bin/chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as decoding from 'lib0/decoding';
import { seedDemo, writeJson } from '../../demo/seed.mjs';
import { caretAtEndOfLine, copyOfDist, editorText, launchBrowser, startGateway, startRedis, waitFor } from './harness.js';

const ADMIN_TOKEN = `admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
/** The gateways' `--undo-capture-ms`: a user's edits closer together than this are one item. */
const CAPTURE_MS = 300;

/** The type-100 JSON messages in WebSocket frames (binary payloads), decoded; others skipped. */
function extensionMessages(frames) {
  return frames.flatMap((payload) => {
    try {
      const decoder = decoding.createDecoder(new Uint8Array(payload));
      if (decoding.readVarUint(decoder) !== 100) return [];
      return [JSON.parse(decoding.readVarString(decoder))];
    } catch {
      return [];
    }
  });
}

describe('server-side undo in the demo: per user, in every window, across a reload', { timeout: 180000 }, () => {
  let redis;
  let page; // the copy of dist/ the gateways serve, with the test's demo-users.json
  let gatewayA;
  let gatewayB;
  let browser;
  const cleanups = [];

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
    page = copyOfDist();
    const args = ['--auth', 'redis', '--admin-token', ADMIN_TOKEN, '--undo-capture-ms', String(CAPTURE_MS)];
    [gatewayA, gatewayB] = await Promise.all([
      startGateway(redis.url, { args, staticDir: page.dir }),
      startGateway(redis.url, { args, staticDir: page.dir }),
    ]);
    writeJson(join(page.dir, 'demo-users.json'), await seedDemo({ gateway: gatewayA.http, adminToken: ADMIN_TOKEN, ttlSecs: 600 }));
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await browser?.close();
    await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
    await redis?.stop();
    page?.remove();
  });

  /**
   * Opens the page on `gateway` in a browser context of its own, clicks "join as" `id` and waits
   * until synced. Records the page's WebSocket URLs and the frames it sent and received (all
   * sockets, also after a reload).
   */
  async function joinAs(gateway, id) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
    cleanups.push(() => context.close());
    const tab = await context.newPage();
    const user = { context, page: tab, errors: [], sockets: [], sent: [], received: [] };
    tab.on('pageerror', (error) => user.errors.push(error.message));
    tab.on('websocket', (ws) => {
      user.sockets.push(ws.url());
      ws.on('framesent', ({ payload }) => typeof payload !== 'string' && user.sent.push(Buffer.from(payload)));
      ws.on('framereceived', ({ payload }) => typeof payload !== 'string' && user.received.push(Buffer.from(payload)));
    });
    await tab.goto(`${gateway.http}/?${new URLSearchParams({ gateways: gateway.ws })}`);
    await tab.locator(`#demo-users button[data-user="${id}"]`).click({ timeout: 15000 });
    await synced(tab);
    return user;
  }

  const synced = (tab) => tab.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });

  /** What the page's undo and redo buttons show: their counts, whether they are enabled, and the session's state. */
  const buttons = (tab) =>
    tab.evaluate(() => ({
      undo: Number(document.getElementById('undo-count').textContent),
      redo: Number(document.getElementById('redo-count').textContent),
      undoEnabled: !document.getElementById('undo').disabled,
      redoEnabled: !document.getElementById('redo').disabled,
      state: window.__collab.undo,
    }));

  /** Waits until the gateway has offered server undo on the page's current socket. */
  const offered = (tab, who) =>
    waitFor(async () => {
      const { state } = await buttons(tab);
      return state.mode === 'server' && state.ready;
    }, { what: `the gateway to offer server-side undo to ${who} (an undo-state on its socket)` });

  /** Waits until both pages show `text`. */
  async function bothShow(users, text, what) {
    for (const [name, user] of Object.entries(users)) {
      await waitFor(async () => (await editorText(user.page)) === text, { what: `${what}, at ${name}` });
    }
  }

  /** Resolves once the capture window since `since` has passed, so the next edit starts a new item. */
  function captureWindowPassed(since) {
    // No message marks the end of an undo item: the gateway closes it when the user's edits
    // pause for CAPTURE_MS. This waits for time itself, not for a condition.
    const left = since + CAPTURE_MS * 2 - Date.now();
    return left > 0 ? new Promise((r) => setTimeout(r, left)) : Promise.resolve();
  }

  const A1 = '// Ann: first line';
  const A2 = ' and more from Ann';
  const B1 = '// Bob: second line';
  const B2 = ', Bob still typing';

  let ann;
  let bob;

  it("Ctrl+Z removes only the presser's last change, in both windows; after a reload Ctrl+Z still undoes her earlier change; redo brings them back", async () => {
    ann = await joinAs(gatewayA, 'ann');
    bob = await joinAs(gatewayB, 'bob');
    assert.ok(ann.sockets[0].includes('ext=undo'), `the page opts in to undo messages: ${ann.sockets[0]}`);
    await offered(ann.page, 'Ann');
    await offered(bob.page, 'Bob');
    assert.deepEqual(await buttons(ann.page), {
      undo: 0,
      redo: 0,
      undoEnabled: false,
      redoEnabled: false,
      state: { mode: 'server', undo: 0, redo: 0, ready: true },
    });
    const users = { Ann: ann, Bob: bob };

    // Ann's first change (one item: typed fast), then Bob's line below it.
    await caretAtEndOfLine(ann.page, 1);
    await ann.page.keyboard.type(A1, { delay: 15 });
    await ann.page.keyboard.press('Enter');
    const annPaused = Date.now();
    await bothShow(users, `${A1}\n`, "Ann's first line");
    await waitFor(async () => (await buttons(ann.page)).undoEnabled, { what: "Ann's undo button enabled (her count left zero)" });
    await caretAtEndOfLine(bob.page, 2);
    await bob.page.keyboard.type(B1, { delay: 15 });
    await bothShow(users, `${A1}\n${B1}`, "Bob's line");

    // Ann's second change, while Bob types on his own line at the same time.
    await captureWindowPassed(annPaused);
    await caretAtEndOfLine(ann.page, 1);
    await caretAtEndOfLine(bob.page, 2);
    await Promise.all([ann.page.keyboard.type(A2, { delay: 15 }), bob.page.keyboard.type(B2, { delay: 15 })]);
    const full = `${A1}${A2}\n${B1}${B2}`;
    await bothShow(users, full, 'both changes');

    // Ann presses Ctrl+Z: her second change vanishes everywhere; Bob's concurrent typing stays.
    const sentBefore = ann.sent.length;
    await ann.page.keyboard.press('Control+z');
    const afterUndo = `${A1}\n${B1}${B2}`;
    await bothShow(users, afterUndo, "Ann's second change undone");
    assert.deepEqual(extensionMessages(ann.sent.slice(sentBefore)), [{ type: 'undo' }], 'Ctrl+Z sent one undo request to the gateway');
    await waitFor(
      () => ann.page.evaluate(() => window.__collab.undoStates.some((s) => s.op === 'undo' && s.applied === true)),
      { what: "the gateway's reply: undo applied" },
    );
    await waitFor(async () => {
      const shown = await buttons(ann.page);
      return shown.undoEnabled && shown.redoEnabled && shown.redo > 0;
    }, { what: "Ann's buttons: her first change left to undo, one to redo" });

    // Ann reloads the page: a fresh editor and doc, no history in the page. Ctrl+Z still undoes
    // her earlier change (from the gateway's history); Bob's line stays.
    const socketsBefore = ann.sockets.length;
    await ann.page.reload();
    await synced(ann.page);
    assert.ok(ann.sockets.length > socketsBefore, 'the reload opened a new socket');
    await waitFor(async () => (await editorText(ann.page)) === afterUndo, { what: 'the file after the reload, at Ann' });
    await offered(ann.page, 'Ann after the reload');
    await waitFor(async () => (await buttons(ann.page)).undoEnabled, { what: "Ann's undo button enabled after the reload" });
    await ann.page.evaluate(() => window.__collab.editor.focus());
    await ann.page.keyboard.press('Control+z');
    const afterSecondUndo = `${B1}${B2}`;
    await bothShow(users, afterSecondUndo, "Ann's first change undone after her reload");

    // Redo: the demo's button brings the first change back, Ctrl+Shift+Z the second.
    await waitFor(async () => (await buttons(ann.page)).redoEnabled, { what: "Ann's redo button enabled" });
    await ann.page.locator('#redo').click();
    await bothShow(users, afterUndo, "Ann's first change redone (button)");
    await ann.page.evaluate(() => window.__collab.editor.focus());
    await ann.page.keyboard.press('Control+Shift+z');
    await bothShow(users, full, "Ann's second change redone (Ctrl+Shift+Z)");

    // The editor's right-click menu has Undo too, and it goes to the gateway as well. (Chosen with
    // the keyboard: Monaco's menus ignore mouse clicks for 100 ms after opening.)
    await ann.page.locator('#editor .view-lines').click({ button: 'right' });
    await ann.page.locator('.monaco-menu .action-item', { hasText: 'Undo' }).first().waitFor({ state: 'visible', timeout: 15000 });
    await ann.page.keyboard.press('ArrowDown');
    await waitFor(
      () =>
        ann.page.evaluate(() => {
          let active = document.activeElement;
          while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
          return active?.textContent?.startsWith('Undo');
        }),
      { what: 'Undo focused in the context menu' },
    );
    await ann.page.keyboard.press('Enter');
    await bothShow(users, afterUndo, "Ann's second change undone again (context menu)");
    assert.equal(extensionMessages(ann.sent).filter((m) => m.type === 'undo').length, 3, 'three undo requests in all');
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });

  it("the read-only viewer has no undo: its buttons stay disabled and Ctrl+Z sends nothing and changes nothing", async () => {
    assert.ok(ann && bob, 'needs the writers of the first test');
    const vic = await joinAs(gatewayB, 'vic');
    const text = await editorText(ann.page);
    await waitFor(async () => (await editorText(vic.page)) === text, { what: 'the file at Vic' });
    assert.ok(!vic.sockets[0].includes('ext=undo'), `a viewer does not opt in: ${vic.sockets[0]}`);
    assert.deepEqual(await buttons(vic.page), {
      undo: 0,
      redo: 0,
      undoEnabled: false,
      redoEnabled: false,
      state: { mode: 'none', undo: 0, redo: 0, ready: false },
    });
    await caretAtEndOfLine(vic.page, 1);
    await vic.page.keyboard.press('Control+z');
    await vic.page.keyboard.press('Control+Shift+z');
    // Then a change Vic can see: once it arrived, anything Vic's Ctrl+Z caused would have too.
    await caretAtEndOfLine(bob.page, 2);
    await bob.page.keyboard.type('!', { delay: 15 });
    await waitFor(async () => (await editorText(vic.page)) === `${text}!`, { what: "Bob's edit at Vic" });
    // Ann is on the other gateway: the edit reaches her through Redis, possibly after Vic.
    await waitFor(async () => (await editorText(ann.page)) === `${text}!`, { what: "Bob's edit at Ann" });
    assert.deepEqual(extensionMessages(vic.sent), [], 'Vic sent no extension message');
    assert.deepEqual(vic.errors, []);
  });
});
