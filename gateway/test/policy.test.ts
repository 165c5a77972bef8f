// The session policy in the attach token, enforced by a real gateway in front of a real
// hypervisor and desktop guest: a modified client that sends clipboard and file requests its
// policy forbids (or oversize ones) gets a refusal in its acknowledgement and the guest is not
// touched; the idle timeout and the session length close the viewer with their own reasons
// while the desktop keeps running. A policy minute is shortened (policyMinuteMs) so the timers
// run in seconds; nothing here asserts a duration.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { io as connect } from 'socket.io-client';
import { HypervisorClient, type DomainInfo } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/testing';
import { mintAttachToken } from '../src/auth/attach-token.ts';
import type { ClosedMessage, SessionReady } from '../src/protocol/browser.ts';
import type { AttachGrant } from '../src/protocol/internal.ts';
import { DEFAULT_SESSION_POLICY, type SessionPolicy } from '../src/protocol/policy.ts';
import {
  TRANSFER_LIMITS,
  type TransferEventName,
  type TransferReadyMessage,
  type TransferResult,
} from '../src/protocol/transfer.ts';
import { createGateway, type Gateway } from '../src/server.ts';
import { Recorder, type ViewerClient } from '../testing/helpers.ts';

const ATTACH_SECRET = `policy-test-attach-secret-0123456789abcdef-${process.pid}`;
/** One policy minute in this test. */
const MINUTE_MS = 1_000;
const KIB = 1024;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Key presses for a shell line on a US layout (letters, digits and a few signs). */
function typeLine(client: HypervisorClient, id: string, line: string): void {
  const plain: Record<string, string> = {
    ' ': 'Space',
    '/': 'Slash',
    '\\': 'Backslash',
    '.': 'Period',
    '-': 'Minus',
    '\n': 'Enter',
  };
  const shifted: Record<string, string> = { '~': 'Backquote', '*': 'Digit8' };
  for (const ch of `${line}\n`) {
    const shift = ch in shifted || /[A-Z]/.test(ch);
    const code = /[a-z]/i.test(ch)
      ? `Key${ch.toUpperCase()}`
      : /[0-9]/.test(ch)
        ? `Digit${ch}`
        : (plain[ch] ?? shifted[ch]);
    if (!code) throw new Error(`cannot type ${JSON.stringify(ch)}`);
    if (shift) client.key(id, 'ShiftLeft', true);
    client.key(id, code, true);
    client.key(id, code, false);
    if (shift) client.key(id, 'ShiftLeft', false);
  }
}

