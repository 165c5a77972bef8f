// Saved VM states on disk: a small JSON header (what the state needs to be restored) followed
// by the state: v86's whole state compressed with zstd, or (when the header names a golden
// snapshot) a delta against that golden, uncompressed: device state, page numbers and pages.
// zstd runs as Debian's `zstd` program: it is several times faster than zlib's gzip for these
// mostly-empty RAM images and needs no native addon. A delta is a few MiB of pages that are
// mostly not empty; starting zstd both ways cost more time (30-80 ms each, more under load)
// than writing and reading it whole (a 24 MiB delta: write and fsync 32-100 ms, read 15-26 ms).
import { spawn } from 'node:child_process';
import { open, rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { applianceNameSchema, domainKindSchema } from '../api/protocol.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';
import type { GoldenDelta, SavedState } from './saved-state.ts';

const MAGIC = 'RAYDESK-STATE 1\n';

export const stateHeaderSchema = z.object({
  domainId: z.string(),
  name: z.string(),
  appliance: applianceNameSchema,
  /** Recipe hash of the appliance image the state was made on; restore needs the same. */
  recipeHash: z.string(),
  /** The build of that recipe (ApplianceImage.buildId); states saved before it lack it. */
  imageBuildId: z.string().optional(),
  /** Set when the file holds a delta against this golden snapshot (SharedGolden.id). */
  goldenId: z.string().optional(),
  /** How the state after the header is stored; files written before this field are zstd. */
  encoding: z.enum(['zstd', 'raw']).default('zstd'),
  kind: domainKindSchema,
  owner: z.string().nullable(),
  memoryMiB: z.number().int(),
  vgaMemoryMiB: z.number().int(),
  savedAt: z.string(),
  rawBytes: z.number().int(),
});
export type StateHeader = z.infer<typeof stateHeaderSchema>;
/** What a caller says of the state it writes; the codec adds how it is stored. */
export type StateDescription = Omit<StateHeader, 'rawBytes' | 'goldenId' | 'encoding'>;

function runZstd(args: string[], input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', args, { stdio: 'pipe' });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) =>
      reject(new Error(`cannot run zstd (apt package "zstd"): ${error.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`zstd failed (${code}): ${stderr.trim()}`));
    });
    child.stdin.end(input);
  });
}

/** Writes v86's whole state to a file atomically (temp file, fsync, rename). Returns its size. */
export function writeStateFile(
  path: string,
  header: StateDescription,
  state: ArrayBuffer,
): Promise<number> {
  return writeSavedState(path, header, { kind: 'full', state });
}

/** Writes a saved state, whole or a golden delta, atomically. Returns the file's size. */
export async function writeSavedState(
  path: string,
  header: StateDescription,
  saved: SavedState,
): Promise<number> {
  const raw = saved.kind === 'full' ? new Uint8Array(saved.state) : encodeDelta(saved);
  const encoding = saved.kind === 'delta' ? 'raw' : 'zstd';
  const goldenId = saved.kind === 'delta' ? { goldenId: saved.goldenId } : {};
  const compressed = encoding === 'raw' ? raw : await runZstd(['-1', '-T0', '-q', '-c'], raw);
  const headerBytes = Buffer.from(
    MAGIC + JSON.stringify({ ...header, ...goldenId, encoding, rawBytes: raw.byteLength }) + '\n',
  );
  const temp = `${path}.tmp-${process.pid}`;
  // Guest memory: readable by the owner only.
  const file = await open(temp, 'w', PRIVATE_FILE_MODE);
  try {
    await file.write(headerBytes);
    await file.write(compressed);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
  return headerBytes.length + compressed.length;
}

export async function readStateHeader(
  path: string,
): Promise<{ header: StateHeader; offset: number }> {
  const file = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new Error(
      error.code === 'ENOENT'
        ? `no saved state at ${path}`
        : `cannot open ${path}: ${error.message}`,
    );
  });
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString('latin1');
    const end = text.indexOf('\n', MAGIC.length);
    if (!text.startsWith(MAGIC) || end < 0) {
      throw new Error(`${path} is not a Raydesk saved state`);
    }
    const json: unknown = JSON.parse(text.slice(MAGIC.length, end));
    const parsed = stateHeaderSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${path} has an invalid state header`);
    return { header: parsed.data, offset: end + 1 };
  } finally {
    await file.close();
  }
}

/** Reads a file of v86's whole state (a golden snapshot) into a fresh ArrayBuffer. */
export async function readStateFile(
  path: string,
): Promise<{ header: StateHeader; state: ArrayBuffer }> {
  const { header, raw } = await readRaw(path);
  if (header.goldenId) throw new Error(`${path} holds a delta, not a whole state`);
  return { header, state: ownArrayBuffer(raw) };
}

/** Reads a saved state, whole or a golden delta. */
export async function readSavedState(
  path: string,
): Promise<{ header: StateHeader; saved: SavedState }> {
  const { header, raw } = await readRaw(path);
  if (!header.goldenId) return { header, saved: { kind: 'full', state: ownArrayBuffer(raw) } };
  return { header, saved: { kind: 'delta', ...decodeDelta(path, raw, header.goldenId) } };
}

async function readRaw(path: string): Promise<{ header: StateHeader; raw: Buffer }> {
  const { header, offset } = await readStateHeader(path);
  const file = await open(path, 'r');
  let compressed: Buffer;
  try {
    const { size } = await file.stat();
    compressed = Buffer.alloc(size - offset);
    await file.read(compressed, 0, compressed.length, offset);
  } finally {
    await file.close();
  }
  const raw =
    header.encoding === 'raw' ? compressed : await runZstd(['-d', '-q', '-c'], compressed);
  if (raw.length !== header.rawBytes) {
    throw new Error(`${path}: state is ${raw.length} bytes, header says ${header.rawBytes}`);
  }
  return { header, raw };
}

const PAGE_BYTES = 4096;
/** A delta's layout: device state bytes, page count, device state, 4-byte aligned page numbers, pages. */
const DELTA_HEAD_BYTES = 8;

function encodeDelta(delta: GoldenDelta): Uint8Array {
  const stateBytes = delta.deviceState.byteLength;
  const pagesAt = align4(DELTA_HEAD_BYTES + stateBytes);
  const dataAt = pagesAt + delta.pages.byteLength;
  const out = new Uint8Array(dataAt + delta.data.byteLength);
  const head = new DataView(out.buffer);
  head.setUint32(0, stateBytes, true);
  head.setUint32(4, delta.pages.length, true);
  out.set(new Uint8Array(delta.deviceState), DELTA_HEAD_BYTES);
  out.set(
    new Uint8Array(delta.pages.buffer, delta.pages.byteOffset, delta.pages.byteLength),
    pagesAt,
  );
  out.set(delta.data, dataAt);
  return out;
}

function decodeDelta(path: string, raw: Buffer, goldenId: string): GoldenDelta {
  const bytes = ownArrayBuffer(raw);
  const head = new DataView(bytes);
  const stateBytes = head.getUint32(0, true);
  const pageCount = head.getUint32(4, true);
  const pagesAt = align4(DELTA_HEAD_BYTES + stateBytes);
  const dataAt = pagesAt + pageCount * 4;
  if (dataAt + pageCount * PAGE_BYTES !== bytes.byteLength)
    throw new Error(`${path}: the delta's sizes do not add up to its ${bytes.byteLength} bytes`);
  return {
    goldenId,
    deviceState: bytes.slice(DELTA_HEAD_BYTES, DELTA_HEAD_BYTES + stateBytes),
    pages: new Uint32Array(bytes, pagesAt, pageCount),
    data: new Uint8Array(bytes, dataAt, pageCount * PAGE_BYTES),
  };
}

function align4(offset: number): number {
  return (offset + 3) & ~3;
}

/** The buffer's bytes as an ArrayBuffer of their own: the one under it when it holds nothing else. */
function ownArrayBuffer(buffer: Buffer): ArrayBuffer {
  const whole = buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.byteLength;
  if (whole && buffer.buffer instanceof ArrayBuffer) return buffer.buffer;
  return buffer.buffer.slice(
    buffer.byteOffset,
    buffer.byteOffset + buffer.byteLength,
  ) as ArrayBuffer;
}
