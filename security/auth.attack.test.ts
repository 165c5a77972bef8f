// Attacks on sign-in and sessions, against the real portal (production build, real SQLite
// database) with the real gateway and hypervisor behind it. Each case tries one attack and
// asserts it failed (security/lib/attacks.ts counts them).
//
//   npx tsx --test security/auth.attack.test.ts     (after `npm run build -w web`)
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before } from 'node:test';
import { SignJWT, UnsecuredJWT, base64url, decodeJwt } from 'jose';
import { sqlitePath } from '@raydesk/db/url';
import { attackArea } from './lib/attacks.ts';
import { PortalClient } from './lib/portal-client.ts';
import { startStack, type Stack } from './lib/stack.ts';

const attack = attackArea('auth');

const BOB = { email: 'bob@attack.test', password: 'bob-password-attack', name: 'Bob' };
const CAROL = { email: 'carol@attack.test', password: 'carol-password-attack', name: 'Carol' };
const DAN = { email: 'dan@attack.test', password: 'dan-password-attack', name: 'Dan' };
const DORA = {
  email: 'dora@attack.test',
  password: 'dora-password-attack',
  name: 'Dora',
  disabled: true,
};
const ERIN = { email: 'erin@attack.test', password: 'erin-password-attack', name: 'Erin' };

let stack: Stack;
let base = '';
/** The admin at their own desk: an address they have signed in from before. */
let adminAtHome: PortalClient;
let bob: PortalClient;

const client = (address?: string) => new PortalClient(base, address);
const sessionKey = () => new TextEncoder().encode(stack.secrets.session);

before(async () => {
  stack = await startStack({ users: [BOB, CAROL, DAN, DORA, ERIN] });
  base = stack.portal.url;
  adminAtHome = client('127.0.0.10');
  assert.equal((await adminAtHome.signIn(stack.admin.email, stack.admin.password)).status, 200);
  bob = client('127.0.0.11');
  assert.equal((await bob.signIn(BOB.email, BOB.password)).status, 200);
});
after(async () => stack?.close());

/** What the portal says to a request carrying this access token (and nothing else). */
async function withAccessToken(token: string, path: string) {
  const c = client('127.0.0.12');
  c.setCookie('rd_access', token);
  return c.request('GET', path);
}

async function assertRefused(token: string): Promise<void> {
  const me = await withAccessToken(token, '/api/me');
  assert.equal(me.status, 401, `/api/me answered ${me.status}`);
  const admin = await withAccessToken(token, '/api/admin/users');
  assert.ok([401, 403].includes(admin.status), `/api/admin/users answered ${admin.status}`);
  assert.equal(admin.json.users, undefined);
}

/** Bob's own valid access token, for tampering. */
function bobsToken(): string {
  const token = bob.cookie('rd_access');
  assert.ok(token, 'bob is signed in');
  return token;
}

// ---- Lockout as a denial of service (finding 2) ----------------------------------------------

attack("five wrong passwords from a stranger's address do not lock the admin out", async () => {
  const stranger = client('127.0.0.66');
  let last;
  for (let i = 0; i < 5; i++) last = await stranger.signIn(stack.admin.email, `guess-${i}`);
  assert.equal(last!.status, 429, 'the stranger is stopped');
  assert.match(String(last!.json.message), /from your network address/);
  const home = await adminAtHome.signIn(stack.admin.email, stack.admin.password);
  assert.equal(home.status, 200, `the admin at home answered ${home.status}: ${home.text}`);
});

attack(
  'a guesser spread over 12 addresses cannot lock the admin out; new places are slowed down',
  async () => {
    const answers: number[] = [];
    let slowedDown = 0;
    for (let i = 0; i < 12; i++) {
      const r = await client(`127.0.1.${i + 1}`).signIn(stack.admin.email, `spread-${i}`);
      answers.push(r.status);
      if (r.headers['retry-after'] || r.json.retryAfterSeconds) slowedDown++;
    }
    assert.ok(
      answers.every((s) => s === 401 || s === 429),
      `answers ${answers.join(',')}`,
    );
    assert.ok(slowedDown > 0, 'attempts from new places are told to wait');
    const home = await adminAtHome.signIn(stack.admin.email, stack.admin.password);
    assert.equal(home.status, 200, `the admin at home answered ${home.status}: ${home.text}`);
  },
);

