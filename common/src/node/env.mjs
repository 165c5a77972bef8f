// Node-only helpers every process of the repository shares: where the repository is, its one
// .env file, and paths in settings. Plain JavaScript (typed by env.d.mts) because the portal's
// production server (web/server.mjs) runs under node without a TypeScript loader.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory (this file is common/src/node/env.mjs). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let loaded = false;

/** Loads the repository's .env once; variables already set in the environment win. */
export function loadRootEnv() {
  if (loaded) return;
  loaded = true;
  const file = join(REPO_ROOT, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

/** A path from a setting: `~/` is the home directory, relative paths start at the repository. */
export function resolveRepoPath(value) {
  const expanded = value.startsWith('~/') ? join(homedir(), value.slice(2)) : value;
  return isAbsolute(expanded) ? expanded : resolve(REPO_ROOT, expanded);
}
