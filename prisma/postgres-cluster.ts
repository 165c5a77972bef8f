// PostgreSQL clusters from Debian's `postgresql` package: a throwaway one for tests (a temp dir,
// removed on stop) and a kept one for `npm run fleet` (a folder of the clone). initdb runs as the
// `postgres` system user when we are root (PostgreSQL refuses root), loopback only, trust auth on
// loopback only. As a non-root user it runs the binaries directly (the cluster then belongs to
// that user).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface TestPostgres {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export interface PostgresClusterOptions {
  /** The cluster's folder (data, socket, log). Created when missing; kept on stop if `keep`. */
  dir: string;
  port: number;
  database?: string;
  /** Keep the folder on stop (a fleet's data); tests remove theirs. */
  keep?: boolean;
}

export function findPgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts a cluster in `dir` (initdb on first use), creates `database` if missing and resolves
 * when it answers. A cluster left running in `dir` is stopped first, so the port is ours.
 */
export async function startPostgres(options: PostgresClusterOptions): Promise<TestPostgres> {
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const { dir, port } = options;
  const database = options.database ?? 'raydesk';
  const asRoot = process.getuid?.() === 0;
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  if (asRoot) {
    // The postgres user must be able to pass through the folders above (a 0700 data/ or temp
    // dir): add only the search bit, so they still cannot be listed.
    for (let up = dirname(resolve(dir)); up !== dirname(up); up = dirname(up)) {
      const mode = statSync(up).mode;
      if ((mode & 0o001) === 0) chmodSync(up, (mode & 0o7777) | 0o001);
    }
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[], allowFailure = false) => {
    const full = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const result = spawnSync(full[0] as string, full[1] as string[], {
      encoding: 'utf8',
      cwd: dir,
    });
    if (result.status !== 0 && !allowFailure) {
      throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
    }
    return result;
  };
  const pgdata = join(dir, 'data');
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    run('initdb', [
      '-D',
      pgdata,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
      '--locale=C',
    ]);
  }
  if (run('pg_ctl', ['-D', pgdata, 'status'], true).status === 0) {
    run('pg_ctl', ['-D', pgdata, '-m', 'fast', '-w', 'stop']);
  }
  const durability = options.keep ? '' : ' -c fsync=off';
  run('pg_ctl', [
    '-D',
    pgdata,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${durability}`,
    'start',
  ]);
  const psql = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  const exists = run('psql', [
    ...psql,
    '-d',
    'postgres',
    '-tAc',
    `SELECT 1 FROM pg_database WHERE datname = '${database.replace(/'/g, "''")}'`,
  ]);
  if (exists.stdout.trim() !== '1') run('createdb', [...psql, database]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/${database}`,
    port,
    dir,
    async stop() {
      try {
        run('pg_ctl', ['-D', pgdata, '-m', options.keep ? 'fast' : 'immediate', '-w', 'stop']);
      } finally {
        if (!options.keep) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A throwaway cluster in a temp dir on a free port, removed on stop. */
export async function startTestPostgres(database = 'raydesk'): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-pg-'));
  return startPostgres({ dir, port: await freePort(), database });
}
