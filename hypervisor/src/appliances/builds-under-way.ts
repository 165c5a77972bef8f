// One build per cache entry at a time on this machine. In one process, a second caller waits for
// the first's promise; across processes (a test run and a bench sharing ~/.cache/raydesk), a lock
// file beside the entry makes the second wait and then find the first's result. Without it both
// built, and the later rename replaced an image whose golden snapshot was already made from the
// earlier one: the guest's cached file system no longer matched its disk.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';

export interface CacheEntryBuild<T> {
  /** The entry's lock (a `<lockPath>.lock` directory is created beside it). */
  lockPath: string;
  /** The finished entry, if it is in the cache. */
  find: () => T | null;
  build: () => Promise<T>;
  /** Build even when `find` has one (a forced rebuild). */
  force?: boolean;
  /** Called once if another process holds the lock, before waiting for it. */
  onWait?: () => void;
}

/** A holder that stops refreshing its lock for this long (killed, hung) loses it. */
const STALE_LOCK_MS = 60_000;

export class BuildsUnderWay<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** The entry, built under its lock unless found; the build already under way for `key`. */
  run(key: string, entry: CacheEntryBuild<T>): Promise<T> {
    let build = this.running.get(key);
    if (!build) {
      build = underLock(entry).finally(() => this.running.delete(key));
      this.running.set(key, build);
    }
    return build;
  }
}

async function underLock<T>(entry: CacheEntryBuild<T>): Promise<T> {
  mkdirSync(dirname(entry.lockPath), { recursive: true });
  const options = {
    realpath: false,
    stale: STALE_LOCK_MS,
    // A lost lock means another process may now build too; its result is kept, so go on.
    onCompromised: () => undefined,
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(entry.lockPath, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    entry.onWait?.();
    release = await lockfile.lock(entry.lockPath, {
      ...options,
      retries: { forever: true, minTimeout: 500, maxTimeout: 2_000 },
    });
  }
  try {
    if (!entry.force) {
      const found = entry.find();
      if (found) return found;
    }
    return await entry.build();
  } finally {
    await release().catch(() => undefined);
  }
}