attack(
  'guessing one account from one address stops after 5 tries, right password included',
  async () => {
    const guesser = client('127.0.0.67');
    for (let i = 0; i < 5; i++) await guesser.signIn(CAROL.email, `carol-${i}`);
    const right = await guesser.signIn(CAROL.email, CAROL.password);
    assert.equal(right.status, 429, 'the locked pair is refused even with the right password');
    assert.equal(right.headers['set-cookie'], undefined, 'no session cookie');
    assert.ok(Number(right.headers['retry-after']) > 0);
  },
);

attack('one address spraying 20 accounts is locked out of every account', async () => {
  const sprayer = client('127.0.0.68');
  for (let i = 0; i < 20; i++) await sprayer.signIn(`nobody-${i}@attack.test`, 'Winter2026!');
  const real = await sprayer.signIn(DAN.email, DAN.password);
  assert.equal(real.status, 429);
  assert.match(String(real.json.message), /from your network address/);
  assert.equal(real.headers['set-cookie'], undefined);
});

attack('a user cannot unlock an account (or themselves): unlock is for admins', async () => {
  const guesser = client('127.0.0.69');
  for (let i = 0; i < 5; i++) await guesser.signIn(ERIN.email, `erin-${i}`);
  const erinId = stack.userIds.get(ERIN.email)!;
  const failures = () => stack.portal.db.loginFailure.count({ where: { email: ERIN.email } });
  assert.equal(await failures(), 5);
  const byBob = await bob.request('POST', `/api/admin/users/${erinId}/unlock`);
  assert.equal(byBob.status, 403);
  assert.equal(await failures(), 5, 'nothing was cleared');
  // The real thing, for contrast: the admin's unlock clears it, and is audited.
  const byAdmin = await adminAtHome.request('POST', `/api/admin/users/${erinId}/unlock`);
  assert.equal(byAdmin.status, 200, byAdmin.text);
  assert.equal(await failures(), 0);
  assert.equal(await stack.portal.db.auditEvent.count({ where: { action: 'user.unlock' } }), 1);
  assert.equal((await guesser.signIn(ERIN.email, ERIN.password)).status, 200);
});

// ---- Password oracle on disabled accounts (finding 3) ----------------------------------------

attack('a disabled account answers the right password exactly as a wrong one', async () => {
  const prober = client('127.0.0.70');
  const failures = () => stack.portal.db.loginFailure.count({ where: { email: DORA.email } });
  const before = await failures();
  const wrong = await prober.signIn(DORA.email, 'not-doras-password');
  const right = await prober.signIn(DORA.email, DORA.password);
  assert.equal(right.status, wrong.status);
  assert.equal(right.status, 401);
  assert.equal(right.text, wrong.text, 'same body');
  assert.equal(right.headers['retry-after'], wrong.headers['retry-after']);
  assert.equal(right.headers['set-cookie'], undefined);
  assert.equal(await failures(), before + 2, 'both recorded as failures');
});

attack('an unknown account answers exactly as a wrong password', async () => {
  const prober = client('127.0.0.71');
  const unknown = await prober.signIn('no-such-person@attack.test', 'whatever-password');
  const wrong = await prober.signIn(BOB.email, 'not-bobs-password');
  assert.equal(unknown.status, wrong.status);
  assert.equal(unknown.text, wrong.text);
});

// ---- Forged and stolen access tokens ---------------------------------------------------------

attack('access token with alg none (claiming admin) is refused', async () => {
  const claims = decodeJwt(bobsToken());
  const forged = new UnsecuredJWT({ ...claims, role: 'admin' }).encode();
  await assertRefused(forged);
});

