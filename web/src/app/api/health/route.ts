import type { NextRequest } from 'next/server';
import { optionalUser } from '@/server/auth/request';
import { hasServiceBearer } from '@/server/auth/service';
import { config } from '@/server/config';
import { db } from '@/server/db';
import { gatewayHealth } from '@/server/gateway';
import { json } from '@/server/http';
import { hypervisor } from '@/server/hypervisor';
import { providerOf } from '@raydesk/db/url';

export const dynamic = 'force-dynamic';

const started = Date.now();

/**
 * Liveness of the portal and everything it depends on. 200 when web + database are up.
 * Anonymous callers (load balancers, uptime probes) learn up or down per part and nothing else;
 * the details (VM counts, memory, latencies) go to signed-in admins and to callers with the
 * service bearer (GATEWAY_SECRET).
 */
export async function GET(req: NextRequest): Promise<Response> {
  const web = { ok: true, uptimeSeconds: Math.round((Date.now() - started) / 1000) };
  const database = await (async () => {
    const t = Date.now();
    try {
      await db().user.count();
      return { ok: true, provider: providerOf(config().databaseUrl), latencyMs: Date.now() - t };
    } catch {
      return { ok: false, provider: providerOf(config().databaseUrl), error: 'not reachable' };
    }
  })();
  const [gateway, hv] = await Promise.all([
    gatewayHealth(),
    (async () => {
      try {
        const info = await (await hypervisor(1_500)).hostInfo();
        return {
          ok: true,
          hostId: info.hostId,
          running: info.running,
          memoryUsedMiB: info.memoryUsedMiB,
          memoryBudgetMiB: info.memoryBudgetMiB,
        };
      } catch {
        return { ok: false, error: 'not reachable' };
      }
    })(),
  ]);
  const ok = web.ok && database.ok;
  const status = ok && gateway.ok && hv.ok ? 'ok' : ok ? 'degraded' : 'down';
  const detailed =
    hasServiceBearer(req.headers) || (await optionalUser(req).catch(() => null))?.role === 'admin';
  const body = detailed
    ? { status, web, database, gateway, hypervisor: hv }
    : {
        status,
        web: { ok: web.ok },
        database: { ok: database.ok },
        gateway: { ok: gateway.ok },
        hypervisor: { ok: hv.ok },
      };
  return json(body, { status: ok ? 200 : 503 });
}
