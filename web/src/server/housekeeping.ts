import { pruneFailures } from './auth/lockout.ts';
import { db } from './db.ts';
import { log } from './log.ts';
import { reconcile } from './vms.ts';

const holder = globalThis as unknown as { __raydeskHousekeeping?: NodeJS.Timeout };

export function startHousekeeping(intervalMs = 10_000): void {
  if (holder.__raydeskHousekeeping || process.env.RAYDESK_NO_HOUSEKEEPING) return;
  let running = false;
  let ticks = 0;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await reconcile(db());
      if (ticks++ % 360 === 0) await pruneFailures(db());
    } catch (error) {
      log.error({ err: error }, 'housekeeping failed');
    } finally {
      running = false;
    }
  };
  holder.__raydeskHousekeeping = setInterval(() => void tick(), intervalMs);
  holder.__raydeskHousekeeping.unref();
  setTimeout(() => void tick(), 2_000).unref();
}
