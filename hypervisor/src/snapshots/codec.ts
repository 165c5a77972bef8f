// Saved VM states on disk: a small JSON header (what the state needs to be restored) followed
// by the v86 state compressed with zstd. zstd runs as Debian's `zstd` program: it is several
// times faster than zlib's gzip for these mostly-empty RAM images and needs no native addon.
import { spawn } from 'node:child_process';
import { open, rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { applianceNameSchema, domainKindSchema } from '../api/protocol.ts';
import { PRIVATE_FILE_MODE } from '../private-files.ts';

const MAGIC = 'RAYDESK-STATE 1\n';

export const stateHeaderSchema = z.object({
  domainId: z.string(),
  name: z.string(),
  appliance: applianceNameSchema,
  /** Recipe hash of the appliance image the state was made on; restore needs the same. */
  recipeHash: z.string(),
  /** The build of that recipe (ApplianceImage.buildId); states saved before it lack it. */
  imageBuildId: z.string().optional(),
  kind: domainKindSchema,
  owner: z.string().nullable(),
  memoryMiB: z.number().int(),
  vgaMemoryMiB: z.number().int(),
  savedAt: z.string(),
  rawBytes: z.number().int(),
});
export type StateHeader = z.infer<typeof stateHeaderSchema>;

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

/** Writes a state file atomically (temp file, fsync, rename). Returns its size in bytes. */
export async function writeStateFile(
  path: string,
  header: Omit<StateHeader, 'rawBytes'>,
  state: ArrayBuffer,
): Promise<number> {
  const raw = new Uint8Array(state);
  const compressed = await runZstd(['-1', '-T0', '-q', '-c'], raw);
  const headerBytes = Buffer.from(
    MAGIC + JSON.stringify({ ...header, rawBytes: raw.byteLength }) + '\n',
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

/** Reads and decompresses a state file into a fresh ArrayBuffer v86 can restore. */
export async function readStateFile(
  path: string,
): Promise<{ header: StateHeader; state: ArrayBuffer }> {
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
  const raw = await runZstd(['-d', '-q', '-c'], compressed);
  if (raw.length !== header.rawBytes) {
    throw new Error(`${path}: state is ${raw.length} bytes, header says ${header.rawBytes}`);
  }
  return { header, state: ownArrayBuffer(raw) };
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
