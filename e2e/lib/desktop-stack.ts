// The whole stack for an e2e test on free loopback ports: a real hypervisor and gateway in this
// process, and the portal (its production build) as a child on a throwaway database, reached by
// browsers as vdi.example.test (see @raydesk/web/testing).
import { createGateway, type Gateway, type GatewayConfig } from '@raydesk/gateway/server';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { loadRootEnv } from '@raydesk/common/node';
import { CHROMIUM, CHROMIUM_ARGS } from '@raydesk/viewer/testing';
import {
  freePort,
  hashPassword,
  PORTAL_HOST_RESOLVER_RULE,
  startPortalServer,
  type PortalServer,
} from '@raydesk/web/testing';
import { chromium, type Browser } from 'playwright-core';

export interface DesktopStack {
  hypervisor: RunningHypervisor;
  gateway: Gateway;
  portal: PortalServer;
  /** Where the gateway listens (loopback), and the secret its attach tokens are signed with. */
  gatewayUrl: string;
  attachSecret: string;
  /** Stops the portal, then the gateway, then the hypervisor. */
  close(): Promise<void>;
}

/** `name` only labels the secrets, so two stacks' logs are told apart. */
export async function startDesktopStack(
  name: string,
  admin: { email: string; password: string },
  /** More gateway settings (e.g. `recording`). */
  gatewayConfig: Partial<GatewayConfig> = {},
): Promise<DesktopStack> {
  loadRootEnv();
  const port = await freePort();
  const gatewaySecret = `${name}-gateway-secret-${Date.now()}`;
  const attachSecret = `${name}-attach-secret-0123456789abcdef-${Date.now()}`;
  const hypervisor = await startEphemeralHypervisor();
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: gatewaySecret,
      attachTokenSecret: attachSecret,
      hypervisorUrl: hypervisor.url,
      hypervisorSecret: hypervisor.config.secret,
      portalInternalUrl: `http://127.0.0.1:${port}`,
      allowedOrigins: [],
      logLevel: 'warn',
      ...gatewayConfig,
    },
  });
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  const portal = await startPortalServer({
    port,
    hypervisor: { port: hypervisor.config.port, secret: hypervisor.config.secret },
    gatewayUrl,
    gatewaySecret,
    attachSecret,
    admin,
  });
  return {
    hypervisor,
    gateway,
    portal,
    gatewayUrl,
    attachSecret,
    async close() {
      await portal.close();
      await gateway.close();
      await hypervisor.close();
    },
  };
}

/** A user's browser on another computer: Debian's Chromium, the portal's host name mapped. */
export function launchUserBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, PORTAL_HOST_RESOLVER_RULE],
  });
}

/** A portal user who signs in with a password. */
export async function addPasswordUser(
  portal: PortalServer,
  user: { email: string; name: string; password: string },
): Promise<void> {
  await portal.db.user.create({
    data: { email: user.email, name: user.name, passwordHash: await hashPassword(user.password) },
  });
}
