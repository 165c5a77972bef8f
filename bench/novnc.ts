/// <reference lib="dom" />
// The noVNC peer, measured in the same run on the same desktop VM: x11vnc (Debian's package in
// the desktop image) started through the guest agent, reached through a host-to-guest port
// forward, and noVNC (npm `@novnc/novnc`, bundled with esbuild) in the same headless Chromium,
// connected through a WebSocket-to-TCP bridge that lives only here, in the bench (noVNC's
// websockify does the same job in a real deployment). Same probes as Raydesk's: keydown to the
// paint that changes the canvas, WebSocket bytes the page received while idle, typing and
// dragging a window, and page load to the first full frame.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { WebSocketServer } from 'ws';
import { findTitleBar, sweepWindow, typeLine, TITLE_BAR } from './bandwidth.ts';
import { sampleInputToPaint } from './input-samples.ts';
import {
  CANVAS,
  desktopPaintedAfterNavigation,
  desktopPaintedAt,
  focusCanvas,
  guestToPage,
  INIT_SCRIPT,
  type Stack,
  type Viewer,
} from './stack.ts';
import { dist, percentile, round, type Dist } from './stats.ts';

export interface NoVncPlan {
  input: number;
  bandwidthSeconds: number;
  reconnect: number;
}

export interface NoVncFigures {
  inputToPaintMs: Dist | null;
  bandwidthBytesPerSec: { idle: number; typing: number; windowDrag: number } | null;
  reconnectMs: Dist | null;
  /**
   * How far one drag through noVNC moved the window (checked outside the timed drag), as noVNC
   * showed it and on the guest's own screen.
   */
  dragMovedPx: { novnc: number; guest: number };
  /** The VM's CPU (share of a core) and MIPS with noVNC connected and idle, and before x11vnc. */
  guestCpu: {
    before: { cpuPercent: number; mips: number };
    idle: { cpuPercent: number; mips: number };
  };
  method: string;
}

export const NOVNC_METHOD =
  "noVNC 1.7 (npm @novnc/novnc) in the same headless Chromium, connected to x11vnc (Debian 12's x11vnc 0.9.16, default encodings and polling, -forever -shared, VNC password) on the same desktop VM, started through the guest agent only for this and reached through a host-to-guest port forward and the bench's WebSocket-to-TCP bridge. Figures measured as Raydesk's: inputToPaintMs from the page's keydown to the paint (noVNC's flip to its visible canvas) after which the canvas pixels above the panel differ; bandwidthBytesPerSec as WebSocket bytes received by the page while idle, typing and dragging the xterm; reconnectMs from starting a second page's load to its first complete frame painted (noVNC's first flip after connecting, which carries the whole screen). Raydesk's viewer was closed while noVNC was measured, and x11vnc stopped while Raydesk was.";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The page: noVNC's RFB on a full-size canvas, with the paint hook INIT_SCRIPT listens to. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>noVNC</title>
