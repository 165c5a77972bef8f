// The attack recorder. `const attack = attackArea('auth')`, then each `attack(name, fn)` is a
// node:test case that tries one attack against a real running part; `fn` asserts the attack
// failed. Every case that runs is counted as tried; one whose assertions fail (or that throws)
// counts as succeeded and fails its test. Cases that never ran (their file's setup failed) are
// reported as not run. Outcomes go to RAYDESK_ATTACK_DIR for scripts/test.ts, and each
// file prints its own tally at the end.
import { after, test, type TestContext } from 'node:test';
import { recordOutcome, totalsLine, type AttackOutcome } from './attack-log.ts';

export type Attack = (
  name: string,
  fn: (t: TestContext) => Promise<void>,
  options?: { timeout?: number },
) => void;

export function attackArea(area: string): Attack {
  const declared: string[] = [];
  const outcomes: AttackOutcome[] = [];
  after(() => {
    // Attacks whose test never started (a failed `before`): reported, never counted as tried.
    const ran = new Set(outcomes.map((o) => o.name));
    const notRun = declared.filter((name) => !ran.has(name));
    for (const name of notRun) recordOutcome({ area, name, succeeded: false, ran: false });
    const succeeded = outcomes.filter((o) => o.succeeded);
    console.log(
      `${area} ${totalsLine({ tried: outcomes.length, succeeded: succeeded.length, notRun: notRun.length })}`,
    );
    for (const o of succeeded) console.log(`  succeeded: ${o.name}`);
  });
  return (name, fn, options = {}) => {
    declared.push(name);
    test(name, { timeout: options.timeout ?? 120_000 }, async (t) => {
      const record = (succeeded: boolean) => {
        const outcome = { area, name, succeeded };
        outcomes.push(outcome);
        recordOutcome(outcome);
      };
      try {
        await fn(t);
      } catch (error) {
        record(true);
        throw error;
      }
      record(false);
    });
  };
}
