// The portal's connection to the hypervisor host(s), through the hypervisor's own typed client.
import { HypervisorClient, HypervisorError } from '@raydesk/hypervisor/api';
import { config } from './config.ts';
import { HttpError } from './http.ts';

export { HypervisorError };

const holder = globalThis as unknown as { __raydeskHv?: HypervisorClient };

export function hypervisorUrl(): string {
  const c = config();
  return `http://${c.HYPERVISOR_HOST}:${c.HYPERVISOR_PORT}`;
}

function client(): HypervisorClient {
  holder.__raydeskHv ??= new HypervisorClient({
    url: hypervisorUrl(),
    secret: config().HYPERVISOR_SECRET,
    timeoutMs: 120_000,
  });
  return holder.__raydeskHv;
}

/** A connected client, or a 503 the person can understand. */
export async function hypervisor(waitMs = 3_000): Promise<HypervisorClient> {
  const c = client();
  try {
    await c.connected(waitMs);
  } catch {
    throw new HttpError(
      503,
      'hypervisor_unavailable',
      'The virtual machine host is not reachable right now. Try again in a moment.',
    );
  }
  return c;
}

export function isHypervisorError(error: unknown, code?: string): error is HypervisorError {
  return (
    error instanceof Error &&
    error.name === 'HypervisorError' &&
    (code === undefined || (error as HypervisorError).code === code)
  );
}
