/// <reference lib="dom" />
// Browser test harness: bundles the web viewer with esbuild, serves a test page that mounts it
// against a gateway, mints attach tokens for the page, and drives headless Chromium
// (playwright-core with the system's /usr/bin/chromium; never downloads a browser).
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import pino from 'pino';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { mintAttachToken } from '@raydesk/gateway/attach-token';
import type { AttachGrant } from '@raydesk/gateway/internal';
import { DEFAULT_SESSION_POLICY, sessionPolicySchema } from '@raydesk/gateway/protocol';

const HERE = dirname(fileURLToPath(import.meta.url));
export const VIEWER_ENTRY = resolve(HERE, '../src/index.ts');
export const EARLY_ATTACH_ENTRY = resolve(HERE, '../src/early-attach-script.ts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}`;
}

/** One browser script from `entry`; `globalName` exposes its exports. */
async function bundleScript(
  entry: string,
  options: { minify?: boolean; globalName?: string },
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    ...(options.globalName ? { globalName: options.globalName } : {}),
    platform: 'browser',
    target: 'chrome110',
    write: false,
    minify: options.minify ?? false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/**
 * The viewer as one script for the test page. `minify`: as the portal serves it (the bench, whose
 * figures include loading it); tests keep it readable.
 */
export function bundleViewer(options: { minify?: boolean } = {}): Promise<string> {
  return bundleScript(VIEWER_ENTRY, { ...options, globalName: 'RaydeskViewer' });
}

/** The early-attach page script (early-attach-script.ts), as pages load it ahead of the viewer. */
export function bundleEarlyAttach(options: { minify?: boolean } = {}): Promise<string> {
  return bundleScript(EARLY_ATTACH_ENTRY, options);
}

/**
 * How the page loads: early attach first (?early=1) or once the viewer has started
 * (?early=late), the viewer late (?viewerDelay=ms) or not.
 */
interface PageShape {
  early: { adoptWithinMs: number; bundle: string; late: boolean } | null;
  viewer: { delayMs: number } | null;
}

const attr = (value: string | number) =>
  String(value).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The early-attach script with the ticket in its attributes. First in the page, it is inlined
 * as the portal's desktop page has it (an async module, web/src/components/ViewerPage.tsx);
 * late, it is a classic script after the viewer's, so it runs once the viewer has connected.
 */
const EARLY = (
  gatewayUrl: string,
  vm: string,
  token: string,
  early: NonNullable<PageShape['early']>,
) => {
  const data =
    `data-early-attach data-vm="${attr(vm)}" data-gateway-url="${attr(gatewayUrl)}"` +
    ` data-path="/socket.io" data-token="${attr(token)}"` +
    ` data-adopt-within-ms="${attr(early.adoptWithinMs)}"`;
  if (early.late) return `<script src="/viewer-early.js" ${data}></script>`;
  if (/<\/script/i.test(early.bundle)) throw new Error('the early-attach bundle cannot be inlined');
  return `<script type="module" async ${data}>${early.bundle}</script>`;
};

const PAGE = (
  gatewayUrl: string,
  vm: string,
  pageToken: string | null,
  shape: PageShape,
) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Raydesk viewer test</title>
<style>html,body{margin:0;height:100%;background:#0b0d12}#app{position:fixed;inset:0}</style>
${shape.early && !shape.early.late && pageToken ? EARLY(gatewayUrl, vm, pageToken, shape.early) : ''}</head>
<body><div id="app"></div>
${shape.viewer ? `<script src="/viewer.js?delay=${shape.viewer.delayMs}"></script>` : ''}
<script>
  if (window.RaydeskViewer) {
  const params = new URLSearchParams(location.search);
  window.__states = [];
  window.__paints = [];
  window.__keys = [];
  window.__audio = [];
  window.addEventListener('keydown', (e) => window.__keys.push(performance.now()), true);
  const viewer = new RaydeskViewer.RemoteViewer(document.getElementById('app'), {
    gatewayUrl: ${JSON.stringify(gatewayUrl)},
    vmId: ${JSON.stringify(vm)},
    // As the portal's viewer pages do, when asked (?ticket=page): the first token comes with the page.
    initialTicket: ${pageToken ? JSON.stringify({ token: pageToken }) : 'undefined'},
    // As the portal's ViewerHost does: 401 is a refusal (signed out), other failures are retried.
    getToken: async () => {
      const r = await fetch('/token' + location.search);
      if (r.status === 401)
        throw new RaydeskViewer.AttachRefusedError('signed-out', 'You were signed out. Sign in again to reconnect.');
      if (!r.ok) throw new Error('the portal answered ' + r.status);
      return r.text();
    },
    // ?follow=off keeps the guest's screen size: a test of something else then does not share
    // its first seconds with the guest's mode switch (X is busy for 1-4 s while xrandr runs).
    followWindow: params.get('follow') !== 'off',
    onStateChange: (state, detail) => window.__states.push({ state, detail, at: performance.now() }),
    onPaint: (info) => window.__paints.push(info),
    // Decoded sound: when each block arrived (page clock, ms since the epoch) and its samples.
    onAudioSamples: (samples, rate, transitMs) =>
      window.__audio.push({ at: Date.now(), rate, transitMs, samples: Array.from(samples) }),
  });
  window.__viewer = viewer;
  viewer.connect();
  }
</script>
${shape.early?.late && pageToken ? EARLY(gatewayUrl, vm, pageToken, shape.early) : ''}</body></html>`;

export interface TestPageServer {
  url: string;
  server: Server;
  /** What /token answers: 200 with a token (default), or this status (401: signed out). */
  tokenStatus: number;
  /** How many tokens were asked for. */
  tokenRequests: number;
  close(): Promise<void>;
}

/**
 * Serves the page at / (query: mode, name, role, sub, email, and policy: JSON of the session
 * policy's fields that differ from the default; ticket=page puts the first token in the page,
 * ticket=expired an expired one; early=1 joins the gateway with it before the viewer loads
 * (early=late: a script that would, run after the viewer started),
 * adoptWithinMs bounds the wait for a viewer; viewerDelay=ms holds the viewer's script back,
 * viewerDelay=never leaves it out), /viewer.js, /viewer-early.js and /token.
 */
export async function servePage(options: {
  gatewayUrl: string;
  vm: string;
  attachSecret: string;
  bundle: string;
  /** The early-attach script (bundleEarlyAttach), for pages asked for with ?early=1. */
  earlyBundle?: string;
  /** Where to listen and the host name pages use (default 127.0.0.1 for both). */
  listen?: { address: string; hostName: string };
  /** Claims every token carries (e.g. a session policy), over the page's query. */
  grant?: Partial<AttachGrant>;
}): Promise<TestPageServer> {
  const page = { tokenStatus: 200, tokenRequests: 0 };
  const grantOf = (q: URLSearchParams): AttachGrant => {
    const grant: AttachGrant = {
      sub: q.get('sub') ?? 'user-1',
      vm: options.vm,
      mode: (q.get('mode') as 'control' | 'view') ?? 'control',
      name: q.get('name') ?? 'Ada',
      role: (q.get('role') as 'user' | 'admin') ?? 'user',
      ...options.grant,
    };
    const policy = q.get('policy');
    if (policy) {
      grant.policy = sessionPolicySchema.parse({
        ...DEFAULT_SESSION_POLICY,
        ...(JSON.parse(policy) as object),
      });
    }
    const email = q.get('email');
    if (email) grant.email = email;
    return grant;
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page');
    if (url.pathname === '/viewer.js') {
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'text/javascript' });
          res.end(options.bundle);
        },
        Number(url.searchParams.get('delay') ?? 0),
      );
    } else if (url.pathname === '/viewer-early.js' && options.earlyBundle) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(options.earlyBundle);
    } else if (url.pathname === '/token') {
      page.tokenRequests++;
      if (page.tokenStatus !== 200) {
        res.writeHead(page.tokenStatus, { 'content-type': 'text/plain' }).end('no');
        return;
      }
      mintAttachToken(options.attachSecret, grantOf(url.searchParams)).then(
        (t) => {
          res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
          res.end(t);
        },
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (url.pathname === '/') {
      const ticket = url.searchParams.get('ticket');
      const grant = grantOf(url.searchParams);
      const token =
        ticket === 'page'
          ? mintAttachToken(options.attachSecret, grant)
          : ticket === 'expired'
            ? // Correctly signed, expired a minute ago: a page left open too long.
              mintAttachToken(options.attachSecret, grant, -60)
            : Promise.resolve(null);
      token.then(
        (t) => {
          res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
          const early = url.searchParams.get('early');
          const earlyBundle = early === '1' || early === 'late' ? options.earlyBundle : undefined;
          const viewerDelay = url.searchParams.get('viewerDelay');
          res.end(
            PAGE(options.gatewayUrl, options.vm, t, {
              early: earlyBundle
                ? {
                    adoptWithinMs: Number(url.searchParams.get('adoptWithinMs') ?? 20_000),
                    bundle: earlyBundle,
                    late: early === 'late',
                  }
                : null,
              viewer: viewerDelay === 'never' ? null : { delayMs: Number(viewerDelay ?? 0) },
            }),
          );
        },
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  const { address, hostName } = options.listen ?? { address: '127.0.0.1', hostName: '127.0.0.1' };
  await new Promise<void>((r) => server.listen(0, address, r));
  return Object.assign(page, {
    url: `http://${hostName}:${(server.address() as AddressInfo).port}`,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

/** Reads one canvas pixel as 0xRRGGBB. */
export const PIXEL_SCRIPT = ([x, y]: number[]) => {
  const c = document.querySelector('canvas[aria-label="Remote desktop"]') as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(x!, y!, 1, 1).data;
  return (d[0]! << 16) | (d[1]! << 8) | d[2]!;
};

/** Hash of the whole canvas content (to see that something changed). */
export const CANVAS_HASH_SCRIPT = () => {
  const c = document.querySelector('canvas[aria-label="Remote desktop"]') as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i += 7) h = Math.imul(h ^ d[i]!, 16777619);
  return h >>> 0;
};

/** Dominant frequency of mono samples by a DFT scan over 100..2000 Hz in 5 Hz steps. */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number): number {
  let best = 0;
  let bestPower = -1;
  for (let hz = 100; hz <= 2000; hz += 5) {
    let re = 0;
    let im = 0;
    const w = (2 * Math.PI * hz) / sampleRate;
    for (let i = 0; i < samples.length; i++) {
      re += samples[i]! * Math.cos(w * i);
      im -= samples[i]! * Math.sin(w * i);
    }
    const power = re * re + im * im;
    if (power > bestPower) {
      bestPower = power;
      best = hz;
    }
  }
  return best;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * A real gateway in this process in front of a hypervisor, quiet, accepting attach tokens signed
 * with the returned secret. `address` 0.0.0.0 lets Chromium reach it by a host name.
 */
export async function startTestGateway(
  hypervisor: { url: string; config: { secret: string } },
  address = '127.0.0.1',
): Promise<{ gateway: Gateway; attachSecret: string; url: string; port: number }> {
  const attachSecret = randomBytes(32).toString('hex');
  const gateway = createGateway({
    config: {
      host: address,
      port: 0,
      secret: randomBytes(16).toString('hex'),
      attachTokenSecret: attachSecret,
      hypervisorUrl: hypervisor.url,
      hypervisorSecret: hypervisor.config.secret,
      portalInternalUrl: null,
      allowedOrigins: [],
      logLevel: 'silent',
    },
    logger: pino({ level: 'silent' }),
  });
  const { url, port } = await gateway.listen(0, address);
  return { gateway, attachSecret, url, port };
}
