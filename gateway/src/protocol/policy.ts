// Session policy: what a viewer may do on one attach. The portal computes it from the user's
// groups (the most restrictive of them), puts it in the attach token, and the gateway enforces
// it; the viewer only reflects it. Browser-safe: zod and no Node APIs.
import * as z from 'zod';
import { TRANSFER_LIMITS } from './transfer.ts';

const bytesSchema = (max: number) => z.number().int().min(0).max(max);
/** Minutes; 0 means no limit. At most 30 days. */
const minutesSchema = z
  .number()
  .int()
  .min(0)
  .max(30 * 24 * 60);

export const sessionPolicySchema = z.strictObject({
  /** Browser -> desktop clipboard. */
  clipboardToVm: z.boolean(),
  /** Desktop -> browser clipboard. */
  clipboardFromVm: z.boolean(),
  /** Longest clipboard text either way, in UTF-8 bytes. */
  clipboardMaxBytes: bytesSchema(TRANSFER_LIMITS.clipboardBytes),
  uploadEnabled: z.boolean(),
  uploadMaxBytes: bytesSchema(TRANSFER_LIMITS.uploadBytes),
  downloadEnabled: z.boolean(),
  downloadMaxBytes: bytesSchema(TRANSFER_LIMITS.downloadBytes),
  /** The gateway records what this viewer is sent. */
  recording: z.boolean(),
  /** The gateway draws the user's email, the time and their address into what it sends. */
  watermark: z.boolean(),
  /** Minutes without input before the viewer is disconnected (the desktop keeps running). */
  idleTimeoutMinutes: minutesSchema,
  /** Longest a viewer may stay attached. */
  maxSessionMinutes: minutesSchema,
});
export type SessionPolicy = z.infer<typeof sessionPolicySchema>;

/** What applies to a user in no group, and to a token minted without a policy. */
export const DEFAULT_SESSION_POLICY: SessionPolicy = Object.freeze({
  clipboardToVm: true,
  clipboardFromVm: true,
  clipboardMaxBytes: TRANSFER_LIMITS.clipboardBytes,
  uploadEnabled: true,
  uploadMaxBytes: TRANSFER_LIMITS.uploadBytes,
  downloadEnabled: true,
  downloadMaxBytes: TRANSFER_LIMITS.downloadBytes,
  recording: false,
  watermark: false,
  idleTimeoutMinutes: 0,
  maxSessionMinutes: 0,
});

/** The smaller limit, where 0 means none. */
const tighterMinutes = (a: number, b: number) => (a === 0 ? b : b === 0 ? a : Math.min(a, b));

/**
 * The most restrictive combination: a right is granted only if every policy grants it, the
 * smallest limit wins, and recording and watermark are on if any policy asks for them.
 * No policies: the default.
 */
export function mostRestrictivePolicy(policies: readonly SessionPolicy[]): SessionPolicy {
  if (policies.length === 0) return { ...DEFAULT_SESSION_POLICY };
  return policies.reduce((a, b) => ({
    clipboardToVm: a.clipboardToVm && b.clipboardToVm,
    clipboardFromVm: a.clipboardFromVm && b.clipboardFromVm,
    clipboardMaxBytes: Math.min(a.clipboardMaxBytes, b.clipboardMaxBytes),
    uploadEnabled: a.uploadEnabled && b.uploadEnabled,
    uploadMaxBytes: Math.min(a.uploadMaxBytes, b.uploadMaxBytes),
    downloadEnabled: a.downloadEnabled && b.downloadEnabled,
    downloadMaxBytes: Math.min(a.downloadMaxBytes, b.downloadMaxBytes),
    recording: a.recording || b.recording,
    watermark: a.watermark || b.watermark,
    idleTimeoutMinutes: tighterMinutes(a.idleTimeoutMinutes, b.idleTimeoutMinutes),
    maxSessionMinutes: tighterMinutes(a.maxSessionMinutes, b.maxSessionMinutes),
  }));
}
