// A personal disk's overlay file as the daemon sees it: which base image it was made on and how
// big it is, read from its header without opening the log (the worker owns the log itself).
import { existsSync, statSync } from 'node:fs';
import {
  OVERLAY_HEADER_BYTES,
  OverlayBaseMismatchError,
  assertOverlayBase,
  readOverlayHeader,
} from '../../worker/devices/disk/overlay-format.ts';
import type { DiskInfo } from '../../api/protocol.ts';
import type { DiskReport, OverlayBase } from '../../worker/devices/disk/overlay-store.ts';
import type { DomainDiskConfig } from '../../worker/messages.ts';
import { HostError } from '../errors.ts';

export interface OverlayFileInfo {
  base: OverlayBase;
  /** Bytes the file takes on the host disk, header included. */
  fileBytes: number;
}

/** The overlay at `path`, or null when the domain has not written its disk yet. */
export function inspectOverlay(path: string): OverlayFileInfo | null {
  if (!existsSync(path)) return null;
  const { appliance, recipeHash, baseBytes } = readOverlayHeader(path);
  return { base: { appliance, recipeHash, baseBytes }, fileBytes: statSync(path).size };
}

/** Whether the overlay holds any written block (a header alone means an unwritten disk). */
export function overlayHasBlocks(path: string): boolean {
  return existsSync(path) && statSync(path).size > OVERLAY_HEADER_BYTES;
}

/**
 * Refuses to boot on an overlay made on another base image (`disk_mismatch`): its blocks would
 * land on the wrong file system. A missing overlay is fine: the worker creates it.
 */
export function checkOverlayBase(path: string, base: OverlayBase): void {
  if (!existsSync(path)) return;
  try {
    assertOverlayBase(path, base);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new HostError(
      error instanceof OverlayBaseMismatchError ? 'disk_mismatch' : 'internal',
      message,
    );
  }
}

/**
 * A domain's disk as `domain:disk` reports it: from its worker (`live`) while it runs, else
 * from the overlay file, whose size is known but not how much of it is current data (-1).
 * `base` is the base image the host would give the disk now.
 */
export function describeDisk(
  disk: DomainDiskConfig,
  base: OverlayBase,
  live: DiskReport | null,
): DiskInfo {
  const unwritten = { kind: disk.kind, overlayBytes: 0, fileBytes: 0, generation: 0 };
  if (disk.kind === 'memory') return { ...(live ?? unwritten), base, path: null };
  const path = disk.overlayPath;
  const file = inspectOverlay(path);
  if (!file) return { ...(live ?? unwritten), base, path };
  const stored = { kind: disk.kind, overlayBytes: -1, fileBytes: file.fileBytes, generation: -1 };
  return { ...(live ?? stored), base: file.base, path };
}
