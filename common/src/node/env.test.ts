import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, resolveRepoPath } from './env.mjs';

test('REPO_ROOT is the repository root (the folder with the workspaces)', () => {
  assert.ok(existsSync(join(REPO_ROOT, 'package.json')));
  assert.ok(existsSync(join(REPO_ROOT, 'common', 'package.json')));
});

test('setting paths: ~/ is home, relative is from the repository, absolute stays', () => {
  assert.equal(resolveRepoPath('~/.cache/raydesk'), join(homedir(), '.cache/raydesk'));
  assert.equal(resolveRepoPath('./data'), join(REPO_ROOT, 'data'));
  assert.equal(resolveRepoPath('/srv/raydesk'), '/srv/raydesk');
});
