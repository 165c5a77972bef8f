// What `npm run bench -- --only desktop-io` writes under `desktopIo` (bench/desktop-io.ts
// measures it).
import type { Dist } from './stats.ts';

export interface DesktopIoFigures {
  /** The last key of a copy in the desktop's terminal to the text in the browser's clipboard. */
  clipboardToBrowserMs: Dist;
  /** The viewer's clipboard:set until the desktop holds the text (its acknowledgement). */
  clipboardToDesktopMs: Dist;
  /** clipboard:set then clipboard:get from the viewer, the text read back unchanged. */
  clipboardRoundTripMs: Dist;
  /** KiB/s per file round (p50, p95 over the rounds) and the file's size. */
  uploadKiBPerSec: Dist & { bytes: number };
  downloadKiBPerSec: Dist & { bytes: number };
  /** page.setViewportSize to the first frame painted at the desktop's new size. */
  resizeToPaintMs: Dist;
  /** A fresh desktop (resumed from its golden snapshot): page load to the first frame at the
   * size the viewer asked for; null when the desktop already had it. */
  firstFollowMs: number | null;
  /** 1-minute load average at the start and the end of these figures. */
  loadavg: { start: number; end: number };
}
