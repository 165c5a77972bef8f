import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialLog, type V86SerialLike } from './serial-log.ts';

const enc = new TextEncoder();

test('collects bytes and returns UTF-8 text', () => {
  const log = new SerialLog();
  for (const b of enc.encode('héllo ')) log.pushByte(b);
  log.write(enc.encode('wörld'));
  assert.equal(log.text(), 'héllo wörld');
  assert.equal(log.totalBytes, enc.encode('héllo wörld').length);
});

test('the ring keeps only the last `capacity` bytes and drops cut characters', () => {
  const log = new SerialLog({ capacity: 8 });
  log.write(enc.encode('0123456789'));
  assert.equal(log.text(), '23456789');
  for (const b of enc.encode('abc')) log.pushByte(b);
  assert.equal(log.text(), '56789abc');
  log.write(enc.encode('xxxxxé')); // 7 bytes
  assert.equal(log.text(), 'cxxxxxé');
  log.write(enc.encode('yyyyyyy')); // ring = last byte of 'é' + 7 'y': the cut character is dropped
  assert.equal(log.text(), 'yyyyyyy');
});

test('waitFor resolves on a match and rejects on timeout', async () => {
  const log = new SerialLog();
  const p = log.waitFor(/login: (\w+)/, 1000);
  setTimeout(() => log.write(enc.encode('Debian\nlogin: root\n')), 5);
  const m = await p;
  assert.equal(m[1], 'root');
  await assert.rejects(log.waitFor(/never/, 20), /did not match/);
  // Already present: resolves at once.
  assert.equal((await log.waitFor(/Debian/, 10))[0], 'Debian');
});

test('attach listens to serial<port>-output-byte', () => {
  const listeners = new Map<string, (b: number) => void>();
  const emu: V86SerialLike = {
    add_listener: (e, l) => listeners.set(e, l),
    remove_listener: (e) => listeners.delete(e),
  };
  const log = new SerialLog();
  const detach = log.attach(emu, 0);
  for (const b of enc.encode('ok')) listeners.get('serial0-output-byte')!(b);
  assert.equal(log.text(), 'ok');
  detach();
  assert.equal(listeners.size, 0);
});

test('appends to the log file with buffered writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serial-log-'));
  try {
    const file = join(dir, 'sub', 'vm.log');
    const log = new SerialLog({ filePath: file, flushIntervalMs: 10, capacity: 4 });
    log.write(enc.encode('first line\n'));
    for (const b of enc.encode('second\n')) log.pushByte(b);
    await log.flush();
    assert.equal(readFileSync(file, 'utf8'), 'first line\nsecond\n');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'a console log is readable by its owner only');
    assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
    log.write(enc.encode('third\n'));
    await new Promise((r) => setTimeout(r, 60)); // timer flush
    assert.equal(readFileSync(file, 'utf8'), 'first line\nsecond\nthird\n');
    log.write(enc.encode('last'));
    await log.close();
    assert.equal(readFileSync(file, 'utf8'), 'first line\nsecond\nthird\nlast');
    // A second log appends.
    const again = new SerialLog({ filePath: file });
    again.write(enc.encode('+'));
    await again.close();
    assert.equal(readFileSync(file, 'utf8').endsWith('last+'), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file error is reported once and memory logging goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serial-log-'));
  const notADir = join(dir, 'file');
  writeFileSync(notADir, 'x');
  const errors: Error[] = [];
  const log = new SerialLog({
    filePath: join(notADir, 'sub', 'vm.log'),
    onError: (e) => errors.push(e),
  });
  log.write(enc.encode('a'));
  await log.flush();
  log.write(enc.encode('b'));
  await log.flush();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(errors.length, 1);
  assert.equal(log.text(), 'ab');
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});
