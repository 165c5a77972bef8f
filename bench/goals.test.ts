import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goalRows, goalsMarkdown } from './goals.ts';
import { emptyResults } from './run.ts';

test('a figure is judged against its goal and bar, and an unmeasured one says so', () => {
  const r = emptyResults();
  r.reconnectMs = { p50: 200, p95: 400, n: 30, method: '' };
  r.timeToDesktopMs = { p50: 290, p95: 500, n: 10, method: '' };
  r.resumeToDesktopMs = { p50: 900, p95: 1200, n: 10, method: '' };
  r.density = {
    maxDesktopVms: 20,
    rssPerVmMiB: 300,
    samples: [{ vms: 20, p50: 50, p95: 140, n: 20, rssMiB: 6000, hostCpuPercent: 180 }],
    idleSamples: [{ vms: 30, p50: 40, p95: 120, n: 20, rssMiB: 9000, hostCpuPercent: 90 }],
    maxIdleDesktopVms: 30,
    idleStoppedBy: 'memory',
    seconds: 600,
    cap: 32,
    stoppedBy: 'p95',
    method: '',
    idleCpuPercent: null,
  };
  const byFigure = new Map(goalRows(r).map((g) => [g.figure, g]));
  assert.equal(byFigure.get('reconnectMs p50')?.verdict, 'bar');
  assert.equal(byFigure.get('timeToDesktopMs p50')?.verdict, 'goal');
  assert.equal(byFigure.get('resumeToDesktopMs p50')?.verdict, 'below bar');
  // Density is better when higher: 20 VMs passes the bar of 16 but not the goal of 24.
  assert.equal(byFigure.get('density.maxDesktopVms (active)')?.verdict, 'bar');
  assert.equal(byFigure.get('density.maxIdleDesktopVms')?.verdict, 'goal');
  assert.equal(byFigure.get('snapshot.saveMs')?.verdict, 'not measured');
  const md = goalsMarkdown(r);
  assert.match(md, /\| reconnectMs p50 +\| 200 ms +\| 30 +\| 150 ms +\| 250 ms +\| bar +\|/);
});
