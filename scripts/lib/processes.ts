// Runs Raydesk's long-lived processes side by side with prefixed output, and keeps them up: a
// part that dies is started again after a backoff (restart-policy.ts) while the others keep
// running. Ctrl-C (SIGINT) or SIGTERM stops them all, each within its stop grace.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.ts';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Answers (any HTTP status) once the part serves; waited for after every start. */
  healthUrl?: string;
  /** How long it may take to stop after SIGTERM before it is killed (default 15 s). */
  stopGraceMs?: number;
  /** Backoff between restarts (restart-policy.ts defaults). */
  restart?: Partial<RestartPolicyOptions>;
}

export interface ProcessGroupOptions {
  /** Stop everything on SIGINT and SIGTERM (default true; tests turn it off). */
  handleSignals?: boolean;
  /** Where the parts' output lines go (default: stdout, prefixed with the part's name). */
  output?: (name: string, line: string) => void;
  /** Where the supervisor's own lines go (default: stdout, prefixed "supervisor"). */
  log?: (line: string) => void;
  /** Random source for the backoff jitter. */
  random?: () => number;
}

export interface PartExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  uptimeMs: number;
  /** Delay before the restart; null when the group is stopping. */
  restartInMs: number | null;
  /** Failures in a row, this one included. */
  failures: number;
}

export interface PartUp {
  name: string;
  pid: number;
  /** 0 for the first start. */
  restarts: number;
  /** From the exit that caused this restart (or from the first spawn) to the health answer. */
  afterMs: number;
}

export interface ProcessGroupEvents {
  spawn: [{ name: string; pid: number; restarts: number }];
  exit: [PartExit];
  up: [PartUp];
}

type PartState = 'running' | 'backoff' | 'stopped';

class Part {
  child: ChildProcess | null = null;
  state: PartState = 'running';
  startedAt = 0;
  /** When the part went down (or was first spawned): "back up after" counts from here. */
  downSince = 0;
  restarts = 0;
  restartTimer: NodeJS.Timeout | null = null;
  readonly policy: RestartPolicy;
  private upWaiters: Array<() => void> = [];
  up = false;

  constructor(
    readonly spec: ProcessSpec,
    random: () => number,
  ) {
    this.policy = new RestartPolicy(spec.restart, random);
  }

  markUp(): void {
    this.up = true;
    for (const resolve of this.upWaiters.splice(0)) resolve();
  }

