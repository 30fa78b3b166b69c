// End-to-end: the demo on a folder. Two gateways run as scripts/demo runs one (`--auth redis`,
// the demo's people seeded through the admin API) with `--files dir` on a temporary folder, so
// the demo's file `demo/main.ts` is DIR/demo/main.ts. Ann types in the page on gateway A: the
// file on disk changes. The file is rewritten on disk (as any text editor would): both pages,
// Ann's on A and Bob's on B, show the change, keep what was typed, and their status bars say
// "changed outside, merged" (Bob's gateway did not merge: it relays the state from A's).
//
//   node --test test/browser/files.test.js   (needs dist/ built, the gateway, /usr/bin/chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo, writeJson } from '../../demo/seed.mjs';
import { caretAtEndOfLine, copyOfDist, editorText, launchBrowser, startGateway, startRedis, waitFor } from './harness.js';

const ADMIN_TOKEN = `admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const ORIGINAL = 'export const answer = 42;\n// the end\n';

describe('the demo on a folder: typing reaches the file, the file reaches the editors', { timeout: 180000 }, () => {
  let redis;
  let page; // the copy of dist/ the gateways serve, with the test's demo-users.json
  let files; // the gateways' --files-dir
  let gatewayA;
  let gatewayB;
  let browser;
  const cleanups = [];

  before(async () => {
    files = mkdtempSync(join(tmpdir(), 'collab-files-'));
    mkdirSync(join(files, 'demo'));
    writeFileSync(join(files, 'demo', 'main.ts'), ORIGINAL);
    browser = await launchBrowser();
    redis = await startRedis();
    page = copyOfDist();
    const args = [
      '--auth', 'redis', '--admin-token', ADMIN_TOKEN,
      '--files', 'dir', '--files-dir', files, '--write-back-ms', '200', '--write-back-max-ms', '1000',
    ];
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
    if (files) rmSync(files, { recursive: true, force: true });
  });

  /** Opens the page on `gateway`, clicks "join as" `id`; resolves once synced. */
  async function joinAs(gateway, id) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 520 } });
    cleanups.push(() => context.close());
    const tab = await context.newPage();
    const errors = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(`${gateway.http}/?${new URLSearchParams({ gateways: gateway.ws })}`);
    await tab.locator(`#demo-users button[data-user="${id}"]`).click({ timeout: 15000 });
    await tab.waitForFunction(() => window.__collab?.session?.status.state === 'synced', null, { timeout: 20000 });
    return { page: tab, errors };
  }

  /** What the page's file status shows, or null while it is hidden. */
  const fileStatus = (tab) =>
    tab.evaluate(() => {
      const element = document.getElementById('file-state');
      return element.hidden ? null : element.textContent;
    });

  const states = (tab) => tab.evaluate(() => window.__collab.fileStates.map((f) => f.state));

  const onDisk = () => readFileSync(join(files, 'demo', 'main.ts'), 'utf8');

  it('typing in the page changes the file on disk; a change made on disk shows in every editor, merged', async () => {
    const ann = await joinAs(gatewayA, 'ann');
    assert.equal(await editorText(ann.page), ORIGINAL, 'the page opens the file from disk');
    const bob = await joinAs(gatewayB, 'bob');
    assert.equal(await editorText(bob.page), ORIGINAL);

    // Type -> disk.
    await caretAtEndOfLine(ann.page, 1);
    await ann.page.keyboard.type(' // typed in the page', { delay: 10 });
    const typed = 'export const answer = 42; // typed in the page\n// the end\n';
    await waitFor(async () => (await editorText(ann.page)) === typed, { what: "Ann's typing in her editor" });
    const typedAt = Date.now();
    await waitFor(() => onDisk() === typed, { what: 'the typing on disk', timeout: 10000 });
    console.log(`files: last keystroke to disk ${Date.now() - typedAt} ms (--write-back-ms 200)`);
    for (const [who, user] of [['Ann', ann], ['Bob', bob]]) {
      await waitFor(async () => (await fileStatus(user.page)) === 'saved', { what: `${who}'s status bar to say saved` });
    }

    // Disk -> editors: rewrite the last line as an editor would (a new file renamed over).
    const outside = 'export const answer = 42; // typed in the page\n// changed on disk\n';
    writeFileSync(join(files, 'demo', 'main.ts.tmp'), outside);
    renameSync(join(files, 'demo', 'main.ts.tmp'), join(files, 'demo', 'main.ts'));
    const writtenAt = Date.now();
    for (const [who, user] of [['Ann', ann], ['Bob', bob]]) {
      await waitFor(async () => (await editorText(user.page)) === outside, { what: `the change on disk in ${who}'s editor`, timeout: 10000 });
      console.log(`files: disk write to ${who}'s editor ${Date.now() - writtenAt} ms`);
      await waitFor(async () => (await fileStatus(user.page)) === 'changed outside, merged', {
        what: `${who}'s status bar to say "changed outside, merged" (states: ${JSON.stringify(await states(user.page))})`,
      });
    }
    assert.equal(onDisk(), outside, 'the merge wrote nothing else');
    assert.deepEqual([...ann.errors, ...bob.errors], [], 'no page errors');
  });
});
