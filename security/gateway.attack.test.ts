// Attacks on the display gateway's browser protocol, against the real gateway in front of a real
// hypervisor with two console VMs (resumed from the golden snapshot): forged and replayed attach
// tokens, reaching another user's VM, malformed, oversized and unknown messages, floods, session
// caps, and the operator endpoints. Keys that reach a VM are counted on the hypervisor's domain.
//
//   npx tsx --test security/gateway.attack.test.ts
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { SignJWT, UnsecuredJWT, base64url } from 'jose';
import pino from 'pino';
import { io as rawIo } from 'socket.io-client';
import { WebSocket } from 'ws';
import { mintAttachToken, verifyAttachToken } from '@raydesk/gateway/attach-token';
import { LIMITS, type ProtocolErrorMessage, type SessionReady } from '@raydesk/gateway/protocol';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { HypervisorClient, type DomainInfo } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { attackArea } from './lib/attacks.ts';
import {
  attachAuth,
  handshakeOutcome,
  nextEvent,
  sleep,
  until,
  viewerSocket,
  type AnySocket,
} from './lib/viewer-socket.ts';

const attack = attackArea('gateway');

const ATTACH_SECRET = randomBytes(32).toString('hex');
const GATEWAY_SECRET = randomBytes(24).toString('hex');
const attachKey = new TextEncoder().encode(ATTACH_SECRET);

let hypervisor: RunningHypervisor;
let hv: HypervisorClient;
let gateway: Gateway;
let url = '';
/** Alice's VM (the target) and Bob's. */
let vmA: DomainInfo;
let vmB: DomainInfo;
/** Input events that reached each VM's domain on the hypervisor. */
const reached = new Map<string, number>();
const sockets: AnySocket[] = [];

function countInput(id: string): void {
  const domain = hypervisor.host.get(id);
  reached.set(id, 0);
  for (const method of ['key', 'pointer', 'wheel'] as const) {
    const original = domain[method].bind(domain) as (...args: unknown[]) => void;
    (domain as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      reached.set(id, (reached.get(id) ?? 0) + 1);
      original(...args);
    };
  }
}

before(async () => {
  hypervisor = await startEphemeralHypervisor({ standbyAppliances: [], idleSuspendSeconds: 0 });
  hv = new HypervisorClient({
    url: hypervisor.url,
    secret: hypervisor.config.secret,
    timeoutMs: 600_000,
  });
  await hv.connected();
  vmA = await hv.create({ appliance: 'console', name: 'alice-vm', kind: 'system' });
  vmB = await hv.create({ appliance: 'console', name: 'bob-vm', kind: 'system' });
  countInput(vmA.id);
  countInput(vmB.id);
  gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: GATEWAY_SECRET,
      attachTokenSecret: ATTACH_SECRET,
      hypervisorUrl: hypervisor.url,
      hypervisorSecret: hypervisor.config.secret,
      portalInternalUrl: null,
      allowedOrigins: [],
      logLevel: 'silent',
    },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  ({ url } = await gateway.listen(0, '127.0.0.1'));
});

after(async () => {
  for (const s of sockets) s.disconnect();
  await gateway?.close();
  hv?.close();
  await hypervisor?.close();
});

/** What the portal mints for a user's own VM. */
function tokenFor(
  vm: string,
  who: { sub: string; name: string; role?: 'user' | 'admin' },
  mode: 'control' | 'view' = 'control',
  ttlSeconds?: number,
): Promise<string> {
  return mintAttachToken(
    ATTACH_SECRET,
    { sub: who.sub, vm, mode, name: who.name, role: who.role ?? 'user' },
    ttlSeconds,
  );
}
const ALICE = { sub: 'user-alice', name: 'Alice' };
const BOB = { sub: 'user-bob', name: 'Bob' };

function open(auth: Record<string, unknown> | (() => Promise<Record<string, unknown>>)): AnySocket {
  const s = viewerSocket(url, auth);
  sockets.push(s);
  return s;
}

/** Bob's legitimate control session on his own VM. */
async function bobSession(): Promise<{ socket: AnySocket; ready: SessionReady }> {
  const socket = open(attachAuth(await tokenFor(vmB.id, BOB)));
  const ready = await nextEvent<SessionReady>(socket, 'session:ready', 60_000);
  return { socket, ready };
}

