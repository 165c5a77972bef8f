// `npm test`: prepares what the tests need (guest images and golden snapshots, the database),
// then runs every *.test.ts in the repository through node's test runner, one file at a time,
// because the integration tests boot real VMs on a 2-core machine.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@raydesk/hypervisor/config';
import { prepareGuests } from '@raydesk/hypervisor/setup';
import { preparePortal } from './lib/portal.ts';

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

await prepareGuests({
  appliances: ['console', 'desktop', 'browser'],
  golden: ['console', 'desktop', 'browser'],
});
// The portal end-to-end tests run the production build.
await preparePortal();

const files = ['hypervisor', 'gateway', 'web', 'e2e', 'scripts', 'prisma', 'bench']
  .flatMap((dir) => {
    try {
      return findTests(join(REPO_ROOT, dir));
    } catch {
      return [];
    }
  })
  .sort();

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...process.argv.slice(2), ...files],
  { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, RAYDESK_TEST: '1' } },
);
process.exit(result.status ?? 1);
