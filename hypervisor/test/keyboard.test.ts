// Typed characters and keyboard layouts on a real desktop guest: the guest agent sets the X
// layout, characters go in as `input:char` (the host adds Shift, AltGr or a dead key as the
// layout needs), a terminal writes the line to a file, and the file comes back through a port
// forward (busybox nc in the guest), so what is checked is the bytes the guest received.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HypervisorError, type DomainInfo, type KeyboardLayout } from '../src/api/index.ts';
import { sleep, startTestHypervisor, type TestHypervisor } from './harness.ts';

/** Connects, half-closes at once and returns what the guest sent until it closed. */
function fetchOnce(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

describe(
  'typed characters and keyboard layouts in the desktop guest',
  { timeout: 1_200_000 },
  () => {
    let hv: TestHypervisor;
    let desktop: DomainInfo;
    let guestPort = 7100;

    /** Types text as characters; a newline is the Enter key. */
    const type = (text: string) => {
      for (const char of text) {
        if (char === '\n') {
          hv.client.key(desktop.id, 'Enter', true);
          hv.client.key(desktop.id, 'Enter', false);
        } else {
          hv.client.char(desktop.id, char);
        }
      }
    };

    /** Types `line` into the terminal's `cat` and reads the file it wrote back from the guest. */
    async function typeAndReadBack(line: string): Promise<string> {
      const port = guestPort++;
      const file = `/tmp/typed-${port}.txt`;
      type(`cat > ${file}\n`);
      type(`${line}\n`);
      hv.client.key(desktop.id, 'ControlLeft', true);
      hv.client.key(desktop.id, 'KeyD', true);
      hv.client.key(desktop.id, 'KeyD', false);
      hv.client.key(desktop.id, 'ControlLeft', false);
      type(`nc -l -p ${port} < ${file}\n`);
      const forward = await hv.client.forward({ id: desktop.id, guestPort: port });
      try {
        const deadline = Date.now() + 120_000;
        for (;;) {
          // Until nc listens, the guest refuses and the forward closes with nothing.
          const bytes = await fetchOnce(forward.listen.port).catch(() => Buffer.alloc(0));
          if (bytes.length > 0) return bytes.toString('utf8');
          if (Date.now() > deadline) throw new Error(`nothing came back from guest port ${port}`);
          await sleep(1000);
        }
      } finally {
        await hv.client.unforward(desktop.id, { port: forward.listen.port });
      }
    }

    before(async () => {
      hv = await startTestHypervisor({ memoryBudgetMiB: 1024 });
      desktop = await hv.client.create({ appliance: 'desktop', name: 'keys' });
      await hv.host.get(desktop.id).guestRefreshed;
    });
    after(async () => {
      await hv?.close();
    });

    test('German layout: @ (AltGr), ä, ß and ê (dead key) arrive as typed', async () => {
      const layout: KeyboardLayout = await hv.client.setKeyboardLayout(desktop.id, 'de');
      assert.equal(layout, 'de');
      const line = 'Grüße @ äÄ ß ê > W|o&rld ~{[]}\\ Zy';
      assert.equal(await typeAndReadBack(line), `${line}\n`);
    });

    test('US layout: capitals, >, |, & and ü (AltGr of altgr-intl) arrive intact', async () => {
      await hv.client.setKeyboardLayout(desktop.id, 'us');
      const line = 'Hello > World | A&B Tschüß ê';
      assert.equal(await typeAndReadBack(line), `${line}\n`);
    });

    test('a line typed while the guest is starved of CPU arrives intact', async () => {
      // As on a loaded host: the guest gets little CPU while the keys come in at typing speed.
      await hv.client.sched(desktop.id, { cap: 1 });
      const line = 'Starved Guest: ABC > def | GHI & jkl 0123456789 MNO pqr STU vwx';
      const typed = typeAndReadBack(line);
      await sleep(3000);
      await hv.client.sched(desktop.id, { cap: 0 });
      assert.equal(await typed, `${line}\n`);
    });

    test('an unknown layout is refused before it reaches the guest', async () => {
      await assert.rejects(
        hv.client.setKeyboardLayout(desktop.id, 'xx' as KeyboardLayout),
        /bad_request|invalid/i,
      );
    });

    test('a layout change cut short by a suspend is refused as such, not as a guest failure', async () => {
      const change = hv.client.setKeyboardLayout(desktop.id, 'fr');
      await hv.client.save(desktop.id);
      await assert.rejects(
        change,
        (error: unknown) => error instanceof HypervisorError && error.code === 'illegal_transition',
      );
    });
  },
);
