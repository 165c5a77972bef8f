// MIPS of the same guest workload in bare v86 (on this thread, no Raydesk code) and in a
// Raydesk domain worker, measured back to back in one run. The workload is a busybox shell
// busy loop on the `console` appliance, started over the serial console once the guest agent
// reports ready, so both sides execute the same guest code.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pino from 'pino';
import { V86 } from 'v86';
import { ensureAppliance } from '@raydesk/hypervisor/appliances';
import { loadConfig } from '@raydesk/hypervisor/config';
import { Host } from '@raydesk/hypervisor/host';

const require = createRequire(import.meta.url);
const BUSY_LOOP = 'while :; do :; done &\n';
const WARMUP_MS = 3_000;

function bytes(path: string): ArrayBuffer {
  const buffer = readFileSync(path);
  return buffer.buffer.slice(
    buffer.byteOffset,
    buffer.byteOffset + buffer.byteLength,
  ) as ArrayBuffer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Instructions per second over `ms`, from v86's wrapping 32-bit counter sampled every 250 ms. */
async function sampleMips(counter: () => number, ms: number): Promise<number> {
  let total = 0;
  let last = counter();
  const started = performance.now();
  while (performance.now() - started < ms) {
    await sleep(250);
    const now = counter();
    total += (now - last + 2 ** 32) % 2 ** 32;
    last = now;
  }
  return total / ((performance.now() - started) / 1000) / 1e6;
}

export async function measureBareMips(seconds: number): Promise<number> {
  const image = await ensureAppliance('console');
  const config = loadConfig();
  let agentText = '';
  const emulator = new V86({
    wasm_path: require.resolve('v86/build/v86.wasm'),
    bios: { buffer: bytes(`${config.seabiosDir}/bios.bin`) },
    vga_bios: { buffer: bytes(`${config.seabiosDir}/vgabios-stdvga.bin`) },
    bzimage: { buffer: bytes(image.kernel) },
    initrd: { buffer: bytes(image.initrd) },
    hda: { buffer: bytes(image.rootfs) },
    cmdline: image.cmdline,
    memory_size: image.memoryMiB * 2 ** 20,
    vga_memory_size: image.vgaMemoryMiB * 2 ** 20,
    uart1: true,
    autostart: true,
  });
  emulator.add_listener('serial1-output-byte', (byte: number) => {
    agentText += String.fromCharCode(byte);
  });
  const deadline = Date.now() + 180_000;
  while (!/\* ready console/.test(agentText)) {
    if (Date.now() > deadline) throw new Error('bare v86 console guest never became ready');
    await sleep(200);
  }
  emulator.serial0_send(BUSY_LOOP);
  await sleep(WARMUP_MS);
  const mips = await sampleMips(() => emulator.get_instruction_counter(), seconds * 1000);
  await emulator.destroy();
  return mips;
}

export async function measureWorkerMips(seconds: number): Promise<number> {
  const config = loadConfig();
  const host = Host.open(config, pino({ level: 'warn' }));
  try {
    const domain = await host.create({ appliance: 'console', coldBoot: true, name: 'mips' });
    await domain.waitForAgentEvent(/^\* ready console/, 180_000);
    domain.serialInput(0, new TextEncoder().encode(BUSY_LOOP));
    await sleep(WARMUP_MS);
    // The worker reports its counter once a second; average those reports.
    const samples: number[] = [];
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
      await sleep(1000);
      samples.push(domain.info().mips);
    }
    return samples.reduce((a, b) => a + b, 0) / samples.length;
  } finally {
    await host.shutdown();
  }
}
