// The boot configuration a worker gets, checked without starting one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { defaultEgressConfig } from '../network/policy.ts';
import { NetworkSwitch } from '../network/switch.ts';
import { DurableOverlay } from '../worker/devices/disk/durable-overlay.ts';
import { SerialLog } from './devices/serial-log.ts';
import { Domain, type DomainSpec } from './domain.ts';
import { DomainLauncher, type BootImage } from './domain-launcher.ts';
import { HostError } from './errors.ts';
import { HostFiles } from './host-files.ts';

const root = mkdtempSync(join(tmpdir(), 'launcher-'));
const log = pino({ level: 'silent' });
const files = new HostFiles(join(root, 'data'));
const network = new NetworkSwitch({ policy: defaultEgressConfig() }, log);
const image: BootImage = {
  name: 'console',
  kernel: join(root, 'bzImage'),
  initrd: join(root, 'initrd'),
  rootfs: join(root, 'rootfs.ext4'),
  cmdline: 'console=ttyS0',
  recipeHash: 'abc123',
  buildId: 'build-1',
};
const launcher = new DomainLauncher({
  seabiosDir: '/usr/share/seabios',
  displayFps: 30,
  displayMaxFps: 60,
  jitMaxPages: 1,
  files,
  network,
  log,
});

before(async () => {
  files.prepare();
  writeFileSync(image.rootfs, Buffer.alloc(64 * 1024));
  await network.start();
});
after(async () => {
  await network.close();
  rmSync(root, { recursive: true, force: true });
});

const spec = (id: string, kind: DomainSpec['kind']): DomainSpec => ({
  id,
  name: id,
  appliance: 'console',
  kind,
  owner: null,
  memoryMiB: 64,
  vgaMemoryMiB: 8,
});

test('a personal domain writes to its overlay file, made on this base image', () => {
  const domain = new Domain(spec('vm-00000001', 'personal'), new SerialLog());
  const config = launcher.bootConfig(domain, image);
  assert.deepEqual(config.disk, {
    kind: 'durable',
    overlayPath: files.overlayFile('vm-00000001'),
    base: {
      appliance: 'console',
      recipeHash: 'abc123',
      baseBytes: 64 * 1024,
      imageBuildId: 'build-1',
    },
  });
  assert.equal(config.biosPath, '/usr/share/seabios/bios.bin');
  assert.equal(config.vgaBiosPath, '/usr/share/seabios/vgabios-stdvga.bin');
  assert.equal(config.rootfsPath, image.rootfs);
  assert.equal(config.memoryMiB, 64);
  assert.equal(config.initialState, undefined, 'a cold boot');
  assert.match(config.network.relayUrl, /\/wisp\/vm-00000001\//);
});

test('other domains keep their writes in RAM; every worker gets the one compiled wasm module', () => {
  const a = launcher.bootConfig(new Domain(spec('vm-00000002', 'system'), new SerialLog()), image);
  const b = launcher.bootConfig(
    new Domain(spec('vm-00000003', 'disposable'), new SerialLog()),
    image,
    { kind: 'full', state: new ArrayBuffer(8) },
  );
  assert.deepEqual(a.disk, { kind: 'memory' });
  assert.deepEqual(b.disk, { kind: 'memory' });
  assert.ok(a.wasmModule instanceof WebAssembly.Module);
  assert.equal(a.wasmModule, b.wasmModule);
  assert.equal(b.initialState?.byteLength, 8);
  assert.notEqual(a.network.relayUrl, b.network.relayUrl);
});

test('a disk made on another base image is refused before any worker starts', async () => {
  const id = 'vm-00000004';
  DurableOverlay.open(
    files.overlayFile(id),
    { appliance: 'console', recipeHash: 'old', baseBytes: 1 },
    id,
  ).close();
  const domain = new Domain(spec(id, 'personal'), new SerialLog(), {
    state: 'crashed',
    createdAt: new Date(),
    savedStateFile: null,
    error: 'the host stopped',
  });
  await assert.rejects(
    launcher.boot(domain, image, undefined, 'clone'),
    (error: unknown) => error instanceof HostError && error.code === 'disk_mismatch',
  );
  assert.equal(domain.state, 'crashed', 'untouched: it can start once the right image is back');
});
