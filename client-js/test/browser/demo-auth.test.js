// End-to-end: the demo as scripts/demo runs it, with tokens. Two gateways check tokens
// (`--auth redis`) and have an admin token; the test seeds the demo's people through the admin
// API with the demo's own seeder, and the page offers "join as". A writer and a viewer in
// separate browser contexts: the viewer sees the writer's typing, its own typing changes
// nothing and its banner says read-only; the gateway itself enforces it when the page does not
// know; refusals (no token, unknown token, a file outside the viewer's sandboxes) explain
// themselves and do not retry.
//
// Needs the gateway with authentication (`--auth redis`, server/src/access/): the gateway
// refuses to start with that flag until then, and every test here fails. Never skip them.
//
//   node --test test/browser/demo-auth.test.js   (needs dist/ built, the gateway, /usr/bin/chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as decoding from 'lib0/decoding';
import { DEMO, seedDemo, writeJson } from '../../demo/seed.mjs';
import { caretAtEndOfLine, copyOfDist, editorText, launchBrowser, nodeClient, startGateway, startRedis, waitFor } from './harness.js';

const ADMIN_TOKEN = `admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const SANDBOX_IPS = [...new Set(DEMO.users.map((u) => u.sandbox_ip))];

describe('the demo with tokens: a writer and a read-only viewer, against two gateways with --auth redis', { timeout: 180000 }, () => {
  let redis;
  let page; // the copy of dist/ the gateways serve, with the test's demo-users.json
  let gatewayA;
  let gatewayB;
  let browser;
  let seeded;
  const cleanups = [];

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
    page = copyOfDist();
    const args = ['--auth', 'redis', '--admin-token', ADMIN_TOKEN];
    [gatewayA, gatewayB] = await Promise.all([
      startGateway(redis.url, { args, staticDir: page.dir }),
      startGateway(redis.url, { args, staticDir: page.dir }),
    ]);
    seeded = await seedDemo({ gateway: gatewayA.http, adminToken: ADMIN_TOKEN, ttlSecs: 600 });
    writeJson(join(page.dir, 'demo-users.json'), seeded);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await browser?.close();
    await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
    await redis?.stop();
    page?.remove();
  });

  const token = (id) => seeded.users.find((u) => u.id === id).token;

  /** A browser context of its own that loads the page from `gateway` and records frames. */
  async function newPage(gateway, query = {}) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
    cleanups.push(() => context.close());
    const tab = await context.newPage();
    const errors = [];
    const sockets = [];
    const received = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framereceived', ({ payload }) => received.push(Buffer.from(payload)));
    });
    const params = new URLSearchParams({ gateways: gateway.ws, ...query });
    await tab.goto(`${gateway.http}/?${params}`);
    return { context, page: tab, errors, sockets, received };
  }

  /** Opens the page on `gateway` and clicks "join as" the person `id`; resolves once synced. */
  async function joinAs(gateway, id) {
    const user = await newPage(gateway);
    await user.page.locator(`#demo-users button[data-user="${id}"]`).click({ timeout: 15000 });
    await user.page.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });
    return user;
  }

  const readOnlyOption = (tab) => tab.evaluate(() => window.__collab.editor.getOption(window.__collab.monaco.editor.EditorOption.readOnly));

  /** Where `tab` sees the caret of `name` (from the awareness states it holds), or null. */
  const caretOf = (tab, name) => tab.evaluate((who) => window.__collab.presence.find((p) => p.name === who && !p.self)?.cursor ?? null, name);

  let ann;
  let vic;
  const LINE_1 = "export const greeting = 'hello from Ann';";
  const LINE_2 = '// and more from Ann';

  it("offers to join as each of the demo's people; the viewer sees the writer's typing, its own typing changes nothing, and its banner says read-only", async () => {
    ann = await joinAs(gatewayA, 'ann');
    vic = await joinAs(gatewayB, 'vic');
    const names = await vic.page.locator('#demo-users button').allTextContents();
    assert.deepEqual(names.map((n) => n.trim()), ['Ann', 'Bob', 'Vic (read-only)']);
    assert.match(ann.page.url(), /[?&]as=ann\b/);
    assert.ok(!ann.page.url().includes(token('ann')), 'the page never puts the token in its URL');

    // The viewer: read-only banner and editor from the start.
    const banner = vic.page.locator('#banner');
    assert.equal(await banner.getAttribute('data-read-only'), 'true');
    assert.match(await banner.textContent(), /read-only/i);
    assert.equal(await readOnlyOption(vic.page), true);
    assert.equal(await ann.page.locator('#banner').getAttribute('data-read-only'), 'false');

    // The writer types; the viewer, on the other gateway, sees it.
    await caretAtEndOfLine(ann.page, 1);
    await ann.page.keyboard.type(LINE_1, { delay: 15 });
    await waitFor(async () => (await editorText(vic.page)) === LINE_1, { what: "Ann's typing at Vic" });

    // The viewer types, then moves its caret: once the writer sees the caret there, anything
    // typed before it (same socket, in order) would have arrived too. Nothing does.
    await caretAtEndOfLine(vic.page, 1);
    await vic.page.keyboard.type('NOPE', { delay: 15 });
    await vic.page.keyboard.press('Enter');
    await vic.page.evaluate(() => window.__collab.editor.setPosition({ lineNumber: 1, column: 3 }));
    await waitFor(async () => (await caretOf(ann.page, 'Vic'))?.column === 3, { what: "Vic's moved caret at Ann" });
    assert.equal(await editorText(vic.page), LINE_1);
    assert.equal(await editorText(ann.page), LINE_1);

    // The writer goes on; the viewer still follows; a late joiner gets exactly the writer's text.
    await caretAtEndOfLine(ann.page, 1);
    await ann.page.keyboard.press('Enter');
    await ann.page.keyboard.type(LINE_2, { delay: 15 });
    const expected = `${LINE_1}\n${LINE_2}`;
    await waitFor(async () => (await editorText(vic.page)) === expected, { what: "Ann's second line at Vic" });
    const bob = await nodeClient(gatewayB.ws, DEMO.file, { token: token('bob') });
    cleanups.push(async () => bob.close());
    await waitFor(() => bob.text.toString() === expected, { what: 'the late joiner Bob to read exactly what Ann wrote' });
    assert.match(await banner.textContent(), /read-only/i);

    // Nothing the gateway sent the viewer holds a sandbox address or another person's token.
    const sent = Buffer.concat(vic.received).toString('latin1');
    for (const secret of [...SANDBOX_IPS, token('ann'), token('bob')]) {
      assert.ok(!sent.includes(secret), `a frame to Vic holds ${secret}`);
    }
    const usersFile = await vic.page.evaluate(async () => (await fetch('demo-users.json')).text());
    for (const ip of SANDBOX_IPS) assert.ok(!usersFile.includes(ip), 'demo-users.json holds no sandbox_ip');
    assert.deepEqual([...ann.errors, ...vic.errors], []);
  });

  it('the gateway enforces read-only when the page does not know: the banner turns read-only, the editor locks, and the edit is gone', async () => {
    assert.ok(ann, 'needs the writer of the first test');
    const expected = await editorText(ann.page);
    const viewer = await newPage(gatewayB, { file: DEMO.file, name: 'Vic', token: token('vic') });
    await viewer.page.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });
    await waitFor(async () => (await editorText(viewer.page)) === expected, { what: 'the file at the viewer' });
    assert.equal(await readOnlyOption(viewer.page), false, 'the page was not told');

    await caretAtEndOfLine(viewer.page, 1);
    await viewer.page.keyboard.type('Z', { delay: 15 });
    await viewer.page.waitForFunction(() => window.__collab.session.status.readOnly === true, null, { timeout: 15000 });
    assert.equal(await readOnlyOption(viewer.page), true);
    // The reload brings the gateway's text: the dropped edit vanishes.
    await waitFor(async () => (await editorText(viewer.page)) === expected, { what: 'the dropped edit gone at the viewer' });
    const banner = viewer.page.locator('#banner');
    await waitFor(async () => /read-only/i.test(await banner.textContent()), { what: 'a read-only banner' });
    assert.equal(await banner.getAttribute('data-state'), 'synced');
    // More typing is refused by the editor itself; the writer never saw any of it.
    await viewer.page.keyboard.type('ZZ', { delay: 15 });
    await caretAtEndOfLine(ann.page, 2);
    await ann.page.keyboard.type('!', { delay: 15 });
    await waitFor(async () => (await editorText(viewer.page)) === `${expected}!`, { what: 'the writer still reaching the viewer' });
    assert.equal(await editorText(ann.page), `${expected}!`);
    assert.deepEqual(viewer.errors, []);
  });

  it('no token, an unknown token, or a file outside the sandboxes: the banner says why, the editor locks, nothing retries', async () => {
    const cases = [
      { query: { file: DEMO.file, name: 'Nobody' }, code: 4401, text: /Not signed in/ },
      { query: { file: DEMO.file, name: 'Mallory', token: 'not-a-session' }, code: 4401, text: /Not signed in/ },
      { query: { file: 'vic-home/notes.ts', name: 'Ann', token: token('ann') }, code: 4403, text: /Access denied/ },
    ];
    for (const { query, code, text } of cases) {
      const refused = await newPage(gatewayA, query);
      await refused.page.waitForFunction(() => window.__collab?.session?.status.state === 'closed', null, { timeout: 15000 });
      const status = await refused.page.evaluate(() => window.__collab.session.status);
      assert.equal(status.code, code, JSON.stringify(status));
      const banner = refused.page.locator('#banner');
      assert.equal(await banner.getAttribute('data-state'), 'closed');
      const shown = await banner.textContent();
      assert.match(shown, text);
      assert.ok(shown.includes(String(code)), shown);
      assert.equal(await readOnlyOption(refused.page), true, 'a refused editor takes no edits');
      // y-websocket would retry within 200-400 ms: allow far more.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(refused.sockets.length, 1, `one attempt, saw ${refused.sockets.length}`);
      assert.equal(await refused.page.evaluate(() => window.__collab.session.status.state), 'closed');
      if (query.token) assert.ok(!shown.includes(query.token), 'the banner shows no token');
    }
  });

  it('a stock y-websocket client with the viewer token syncs but its edit reaches no one', async () => {
    assert.ok(ann, 'needs the writer of the first test');
    const expected = await editorText(ann.page);
    const stock = await nodeClient(gatewayA.ws, DEMO.file, { token: token('vic') });
    cleanups.push(async () => stock.close());
    await waitFor(() => stock.text.toString() === expected, { what: 'the file at the stock viewer' });
    const notices = [];
    stock.provider.messageHandlers[100] = (_encoder, decoder) => notices.push(JSON.parse(decoding.readVarString(decoder)));
    stock.text.insert(0, 'STOCK ');
    await waitFor(() => notices.some((n) => n.type === 'error' && n.code === 4403 && n.reason === 'read-only'), {
      what: "the gateway's read-only notice",
    });
    const reader = await nodeClient(gatewayB.ws, DEMO.file, { token: token('bob') });
    cleanups.push(async () => reader.close());
    await waitFor(() => reader.text.toString() === expected, { what: 'a later joiner without the stock edit' });
    assert.equal(await editorText(ann.page), expected);
  });
});
