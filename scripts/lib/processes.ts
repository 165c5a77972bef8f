// Runs Raydesk's long-lived processes side by side with prefixed output, and stops them all
// together when one fails or the user presses Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves when the process is ready to serve (e.g. a health URL answers). */
  ready?: () => Promise<void>;
  /** How long it may take to stop after SIGTERM before it is killed (default 15 s). */
  stopGraceMs?: number;
}

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m'];
const RESET = '\x1b[0m';

export class ProcessGroup {
  private readonly children: { spec: ProcessSpec; child: ChildProcess }[] = [];
  private stopping = false;
  private readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;

  constructor() {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => void this.stop(0));
    }
  }

  start(spec: ProcessSpec): void {
    const color = process.stdout.isTTY ? COLORS[this.children.length % COLORS.length] : '';
    const prefix = `${color}${spec.name.padEnd(10)}${color ? RESET : ''}| `;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) =>
        process.stdout.write(prefix + line + '\n'),
      );
    }
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      console.error(`${spec.name} exited (${signal ?? code}); stopping everything`);
      void this.stop(code ?? 1);
    });
    this.children.push({ spec, child });
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(
      this.children.map(
        ({ spec, child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), spec.stopGraceMs ?? 15_000).unref();
          }),
      ),
    );
    this.resolveDone(code);
  }

  wait(): Promise<number> {
    return this.done;
  }
}

/** Polls a URL until it answers with any HTTP status, or fails after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${url} did not answer within ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}
