// The portal's logger: pino, like the hypervisor and the gateway, so every part logs JSON lines
// with the same fields. LOG_LEVEL (shared with the other parts) sets the level.
import pino from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function level(): string {
  const wanted = process.env.LOG_LEVEL;
  return wanted && (LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';
}

const holder = globalThis as unknown as { __raydeskLog?: pino.Logger };

/** One logger per process (kept on globalThis across dev hot reloads). */
export const log: pino.Logger = (holder.__raydeskLog ??= pino({ name: 'portal', level: level() }));
