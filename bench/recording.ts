// `npm run bench -- --only recording`: session recording's figures on a real desktop VM viewed
// by Chromium through a real gateway: recording size per hour (typing, busy screen; each
// extrapolated from a measured interval), the gateway's per-frame cost with recording on and
// off, and seek time in an hour-long recording played by the viewer's RecordingPlayer.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium, type Page } from 'playwright-core';
import { createGateway } from '@raydesk/gateway/server';
import { DEFAULT_SESSION_POLICY } from '@raydesk/gateway/protocol';
import { decodeRecords, type RecordingStart } from '@raydesk/gateway/recording';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import { bundleViewer, CHROMIUM, CHROMIUM_ARGS, servePage } from '@raydesk/viewer/testing';
import { RecordingStore, SessionRecorder } from '@raydesk/gateway/recorder';
import type { Plan } from './options.ts';
import { emptyResults, type RunOutput } from './run.ts';
import { dist, round, type Dist } from './stats.ts';
import type { RecordingFigures } from './recording-figures.ts';

type Session = { flush(): void; framesSent: number; id: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRecordingBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const seconds = plan.mode === 'full' ? 60 : plan.mode === 'quick' ? 20 : 8;
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-bench-rec-'));
  const hv = await startEphemeralHypervisor({ memoryBudgetMiB });
  const client = new HypervisorClient({
    url: hv.url,
    secret: hv.config.secret,
    timeoutMs: 600_000,
  });
  await client.connected();
  const attachSecret = randomBytes(32).toString('hex');
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: randomBytes(16).toString('hex'),
      attachTokenSecret: attachSecret,
      hypervisorUrl: hv.url,
      hypervisorSecret: hv.config.secret,
      portalInternalUrl: null,
      allowedOrigins: [],
      logLevel: 'silent',
      recording: { dir, retentionDays: 0, maxTotalBytes: 0, keyframeMs: 20_000, input: false },
    },
    logger: pino({ level: 'silent' }),
  });
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const bundle = await bundleViewer();
  const results = emptyResults();
  try {
    log('creating a desktop VM');
    const vm = await client.create({ appliance: 'desktop', name: 'bench-recording' });
    const pages = {
      on: await servePage({
        gatewayUrl,
        vm: vm.id,
        attachSecret,
        bundle,
        grant: { policy: { ...DEFAULT_SESSION_POLICY, recording: true } },
      }),
      off: await servePage({ gatewayUrl, vm: vm.id, attachSecret, bundle }),
    };

    /** Opens a viewer, times every flush of its gateway session, runs `scenario`. */
    const session = async (recorded: boolean, scenario: (p: Page) => Promise<void>) => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
      const p = await context.newPage();
      await p.goto(`${(recorded ? pages.on : pages.off).url}/?follow=off`);
      await p.waitForFunction(
        () => (window as unknown as { __viewer: { state: string } }).__viewer.state === 'connected',
        undefined,
        { timeout: 120_000 },
      );
      const id = await p.evaluate(
        () => (window as unknown as { __viewer: { sessionId: string } }).__viewer.sessionId,
      );
      const s = gateway.sessions.get(id) as unknown as Session;
      const costs: number[] = [];
      const flush = s.flush.bind(s);
      // Only flushes that sent a frame count: the rest found nothing new.
      s.flush = () => {
        const before = s.framesSent;
        const t0 = performance.now();
        flush();
        if (s.framesSent > before) costs.push(performance.now() - t0);
      };
      await sleep(3_000);
      await p.locator('canvas').click({ position: { x: 300, y: 300 } });
      await scenario(p);
      await context.close();
      await sleep(500);
      return { id, costs };
    };
    const typing = async (p: Page) => {
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        await p.keyboard.type('echo the quick brown fox', { delay: 100 });
        await p.keyboard.press('Enter');
      }
    };
    const busy = async (p: Page) => {
      await p.keyboard.type('od -x /dev/urandom', { delay: 30 });
      await p.keyboard.press('Enter');
      await sleep(seconds * 1000);
      await p.keyboard.press('Control+c');
    };
    const sizeOf = (id: string) => {
      const path = join(dir, `${id}.rdrec`);
      const { records } = decodeRecords(new Uint8Array(readFileSync(path)));
      const last = records.at(-1)!;
      return { bytes: statSync(path).size, seconds: last.t / 1000, path };
    };

    log(`typing, recording off (${seconds} s)`);
    const typingOff = await session(false, typing);
    log(`typing, recording on (${seconds} s)`);
    const typingOn = await session(true, typing);
    log(`busy screen (od -x /dev/urandom), recording off (${seconds} s)`);
    const busyOff = await session(false, busy);
    log(`busy screen, recording on (${seconds} s)`);
    const busyOn = await session(true, busy);
    const typingFile = sizeOf(typingOn.id);
    const busyFile = sizeOf(busyOn.id);
    const perHour = (f: { bytes: number; seconds: number }) =>
      Math.round((f.bytes / f.seconds) * 3600);
    log(
      `recording: typing ${(perHour(typingFile) / 2 ** 20).toFixed(1)} MiB/h, busy ${(perHour(busyFile) / 2 ** 20).toFixed(1)} MiB/h`,
    );

    log('building an hour-long recording from the typing session’s frames');
    const hour = buildHourLong(typingFile.path, join(dir, 'hourlong01.rdrec'));
    const store = new RecordingStore(
      {
        dir,
        gatewayId: 'bench',
        keyframeMs: 20_000,
        keyframeBytes: 4 * 2 ** 20,
        fsyncMs: 60_000,
        input: false,
        retentionDays: 0,
        maxTotalBytes: 0,
      },
      () => undefined,
      pino({ level: 'silent' }),
    );
    const index = await store.index('hourlong01');
    if (!index) throw new Error('no index for the hour-long recording');
    const seekMs = await measureSeeks(
      browser,
      bundle,
      store,
      index,
      plan.mode === 'smoke' ? 3 : 20,
    );
    log(`seek: p50 ${seekMs.p50} ms, p95 ${seekMs.p95} ms, n=${seekMs.n}`);

    const figures: RecordingFigures = {
      bytesPerHour: {
        typing: perHour(typingFile),
        busy: perHour(busyFile),
        measuredSeconds: seconds,
        method: `Bytes of the recording file (frames, keyframes every 20 s, index not counted) of one viewer's session, divided by its length and multiplied to an hour: extrapolated from ${seconds} s measured, not an hour recorded. typing: a line typed into the xterm at 10 keys/s; busy: od -x /dev/urandom scrolling in the xterm.`,
      },
      frameCostMs: {
        off: dist([...typingOff.costs, ...busyOff.costs], 'recording off', 2),
        on: dist([...typingOn.costs, ...busyOn.costs], 'recording on', 2),
        method:
          "The gateway's ViewerSession.flush() per frame sent (diff against what the viewer has, encode, emit, and with recording on the record's write and, every 20 s, the keyframe), over the typing and busy sessions, same VM, one after the other.",
      },
      seekMs: {
        ...seekMs,
        fileBytes: hour.bytes,
        keyframes: index.keyframes.length,
      },
      loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
    };
    results.recording = figures;
    log(JSON.stringify(figures, null, 2));
    for (const p of Object.values(pages)) await p.close();
  } finally {
    await browser.close();
    await gateway.close();
    client.close();
    await hv.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    results,
    series: {},
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, recording only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}

