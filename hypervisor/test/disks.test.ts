// Integration tests of personal and disposable disks and of suspend/resume, on the console
// appliance through the real control channel: durable overlays, transparent resume with the
// guest clock corrected, suspend on idle, nothing left behind by disposable VMs, and refusal
// of an overlay made on another base image.
import assert from 'node:assert/strict';
import {
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HypervisorError } from '../src/api/index.ts';
import { DurableOverlay } from '../src/worker/devices/disk/durable-overlay.ts';
import { OVERLAY_HEADER_BYTES } from '../src/worker/devices/disk/overlay-format.ts';
import { startTestHypervisor, sleep, type TestHypervisor } from './harness.ts';

const encoder = new TextEncoder();

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('disks and suspend on a real hypervisor', () => {
  let hv: TestHypervisor;
  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 1024, idleSuspendSeconds: 0 });
  });
  after(async () => {
    await hv?.close();
  });

  async function createConsole(kind: 'personal' | 'disposable', name: string) {
    const info = await hv.client.create({ appliance: 'console', kind, owner: 'tester', name });
    const domain = hv.host.get(info.id);
    assert.equal(await domain.guestRefreshed, true, 'guest agent answered after restore');
    return { info, domain };
  }

  /** Runs a shell line on the guest's serial console and returns the text matched by `until`. */
  async function run(id: string, line: string, until: RegExp, timeoutMs = 60_000) {
    const domain = hv.host.get(id);
    const before = domain.console.text().length;
    domain.serialInput(0, encoder.encode(`${line}\n`));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = until.exec(domain.console.text().slice(before));
      if (match) return match;
      await sleep(100);
    }
    throw new Error(`no ${until} on the console within ${timeoutMs} ms after "${line}"`);
  }

  test('a personal VM suspends to disk and resumes on attach, clock corrected, files and processes intact', async () => {
    const { info } = await createConsole('personal', 'desk-suspend');
    const overlay = join(hv.config.dataDir, 'disks', `${info.id}.overlay`);
    assert.ok(existsSync(overlay), 'a personal VM has its overlay file');

    const [, pid] = await run(
      info.id,
      'echo kept-$((20+1)) > /root/note; sync; sleep 100000 & echo BG=$!',
      /BG=(\d+)/,
    );
    const disk = await hv.client.disk(info.id);
    assert.equal(disk.kind, 'durable');
    assert.equal(disk.path, overlay);
    assert.ok(disk.overlayBytes > 0 && disk.fileBytes > disk.overlayBytes);
    assert.equal(disk.base.appliance, 'console');
    assert.equal(disk.base.recipeHash, (await hv.host.appliance('console')).recipeHash);

    const memoryBefore = hv.host.memoryInUse();
    const saved = await hv.client.save(info.id);
    assert.equal(saved.info.state, 'saved');
    assert.ok(existsSync(saved.file));
    assert.equal(hv.host.memoryInUse(), memoryBefore - info.memoryMiB - info.vgaMemoryMiB);

    await sleep(6_000); // real time passes while it is suspended
    const resized = await hv.client.watch(info.id); // attaching resumes it
    assert.equal(resized.domainId, info.id);
    assert.equal((await hv.client.get(info.id)).state, 'running');
    assert.equal(await hv.host.get(info.id).guestRefreshed, true);
    assert.equal(existsSync(saved.file), false, 'the state file is consumed by the resume');

    const [, note, alive, guestNow] = await run(
      info.id,
      `cat /root/note; kill -0 ${pid} && echo ALIVE=yes; echo NOW=$(date +%s)`,
      /(kept-21)[\s\S]*ALIVE=(yes)[\s\S]*NOW=(\d+)/,
    );
    assert.equal(note, 'kept-21');
    assert.equal(alive, 'yes');
    // Without the agent's correction the guest clock would be 6+ s behind.
    assert.ok(Math.abs(Number(guestNow) - Date.now() / 1000) < 3, `guest clock ${guestNow}`);
    await hv.client.unwatch(info.id);

    await hv.client.destroy(info.id);
    assert.equal(existsSync(overlay), false, 'destroy removes the personal disk');
    assert.equal(existsSync(join(hv.config.dataDir, 'domains', `${info.id}.json`)), false);
  });

  test('an unwatched personal VM is suspended after the idle time; a watched one is not', async () => {
    const idle = await createConsole('personal', 'desk-idle');
    const watched = await createConsole('personal', 'desk-watched');
    await hv.client.watch(watched.info.id);
    hv.host.enableIdleSuspend(2);
    try {
      const deadline = Date.now() + 60_000;
      while ((await hv.client.get(idle.info.id)).state !== 'saved') {
        assert.ok(Date.now() < deadline, 'idle VM was not suspended');
        await sleep(250);
      }
      assert.equal((await hv.client.get(watched.info.id)).state, 'running');
    } finally {
      hv.host.enableIdleSuspend(0);
    }
    await hv.client.watch(idle.info.id);
    assert.equal((await hv.client.get(idle.info.id)).state, 'running');
    await run(idle.info.id, 'echo back-$((1+1))', /back-2/);
    await hv.client.destroy(idle.info.id);
    await hv.client.destroy(watched.info.id);
  });

  test('a disposable VM keeps its disk in memory and leaves nothing on the host disk', async () => {
    const marker = `secret-${Date.now().toString(36)}`;
    const { info } = await createConsole('disposable', 'web-wipe');
    await run(info.id, `echo ${marker} > /root/secret; sync; echo WROTE-$((3+4))`, /WROTE-7/);
    const disk = await hv.client.disk(info.id);
    assert.equal(disk.kind, 'memory');
    assert.equal(disk.path, null);
    assert.ok(disk.overlayBytes > 0);
    assert.equal(existsSync(join(hv.config.dataDir, 'disks', `${info.id}.overlay`)), false);

    await hv.client.destroy(info.id);
    for (const file of walk(hv.config.dataDir)) {
      assert.ok(!file.includes(info.id), `${file} outlived the disposable VM`);
      assert.ok(!readFileSync(file).includes(marker), `${file} holds the VM's data`);
    }
  });

  test('an overlay made on another base image is refused with a clear error', async () => {
    const { info } = await createConsole('personal', 'desk-upgrade');
    await hv.client.save(info.id);
    const overlay = join(hv.config.dataDir, 'disks', `${info.id}.overlay`);
    const image = await hv.host.appliance('console');
    // Pretend the overlay was made on an older build of the image: swap in such a header.
    const other = join(hv.config.dataDir, 'other.overlay');
    DurableOverlay.open(
      other,
      {
        appliance: 'console',
        recipeHash: '0123456789abcdef',
        baseBytes: statSync(image.rootfs).size,
      },
      info.id,
    ).close();
    const header = Buffer.alloc(OVERLAY_HEADER_BYTES);
    const fd = openSync(other, 'r');
    readSync(fd, header, 0, OVERLAY_HEADER_BYTES, 0);
    closeSync(fd);
    const bytes = readFileSync(overlay);
    header.copy(bytes, 0);
    writeFileSync(overlay, bytes);

    await assert.rejects(hv.client.start(info.id), (error: unknown) => {
      assert.ok(error instanceof HypervisorError);
      assert.equal(error.code, 'disk_mismatch');
      assert.match(error.message, /made on the console image 0123456789abcdef/);
      assert.match(error.message, /refusing to use it/);
      return true;
    });
    assert.equal((await hv.client.get(info.id)).state, 'saved', 'the VM stays as it was');
    assert.deepEqual(readFileSync(overlay), bytes, 'the overlay is left untouched');
    await hv.client.destroy(info.id);
  });
});
