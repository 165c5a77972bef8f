import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { recordOutcome, summarizeAttacks, totalsLine } from './attack-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'raydesk-attack-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('outcomes from several processes are summed into one line', () => {
  recordOutcome({ area: 'auth', name: 'alg none', succeeded: false }, dir);
  recordOutcome({ area: 'auth', name: 'replay', succeeded: true }, dir);
  writeFileSync(
    join(dir, 'attacks-999999.jsonl'),
    JSON.stringify({ area: 'egress', name: 'metadata', succeeded: false }) + '\n',
  );
  const totals = summarizeAttacks(dir);
  assert.equal(totalsLine(totals), 'attacks: 3 tried, 1 succeeded');
  assert.deepEqual(totals.successes, ['auth: replay']);
  assert.deepEqual(totals.byArea.egress, { tried: 1, succeeded: 0 });
});

test('attacks that never ran are reported, not counted as tried', () => {
  const other = mkdtempSync(join(tmpdir(), 'raydesk-attack-log-'));
  try {
    recordOutcome({ area: 'auth', name: 'ran', succeeded: false }, other);
    recordOutcome({ area: 'auth', name: 'setup failed', succeeded: false, ran: false }, other);
    assert.equal(totalsLine(summarizeAttacks(other)), 'attacks: 1 tried, 0 succeeded, 1 not run');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('no directory, no attacks', () => {
  assert.equal(totalsLine(summarizeAttacks(join(dir, 'missing'))), 'attacks: 0 tried, 0 succeeded');
});