<style>html,body{margin:0;background:#222}#screen{width:1024px;height:768px}</style></head>
<body><div id="screen"></div><script type="module" src="/novnc.js"></script></body></html>`;

const ENTRY = `
import RFB from '@novnc/novnc';
window.__keys = [];
window.addEventListener('keydown', () => window.__keys.push(performance.now()), true);
window.__paints = [];
const params = new URLSearchParams(location.search);
const rfb = new RFB(document.getElementById('screen'), 'ws://' + location.host + '/websockify', {
  credentials: { password: params.get('password') },
  shared: true,
});
rfb.scaleViewport = false;
rfb.resizeSession = false;
rfb._canvas.setAttribute('aria-label', 'Remote desktop');
const display = rfb._display;
const flip = display.flip.bind(display);
let paints = 0;
// A flip copies what was drawn to the visible canvas; queued behind image decodes, it runs later.
display.flip = function (fromQueue) {
  const drawing = this._renderQ.length === 0 || fromQueue;
  const result = flip(fromQueue);
  if (drawing) window.__paints.push({ full: paints++ === 0, at: performance.now() });
  return result;
};
window.__viewer = { state: 'connecting' };
rfb.addEventListener('connect', () => (window.__viewer.state = 'connected'));
rfb.addEventListener('disconnect', () => (window.__viewer.state = 'disconnected'));
`;

interface NoVncServer {
  url: string;
  /** What the WebSocket-to-TCP bridge saw, for the report when noVNC shows nothing. */
  traffic(): { connections: number; toGuest: number; fromGuest: number; closed: string[] };
  close(): Promise<void>;
}

/** Serves the page and the bundle, and bridges /websockify to the forwarded x11vnc port. */
async function serveNoVnc(forwardPort: number): Promise<NoVncServer> {
  const bundle = await build({
    stdin: { contents: ENTRY, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    format: 'esm',
    write: false,
    minify: true,
    target: 'chrome120',
  });
  const js = bundle.outputFiles[0]!.text;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/novnc.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    }
  });
  const bridge = new WebSocketServer({ server, path: '/websockify', perMessageDeflate: false });
  const traffic = { connections: 0, toGuest: 0, fromGuest: 0, closed: [] as string[] };
  bridge.on('connection', (ws) => {
    traffic.connections++;
    const tcp = connect({ host: '127.0.0.1', port: forwardPort, noDelay: true });
    tcp.on('data', (chunk) => {
      traffic.fromGuest += chunk.length;
      ws.send(chunk);
    });
    tcp.on('close', () => {
      traffic.closed.push('guest side closed');
      ws.close();
    });
    tcp.on('error', (error) => {
      traffic.closed.push(`guest side: ${error.message}`);
      ws.close();
    });
    ws.on('message', (data: Buffer) => {
      traffic.toGuest += data.length;
      tcp.write(data);
    });
    ws.on('close', () => tcp.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    traffic: () => ({ ...traffic, closed: traffic.closed.slice(-3) }),
    close: async () => {
      for (const client of bridge.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Errors each noVNC page logged, for the report when it shows nothing. */
const noVncProblems = new WeakMap<Viewer['page'], string[]>();

async function openNoVnc(stack: Stack, url: string): Promise<Viewer> {
  const context = await stack.browser.newContext({ viewport: { width: 1100, height: 860 } });
  await context.addInitScript(INIT_SCRIPT);
  const page = await context.newPage();
  let bytes = 0;
  page.on('websocket', (ws) => {
    ws.on('framereceived', (frame) => {
      bytes +=
        typeof frame.payload === 'string' ? Buffer.byteLength(frame.payload) : frame.payload.length;
    });
  });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('crash', () => problems.push('the page crashed'));
  noVncProblems.set(page, problems);
  await page.goto(url);
  return {
    context,
    page,
    wsBytes: () => bytes,
    async close() {
      await context.close().catch(() => undefined);
    },
  };
}

/**
 * Drags the xterm once through noVNC and finds its title bar in noVNC's canvas: the proof that
 * the drag scenario really moves the window (outside the timed run).
 */
async function checkDrag(
  viewer: Viewer,
  guestScreen: () => Promise<{
    rgba: Uint8ClampedArray | Uint8Array;
    width: number;
    height: number;
  }>,
): Promise<{ novnc: number; guest: number }> {
  const onGuest = async () => {
    const screen = await guestScreen();
    return findTitleBar(new Uint8ClampedArray(screen.rgba), screen.width, screen.height);
  };
  const guestBefore = await onGuest();
  const locate = () =>
    viewer.page.evaluate(
      ([selector, finder]) => {
        const canvas = document.querySelector(selector as string) as HTMLCanvasElement;
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const find = new Function(`return ${finder as string}`)() as (
          rgba: Uint8ClampedArray,
          w: number,
          h: number,
        ) => { left: number; top: number } | null;
        return find(pixels.data, canvas.width, canvas.height);
      },
      [CANVAS, findTitleBar.toString()] as const,
    );
  const before = await locate();
  const start = await guestToPage(viewer, TITLE_BAR.x, TITLE_BAR.y);
  const far = await guestToPage(viewer, TITLE_BAR.x + 240, TITLE_BAR.y + 120);
  await viewer.page.mouse.move(start.x, start.y);
  await viewer.page.mouse.down();
  await viewer.page.mouse.move(far.x, far.y, { steps: 10 });
  // The guest follows a drag slowly while x11vnc runs beside it: give it time to arrive.
  let moved = await locate();
  for (let i = 0; i < 20 && before && moved && moved.left === before.left; i++) {
    await sleep(500);
    moved = await locate();
  }
  const guestMoved = await onGuest();
  await viewer.page.mouse.move(start.x, start.y, { steps: 10 });
  await viewer.page.mouse.up();
  await sleep(1000);
  const distance = (
    a: { left: number; top: number } | null,
    b: { left: number; top: number } | null,
  ) => (a && b ? Math.round(Math.hypot(b.left - a.left, b.top - a.top)) : 0);
  return { novnc: distance(before, moved), guest: distance(guestBefore, guestMoved) };
}

/**
 * The noVNC figures on `vmId`, or null when its image has no VNC server. Raydesk's viewers of
 * the VM must be closed; x11vnc is stopped again at the end.
 */
export async function measureNoVnc(
  stack: Stack,
  vmId: string,
  plan: NoVncPlan,
  log: (line: string) => void,
  series: Record<string, number[]>,
): Promise<NoVncFigures | null> {
  const domain = stack.hv.host.get(vmId);
  const cpu = async () => {
    const info = await stack.client.get(vmId);
    return { cpuPercent: round(info.cpuPercent), mips: round(info.mips) };
  };
  await sleep(3000);
  const before = await cpu();
  const password = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
  try {
    await domain.agentRequest('vnc', ['start', password], 60_000);
  } catch (error) {
    log(`noVNC not measured: ${(error as Error).message}`);
    return null;
  }
  const forward = await stack.client.forward({ id: vmId, guestPort: 5900 });
  const server = await serveNoVnc(forward.listen.port);
  const url = `${server.url}?password=${password}`;
  const figures: NoVncFigures = {
    inputToPaintMs: null,
    bandwidthBytesPerSec: null,
    reconnectMs: null,
    dragMovedPx: { novnc: 0, guest: 0 },
    guestCpu: { before, idle: before },
    method: NOVNC_METHOD,
  };
  let viewer = await openNoVnc(stack, url);
  try {
    try {
      await desktopPaintedAt(viewer.page, 60_000);
    } catch (error) {
      // The comparison is missing from the report, with its reason; Raydesk's figures stand.
      const state = await viewer.page
        .evaluate(() => {
          const w = window as unknown as {
            __viewer?: { state: string };
            __paints?: unknown[];
          };
          const canvas = document.querySelector('canvas');
          return `RFB ${w.__viewer?.state ?? 'absent'}, ${w.__paints?.length ?? 0} paints, canvas ${canvas ? `${canvas.width}x${canvas.height}` : 'none'}`;
        })
        .catch((why: unknown) => `page unreadable: ${String(why)}`);
      const problems = (noVncProblems.get(viewer.page) ?? []).slice(-5).join('; ') || 'none';
      log(
        `noVNC not measured: no desktop painted within 60 s (${state}; bridge ${JSON.stringify(server.traffic())}; page problems: ${problems}): ${String(error)}`,
      );
      return null;
    }
    await sleep(3000);
    figures.guestCpu.idle = await cpu();
    log(
      `guest with noVNC connected and idle: ${figures.guestCpu.idle.cpuPercent}% of a core, ${figures.guestCpu.idle.mips} MIPS (before x11vnc: ${before.cpuPercent}%, ${before.mips} MIPS)`,
    );
    const input = await sampleInputToPaint(viewer, plan.input, 'noVNC, 1 VM', log);
    series['peers.novnc.inputToPaintMs'] = input;
    figures.inputToPaintMs = dist(input, `${plan.input} samples.`);

    if (plan.bandwidthSeconds > 0) {
      const perSec = { idle: 0, typing: 0, windowDrag: 0 };
      const scenario = async (name: keyof typeof perSec, body: () => Promise<void>) => {
        await sleep(1000);
        const b0 = viewer.wsBytes();
        const t0 = performance.now();
        await body();
        perSec[name] = Math.round((viewer.wsBytes() - b0) / ((performance.now() - t0) / 1000));
        log(`noVNC bandwidth ${name}: ${perSec[name]} B/s`);
      };
      await scenario('idle', () => sleep(plan.bandwidthSeconds * 1000));
      await focusCanvas(viewer);
      await scenario('typing', () => typeLine(viewer, plan.bandwidthSeconds));
      await scenario('windowDrag', () => sweepWindow(viewer, plan.bandwidthSeconds));
      figures.bandwidthBytesPerSec = perSec;
      figures.dragMovedPx = await checkDrag(viewer, () => domain.captureScreen());
      log(
        `noVNC drag check: the xterm moved ${figures.dragMovedPx.novnc} px in noVNC, ${figures.dragMovedPx.guest} px on the guest's screen`,
      );
    }

    const reconnect: number[] = [];
    for (let i = 0; i < plan.reconnect; i++) {
      const next = await openNoVnc(stack, url);
      reconnect.push(await desktopPaintedAfterNavigation(next.page, 60_000));
      await viewer.close();
      viewer = next;
    }
    if (reconnect.length) {
      series['peers.novnc.reconnectMs'] = reconnect;
      figures.reconnectMs = dist(reconnect, `${reconnect.length} samples.`, 0);
      log(
        `noVNC reconnect: p50 ${percentile(reconnect, 50).toFixed(0)} ms, p95 ${percentile(reconnect, 95).toFixed(0)} ms, n=${reconnect.length}`,
      );
    }
  } finally {
    await viewer.close();
    await server.close();
    await stack.client.unforward(vmId, { port: forward.listen.port }).catch(() => undefined);
    await domain.agentRequest('vnc', ['stop'], 20_000).catch(() => undefined);
  }
  return figures;
}
