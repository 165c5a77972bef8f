// Clipboard and files through the guest agent on a real desktop guest (resumed from its golden
// snapshot): text with non-ASCII characters both ways, a file into ~/Uploads with the same
// sha256, a file from ~/Send to browser with the same bytes, and refusals of bad names and
// sizes on both sides of the channel.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  HypervisorError,
  TRANSFER_CHUNK_BYTES,
  UPLOAD_MAX_BYTES,
  type ClipboardChanged,
  type DomainInfo,
  type OutboxChanged,
} from '../src/api/index.ts';
import { startTestHypervisor, type TestHypervisor } from './harness.ts';
import { typeLine } from './typing.ts';

const TEXT = 'Grüße, café ✓ — 日本語 😀\nsecond line';

/** printf's octal escapes for UTF-8 text, so that a US keyboard can type any character. */
function octal(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[a-z0-9 ]/i.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `\\${byte.toString(8).padStart(3, '0')}`,
    )
    .join('');
}

function nextEvent<T extends { domainId: string }>(
  hv: TestHypervisor,
  event: 'clipboard:changed' | 'files:outbox',
  id: string,
  accept: (payload: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = hv.client.socket as unknown as {
      on(event: string, listener: (payload: T) => void): void;
      off(event: string, listener: (payload: T) => void): void;
    };
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (payload.domainId !== id || !accept(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Uploads `bytes` chunk by chunk over the control channel, named `name`. */
async function uploadInChunks(hv: TestHypervisor, id: string, bytes: Uint8Array, name: string) {
  const { uploadId } = await hv.client.call('files:upload-begin', { id, bytes: bytes.length });
  for (let offset = 0; offset < bytes.length; offset += TRANSFER_CHUNK_BYTES) {
    const data = bytes.subarray(offset, offset + TRANSFER_CHUNK_BYTES);
    await hv.client.call('files:upload-chunk', { id, uploadId, data });
  }
  return hv.client.call('files:upload-end', { id, uploadId, name });
}

describe('clipboard and files through the guest agent', () => {
  let hv: TestHypervisor;
  let desktop: DomainInfo;
  const upload = randomBytes(400 * 1024);

  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 2048 });
    desktop = await hv.client.create({ appliance: 'desktop', name: 'transfer' });
    await hv.client.watch(desktop.id);
  });
  after(async () => {
    await hv?.close();
  });

  test('text put into the guest clipboard reads back the same, CLIPBOARD and PRIMARY', async (t) => {
    const started = performance.now();
    const bytes = await hv.client.call('clipboard:set', { id: desktop.id, text: TEXT });
    assert.equal(bytes, Buffer.byteLength(TEXT));
    const back = await hv.client.call('clipboard:get', { id: desktop.id });
    t.diagnostic(`set + get round trip: ${Math.round(performance.now() - started)} ms`);
    assert.equal(back, TEXT);
    assert.equal(
      await hv.client.call('clipboard:get', { id: desktop.id, selection: 'primary' }),
      TEXT,
    );
  });

  test('text copied in the guest (xclip in the terminal) is announced to watchers', async () => {
    const copied = 'Ünïcödé ✓ from the guest';
    const changed = nextEvent<ClipboardChanged>(
      hv,
      'clipboard:changed',
      desktop.id,
      (c) => c.text === copied,
      60_000,
    );
    typeLine(hv, desktop.id, `printf '${octal(copied)}' | xclip -selection clipboard`);
    assert.equal((await changed).text, copied);
  });

  test('a file uploaded in chunks lands in ~/Uploads with the same sha256', async (t) => {
    const started = performance.now();
    const { uploadId } = await hv.client.call('files:upload-begin', {
      id: desktop.id,
      bytes: upload.length,
    });
    let received = 0;
    for (let offset = 0; offset < upload.length; offset += TRANSFER_CHUNK_BYTES) {
      const data = upload.subarray(offset, offset + TRANSFER_CHUNK_BYTES);
      ({ received } = await hv.client.call('files:upload-chunk', {
        id: desktop.id,
        uploadId,
        data,
      }));
    }
    assert.equal(received, upload.length);
    const done = await hv.client.call('files:upload-end', {
      id: desktop.id,
      uploadId,
      name: 'données.bin',
    });
    assert.deepEqual(done, { name: 'données.bin', sha256: sha256(upload) });
    const ms = performance.now() - started;
    t.diagnostic(
      `upload ${upload.length} bytes: ${Math.round(ms)} ms, ${Math.round(upload.length / 1.024 / ms)} KiB/s`,
    );
  });

  test('a ping answers while a keyboard layout change holds X; an upload meanwhile is whole', async (t) => {
    // The agent runs requests side by side unless they share a lane: setxkbmap takes seconds
    // to a minute here, and a ping sent after it answers first. A screen read and an upload,
    // each in its own lane, run meanwhile; their order is reported, not asserted (X is busy).
    const domain = hv.host.get(desktop.id);
    const finished: string[] = [];
    const started = performance.now();
    const at = (what: string) => () => {
      finished.push(`${what} ${Math.round(performance.now() - started)} ms`);
    };
    const layout = hv.client
      .call('domain:keyboard-layout', { id: desktop.id, layout: 'us' })
      .then(at('keyboard-layout'));
    const ping = domain.agentRequest('ping', [], 55_000).then(at('ping'));
    const screen = domain.agentRequest('screen', ['get'], 55_000);
    const bytes = randomBytes(2 * TRANSFER_CHUNK_BYTES);
    const upload = uploadInChunks(hv, desktop.id, bytes, 'beside.bin').then((done) => {
      at('upload')();
      return done;
    });
    const [, , size, done] = await Promise.all([
      layout,
      ping,
      screen.then((s) => (at('screen')(), s)),
      upload,
    ]);
    t.diagnostic(`finished: ${finished.join(', ')}`);
    assert.match(size, /^\d+x\d+$/);
    assert.equal(done.sha256, sha256(bytes));
    const order = finished.map((f) => f.split(' ')[0]);
    assert.ok(order.indexOf('ping') < order.indexOf('keyboard-layout'), finished.join(', '));
  });

  test('a file put in ~/Send to browser is listed and reads back with the same bytes', async (t) => {
    const listed = nextEvent<OutboxChanged>(
      hv,
      'files:outbox',
      desktop.id,
      (o) => o.files.some((f) => f.name === 'offer.bin'),
      60_000,
    );
    // The file is the one uploaded above (its bytes are known); `cp` is the user's own copy.
    typeLine(hv, desktop.id, `cp ~/Uploads/donn*.bin ~/Send\\ to\\ browser/offer.bin`);
    const { files } = await listed;
    assert.deepEqual(
      files.find((f) => f.name === 'offer.bin'),
      { name: 'offer.bin', bytes: upload.length },
    );
    const parts: Uint8Array[] = [];
    const started = performance.now();
    for (let offset = 0; ; offset += TRANSFER_CHUNK_BYTES) {
      const chunk = await hv.client.call('files:read', {
        id: desktop.id,
        name: 'offer.bin',
        offset,
      });
      parts.push(chunk);
      if (chunk.byteLength < TRANSFER_CHUNK_BYTES) break;
    }
    assert.equal(sha256(Buffer.concat(parts)), sha256(upload));
    const ms = performance.now() - started;
    t.diagnostic(
      `download ${upload.length} bytes: ${Math.round(ms)} ms, ${Math.round(upload.length / 1.024 / ms)} KiB/s`,
    );
  });

  test('two downloads and an upload at the same time each arrive whole', async (t) => {
    const listed = nextEvent<OutboxChanged>(
      hv,
      'files:outbox',
      desktop.id,
      (o) => o.files.some((f) => f.name === 'offer-2.bin' && f.bytes === upload.length),
      60_000,
    );
    typeLine(hv, desktop.id, `cp ~/Uploads/donn*.bin ~/Send\\ to\\ browser/offer-2.bin`);
    await listed;
    const download = async (name: string) => {
      const parts: Uint8Array[] = [];
      for (let offset = 0; ; offset += TRANSFER_CHUNK_BYTES) {
        const chunk = await hv.client.call('files:read', { id: desktop.id, name, offset });
        parts.push(chunk);
        if (chunk.byteLength < TRANSFER_CHUNK_BYTES) return sha256(Buffer.concat(parts));
      }
    };
    const bytes = randomBytes(3 * TRANSFER_CHUNK_BYTES);
    const uploadOne = () => uploadInChunks(hv, desktop.id, bytes, 'during-downloads.bin');
    const started = performance.now();
    const timed = <T>(work: Promise<T>) =>
      work.then((value) => ({ value, ms: Math.round(performance.now() - started) }));
    const [first, second, up] = await Promise.all([
      timed(download('offer.bin')),
      timed(download('offer-2.bin')),
      timed(uploadOne()),
    ]);
    t.diagnostic(`finished after: ${first.ms} ms, ${second.ms} ms, upload ${up.ms} ms`);
    assert.equal(first.value, sha256(upload));
    assert.equal(second.value, sha256(upload));
    assert.equal(up.value.sha256, sha256(bytes));
  });

  test('bad names and sizes are refused by the control channel and by the guest agent', async () => {
    const { uploadId } = await hv.client.call('files:upload-begin', { id: desktop.id, bytes: 0 });
    for (const name of ['../escape', 'a/b', '..', 'tab\there', '.raydesk-upload-1']) {
      await assert.rejects(
        hv.client.call('files:upload-end', { id: desktop.id, uploadId, name }),
        (error: unknown) => error instanceof HypervisorError && error.code === 'bad_request',
        name,
      );
    }
    await assert.rejects(
      hv.client.call('files:upload-begin', { id: desktop.id, bytes: UPLOAD_MAX_BYTES + 1 }),
      (error: unknown) => error instanceof HypervisorError && error.code === 'bad_request',
    );
    // The agent checks names itself: a request that skipped the host's schema is refused too.
    const domain = hv.host.get(desktop.id);
    for (const name of ['../escape', 'a/b', '..', 'new\nline']) {
      await assert.rejects(
        domain.agentRequest('upload-end', [String(uploadId), Buffer.from(name).toString('base64')]),
        /bad file name/,
        name,
      );
    }
    await assert.rejects(
      domain.agentRequest('outbox-read', [
        Buffer.from('../../etc/shadow').toString('base64'),
        '0',
        '1',
      ]),
      /bad file name/,
    );
    // A name that is fine is still accepted after the refusals (the channel stayed in step).
    const done = await hv.client.call('files:upload-end', {
      id: desktop.id,
      uploadId,
      name: 'empty file.txt',
    });
    assert.equal(done.name, 'empty file.txt');
  });

  test('a file goes over the guest network; a connection without its token is refused', async () => {
    const domain = hv.host.get(desktop.id);
    const { uploadId, channel } = await hv.client.call('files:upload-begin', {
      id: desktop.id,
      bytes: 1000,
    });
    assert.equal(channel, 'network', 'the desktop takes streamed uploads');
    await hv.client.call('files:upload-abort', { id: desktop.id, uploadId });

    // An upload whose listener gets a stranger's connection (a wrong token) ends with an error,
    // and no file appears.
    const id = 900_000 + Math.floor(Math.random() * 1000);
    await domain.agentRequest('upload-begin', [String(id), '5']);
    const port = Number(await domain.agentRequest('upload-stream', [String(id), '0'.repeat(32)]));
    const stream = await hv.host.openGuestStream(desktop.id, port);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.on('error', () => undefined);
    stream.end(`${'f'.repeat(32)}hello`);
    stream.resume();
    await closed;
    await assert.rejects(
      domain.agentRequest('upload-end', [
        String(id),
        Buffer.from('stranger.txt').toString('base64'),
      ]),
      /did not carry the upload/,
    );
    // Tokens and ids are checked before anything listens.
    await assert.rejects(domain.agentRequest('upload-stream', [String(id), 'xyz']), /usage/);
    await assert.rejects(
      domain.agentRequest('outbox-stream', [
        Buffer.from('../x').toString('base64'),
        '0'.repeat(32),
      ]),
      /bad file name/,
    );
  });
});
