import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { STALE_IMAGE_DAYS, pruneStaleAppliances } from './index.ts';

const cache = mkdtempSync(join(tmpdir(), 'prune-'));
const previous = process.env.RAYDESK_CACHE_DIR;
process.env.RAYDESK_CACHE_DIR = cache;
after(() => {
  if (previous === undefined) delete process.env.RAYDESK_CACHE_DIR;
  else process.env.RAYDESK_CACHE_DIR = previous;
  rmSync(cache, { recursive: true, force: true });
});

test('images of older recipes go only after they have been unused for a while', () => {
  const root = join(cache, 'appliances');
  const old = join(root, 'desktop-00000000000000aa');
  const recent = join(root, 'desktop-00000000000000bb');
  const other = join(root, 'notes');
  for (const dir of [old, recent, other]) mkdirSync(dir, { recursive: true });
  const longAgo = new Date(Date.now() - (STALE_IMAGE_DAYS + 1) * 86_400_000);
  utimesSync(old, longAgo, longAgo);
  utimesSync(other, longAgo, longAgo);

  assert.deepEqual(pruneStaleAppliances(), ['desktop-00000000000000aa']);
  assert.equal(existsSync(old), false);
  assert.equal(existsSync(recent), true, 'recently used by another checkout, perhaps');
  assert.equal(existsSync(other), true, 'not an image directory');
});
