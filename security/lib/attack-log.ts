// Where attack outcomes go between the attack test files (each runs in its own process) and
// scripts/test.ts, which prints the total after `npm test`. One JSON line per attack, in files
// under RAYDESK_ATTACK_DIR.
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const ATTACK_DIR_ENV = 'RAYDESK_ATTACK_DIR';

const outcomeSchema = z.object({
  area: z.string(),
  name: z.string(),
  /** The attack got through: its assertions failed (so did its test). */
  succeeded: z.boolean(),
  /** False when the attack never ran (its file's setup failed); not counted as tried. */
  ran: z.boolean().default(true),
});
export type AttackOutcome = z.input<typeof outcomeSchema>;

/** Appends one outcome to this process's file, when a directory is given. */
export function recordOutcome(outcome: AttackOutcome, dir = process.env[ATTACK_DIR_ENV]): void {
  if (!dir) return;
  appendFileSync(join(dir, `attacks-${process.pid}.jsonl`), JSON.stringify(outcome) + '\n');
}

export interface AttackTotals {
  tried: number;
  succeeded: number;
  /** Declared attacks that never ran (a part did not start): the run is not a clean bill. */
  notRun: number;
  /** Names of the attacks that succeeded, "area: name". */
  successes: string[];
  byArea: Record<string, { tried: number; succeeded: number }>;
}

/** Sums every outcome recorded under `dir`. */
export function summarizeAttacks(dir: string): AttackTotals {
  const totals: AttackTotals = { tried: 0, succeeded: 0, notRun: 0, successes: [], byArea: {} };
  if (!existsSync(dir)) return totals;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const outcome = outcomeSchema.parse(JSON.parse(line));
      if (!outcome.ran) {
        totals.notRun++;
        continue;
      }
      const area = (totals.byArea[outcome.area] ??= { tried: 0, succeeded: 0 });
      totals.tried++;
      area.tried++;
      if (outcome.succeeded) {
        totals.succeeded++;
        area.succeeded++;
        totals.successes.push(`${outcome.area}: ${outcome.name}`);
      }
    }
  }
  return totals;
}

export function totalsLine(t: Pick<AttackTotals, 'tried' | 'succeeded' | 'notRun'>): string {
  const notRun = t.notRun ? `, ${t.notRun} not run` : '';
  return `attacks: ${t.tried} tried, ${t.succeeded} succeeded${notRun}`;
}
