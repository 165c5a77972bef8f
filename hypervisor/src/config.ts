// Hypervisor settings, read once from the environment (and the repository's .env file).
import { secretSchema } from '@raydesk/common';
import { loadRootEnv, resolveRepoPath } from '@raydesk/common/node';
import { z } from 'zod';
import { applianceNameSchema, type ApplianceName } from './api/protocol.ts';
import { parseAllowlist, type EgressPolicyConfig } from './network/policy.ts';
import { DEFAULT_JIT_MAX_PAGES } from './worker/jit-config.ts';

const allowlistSchema = z
  .string()
  .default('')
  .transform((value, ctx) => {
    try {
      return parseAllowlist(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const configSchema = z.object({
  RAYDESK_CACHE_DIR: z.string().default('~/.cache/raydesk').transform(resolveRepoPath),
  RAYDESK_DATA_DIR: z.string().default('./data').transform(resolveRepoPath),
  HYPERVISOR_HOST: z.string().default('127.0.0.1'),
  HYPERVISOR_PORT: z.coerce.number().int().min(0).max(65535).default(7420),
  HYPERVISOR_SECRET: secretSchema('HYPERVISOR_SECRET'),
  HYPERVISOR_ID: z.string().default('local'),
  HOST_MEMORY_BUDGET_MIB: z.coerce.number().int().min(64).default(4096),
  DISPLAY_FPS: z.coerce.number().min(1).max(60).default(30),
  DISPLAY_MAX_FPS: z.coerce.number().min(0).max(120).default(60),
  V86_JIT_MAX_PAGES: z.coerce.number().int().min(1).max(8).default(DEFAULT_JIT_MAX_PAGES),
  SEABIOS_DIR: z.string().default('/usr/share/seabios'),
  STANDBY_APPLIANCES: z
    .string()
    .default('desktop,browser')
    .transform((value) =>
      value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean),
    )
    .pipe(z.array(applianceNameSchema)),
  /** Suspend a personal VM to disk after this long without a viewer; 0 never does. */
  IDLE_SUSPEND_SECONDS: z.coerce.number().int().min(0).default(900),
  /** Egress allowlists (CIDR with optional port), for every kind and per kind. */
  NETWORK_ALLOWLIST: allowlistSchema,
  NETWORK_ALLOWLIST_PERSONAL: allowlistSchema,
  NETWORK_ALLOWLIST_DISPOSABLE: allowlistSchema,
  NETWORK_ALLOWLIST_SYSTEM: allowlistSchema,
  /** Ports disposable VMs may reach on public addresses. */
  NETWORK_DISPOSABLE_PORTS: z
    .string()
    .default('80,443')
    .transform((value) =>
      value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
        .map(Number),
    )
    .pipe(z.array(z.number().int().min(1).max(65535))),
  /** The credit CPU scheduler (weights, caps, fair shares); `off` lets every VM run unlimited. */
  SCHEDULER: z.enum(['on', 'off']).default('on'),
  /** Host cores kept out of the guests' share for the daemon, gateway and portal. */
  SCHED_RESERVE_CORES: z.coerce.number().min(0).max(64).default(0.5),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `on`: this host is one of a fleet and registers in the PostgreSQL at DATABASE_URL. */
  FLEET: z.enum(['on', 'off']).default('off'),
  DATABASE_URL: z.string().optional(),
  /** Where the fleet's portals, gateways and peer hosts reach this host's control channel. */
  HYPERVISOR_PUBLIC_URL: z.url().optional(),
  /** Seconds between heartbeats in a fleet (a host is offline after 10 s without one). */
  FLEET_HEARTBEAT_SECONDS: z.coerce.number().min(0.5).max(5).default(3),
});

export interface HypervisorConfig {
  cacheDir: string;
  dataDir: string;
  host: string;
  port: number;
  secret: string;
  hostId: string;
  memoryBudgetMiB: number;
  /** The display's frame clock while watched: a frame at least this often when the screen changed. */
  displayFps: number;
  /** Frames as soon as the guest drew, at most this many a second; 0 = only the clock. */
  displayMaxFps: number;
  /** Guest pages per wasm module of v86's JIT (worker/jit-config.ts). */
  jitMaxPages: number;
  seabiosDir: string;
  logLevel: string;
  /** Appliances that keep a paused, ready VM so a new one starts in about a second. */
  standbyAppliances: ApplianceName[];
  /** Credit scheduler on/off, and host cores reserved for everything that is not a guest. */
  scheduler: boolean;
  schedReserveCores: number;
  /** Seconds a personal VM may run with no viewer before it is suspended to disk; 0 = never. */
  idleSuspendSeconds: number;
  /** Egress policy of the virtual switch (see network/policy.ts). */
  network: EgressPolicyConfig;
  /** Fleet registration (FLEET=on); null in the embedded default. */
  fleet?: FleetSettings | null;
}

export interface FleetSettings {
  databaseUrl: string;
  /** Control URL others use; null: http://HYPERVISOR_HOST:<listening port>. */
  publicUrl: string | null;
  heartbeatMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HypervisorConfig {
  loadRootEnv();
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid hypervisor configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  if (c.FLEET === 'on' && !/^postgres(ql)?:\/\//.test(c.DATABASE_URL ?? '')) {
    throw new Error(
      'invalid hypervisor configuration:\n  FLEET=on needs DATABASE_URL=postgresql://... (the fleet registry)',
    );
  }
  return {
    cacheDir: c.RAYDESK_CACHE_DIR,
    dataDir: c.RAYDESK_DATA_DIR,
    host: c.HYPERVISOR_HOST,
    port: c.HYPERVISOR_PORT,
    secret: c.HYPERVISOR_SECRET,
    hostId: c.HYPERVISOR_ID,
    memoryBudgetMiB: c.HOST_MEMORY_BUDGET_MIB,
    displayFps: c.DISPLAY_FPS,
    displayMaxFps: c.DISPLAY_MAX_FPS,
    jitMaxPages: c.V86_JIT_MAX_PAGES,
    seabiosDir: c.SEABIOS_DIR,
    logLevel: c.LOG_LEVEL,
    standbyAppliances: c.STANDBY_APPLIANCES,
    scheduler: c.SCHEDULER === 'on',
    schedReserveCores: c.SCHED_RESERVE_CORES,
    idleSuspendSeconds: c.IDLE_SUSPEND_SECONDS,
    network: {
      disposablePorts: c.NETWORK_DISPOSABLE_PORTS,
      allowAll: c.NETWORK_ALLOWLIST,
      allowByKind: {
        personal: c.NETWORK_ALLOWLIST_PERSONAL,
        disposable: c.NETWORK_ALLOWLIST_DISPOSABLE,
        system: c.NETWORK_ALLOWLIST_SYSTEM,
      },
    },
    fleet:
      c.FLEET === 'on'
        ? {
            databaseUrl: c.DATABASE_URL!,
            publicUrl: c.HYPERVISOR_PUBLIC_URL ?? null,
            heartbeatMs: c.FLEET_HEARTBEAT_SECONDS * 1000,
          }
        : null,
  };
}
