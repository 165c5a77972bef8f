// Hypervisor settings, read once from the environment (and the repository's .env file).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { applianceNameSchema, type ApplianceName } from './api/protocol.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let envLoaded = false;
/** Loads the repository's .env once; variables already set in the environment win. */
export function loadDotEnv(): void {
  if (envLoaded) return;
  envLoaded = true;
  const file = join(REPO_ROOT, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

function expandPath(value: string): string {
  const expanded = value.startsWith('~/') ? join(homedir(), value.slice(2)) : value;
  return isAbsolute(expanded) ? expanded : resolve(REPO_ROOT, expanded);
}

const configSchema = z.object({
  RAYDESK_CACHE_DIR: z.string().default('~/.cache/raydesk').transform(expandPath),
  RAYDESK_DATA_DIR: z.string().default('./data').transform(expandPath),
  HYPERVISOR_HOST: z.string().default('127.0.0.1'),
  HYPERVISOR_PORT: z.coerce.number().int().min(0).max(65535).default(7420),
  HYPERVISOR_SECRET: z.string().min(8, 'HYPERVISOR_SECRET must be at least 8 characters'),
  HYPERVISOR_ID: z.string().default('local'),
  HOST_MEMORY_BUDGET_MIB: z.coerce.number().int().min(64).default(4096),
  DISPLAY_FPS: z.coerce.number().min(1).max(60).default(30),
  SEABIOS_DIR: z.string().default('/usr/share/seabios'),
  STANDBY_APPLIANCES: z
    .string()
    .default('desktop,browser')
    .transform((value) => value.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(applianceNameSchema)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface HypervisorConfig {
  cacheDir: string;
  dataDir: string;
  host: string;
  port: number;
  secret: string;
  hostId: string;
  memoryBudgetMiB: number;
  displayFps: number;
  seabiosDir: string;
  logLevel: string;
  /** Appliances that keep a paused, ready VM so a new one starts in about a second. */
  standbyAppliances: ApplianceName[];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HypervisorConfig {
  loadDotEnv();
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid hypervisor configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  return {
    cacheDir: c.RAYDESK_CACHE_DIR,
    dataDir: c.RAYDESK_DATA_DIR,
    host: c.HYPERVISOR_HOST,
    port: c.HYPERVISOR_PORT,
    secret: c.HYPERVISOR_SECRET,
    hostId: c.HYPERVISOR_ID,
    memoryBudgetMiB: c.HOST_MEMORY_BUDGET_MIB,
    displayFps: c.DISPLAY_FPS,
    seabiosDir: c.SEABIOS_DIR,
    logLevel: c.LOG_LEVEL,
    standbyAppliances: c.STANDBY_APPLIANCES,
  };
}
