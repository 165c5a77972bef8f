// Publishes session events to the portal (POST ${PORTAL_INTERNAL_URL}/api/internal/gateway-events
// with the bearer GATEWAY_SECRET). Best effort: failures are logged and counted, never fatal.
// Events are also kept in a small ring buffer and handed to in-process listeners (tests, audit).
import type { Logger } from 'pino';
import type { GatewayEvent } from './protocol/internal.ts';
import type { GatewayMetrics } from './metrics.ts';

export class EventPublisher {
  readonly recent: GatewayEvent[] = [];
  private readonly listeners = new Set<(event: GatewayEvent) => void>();
  private inflight = 0;

  constructor(
    private readonly portalUrl: string | null,
    private readonly secret: string,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
  ) {}

  on(listener: (event: GatewayEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: GatewayEvent): void {
    this.recent.push(event);
    if (this.recent.length > 200) this.recent.shift();
    this.log.info({ event }, `session ${event.type}`);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // listeners are observers; never let one break publishing
      }
    }
    if (!this.portalUrl) return;
    if (this.inflight > 100) {
      this.metrics.eventPostFailures.inc();
      this.log.warn({ type: event.type }, 'portal event backlog full; event dropped');
      return;
    }
    this.inflight++;
    fetch(`${this.portalUrl}/api/internal/gateway-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.secret}` },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(3000),
    })
      .then((res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      })
      .catch((error: unknown) => {
        this.metrics.eventPostFailures.inc();
        this.log.warn(
          { type: event.type, err: String(error) },
          'posting session event to the portal failed',
        );
      })
      .finally(() => {
        this.inflight--;
      });
  }
}
