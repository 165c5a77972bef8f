// The user's keyboard-layout setting: stored on the user, applied in their desktop by the guest
// agent (the hypervisor's `domain:keyboard-layout`), which also makes the host type characters
// by that layout. Applied when the desktop opens and when the setting changes.
import {
  KEYBOARD_LAYOUTS,
  keyboardLayoutSchema,
  type KeyboardLayout,
} from '@raydesk/hypervisor/api';
import { z } from 'zod';
import { audit } from './audit.ts';
import type { Viewer } from './auth/request.ts';
import type { Db } from './db.ts';
import { log } from './log.ts';
import { hypervisorOf } from './vms.ts';

export { KEYBOARD_LAYOUTS, type KeyboardLayout };

export const settingsSchema = z.strictObject({ keyboardLayout: keyboardLayoutSchema });

export async function keyboardLayoutOf(db: Db, userId: string): Promise<KeyboardLayout> {
  const user = await db.user.findUniqueOrThrow({
    where: { id: userId },
    select: { keyboardLayout: true },
  });
  const parsed = keyboardLayoutSchema.safeParse(user.keyboardLayout);
  return parsed.success ? parsed.data : 'us';
}

/**
 * Sets the user's layout in their running desktop. It takes the guest seconds (setxkbmap), so
 * callers do not wait: a failure is logged, and the next open tries again.
 */
export function applyKeyboardLayout(
  db: Db,
  vm: { id: string; domainId: string | null; hostId: string | null; state: string },
  layout: KeyboardLayout,
): void {
  if (!vm.domainId || vm.state !== 'running') return;
  const domainId = vm.domainId;
  void hypervisorOf(db, vm)
    .then((hv) => hv.setKeyboardLayout(domainId, layout))
    .catch((error: unknown) =>
      log.warn({ vm: vm.id, layout, err: String(error) }, 'keyboard layout not applied'),
    );
}

/** Saves the user's settings and applies them to their desktop if it runs. */
export async function updateSettings(
  db: Db,
  viewer: Viewer,
  input: z.infer<typeof settingsSchema>,
  address: string,
): Promise<{ keyboardLayout: KeyboardLayout }> {
  await db.user.update({
    where: { id: viewer.id },
    data: { keyboardLayout: input.keyboardLayout },
  });
  await audit(db, {
    action: 'user.settings',
    actorId: viewer.id,
    actorEmail: viewer.email,
    targetType: 'user',
    targetId: viewer.id,
    address,
    details: { keyboardLayout: input.keyboardLayout },
  });
  const desktop = await db.vm.findFirst({
    where: { ownerId: viewer.id, kind: 'personal', state: 'running' },
  });
  if (desktop) applyKeyboardLayout(db, desktop, input.keyboardLayout);
  return { keyboardLayout: input.keyboardLayout };
}
