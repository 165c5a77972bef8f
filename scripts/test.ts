// `npm test`: first the static checks the README promises (lint, typecheck, format), failing
// fast; then prepares what the tests need (guest images and golden snapshots, the database),
// and runs every *.test.ts in the repository through node's test runner, one file at a time,
// because the integration tests boot real VMs on a 2-core machine. The attack suite (security/)
// records each attack it tries; the total is printed at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@raydesk/common/node';
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { preparePortal } from './lib/portal.ts';
import { ATTACK_DIR_ENV, summarizeAttacks, totalsLine } from '../security/lib/attack-log.ts';

const SKIP_DIRS = new Set(['node_modules', '.next', 'data', '.git', 'generated', 'artifacts']);

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) findTests(join(dir, entry.name), out);
    } else if (entry.name.endsWith('.test.ts')) {
      out.push(relative(REPO_ROOT, join(dir, entry.name)));
    }
  }
  return out;
}

// Cheap checks first: a lint or type error should not wait for guest images and VM tests.
const STATIC_CHECKS = [
  ['lint', 'eslint, type-aware and import rules'],
  ['typecheck', 'tsc -b over the project references'],
  ['format:check', 'prettier --check'],
] as const;
for (const [script, what] of STATIC_CHECKS) {
  process.stderr.write(`[test] npm run ${script} (${what})\n`);
  const check = spawnSync('npm', ['run', '--silent', script], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (check.status !== 0) {
    process.stderr.write(`[test] npm run ${script} failed; no tests were run\n`);
    process.exit(check.status ?? 1);
  }
}

await prepareGuests();
// The portal end-to-end tests run the production build.
await preparePortal();

const files = [
  'common',
  'hypervisor',
  'gateway',
  'web',
  'e2e',
  'scripts',
  'prisma',
  'bench',
  'security',
]
  .flatMap((dir) => {
    try {
      return findTests(join(REPO_ROOT, dir));
    } catch {
      return [];
    }
  })
  .sort();

const attackDir = mkdtempSync(join(tmpdir(), 'raydesk-attacks-'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(2), ...files],
  {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, RAYDESK_TEST: '1', [ATTACK_DIR_ENV]: attackDir },
  },
);
const attacks = summarizeAttacks(attackDir);
rmSync(attackDir, { recursive: true, force: true });
console.log(`\n${totalsLine(attacks)}`);
for (const success of attacks.successes) console.log(`  succeeded: ${success}`);
process.exit(result.status ?? 1);
