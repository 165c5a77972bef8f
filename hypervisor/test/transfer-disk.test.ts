// A desktop guest's disk that fills up while files stream into ~/Uploads: two uploads that
// each fit but not together, and a disk the guest fills itself in the middle of an upload.
// Each ends in one clear insufficient_disk refusal, no part file (hidden or under its final
// name) is left behind, the upload that fits arrives whole, and the guest and its agent keep
// working afterwards (a small upload and download succeed).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  HypervisorError,
  TRANSFER_CHUNK_BYTES,
  type DomainInfo,
  type OutboxChanged,
  type UploadDone,
} from '../src/api/index.ts';
import { startTestHypervisor, type TestHypervisor } from './harness.ts';
import { strokes, typeStrokes } from './typing.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const isDiskFull = (error: unknown) =>
  error instanceof HypervisorError && error.code === 'insufficient_disk';

describe('uploads into a guest whose disk fills up', () => {
  let hv: TestHypervisor;
  let desktop: DomainInfo;
  let marks = 0;

  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 2048 });
    desktop = await hv.client.create({ appliance: 'desktop', name: 'disk-full' });
    await hv.client.watch(desktop.id);
  });
  after(async () => {
    await hv?.close();
  });

  /** Types a shell line into the terminal and waits until it has run (a marker file appears). */
  async function shell(line: string): Promise<void> {
    const mark = `mark-${++marks}`;
    const keys = strokes(`${line}; touch ~/Send\\ to\\ browser/${mark}\n`);
    const appeared = new Promise<void>((resolve, reject) => {
      const socket = hv.client.socket as unknown as {
        on(event: string, listener: (payload: OutboxChanged) => void): void;
        off(event: string, listener: (payload: OutboxChanged) => void): void;
      };
      const timer = setTimeout(() => {
        socket.off('files:outbox', listener);
        reject(new Error(`"${line}" did not finish within 120 s`));
      }, 120_000);
      const listener = ({ domainId, files }: OutboxChanged) => {
        if (domainId !== desktop.id || !files.some((f) => f.name === mark)) return;
        clearTimeout(timer);
        socket.off('files:outbox', listener);
        resolve();
      };
      socket.on('files:outbox', listener);
    });
    typeStrokes(hv, desktop.id, keys);
    await appeared;
  }

  /** KiB free for the user's files, as the agent's own pre-check sees it. */
  async function freeKiB(): Promise<number> {
    const domain = hv.host.get(desktop.id);
    const probe = String(900_000_000 + Math.floor(Math.random() * 1000));
    // A size no disk here has: the agent refuses it and says how much is free.
    const refusal = await domain.agentRequest('upload-begin', [probe, String(10 ** 11)]).then(
      () => assert.fail('the agent took a 100 GB upload'),
      (error: Error) => error.message,
    );
    const free = /(\d+) KiB free/.exec(refusal);
    assert.ok(free, refusal);
    return Number(free[1]);
  }

  /** Everything in ~/Uploads, hidden part files included (read back through ~/Send to browser). */
  async function uploadsListing(): Promise<string[]> {
    const name = `listing-${marks + 1}`;
    await shell(`ls -a ~/Uploads >~/.listing; mv ~/.listing ~/Send\\ to\\ browser/${name}`);
    const text = Buffer.from(await readWhole(name)).toString('utf8');
    return text.split('\n').filter((entry) => entry && entry !== '.' && entry !== '..');
  }

  async function readWhole(name: string): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for (let offset = 0; ; offset += TRANSFER_CHUNK_BYTES) {
      const chunk = await hv.client.call('files:read', { id: desktop.id, name, offset });
      parts.push(chunk);
      if (chunk.byteLength < TRANSFER_CHUNK_BYTES) return Buffer.concat(parts);
    }
  }

  async function begin(bytes: number): Promise<number> {
    return (await hv.client.call('files:upload-begin', { id: desktop.id, bytes })).uploadId;
  }
  async function sendChunks(uploadId: number, bytes: Uint8Array, from = 0): Promise<void> {
    for (let offset = from; offset < bytes.length; offset += TRANSFER_CHUNK_BYTES) {
      const data = bytes.subarray(offset, offset + TRANSFER_CHUNK_BYTES);
      await hv.client.call('files:upload-chunk', { id: desktop.id, uploadId, data });
    }
  }
  /**
   * An upload as the gateway drives it: begin, chunks, end. A refused chunk is followed by an
   * abort; a refused end is not (the gateway has forgotten the upload by then).
   */
  async function upload(
    bytes: Uint8Array,
    name: string,
    begun?: { uploadId: number; sent: number },
  ): Promise<UploadDone> {
    const uploadId = begun?.uploadId ?? (await begin(bytes.length));
    try {
      await sendChunks(uploadId, bytes, begun?.sent ?? 0);
    } catch (error) {
      await hv.client.call('files:upload-abort', { id: desktop.id, uploadId });
      throw error;
    }
    return hv.client.call('files:upload-end', { id: desktop.id, uploadId, name });
  }

  test('two uploads that each fit but not together: one is refused, the other arrives whole', async (t) => {
    const before = await freeKiB();
    // Leave about 3 MiB free: the filler is the user's own file.
    await shell(`fallocate -l ${(before - 3072) * 1024} ~/filler`);
    const free = await freeKiB();
    t.diagnostic(`free before: ${before} KiB, after the filler: ${free} KiB`);
    assert.ok(free > 1024 && free < 8192, `${free} KiB free`);
    // Each passes the agent's check (its size plus 64 KiB of slack); both need more than is free.
    const size = (free - 64 - 192) * 1024;
    const files = [randomBytes(size), randomBytes(size)];
    const outcomes = await Promise.allSettled(
      files.map((bytes, i) => upload(bytes, `together-${i}.bin`)),
    );
    t.diagnostic(
      outcomes
        .map((o) => (o.status === 'fulfilled' ? 'ok' : `${(o.reason as Error).message}`))
        .join('; '),
    );
    const refused = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(refused.length, 1, 'exactly one upload is refused');
    assert.ok(isDiskFull(refused[0]!.reason), String(refused[0]!.reason));
    const i = outcomes.findIndex((o) => o.status === 'fulfilled');
    const done = (outcomes[i] as PromiseFulfilledResult<UploadDone>).value;
    assert.deepEqual(done, { name: `together-${i}.bin`, sha256: sha256(files[i]!) });

    const listing = await uploadsListing();
    assert.deepEqual(listing, [`together-${i}.bin`], 'no part file is left behind');
    await shell(`rm ~/Uploads/together-${i}.bin`);
  });

  test('the guest fills its disk in the middle of an upload: a clear refusal, nothing left', async (t) => {
    // Two chunks: the first lands before the guest fills its disk, the second does not fit
    // (small enough that the refusal may come with the upload's end rather than a chunk).
    const bytes = randomBytes(2 * TRANSFER_CHUNK_BYTES);
    const uploadId = await begin(bytes.length);
    await sendChunks(uploadId, bytes.subarray(0, TRANSFER_CHUNK_BYTES));
    // Something else in the guest takes what is left, while the upload is under way.
    const free = await freeKiB();
    await shell(`fallocate -l ${(free - 16) * 1024} ~/filler-2`);
    t.diagnostic(`free when the guest filled it: ${free} KiB, now ${await freeKiB()} KiB`);
    const refusal = await upload(bytes, 'late.bin', { uploadId, sent: TRANSFER_CHUNK_BYTES }).then(
      () => null,
      (error: unknown) => error,
    );
    t.diagnostic(`refusal: ${String(refusal)}`);
    assert.ok(isDiskFull(refusal), `expected insufficient_disk, got ${String(refusal)}`);
    await shell('rm ~/filler ~/filler-2');
    assert.deepEqual(await uploadsListing(), [], 'no part file is left behind');
  });

  test('afterwards the guest still takes an upload and offers a download', async () => {
    const bytes = randomBytes(300 * 1024);
    const done = await upload(bytes, 'after.bin');
    assert.deepEqual(done, { name: 'after.bin', sha256: sha256(bytes) });
    await shell('cp ~/Uploads/after.bin ~/Send\\ to\\ browser/after.bin');
    assert.equal(sha256(await readWhole('after.bin')), sha256(bytes));
    assert.equal(await hv.host.get(desktop.id).agentRequest('ping', [], 30_000), 'pong');
  });
});
