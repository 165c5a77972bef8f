// What a saved VM state is, in memory: v86's whole state, or a delta against the appliance's
// golden snapshot. A desktop suspended after use differs from the golden it was cloned from in a
// few hundred to a few thousand 4 KiB pages of its 256 MiB; saving and restoring only those
// (and the device state) is what makes suspend and resume fast.

/**
 * A golden snapshot's v86 state in memory that workers share instead of copying, with the id
 * a delta saved against it names.
 */
export interface SharedGolden {
  /** The golden's build and creation time: a rebuilt golden has another id. */
  id: string;
  state: SharedArrayBuffer;
}

/** A VM's memory as the pages that differ from a golden snapshot's, and its device state. */
export interface GoldenDelta {
  goldenId: string;
  /** v86's state with empty RAM and SVGA memory. */
  deviceState: ArrayBuffer;
  /** Page numbers over guest RAM then SVGA memory, laid end to end. */
  pages: Uint32Array;
  /** `pages.length` pages back to back. */
  data: Uint8Array;
}

export type SavedState =
  { kind: 'full'; state: ArrayBuffer | SharedArrayBuffer } | ({ kind: 'delta' } & GoldenDelta);

/** The buffers a saved state can be handed over with (postMessage's transfer list). */
export function savedStateBuffers(saved: SavedState): ArrayBuffer[] {
  if (saved.kind === 'full') return saved.state instanceof ArrayBuffer ? [saved.state] : [];
  // A delta read from a file is views into one buffer: list each buffer once.
  const buffers = [saved.deviceState, saved.pages.buffer, saved.data.buffer];
  return [...new Set(buffers)].filter((buffer) => buffer instanceof ArrayBuffer);
}
