// A 1-iteration smoke run of `npm run bench` (the benchmark itself is not part of npm test):
// one time-to-desktop through the real stack, a few input-to-paint samples and the gateway's
// encode times, so that the harness cannot rot. Asserts the JSON's keys and positive numbers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const KEYS = [
  'timeToDesktopMs',
  // null here: recorded with the reconnect samples, which a smoke run skips.
  'attachPhasesMs',
  'resumeToDesktopMs',
  'reconnectMs',
  'inputToPaintMs',
  'bandwidthBytesPerSec',
  'windowDragFps',
  'baselineFullBandPngBytesPerSec',
  'encodeMsPerFrame',
  'snapshot',
  'coldBootMs',
  'density',
  'mips',
  'peers',
  'vsNoVnc',
  // null here: `--only fleet` measures it on a fleet of its own.
  'fleet',
  // null here: `--only recording` (bench/recording.ts).
  'recording',
  // null here: `--only desktop-io` measures it.
  'desktopIo',
];

test(
  'npm run bench -- --smoke writes every figure key with positive measured numbers',
  { timeout: 240_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'raydesk-bench-'));
    try {
      const file = join(dir, 'smoke.json');
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/bench.ts', '--smoke', '--no-png', '--json', file],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 230_000,
        },
      );
      assert.equal(run.status, 0, `bench exited ${run.status}:\n${run.stderr}`);
      const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(Object.keys(json).sort(), [...KEYS].sort());
      assert.equal(json.fleet, null);
      assert.equal(json.recording, null);
      assert.equal(json.desktopIo, null);
      const ttd = json.timeToDesktopMs as { p50: number; p95: number; n: number; method: string };
      assert.equal(ttd.n, 1);
      assert.ok(ttd.p50 > 0 && ttd.p95 > 0, `timeToDesktopMs ${JSON.stringify(ttd)}`);
      assert.ok(ttd.method.length > 20);
      assert.equal(json.attachPhasesMs, null);
      const input = json.inputToPaintMs as { oneVm: { p50: number; p95: number; n: number } };
      assert.ok(
        input.oneVm.n >= 1 && input.oneVm.p50 > 0 && input.oneVm.p95 > 0,
        JSON.stringify(input.oneVm),
      );
      const encode = json.encodeMsPerFrame as { p50: number; p95: number; n: number };
      assert.ok(encode.n >= 1 && encode.p50 > 0 && encode.p95 > 0, JSON.stringify(encode));
      const cold = json.coldBootMs as Record<string, number | null>;
      assert.ok(cold.desktop! > 0, 'the desktop golden snapshot recorded its cold boot');
      assert.ok(existsSync(join(dir, 'smoke.html')), 'the chart is written next to the JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
