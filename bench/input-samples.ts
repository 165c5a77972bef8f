// Input-to-paint sampling shared by the display bench and the noVNC peer: the same probe on
// whichever viewer page is given.
import { focusCanvas, inputSample, type Region, type Viewer } from './stack.ts';
import { percentile } from './stats.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The screen above the desktop's panel, where the terminal's prompt is. */
const ABOVE_PANEL: Region = { x: 0, y: 0, w: 1024, h: 730 };
/** Samples slower than this are listed in the log line, with their place in the run. */
const SLOW_SAMPLE_MS = 250;

/** Input-to-paint samples, alternately 'x' and Backspace; the prompt is left empty. */
export async function sampleInputToPaint(
  viewer: Viewer,
  n: number,
  label: string,
  log: (line: string) => void,
): Promise<number[]> {
  await focusCanvas(viewer);
  const out: number[] = [];
  let lost = 0;
  /** Samples far above the rest, by their place in the run (a slow start is warm-up, not noise). */
  const slow: string[] = [];
  for (let i = 0; i < n; i++) {
    const ms = await inputSample(viewer, i % 2 ? 'Backspace' : 'x', ABOVE_PANEL);
    if (ms >= 0) out.push(ms);
    else lost++;
    if (ms < 0 || ms > SLOW_SAMPLE_MS) slow.push(`#${i + 1} ${ms < 0 ? 'none' : Math.round(ms)}`);
    await sleep(Math.random() * 100);
  }
  if (n % 2 === 1) {
    await viewer.page.keyboard.press('Backspace');
    await sleep(150);
  }
  log(
    `inputToPaint ${label}: p50 ${percentile(out, 50).toFixed(1)} ms, p95 ${percentile(out, 95).toFixed(1)} ms, n=${out.length}${lost ? `, ${lost} discarded (no change within 5 s)` : ''}${slow.length ? `; over ${SLOW_SAMPLE_MS} ms: ${slow.join(', ')}` : ''}`,
  );
  return out;
}
