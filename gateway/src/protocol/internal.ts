// The gateway's internal protocol towards the portal: attach token claims (the portal mints,
// the gateway verifies), the live session table and the session events the gateway POSTs to
// `${PORTAL_INTERNAL_URL}/api/internal/gateway-events`. Types and zod schemas only.
import * as z from 'zod';
import { vmIdSchema, type SessionMode } from './browser.ts';
import { sessionPolicySchema } from './policy.ts';

export const ATTACH_TOKEN_ISSUER = 'raydesk-portal';
export const ATTACH_TOKEN_AUDIENCE = 'raydesk-gateway';
export const ATTACH_TOKEN_ALGORITHM = 'HS256';
/** Suggested lifetime; the gateway refuses tokens that live longer than the max. */
export const ATTACH_TOKEN_TTL_SECONDS = 120;
export const ATTACH_TOKEN_MAX_TTL_SECONDS = 600;
/**
 * Clock skew the gateway allows on `exp`. A token verifies until exp plus this, so the replay
 * cache keeps each jti exactly that long too: both read this one constant.
 */
export const ATTACH_TOKEN_CLOCK_TOLERANCE_SECONDS = 5;

/** A hypervisor host as the portal names it in attach tokens: its id and control URL. */
export const hostAddressSchema = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/),
  url: z.url().refine((u) => /^https?:\/\//.test(u), 'an http(s) URL'),
});
export type HostAddress = z.infer<typeof hostAddressSchema>;

/** Claims of an attach token, after the JWT's signature, iss, aud and exp are verified. */
export const attachClaimsSchema = z.object({
  iss: z.literal(ATTACH_TOKEN_ISSUER),
  aud: z.union([z.literal(ATTACH_TOKEN_AUDIENCE), z.array(z.string()).min(1)]),
  sub: z.string().min(1).max(200),
  jti: z.string().min(8).max(200),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  nbf: z.number().int().optional(),
  vm: vmIdSchema,
  mode: z.enum(['control', 'view']),
  name: z.string().min(1).max(200),
  role: z.enum(['user', 'admin']),
  /** The VM's host in a fleet; absent: the gateway's own hypervisor (HYPERVISOR_URL). */
  host: hostAddressSchema.optional(),
  /** What this viewer may do (the user's groups, most restrictive); absent: the default. */
  policy: sessionPolicySchema.optional(),
  /** The user's email, for the watermark and recordings. */
  email: z.string().min(1).max(320).optional(),
});
export type AttachClaims = z.infer<typeof attachClaimsSchema>;
/** What the portal puts in a token besides iss/aud/exp/iat. */
export type AttachGrant = Pick<
  AttachClaims,
  'sub' | 'vm' | 'mode' | 'name' | 'role' | 'host' | 'policy' | 'email'
> & {
  jti?: string;
};

export const sessionInfoSchema = z.object({
  id: z.string().min(1).max(64),
  vm: vmIdSchema,
  userId: z.string().max(200),
  name: z.string().max(200),
  role: z.enum(['user', 'admin']),
  mode: z.enum(['control', 'view']),
  clientId: z.string().max(200).nullable(),
  remoteAddress: z.string().max(200).nullable(),
  /** ISO time. */
  connectedAt: z.string().max(64),
  /** Bytes of display data sent so far. */
  bytesSent: z.number().min(0),
  framesSent: z.number().min(0),
  /** Smoothed send-to-ack time of display frames, ms. */
  lagMs: z.number().min(0),
  jpegQuality: z.number(),
  /** In a fleet: the id of the gateway holding the session. */
  gateway: z.string().max(64).optional(),
});
export type SessionInfo = z.infer<typeof sessionInfoSchema> & { mode: SessionMode };

export interface SessionListResponse {
  sessions: SessionInfo[];
}

export const GATEWAY_EVENT_TYPES = [
  'connect',
  'disconnect',
  'takeover',
  'shadow-start',
  'shadow-end',
] as const;
export type GatewayEventType = (typeof GATEWAY_EVENT_TYPES)[number];

export const gatewayEventSchema = z.object({
  type: z.enum(GATEWAY_EVENT_TYPES),
  /** ISO time. */
  at: z.string(),
  sessionId: z.string(),
  vm: vmIdSchema,
  userId: z.string(),
  name: z.string(),
  role: z.enum(['user', 'admin']),
  mode: z.enum(['control', 'view']),
  /** disconnect: why; takeover: the session that was replaced. */
  reason: z.string().optional(),
  replacedSessionId: z.string().optional(),
  /** Control sessions still attached to the VM after this event (0 starts the idle timer). */
  controlSessions: z.number().int().min(0),
  /** All sessions still attached to the VM after this event. */
  sessions: z.number().int().min(0),
});
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

/**
 * `POST /internal/vms/<domain>/feed`: the portal claimed or resumed this VM and a viewer is on
 * its way; the gateway starts its feed now. In a fleet, `host` names the VM's host.
 */
export const feedPrepareRequestSchema = z.strictObject({ host: hostAddressSchema.optional() });
export type FeedPrepareRequest = z.infer<typeof feedPrepareRequestSchema>;

export const disconnectRequestSchema = z
  .object({ reason: z.string().max(200).optional() })
  .optional();
