// Bandwidth to the browser on one desktop VM, through the real viewer: idle, typing and a real
// window drag, with the naive full-band PNG baseline from the same hypervisor frames. The drag
// is checked, not assumed: the xterm's title bar is tracked in the hypervisor's frames.
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { FrameTap } from './baseline.ts';
import { focusCanvas, guestToPage, type Stack, type Viewer } from './stack.ts';

export type BandwidthScenario = 'idle' | 'typing' | 'windowDrag';
export type PerScenario = Record<BandwidthScenario, number>;

export interface BandwidthRun {
  /** Bytes per second the page received over WebSocket. */
  bytesPerSec: PerScenario;
  /** The same scenarios' hypervisor frames as naive full-band PNGs, bytes per second. */
  baselinePerSec: PerScenario;
  /** Gateway diff+encode time of each frame sent during the drag, ms. */
  dragEncodeMs: number[];
  /** Farthest the xterm's title bar got from where the drag started, px (0: it never moved). */
  dragMovedPx: number;
  /**
   * Window-drag frame rate: hypervisor frames in which the xterm's title bar stood somewhere new,
   * and the viewer's paints, per second of the drag.
   */
  dragFps: { hypervisor: number; viewer: number };
}

/** Middle of the xterm's title bar on the golden desktop (xterm +40+30, JWM title 26 px). */
export const TITLE_BAR = { x: 330, y: 43 };
/**
 * Left and top of the active title bar: the topmost long run of its colour that continues 18 rows
 * down (the bar is 26 px tall; the frame's 4 px bottom border, same colour, does not).
 */
