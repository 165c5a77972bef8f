// The real stack the attack files attack, started as the e2e tests start it: a real hypervisor
// (in this process, throwaway data directory), the real gateway (in this process, talking to
// it) and the real portal (web/server.mjs over the production build, as a child process with a
// throwaway SQLite database; scripts/lib/portal-server.ts). Every part listens on loopback on
// free ports and never touches ./data or a running Raydesk.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pino from 'pino';
import { createGateway, type Gateway } from '@raydesk/gateway/server';
import { HypervisorClient } from '@raydesk/hypervisor/api';
import { startEphemeralHypervisor, type RunningHypervisor } from '@raydesk/hypervisor/host';
import { loadRootEnv } from '@raydesk/common/node';
import {
  freePort,
  PORTAL_BUILD_ID,
  startPortalServer,
  type PortalServer,
  hashPassword,
} from '@raydesk/web/testing';

export interface StackUser {
  email: string;
  password: string;
  name: string;
  role?: 'user' | 'admin';
  disabled?: boolean;
}

export interface Stack {
  hypervisor: RunningHypervisor;
  /** A control-channel client of the hypervisor (the operator's view of the truth). */
  hv: HypervisorClient;
  gateway: Gateway;
  gatewayUrl: string;
  portal: PortalServer;
  secrets: { gateway: string; attach: string; session: string; hypervisor: string };
  admin: StackUser;
  /** Database ids of the users created from `users`, by email. */
  userIds: Map<string, string>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Created in the portal's database besides the seeded administrator. */
  users?: StackUser[];
  /** More portal settings. */
  portalEnv?: NodeJS.ProcessEnv;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  if (!existsSync(PORTAL_BUILD_ID))
    throw new Error('the portal is not built: run `npm run build -w web` first');
  loadRootEnv();
  const port = await freePort();
  const secrets = {
    gateway: `attack-gateway-${randomBytes(12).toString('hex')}`,
    attach: `attack-attach-${randomBytes(24).toString('hex')}`,
    session: `attack-session-${randomBytes(24).toString('hex')}`,
    hypervisor: '',
  };
  const admin: StackUser = {
    email: 'admin@attack.test',
    password: `admin-${randomBytes(9).toString('base64url')}`,
    name: 'Administrator',
    role: 'admin',
  };
  const hypervisor = await startEphemeralHypervisor({
    standbyAppliances: [],
    idleSuspendSeconds: 0,
  });
  secrets.hypervisor = hypervisor.config.secret;
  const hv = new HypervisorClient({ url: hypervisor.url, secret: hypervisor.config.secret });
  const gateway = createGateway({
    config: {
      host: '127.0.0.1',
      port: 0,
      secret: secrets.gateway,
      attachTokenSecret: secrets.attach,
      hypervisorUrl: hypervisor.url,
      hypervisorSecret: hypervisor.config.secret,
      portalInternalUrl: `http://127.0.0.1:${port}`,
      allowedOrigins: [],
      logLevel: 'silent',
    },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  const { url: gatewayUrl } = await gateway.listen(0, '127.0.0.1');
  let portal: PortalServer;
  try {
    portal = await startPortalServer({
      port,
      hypervisor: { port: hypervisor.config.port, secret: hypervisor.config.secret },
      gatewayUrl,
      gatewaySecret: secrets.gateway,
      attachSecret: secrets.attach,
      admin,
      env: {
        SESSION_SECRET: secrets.session,
        // The cheapest appliance backs every VM the portal creates: the attacks are about access.
        PORTAL_DESKTOP_APPLIANCE: 'console',
        PORTAL_BROWSER_APPLIANCE: 'console',
        LOG_LEVEL: 'warn',
        ...options.portalEnv,
      },
    });
  } catch (error) {
    await gateway.close();
    hv.close();
    await hypervisor.close();
    throw error;
  }
  const userIds = new Map<string, string>();
  for (const u of options.users ?? []) {
    const row = await portal.db.user.create({
      data: {
        email: u.email,
        name: u.name,
        role: u.role ?? 'user',
        disabled: u.disabled ?? false,
        passwordHash: await hashPassword(u.password),
        maxVms: 3,
        maxMemoryMiB: 2048,
      },
    });
    userIds.set(u.email, row.id);
  }
  const adminRow = await portal.db.user.findUniqueOrThrow({ where: { email: admin.email } });
  userIds.set(admin.email, adminRow.id);
  return {
    hypervisor,
    hv,
    gateway,
    gatewayUrl,
    portal,
    secrets,
    admin,
    userIds,
    async close() {
      await portal.close();
      await gateway.close();
      hv.close();
      await hypervisor.close();
    },
  };
}
