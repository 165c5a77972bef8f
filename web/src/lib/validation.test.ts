import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attachRequestSchema,
  auditFilterSchema,
  createUserSchema,
  idSchema,
  loginSchema,
  updateUserSchema,
  vmActionSchema,
  vmFilterSchema,
} from './validation.ts';

const messages = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => i.message);

test('login: normalises email, explains what is missing', () => {
  const ok = loginSchema.parse({ email: '  Ann@Example.COM ', password: 'x' });
  assert.equal(ok.email, 'ann@example.com');
  assert.deepEqual(messages(loginSchema.safeParse({ email: '', password: '' })), [
    'Enter your email address.',
    'Enter your password.',
  ]);
  assert.deepEqual(messages(loginSchema.safeParse({ email: 'not-an-email', password: 'x' })), [
    'Enter a valid email address.',
  ]);
  assert.deepEqual(messages(loginSchema.safeParse({})), [
    'Enter your email address.',
    'Enter your password.',
  ]);
  assert.equal(
    loginSchema.safeParse({ email: 'a@b.co', password: 'x'.repeat(300) }).success,
    false,
  );
});

test('create user: defaults, coercion and clear messages', () => {
  const u = createUserSchema.parse({
    email: 'b@example.com',
    name: 'Bea',
    password: 'long-enough-pw',
    maxVms: '3',
  });
  assert.deepEqual(
    { role: u.role, maxVms: u.maxVms, maxMemoryMiB: u.maxMemoryMiB },
    { role: 'user', maxVms: 3, maxMemoryMiB: 1024 },
  );
  assert.deepEqual(
    messages(createUserSchema.safeParse({ email: 'b@example.com', name: 'B', password: 'short' })),
    ['Passwords need at least 10 characters.'],
  );
  assert.deepEqual(
    messages(
      createUserSchema.safeParse({
        email: 'b@example.com',
        name: 'B',
        password: 'long-enough-pw',
        role: 'root',
      }),
    ),
    ['Role must be user or admin.'],
  );
  assert.deepEqual(
    messages(
      createUserSchema.safeParse({
        email: 'b@example.com',
        name: 'B',
        password: 'long-enough-pw',
        maxVms: -1,
      }),
    ),
    ['Max VMs cannot be negative.'],
  );
});

test('update user: something must change', () => {
  assert.deepEqual(messages(updateUserSchema.safeParse({})), ['Nothing to change.']);
  assert.equal(updateUserSchema.safeParse({ disabled: true }).success, true);
  assert.equal(updateUserSchema.safeParse({ disabled: 'yes' }).success, false);
});

test('ids, actions, filters', () => {
  assert.equal(idSchema.safeParse('cmwtsj9g50003ud7d2wyu3jnp').success, true);
  for (const bad of ['', '../etc/passwd', 'ABC', 'a'.repeat(80), "1' OR 1=1"])
    assert.equal(idSchema.safeParse(bad).success, false, bad);
  assert.deepEqual(messages(vmActionSchema.safeParse({ action: 'format' })), [
    'Action must be suspend, resume, reboot or destroy.',
  ]);
  assert.equal(attachRequestSchema.safeParse({ mode: 'god' }).success, false);
  assert.deepEqual(vmFilterSchema.parse({}), { state: 'active', kind: 'all' });
  assert.equal(vmFilterSchema.safeParse({ state: 'exploded' }).success, false);
  assert.equal(auditFilterSchema.parse({ limit: '20' }).limit, 20);
  assert.equal(auditFilterSchema.safeParse({ limit: '5000' }).success, false);
  assert.equal(auditFilterSchema.safeParse({ since: '2026-11-01' }).success, true);
});
