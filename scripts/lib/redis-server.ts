// A redis-server from Debian's `redis-server` package, on loopback, with its data in a folder:
// `npm run fleet` keeps it in the clone, tests in a temp dir. Redis carries what gateways share
// live (the socket.io Redis adapter). The process is ours: stop() ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Arguments for redis-server: loopback only, data in `dir`, append-only file when kept. */
export function redisArgs(options: { dir: string; port: number; keep?: boolean }): string[] {
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--dir',
    options.dir,
    '--save',
    '',
    '--appendonly',
    options.keep ? 'yes' : 'no',
    '--protected-mode',
    'yes',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/** Resolves once a Redis at 127.0.0.1:port answers PING with PONG. */
export async function waitForRedis(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1_000);
      let reply = '';
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        reply += chunk.toString();
        if (reply.includes('\r\n')) {
          socket.destroy();
          resolve(reply.startsWith('+PONG'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startRedis(options: {
  dir: string;
  port: number;
  keep?: boolean;
}): Promise<RunningRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error('Redis is not installed (apt-get install redis-server)');
  }
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  // Its own process group: a Ctrl-C at the terminal stops the fleet's parts first (they still
  // talk to Redis while stopping), then stop() ends Redis.
  const child = spawn(REDIS_SERVER, redisArgs(options), {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForRedis(options.port),
      exited.then(() => {
        throw new Error(`redis-server exited: ${stderr.trim()}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
