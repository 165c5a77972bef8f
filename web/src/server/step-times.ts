// Where a request spends its time, step by step, for a Server-Timing header: browser devtools and
// the bench (bench/portal.ts) read it. Durations only; no names of users or VMs go into it.

const STEP_NAME = /^[a-z][a-zA-Z0-9-]*$/;

export class StepTimes {
  private readonly steps: { name: string; ms: number }[] = [];

  /** Runs `work` and records how long it took under `name` (also when it fails). */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (!STEP_NAME.test(name)) throw new Error(`not a Server-Timing step name: ${name}`);
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.steps.push({ name, ms: performance.now() - start });
    }
  }

  /** `name;dur=12.3, …` in the order the steps ended. */
  header(): string {
    return this.steps.map((s) => `${s.name};dur=${s.ms.toFixed(1)}`).join(', ');
  }
}