/**
 * An hour of recording from a real one: its frames replayed again and again with their own
 * spacing, through the recorder (so keyframes and the index are made as in a live session).
 */
function buildHourLong(source: string, target: string): { bytes: number } {
  const { records } = decodeRecords(new Uint8Array(readFileSync(source)));
  const start = records.find((r) => r.type === 'start');
  const frames = records.flatMap((r) => (r.type === 'frame' ? [r] : []));
  if (!start || start.type !== 'start' || frames.length < 2) throw new Error('too few frames');
  const span = frames.at(-1)!.t - frames[0]!.t + 200;
  let clock = Date.parse(start.meta.startedAt);
  const meta: RecordingStart = { ...start.meta, id: 'hourlong01' };
  const recorder = new SessionRecorder(
    target,
    meta,
    { keyframeMs: 20_000, keyframeBytes: 4 * 2 ** 20, fsyncMs: 60_000, input: false },
    () => clock,
  );
  const t0 = clock;
  for (let round = 0; clock - t0 < 3_600_000; round++) {
    for (const f of frames) {
      clock = t0 + round * span + (f.t - frames[0]!.t);
      if (clock - t0 >= 3_600_000) break;
      // After the first round, the first frame is not a full one: later rounds are updates.
      recorder.frame({ ...f.frame, full: round === 0 && f.frame.full });
    }
  }
  return { bytes: recorder.close('bench').sizeBytes };
}

const PLAYER_PAGE = `<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#000"><canvas id="c"></canvas>
<script src="/viewer.js"></script>
<script>
  window.__ready = (async () => {
    const index = await (await fetch('/index')).json();
    window.__player = new RaydeskViewer.RecordingPlayer(document.getElementById('c'), {
      index,
      read: async (from, to) => new Uint8Array(await (await fetch('/bytes?from=' + from + '&to=' + to)).arrayBuffer()),
    });
    return index.durationMs;
  })();
</script></body></html>`;

async function measureSeeks(
  browser: import('playwright-core').Browser,
  bundle: string,
  store: RecordingStore,
  index: NonNullable<Awaited<ReturnType<RecordingStore['index']>>>,
  n: number,
): Promise<Dist> {
  // The bytes come from the gateway's store as the portal's route would ask for them, served on
  // loopback here without the portal in between.
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://bench');
    if (url.pathname === '/')
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(PLAYER_PAGE);
    if (url.pathname === '/viewer.js')
      return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    if (url.pathname === '/index')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(index));
    if (url.pathname === '/bytes') {
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      void store.read(index.id, from, to).then((b) => res.writeHead(200).end(b));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const duration = await page.evaluate(
      () => (window as unknown as { __ready: Promise<number> }).__ready,
    );
    const targets = [
      duration / 2,
      ...Array.from({ length: n - 1 }, () => Math.random() * duration),
    ];
    const samples: number[] = [];
    for (const t of targets) {
      samples.push(
        await page.evaluate(async (target) => {
          const player = (window as unknown as { __player: { seek(t: number): Promise<void> } })
            .__player;
          const t0 = performance.now();
          await player.seek(target);
          // Painted: wait for the next frame of the page.
          await new Promise((r) => requestAnimationFrame(() => r(null)));
          return performance.now() - t0;
        }, t),
      );
    }
    return dist(
      samples,
      `Chromium, the viewer's RecordingPlayer over loopback HTTP (no portal in between): seek() to a random point (the first: the middle) until painted and the next animation frame, in an hour-long recording built from the typing session's real frames replayed with their spacing (keyframes every 20 s made by the recorder). n=${samples.length}.`,
      0,
    );
  } finally {
    await page.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
