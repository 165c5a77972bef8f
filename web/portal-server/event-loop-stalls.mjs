// Logs each time the portal's event loop was blocked longer than a threshold (Next rendering,
// a synchronous library call): while it is blocked, no proxied WebSocket upgrade, long-poll or
// API request of any user moves. The bench reads these lines to attribute attach time.
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';

/** How often the loop is sampled; a stall shorter than this is not seen. */
const TICK_MS = 20;

/**
 * @param {{ thresholdMs: number, log: import('pino').Logger, now?: () => number }} options
 * @returns {() => void} stops the monitor
 */
export function watchEventLoopStalls({ thresholdMs, log, now = () => performance.now() }) {
  if (!(thresholdMs > 0)) return () => {};
  let expected = now() + TICK_MS;
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const at = now();
    const stalledMs = at - expected;
    expected = at + TICK_MS;
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    // cpuMs near stalledMs: the portal itself was busy; far below: it waited for a core.
    if (stalledMs >= thresholdMs)
      log.warn(
        { stalledMs: Math.round(stalledMs), cpuMs: Math.round((used.user + used.system) / 1000) },
        'portal event loop stalled',
      );
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
