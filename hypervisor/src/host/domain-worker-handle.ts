// Parent-side handle of one domain worker thread: request/reply bookkeeping, liveness checks
// and a single place where every way a worker can die is turned into one `exit` callback.
import { Worker } from 'node:worker_threads';
import type { DomainBootConfig, ParentToWorker, WorkerToParent } from '../worker/messages.ts';

const WORKER_URL = new URL('../worker/worker-entry.mjs', import.meta.url);
const PING_INTERVAL_MS = 5_000;
const PING_TIMEOUT_MS = 30_000;

/** A new domain worker thread, loading its modules; it waits for a `boot` message. */
export function spawnDomainWorker(): Worker {
  // Each worker gets its own JS heap limit, so a runaway guest device model cannot
  // exhaust the daemon's heap; the guest RAM itself lives in wasm memory.
  return new Worker(WORKER_URL, {
    resourceLimits: { maxOldGenerationSizeMb: 512 },
    stdout: false,
    stderr: false,
  });
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };
type RequestMessage = Extract<ParentToWorker, { requestId: number }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface WorkerHandleEvents {
  message(message: Exclude<WorkerToParent, { type: 'reply' } | { type: 'ready' }>): void;
  /** The worker is gone; `error` is null when we terminated it on purpose. */
  exit(error: string | null): void;
}

export class DomainWorkerHandle {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private expectedExit = false;
  private exited = false;
  private lastPong = Date.now();
  private pinger: NodeJS.Timeout | null = null;
  private fatalError: string | null = null;

  constructor(
    config: DomainBootConfig,
    {
      worker = spawnDomainWorker(),
      transfer = [],
    }: {
      /** A worker not booted yet (a spare, spare-workers.ts); default: a new one. */
      worker?: Worker;
      /** Buffers of `config` the worker takes over instead of a copy (the caller's own). */
      transfer?: ArrayBuffer[];
    },
    private readonly events: WorkerHandleEvents,
  ) {
    this.worker = worker;
    this.worker.on('message', (message: WorkerToParent) => this.onMessage(message));
    this.worker.on('error', (error) => {
      this.fatalError ??= error.stack ?? error.message;
    });
    this.worker.on('exit', (code) => this.onExit(code));
    this.worker.postMessage({ type: 'boot', config } satisfies ParentToWorker, transfer);
  }

  // Liveness is checked only once the guest runs: loading and restoring state are long
  // synchronous steps, bounded by the domain's boot timeout instead.
  private startLivenessChecks(): void {
    if (this.pinger) return;
    this.lastPong = Date.now();
    this.pinger = setInterval(() => this.checkLiveness(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  send(message: ParentToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.exited) return;
    this.worker.postMessage(message, transfer);
  }

  request<T>(
    message: DistributiveOmit<RequestMessage, 'requestId'>,
    timeoutMs = 60_000,
  ): Promise<T> {
    if (this.exited) return Promise.reject(new Error('domain worker has exited'));
    const requestId = this.nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`domain worker did not answer ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(requestId, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.worker.postMessage({ ...message, requestId } as ParentToWorker);
    });
  }

  /** Ends the worker on purpose (destroy, save); not reported as a crash. */
  async terminate(): Promise<void> {
    this.expectedExit = true;
    await this.worker.terminate();
  }

  private onMessage(message: WorkerToParent): void {
    if (message.type === 'ready') return;
    if (message.type === 'reply') {
      const pending = this.pending.get(message.requestId);
      if (!pending) return;
      this.pending.delete(message.requestId);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(message.error));
      return;
    }
    if (message.type === 'fatal') this.fatalError ??= message.error;
    if (message.type === 'booted') this.startLivenessChecks();
    this.events.message(message);
  }

  private checkLiveness(): void {
    if (Date.now() - this.lastPong > PING_TIMEOUT_MS) {
      this.fatalError ??= `worker unresponsive for ${PING_TIMEOUT_MS / 1000} s`;
      void this.worker.terminate();
      return;
    }
    this.request({ type: 'ping' }, PING_TIMEOUT_MS).then(
      () => (this.lastPong = Date.now()),
      () => undefined,
    );
  }

  private onExit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    if (this.pinger) clearInterval(this.pinger);
    const error = this.expectedExit
      ? null
      : (this.fatalError ?? `worker exited unexpectedly with code ${code}`);
    for (const pending of this.pending.values()) {
      pending.reject(new Error(error ?? 'domain worker stopped'));
    }
    this.pending.clear();
    this.events.exit(error);
  }
}
