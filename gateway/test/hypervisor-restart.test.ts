// The gateway keeps its viewers through a crash of the hypervisor: the real daemon runs in its
// own process and is killed with SIGKILL. Viewers stay attached and are told, in order, that
// the host is unreachable, that it restarted and starts their desktop again, and that it is
// back; the display then streams again. A viewer that attaches meanwhile waits with the same
// notices. A crashed VM nobody restarts says so, and goes live once someone starts it. A clean
// stop of the gateway tells viewers it is restarting.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { io as connect } from 'socket.io-client';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { DAEMON_SECRET, HypervisorProcess, freePort } from '@raydesk/hypervisor/testing';
import { mintAttachToken } from '../src/auth/attach-token.ts';
import type {
  ClosedMessage,
  DisplayUpdate,
  SessionNotice,
  SessionReady,
} from '../src/protocol/browser.ts';
import type { AttachGrant } from '../src/protocol/internal.ts';
import { createGateway, type Gateway } from '../src/server.ts';
import { Recorder, type ViewerClient } from '../testing/helpers.ts';

const ATTACH_SECRET = `restart-test-attach-secret-0123456789abcdef-${process.pid}`;

async function until(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A browser-protocol client recording every event, with the notices it got in order. */
function viewer(url: string, grant: AttachGrant) {
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
  const notices: SessionNotice[] = [];
  const updates: DisplayUpdate[] = [];
  let ready: SessionReady | null = null;
  socket.onAny((event: string, value: unknown) => socket.rec.push(event, value));
  socket.on('session:notice', (n) => notices.push(n));
  socket.on('session:ready', (r) => (ready = r));
  socket.on('display:update', (u) => {
    updates.push(u);
    if (u.last) socket.emit('frame:ack', { seq: u.seq });
  });
  socket.on('disconnect', (r) => socket.rec.push('disconnect', r));
  return { socket, notices, updates, ready: () => ready };
}

describe('gateway viewers through a hypervisor crash', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'raydesk-gw-restart-'));
  let daemon: HypervisorProcess;
  let probe: HypervisorClient;
  let gateway: Gateway;
  let url = '';
  const clients: ViewerClient[] = [];

  before(async () => {
    daemon = new HypervisorProcess(dataDir, await freePort());
    await daemon.start();
    const hypervisorUrl = `http://127.0.0.1:${daemon.port}`;
    probe = new HypervisorClient({ url: hypervisorUrl, secret: DAEMON_SECRET, timeoutMs: 600_000 });
    await probe.connected();
    gateway = createGateway({
      config: {
        host: '127.0.0.1',
        port: 0,
        secret: 'restart-test-gateway-secret',
        attachTokenSecret: ATTACH_SECRET,
        hypervisorUrl,
        hypervisorSecret: DAEMON_SECRET,
        portalInternalUrl: null,
        allowedOrigins: [],
        logLevel: 'silent',
      },
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    });
    url = (await gateway.listen(0, '127.0.0.1')).url;
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await gateway?.close();
    probe?.close();
    await daemon?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('kill -9 of the hypervisor: notices in plain words, the desktop boots again, viewers go live', async () => {
    const used = await probe.create({ appliance: 'console', kind: 'personal', owner: 'u1' });
    const unused = await probe.create({ appliance: 'console', kind: 'personal', owner: 'u2' });
    const grant = (vm: string, extra: Partial<AttachGrant> = {}): AttachGrant => ({
      sub: 'u1',
      vm,
      mode: 'control',
      name: 'Ada',
      role: 'user',
      ...extra,
    });
    const a = viewer(url, grant(used.id));
    clients.push(a.socket);
    await a.socket.rec.next('session:ready', 30_000);
    await until('a first frame', () => a.updates.some((u) => u.full && u.last), 30_000);

    const killedAt = Date.now();
    await daemon.stop('SIGKILL');
    await until('the host-unreachable notice', () => a.notices.length >= 1, 20_000);
    assert.deepEqual(a.notices[0], {
      code: 'host-unreachable',
      message: "Lost contact with your desktop's host; waiting for it to come back.",
      waiting: true,
    });

    // A shadow attaching while the host is down is told why it waits; no session:ready yet.
    const shadow = viewer(url, grant(used.id, { sub: 'admin-1', mode: 'view', role: 'admin' }));
    clients.push(shadow.socket);
    await until('the shadow to get the notice', () => shadow.notices.length >= 1, 20_000);
    assert.equal(shadow.notices[0]!.code, 'host-unreachable');
    assert.equal(shadow.ready(), null);
    // And a viewer of the VM nobody used.
    const b = viewer(url, grant(unused.id, { sub: 'u2', name: 'Bo' }));
    clients.push(b.socket);

    await daemon.start();
    await until(
      'the desktop back',
      () => a.notices.some((n) => n.code === 'desktop-ready'),
      240_000,
    );
    const backMs = Date.now() - killedAt;
    const codes = a.notices.map((n) => n.code);
    assert.deepEqual(codes, ['host-unreachable', 'host-restarted', 'desktop-ready'], `${codes}`);
    assert.equal(
      a.notices[1]!.message,
      "Your desktop's host restarted; starting your desktop again.",
    );
    assert.equal(a.notices[2]!.waiting, false);
    // The display streams from the new boot (a console's screen may look as before the crash,
    // so ask for a full frame rather than wait for a change).
    const updatesBefore = a.updates.length;
    a.socket.emit('display:refresh', {});
    await until(
      'a full frame after the restart',
      () => a.updates.slice(updatesBefore).some((u) => u.full && u.last),
      30_000,
    );
    const info = await probe.get(used.id);
    assert.deepEqual([info.state, info.guestReady, info.watchers], ['running', true, 1]);
    // The shadow that attached during the outage is now attached for real.
    await until('the shadow to be ready', () => shadow.ready() !== null, 30_000);
    assert.deepEqual(
      shadow.notices.map((n) => n.code),
      ['host-unreachable', 'host-restarted', 'desktop-ready'],
      'it saw the restart, then session:ready',
    );

    // The VM nobody used stays crashed; its viewer is told, and goes live once it is started.
    await until(
      'the stopped notice',
      () => b.notices.some((n) => n.code === 'desktop-stopped'),
      30_000,
    );
    assert.equal((await probe.get(unused.id)).state, 'crashed');
    assert.equal(b.ready(), null);
    await probe.start(unused.id);
    await until('the started VM live', () => b.ready() !== null, 240_000);
    // It saw the host unreachable only if it attached before the daemon was back; then its VM
    // is starting again after a host restart, else simply starting.
    const sawHostDown = b.notices[0]?.code === 'host-unreachable';
    assert.deepEqual(
      b.notices.map((n) => n.code).filter((code) => code !== 'host-unreachable'),
      ['desktop-stopped', sawHostDown ? 'host-restarted' : 'desktop-starting', 'desktop-ready'],
    );
    assert.equal(
      b.notices.find((n) => n.code === 'desktop-stopped')!.message,
      'Your desktop stopped. Open it again from the portal to start it.',
    );
    console.log(`# kill -9 of the hypervisor -> viewer told the desktop is back: ${backMs} ms`);

    // A clean stop of the gateway tells every viewer it is restarting.
    const closed = a.socket.rec.next<ClosedMessage>('session:closed', 10_000);
    await gateway.close();
    assert.deepEqual(await closed, {
      reason: 'gateway-shutdown',
      message: 'The gateway is restarting.',
    });
  });
});