/** Tries a handshake with `token`; asserts it is refused with `expected` and no VM data came. */
async function assertHandshakeRefused(token: string, expected = 'unauthorized'): Promise<void> {
  const before = reached.get(vmA.id);
  const s = open(attachAuth(token));
  assert.equal(await handshakeOutcome(s), expected);
  await sleep(100);
  assert.deepEqual(
    s.events.map((e) => e.event),
    [],
    'nothing about the VM was sent',
  );
  assert.equal(reached.get(vmA.id), before);
}

const claimsFor = (vm: string) => ({
  iss: 'raydesk-portal',
  aud: 'raydesk-gateway',
  sub: BOB.sub,
  jti: randomUUID(),
  vm,
  mode: 'control',
  name: 'Bob',
  role: 'admin',
});

// ---- Forged, stolen and replayed attach tokens -----------------------------------------------

attack('attach token with alg none', async () => {
  const token = new UnsecuredJWT(claimsFor(vmA.id)).setIssuedAt().setExpirationTime('1m').encode();
  await assertHandshakeRefused(token);
});

attack('attach token signed with a wrong key', async () => {
  const token = await new SignJWT(claimsFor(vmA.id))
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(new TextEncoder().encode('guessed-attach-secret-0123456789abcdef'));
  await assertHandshakeRefused(token);
});

attack('attach token signed with the right key but another algorithm (HS512)', async () => {
  const token = await new SignJWT(claimsFor(vmA.id))
    .setProtectedHeader({ alg: 'HS512' })
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(attachKey);
  await assertHandshakeRefused(token);
});

attack('expired attach token', async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT(claimsFor(vmA.id))
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now - 120)
    .setExpirationTime(now - 60)
    .sign(attachKey);
  // Named as expired (only a token the portal signed gets that far), so a viewer fetches anew.
  await assertHandshakeRefused(token, 'token_expired');
});

attack('attach token valid for hours (lifetime beyond the maximum)', async () => {
  const token = await new SignJWT(claimsFor(vmA.id))
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('3h')
    .sign(attachKey);
  await assertHandshakeRefused(token);
});

attack("Bob's token with its vm claim changed to Alice's VM (signature kept)", async () => {
  const token = await tokenFor(vmB.id, BOB);
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)));
  const forged = base64url.encode(JSON.stringify({ ...claims, vm: vmA.id }));
  await assertHandshakeRefused(`${header}.${forged}.${signature}`);
});

attack('attach token with a tampered signature', async () => {
  const [header, payload, signature] = (await tokenFor(vmA.id, ALICE)).split('.');
  const bytes = base64url.decode(signature!);
  bytes[5] = bytes[5]! ^ 0x01;
  await assertHandshakeRefused(`${header}.${payload}.${base64url.encode(bytes)}`);
});

attack('a portal access token presented as an attach token', async () => {
  // Right shape, wrong audience and issuer for the gateway (even with the attach key).
  const token = await new SignJWT({ sid: 'session-1', role: 'admin', name: 'Bob' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('raydesk-portal')
    .setAudience('raydesk-portal-session')
    .setSubject(BOB.sub)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(attachKey);
  await assertHandshakeRefused(token);
});

attack('a used attach token replayed at once', async () => {
  const token = await tokenFor(vmA.id, ALICE);
  const first = open(attachAuth(token));
  assert.equal(await handshakeOutcome(first, 60_000), 'ready');
  first.disconnect();
  await assertHandshakeRefused(token);
});

attack(
  'a used attach token replayed after its expiry, within the clock tolerance (finding 4)',
  async () => {
    const token = await tokenFor(vmA.id, ALICE, 'control', 2);
    const first = open(attachAuth(token));
    assert.equal(await handshakeOutcome(first, 60_000), 'ready');
    first.disconnect();
    const { exp } = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)));
    // Past exp, still inside the 5 s tolerance: the signature and exp checks alone would pass...
    await until(() => Date.now() / 1000 > exp + 1, 10_000, 'the token to expire');
    await verifyAttachToken(ATTACH_SECRET, token);
    // ...so only the replay cache stands between the thief and the VM.
    await assertHandshakeRefused(token);
  },
);

attack("Bob's own token never shows him Alice's VM", async () => {
  const { socket, ready } = await bobSession();
  assert.equal(ready.vm, vmB.id);
  await sleep(500);
  const vms = new Set(
    socket.events
      .filter((e) => e.event === 'session:ready')
      .map((e) => (e.value as SessionReady).vm),
  );
  assert.deepEqual([...vms], [vmB.id]);
  assert.ok(!gateway.sessions.forVm(vmA.id).some((s) => s.claims.sub === BOB.sub));
  socket.disconnect();
});

