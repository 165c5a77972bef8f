// The recording file format, the recorder's keyframes and index, a file cut by a crash, the
// gateway's recovery of unfinished files and retention. Frames come from the real encoder.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCanvas, Image } from 'canvas';
import pino from 'pino';
import { ClientEncoder, splitRects } from '../encoder/client-encoder.ts';
import { Framebuffer } from '../encoder/framebuffer.ts';
import { renderScene } from '../encoder/fixtures.ts';
import { isImageRect, type DisplayUpdate } from '../protocol/browser.ts';
import {
  decodeRecords,
  encodeEnd,
  encodeFrame,
  encodeMagic,
  encodeStart,
  keyframeBefore,
  parseKeyframeIndex,
  RecordingFormatError,
  type RecordingEvent,
  type RecordingStart,
} from '../protocol/recording.ts';
import { SessionRecorder } from './recorder.ts';
import { RecordingStore } from './store.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'raydesk-rec-'));
  dirs.push(d);
  return d;
}
const log = pino({ level: 'silent' });

/** A store over `dir` that keeps its events; no retention unless given. */
function storeIn(dir: string, retention = { retentionDays: 0, maxTotalBytes: 0 }) {
  const events: RecordingEvent[] = [];
  const settings = {
    dir,
    gatewayId: 'gateway',
    keyframeMs: 1000,
    keyframeBytes: 1e9,
    fsyncMs: 1000,
    input: false,
    ...retention,
  };
  return { store: new RecordingStore(settings, (e) => events.push(e), log), events };
}

