// What `npm run bench -- --only recording` writes under `recording` (bench/recording.ts
// measures it).
import type { Dist } from './stats.ts';

export interface RecordingFigures {
  bytesPerHour: { typing: number; busy: number; measuredSeconds: number; method: string };
  /** The gateway's time per frame sent (diff, encode, emit, and recording when on). */
  frameCostMs: { off: Dist; on: Dist; method: string };
  /** Seek to a random point of an hour-long recording until painted, in Chromium. */
  seekMs: Dist & { fileBytes: number; keyframes: number };
  loadavg: { start: number; end: number };
}
