// `npm run bench -- --only desktop-io`: what a user feels of the desktop's clipboard, files
// and screen size, through the real stack (hypervisor, gateway, the viewer in headless
// Chromium, the desktop guest and its agent): clipboard both ways, upload and download
// throughput, and the time from a window resize to the new desktop size painted.
import { createHash, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import type { Plan } from './options.ts';
import { emptyResults, type RunOutput } from './run.ts';
import {
  CANVAS,
  desktopPaintedAt,
  focusCanvas,
  startStack,
  waitConnected,
  type Viewer,
} from './stack.ts';
import { dist, round } from './stats.ts';
import type { DesktopIoFigures } from './desktop-io-figures.ts';

const METHOD = {
  clipboardToBrowser:
    'A shell loop in the desktop\'s xterm (`while read l && [ "$l" != end ]; do printf \'<text> %s\' "$l" | xclip -selection clipboard; done`) copies each line typed into it; the viewer types a short token and Enter. From the viewer\'s sendText resolving (keys handed to the gateway) to navigator.clipboard.readText() in the page returning the Unicode text with that token (polled every 20 ms).',
  clipboardToDesktop:
    "The viewer's transfer.request('clipboard:set') with Unicode text, timed in the page until its acknowledgement: the gateway's policy check, the hypervisor, the guest agent's clip-set (xclip for CLIPBOARD and PRIMARY).",
  clipboardRoundTrip:
    'clipboard:set then clipboard:get from the viewer, timed in the page; the text read back equals the text set (Unicode).',
  upload:
    'A file of 1 MiB of random bytes picked with the Files panel\'s file input (setInputFiles) until the upload row shows "Saved as ~/Uploads/..." with the same sha256; 64 KiB chunks, each acknowledged before the next. One sample per file round.',
  download:
    "The uploaded file copied into ~/Send to browser (by the terminal's cp), then the viewer's transfer.download (64 KiB files:read requests one after another) until the Blob is complete; sha256 checked in the page.",
  resize:
    "The page's viewport switched between 1000x760 and 1180x880 (the guest follows the viewer's area, debounced); from page.setViewportSize to the first frame painted on a canvas of a new size (the canvas is the guest's framebuffer size).",
};

const TEXT = 'Grüße ✓ 日本';
/** Each file round uploads and downloads this many random bytes. */
const FILE_BYTES = 1024 * 1024;
/** printf's octal escapes for UTF-8 text, so that the terminal's key map can type it. */
const octal = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((b) =>
      /[a-z0-9 ]/i.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `\\${b.toString(8).padStart(3, '0')}`,
    )
    .join('');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface PageViewer {
  sendText(text: string): Promise<unknown>;
  transfer: {
    request(event: string, payload: unknown): Promise<unknown>;
    download(file: { name: string; bytes: number }): Promise<Blob>;
  };
}
type PageWindow = Window & { __viewer: PageViewer; __paints: { at: number }[] };
declare const window: PageWindow;

const canvasSize = (viewer: Viewer) =>
  viewer.page.evaluate((sel) => {
    const c = document.querySelector(sel) as HTMLCanvasElement;
    return `${c.width}x${c.height}`;
  }, CANVAS);

/** Waits until the canvas keeps one size for `quietMs` (the guest has followed the window). */
async function settledSize(viewer: Viewer, quietMs = 3_000, limitMs = 120_000): Promise<string> {
  const end = Date.now() + limitMs;
  let size = await canvasSize(viewer);
  let since = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await canvasSize(viewer);
    if (now !== size) {
      size = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return size;
}

export async function measureDesktopIo(
  viewer: Viewer,
  samples: number,
  log: (line: string) => void,
  fileRounds = 1,
): Promise<Omit<DesktopIoFigures, 'loadavg'>> {
  const { page } = viewer;
  await viewer.context.grantPermissions(['clipboard-read', 'clipboard-write']);

  // The first resize of a fresh desktop: its golden snapshot's size to the viewer's area.
  const firstSize = await canvasSize(viewer);
  const followed = await page
    .waitForFunction(
      ([sel, old]) => {
        const c = document.querySelector(sel) as HTMLCanvasElement;
        if (`${c.width}x${c.height}` === old) return 0;
        return window.__paints.at(-1)?.at ?? 0;
      },
      [CANVAS, firstSize] as const,
      { timeout: 60_000, polling: 'raf' },
    )
    .then(async (handle) => (await handle.jsonValue()) as number)
    .catch(() => null);
  // Paint times are ms after the page's navigation started.
  const firstFollowMs = followed === null ? null : Math.round(followed);
  log(`first follow: ${firstSize} -> ${await canvasSize(viewer)} in ${firstFollowMs} ms`);

  // ---- Resize: the guest's mode follows the window.
  const resize: number[] = [];
  const sizes = [
    { width: 1000, height: 760 },
    { width: 1180, height: 880 },
  ];
  let before = await settledSize(viewer, 5_000);
  log(`desktop at ${before}; resizing the window ${samples} times`);
  for (let i = 0; i < samples; i++) {
    const startedAt = await page.evaluate(() => performance.now());
    await page.setViewportSize(sizes[i % 2]!);
    const handle = await page.waitForFunction(
      ([sel, old]) => {
        const c = document.querySelector(sel) as HTMLCanvasElement;
        if (`${c.width}x${c.height}` === old) return 0;
        return window.__paints.at(-1)?.at ?? 0;
      },
      [CANVAS, before] as const,
      { timeout: 120_000, polling: 'raf' },
    );
    resize.push(((await handle.jsonValue()) as number) - startedAt);
    before = await settledSize(viewer, 1_500);
  }

  // ---- Desktop -> browser: a copy loop in the terminal.
  await page.locator(CANVAS).click({ position: { x: 300, y: 250 } });
  await focusCanvas(viewer);
  await page.evaluate(
    (line) => window.__viewer.sendText(line),
    `while read l && [ "$l" != end ]; do printf '${octal(TEXT)} %s' "$l" | xclip -selection clipboard; done\n`,
  );
  const toBrowser: number[] = [];
  for (let i = 0; i < samples; i++) {
    const token = `t${i}${randomBytes(3).toString('hex')}`;
    const expected = `${TEXT} ${token}`;
    const ms = await page.evaluate(
      async ({ token, expected }) => {
        await window.__viewer.sendText(`${token}\n`);
        const started = performance.now();
        const end = started + 120_000;
        while (performance.now() < end) {
          if ((await navigator.clipboard.readText().catch(() => '')) === expected) {
            return performance.now() - started;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        return -1;
      },
      { token, expected },
    );
    if (ms < 0) throw new Error(`the desktop's copy of ${token} never reached the browser`);
    toBrowser.push(ms);
  }
  await page.evaluate(() => window.__viewer.sendText('end\n'));

  // ---- Browser -> desktop, and the round trip.
  const toDesktop: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < samples; i++) {
    const text = `${TEXT} ${i} ${randomBytes(3).toString('hex')}`;
    const [setMs, totalMs] = await page.evaluate(async (value) => {
      const started = performance.now();
      await window.__viewer.transfer.request('clipboard:set', { text: value });
      const set = performance.now() - started;
      const got = (await window.__viewer.transfer.request('clipboard:get', {})) as { text: string };
      if (got.text !== value) throw new Error(`read back ${JSON.stringify(got.text)}`);
      return [set, performance.now() - started];
    }, text);
    toDesktop.push(setMs);
    roundTrip.push(totalMs);
  }

  // ---- Files: an upload through the file input, then the same bytes downloaded, per round.
  const upKiBs: number[] = [];
  const downKiBs: number[] = [];
  const kib = (ms: number) => FILE_BYTES / 1024 / (ms / 1000);
  for (let round = 0; round < fileRounds; round++) {
    const bytes = randomBytes(FILE_BYTES);
    const name = `bench-io-${round}.bin`;
    const upStarted = Date.now();
    await page.locator('input[type=file]').setInputFiles({
      name,
      mimeType: 'application/octet-stream',
      buffer: bytes,
    });
    const row = page.getByRole('group', { name: `Upload ${name}` });
    await row.and(page.locator('[data-state=done]')).waitFor({ timeout: 600_000 });
    upKiBs.push(kib(Date.now() - upStarted));
    if ((await row.getAttribute('data-sha256')) !== sha256(bytes)) {
      throw new Error('the uploaded file differs in the desktop');
    }
    const saved = ((await row.textContent()) ?? '').match(/~\/Uploads\/(\S+)/)?.[1] ?? name;
    // Each round adds one file to ~/Send to browser; the toolbar's Files button counts them.
    const listed = page.getByRole('button', { name: `Files (${round + 1})` });
    await page.locator(CANVAS).click({ position: { x: 300, y: 250 } });
    await page.evaluate(
      (line) => window.__viewer.sendText(line),
      `cp ~/Uploads/${saved} ~/Send\\ to\\ browser/${name}\n`,
    );
    await listed.waitFor({ timeout: 120_000 });
    const down = await page.evaluate(
      async ({ name, size }) => {
        const started = performance.now();
        const blob = await window.__viewer.transfer.download({ name, bytes: size });
        const ms = performance.now() - started;
        const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
        const hex = [...new Uint8Array(digest)]
          .map((b) => b.toString(16).padStart(2, '0'))
          .join('');
        return { ms, hex };
      },
      { name, size: bytes.length },
    );
    if (down.hex !== sha256(bytes)) throw new Error('the downloaded file differs');
    downKiBs.push(kib(down.ms));
    log(
      `file round ${round + 1}: up ${upKiBs.at(-1)!.toFixed(1)} KiB/s, down ${downKiBs.at(-1)!.toFixed(1)} KiB/s`,
    );
  }

  return {
    clipboardToBrowserMs: dist(toBrowser, `${METHOD.clipboardToBrowser} n=${toBrowser.length}.`, 0),
    clipboardToDesktopMs: dist(toDesktop, `${METHOD.clipboardToDesktop} n=${toDesktop.length}.`, 0),
    clipboardRoundTripMs: dist(roundTrip, `${METHOD.clipboardRoundTrip} n=${roundTrip.length}.`, 0),
    uploadKiBPerSec: { ...dist(upKiBs, `${METHOD.upload} n=${upKiBs.length}.`), bytes: FILE_BYTES },
    downloadKiBPerSec: {
      ...dist(downKiBs, `${METHOD.download} n=${downKiBs.length}.`),
      bytes: FILE_BYTES,
    },
    resizeToPaintMs: dist(resize, `${METHOD.resize} n=${resize.length}.`, 0),
    firstFollowMs,
  };
}

export async function runDesktopIoBench(
  plan: Plan,
  memoryBudgetMiB: number,
  log: (line: string) => void,
): Promise<RunOutput> {
  const started = performance.now();
  const loadStart = loadavg()[0]!;
  const results = emptyResults();
  const samples = plan.mode === 'full' ? 12 : plan.mode === 'quick' ? 6 : 2;
  log('starting hypervisor, gateway and Chromium (desktop I/O figures only)');
  const stack = await startStack({ memoryBudgetMiB });
  const series: Record<string, number[]> = {};
  try {
    const vm = await stack.client.create({ appliance: 'desktop', name: 'bench-io' });
    const viewer = await stack.open(vm.id, '', { follow: true });
    await waitConnected(viewer, 120_000);
    await desktopPaintedAt(viewer.page);
    const fileRounds = plan.mode === 'full' ? 5 : plan.mode === 'quick' ? 3 : 1;
    const figures = await measureDesktopIo(viewer, samples, log, fileRounds);
    results.desktopIo = {
      ...figures,
      loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
    };
    for (const [key, value] of Object.entries(figures)) {
      if (value === null || typeof value === 'number') log(`${key}: ${value} ms`);
      else {
        const unit = key.endsWith('KiBPerSec') ? 'KiB/s' : 'ms';
        log(`${key}: p50 ${value.p50} ${unit}, p95 ${value.p95} ${unit}, n=${value.n}`);
      }
    }
    await viewer.close();
  } finally {
    await stack.close();
  }
  return {
    results,
    series,
    elapsedMs: performance.now() - started,
    mode: `${plan.mode}, desktop I/O only`,
    loadavg: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
  };
}
