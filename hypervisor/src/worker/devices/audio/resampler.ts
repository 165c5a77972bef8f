// Stereo float samples from v86's DAC to mono at the encoder's rate, by linear interpolation.
// The guest picks its rate (speaker-test 22.05 kHz, a media player 44.1 or 48 kHz); Opus takes
// 8/12/16/24/48 kHz, so the stream is converted once here, carrying the phase across chunks.
export class MonoResampler {
  /** Position of the next output sample in input samples; -1 is the previous chunk's last. */
  private position = 0;
  private previous = 0;
  private readonly step: number;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
  ) {
    if (!(inputRate > 0 && outputRate > 0)) throw new Error('sample rates must be positive');
    this.step = inputRate / outputRate;
  }

  /** Resamples one chunk of left/right samples (equal lengths, -1..1) to mono. */
  push(left: Float32Array, right: Float32Array): Float32Array {
    const length = Math.min(left.length, right.length);
    if (length === 0) return new Float32Array(0);
    const out = new Float32Array(Math.ceil((length - this.position) / this.step) + 1);
    let count = 0;
    while (this.position < length - 1) {
      const index = Math.floor(this.position);
      const frac = this.position - index;
      const a = index < 0 ? this.previous : (left[index]! + right[index]!) / 2;
      const b = (left[index + 1]! + right[index + 1]!) / 2;
      out[count++] = a + (b - a) * frac;
      this.position += this.step;
    }
    this.position -= length;
    this.previous = (left[length - 1]! + right[length - 1]!) / 2;
    return out.subarray(0, count);
  }
}
