import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensurePrivateDir, ensurePrivateFile, restrictTree } from './private-files.ts';

const root = mkdtempSync(join(tmpdir(), 'raydesk-private-'));
after(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

test('restrictTree makes an old 0755/0644 data directory 0700/0600 and leaves links alone', () => {
  const data = join(root, 'old-data');
  mkdirSync(join(data, 'states'), { recursive: true, mode: 0o755 });
  chmodSync(data, 0o755);
  writeFileSync(join(data, 'raydesk.db'), 'hashes', { mode: 0o644 });
  writeFileSync(join(data, 'states', 'vm-1.state'), 'memory', { mode: 0o664 });
  const outside = join(root, 'outside.txt');
  writeFileSync(outside, 'not ours', { mode: 0o644 });
  symlinkSync(outside, join(data, 'link'));
  assert.equal(restrictTree(data), 4);
  assert.equal(mode(data), 0o700);
  assert.equal(mode(join(data, 'states')), 0o700);
  assert.equal(mode(join(data, 'raydesk.db')), 0o600);
  assert.equal(mode(join(data, 'states', 'vm-1.state')), 0o600);
  assert.equal(mode(outside), 0o644, 'a symbolic link is not followed');
  assert.equal(restrictTree(data), 0, 'nothing left to fix');
  assert.equal(restrictTree(join(root, 'missing')), 0);
});

test('ensurePrivateDir creates 0700 directories; ensurePrivateFile creates or narrows to 0600', () => {
  const dir = join(root, 'new', 'nested');
  ensurePrivateDir(dir);
  assert.equal(mode(join(root, 'new')), 0o700);
  assert.equal(mode(dir), 0o700);
  const file = join(dir, 'x.db');
  ensurePrivateFile(file);
  assert.equal(mode(file), 0o600);
  writeFileSync(file, 'keep me');
  chmodSync(file, 0o644);
  ensurePrivateFile(file);
  assert.equal(mode(file), 0o600);
  assert.equal(statSync(file).size, 7, 'an existing file keeps its content');
});