function startMeta(id: string, width = 256, height = 192): RecordingStart {
  return {
    version: 1,
    id,
    vm: 'vm-1',
    userId: 'user-1',
    userName: 'Alice',
    gatewayId: 'gateway',
    startedAt: new Date('2026-11-27T10:00:00Z').toISOString(),
    width,
    height,
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

test('records round-trip: start, frame with fill and image rects, end', () => {
  const png = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
  const bytes = concat([
    encodeMagic(),
    encodeStart(0, startMeta('abcdefgh')),
    encodeFrame(40, {
      width: 256,
      height: 192,
      full: true,
      rects: [
        { enc: 'fill', x: 0, y: 0, w: 64, h: 64, rgb: 0x123456 },
        { enc: 'png', x: 64, y: 0, w: 64, h: 64, data: png },
      ],
    }),
    encodeEnd(900, 'client: transport close'),
  ]);
  const { records, end } = decodeRecords(bytes);
  assert.equal(end, bytes.byteLength);
  assert.deepEqual(
    records.map((r) => [r.type, r.t]),
    [
      ['start', 0],
      ['frame', 40],
      ['end', 900],
    ],
  );
  const frame = records[1]!;
  assert.ok(frame.type === 'frame');
  assert.deepEqual(frame.frame.rects[0], { enc: 'fill', x: 0, y: 0, w: 64, h: 64, rgb: 0x123456 });
  const image = frame.frame.rects[1]!;
  assert.ok(image.enc === 'png');
  assert.deepEqual([...image.data], [...png]);
  assert.throws(
    () => decodeRecords(new TextEncoder().encode('not a recording at all')),
    RecordingFormatError,
  );
});

test('a file cut anywhere decodes up to its last complete record', () => {
  const head = concat([encodeMagic(), encodeStart(0, startMeta('abcdefgh'))]);
  const frame = encodeFrame(10, {
    width: 64,
    height: 64,
    full: true,
    rects: [{ enc: 'jpeg', x: 0, y: 0, w: 64, h: 64, data: new Uint8Array(500).fill(7) }],
  });
  const whole = concat([head, frame]);
  for (let cut = head.byteLength; cut < whole.byteLength; cut++) {
    const { records, end } = decodeRecords(whole.subarray(0, cut));
    assert.equal(records.length, 1, `cut at ${cut}`);
    assert.equal(end, head.byteLength);
  }
  assert.equal(decodeRecords(whole).records.length, 2);
  // Decoding from a record boundary in the middle (a player's segment read).
  const tail = decodeRecords(whole.subarray(head.byteLength), head.byteLength);
  assert.equal(tail.records[0]?.offset, head.byteLength);
  assert.equal(tail.records[0]?.type, 'frame');
});

test('the keyframe index: damaged lines skipped, entries past the file dropped, binary search', () => {
  const text =
    '{"t":0,"offset":100}\n{"t":20000,"offset":5000}\n{"t":40000,"off\n{"t":60000,"offset":90000}\n';
  const entries = parseKeyframeIndex(text, 10_000);
  assert.deepEqual(entries, [
    { t: 0, offset: 100 },
    { t: 20000, offset: 5000 },
  ]);
  assert.equal(keyframeBefore(entries, 19_999)?.offset, 100);
  assert.equal(keyframeBefore(entries, 20_000)?.offset, 5000);
  assert.equal(keyframeBefore(entries, 1e9)?.offset, 5000);
  assert.equal(keyframeBefore([], 5), null);
});

/** Drives a recorder with the real encoder over changing scenes, at simulated times. */
function recordScenes(path: string, id: string, frames: number, stepMs: number) {
  let clock = Date.parse('2026-11-27T10:00:00Z');
  const recorder = new SessionRecorder(
    path,
    startMeta(id),
    { keyframeMs: 1_000, keyframeBytes: 64 * 1024 * 1024, fsyncMs: 60_000, input: true },
    () => clock,
  );
  const fb = new Framebuffer(256, 192);
  const encoder = new ClientEncoder();
  const shown: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    const scene = renderScene(i % 3 === 0 ? 'terminal' : 'ui', 256, 192, i + 1);
    // Change a band of the screen each step, so frames are partial updates.
    const band = { x: 0, y: (i * 32) % 192, w: 256, h: 32 };
    const pixels = new Uint8Array(band.w * band.h * 4);
    for (let row = 0; row < band.h; row++)
      pixels.set(
        scene.subarray((band.y + row) * 256 * 4, ((band.y + row) * 256 + 256) * 4),
        row * 256 * 4,
      );
    fb.applyRects([band], i === 0 ? scene : pixels, clock);
    if (i === 0) fb.applyRects([{ x: 0, y: 0, w: 256, h: 192 }], scene, clock);
    const frame = encoder.encode(fb, { jpegQuality: 90, now: clock, refineAfterMs: 1e9 });
    const parts = splitRects(frame.rects, 768 * 1024);
    parts.forEach((rects, part) => {
      const update: DisplayUpdate = {
        seq: i + 1,
        part,
        last: part === parts.length - 1,
        full: frame.full,
        width: 256,
        height: 192,
        rects,
      };
      recorder.frame(update);
    });
    recorder.input('input:key', { code: 'KeyA', down: true });
    shown.push(fb.data.slice());
    clock += stepMs;
  }
  return { recorder, shown, endClock: clock };
}

function pixelsOf(data: Uint8Array, width: number, height: number): Uint8ClampedArray {
  const canvas = createCanvas(width, height);
  const image = new Image();
  image.src = Buffer.from(data);
  canvas.getContext('2d').drawImage(image, 0, 0);
  return canvas.getContext('2d').getImageData(0, 0, width, height).data;
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) sum += Math.abs(a[i + c]! - b[i + c]!);
    n += 3;
  }
  return sum / n;
}

