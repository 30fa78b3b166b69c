// The gateway's live status page (/status) in headless Chromium: it asks for the admin token
// (a wrong one is refused and forgotten), then a person joins a file and the page shows that
// room appear with the person's name, the connections chart draws, and the person's room
// disappears when they leave. Neither the page nor any URL it requests ever holds the session
// token, the sandbox_ip or the user id; its Content-Security-Policy lets its own script run
// (no violation reported).
//
//   node --test test/browser/status.test.js   (needs the gateway and Chromium)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, nodeClient, startGateway, startRedis, waitFor } from './harness.js';

const ADMIN_TOKEN = `admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const USER = { id: 'u-ann-3f9d2c', name: 'Ann Author', color: '#e91e63', sandbox_id: 'sb-status', sandbox_ip: '10.77.0.9' };
const FILE = 'sb-status/readme.md';

describe('the status page: token, a room appearing with its person, the charts', { timeout: 120000 }, () => {
  let redis;
  let gateway;
  let browser;
  let sessionToken;

  before(async () => {
    browser = await launchBrowser();
    redis = await startRedis();
    gateway = await startGateway(redis.url, { args: ['--auth', 'redis', '--admin-token', ADMIN_TOKEN] });
    const admin = (method, path, body) =>
      fetch(`${gateway.http}${path}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const { id, ...record } = USER;
    const put = await admin('PUT', `/admin/users/${id}`, { ...record, ttl_secs: 600 });
    assert.equal(put.status, 200, await put.text());
    const created = await admin('POST', '/admin/sessions', { user: id, ttl_secs: 600 });
    assert.equal(created.status, 201);
    sessionToken = (await created.json()).token;
  });

  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await redis?.stop();
  });

  it('shows a room appear with its person once the admin token is given, and draws the charts', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const problems = [];
    const urls = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      // A 401 is logged by the browser as a failed load; anything else (a CSP violation
      // above all) is a fault of the page.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text());
    });
    page.on('request', (request) => urls.push(request.url()));
    await page.goto(`${gateway.http}/status`);
    await page.locator('#token').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#status').isHidden(), true, 'no status before a token');

    // A wrong token is refused and not kept.
    await page.locator('#token').fill('not-the-admin-token-at-all');
    await page.locator('#token-form button').click();
    await waitFor(async () => /refused/.test(await page.locator('#login-error').textContent()), { what: 'the refusal' });
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await page.locator('#token').fill(ADMIN_TOKEN);
    await page.locator('#token-form button').click();
    await page.locator('#status').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#redis-ready').textContent(), 'ready');
    assert.equal(await page.locator('#rooms tr').count(), 0, 'no room yet');

    const client = await nodeClient(gateway.ws, FILE, { token: sessionToken });
    try {
      const row = page.locator(`#rooms tr[data-file="${FILE}"]`);
      await row.waitFor({ state: 'visible', timeout: 15000 });
      assert.equal(await row.locator('.person .name').textContent(), USER.name);
      assert.equal(await page.locator('#connections-now').textContent(), '1');

      // The connections chart has drawn several samples, its line among them (pixels of the plot colour).
      await waitFor(() => page.evaluate(() => Number(document.getElementById('chart-connections').dataset.points) >= 2), { what: 'two samples on the chart' });
      const painted = await page.evaluate(() => {
        const canvas = document.getElementById('chart-connections');
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count += 1;
        return count;
      });
      assert.ok(painted > 50, `the chart drew (${painted} pixels painted)`);

      const html = await page.content();
      const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
      for (const secret of [sessionToken, USER.sandbox_ip, USER.id]) {
        assert.ok(!html.includes(secret), `the page shows ${secret}`);
      }
      assert.ok(stored.includes(ADMIN_TOKEN), 'the admin token is kept in the tab');
      assert.ok(!urls.some((url) => url.includes(ADMIN_TOKEN)), 'no URL carries the admin token');
    } finally {
      client.close();
    }
    // Leaving empties the room; after its grace period it is gone from the page.
    await page.locator(`#rooms tr[data-file="${FILE}"]`).waitFor({ state: 'detached', timeout: 15000 });
    assert.deepEqual(problems, []);
    await context.close();
  });
});
