// Session recording against a real gateway and the fake hypervisor: a viewer whose policy says
// `recording` is recorded byte for byte as it was sent (updates, resizes, input); one without is
// not; a gateway without a recordings folder refuses a session that must be recorded; the
// internal API serves the index and byte ranges to the portal's bearer only.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isImageRect, type DisplayUpdate, type SessionReady } from '../src/protocol/browser.ts';
import { DEFAULT_SESSION_POLICY } from '../src/protocol/policy.ts';
import { decodeRecords, recordingIndexSchema } from '../src/protocol/recording.ts';
import { autoAck, once, SECRETS, startHarness, until, type Harness } from '../testing/helpers.ts';

const RECORDED = { ...DEFAULT_SESSION_POLICY, recording: true };
let dir: string;
let h: Harness;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raydesk-gw-rec-'));
  h = await startHarness({ recordingDir: dir });
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a recorded viewer: the file holds exactly the updates and resizes it was sent', async () => {
  const c = h.client({ policy: RECORDED });
  const sent: DisplayUpdate[] = [];
  c.on('display:update', (u) => sent.push(u));
  autoAck(c);
  const ready = await once<SessionReady>(c, 'session:ready');
  assert.equal(ready.policy.recording, true);
  const vm = h.hv.vms.get('vm-1')!;
  for (let i = 0; i < 5; i++) {
    h.hv.noise(vm, 64 * i, 100, 64, 64);
    await until(() => sent.length >= i + 2, 5000, `update ${i + 2}`);
  }
  h.hv.resize(vm, 800, 600);
  await once(c, 'display:resize');
  await until(() => sent.some((u) => u.width === 800 && u.full), 5000, 'full frame after resize');
  c.emit('input:key', { code: 'KeyA', down: true });
  c.emit('input:key', { code: 'KeyA', down: false });
  const sessionId = ready.sessionId;
  c.disconnect();
  await until(() => h.gateway.sessions.list().length === 0, 5000, 'session ended');

  const path = join(dir, `${sessionId}.rdrec`);
  const { records } = decodeRecords(new Uint8Array(readFileSync(path)));
  assert.equal(records[0]?.type, 'start');
  assert.equal(records.at(-1)?.type, 'end');
  const frames = records.flatMap((r) => (r.type === 'frame' ? [r.frame] : []));
  assert.equal(frames.length, sent.length);
  frames.forEach((f, i) => {
    const s = sent[i]!;
    assert.deepEqual(
      f.rects.map((r) =>
        isImageRect(r) ? { ...r, data: Buffer.from(r.data).toString('base64') } : r,
      ),
      s.rects.map((r) =>
        isImageRect(r) ? { ...r, data: Buffer.from(r.data as Uint8Array).toString('base64') } : r,
      ),
      `frame ${i}`,
    );
    assert.equal(f.full, s.full);
  });
  const resizes = records.filter((r) => r.type === 'resize');
  assert.equal(resizes.length, 1);
  const inputs = records.flatMap((r) => (r.type === 'input' ? [r.meta] : []));
  assert.deepEqual(
    inputs.map((i) => [i.event, i.data.code, i.data.down]),
    [
      ['input:key', 'KeyA', true],
      ['input:key', 'KeyA', false],
    ],
  );
  // Times never go backwards.
  for (let i = 1; i < records.length; i++) assert.ok(records[i]!.t >= records[i - 1]!.t);

  // The portal's view: index and a byte range, with the bearer only.
  const base = `${h.url}/internal/recordings/${sessionId}`;
  const auth = { authorization: `Bearer ${SECRETS.gateway}` };
  assert.equal((await fetch(`${base}/index`)).status, 401);
  const index = recordingIndexSchema.parse(
    await (await fetch(`${base}/index`, { headers: auth })).json(),
  );
  assert.equal(index.complete, true);
  assert.ok(index.keyframes.length >= 2, 'the first full frame and the one after the resize');
  const k = index.keyframes.at(-1)!;
  const res = await fetch(`${base}/bytes?from=${k.offset}&to=${index.size}`, { headers: auth });
  assert.equal(res.status, 200);
  const tail = decodeRecords(new Uint8Array(await res.arrayBuffer()), k.offset);
  assert.equal(tail.end, index.size);
  assert.equal((await fetch(`${base}/bytes?from=5&to=2`, { headers: auth })).status, 400);
  assert.equal(
    (await fetch(`${h.url}/internal/recordings/nosuchrec1/index`, { headers: auth })).status,
    404,
  );
  const del = await fetch(base, { method: 'DELETE', headers: auth });
  assert.equal(del.status, 200);
  assert.equal(existsSync(path), false);
});

test('a viewer without the recording policy is not recorded', async () => {
  const c = h.client();
  autoAck(c);
  const ready = await once<SessionReady>(c, 'session:ready');
  c.disconnect();
  await until(() => h.gateway.sessions.list().length === 0, 5000, 'session ended');
  assert.equal(existsSync(join(dir, `${ready.sessionId}.rdrec`)), false);
});

test('a gateway with no recordings folder refuses a session that must be recorded', async () => {
  const bare = await startHarness();
  try {
    const c = bare.client({ policy: RECORDED });
    const closed = await once<{ reason: string; message: string }>(c, 'session:closed', 10_000);
    assert.equal(closed.reason, 'vm-unavailable');
    assert.match(closed.message, /recorded/);
  } finally {
    await bare.close();
  }
});