attack('access token signed with a wrong key (claiming admin) is refused', async () => {
  const claims = decodeJwt(bobsToken());
  const forged = await new SignJWT({ ...claims, role: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode('a-guessed-session-secret-0123456789abcdef'));
  await assertRefused(forged);
});

attack('an expired access token (right key) is refused', async () => {
  const claims = decodeJwt(bobsToken());
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({ ...claims, iat: now - 1200, exp: now - 600 })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(sessionKey());
  await assertRefused(expired);
});

attack(
  'an access token whose payload was changed to role admin (signature kept) is refused',
  async () => {
    const [header, , signature] = bobsToken().split('.');
    const payload = base64url.encode(JSON.stringify({ ...decodeJwt(bobsToken()), role: 'admin' }));
    await assertRefused(`${header}.${payload}.${signature}`);
  },
);

attack('an access token with a tampered signature is refused', async () => {
  const [header, payload, signature] = bobsToken().split('.');
  const bytes = base64url.decode(signature!);
  bytes[0] = bytes[0]! ^ 0xff;
  await assertRefused(`${header}.${payload}.${base64url.encode(bytes)}`);
});

attack(
  'an access token of a session that signed out is refused (revocation is server-side)',
  async () => {
    const victim = client('127.0.0.72');
    assert.equal((await victim.signIn(BOB.email, BOB.password)).status, 200);
    const stolen = victim.cookie('rd_access')!;
    assert.equal((await withAccessToken(stolen, '/api/me')).status, 200, 'valid before');
    assert.equal((await victim.request('POST', '/api/auth/logout')).status, 200);
    await assertRefused(stolen);
  },
);

// ---- Refresh tokens --------------------------------------------------------------------------

attack('a reused refresh token revokes its whole family', async () => {
  const victim = client('127.0.0.73');
  assert.equal((await victim.signIn(BOB.email, BOB.password)).status, 200);
  const stolen = victim.cookie('rd_refresh')!;
  const rotated = await victim.request('POST', '/api/auth/refresh');
  assert.equal(rotated.status, 200, rotated.text);
  const fresh = victim.cookie('rd_refresh')!;
  const freshAccess = victim.cookie('rd_access')!;
  assert.notEqual(fresh, stolen);
  // Past the 10 s grace for two tabs refreshing at once: now it is reuse.
  await new Promise((r) => setTimeout(r, 11_000));
  const thief = client('127.0.0.74');
  thief.setCookie('rd_refresh', stolen, '/api/auth');
  const replay = await thief.request('POST', '/api/auth/refresh');
  assert.equal(replay.status, 401, replay.text);
  assert.match(String(replay.json.message), /used twice/);
  assert.equal(thief.cookie('rd_access'), undefined, 'no access token for the thief');
  // The family is revoked: the owner's current refresh and access tokens stop working too.
  const owner = await victim.request('POST', '/api/auth/refresh');
  assert.equal(owner.status, 401);
  assert.equal((await withAccessToken(freshAccess, '/api/me')).status, 401);
  assert.ok(
    (await stack.portal.db.auditEvent.count({ where: { action: 'auth.refresh-reuse' } })) >= 1,
  );
});

attack('a made-up refresh token gets nothing', async () => {
  const c = client('127.0.0.75');
  c.setCookie('rd_refresh', base64url.encode(new Uint8Array(32).fill(7)), '/api/auth');
  const r = await c.request('POST', '/api/auth/refresh');
  assert.equal(r.status, 401);
  assert.equal(c.cookie('rd_access'), undefined);
});

// ---- /api/health (finding 8) -----------------------------------------------------------------

const DETAIL_KEYS =
  /hostId|running|memoryUsedMiB|memoryBudgetMiB|latencyMs|uptimeSeconds|provider|detail/;

attack('an anonymous caller learns up/down from /api/health, no VM counts or memory', async () => {
  const anonymous = await client().request('GET', '/api/health', { origin: null });
  assert.equal(anonymous.status, 200);
  assert.doesNotMatch(anonymous.text, DETAIL_KEYS);
  assert.deepEqual(anonymous.json.hypervisor, { ok: true });
  // The details exist, for those allowed to see them (so the check above is not vacuous).
  const service = await client().request('GET', '/api/health', {
    origin: null,
    headers: { authorization: `Bearer ${stack.secrets.gateway}` },
  });
  assert.match(service.text, /memoryBudgetMiB/);
  const admin = await adminAtHome.request('GET', '/api/health');
  assert.match(admin.text, /memoryBudgetMiB/);
});

attack('a signed-in non-admin gets no health details', async () => {
  const r = await bob.request('GET', '/api/health');
  assert.equal(r.status, 200);
  assert.doesNotMatch(r.text, DETAIL_KEYS);
});

attack('a wrong service bearer gets no health details', async () => {
  for (const authorization of [
    'Bearer not-the-secret',
    `Bearer ${stack.secrets.gateway}x`,
    `Basic ${stack.secrets.gateway}`,
    `Bearer ${stack.secrets.hypervisor}`,
  ]) {
    const r = await client().request('GET', '/api/health', { headers: { authorization } });
    assert.doesNotMatch(r.text, DETAIL_KEYS, authorization.slice(0, 12));
  }
});

// ---- Secrets at rest and in logs (finding 7) -------------------------------------------------

attack("the admin's password is not in the portal's output", async () => {
  const log = stack.portal.log();
  assert.ok(log.length > 0, 'the portal printed something');
  assert.equal(log.includes(stack.admin.password), false);
});

attack(
  'another local user cannot read the password hashes: the database files are 0600',
  async () => {
    const db = sqlitePath(stack.portal.env.DATABASE_URL!);
    // The running portal has the database open in WAL mode: its -wal and -shm exist now.
    await bob.request('GET', '/api/me');
    const files = [db, `${db}-wal`, `${db}-shm`];
    for (const file of files) {
      const mode = statSync(file).mode & 0o777;
      assert.equal(mode.toString(8), '600', file);
    }
    assert.equal((statSync(dirname(db)).mode & 0o077).toString(8), '0', 'the folder is private');
  },
);

// ---- Forged internal calls and malformed input -----------------------------------------------

attack('session events forged without the gateway credential are refused', async () => {
  const event = {
    type: 'connect',
    at: new Date().toISOString(),
    sessionId: 'forged-session',
    vm: 'vm-forged',
    userId: stack.userIds.get(BOB.email),
    name: 'Bob',
    role: 'admin',
    mode: 'control',
    controlSessions: 1,
    sessions: 1,
  };
  for (const authorization of [undefined, 'Bearer wrong', `Bearer ${stack.secrets.attach}`]) {
    const r = await client().request('POST', '/api/internal/gateway-events', {
      body: event,
      headers: authorization ? { authorization } : {},
    });
    assert.equal(r.status, 401);
  }
  assert.equal(
    await stack.portal.db.endpointConnection.count({
      where: { gatewaySessionId: 'forged-session' },
    }),
    0,
  );
});

attack('oversized and malformed sign-in bodies are refused cleanly', async () => {
  const c = client('127.0.0.76');
  const big = await c.request('POST', '/api/auth/login', { rawBody: 'x'.repeat(100_000) });
  assert.equal(big.status, 413);
  for (const rawBody of ['{"email":', '[]', '{"email":{"$ne":null},"password":"x"}', 'null']) {
    const r = await c.request('POST', '/api/auth/login', { rawBody });
    assert.equal(r.status, 400, rawBody);
    assert.doesNotMatch(r.text, /at .*\.(ts|js):\d+/, 'no stack trace');
  }
  assert.equal((await c.signIn(BOB.email, BOB.password)).status, 200, 'the portal still works');
});

// ---- Open redirect through `next` (finding 1) ------------------------------------------------

const FOREIGN_NEXT = [
  '/\\evil.example',
  '/%5Cevil.example',
  '\\/evil.example',
  '//evil.example',
  '/%2F%2Fevil.example',
  '/\t/evil.example',
  'https://evil.example/',
  'javascript:alert(1)',
];

/** Where a browser goes after this response: its Location resolved against the portal. */
function landing(r: { status: number; headers: Record<string, unknown> }): URL {
  assert.ok([302, 303, 307, 308].includes(r.status), `a redirect, not ${r.status}`);
  return new URL(String(r.headers.location), base);
}

for (const next of FOREIGN_NEXT) {
  attack(`next=${JSON.stringify(next)} never leads off the portal`, async () => {
    const query = `next=${encodeURIComponent(next)}`;
    const anonymous = landing(
      await client('127.0.0.80').request('GET', `/api/auth/refresh?${query}`),
    );
    assert.equal(anonymous.origin, new URL(base).origin);
    assert.equal(anonymous.pathname, '/login');

    const signedIn = client('127.0.0.81');
    assert.equal((await signedIn.signIn(ERIN.email, ERIN.password)).status, 200);
    const refreshed = landing(await signedIn.request('GET', `/api/auth/refresh?${query}`));
    assert.equal(refreshed.origin, new URL(base).origin);
    assert.equal(refreshed.pathname, '/');
    const loginPage = landing(await signedIn.request('GET', `/login?${query}`));
    assert.equal(loginPage.origin, new URL(base).origin);
    assert.equal(loginPage.pathname, '/');
  });
}