export function findTitleBar(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
): { left: number; top: number } | null {
  // Self-contained (the noVNC bench runs it in the page): JWM's active title bar colour
  // (hypervisor/guest/desktop/jwmrc) and where its panel starts.
  const [tr, tg, tb] = [0x2a, 0x6f, 0xdb];
  const PANEL_TOP = 730;
  for (let y = 0; y < Math.min(height, PANEL_TOP); y++) {
    let run = 0;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (rgba[i] === tr && rgba[i + 1] === tg && rgba[i + 2] === tb) {
        // A title bar is a long run; buttons and the active task in the panel are short.
        if (++run === 200) {
          const below = i + 18 * width * 4;
          if (rgba[below] === tr && rgba[below + 1] === tg && rgba[below + 2] === tb) {
            return { left: x - 199, top: y };
          }
        }
      } else {
        run = 0;
      }
    }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The typing scenario: a line typed at 10 keys a second for `seconds`, then Enter. */
export async function typeLine(viewer: Viewer, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  const text = 'echo the quick brown fox jumps over the lazy dog';
  let i = 0;
  while (performance.now() < end) {
    const ch = text[i % text.length]!;
    await viewer.page.keyboard.press(ch === ' ' ? 'Space' : ch);
    i++;
    await sleep(100);
  }
  await viewer.page.keyboard.press('Enter');
  await sleep(300);
}

/**
 * The window-drag scenario: the xterm's title bar pressed and the mouse swept out and back once
 * a second, 30 moves a second, for `seconds`.
 */
export async function sweepWindow(viewer: Viewer, seconds: number): Promise<void> {
  const start = await guestToPage(viewer, TITLE_BAR.x, TITLE_BAR.y);
  const far = await guestToPage(viewer, TITLE_BAR.x + 240, TITLE_BAR.y + 120);
  const page = viewer.page;
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  const end = performance.now() + seconds * 1000;
  let phase = 0;
  while (performance.now() < end) {
    const f = (Math.sin((phase / 30) * Math.PI * 2 - Math.PI / 2) + 1) / 2;
    await page.mouse.move(start.x + (far.x - start.x) * f, start.y + (far.y - start.y) * f);
    phase++;
    await sleep(33);
  }
  await page.mouse.move(start.x, start.y, { steps: 5 });
  await page.mouse.up();
  await sleep(500);
}

export async function measureBandwidth(
  stack: Stack,
  viewer: Viewer,
  vmId: string,
  seconds: number,
  log: (line: string) => void,
): Promise<BandwidthRun> {
  const tapClient = new HypervisorClient({
    url: stack.hv.url,
    secret: stack.hv.config.secret,
    timeoutMs: 600_000,
  });
  await tapClient.connected();
  const tap = await FrameTap.attach(tapClient, vmId);
  const bytesPerSec: PerScenario = { idle: 0, typing: 0, windowDrag: 0 };
  const baselinePerSec: PerScenario = { idle: 0, typing: 0, windowDrag: 0 };
  const recorded = {} as Record<
    BandwidthScenario,
    { frames: ReturnType<FrameTap['stop']>; seconds: number }
  >;
  let dragEncodeMs: number[] = [];
  let dragViewerPaints = 0;
  const paintCount = () =>
    viewer.page.evaluate(() => (window as unknown as { __paints: unknown[] }).__paints.length);
  const scenario = async (name: BandwidthScenario, body: () => Promise<void>) => {
    await sleep(1000);
    const b0 = viewer.wsBytes();
    const e0 = stack.encodeMs.length;
    const p0 = await paintCount();
    tap.start();
    const t0 = performance.now();
    await body();
    const elapsed = (performance.now() - t0) / 1000;
    const frames = tap.stop();
    if (name === 'windowDrag') dragViewerPaints = (await paintCount()) - p0;
    bytesPerSec[name] = Math.round((viewer.wsBytes() - b0) / elapsed);
    recorded[name] = { frames, seconds: elapsed };
    if (name === 'windowDrag') dragEncodeMs = stack.encodeMs.slice(e0);
    log(
      `bandwidth ${name}: ${bytesPerSec[name]} B/s over ${elapsed.toFixed(1)} s (${frames.length} hypervisor frames)`,
    );
  };

  try {
    await scenario('idle', async () => {
      await sleep(seconds * 1000);
    });
    await focusCanvas(viewer);
    await scenario('typing', () => typeLine(viewer, seconds));
    await scenario('windowDrag', () => sweepWindow(viewer, seconds));
  } finally {
    await tap.detach();
    tapClient.close();
  }

  let dragMovedPx = 0;
  let dragPositions = 0;
  let origin: { left: number; top: number } | null = null;
  let last: { left: number; top: number } | null = null;
  for (const name of ['idle', 'typing', 'windowDrag'] as const) {
    const { frames, seconds: elapsed } = recorded[name];
    const track =
      name === 'windowDrag'
        ? (rgba: Uint8ClampedArray, width: number, height: number) => {
            const bar = findTitleBar(rgba, width, height);
            if (!bar) return;
            if (last && (bar.left !== last.left || bar.top !== last.top)) dragPositions++;
            last = bar;
            origin ??= bar;
            dragMovedPx = Math.max(
              dragMovedPx,
              Math.hypot(bar.left - origin.left, bar.top - origin.top),
            );
          }
        : undefined;
    baselinePerSec[name] = Math.round(tap.encodeBands(frames, track).bytes / elapsed);
  }
  dragMovedPx = Math.round(dragMovedPx);
  const dragSeconds = recorded.windowDrag.seconds;
  const dragFps = {
    hypervisor: Math.round((dragPositions / dragSeconds) * 10) / 10,
    viewer: Math.round((dragViewerPaints / dragSeconds) * 10) / 10,
  };
  log(
    `baseline full-band PNG: idle ${baselinePerSec.idle}, typing ${baselinePerSec.typing}, windowDrag ${baselinePerSec.windowDrag} B/s`,
  );
  log(
    `windowDrag: the xterm moved up to ${dragMovedPx} px from where the drag started; ${dragFps.hypervisor} new window positions/s in the hypervisor's frames, ${dragFps.viewer} viewer paints/s`,
  );
  return { bytesPerSec, baselinePerSec, dragEncodeMs, dragMovedPx, dragFps };
}
