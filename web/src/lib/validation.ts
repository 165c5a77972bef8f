// Input schemas shared by the forms (client) and the API routes (server): one source of the
// rules and of the messages people see.
import '@raydesk/common/zod-jitless';
import { DOMAIN_STATES } from '@raydesk/common';
import { TRANSFER_LIMITS } from '@raydesk/gateway/protocol';
import { z } from 'zod';

export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const VM_KINDS = ['personal', 'disposable'] as const;
export type VmKind = (typeof VM_KINDS)[number];
/** A portal VM row follows its hypervisor domain, plus the time before it has one and after. */
export const VM_STATES = ['creating', ...DOMAIN_STATES, 'destroyed'] as const;
export type VmState = (typeof VM_STATES)[number];

export const emailSchema = z
  .string({ error: 'Enter your email address.' })
  .trim()
  .toLowerCase()
  .min(1, 'Enter your email address.')
  .max(254, 'That email address is too long.')
  .pipe(z.email({ error: 'Enter a valid email address.' }));

export const newPasswordSchema = z
  .string({ error: 'Enter a password.' })
  .min(10, 'Passwords need at least 10 characters.')
  .max(256, 'Passwords can be at most 256 characters.');

export const loginSchema = z.object({
  email: emailSchema,
  password: z
    .string({ error: 'Enter your password.' })
    .min(1, 'Enter your password.')
    .max(256, 'That password is too long.'),
});

/** Portal ids are cuids; anything else cannot exist, so it is a 404, never a 400. */
export const idSchema = z.string().regex(/^[a-z0-9]{8,40}$/);

export const createUserSchema = z.object({
  email: emailSchema,
  name: z.string().trim().min(1, 'Enter a name.').max(100, 'Names can be at most 100 characters.'),
  password: newPasswordSchema,
  role: z.enum(ROLES, { error: 'Role must be user or admin.' }).default('user'),
  maxVms: z.coerce
    .number({ error: 'Max VMs must be a number.' })
    .int('Max VMs must be a whole number.')
    .min(0, 'Max VMs cannot be negative.')
    .max(100, 'Max VMs can be at most 100.')
    .default(2),
  maxMemoryMiB: z.coerce
    .number({ error: 'Memory quota must be a number.' })
    .int('Memory quota must be a whole number of MiB.')
    .min(0, 'Memory quota cannot be negative.')
    .max(65536, 'Memory quota can be at most 65536 MiB.')
    .default(1024),
});

export const updateUserSchema = z
  .object({
    name: createUserSchema.shape.name.optional(),
    role: z.enum(ROLES, { error: 'Role must be user or admin.' }).optional(),
    disabled: z.boolean({ error: 'Disabled must be true or false.' }).optional(),
    maxVms: z.coerce
      .number()
      .int()
      .min(0, 'Max VMs cannot be negative.')
      .max(100, 'Max VMs can be at most 100.')
      .optional(),
    maxMemoryMiB: z.coerce
      .number()
      .int()
      .min(0, 'Memory quota cannot be negative.')
      .max(65536, 'Memory quota can be at most 65536 MiB.')
      .optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'Nothing to change.');

export const resetPasswordSchema = z.object({ password: newPasswordSchema });

export const VM_ACTIONS = ['suspend', 'resume', 'reboot', 'destroy'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];
export const vmActionSchema = z.object({
  action: z.enum(VM_ACTIONS, { error: 'Action must be suspend, resume, reboot or destroy.' }),
});

/** A fleet host's registry id (`host-1`, `local`). */
export const hostIdSchema = z
  .string({ error: 'Choose a host.' })
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'Choose a host from the list.');

/** "Move to…": live relocation of a VM to another host of the fleet. */
export const vmMoveSchema = z.object({ hostId: hostIdSchema });

export const MAX_CLONES = 16;
/**
 * "Clone…": `count` copies for the administrator, or one copy for each of `emails`, or for each
 * member of `group` (each becomes that user's personal desktop; with `replace`, in place of the
 * one they have); on `hostId`, or where placement puts them when it is left out.
 */
export const vmCloneSchema = z
  .object({
    count: z
      .number({ error: 'Count must be a number.' })
      .int('Count must be a whole number.')
      .min(1, 'Make at least 1 copy.')
      .max(MAX_CLONES, `At most ${MAX_CLONES} copies at a time.`)
      .optional(),
    emails: z
      .array(emailSchema)
      .min(1, 'List at least one email address.')
      .max(MAX_CLONES, `At most ${MAX_CLONES} users at a time.`)
      .refine((list) => new Set(list).size === list.length, 'Each email address only once.')
      .optional(),
    group: z
      .string({ error: 'Choose a group.' })
      .trim()
      .min(1, 'Choose a group.')
      .max(64, 'Group names can be at most 64 characters.')
      .optional(),
    replace: z.boolean().optional(),
    hostId: hostIdSchema.optional(),
  })
  .refine(
    (body) => [body.count, body.emails, body.group].filter((v) => v !== undefined).length === 1,
    { error: 'Give either a number of copies, a list of email addresses or a group.' },
  );
