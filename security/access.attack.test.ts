// Access-control attacks against the real portal (production build, real database), the real
// gateway and the real hypervisor with real console VMs: Bob reaching Alice's VMs by id through
// every VM route and page and through the gateway, a user calling every admin route, cross-site
// requests (a foreign Origin, or none) on every state-changing route, and the data files a run
// leaves on disk.
//
//   npx tsx --test security/access.attack.test.ts     (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { after, before } from 'node:test';
import { base64url } from 'jose';
import { REPO_ROOT } from '@raydesk/common/node';
import { attackArea } from './lib/attacks.ts';
import { PortalClient } from './lib/portal-client.ts';
import { startStack, type Stack } from './lib/stack.ts';
import {
  attachAuth,
  handshakeOutcome,
  until,
  viewerSocket,
  type AnySocket,
} from './lib/viewer-socket.ts';

const attack = attackArea('access');

const ALICE = { email: 'alice@attack.test', password: 'alice-password-attack', name: 'Alice' };
const BOB = { email: 'bob@attack.test', password: 'bob-password-attack', name: 'Bob' };

let stack: Stack;
let alice: PortalClient;
let bob: PortalClient;
let admin: PortalClient;
/** Alice's personal desktop and disposable browser, and Bob's desktop (portal VM rows). */
let aliceDesktop: { id: string; domainId: string };
let aliceBrowser: { id: string; domainId: string };
let bobDesktop: { id: string; domainId: string };
const sockets: AnySocket[] = [];

async function signedIn(who: { email: string; password: string }, address: string) {
  const c = new PortalClient(stack.portal.url, address);
  const r = await c.signIn(who.email, who.password);
  assert.equal(r.status, 200, r.text);
  return c;
}

async function vmOf(c: PortalClient, path: string): Promise<{ id: string; domainId: string }> {
  const r = await c.request('POST', path);
  assert.ok(r.status === 200 || r.status === 201, `${path}: ${r.status} ${r.text}`);
  const id = (r.json.vm as { id: string }).id;
  const row = await stack.portal.db.vm.findUniqueOrThrow({ where: { id } });
  assert.ok(row.domainId, 'the VM exists on the hypervisor');
  return { id, domainId: row.domainId };
}

before(async () => {
  stack = await startStack({ users: [ALICE, BOB] });
  alice = await signedIn(ALICE, '127.0.0.20');
  bob = await signedIn(BOB, '127.0.0.21');
  admin = await signedIn(stack.admin, '127.0.0.22');
  aliceDesktop = await vmOf(alice, '/api/desktop/open');
  aliceBrowser = await vmOf(alice, '/api/vms/disposable');
  bobDesktop = await vmOf(bob, '/api/desktop/open');
});
after(async () => {
  for (const s of sockets) s.disconnect();
  await stack?.close();
});

/** Alice's VM is untouched: still in the database and still on the hypervisor. */
async function assertAliveVm(vm: { id: string; domainId: string }): Promise<void> {
  const row = await stack.portal.db.vm.findUniqueOrThrow({ where: { id: vm.id } });
  assert.notEqual(row.state, 'destroyed');
  assert.equal((await stack.hv.get(vm.domainId)).id, vm.domainId);
}

function assertNothingAbout(
  r: { status: number; text: string },
  vm: { id: string; domainId: string },
) {
  assert.equal(r.status, 404, `answered ${r.status}`);
  assert.equal(r.text.includes(vm.domainId), false, 'the hypervisor id does not leak');
}

// ---- Bob reaches for Alice's VMs by id -------------------------------------------------------

attack("GET /api/vms/[id] of Alice's desktop", async () => {
  assertNothingAbout(await bob.request('GET', `/api/vms/${aliceDesktop.id}`), aliceDesktop);
});

attack("DELETE /api/vms/[id] of Alice's disposable browser", async () => {
  const r = await bob.request('DELETE', `/api/vms/${aliceBrowser.id}`);
  assertNothingAbout(r, aliceBrowser);
  await assertAliveVm(aliceBrowser);
});

