import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { STALE_IMAGE_DAYS } from '../appliances/index.ts';
import { pruneStaleSnapshots } from './golden.ts';

const root = mkdtempSync(join(tmpdir(), 'raydesk-golden-'));
process.env.RAYDESK_CACHE_DIR = root;
after(() => rmSync(root, { recursive: true, force: true }));

test("another recipe's snapshot stays while its image is cached and used; then it goes", () => {
  const golden = join(root, 'golden');
  mkdirSync(golden, { recursive: true });
  mkdirSync(join(root, 'appliances', 'desktop-aaaa'), { recursive: true });
  const file = (hash: string) => `desktop-${hash}-v86_0.5.462+g5f9a90f-g1.state`;
  for (const hash of ['aaaa', 'bbbb', 'cccc']) writeFileSync(join(golden, file(hash)), 'state');
  writeFileSync(join(golden, 'console-dddd-v86_0.5.462+g5f9a90f-g1.state'), 'state');
  const keep = [join(golden, file('cccc'))];

  // bbbb's image is gone: its snapshot can never be used again. aaaa's image is still cached
  // (another checkout runs that recipe), the console's belongs to another appliance.
  assert.deepEqual(pruneStaleSnapshots(golden, 'desktop', keep), [file('bbbb')]);
  assert.deepEqual(readdirSync(golden).sort(), [
    'console-dddd-v86_0.5.462+g5f9a90f-g1.state',
    file('aaaa'),
    file('cccc'),
  ]);

  const longAgo = new Date(Date.now() - (STALE_IMAGE_DAYS + 1) * 86_400_000);
  utimesSync(join(golden, file('aaaa')), longAgo, longAgo);
  utimesSync(join(golden, file('cccc')), longAgo, longAgo);
  assert.deepEqual(pruneStaleSnapshots(golden, 'desktop', keep), [file('aaaa')]);
});
