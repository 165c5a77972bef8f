// The worker's frame clock measured interleaved (`npx tsx bench/frame-clock-ab.ts [samples]`):
// two hypervisors in this process, one with draw-driven frames off (DISPLAY_MAX_FPS=0: the
// 30 fps clock alone) and one with them on (60), a desktop VM from the golden snapshot in each.
// Samples alternate between the two, so both see the same load: a key into the xterm sent with
// the hypervisor client, timed to the first display frame whose tiles cover the terminal (no
// browser, no gateway). On a shared machine this shows the clock's share of input to paint
// where whole bench runs, minutes apart, do not.
import { loadavg } from 'node:os';
import { z } from 'zod';
import { HypervisorClient, type DisplayFrame } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor } from '@raydesk/hypervisor/host';
import { percentile } from './stats.ts';

const samples = z.coerce.number().int().min(2).max(1000).default(40).parse(process.argv[2]);
/** The xterm's text area in the golden desktop at 1024x768. */
const TERMINAL = { x: 44, y: 40, w: 800, h: 400 };
const NO_FRAME_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const overTerminal = (frame: DisplayFrame) =>
  !frame.keyframe &&
  frame.rects.some(
    (r) =>
      r.x < TERMINAL.x + TERMINAL.w &&
      TERMINAL.x < r.x + r.w &&
      r.y < TERMINAL.y + TERMINAL.h &&
      TERMINAL.y < r.y + r.h,
  );

async function startSide(name: string, displayMaxFps: number) {
  const hv = await startEphemeralHypervisor({
    memoryBudgetMiB: 1536,
    displayMaxFps,
    standbyAppliances: [],
  });
  const client = new HypervisorClient({
    url: hv.url,
    secret: hv.config.secret,
    timeoutMs: 600_000,
  });
  await client.connected();
  const vm = await client.create({ appliance: 'desktop', name: `frame-clock-${name}` });
  let onFrame: (() => void) | null = null;
  client.socket.on('display:frame', (frame: DisplayFrame) => {
    if (frame.domainId === vm.id && onFrame && overTerminal(frame)) onFrame();
  });
  await client.watch(vm.id);
  const measured: number[] = [];
  return {
    name,
    measured,
    /** Key down and up; ms until the first frame over the terminal, or null if none came. */
    async sample(code: string): Promise<number | null> {
      const started = performance.now();
      const painted = new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), NO_FRAME_MS);
        onFrame = () => {
          clearTimeout(timer);
          onFrame = null;
          resolve(performance.now() - started);
        };
      });
      client.key(vm.id, code, true);
      client.key(vm.id, code, false);
      return painted;
    },
    async close() {
      client.close();
      await hv.close();
    },
  };
}

const loadStart = loadavg()[0]!;
const sides = [await startSide('clock', 0), await startSide('draw', 60)];
try {
  await sleep(8000);
  for (let i = 0; i < samples; i++) {
    // 'x' then Backspace leaves the prompt empty; the side that goes first alternates.
    const code = i % 2 ? 'Backspace' : 'KeyX';
    for (const side of i % 2 ? [...sides].reverse() : sides) {
      const ms = await side.sample(code);
      if (ms !== null) side.measured.push(ms);
      await sleep(150 + Math.random() * 100);
    }
  }
  for (const side of sides) {
    console.log(
      `${side.name}: key to first frame over the terminal p50 ${percentile(side.measured, 50).toFixed(1)} ms, p95 ${percentile(side.measured, 95).toFixed(1)} ms, n=${side.measured.length}`,
    );
  }
  console.log(`load average ${loadStart.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}`);
} finally {
  for (const side of sides) await side.close();
}
