// Posts recording events to the portal (POST ${PORTAL_INTERNAL_URL}/api/internal/recording-events,
// bearer GATEWAY_SECRET), which keeps the Recording rows. A failed post is tried again a few
// times: a recording the portal never heard of would be invisible in the admin console.
import type { Logger } from 'pino';
import type { RecordingEvent } from '../protocol/recording.ts';
import type { RecordingReporter } from './store.ts';

const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

export function portalRecordingReporter(
  portalUrl: string | null,
  secret: string,
  log: Logger,
): RecordingReporter {
  return (event) => {
    log.info(
      { type: event.type, id: 'id' in event ? event.id : event.start.id },
      'recording event',
    );
    if (!portalUrl) return;
    const post = (attempt: number): void => {
      fetch(`${portalUrl}/api/internal/recording-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify(event satisfies RecordingEvent),
        signal: AbortSignal.timeout(5_000),
      })
        .then((res) => {
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
        })
        .catch((error: unknown) => {
          const delay = RETRY_DELAYS_MS[attempt];
          log.warn(
            { type: event.type, err: String(error), retry: delay ?? null },
            'recording event not posted',
          );
          if (delay !== undefined) setTimeout(() => post(attempt + 1), delay).unref();
        });
    };
    post(0);
  };
}
