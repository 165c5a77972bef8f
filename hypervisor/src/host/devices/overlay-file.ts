// A personal disk's overlay file as the daemon sees it: which base image it was made on and how
// big it is, read from its header without opening the log (the worker owns the log itself).
import { existsSync, statSync } from 'node:fs';
import {
  OVERLAY_HEADER_BYTES,
  OverlayBaseMismatchError,
  assertOverlayBase,
  readOverlayHeader,
} from '../../worker/devices/disk/overlay-format.ts';
import type { OverlayBase } from '../../worker/devices/disk/overlay-store.ts';
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