async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('session policy enforced by the gateway', { timeout: 600_000 }, () => {
  let hv: RunningHypervisor;
  let probe: HypervisorClient;
  let gateway: Gateway;
  let url = '';
  let desktop: DomainInfo;
  const clients: ViewerClient[] = [];

  before(async () => {
    hv = await startEphemeralHypervisor({ memoryBudgetMiB: 2048 });
    probe = new HypervisorClient({ url: hv.url, secret: hv.config.secret, timeoutMs: 600_000 });
    await probe.connected();
    desktop = await probe.create({ appliance: 'desktop', name: 'policy' });
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: 'policy-test-gateway-secret',
        attachTokenSecret: ATTACH_SECRET,
        hypervisorUrl: hv.url,
        hypervisorSecret: hv.config.secret,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
        policyMinuteMs: MINUTE_MS,
      },
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    });
    url = (await gateway.listen(0, '127.0.0.1')).url;
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await gateway?.close();
    probe?.close();
    await hv?.close();
  });

  /** A viewer with `policy` in its token; resolves once its session is ready. */
  async function viewer(policy: Partial<SessionPolicy>) {
    const grant: AttachGrant = {
      sub: 'user-1',
      vm: desktop.id,
      mode: 'control',
      name: 'Ada',
      role: 'user',
      email: 'ada@example.test',
      policy: { ...DEFAULT_SESSION_POLICY, ...policy },
    };
    const socket = connect(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: (cb) =>
        void mintAttachToken(ATTACH_SECRET, grant).then((token) =>
          cb({ token, clientId: randomUUID(), protocol: 1 }),
        ),
    }) as ViewerClient;
    socket.rec = new Recorder();
    socket.onAny((event: string, value: unknown) => socket.rec.push(event, value));
    socket.on('display:update', (u) => {
      if (u.last) socket.emit('frame:ack', { seq: u.seq });
    });
    socket.on('disconnect', (r) => socket.rec.push('disconnect', r));
    clients.push(socket);
    const ready = await socket.rec.next<SessionReady>('session:ready', 120_000);
    const transfer = await socket.rec.next<TransferReadyMessage>('transfer:ready', 10_000);
    return { socket, ready, transfer };
  }

  /** Sends a transfer request as a modified client would, whatever the viewer shows. */
  function send(socket: ViewerClient, event: TransferEventName, payload: unknown) {
    const raw = socket as unknown as {
      timeout(ms: number): { emitWithAck(e: string, p: unknown): Promise<TransferResult<unknown>> };
    };
    return raw.timeout(60_000).emitWithAck(event, payload);
  }

  function refused(result: TransferResult<unknown>, code: string, message: RegExp) {
    assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
    if (!result.ok) {
      assert.equal(result.error.code, code);
      assert.match(result.error.message, message);
    }
  }

  test('directions the policy turns off are refused and never reach the guest', async () => {
    await until(
      'the guest agent',
      () =>
        probe.call('clipboard:set', { id: desktop.id, text: 'guest-owned' }).then(
          () => true,
          () => false,
        ),
      300_000,
    );
    const { socket, ready, transfer } = await viewer({
      clipboardToVm: false,
      clipboardFromVm: false,
      uploadEnabled: false,
      downloadEnabled: false,
    });
    assert.equal(ready.policy.clipboardToVm, false, 'session:ready carries the policy');
    assert.deepEqual(transfer.permissions, {
      clipboardToGuest: false,
      clipboardFromGuest: false,
      filesToGuest: false,
      filesFromGuest: false,
    });
    refused(
      await send(socket, 'clipboard:set', { text: 'pasted anyway' }),
      'not_allowed',
      /Pasting into the desktop is not allowed/,
    );
    refused(await send(socket, 'clipboard:get', {}), 'not_allowed', /Copying from the desktop/);
    refused(
      await send(socket, 'files:upload-begin', { name: 'x.bin', bytes: 4 }),
      'not_allowed',
      /Uploading files is not allowed/,
    );
    refused(
      await send(socket, 'files:upload-chunk', { uploadId: 1, data: new Uint8Array(4) }),
      'not_allowed',
      /Uploading files/,
    );
    refused(await send(socket, 'files:list', {}), 'not_allowed', /Downloading files/);
    refused(
      await send(socket, 'files:read', { name: 'anything.txt', offset: 0 }),
      'not_allowed',
      /Downloading files is not allowed/,
    );
    assert.equal(
      await probe.call('clipboard:get', { id: desktop.id }),
      'guest-owned',
      'the guest clipboard was not touched',
    );
    socket.disconnect();
  });

  test('sizes over the policy limits are refused; within them the transfer works', async () => {
    const { socket, ready } = await viewer({
      clipboardMaxBytes: 16,
      uploadMaxBytes: 8 * KIB,
      downloadMaxBytes: 2 * KIB,
    });
    assert.equal(ready.policy.uploadMaxBytes, 8 * KIB);
    refused(
      await send(socket, 'clipboard:set', { text: 'ü'.repeat(9) }), // 18 UTF-8 bytes
      'too_large',
      /Clipboard text is limited to 16 bytes for you/,
    );
    assert.equal(await probe.call('clipboard:get', { id: desktop.id }), 'guest-owned');
    assert.deepEqual(await send(socket, 'clipboard:set', { text: 'short ✓' }), {
      ok: true,
      value: { bytes: Buffer.byteLength('short ✓') },
    });
    assert.equal(await probe.call('clipboard:get', { id: desktop.id }), 'short ✓');
    await probe.call('clipboard:set', { id: desktop.id, text: 'x'.repeat(40) });
    refused(await send(socket, 'clipboard:get', {}), 'too_large', /limited to 16 bytes/);

    refused(
      await send(socket, 'files:upload-begin', { name: 'big.bin', bytes: 8 * KIB + 1 }),
      'too_large',
      /Uploads are limited to 8 KiB for you/,
    );
    const file = randomBytes(4 * KIB);
    const begun = await send(socket, 'files:upload-begin', { name: 'ok.bin', bytes: file.length });
    assert.ok(begun.ok, JSON.stringify(begun));
    const { uploadId } = (begun as { value: { uploadId: number } }).value;
    assert.ok((await send(socket, 'files:upload-chunk', { uploadId, data: file })).ok);
    assert.deepEqual(await send(socket, 'files:upload-end', { uploadId }), {
      ok: true,
      value: { name: 'ok.bin', sha256: sha256(file) },
    });

    // The 4 KiB file offered back by the user is over the 2 KiB download limit: no byte of it
    // goes out, not even the first chunk.
    typeLine(probe, desktop.id, 'cp ~/Uploads/ok.bin ~/Send\\ to\\ browser/back.bin');
    await until(
      'the offered file',
      async () =>
        (await probe.call('files:outbox', { id: desktop.id })).some((f) => f.name === 'back.bin'),
      120_000,
    );
    refused(
      await send(socket, 'files:read', { name: 'back.bin', offset: 0 }),
      'too_large',
      /Downloads are limited to 2 KiB for you/,
    );
    refused(
      await send(socket, 'files:read', { name: 'back.bin', offset: TRANSFER_LIMITS.chunkBytes }),
      'too_large',
      /Downloads are limited/,
    );
    socket.disconnect();
  });

  test('no input for the idle timeout closes the viewer; the desktop keeps running', async () => {
    const { socket } = await viewer({ idleTimeoutMinutes: 2 });
    // Input keeps the session: pointer moves for three idle periods' worth of policy minutes.
    const moving = setInterval(
      () => socket.emit('input:pointer', { x: 10, y: 10, buttons: 0 }),
      MINUTE_MS / 4,
    );
    await new Promise((r) => setTimeout(r, 3 * 2 * MINUTE_MS));
    clearInterval(moving);
    assert.equal(socket.connected, true, 'a viewer giving input stays connected');
    const closed = await socket.rec.next<ClosedMessage>('session:closed', 60_000);
    assert.equal(closed.reason, 'idle-timeout');
    assert.equal(
      closed.message,
      'Disconnected after 2 minutes without input. Your desktop keeps running; connect again to continue.',
    );
    await socket.rec.next('disconnect', 10_000);
    assert.equal((await probe.list()).find((d) => d.id === desktop.id)?.state, 'running');
  });

  test('the maximum session length closes the viewer even while it gives input', async () => {
    const { socket } = await viewer({ maxSessionMinutes: 3, idleTimeoutMinutes: 0 });
    const typing = setInterval(
      () => socket.emit('input:pointer', { x: 20, y: 20, buttons: 0 }),
      MINUTE_MS / 4,
    );
    try {
      const closed = await socket.rec.next<ClosedMessage>('session:closed', 60_000);
      assert.equal(closed.reason, 'session-time-limit');
      assert.match(closed.message, /reached its limit of 3 minutes/);
    } finally {
      clearInterval(typing);
    }
    assert.equal((await probe.list()).find((d) => d.id === desktop.id)?.state, 'running');
  });
});