attack("POST /api/vms/[id]/attach-token for Alice's desktop (control)", async () => {
  const r = await bob.request('POST', `/api/vms/${aliceDesktop.id}/attach-token`, {
    body: { mode: 'control' },
  });
  assertNothingAbout(r, aliceDesktop);
  assert.equal(r.json.token, undefined);
  // His own desktop does get one, naming his VM only.
  const own = await bob.request('POST', `/api/vms/${bobDesktop.id}/attach-token`, { body: {} });
  assert.equal(own.status, 200);
  assert.equal(own.json.vm, bobDesktop.domainId);
});

attack("POST /api/vms/[id]/attach-token for Alice's desktop (view, as if shadowing)", async () => {
  const r = await bob.request('POST', `/api/vms/${aliceDesktop.id}/attach-token`, {
    body: { mode: 'view' },
  });
  assertNothingAbout(r, aliceDesktop);
  assert.equal(r.json.token, undefined);
});

attack("POST /api/vms/[id]/heartbeat on Alice's disposable browser", async () => {
  const before = await stack.portal.db.vm.findUniqueOrThrow({ where: { id: aliceBrowser.id } });
  assertNothingAbout(
    await bob.request('POST', `/api/vms/${aliceBrowser.id}/heartbeat`),
    aliceBrowser,
  );
  const after = await stack.portal.db.vm.findUniqueOrThrow({ where: { id: aliceBrowser.id } });
  assert.deepEqual(after.lastSeenAt, before.lastSeenAt);
});

attack("POST /api/vms/[id]/release on Alice's disposable browser", async () => {
  const before = await stack.portal.db.vm.findUniqueOrThrow({ where: { id: aliceBrowser.id } });
  assertNothingAbout(
    await bob.request('POST', `/api/vms/${aliceBrowser.id}/release`),
    aliceBrowser,
  );
  const after = await stack.portal.db.vm.findUniqueOrThrow({ where: { id: aliceBrowser.id } });
  assert.deepEqual(after.lastSeenAt, before.lastSeenAt);
});

attack("the /desktop/[id] page of Alice's desktop", async () => {
  const r = await bob.request('GET', `/desktop/${aliceDesktop.id}`, { origin: null });
  assertNothingAbout(r, aliceDesktop);
});

attack("the /browser/[id] page of Alice's disposable browser", async () => {
  const r = await bob.request('GET', `/browser/${aliceBrowser.id}`, { origin: null });
  assertNothingAbout(r, aliceBrowser);
});

attack("every VM route and page with Alice's hypervisor ids instead of the portal's", async () => {
  for (const vm of [aliceDesktop, aliceBrowser]) {
    const calls: Array<[string, string]> = [
      ['GET', `/api/vms/${vm.domainId}`],
      ['DELETE', `/api/vms/${vm.domainId}`],
      ['POST', `/api/vms/${vm.domainId}/attach-token`],
      ['POST', `/api/vms/${vm.domainId}/heartbeat`],
      ['POST', `/api/vms/${vm.domainId}/release`],
      ['GET', `/desktop/${vm.domainId}`],
      ['GET', `/browser/${vm.domainId}`],
    ];
    for (const [method, path] of calls) {
      const r = await bob.request(method, path, { body: method === 'POST' ? {} : undefined });
      assert.equal(r.status, 404, `${method} ${path}: ${r.status}`);
    }
    await assertAliveVm(vm);
  }
});

