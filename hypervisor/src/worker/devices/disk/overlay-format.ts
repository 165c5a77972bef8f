// The disk overlay file's header: magic, length, checksum and a JSON description naming the base
// image. One definition for both threads: the worker writes and opens overlays
// (durable-overlay.ts), the daemon reads headers without opening the log
// (host/devices/overlay-file.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { COW_BLOCK_SIZE, type OverlayBase } from './overlay-store.ts';

const FILE_MAGIC = 'RDOVLOG1';
const FORMAT = 1;
export const OVERLAY_HEADER_BYTES = 4096;

export interface OverlayHeader extends OverlayBase {
  format: number;
  blockSize: number;
  domainId: string;
  createdAt: string;
}

export class OverlayFormatError extends Error {
  constructor(path: string, problem: string) {
    super(`${path} is not a Raydesk disk overlay: ${problem}`);
    this.name = 'OverlayFormatError';
  }
}

function describe(base: OverlayBase): string {
  const build = base.imageBuildId ? `, build ${base.imageBuildId}` : '';
  return `${base.recipeHash} (${base.baseBytes} bytes${build})`;
}

export class OverlayBaseMismatchError extends Error {
  constructor(
    readonly path: string,
    readonly found: OverlayBase,
    readonly expected: OverlayBase,
  ) {
    super(
      `disk overlay ${path} was made on the ${found.appliance} image ${describe(found)}, ` +
        `but this host has ${expected.appliance} image ${describe(expected)}; refusing to use it, since its ` +
        `blocks would land on a different base and corrupt the file system. Keep the old image ` +
        `to boot it, or export the files first.`,
    );
    this.name = 'OverlayBaseMismatchError';
  }
}

/** Reads and checks an overlay file's header without opening the log. */
export function readOverlayHeader(path: string): OverlayHeader {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(OVERLAY_HEADER_BYTES);
    const n = readSync(fd, head, 0, OVERLAY_HEADER_BYTES, 0);
    if (n < 16 || head.toString('latin1', 0, 8) !== FILE_MAGIC) {
      throw new OverlayFormatError(path, 'bad magic');
    }
    const length = head.readUInt32LE(8);
    if (length === 0 || length > OVERLAY_HEADER_BYTES - 16) {
      throw new OverlayFormatError(path, 'bad header length');
    }
    const json = head.subarray(16, 16 + length);
    if (crc32(json) !== head.readUInt32LE(12))
      throw new OverlayFormatError(path, 'header checksum');
    const header = JSON.parse(json.toString('utf8')) as OverlayHeader;
    if (header.format !== FORMAT || header.blockSize !== COW_BLOCK_SIZE) {
      throw new OverlayFormatError(path, `unsupported format ${header.format}/${header.blockSize}`);
    }
    return header;
  } finally {
    closeSync(fd);
  }
}

export function sameBase(a: OverlayBase, b: OverlayBase): boolean {
  const sameBuild = !a.imageBuildId || !b.imageBuildId || a.imageBuildId === b.imageBuildId;
  return (
    a.appliance === b.appliance &&
    a.recipeHash === b.recipeHash &&
    a.baseBytes === b.baseBytes &&
    sameBuild
  );
}

/** Throws OverlayBaseMismatchError unless the overlay at `path` was made on `base`. */
export function assertOverlayBase(path: string, base: OverlayBase): OverlayHeader {
  const header = readOverlayHeader(path);
  if (!sameBase(header, base)) throw new OverlayBaseMismatchError(path, header, base);
  return header;
}

export function encodeOverlayHeader(header: OverlayHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(OVERLAY_HEADER_BYTES);
  out.write(FILE_MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length, 8);
  out.writeUInt32LE(crc32(json), 12);
  json.copy(out, 16);
  return out;
}

/** The header of a new overlay for `base`, owned by `domainId`. */
export function newOverlayHeader(base: OverlayBase, domainId: string): OverlayHeader {
  return {
    format: FORMAT,
    blockSize: COW_BLOCK_SIZE,
    ...base,
    domainId,
    createdAt: new Date().toISOString(),
  };
}