  whenUp(): Promise<void> {
    return this.up ? Promise.resolve() : new Promise((resolve) => this.upWaiters.push(resolve));
  }
}

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m'];
const RESET = '\x1b[0m';
const HEALTH_POLL_MS = 250;

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export class ProcessGroup extends EventEmitter<ProcessGroupEvents> {
  private readonly parts = new Map<string, Part>();
  private stopping = false;
  private readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;
  private readonly output: (name: string, line: string) => void;
  private readonly log: (line: string) => void;
  private readonly random: () => number;

  constructor(options: ProcessGroupOptions = {}) {
    super();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.random = options.random ?? Math.random;
    const tty = process.stdout.isTTY;
    const prefix = (name: string, index: number) => {
      const color = tty ? COLORS[index % COLORS.length] : '';
      return `${color}${name.padEnd(10)}${color ? RESET : ''}| `;
    };
    this.output =
      options.output ??
      ((name, line) => {
        const index = [...this.parts.keys()].indexOf(name);
        process.stdout.write(prefix(name, index) + line + '\n');
      });
    this.log =
      options.log ?? ((line) => process.stdout.write(`${'supervisor'.padEnd(10)}| ${line}\n`));
    if (options.handleSignals !== false) {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          if (!this.stopping) this.log(`${signal}: stopping every part`);
          void this.stop(0);
        });
      }
    }
  }

  /** Starts a part and keeps it running until the group stops. */
  start(spec: ProcessSpec): void {
    if (this.parts.has(spec.name)) throw new Error(`a part named ${spec.name} already runs`);
    if (this.stopping) return;
    const part = new Part(spec, this.random);
    this.parts.set(spec.name, part);
    part.downSince = Date.now();
    this.spawn(part);
  }

  /** Resolves once the part's health URL answered after its latest start. */
  whenUp(name: string): Promise<void> {
    const part = this.parts.get(name);
    if (!part) return Promise.reject(new Error(`no part named ${name}`));
    return part.whenUp();
  }

  /** The running process id of a part, if it runs now. */
  pid(name: string): number | undefined {
    const child = this.parts.get(name)?.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  private spawn(part: Part): void {
    const { spec } = part;
    part.state = 'running';
    part.up = false;
    part.startedAt = Date.now();
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    part.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => this.output(spec.name, line));
    }
    let ended = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      this.onExit(part, child, code, signal);
    };
    child.once('exit', onEnd);
    // A command that cannot be spawned (ENOENT) reports only an error.
    child.once('error', (error) => {
      this.log(`${spec.name} could not be started: ${error.message}`);
      onEnd(null, null);
    });
    if (child.pid !== undefined) {
      this.emit('spawn', { name: spec.name, pid: child.pid, restarts: part.restarts });
      if (part.restarts > 0) this.log(`${spec.name} started again (pid ${child.pid})`);
      void this.awaitHealth(part, child);
    }
  }

  /** Polls the part's health URL until it answers, the process dies or the group stops. */
  private async awaitHealth(part: Part, child: ChildProcess): Promise<void> {
    const alive = () =>
      !this.stopping && part.child === child && child.exitCode === null && !child.signalCode;
    if (part.spec.healthUrl) {
      while (alive()) {
        try {
          await fetch(part.spec.healthUrl, { signal: AbortSignal.timeout(2_000) });
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
        }
      }
    }
    if (!alive()) return;
    const afterMs = Date.now() - part.downSince;
    part.markUp();
    if (part.restarts > 0) this.log(`${part.spec.name} back up after ${afterMs} ms`);
    this.emit('up', { name: part.spec.name, pid: child.pid!, restarts: part.restarts, afterMs });
  }

  private onExit(
    part: Part,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    // Only the part's current process may schedule its restart: never two at once.
    if (part.child !== child) return;
    part.child = null;
    part.up = false;
    const now = Date.now();
    const uptimeMs = now - part.startedAt;
    const base = { name: part.spec.name, pid: child.pid ?? -1, code, signal, uptimeMs };
    if (this.stopping || part.state === 'stopped') {
      part.state = 'stopped';
      this.emit('exit', { ...base, restartInMs: null, failures: part.policy.failures });
      return;
    }
    part.downSince = now;
    const delay = part.policy.nextDelay(uptimeMs);
    part.state = 'backoff';
    this.log(
      `${part.spec.name} ${describeExit(code, signal)} after ${seconds(uptimeMs)} up; ` +
        `restarting in ${seconds(delay)} (failure ${part.policy.failures} in a row)`,
    );
    part.restartTimer = setTimeout(() => {
      part.restartTimer = null;
      if (this.stopping || part.state !== 'backoff') return;
      part.restarts++;
      this.spawn(part);
    }, delay);
    this.emit('exit', { ...base, restartInMs: delay, failures: part.policy.failures });
  }

  /** Stops every part (SIGTERM, then SIGKILL after its grace); no part is started again. */
  async stop(code: number): Promise<void> {
    if (this.stopping) return this.done.then(() => undefined);
    this.stopping = true;
    await Promise.all(
      [...this.parts.values()].map((part) => {
        if (part.restartTimer) clearTimeout(part.restartTimer);
        part.restartTimer = null;
        part.state = 'stopped';
        const child = part.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) {
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          const force = setTimeout(() => {
            this.log(`${part.spec.name} did not stop within its grace; killing it`);
            child.kill('SIGKILL');
          }, part.spec.stopGraceMs ?? 15_000);
          force.unref();
          child.once('exit', () => clearTimeout(force));
        });
      }),
    );
    this.resolveDone(code);
  }

  wait(): Promise<number> {
    return this.done;
  }
}
