// Watermark cost: per-frame encode time and bytes with the watermark off and on for the same
// screen activity (two encoders fed the same framebuffer, alternating which goes first), the
// minute tick (tiles re-sent when the time on the stamp moves on), rendering a text, and region
// sharing between viewers with the same and with different watermarks. Part of
// `npm run bench -w gateway`; alone: `npx tsx gateway/bench/watermark-bench.ts`.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Framebuffer } from '../src/encoder/framebuffer.ts';
import { ClientEncoder } from '../src/encoder/client-encoder.ts';
import { RegionCache } from '../src/encoder/region-cache.ts';
import { paint, renderScene, solid } from '../src/encoder/fixtures.ts';
import { WATERMARK_PERIOD_MS, Watermark, watermarkLines } from '../src/encoder/watermark.ts';

const W = 1024;
const H = 768;
const AT = Date.UTC(2026, 10, 27, 9, 0);
const stamp = (minute: number, email = 'ada.lovelace@example.org', address = '203.0.113.7') =>
  new Watermark(watermarkLines({ email, at: AT + minute * WATERMARK_PERIOD_MS, address }));

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}
const ms = (values: number[]) => `${pct(values, 50).toFixed(2)} / ${pct(values, 95).toFixed(2)} ms`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

interface Activity {
  name: string;
  frames: number;
  setup(fb: Framebuffer): void;
  step(fb: Framebuffer, i: number, now: number): void;
  /** Each frame is a fresh viewer's full frame (attach) instead of an update. */
  full?: boolean;
}

const ui = renderScene('ui', W, H);
const terminal = renderScene('terminal', W, H);
const photo = renderScene('photo', W, H);
const windowPixels = renderScene('ui', 420, 300, 3);
const glyph = solid(8, 16, 0xd0d0d0);

const activities: Activity[] = [
  {
    name: 'typing (1 glyph/frame)',
    frames: 150,
    setup: (fb) => paint(fb, 0, 0, W, H, terminal),
    step: (fb, i, now) =>
      paint(fb, (i % 100) * 8, (40 + Math.floor(i / 100)) * 16, 8, 16, glyph, now),
  },
  {
    name: 'dragging a 420x300 window',
    frames: 90,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: (fb, i, now) => paint(fb, 100 + i * 8, 200, 420, 300, windowPixels, now),
  },
  {
    name: 'full-screen change (video-like)',
    frames: 40,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: (fb, i, now) => paint(fb, 0, 0, W, H, i % 2 ? photo : ui, now),
  },
  {
    name: 'full frame, desktop UI (attach)',
    frames: 30,
    full: true,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: () => {},
  },
];

export function runWatermarkBench(): void {
  console.log(`\n## Watermark off vs on, 1024x768 (load average before: ${load()})\n`);
  console.log(
    '| activity | n | encode p50 / p95 off | encode p50 / p95 on | bytes/frame off | on |',
  );
  console.log('|---|---|---|---|---|---|');
  const watermark = stamp(0);
  for (const activity of activities) {
    const fb = new Framebuffer(W, H);
    activity.setup(fb);
    const off = new ClientEncoder();
    const on = new ClientEncoder();
    on.setWatermark(watermark);
    let now = 1_000_000;
    off.encode(fb, { jpegQuality: 80, now });
    on.encode(fb, { jpegQuality: 80, now });
    const times = { off: [] as number[], on: [] as number[] };
    const bytes = { off: 0, on: 0 };
    for (let i = 0; i < activity.frames; i++) {
      now += 33;
      activity.step(fb, i, now);
      if (activity.full) {
        off.reset();
        on.reset();
      }
      const order = i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const which of order) {
        const frame = (which === 'on' ? on : off).encode(fb, { jpegQuality: 80, now });
        times[which].push(frame.encodeMs);
        bytes[which] += frame.bytes;
      }
    }
    const n = activity.frames;
    console.log(
      `| ${activity.name} | ${n} | ${ms(times.off)} | ${ms(times.on)} | ${(bytes.off / n / 1024).toFixed(1)} KiB | ${(bytes.on / n / 1024).toFixed(1)} KiB |`,
    );
  }

  // The minute tick on an idle desktop: only tiles whose stamp changed go again.
  const fb = new Framebuffer(W, H);
  paint(fb, 0, 0, W, H, ui);
  const viewer = new ClientEncoder();
  let current = stamp(0);
  viewer.setWatermark(current);
  viewer.encode(fb, { jpegQuality: 80 });
  const tick = { renderMs: [] as number[], diffMs: [] as number[], encodeMs: [] as number[] };
  let tiles = 0;
  let tickBytes = 0;
  const minutes = 30;
  for (let minute = 1; minute <= minutes; minute++) {
    let t = performance.now();
    const next = stamp(minute);
    tick.renderMs.push(performance.now() - t);
    t = performance.now();
    viewer.setWatermark(next);
    tick.diffMs.push(performance.now() - t);
    current = next;
    let encodeMs = 0;
    while (viewer.pendingRestamp > 0) {
      const frame = viewer.encode(fb, { jpegQuality: 80 });
      encodeMs += frame.encodeMs;
      tiles += frame.tiles.restamped;
      tickBytes += frame.bytes;
    }
    tick.encodeMs.push(encodeMs);
  }
  const inked = current.inkedTiles(W, H).reduce((a, b) => a + b, 0);
  console.log(`\n### Minute tick (n=${minutes} minutes, idle desktop UI)\n`);
  console.log(
    '| render text | tiles to re-send (diff) | re-send encode | tiles/tick | bytes/tick |',
  );
  console.log('|---|---|---|---|---|');
  console.log(
    `| ${ms(tick.renderMs)} | ${ms(tick.diffMs)} | ${ms(tick.encodeMs)} | ${(tiles / minutes).toFixed(1)} of ${inked} inked (${(W * H) / 4096} in all) | ${(tickBytes / minutes / 1024).toFixed(1)} KiB |`,
  );

  // Four viewers of one VM: the same watermark (same user and address) or four different.
  console.log('\n### Region sharing, 4 viewers, typing + dragging (60 frames)\n');
  console.log(
    '| viewers | regions encoded | reused | encode ms per frame, all viewers p50 / p95 |',
  );
  console.log('|---|---|---|---|');
  for (const [label, marks] of [
    ['4 without watermark', [null, null, null, null]],
    ['4 with the same watermark', [watermark, watermark, watermark, watermark]],
    ['4 with different watermarks', [0, 1, 2, 3].map((i) => stamp(0, `user${i}@example.org`))],
  ] as const) {
    const shared = new Framebuffer(W, H);
    paint(shared, 0, 0, W, H, ui);
    const regions = new RegionCache();
    const viewers = marks.map((mark) => {
      const encoder = new ClientEncoder();
      encoder.setWatermark(mark);
      encoder.encode(shared, { jpegQuality: 80, regions });
      return encoder;
    });
    const [encoded0, reused0] = [regions.encoded, regions.reused];
    const perFrame: number[] = [];
    let now = 2_000_000;
    for (let i = 0; i < 60; i++) {
      now += 33;
      paint(shared, 100 + i * 8, 200, 420, 300, windowPixels, now);
      paint(shared, (i % 100) * 8, 700, 8, 16, glyph, now);
      let total = 0;
      for (const encoder of viewers)
        total += encoder.encode(shared, { jpegQuality: 80, now, regions }).encodeMs;
      perFrame.push(total);
    }
    console.log(
      `| ${label} | ${regions.encoded - encoded0} | ${regions.reused - reused0} | ${ms(perFrame)} |`,
    );
  }
  console.log(`\nLoad average after: ${load()}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runWatermarkBench();
