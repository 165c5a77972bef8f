// The keyboard-layout setting against a real SQLite database: validation, storage, audit and the
// default. Applying it in a running desktop (the guest agent) is covered with a real guest in
// hypervisor/test/keyboard.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshSqlite } from './test-db.ts';
import { keyboardLayoutOf, settingsSchema, updateSettings } from './keyboard.ts';

let t: Awaited<ReturnType<typeof freshSqlite>>;
before(async () => {
  t = await freshSqlite();
});
after(async () => {
  await t.cleanup();
});

test('the settings body takes one of the hypervisor layouts and nothing else', () => {
  for (const keyboardLayout of ['us', 'de', 'fr', 'gb'])
    assert.ok(settingsSchema.safeParse({ keyboardLayout }).success, keyboardLayout);
  for (const body of [{ keyboardLayout: 'xx' }, { keyboardLayout: 'de', role: 'admin' }, {}])
    assert.equal(settingsSchema.safeParse(body).success, false, JSON.stringify(body));
});

test('a new user types US; a saved layout is stored and audited', async () => {
  const user = await t.db.user.create({
    data: { email: 'ada@raydesk.test', name: 'Ada', passwordHash: 'x' },
  });
  assert.equal(await keyboardLayoutOf(t.db, user.id), 'us');
  const viewer = {
    id: user.id,
    email: user.email,
    name: user.name,
    role: 'user' as const,
    sessionId: 's',
    maxVms: 2,
    maxMemoryMiB: 1024,
  };
  assert.deepEqual(await updateSettings(t.db, viewer, { keyboardLayout: 'de' }, '127.0.0.2'), {
    keyboardLayout: 'de',
  });
  assert.equal(await keyboardLayoutOf(t.db, user.id), 'de');
  const event = await t.db.auditEvent.findFirstOrThrow({ where: { action: 'user.settings' } });
  assert.equal(event.actorId, user.id);
  assert.deepEqual(JSON.parse(event.details), { keyboardLayout: 'de' });
});
