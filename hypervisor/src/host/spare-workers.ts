// Domain worker threads started before they are needed. A new worker spends most of a second
// (several under load) starting its thread, registering the TypeScript loader and evaluating
// its modules before it can read a boot message; every resume, clone and new VM used to wait
// for that. A spare has done it already and waits for its `boot` message.
import type { Worker } from 'node:worker_threads';

/** How long after a take the spare is replaced. */
const REFILL_DELAY_MS = 3_000;

/** What a worker reports once its modules are loaded (worker.ts). */
const READY = 'ready';

interface Spare {
  worker: Worker;
  ready: boolean;
  detach(): void;
}

export class SpareWorkers {
  private readonly spares: Spare[] = [];
  private stopped = false;

  /**
   * Keeps `count` spares once the first worker was taken (a host that runs no VM makes none).
   */
  constructor(
    private readonly spawn: () => Worker,
    private readonly count: number,
    private readonly refillDelayMs = REFILL_DELAY_MS,
  ) {}

  /** A spare worker (a ready one first) or, when there is none, a new one; then refills. */
  take(): Worker {
    const index = this.spares.findIndex((spare) => spare.ready);
    const spare = index >= 0 ? this.spares.splice(index, 1)[0] : this.spares.shift();
    // The refill waits until the taken worker has most likely restored its guest: starting a
    // worker costs a core for a second or more, which that restore (and its first frames) needs.
    setTimeout(() => this.fill(), this.refillDelayMs).unref();
    if (!spare) return this.spawn();
    spare.detach();
    spare.worker.ref();
    return spare.worker;
  }

  /** Ends the spares and makes no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    const spares = this.spares.splice(0);
    await Promise.all(
      spares.map((spare) => {
        spare.detach();
        return spare.worker.terminate();
      }),
    );
  }

  /** How many spares there are, and how many have loaded their modules. */
  counts(): { spare: number; ready: number } {
    return { spare: this.spares.length, ready: this.spares.filter((s) => s.ready).length };
  }

  private fill(): void {
    while (!this.stopped && this.spares.length < this.count) this.add();
  }

  private add(): void {
    const worker = this.spawn();
    // An idle spare must not keep the process alive.
    worker.unref();
    const spare: Spare = {
      worker,
      ready: false,
      detach: () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        worker.off('error', onError);
      },
    };
    const onMessage = (message: { type?: string }) => {
      if (message.type === READY) spare.ready = true;
    };
    // A spare that died is dropped (and replaced, unless it keeps dying before it is ready).
    const onExit = () => {
      spare.detach();
      const index = this.spares.indexOf(spare);
      if (index >= 0) this.spares.splice(index, 1);
      if (spare.ready) this.fill();
    };
    const onError = () => undefined;
    worker.on('message', onMessage);
    worker.on('exit', onExit);
    worker.on('error', onError);
    this.spares.push(spare);
  }
}