attack('handshakes without a token, with an oversized one or a wrong protocol', async () => {
  const good = await tokenFor(vmA.id, ALICE);
  const cases: Array<[Record<string, unknown>, string]> = [
    [{}, 'bad_handshake'],
    [{ token: 123 }, 'bad_handshake'],
    [{ token: 'x'.repeat(5000) }, 'bad_handshake'],
    [{ token: good, clientId: '../../etc/passwd' }, 'bad_handshake'],
    [{ token: good, protocol: 999 }, 'protocol_mismatch'],
  ];
  for (const [auth, expected] of cases) {
    const s = open(auth);
    assert.equal(await handshakeOutcome(s), expected, JSON.stringify(auth).slice(0, 40));
  }
});

// ---- Messages --------------------------------------------------------------------------------

/** A fresh control session on Alice's VM, as her viewer would open it. */
async function aliceSession(): Promise<AnySocket> {
  const s = open(attachAuth(await tokenFor(vmA.id, ALICE)));
  assert.equal(await handshakeOutcome(s, 60_000), 'ready');
  return s;
}

function protocolErrors(s: AnySocket): ProtocolErrorMessage[] {
  return s.events
    .filter((e) => e.event === 'protocol:error')
    .map((e) => e.value as ProtocolErrorMessage);
}

attack('input from a view-only (shadow) session never reaches the VM', async () => {
  const shadow = open(
    attachAuth(await tokenFor(vmA.id, { sub: 'admin-1', name: 'Admin', role: 'admin' }, 'view')),
  );
  assert.equal(await handshakeOutcome(shadow, 60_000), 'ready');
  const before = reached.get(vmA.id);
  shadow.emit('input:key', { code: 'KeyA', down: true });
  shadow.emit('input:pointer', { x: 1, y: 1, buttons: 1 });
  shadow.emit('input:wheel', { dx: 0, dy: 1 });
  await until(() => protocolErrors(shadow).length >= 3, 5_000, 'three refusals');
  assert.ok(protocolErrors(shadow).every((e) => e.code === 'view_only'));
  await sleep(200);
  assert.equal(reached.get(vmA.id), before);
  shadow.disconnect();
});

attack('a message above the 8 KiB limit is refused and goes nowhere', async () => {
  const s = await aliceSession();
  const before = reached.get(vmA.id);
  s.emit('input:key', { code: 'KeyA', down: true, pad: 'x'.repeat(LIMITS.maxClientMessageBytes) });
  s.emit('input:key', { code: 'A'.repeat(20_000), down: true });
  await until(() => protocolErrors(s).length >= 2, 5_000, 'two refusals');
  assert.deepEqual(
    protocolErrors(s).map((e) => e.code),
    ['too_large', 'too_large'],
  );
  assert.equal(reached.get(vmA.id), before);
  assert.equal(s.connected, true, 'a refusal, not a crash');
  s.disconnect();
});

attack('a packet above maxHttpBufferSize closes only that socket', async () => {
  const s = await aliceSession();
  const other = await bobSession();
  const before = reached.get(vmA.id);
  const gone = nextEvent(s, 'disconnect');
  s.emit('input:key', new Uint8Array(LIMITS.maxHttpBufferSize + 1024));
  await gone;
  await sleep(300);
  assert.equal(reached.get(vmA.id), before);
  assert.equal(other.socket.connected, true, 'other viewers are untouched');
  const bobsBefore = reached.get(vmB.id)!;
  other.socket.emit('input:key', { code: 'KeyB', down: true });
  other.socket.emit('input:key', { code: 'KeyB', down: false });
  await until(() => reached.get(vmB.id)! >= bobsBefore + 2, 5_000, "Bob's keys");
  other.socket.disconnect();
});

