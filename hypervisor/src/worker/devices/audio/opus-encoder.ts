// Mono float samples to Opus packets of a fixed duration (opusscript: libopus compiled to
// wasm, so nothing native is installed on the host).
import OpusScript from 'opusscript';
import { AUDIO_FORMAT } from '../../../api/protocol.ts';

export const OPUS_SAMPLE_RATE = AUDIO_FORMAT.sampleRate;
/** 20 ms: Opus's usual packet length, short enough to keep the viewer's buffer small. */
export const OPUS_FRAME_SAMPLES = AUDIO_FORMAT.frameSamples;
export const OPUS_BITRATE = 32_000;

export class OpusFrameEncoder {
  private readonly opus = new OpusScript(OPUS_SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  private readonly pending = Buffer.alloc(OPUS_FRAME_SAMPLES * 2);
  private pendingSamples = 0;

  constructor(bitrate = OPUS_BITRATE) {
    this.opus.setBitrate(bitrate);
  }

  /** Encodes every full frame the samples complete; the rest waits for the next call. */
  push(samples: Float32Array): Buffer[] {
    const packets: Buffer[] = [];
    for (const sample of samples) {
      const clamped = Math.max(-1, Math.min(1, sample));
      this.pending.writeInt16LE(Math.round(clamped * 32767), this.pendingSamples * 2);
      if (++this.pendingSamples === OPUS_FRAME_SAMPLES) {
        packets.push(Buffer.from(this.opus.encode(this.pending, OPUS_FRAME_SAMPLES)));
        this.pendingSamples = 0;
      }
    }
    return packets;
  }

  delete(): void {
    this.opus.delete();
  }
}
