// Prometheus metrics of one gateway instance (its own registry, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'gateway_' });
  const registers = [registry];
  return {
    registry,
    sessions: new Gauge({
      name: 'gateway_sessions',
      help: 'Attached viewer sessions',
      labelNames: ['mode'] as const,
      registers,
    }),
    feeds: new Gauge({ name: 'gateway_feeds', help: 'VM displays being watched', registers }),
    attaches: new Counter({
      name: 'gateway_attaches_total',
      help: 'Accepted attaches',
      labelNames: ['mode'] as const,
      registers,
    }),
    takeovers: new Counter({
      name: 'gateway_takeovers_total',
      help: 'Control sessions taken over by another endpoint',
      registers,
    }),
    authFailures: new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Handshakes refused',
      labelNames: ['reason'] as const,
      registers,
    }),
    framesSent: new Counter({
      name: 'gateway_frames_sent_total',
      help: 'Display frames sent to viewers',
      registers,
    }),
    bytesSent: new Counter({
      name: 'gateway_display_bytes_sent_total',
      help: 'Encoded display bytes sent',
      labelNames: ['encoding'] as const,
      registers,
    }),
    encodeSeconds: new Histogram({
      name: 'gateway_encode_seconds',
      help: 'Time to diff and encode one frame for one viewer',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
      registers,
    }),
    regions: new Counter({
      name: 'gateway_image_regions_total',
      help: 'PNG/JPEG regions sent: encoded, or reused from another viewer of the same VM',
      labelNames: ['outcome'] as const,
      registers,
    }),
    keyframeBlocks: new Counter({
      name: 'gateway_keyframe_blocks_total',
      help: "Blocks of full frames sent from a VM's keyframe cache: encoded then, or reused as kept",
      labelNames: ['outcome'] as const,
      registers,
    }),
    lagSeconds: new Histogram({
      name: 'gateway_frame_ack_seconds',
      help: 'Send-to-ack time of display frames',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 5],
      registers,
    }),
    protocolErrors: new Counter({
      name: 'gateway_protocol_errors_total',
      help: 'Client messages refused',
      labelNames: ['code'] as const,
      registers,
    }),
    inputEvents: new Counter({
      name: 'gateway_input_events_total',
      help: 'Input events relayed to hypervisors',
      labelNames: ['kind'] as const,
      registers,
    }),
    eventPostFailures: new Counter({
      name: 'gateway_event_post_failures_total',
      help: 'Session events the portal did not accept',
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
