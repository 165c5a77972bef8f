// The parts `npm start` supervises, as process specs: the hypervisor daemon, the display gateway
// and the portal, each in its own process with a health URL the supervisor waits for after every
// (re)start. The fault tests run the very same specs on a throwaway environment.
import { join } from 'node:path';
import { REPO_ROOT } from '@raydesk/common/node';
import type { ProcessSpec } from './processes.ts';

/** Where a service bound to `host` can be reached from this machine. */
function local(host: string | undefined, fallback: string): string {
  const value = host || fallback;
  return value === '0.0.0.0' || value === '::' ? '127.0.0.1' : value;
}

/**
 * `env` is the complete environment of every part (the root .env already applied, or a test's
 * own settings). TypeScript parts run as `node --import tsx`, so the supervised process is the
 * program itself, not a wrapper that would outlive a `kill -9`.
 */
export function stackParts(env: NodeJS.ProcessEnv): ProcessSpec[] {
  const tsx = (entry: string) => ['--import', 'tsx', join(REPO_ROOT, entry)];
  const hypervisorHealth = `http://${local(env.HYPERVISOR_HOST, '127.0.0.1')}:${env.HYPERVISOR_PORT ?? 7420}/healthz`;
  const gatewayHealth = `http://${local(env.GATEWAY_HOST, '127.0.0.1')}:${env.GATEWAY_PORT ?? 7421}/healthz`;
  const portalHealth = `http://${local(env.PORTAL_BIND, '127.0.0.1')}:${env.PORT ?? 3000}/api/health`;
  return [
    {
      name: 'hypervisor',
      command: process.execPath,
      args: tsx('hypervisor/src/host/main.ts'),
      cwd: REPO_ROOT,
      env,
      healthUrl: hypervisorHealth,
      // On stop it saves every running personal desktop to disk first; give it time to.
      stopGraceMs: 5 * 60_000,
    },
    {
      name: 'gateway',
      command: process.execPath,
      args: tsx('gateway/src/main.ts'),
      cwd: REPO_ROOT,
      env,
      healthUrl: gatewayHealth,
    },
    {
      name: 'web',
      command: process.execPath,
      args: [join(REPO_ROOT, 'web/server.mjs')],
      cwd: REPO_ROOT,
      env: { NODE_ENV: 'production', ...env },
      healthUrl: portalHealth,
    },
  ];
}