attack(
  "Bob's attach token from the portal shows only his VM; rewritten for Alice's it is refused",
  async () => {
    const own = await bob.request('POST', `/api/vms/${bobDesktop.id}/attach-token`, { body: {} });
    const token = String(own.json.token);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)));
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...claims, vm: aliceDesktop.domainId }))}.${signature}`;
    const s1 = viewerSocket(stack.gatewayUrl, attachAuth(forged));
    sockets.push(s1);
    assert.equal(await handshakeOutcome(s1, 60_000), 'unauthorized');
    const s2 = viewerSocket(stack.gatewayUrl, attachAuth(token));
    sockets.push(s2);
    assert.equal(await handshakeOutcome(s2, 60_000), 'ready');
    const ready = s2.events.find((e) => e.event === 'session:ready')!.value as { vm: string };
    assert.equal(ready.vm, bobDesktop.domainId);
    assert.equal(
      stack.gateway.sessions.forVm(aliceDesktop.domainId).length,
      0,
      "nobody watches Alice's desktop",
    );
    s2.disconnect();
  },
);

// ---- A user calls the admin routes -----------------------------------------------------------

const ADMIN_CALLS: Array<[string, string, unknown?]> = [
  ['GET', '/api/admin/users'],
  [
    'POST',
    '/api/admin/users',
    { email: 'mallory@attack.test', name: 'M', password: 'mallory-pass-123' },
  ],
  ['PATCH', '/api/admin/users/:bob', { role: 'admin' }],
  ['POST', '/api/admin/users/:alice/password', { password: 'taken-over-password' }],
  ['POST', '/api/admin/users/:bob/unlock'],
  ['GET', '/api/admin/vms'],
  ['POST', '/api/admin/vms/:aliceVm/actions', { action: 'destroy' }],
  ['GET', '/api/admin/vms/:aliceVm/thumbnail'],
  ['GET', '/api/admin/sessions'],
  ['POST', '/api/admin/sessions/some-session/disconnect'],
  ['GET', '/api/admin/audit'],
  ['GET', '/api/admin/hosts'],
];

function concrete(path: string): string {
  return path
    .replace(':bob', stack.userIds.get(BOB.email)!)
    .replace(':alice', stack.userIds.get(ALICE.email)!)
    .replace(':aliceVm', aliceDesktop.id);
}

for (const [method, path, body] of ADMIN_CALLS) {
  attack(`a user calls ${method} ${path}`, async () => {
    const r = await bob.request(method, concrete(path), { body });
    assert.equal(r.status, 403, `${r.status} ${r.text.slice(0, 120)}`);
    assert.equal(r.json.users ?? r.json.vms ?? r.json.sessions ?? r.json.events, undefined);
    // Nothing happened.
    const bobRow = await stack.portal.db.user.findUniqueOrThrow({ where: { email: BOB.email } });
    assert.equal(bobRow.role, 'user');
    assert.equal(await stack.portal.db.user.count({ where: { email: 'mallory@attack.test' } }), 0);
    await assertAliveVm(aliceDesktop);
  });
}

// ---- Cross-site requests on every state-changing route ---------------------------------------

/** Every route handler under web/src/app/api with a state-changing method. */
function stateChangingRoutes(): Array<{ method: string; path: string }> {
  const api = join(REPO_ROOT, 'web', 'src', 'app', 'api');
  const out: Array<{ method: string; path: string }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'route.ts') {
        const source = readFileSync(full, 'utf8');
        const path = '/api/' + relative(api, join(full, '..')).split(sep).join('/');
        for (const m of source.matchAll(/export const (POST|PUT|PATCH|DELETE)\b/g)) {
          out.push({ method: m[1]!, path });
        }
      }
    }
  };
  walk(api);
  // The gateway's internal endpoint takes a bearer credential, not cookies (see auth attacks).
  return out
    .filter((r) => !r.path.startsWith('/api/internal/'))
    .sort((a, b) => (a.path + a.method).localeCompare(b.path + b.method));
}

const ROUTES = stateChangingRoutes();

/** A plausible body and the victim whose cookies ride along, for each route. */
function forgedRequest(route: { method: string; path: string }) {
  const asAdmin = route.path.startsWith('/api/admin/');
  const id = route.path.startsWith('/api/admin/users/')
    ? stack.userIds.get(BOB.email)!
    : route.path.startsWith('/api/admin/vms/')
      ? bobDesktop.id
      : route.path.startsWith('/api/admin/sessions/')
        ? 'some-session'
        : aliceBrowser.id;
  const bodies: Record<string, unknown> = {
    '/api/auth/login': { email: ALICE.email, password: ALICE.password },
    '/api/admin/users': { email: 'csrf@attack.test', name: 'CSRF', password: 'csrf-password-123' },
    '/api/admin/users/[id]': { role: 'admin' },
    '/api/admin/users/[id]/password': { password: 'csrf-password-123' },
    '/api/admin/vms/[id]/actions': { action: 'destroy' },
    '/api/vms/[id]/attach-token': { mode: 'control' },
  };
  return {
    victim: asAdmin ? admin : alice,
    path: route.path.replace('[id]', id),
    body: bodies[route.path] ?? {},
  };
}

async function assertNoCrossSiteEffect(): Promise<void> {
  await assertAliveVm(aliceBrowser);
  await assertAliveVm(bobDesktop);
  const bobRow = await stack.portal.db.user.findUniqueOrThrow({ where: { email: BOB.email } });
  assert.equal(bobRow.role, 'user');
  assert.equal(await stack.portal.db.user.count({ where: { email: 'csrf@attack.test' } }), 0);
  assert.equal((await alice.request('GET', '/api/me')).status, 200, 'Alice is still signed in');
  assert.equal((await admin.request('GET', '/api/admin/users')).status, 200, 'so is the admin');
}

for (const route of ROUTES) {
  for (const [label, origin] of [
    ['a foreign Origin', 'https://evil.example'],
    ['no Origin', null],
  ] as const) {
    attack(`cross-site ${route.method} ${route.path} with ${label}`, async () => {
      const { victim, path, body } = forgedRequest(route);
      const r = await victim.request(route.method, path, { body, origin });
      assert.equal(r.status, 403, `${r.status} ${r.text.slice(0, 120)}`);
      assert.equal(r.json.error, 'bad_origin');
      assert.equal(r.headers['set-cookie'], undefined, 'no cookies set or cleared');
      await assertNoCrossSiteEffect();
    });
  }
}

attack('cross-site requests saying Origin: null or only Sec-Fetch-Site: cross-site', async () => {
  const { victim, path, body } = forgedRequest({ method: 'DELETE', path: '/api/vms/[id]' });
  const nullOrigin = await victim.request('DELETE', path, { body, origin: 'null' });
  assert.equal(nullOrigin.status, 403);
  const crossSite = await victim.request('DELETE', path, {
    body,
    origin: null,
    headers: { 'sec-fetch-site': 'cross-site' },
  });
  assert.equal(crossSite.status, 403);
  await assertNoCrossSiteEffect();
});

// ---- What a run leaves on disk (finding 7) ---------------------------------------------------

attack(
  "another local user reads a suspended desktop's memory, disk, record or console log",
  async () => {
    // Alice works on her console (what she types is echoed into its log), then her desktop is
    // suspended as the idle timer would: its state file is written to data/states.
    const log = join(
      stack.hypervisor.config.dataDir,
      'logs',
      `${aliceDesktop.domainId}.console.log`,
    );
    stack.hypervisor.host
      .get(aliceDesktop.domainId)
      .serialInput(0, new TextEncoder().encode('echo alice-was-here\n'));
    await until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('alice-was-here'),
      30_000,
      'the console log',
    );
    const suspend = await admin.request('POST', `/api/admin/vms/${aliceDesktop.id}/actions`, {
      body: { action: 'suspend' },
    });
    assert.equal(suspend.status, 200, suspend.text);
    const dataDir = stack.hypervisor.config.dataDir;
    const found: string[] = [];
    const walk = (path: string) => {
      const stat = lstatSync(path);
      const mode = stat.mode & 0o777;
      if (stat.isDirectory()) {
        assert.equal(mode.toString(8), '700', `${relative(dataDir, path) || 'data'}/`);
        for (const entry of readdirSync(path)) walk(join(path, entry));
      } else {
        assert.equal(mode.toString(8), '600', relative(dataDir, path));
        found.push(relative(dataDir, path));
      }
    };
    walk(dataDir);
    for (const expected of [
      `states/${aliceDesktop.domainId}.state`,
      `domains/${aliceDesktop.domainId}.json`,
      `disks/${aliceDesktop.domainId}.overlay`,
    ]) {
      assert.ok(found.includes(expected), `${expected} was written (found ${found.join(', ')})`);
    }
    assert.ok(found.includes(`logs/${aliceDesktop.domainId}.console.log`), 'the console log');
  },
);
