// Seeds the demo's people through a gateway's admin API and writes what the demo page needs.
//
//   COLLAB_ADMIN_TOKEN=... node client-js/demo/seed.mjs --gateway http://127.0.0.1:8080 \
//     --out client-js/dist/demo-users.json [--ttl-secs 43200]
//
// The sandbox `demo` has two writers, Ann and Bob (their own sandbox is `demo`), and one viewer,
// Vic, whose own sandbox is elsewhere and who is a read-only (`ro`) member of `demo`. Each gets a
// user record, and a session whose token goes into the JSON file with the person's name, colour
// and role; the page fetches it and offers "join as". The admin token comes from the environment,
// not the command line (other users of the machine can read command lines). scripts/demo runs
// this; the browser tests import `seedDemo` to seed their own gateways the same way.
import { writeFileSync, renameSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The demo's sandbox, file and people. `sandbox_ip` is stored but never leaves the gateway. */
export const DEMO = {
  sandbox: 'demo',
  file: 'demo/main.ts',
  users: [
    { id: 'ann', name: 'Ann', color: '#e91e63', sandbox_id: 'demo', sandbox_ip: '10.0.0.42', role: 'rw' },
    { id: 'bob', name: 'Bob', color: '#00798c', sandbox_id: 'demo', sandbox_ip: '10.0.0.42', role: 'rw' },
    { id: 'vic', name: 'Vic', color: '#8e6c8a', sandbox_id: 'vic-home', sandbox_ip: '10.0.0.43', role: 'ro' },
  ],
};

/** Calls one admin route; throws with the gateway's error message on any other status. */
async function admin(gateway, adminToken, method, path, body, expect) {
  const response = await fetch(new URL(path, gateway), {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expect) {
    let reason = text;
    try {
      reason = JSON.parse(text).error ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(`${method} ${path}: ${response.status} ${reason}`);
  }
  return text ? JSON.parse(text) : null;
}

/**
 * Writes the demo's users, memberships and sessions through the admin API of `gateway`
 * (`http://host:port`) and returns what the page needs: `{ sandbox, file, users: [{ id, name,
 * color, role, token }] }` (no `sandbox_ip`).
 */
export async function seedDemo({ gateway, adminToken, ttlSecs = 12 * 3600 }) {
  if (!adminToken) throw new Error('seedDemo: no admin token');
  const users = [];
  for (const user of DEMO.users) {
    const { id, name, color, sandbox_id, sandbox_ip, role } = user;
    await admin(gateway, adminToken, 'PUT', `/admin/users/${encodeURIComponent(id)}`, { sandbox_id, sandbox_ip, name, color, ttl_secs: ttlSecs }, 200);
    if (sandbox_id !== DEMO.sandbox) {
      const path = `/admin/sandboxes/${encodeURIComponent(DEMO.sandbox)}/members/${encodeURIComponent(id)}`;
      await admin(gateway, adminToken, 'PUT', path, { role }, 200);
    }
    const session = await admin(gateway, adminToken, 'POST', '/admin/sessions', { user: id, ttl_secs: ttlSecs }, 201);
    users.push({ id, name, color, role, token: session.token });
  }
  return { sandbox: DEMO.sandbox, file: DEMO.file, expires_in: ttlSecs, users };
}

/** Writes `value` as JSON to `path` at once (a reader never sees half a file). */
export function writeJson(path, value) {
  const partial = `${path}.partial`;
  writeFileSync(partial, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(partial, path);
}

function argument(args, name) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const gateway = argument(args, '--gateway');
  const out = argument(args, '--out');
  const ttlSecs = Number(argument(args, '--ttl-secs') ?? 12 * 3600);
  if (!gateway || !out || !Number.isInteger(ttlSecs) || ttlSecs < 1) {
    console.error('usage: COLLAB_ADMIN_TOKEN=... node seed.mjs --gateway http://HOST:PORT --out FILE [--ttl-secs N]');
    process.exit(2);
  }
  try {
    const seeded = await seedDemo({ gateway, adminToken: process.env.COLLAB_ADMIN_TOKEN, ttlSecs });
    writeJson(out, seeded);
    const who = seeded.users.map((u) => `${u.name} (${u.role === 'ro' ? 'read-only' : 'writer'})`).join(', ');
    console.error(`seed: ${who} in sandbox '${seeded.sandbox}', sessions for ${ttlSecs} s, written to ${out}`);
  } catch (error) {
    console.error(`seed: ${error.message}`);
    process.exit(1);
  }
}