attack('malformed messages are refused one by one and never reach the VM', async () => {
  const s = await aliceSession();
  const before = reached.get(vmA.id);
  const bad: Array<[string, unknown]> = [
    ['input:key', { code: 'KeyA' }],
    ['input:key', { code: 'KeyA', down: 'yes' }],
    ['input:key', { code: '<script>', down: true }],
    ['input:key', { code: 'KeyA', down: true, extra: 1 }],
    ['input:pointer', { x: -1, y: 5, buttons: 0 }],
    ['input:pointer', { x: 1e12, y: 5, buttons: 0 }],
    ['input:pointer', { x: 1.5, y: 5, buttons: 0 }],
    ['input:wheel', { dx: 0, dy: 1e9 }],
    ['frame:ack', { seq: 'one' }],
    ['input:key', [['nested', { deep: [[[[[[[[[[1]]]]]]]]]] }]]],
  ];
  for (const [event, payload] of bad) s.emit(event, payload);
  await until(() => protocolErrors(s).length >= bad.length, 5_000, 'every refusal');
  assert.ok(
    protocolErrors(s).every((e) => e.code === 'bad_message' || e.code === 'too_large'),
    JSON.stringify(protocolErrors(s).map((e) => e.code)),
  );
  assert.equal(reached.get(vmA.id), before);
  s.disconnect();
});

attack('unknown events (including prototype names) are refused; the VM keeps running', async () => {
  const s = await aliceSession();
  const before = reached.get(vmA.id);
  const events = [
    'domain:destroy',
    '__proto__',
    'constructor',
    'session:ready',
    'input:key ',
    'toString',
  ];
  for (const event of events) s.emit(event, { id: vmA.id });
  await until(() => protocolErrors(s).length >= events.length, 5_000, 'every refusal');
  assert.ok(protocolErrors(s).every((e) => e.code === 'unknown_event'));
  assert.equal(reached.get(vmA.id), before);
  assert.equal((await hv.get(vmA.id)).state, 'running');
  s.disconnect();
});

attack('extra arguments and acknowledgement callbacks are refused', async () => {
  const s = await aliceSession();
  const before = reached.get(vmA.id);
  s.emit('input:key', { code: 'KeyA', down: true }, { code: 'KeyB', down: true });
  s.emit('input:key', { code: 'KeyA', down: true }, () => undefined);
  await until(() => protocolErrors(s).length >= 1, 5_000, 'a refusal');
  assert.equal(protocolErrors(s)[0]!.code, 'bad_message');
  await sleep(300);
  // The second carries one message and an ack callback: the callback is ignored, never called.
  assert.ok((reached.get(vmA.id) ?? 0) - before! <= 1);
  s.disconnect();
});

attack('raw garbage socket.io frames close only that connection', async () => {
  const other = await bobSession();
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send('40{"token":');
  ws.send('42["input:key",{');
  ws.send('\u0000\u0001garbage');
  ws.send(Buffer.alloc(64, 0xff));
  await closed;
  assert.equal(other.socket.connected, true);
  other.socket.disconnect();
});

attack('ten invalid messages in ten seconds end the session (strikes)', async () => {
  const s = await aliceSession();
  const closedNotice = nextEvent<{ reason: string }>(s, 'session:closed');
  const gone = nextEvent(s, 'disconnect');
  for (let i = 0; i < LIMITS.maxStrikes; i++) s.emit('no-such-event', i);
  assert.equal((await closedNotice).reason, 'protocol-abuse');
  await gone;
  assert.equal(s.connected, false);
});

attack('an input flood is cut to the rate limit', async () => {
  const s = await aliceSession();
  const before = reached.get(vmA.id)!;
  const started = Date.now();
  for (let i = 0; i < 3000; i++) s.emit('input:pointer', { x: i % 200, y: 10, buttons: 0 });
  await until(
    () => protocolErrors(s).some((e) => e.code === 'rate_limited'),
    10_000,
    'rate_limited',
  );
  await sleep(500);
  const seconds = (Date.now() - started) / 1000;
  const relayed = reached.get(vmA.id)! - before;
  const allowed = LIMITS.inputBurst + LIMITS.inputEventsPerSecond * seconds;
  assert.ok(relayed <= allowed, `relayed ${relayed}, allowed ${allowed.toFixed(0)}`);
  assert.ok(relayed < 3000);
  s.disconnect();
});

attack(
  'a flood of 300 handshakes with garbage tokens is refused; real viewers still attach',
  async () => {
    const refusedBefore = await authFailures();
    const floods = Array.from({ length: 300 }, (_, i) =>
      open(attachAuth(`garbage-token-${i}-${randomBytes(16).toString('hex')}`)),
    );
    const outcomes = await Promise.all(floods.map((s) => handshakeOutcome(s, 60_000)));
    assert.deepEqual([...new Set(outcomes)], ['unauthorized']);
    assert.equal((await authFailures()) - refusedBefore, 300, 'each one refused at the handshake');
    for (const s of floods) s.disconnect();
    const s = await aliceSession();
    s.disconnect();
  },
);

