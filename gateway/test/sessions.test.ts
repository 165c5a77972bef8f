// Gateway behaviour against a fake hypervisor: attach, shared feed, takeover, resume, shadow,
// backpressure, resize, rate limit, internal API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignJWT } from 'jose';
import type {
  DisplayUpdate,
  ProtocolErrorMessage,
  SessionReady,
  WatchersMessage,
} from '../src/protocol/browser.ts';
import type { GatewayEvent } from '../src/protocol/internal.ts';
import {
  SECRETS,
  autoAck,
  once,
  sleep,
  startHarness,
  until,
  type Harness,
  type ViewerClient,
} from '../testing/helpers.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test('bad tokens are refused at the handshake with no VM data sent', async () => {
  const key = new TextEncoder().encode(SECRETS.attach);
  const claims = { vm: 'vm-1', mode: 'control', name: 'Eve', role: 'user', jti: 'abcdefgh-1' };
  const bad = [
    'not-a-jwt-at-all-but-long-enough',
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('evil')
      .setAudience('raydesk-gateway')
      .setSubject('u')
      .setExpirationTime('1m')
      .sign(key),
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer('raydesk-portal')
      .setAudience('raydesk-gateway')
      .setSubject('u')
      .setExpirationTime('1m')
      .sign(key),
    await new SignJWT({ ...claims, mode: 'god' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('raydesk-portal')
      .setAudience('raydesk-gateway')
      .setSubject('u')
      .setExpirationTime('1m')
      .sign(key),
  ];
  for (const token of bad) {
    const c = h.client({}, { token });
    let data = 0;
    c.onAny(() => data++);
    const err = await once<Error>(c, 'connect_error');
    assert.equal(err.message, 'unauthorized');
    assert.equal(data, 0);
  }
  // A token is single-use.
  const token = await h.token();
  const ok = h.client({}, { token });
  await once(ok, 'session:ready');
  const replay = h.client({}, { token });
  assert.equal((await once<Error>(replay, 'connect_error')).message, 'unauthorized');
  ok.disconnect();
});