test('the recorder writes keyframes of what the viewer was sent, and the store indexes them', async () => {
  const dir = tempDir();
  const id = 'recorder01';
  const path = join(dir, `${id}.rdrec`);
  const { recorder, shown } = recordScenes(path, id, 12, 400);
  const summary = recorder.close('client: transport close');
  assert.equal(summary.durationMs, 12 * 400);
  assert.equal(summary.sizeBytes, readFileSync(path).byteLength);

  const { records } = decodeRecords(new Uint8Array(readFileSync(path)));
  const keyframes = records.filter((r) => r.type === 'keyframe');
  // Every 1 s of simulated time with 400 ms frames: after frames at 1200, 2400, 3600 ms...
  assert.ok(keyframes.length >= 3, `keyframes: ${keyframes.length}`);
  assert.equal(records.filter((r) => r.type === 'input').length, 12);
  assert.equal(records.at(-1)?.type, 'end');

  // A keyframe shows the screen as it was after the frame just before it (JPEG tolerance).
  for (const key of keyframes) {
    assert.ok(key.type === 'keyframe');
    const rect = key.frame.rects[0]!;
    assert.ok(isImageRect(rect));
    const framesBefore = records.filter((r) => r.type === 'frame' && r.offset < key.offset);
    const lastSeq = framesBefore.length; // one part per frame here
    const expected = shown[lastSeq - 1]!;
    const diff = meanAbsDiff(pixelsOf(rect.data, 256, 192), expected);
    assert.ok(diff < 4, `keyframe at ${key.t} differs by ${diff.toFixed(2)} on average`);
  }

  const { store } = storeIn(dir);
  const index = await store.index(id);
  assert.ok(index);
  assert.equal(index.complete, true);
  assert.equal(index.durationMs, 12 * 400);
  assert.equal(index.size, summary.sizeBytes);
  // The first full frame and every keyframe are starting points.
  assert.equal(index.keyframes.length, keyframes.length + 1);
  assert.deepEqual(
    index.keyframes.slice(1).map((k) => k.offset),
    keyframes.map((k) => k.offset),
  );
  // Without the .idx file the same starting points are found by reading the file.
  rmSync(`${path}.idx`);
  assert.deepEqual((await store.index(id))?.keyframes, index.keyframes);
  const bytes = await store.read(id, index.keyframes[1]!.offset, index.size);
  assert.ok(bytes);
  const fromKeyframe = decodeRecords(new Uint8Array(bytes), index.keyframes[1]!.offset);
  assert.equal(fromKeyframe.records[0]?.type, 'keyframe');
  assert.equal(fromKeyframe.end, index.size);
});

test('a recording cut by a killed gateway is closed at the next start and plays to its last frame', async () => {
  const dir = tempDir();
  const id = 'crashed001';
  const path = join(dir, `${id}.rdrec`);
  const { recorder } = recordScenes(path, id, 6, 500);
  // The process dies: no end record; the last record is torn half-way.
  const whole = readFileSync(path);
  const complete = decodeRecords(new Uint8Array(whole));
  const last = complete.records.at(-1)!;
  copyFileSync(path, `${path}.copy`);
  recorder.close('test');
  copyFileSync(`${path}.copy`, path);
  rmSync(`${path}.copy`);
  truncateSync(path, last.offset + Math.floor(last.size / 2));

  const { store, events } = storeIn(dir);
  await store.open();
  store.close();
  const ended = events.find((e) => e.type === 'ended');
  assert.ok(ended && ended.type === 'ended');
  assert.equal(ended.id, id);
  const previous = complete.records.at(-2)!;
  assert.equal(ended.durationMs, previous.t);
  const after = decodeRecords(new Uint8Array(readFileSync(path)));
  assert.equal(after.records.at(-1)?.type, 'end');
  assert.equal(after.records.length, complete.records.length); // the torn one replaced by end
  assert.equal(ended.sizeBytes, readFileSync(path).byteLength);
  const index = await store.index(id);
  assert.equal(index?.complete, true);
});

test('retention deletes recordings past their age, then the oldest over the size cap', async () => {
  const dir = tempDir();
  const now = Date.now();
  const make = (id: string, ageDays: number, size: number) => {
    const path = join(dir, `${id}.rdrec`);
    writeFileSync(
      path,
      concat([encodeMagic(), encodeStart(0, startMeta(id)), encodeEnd(5, 'x'), new Uint8Array(0)]),
    );
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(size)]));
    // Padding after the end record stands for frames; retention only looks at sizes and ages.
    const when = new Date(now - ageDays * 86_400_000);
    utimesSync(path, when, when);
  };
  make('ancient001', 40, 1000);
  make('older0001', 3, 5000);
  make('newer0001', 1, 5000);
  make('newest001', 0, 5000);
  const { store, events } = storeIn(dir, { retentionDays: 30, maxTotalBytes: 12_000 });
  const deleted = await store.sweep(now);
  assert.deepEqual(deleted, ['ancient001', 'older0001']);
  assert.deepEqual(
    events.map((e) => (e.type === 'deleted' ? `${e.id}:${e.reason}` : e.type)),
    ['ancient001:age', 'older0001:total-size'],
  );
  assert.equal(await store.index('older0001'), null);
  assert.ok(await store.index('newest001'));
});
