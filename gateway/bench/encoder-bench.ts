// Encoder benchmark: measures the numbers behind the PNG/JPEG heuristic and per-frame encode
// cost for typical screen activity. Run: npm run bench -w gateway  (prints a markdown table).
import { Canvas, createCanvas, ImageData } from 'canvas';
import { Framebuffer } from '../src/encoder/framebuffer.ts';
import { ClientEncoder } from '../src/encoder/client-encoder.ts';
import { sampleRegion } from '../src/encoder/codec.ts';
import { paint, renderScene, solid, type Scene } from '../src/encoder/fixtures.ts';
import { runWatermarkBench } from './watermark-bench.ts';

const W = 1024;
const H = 768;

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

function timeIt(fn: () => Buffer, runs = 5): { ms: number; bytes: number } {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    bytes = fn().length;
    times.push(performance.now() - t);
  }
  return { ms: pct(times, 50), bytes };
}

console.log('## Region codec comparison (64x64..1024x768 regions)\n');
console.log(
  '| scene | region | sampled colours / flat ratio | PNG (lvl 1, no filter) | JPEG q75 | PNG/JPEG size |',
);
console.log('|---|---|---|---|---|---|');
for (const scene of ['terminal', 'ui', 'photo'] as Scene[]) {
  const full = renderScene(scene, W, H);
  const fb = new Framebuffer(W, H);
  paint(fb, 0, 0, W, H, full);
  for (const [w, h] of [
    [64, 64],
    [256, 128],
    [W, H],
  ] as const) {
    const x = 128;
    const y = 128;
    const region = w === W ? { x: 0, y: 0 } : { x, y };
    const canvas = createCanvas(w, h);
    const ctx = canvas.getContext('2d');
    const px = new Uint8ClampedArray(w * h * 4);
    for (let r = 0; r < h; r++) {
      const o = ((region.y + r) * W + region.x) * 4;
      px.set(fb.data.subarray(o, o + w * 4), r * w * 4);
    }
    ctx.putImageData(new ImageData(px, w, h), 0, 0);
    const sample = sampleRegion(fb, region.x, region.y, w, h);
    const png = timeIt(() =>
      canvas.toBuffer('image/png', { compressionLevel: 1, filters: Canvas.PNG_FILTER_NONE }),
    );
    const jpg = timeIt(() => canvas.toBuffer('image/jpeg', { quality: 0.75 }));
    console.log(
      `| ${scene} | ${w}x${h} | ${sample.colours} / ${sample.flatRatio.toFixed(2)} | ${(png.bytes / 1024).toFixed(1)} KiB, ${png.ms.toFixed(2)} ms | ${(jpg.bytes / 1024).toFixed(1)} KiB, ${jpg.ms.toFixed(2)} ms | ${(png.bytes / jpg.bytes).toFixed(1)}x |`,
    );
  }
}

interface Run {
  name: string;
  frames: number;
  step: (fb: Framebuffer, i: number, now: number) => void;
  setup: (fb: Framebuffer) => void;
}

const terminal = renderScene('terminal', W, H);
const ui = renderScene('ui', W, H);
const windowPixels = renderScene('ui', 420, 300, 3);
const photo = renderScene('photo', W, H);
const glyph = solid(8, 16, 0xd0d0d0);

const runs: Run[] = [
  {
    name: 'idle desktop',
    frames: 60,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: () => {},
  },
  {
    name: 'typing (1 glyph/frame + cursor)',
    frames: 120,
    setup: (fb) => paint(fb, 0, 0, W, H, terminal),
    step: (fb, i, now) => {
      const col = i % 100;
      const row = 40 + Math.floor(i / 100);
      paint(fb, col * 8, (row * 16) % H, 8, 16, glyph, now);
    },
  },
  {
    name: 'dragging a 420x300 window (8 px/frame)',
    frames: 90,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: (fb, i, now) => {
      const prevX = 100 + (i - 1) * 8;
      const x = 100 + i * 8;
      // Repaint the background where the window was, then the window at its new place.
      const bg = new Uint8Array(428 * 300 * 4);
      for (let r = 0; r < 300; r++) {
        const o = ((200 + r) * W + Math.max(0, prevX)) * 4;
        bg.set(ui.subarray(o, o + 428 * 4), r * 428 * 4);
      }
      if (i > 0) paint(fb, Math.max(0, prevX), 200, 428, 300, bg, now);
      paint(fb, x, 200, 420, 300, windowPixels, now);
    },
  },
  {
    name: 'full-screen change every frame (video-like)',
    frames: 40,
    setup: (fb) => paint(fb, 0, 0, W, H, ui),
    step: (fb, i, now) => paint(fb, 0, 0, W, H, i % 2 ? photo : ui, now),
  },
];

console.log('\n## Per-frame encode at 30 fps pacing (simulated clock), 1024x768\n');
console.log(
  '| activity | frames | bytes/s @30fps | encode p50 | encode p95 | rects/frame | fill/png/jpeg tiles |',
);
console.log('|---|---|---|---|---|---|---|');
for (const run of runs) {
  const fb = new Framebuffer(W, H);
  run.setup(fb);
  const enc = new ClientEncoder();
  let now = 1_000_000;
  enc.encode(fb, { jpegQuality: 80, now }); // initial full frame, not counted
  const times: number[] = [];
  let bytes = 0;
  let rects = 0;
  const tiles = { fill: 0, png: 0, jpeg: 0 };
  for (let i = 0; i < run.frames; i++) {
    now += 33;
    run.step(fb, i, now);
    const f = enc.encode(fb, { jpegQuality: 80, now });
    times.push(f.encodeMs);
    bytes += f.bytes;
    rects += f.rects.length;
    tiles.fill += f.tiles.fill;
    tiles.png += f.tiles.png;
    tiles.jpeg += f.tiles.jpeg;
  }
  const seconds = (run.frames * 33) / 1000;
  console.log(
    `| ${run.name} | ${run.frames} | ${(bytes / seconds / 1024).toFixed(1)} KiB/s | ${pct(times, 50).toFixed(2)} ms | ${pct(times, 95).toFixed(2)} ms | ${(rects / run.frames).toFixed(1)} | ${tiles.fill}/${tiles.png}/${tiles.jpeg} |`,
  );
}

// Full frame (what a new or reconnecting viewer gets).
console.log('\n## Full frame (attach / takeover / reconnect)\n');
console.log('| scene | bytes | encode ms (p50 of 5) |');
console.log('|---|---|---|');
for (const scene of ['terminal', 'ui', 'photo'] as Scene[]) {
  const fb = new Framebuffer(W, H);
  paint(fb, 0, 0, W, H, renderScene(scene, W, H));
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const enc = new ClientEncoder();
    const f = enc.encode(fb, { jpegQuality: 80 });
    times.push(f.encodeMs);
    bytes = f.bytes;
  }
  console.log(`| ${scene} | ${(bytes / 1024).toFixed(1)} KiB | ${pct(times, 50).toFixed(1)} |`);
}

runWatermarkBench();
