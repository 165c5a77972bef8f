// Abuse limits for client sockets: message size estimate, input token bucket, strike counter.

/**
 * Approximate encoded size of a decoded socket.io argument, in bytes. Stops walking once the
 * budget is exceeded (returns budget + 1), so hostile deep or wide payloads cost little.
 */
export function approxSize(value: unknown, budget: number, depth = 0): number {
  if (depth > 8) return budget + 1;
  if (value === null || value === undefined) return 4;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'boolean':
      return 8;
    case 'object': {
      if (ArrayBuffer.isView(value)) return value.byteLength;
      if (value instanceof ArrayBuffer) return value.byteLength;
      let total = 2;
      if (Array.isArray(value)) {
        for (const item of value) {
          total += approxSize(item, budget - total, depth + 1) + 1;
          if (total > budget) return budget + 1;
        }
        return total;
      }
      for (const key of Object.keys(value)) {
        total += key.length + 3;
        total += approxSize((value as Record<string, unknown>)[key], budget - total, depth + 1);
        if (total > budget) return budget + 1;
      }
      return total;
    }
    default:
      return 8;
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts strikes in a sliding window; `add` returns how many are left before the limit. */
export class StrikeCounter {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  add(now = Date.now()): number {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    this.times.push(now);
    return Math.max(0, this.max - this.times.length);
  }
}
