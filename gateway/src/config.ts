// Gateway settings from the environment (and the repository's .env; real variables win).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from './sessions/admission.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function loadDotEnv(file = join(REPO_ROOT, '.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

const schema = z.object({
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(7421),
  GATEWAY_SECRET: z.string().min(16, 'GATEWAY_SECRET must be at least 16 characters'),
  ATTACH_TOKEN_SECRET: z.string().min(32, 'ATTACH_TOKEN_SECRET must be at least 32 characters'),
  HYPERVISOR_URL: z.url().optional(),
  HYPERVISOR_HOST: z.string().min(1).default('127.0.0.1'),
  HYPERVISOR_PORT: z.coerce.number().int().min(1).max(65535).default(7420),
  HYPERVISOR_SECRET: z.string().min(8, 'HYPERVISOR_SECRET must be at least 8 characters'),
  /** Empty disables posting session events. */
  PORTAL_INTERNAL_URL: z.union([z.url(), z.literal('')]).default('http://127.0.0.1:3000'),
  /** Comma-separated browser origins allowed to open viewer sockets; empty allows any. */
  GATEWAY_ALLOWED_ORIGINS: z.string().default(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Viewer sessions one user may have open at once, over all VMs. */
  GATEWAY_MAX_SESSIONS_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_SESSION_LIMITS.maxPerUser),
  /** Viewer sessions of one VM at once (its controller and view-only shadows). */
  GATEWAY_MAX_SESSIONS_PER_VM: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_SESSION_LIMITS.maxPerVm),
});

export interface GatewayConfig {
  host: string;
  port: number;
  secret: string;
  attachTokenSecret: string;
  hypervisorUrl: string;
  hypervisorSecret: string;
  portalInternalUrl: string | null;
  allowedOrigins: string[];
  logLevel: string;
  /** Viewer session caps; default DEFAULT_SESSION_LIMITS. */
  sessionLimits?: SessionLimits;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid gateway configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  return {
    host: c.GATEWAY_HOST,
    port: c.GATEWAY_PORT,
    secret: c.GATEWAY_SECRET,
    attachTokenSecret: c.ATTACH_TOKEN_SECRET,
    hypervisorUrl: c.HYPERVISOR_URL ?? `http://${c.HYPERVISOR_HOST}:${c.HYPERVISOR_PORT}`,
    hypervisorSecret: c.HYPERVISOR_SECRET,
    portalInternalUrl: c.PORTAL_INTERNAL_URL ? c.PORTAL_INTERNAL_URL.replace(/\/+$/, '') : null,
    allowedOrigins: c.GATEWAY_ALLOWED_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: c.LOG_LEVEL,
    sessionLimits: {
      maxPerUser: c.GATEWAY_MAX_SESSIONS_PER_USER,
      maxPerVm: c.GATEWAY_MAX_SESSIONS_PER_VM,
    },
  };
}