test('an expired token is refused as expired, with no VM data sent', async () => {
  const key = new TextEncoder().encode(SECRETS.attach);
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({ vm: 'vm-1', mode: 'control', name: 'Eve', role: 'user' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('raydesk-portal')
    .setAudience('raydesk-gateway')
    .setSubject('u')
    .setJti('expired-token-1')
    .setIssuedAt(now - 150)
    .setExpirationTime(now - 30)
    .sign(key);
  const c = h.client({}, { token: expired });
  let data = 0;
  c.onAny(() => data++);
  assert.equal((await once<Error>(c, 'connect_error')).message, 'token_expired');
  assert.equal(data, 0);
  // The same token with a forged signature is no more than a bad token.
  const [head, body] = expired.split('.');
  const forged = h.client({}, { token: `${head}.${body}.${'A'.repeat(43)}` });
  assert.equal((await once<Error>(forged, 'connect_error')).message, 'unauthorized');
});

test('attach gets a full frame at once; idle costs nothing; viewers share one watch', async () => {
  const watchesBefore = h.hv.watchCalls;
  const a = h.client({ mode: 'control' });
  const ready = await once<SessionReady>(a, 'session:ready');
  assert.equal(ready.width, 640);
  assert.equal(ready.mode, 'control');
  const first = await once<DisplayUpdate>(a, 'display:update');
  assert.equal(first.full, true);
  const area = first.rects.reduce((s, r) => s + r.w * r.h, 0);
  assert.equal(area, 640 * 480);
  a.emit('frame:ack', { seq: first.seq });
  const stats = autoAck(a);
  const b = h.client({ mode: 'view', role: 'admin', name: 'Admin Grace', sub: 'admin-1' });
  autoAck(b);
  await once(b, 'session:ready');
  assert.ok(h.hv.watchCalls - watchesBefore <= 1);
  assert.equal(h.hv.vms.get('vm-1')!.watchers.size, 1, 'one hypervisor watch for two viewers');
  // Idle: no frames over a second.
  await sleep(300);
  const before = stats.frames;
  await sleep(1000);
  assert.equal(stats.frames, before, 'idle screen sends nothing');
  // Typing changes pixels: one small update per key.
  a.emit('input:key', { code: 'KeyA', down: true });
  a.emit('input:key', { code: 'KeyA', down: false });
  await until(() => stats.frames > before, 2000, 'frame after typing');
  a.disconnect();
  b.disconnect();
});

test('two viewers of one VM cause one encode per frame, not two', async () => {
  const regionCounts = async () => {
    const { values } = await h.gateway.metrics.regions.get();
    const count = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    return { encoded: count('encoded'), reused: count('reused') };
  };
  const images = (socket: ViewerClient) => {
    const seen = { rects: 0 };
    socket.on('display:update', (u) => {
      seen.rects += u.rects.filter((r) => r.enc !== 'fill').length;
    });
    return seen;
  };
  const a = h.client({ mode: 'control' });
  const b = h.client({ mode: 'view', role: 'admin', name: 'Admin Grace', sub: 'admin-1' });
  const [statsA, statsB] = [autoAck(a), autoAck(b)];
  await Promise.all([once(a, 'session:ready'), once(b, 'session:ready')]);
  await until(() => statsA.frames > 0 && statsB.frames > 0, 2000, 'first frames');
  await sleep(300);
  const [imagesA, imagesB] = [images(a), images(b)];
  const before = await regionCounts();
  const framesBefore = statsA.frames;
  for (const code of ['KeyH', 'KeyE', 'KeyL', 'KeyL', 'KeyO']) {
    a.emit('input:key', { code, down: true });
    a.emit('input:key', { code, down: false });
    await sleep(250);
  }
  await sleep(300);
  const after = await regionCounts();
  const encoded = after.encoded - before.encoded;
  const reused = after.reused - before.reused;
  console.log(
    `# two viewers, ${statsA.frames - framesBefore} frames: ${imagesA.rects} + ${imagesB.rects} image rects sent, ${encoded} encoded, ${reused} reused`,
  );
  assert.ok(imagesA.rects >= 5, 'typing sent image rects');
  assert.equal(imagesB.rects, imagesA.rects, 'both viewers got the same updates');
  assert.equal(encoded, imagesA.rects, 'each region was encoded once');
  assert.equal(reused, imagesB.rects, "the second viewer reused the first one's encodings");
  a.disconnect();
  b.disconnect();
});

test('takeover: the first endpoint is told it moved, its keys are released, the second gets a full frame', async () => {
  const events: GatewayEvent[] = [];
  const off = h.gateway.events.on((e) => events.push(e));
  const first = h.client({ name: 'Ada at desk 1' });
  autoAck(first);
  await once(first, 'session:ready');
  first.emit('input:key', { code: 'ShiftLeft', down: true });
  await until(() => h.hv.keys.some((k) => k.code === 'ShiftLeft' && k.down), 2000, 'shift down');
  const moved = once<{ reason: string; by: string }>(first, 'session:moved');
  const gone = once<string>(first, 'disconnect');
  const t0 = Date.now();
  const second = h.client({ name: 'Ada at desk 2' });
  const frame = once<DisplayUpdate>(second, 'display:update');
  const m = await moved;
  assert.equal(m.reason, 'opened-elsewhere');
  assert.equal(m.by, 'Ada at desk 2');
  assert.equal(await gone, 'io server disconnect');
  assert.ok(Date.now() - t0 < 2000, 'detached at once');
  assert.equal((await frame).full, true);
  await until(
    () => h.hv.keys.some((k) => k.code === 'ShiftLeft' && !k.down),
    2000,
    'shift released',
  );
  await until(() => events.some((e) => e.type === 'takeover'), 2000, 'takeover event');
  const takeover = events.find((e) => e.type === 'takeover')!;
  assert.equal(takeover.controlSessions, 1);
  assert.equal(h.gateway.sessions.forVm('vm-1').length, 1);
  off();
  second.disconnect();
});

test('a reconnect from the same viewer resumes without a moved notice', async () => {
  const a = h.client({}, { clientId: 'viewer-abc-123' });
  await once(a, 'session:ready');
  let moved = false;
  a.on('session:moved', () => (moved = true));
  const b = h.client({}, { clientId: 'viewer-abc-123' });
  const ready = await once<SessionReady>(b, 'session:ready');
  assert.equal(ready.resumed, true);
  assert.equal((await once<DisplayUpdate>(b, 'display:update')).full, true);
  await sleep(100);
  assert.equal(moved, false);
  b.disconnect();
});

test('view-only input is refused and the controller is told who watches', async () => {
  const user = h.client({ name: 'Ada' });
  autoAck(user);
  await once(user, 'session:ready');
  const watchers = once<WatchersMessage>(user, 'session:watchers');
  const shadow = h.client({ mode: 'view', role: 'admin', name: 'Admin Grace', sub: 'admin-1' });
  autoAck(shadow);
  await once(shadow, 'session:ready');
  let w = await watchers;
  while (!w.viewers.length) w = await once<WatchersMessage>(user, 'session:watchers');
  assert.deepEqual(
    w.viewers.map((v) => [v.name, v.mode, v.role]),
    [['Admin Grace', 'view', 'admin']],
  );
  const keysBefore = h.hv.keys.length;
  const error = once<ProtocolErrorMessage>(shadow, 'protocol:error');
  shadow.emit('input:key', { code: 'KeyX', down: true });
  const e = await error;
  assert.equal(e.code, 'view_only');
  shadow.emit('input:pointer', { x: 5, y: 5, buttons: 1 });
  assert.equal((await once<ProtocolErrorMessage>(shadow, 'protocol:error')).code, 'view_only');
  // Nor may it size the owner's screen.
  shadow.emit('display:size', { width: 800, height: 600 });
  assert.equal((await once<ProtocolErrorMessage>(shadow, 'protocol:error')).code, 'view_only');
  await sleep(100);
  assert.equal(h.hv.keys.length, keysBefore, 'nothing reached the VM');
  assert.ok(
    h.gateway.events.recent.some((ev) => ev.type === 'shadow-start' && ev.name === 'Admin Grace'),
  );
  // The shadow does not take over the controlling user.
  assert.equal(user.connected, true);
  shadow.disconnect();
  user.disconnect();
});

test('typed characters reach the VM as characters; control codes and strings are refused', async () => {
  const a = h.client({ mode: 'control' });
  autoAck(a);
  await once(a, 'session:ready');
  const errors: ProtocolErrorMessage[] = [];
  a.on('protocol:error', (e) => errors.push(e));
  const before = h.hv.chars.length;
  for (const char of ['a', '>', '|', '&', 'D', 'ü', ' ', '€']) a.emit('input:char', { char });
  await until(() => h.hv.chars.length >= before + 8, 2000, 'chars at the hypervisor');
  assert.deepEqual(
    h.hv.chars.slice(before).map((c) => c.char),
    ['a', '>', '|', '&', 'D', 'ü', ' ', '€'],
  );
  for (const char of ['\n', 'ab', '', '\u0007', '\u200b']) a.emit('input:char', { char });
  await until(() => errors.length >= 5, 2000, 'protocol errors');
  assert.deepEqual(
    errors.map((e) => [e.code, e.event]),
    Array(5).fill(['bad_message', 'input:char']),
  );
  assert.equal(h.hv.chars.length, before + 8, 'nothing invalid reached the VM');
  a.disconnect();
});

test('resolution and text mode changes reach the viewer as resize + full frame', async () => {
  const a = h.client();
  autoAck(a);
  await once(a, 'session:ready');
  const resize = once<{ width: number; height: number; mode: string }>(a, 'display:resize');
  h.hv.resize(h.hv.vms.get('vm-1')!, 720, 400, 'text');
  const r = await resize;
  assert.deepEqual(r, { width: 720, height: 400, mode: 'text' });
  let u = await once<DisplayUpdate>(a, 'display:update');
  while (!(u.full && u.width === 720)) u = await once<DisplayUpdate>(a, 'display:update');
  assert.equal(u.width, 720);
  assert.ok(
    u.rects.every((x) => x.enc !== 'jpeg'),
    'text mode is lossless',
  );
  h.hv.resize(h.hv.vms.get('vm-1')!, 640, 480, 'graphical');
  await once(a, 'display:resize');
  a.disconnect();
});

test('a client that never acks gets one frame in flight and server memory stays flat', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const vm = h.hv.vms.get('vm-1')!;
  const slow = h.client();
  const stats = autoAck(slow, false);
  await once(slow, 'session:ready');
  const fast = h.client({ mode: 'view', role: 'admin', name: 'Watcher' });
  const fastStats = autoAck(fast, true);
  await once(fast, 'session:ready');
  const churn = setInterval(() => h.hv.noise(vm, 0, 0, 640, 480), 33);
  await sleep(1000);
  gc();
  const heapStart = process.memoryUsage().heapUsed;
  await sleep(4000);
  gc();
  const heapEnd = process.memoryUsage().heapUsed;
  clearInterval(churn);
  const growthMiB = (heapEnd - heapStart) / 1048576;
  console.log(
    `# never-acking client: ${stats.frames} frame(s) sent; acking client: ${fastStats.frames} frames; heap ${(heapStart / 1048576).toFixed(1)} -> ${(heapEnd / 1048576).toFixed(1)} MiB`,
  );
  assert.equal(stats.frames, 1, 'only the first frame went out');
  assert.ok(fastStats.frames > 10, 'the other viewer keeps streaming');
  assert.ok(growthMiB < 8, `heap grew ${growthMiB.toFixed(1)} MiB`);
  const info = h.gateway.sessions.list();
  assert.ok(info.some((s) => s.framesSent === 1));
  slow.disconnect();
  fast.disconnect();
  h.hv.paintDesktop(vm);
});

test('input beyond the per-socket rate is dropped and reported', async () => {
  const a = h.client();
  autoAck(a);
  await once(a, 'session:ready');
  const errors: ProtocolErrorMessage[] = [];
  a.on('protocol:error', (e) => errors.push(e));
  const before = h.hv.pointers.length;
  for (let i = 0; i < 1500; i++) a.emit('input:pointer', { x: i % 600, y: 10, buttons: 0 });
  await until(() => errors.some((e) => e.code === 'rate_limited'), 3000, 'rate_limited');
  await sleep(300);
  const relayed = h.hv.pointers.length - before;
  assert.ok(relayed <= 600, `relayed ${relayed}`);
  assert.ok(relayed >= 400, `relayed ${relayed}`);
  a.disconnect();
});

test('internal API: session list, disconnect, thumbnail, healthz, metrics', async () => {
  const a = h.client({ name: 'Listed' });
  const ready = await once<SessionReady>(a, 'session:ready');
  const auth = { authorization: `Bearer ${SECRETS.gateway}` };
  assert.equal((await fetch(`${h.url}/internal/sessions`)).status, 401);
  assert.equal(
    (await fetch(`${h.url}/internal/sessions`, { headers: { authorization: 'Bearer nope' } }))
      .status,
    401,
  );
  const list = (await (await fetch(`${h.url}/internal/sessions`, { headers: auth })).json()) as {
    sessions: { id: string; name: string }[];
  };
  assert.ok(list.sessions.some((s) => s.id === ready.sessionId && s.name === 'Listed'));
  const thumb = await fetch(`${h.url}/internal/vms/vm-1/thumbnail?width=200`, { headers: auth });
  assert.equal(thumb.headers.get('content-type'), 'image/png');
  assert.equal(
    (await fetch(`${h.url}/internal/vms/nope/thumbnail`, { headers: auth })).status,
    404,
  );
  const closed = once<{ reason: string }>(a, 'session:closed');
  const res = await fetch(`${h.url}/internal/sessions/${ready.sessionId}/disconnect`, {
    method: 'POST',
    headers: auth,
  });
  assert.equal(res.status, 200);
  assert.equal((await closed).reason, 'admin-disconnect');
  assert.equal(
    (
      await fetch(`${h.url}/internal/sessions/${ready.sessionId}/disconnect`, {
        method: 'POST',
        headers: auth,
      })
    ).status,
    404,
  );
  const health = (await (await fetch(`${h.url}/healthz`)).json()) as { ok: boolean };
  assert.equal(health.ok, true);
  const anonymous = await fetch(`${h.url}/metrics`);
  assert.equal(anonymous.status, 401, '/metrics needs the service bearer');
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  assert.doesNotMatch(await anonymous.text(), /gateway_/);
  const wrong = await fetch(`${h.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const metrics = await (await fetch(`${h.url}/metrics`, { headers: auth })).text();
  assert.match(metrics, /gateway_frames_sent_total/);
});

test('session events are POSTed to the portal with the bearer secret', async () => {
  const { createServer } = await import('node:http');
  const received: Array<{ auth?: string; body: GatewayEvent }> = [];
  const portal = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/api/internal/gateway-events')
        received.push({ auth: req.headers.authorization, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
  const port = (portal.address() as { port: number }).port;
  const h2 = await startHarness({ portal: `http://127.0.0.1:${port}` });
  try {
    const a = h2.client();
    await once(a, 'session:ready');
    a.disconnect();
    await until(() => received.some((r) => r.body.type === 'disconnect'), 3000, 'disconnect event');
    assert.equal(received[0]!.auth, `Bearer ${SECRETS.gateway}`);
    assert.deepEqual(
      received.map((r) => r.body.type),
      ['connect', 'disconnect'],
    );
    assert.equal(received[1]!.body.controlSessions, 0);
  } finally {
    await h2.close();
    portal.close();
  }
});
