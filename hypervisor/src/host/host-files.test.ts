import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HostFiles } from './host-files.ts';

const root = mkdtempSync(join(tmpdir(), 'host-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

test('a domain has a record, a state, an overlay and a console log, each in its own folder', () => {
  const files = new HostFiles(join(root, 'layout'));
  const dataDir = files.dataDir;
  assert.equal(files.recordFile('vm-0a1b2c3d'), join(dataDir, 'domains', 'vm-0a1b2c3d.json'));
  assert.equal(files.stateFile('vm-0a1b2c3d'), join(dataDir, 'states', 'vm-0a1b2c3d.state'));
  assert.equal(files.overlayFile('vm-0a1b2c3d'), join(dataDir, 'disks', 'vm-0a1b2c3d.overlay'));
  assert.equal(files.consoleLog('vm-0a1b2c3d'), join(dataDir, 'logs', 'vm-0a1b2c3d.console.log'));
  assert.equal(files.statesDir, join(dataDir, 'states'));
  assert.equal(existsSync(dataDir), false, 'the constructor creates nothing');
});

test('ids that could leave their folder are refused', () => {
  const files = new HostFiles(join(root, 'escape'));
  for (const id of ['../etc/passwd', 'vm/1', '', 'VM-UPPER']) {
    assert.throws(() => files.stateFile(id), id);
    assert.throws(() => files.consoleLog(id), id);
  }
});

test('prepare makes the folders owner-only and fixes what an older version left', () => {
  const dataDir = join(root, 'prepare');
  mkdirSync(join(dataDir, 'states'), { recursive: true, mode: 0o755 });
  const old = join(dataDir, 'states', 'vm-00000001.state');
  writeFileSync(old, 'memory');
  chmodSync(old, 0o644);
  new HostFiles(dataDir).prepare();
  for (const dir of ['domains', 'states', 'disks', 'logs']) {
    assert.equal(mode(join(dataDir, dir)), 0o700, dir);
  }
  assert.equal(mode(old), 0o600);
});

test('savedState finds a state in its usual place; removeDomain leaves nothing but what it keeps', () => {
  const files = new HostFiles(join(root, 'remove'));
  files.prepare();
  const id = 'vm-00c0ffee';
  assert.equal(files.savedState(id), null);
  for (const path of [
    files.recordFile(id),
    files.stateFile(id),
    files.overlayFile(id),
    files.consoleLog(id),
  ]) {
    writeFileSync(path, 'x');
  }
  assert.equal(files.savedState(id), files.stateFile(id));
  assert.deepEqual(files.recordFiles(), [files.recordFile(id)]);

  files.removeDomain(id, { keepConsoleLog: true });
  assert.equal(files.savedState(id), null);
  assert.deepEqual(files.recordFiles(), []);
  assert.equal(existsSync(files.overlayFile(id)), false);
  assert.equal(existsSync(files.consoleLog(id)), true, 'a system domain keeps its console log');

  files.removeDomain(id, { keepConsoleLog: false });
  assert.equal(existsSync(files.consoleLog(id)), false);
});
