// Per-client adaptation: from the measured send-to-ack time of frames ("lag") pick the JPEG
// quality and the minimum interval between frames. Lag is smoothed (EWMA) and tiers have
// hysteresis so quality does not flap.

export interface QualityTier {
  /** Upper bound of smoothed lag for this tier, ms. */
  maxLagMs: number;
  jpegQuality: number;
  /** Minimum ms between two frames to this client. */
  minIntervalMs: number;
}

export const QUALITY_TIERS: readonly QualityTier[] = [
  { maxLagMs: 80, jpegQuality: 80, minIntervalMs: 33 },
  { maxLagMs: 200, jpegQuality: 65, minIntervalMs: 50 },
  { maxLagMs: 400, jpegQuality: 50, minIntervalMs: 100 },
  { maxLagMs: 800, jpegQuality: 40, minIntervalMs: 200 },
  { maxLagMs: Infinity, jpegQuality: 30, minIntervalMs: 333 },
];

export class LagController {
  lagMs = 0;
  private tier = 0;
  private samples = 0;

  /** Records one frame's send-to-ack time. */
  observe(rttMs: number): void {
    const sample = Math.max(0, Math.min(rttMs, 60_000));
    this.lagMs = this.samples === 0 ? sample : this.lagMs * 0.7 + sample * 0.3;
    this.samples++;
    // Move down (worse) as soon as lag exceeds the tier; move up only when clearly below the
    // better tier's bound (hysteresis 25%).
    while (this.tier < QUALITY_TIERS.length - 1 && this.lagMs > QUALITY_TIERS[this.tier]!.maxLagMs)
      this.tier++;
    while (this.tier > 0 && this.lagMs < QUALITY_TIERS[this.tier - 1]!.maxLagMs * 0.75) this.tier--;
  }

  /** Lag of a frame still unacknowledged counts as soon as it exceeds the smoothed value. */
  observePending(elapsedMs: number): void {
    if (elapsedMs > this.lagMs * 2 && elapsedMs > QUALITY_TIERS[this.tier]!.maxLagMs) {
      this.observe(elapsedMs);
    }
  }

  get current(): QualityTier {
    return QUALITY_TIERS[this.tier]!;
  }
}