export type VmCloneRequest = z.infer<typeof vmCloneSchema>;

export const attachRequestSchema = z.object({
  mode: z.enum(['control', 'view'], { error: 'Mode must be control or view.' }).optional(),
});

export const vmFilterSchema = z.object({
  state: z.enum([...VM_STATES, 'active', 'all']).default('active'),
  kind: z.enum([...VM_KINDS, 'all']).default('all'),
  appliance: z.string().max(40).optional(),
  owner: z.string().max(254).optional(),
});

export const auditFilterSchema = z.object({
  action: z.string().max(60).optional(),
  actor: z.string().max(254).optional(),
  target: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional().or(z.iso.date().optional()),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

export const disconnectSchema = z.object({ reason: z.string().max(200).optional() });

/** A code from an authenticator app (6 digits) or a recovery code (xxxxx-xxxxx). */
export const secondFactorCodeSchema = z
  .string({ error: 'Enter the code.' })
  .trim()
  .min(1, 'Enter the code.')
  .max(20, 'That code is too long.')
  .regex(/^[0-9a-zA-Z\s-]+$/, 'Codes are digits, or letters and digits for a recovery code.');

const challengeSchema = z
  .string({ error: 'The sign-in step is missing.' })
  .min(20)
  .max(2000)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'The sign-in step is malformed.');

export const secondFactorSchema = z.object({
  challenge: challengeSchema,
  code: secondFactorCodeSchema,
});

export const enrolAtSignInSchema = z.object({ challenge: challengeSchema });

export const confirmTotpSchema = z.object({ code: secondFactorCodeSchema });

export const groupNameSchema = z
  .string({ error: 'Enter a group name.' })
  .trim()
  .min(1, 'Enter a group name.')
  .max(64, 'Group names can be at most 64 characters.')
  .regex(
    /^[\p{L}\p{N} ._-]+$/u,
    'Group names use letters, digits, spaces, dots, dashes and underscores.',
  );

export const createGroupSchema = z.object({
  name: groupNameSchema,
  requireTotp: z.boolean().default(false),
});

const MIB = 2 ** 20;
const byteLimit = (what: string, max: number) =>
  z
    .number({ error: `${what}: enter a size.` })
    .int(`${what}: a whole number of bytes.`)
    .min(0, `${what} cannot be negative.`)
    .max(max, `${what} can be at most ${max >= MIB ? `${max / MIB} MiB` : `${max / 1024} KiB`}.`);
const minutes = (what: string) =>
  z
    .number({ error: `${what}: enter minutes (0 for none).` })
    .int(`${what}: whole minutes.`)
    .min(0, `${what} cannot be negative.`)
    .max(30 * 24 * 60, `${what} can be at most 30 days.`);
export const applianceNameSchema = z
  .string()
  .regex(/^[a-z0-9-]{1,40}$/, 'Appliance names are lower-case letters, digits and dashes.');

/** A group's policy as the admin console sends it: sizes in bytes, times in minutes. */
export const groupPolicySchema = z.strictObject({
  clipboardToVm: z.boolean(),
  clipboardFromVm: z.boolean(),
  clipboardMaxBytes: byteLimit('The clipboard limit', TRANSFER_LIMITS.clipboardBytes),
  uploadEnabled: z.boolean(),
  uploadMaxBytes: byteLimit('The upload limit', TRANSFER_LIMITS.uploadBytes),
  downloadEnabled: z.boolean(),
  downloadMaxBytes: byteLimit('The download limit', TRANSFER_LIMITS.downloadBytes),
  recording: z.boolean(),
  watermark: z.boolean(),
  idleTimeoutMinutes: minutes('The idle timeout'),
  maxSessionMinutes: minutes('The session length'),
  /** Null: any appliance. Otherwise at least one. */
  appliances: z
    .array(applianceNameSchema)
    .min(1, 'Choose at least one appliance, or allow any.')
    .max(32)
    .nullable(),
});
export type GroupPolicyInput = z.infer<typeof groupPolicySchema>;

export const updateGroupSchema = z
  .object({
    name: groupNameSchema.optional(),
    requireTotp: z.boolean().optional(),
    policy: groupPolicySchema.optional(),
  })
  .refine(
    (v) => v.name !== undefined || v.requireTotp !== undefined || v.policy !== undefined,
    'Nothing to change.',
  );

export const groupMemberSchema = z.object({ email: emailSchema });
