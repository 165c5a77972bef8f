// Gateway settings from the environment (main.ts loads the repository's .env first; real
// variables win).
import { secretSchema } from '@raydesk/common';
import { resolveRepoPath } from '@raydesk/common/node';
import { z } from 'zod';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from './sessions/admission.ts';
import { DEFAULT_SMALL_UPDATE_TILES } from './sessions/pacing.ts';
import { POLICY_MINUTE_MS } from './sessions/session.ts';

const schema = z.object({
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(7421),
  GATEWAY_SECRET: secretSchema('GATEWAY_SECRET'),
  ATTACH_TOKEN_SECRET: secretSchema('ATTACH_TOKEN_SECRET'),
  HYPERVISOR_URL: z.url().optional(),
  HYPERVISOR_HOST: z.string().min(1).default('127.0.0.1'),
  HYPERVISOR_PORT: z.coerce.number().int().min(1).max(65535).default(7420),
  HYPERVISOR_SECRET: secretSchema('HYPERVISOR_SECRET'),
  /** Id of the hypervisor at HYPERVISOR_URL (the host of VMs whose tokens name none). */
  HYPERVISOR_ID: z.string().min(1).default('local'),
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
  /** Updates of at most this many 64x64 tiles skip the frame interval; 0 = none do. */
  GATEWAY_SMALL_UPDATE_TILES: z.coerce.number().int().min(0).default(DEFAULT_SMALL_UPDATE_TILES),
  /** Length of a policy minute (idle timeout, session length), ms. Tests shorten it. */
  GATEWAY_POLICY_MINUTE_MS: z.coerce
    .number()
    .int()
    .min(50, 'at least 50 ms')
    .max(POLICY_MINUTE_MS, `at most ${POLICY_MINUTE_MS} ms (a minute)`)
    .default(POLICY_MINUTE_MS),
  /** `on`: register in the fleet registry (DATABASE_URL) and join the other gateways (REDIS_URL). */
  FLEET: z.enum(['on', 'off']).default('off'),
  /** This gateway's id in the registry and in the portal's path /gateway/<id>/socket.io. */
  GATEWAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
    .default('gateway'),
  /** Where the portal's proxy reaches this gateway (default http://GATEWAY_HOST:GATEWAY_PORT). */
  GATEWAY_INTERNAL_URL: z.union([z.url(), z.literal('')]).default(''),
  DATABASE_URL: z.string().default(''),
  REDIS_URL: z.union([z.url(), z.literal('')]).default(''),
  FLEET_HEARTBEAT_SECONDS: z.coerce.number().min(0.2).max(60).default(3),
  RAYDESK_DATA_DIR: z.string().min(1).default('./data'),
  /** Session recordings; default ${RAYDESK_DATA_DIR}/recordings. */
  RECORDING_DIR: z.string().default(''),
  /** Recordings older than this are deleted; 0 keeps them. */
  RECORDING_RETENTION_DAYS: z.coerce.number().min(0).max(3650).default(30),
  /** The oldest recordings are deleted while all of them take more; 0: no cap. */
  RECORDING_MAX_TOTAL_MB: z.coerce.number().int().min(0).default(20_480),
  /** A keyframe (a full picture, for seeking) at least this often while the screen changes. */
  RECORDING_KEYFRAME_SECONDS: z.coerce.number().min(1).max(600).default(20),
  /** Record the viewer's key, pointer and wheel events too. */
  RECORDING_INPUT: z.enum(['on', 'off']).default('off'),
});

/** Where and how sessions whose policy says `recording` are recorded (recording/store.ts). */
export interface GatewayRecordingConfig {
  dir: string;
  retentionDays: number;
  maxTotalBytes: number;
  keyframeMs: number;
  input: boolean;
}

export interface GatewayFleetConfig {
  id: string;
  /** Empty: http://host:port as listened on. */
  internalUrl: string | null;
  databaseUrl: string;
  redisUrl: string;
  heartbeatMs: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  secret: string;
  attachTokenSecret: string;
  hypervisorUrl: string;
  hypervisorSecret: string;
  /** Id of the hypervisor at hypervisorUrl; default 'local'. */
  hypervisorId?: string;
  portalInternalUrl: string | null;
  allowedOrigins: string[];
  logLevel: string;
  /** Viewer session caps; default DEFAULT_SESSION_LIMITS. */
  sessionLimits?: SessionLimits;
  /** Updates this small go to a viewer at once when nothing is in flight; default 16, 0 = off. */
  smallUpdateTiles?: number;
  /** Length of a policy minute, ms; default 60 000 (tests shorten it). */
  policyMinuteMs?: number;
  /** Set with FLEET=on: the registry and the Redis adapter. */
  fleet?: GatewayFleetConfig;
  /** Absent: a session whose policy asks to be recorded is refused. */
  recording?: GatewayRecordingConfig;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid gateway configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  if (c.FLEET === 'on' && !/^postgres(ql)?:\/\//.test(c.DATABASE_URL))
    throw new Error('invalid gateway configuration: FLEET=on needs DATABASE_URL=postgresql://…');
  if (c.FLEET === 'on' && !c.REDIS_URL)
    throw new Error('invalid gateway configuration: FLEET=on needs REDIS_URL=redis://…');
  return {
    host: c.GATEWAY_HOST,
    port: c.GATEWAY_PORT,
    secret: c.GATEWAY_SECRET,
    attachTokenSecret: c.ATTACH_TOKEN_SECRET,
    hypervisorUrl: c.HYPERVISOR_URL ?? `http://${c.HYPERVISOR_HOST}:${c.HYPERVISOR_PORT}`,
    hypervisorSecret: c.HYPERVISOR_SECRET,
    hypervisorId: c.HYPERVISOR_ID,
    portalInternalUrl: c.PORTAL_INTERNAL_URL ? c.PORTAL_INTERNAL_URL.replace(/\/+$/, '') : null,
    allowedOrigins: c.GATEWAY_ALLOWED_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: c.LOG_LEVEL,
    sessionLimits: {
      maxPerUser: c.GATEWAY_MAX_SESSIONS_PER_USER,
      maxPerVm: c.GATEWAY_MAX_SESSIONS_PER_VM,
    },
    smallUpdateTiles: c.GATEWAY_SMALL_UPDATE_TILES,
    recording: {
      dir: resolveRepoPath(c.RECORDING_DIR || `${c.RAYDESK_DATA_DIR}/recordings`),
      retentionDays: c.RECORDING_RETENTION_DAYS,
      maxTotalBytes: c.RECORDING_MAX_TOTAL_MB * 1024 * 1024,
      keyframeMs: c.RECORDING_KEYFRAME_SECONDS * 1000,
      input: c.RECORDING_INPUT === 'on',
    },
    policyMinuteMs: c.GATEWAY_POLICY_MINUTE_MS,
    ...(c.FLEET === 'on'
      ? {
          fleet: {
            id: c.GATEWAY_ID,
            internalUrl: c.GATEWAY_INTERNAL_URL ? c.GATEWAY_INTERNAL_URL.replace(/\/+$/, '') : null,
            databaseUrl: c.DATABASE_URL,
            redisUrl: c.REDIS_URL,
            heartbeatMs: c.FLEET_HEARTBEAT_SECONDS * 1000,
          },
        }
      : {}),
  };
}