async function authFailures(): Promise<number> {
  const { values } = await gateway.metrics.authFailures.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

// ---- Session caps (finding 6) ----------------------------------------------------------------

attack('25 viewers of one VM at once: the cap holds and the refusal says why', async () => {
  await until(() => gateway.sessions.forVm(vmA.id).length === 0, 10_000, 'no sessions left');
  const burst = await Promise.all(
    Array.from({ length: 25 }, async (_, i) =>
      open(
        attachAuth(
          await tokenFor(vmA.id, { sub: `admin-${i}`, name: `Admin ${i}`, role: 'admin' }, 'view'),
        ),
      ),
    ),
  );
  const outcomes = await Promise.all(burst.map((s) => handshakeOutcome(s, 60_000)));
  const ready = outcomes.filter((o) => o === 'ready').length;
  assert.equal(ready, 5, 'six places per VM, one of them kept for its controller');
  assert.deepEqual([...new Set(outcomes.filter((o) => o !== 'ready'))], ['too_many_sessions_vm']);
  assert.equal(gateway.sessions.forVm(vmA.id).length, 5);
  // The VM full of shadows: its owner still gets control.
  const owner = open(attachAuth(await tokenFor(vmA.id, ALICE)));
  assert.equal(await handshakeOutcome(owner, 60_000), 'ready');
  for (const s of [...burst, owner]) s.disconnect();
});

attack('one user opening viewer after viewer is capped', async () => {
  await until(() => gateway.sessions.list().length === 0, 10_000, 'no sessions left');
  const greedy = { sub: 'user-greedy', name: 'Greedy', role: 'admin' as const };
  const mine: AnySocket[] = [];
  const outcomes: string[] = [];
  for (let i = 0; i < 12; i++) {
    const s = open(attachAuth(await tokenFor(i % 2 ? vmA.id : vmB.id, greedy, 'view')));
    mine.push(s);
    outcomes.push(await handshakeOutcome(s, 60_000));
  }
  assert.equal(outcomes.filter((o) => o === 'ready').length, 8);
  assert.deepEqual([...new Set(outcomes.slice(8))], ['too_many_sessions_user']);
  for (const s of mine) s.disconnect();
});

// ---- Operator endpoints (finding 5) ----------------------------------------------------------

attack("the gateway's /metrics without the service bearer", async () => {
  const attempts: Record<string, string>[] = [
    {},
    { authorization: 'Bearer guess' },
    { authorization: `Bearer ${ATTACH_SECRET}` },
  ];
  for (const headers of attempts) {
    const r = await fetch(`${url}/metrics`, { headers });
    assert.equal(r.status, 401);
    assert.doesNotMatch(await r.text(), /gateway_/);
  }
});

attack("the hypervisor's /metrics without the service bearer", async () => {
  const attempts: Record<string, string>[] = [
    {},
    { authorization: 'Bearer guess' },
    { authorization: `Bearer ${GATEWAY_SECRET}` },
  ];
  for (const headers of attempts) {
    const r = await fetch(`${hypervisor.url}/metrics`, { headers });
    assert.equal(r.status, 401);
    assert.doesNotMatch(await r.text(), /raydesk_/);
  }
});

attack("the gateway's internal API without the service bearer", async () => {
  const s = await aliceSession();
  const [session] = gateway.sessions.forVm(vmA.id);
  const calls: Array<[string, string]> = [
    ['GET', '/internal/sessions'],
    ['POST', `/internal/sessions/${session!.id}/disconnect`],
    ['GET', `/internal/vms/${vmA.id}/thumbnail`],
  ];
  for (const [method, path] of calls) {
    const r = await fetch(`${url}${path}`, { method, headers: { authorization: 'Bearer guess' } });
    assert.equal(r.status, 401, path);
  }
  assert.equal(s.connected, true, 'the session was not disconnected');
  s.disconnect();
});

attack("the hypervisor's control channel with a wrong credential", async () => {
  const socket = rawIo(hypervisor.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { secret: GATEWAY_SECRET },
  });
  const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
  assert.match(error.message, /invalid hypervisor credential/);
  socket.disconnect();
});
