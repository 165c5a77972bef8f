// Encoded regions of one VM's framebuffer, shared by the encoders of all its viewers.
//
// Each viewer still diffs against what it was last sent (its own backpressure and quality), but
// the expensive part, PNG/JPEG of a rectangle, depends only on the pixels, the codec and the
// JPEG quality. Viewers that are in sync send the same rectangles of the same framebuffer
// generation, so the first one encodes and the others reuse its bytes. A viewer that lags
// flushes at a later generation and encodes its own coalesced update. Entries live for one
// generation: the next applied update invalidates them all. A watermarked viewer's regions carry
// its stamp, so the watermark's identity is part of the key: viewers with the same watermark
// text share, others encode their own.
import type { Framebuffer } from './framebuffer.ts';

export type ImageCodec = 'png' | 'jpeg';

export interface RegionRequest {
  x: number;
  y: number;
  w: number;
  h: number;
  /** Lossless required (refinement): part of the key, since it forces PNG. */
  lossless: boolean;
  jpegQuality: number;
  /** Identity of the watermark stamped into the region (Watermark.id), null for none. */
  watermark: string | null;
  /** Picks the codec; called only when no viewer has encoded this region in this generation. */
  choose(): ImageCodec;
  encode(codec: ImageCodec, jpegQuality: number): Buffer;
}

export interface RegionResult {
  codec: ImageCodec;
  data: Buffer;
  /** True when another viewer's encoding was reused. */
  reused: boolean;
}

interface CachedRegion {
  codec: ImageCodec;
  /** Encoded bytes by JPEG quality (PNG is stored under 0). */
  data: Map<number, Buffer>;
}

/** At most this many regions are kept per generation (a full frame at 1024x768 needs ~30). */
const MAX_ENTRIES = 256;

export class RegionCache {
  /** Regions encoded and regions reused, since creation. */
  encoded = 0;
  reused = 0;
  private epoch = -1;
  private generation = -1;
  private readonly entries = new Map<string, CachedRegion>();

  /** Returns the region encoded, reusing an encoding of the same pixels when there is one. */
  get(fb: Framebuffer, request: RegionRequest): RegionResult {
    if (fb.epoch !== this.epoch || fb.generation !== this.generation) {
      this.entries.clear();
      this.epoch = fb.epoch;
      this.generation = fb.generation;
    }
    let key = `${request.x},${request.y},${request.w},${request.h},${request.lossless ? 1 : 0}`;
    if (request.watermark !== null) key += `\n${request.watermark}`;
    let entry = this.entries.get(key);
    if (!entry) {
      // The codec choice is shared too: it samples pixels and decays change rates with time,
      // so a second viewer deciding again could pick the other codec and miss the cache.
      entry = { codec: request.choose(), data: new Map() };
      if (this.entries.size < MAX_ENTRIES) this.entries.set(key, entry);
    }
    const quality = entry.codec === 'jpeg' ? request.jpegQuality : 0;
    const cached = entry.data.get(quality);
    if (cached) {
      this.reused++;
      return { codec: entry.codec, data: cached, reused: true };
    }
    const data = request.encode(entry.codec, request.jpegQuality);
    entry.data.set(quality, data);
    this.encoded++;
    return { codec: entry.codec, data, reused: false };
  }
}
