import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { SerialLog } from './devices/serial-log.ts';
import { Domain, type DomainSpec } from './domain.ts';
import { DomainRegistry } from './domain-registry.ts';
import { HostFiles } from './host-files.ts';
import { Recovery } from './recovery.ts';

const root = mkdtempSync(join(tmpdir(), 'recovery-'));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (id: string): DomainSpec => ({
  id,
  name: `desk-${id}`,
  appliance: 'desktop',
  kind: 'personal',
  owner: 'user-1',
  memoryMiB: 256,
  vgaMemoryMiB: 8,
});

/** A data directory with records, and a recovery that registers real (never booted) domains. */
function hostOn(name: string, start: (id: string, domains: Map<string, Domain>) => Promise<void>) {
  const files = new HostFiles(join(root, name));
  files.prepare();
  const registry = new DomainRegistry(files);
  const domains = new Map<string, Domain>();
  const lines: Array<{ msg: string; domain?: string }> = [];
  const recovery = new Recovery<Domain>({
    records: () => registry.load(),
    has: (id) => domains.has(id),
    register: (s, recovered) => {
      const domain = new Domain(s, new SerialLog(), recovered);
      domains.set(s.id, domain);
      return domain;
    },
    domains: () => domains.values(),
    start: (id) => start(id, domains),
    log: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }),
  });
  return { files, registry, domains, recovery, lines };
}

test('saved domains come back saved, the others crashed; those in use are restartPending', () => {
  const { files, registry, domains, recovery } = hostOn('kinds', async () => undefined);
  const stateFile = files.stateFile('vm-saved');
  writeFileSync(stateFile, 'state');
  registry.save(spec('vm-saved'), new Date(), stateFile, true);
  registry.save(spec('vm-idle'), new Date(), null, false);
  registry.save(spec('vm-in-use'), new Date(), null, true);
  registry.save(spec('vm-state-gone'), new Date(), files.stateFile('vm-state-gone'), false);

  assert.deepEqual(recovery.recover(), { saved: 1, crashed: 3, restartPending: 1 });
  const byId = (id: string) => domains.get(id)!.info();
  assert.equal(byId('vm-saved').state, 'saved');
  assert.equal(domains.get('vm-saved')!.savedStateFile, stateFile);
  assert.equal(byId('vm-saved').restartPending, false, 'a saved domain resumes, it need not boot');
  for (const id of ['vm-idle', 'vm-in-use', 'vm-state-gone']) {
    assert.equal(byId(id).state, 'crashed', id);
    assert.match(byId(id).error!, /disk/, id);
  }
  assert.equal(byId('vm-in-use').restartPending, true);
  assert.equal(byId('vm-idle').restartPending, false);

  assert.deepEqual(recovery.recover(), { saved: 0, crashed: 0, restartPending: 0 }, 'only once');
});

test('an unreadable record is logged and skipped', () => {
  const { files, registry, recovery, lines } = hostOn('broken', async () => undefined);
  registry.save(spec('vm-good'), new Date(), null, false);
  writeFileSync(files.recordFile('vm-broken'), '{"spec": ');
  assert.deepEqual(recovery.recover(), { saved: 0, crashed: 1, restartPending: 0 });
  assert.ok(lines.some((l) => l.msg === 'unreadable domain record skipped'));
});

test('domains in use boot again one at a time, oldest first; a failure does not stop the rest', async () => {
  const started: string[] = [];
  const { registry, domains, recovery, lines } = hostOn('order', async (id) => {
    started.push(id);
    if (id === 'vm-second') throw new Error('appliance image missing');
  });
  registry.save(spec('vm-third'), new Date('2026-11-03'), null, true);
  registry.save(spec('vm-first'), new Date('2026-11-01'), null, true);
  registry.save(spec('vm-second'), new Date('2026-11-02'), null, true);
  registry.save(spec('vm-unused'), new Date('2026-11-01'), null, false);
  recovery.recover();
  await recovery.restartRecovered();
  assert.deepEqual(started, ['vm-first', 'vm-second', 'vm-third']);
  assert.equal(domains.get('vm-second')!.restartPending, false, 'given up after the failure');
  assert.ok(
    lines.some((l) => l.msg === 'could not start a recovered domain' && l.domain === 'vm-second'),
  );
});

test('a domain someone else started or destroyed meanwhile is left alone', async () => {
  const started: string[] = [];
  const { registry, domains, recovery } = hostOn('meanwhile', async (id, all) => {
    started.push(id);
    // While the first one boots, a user destroys the second.
    if (id === 'vm-first') await all.get('vm-second')!.destroy();
  });
  registry.save(spec('vm-first'), new Date('2026-11-01'), null, true);
  registry.save(spec('vm-second'), new Date('2026-11-02'), null, true);
  recovery.recover();
  await recovery.restartRecovered();
  assert.deepEqual(started, ['vm-first']);
  assert.equal(domains.get('vm-second')!.restartPending, false);
});
