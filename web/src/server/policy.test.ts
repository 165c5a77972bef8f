// Group policies against real databases (SQLite, and PostgreSQL when installed): the migration's
// defaults change nothing, a user's groups combine to the most restrictive policy, and the
// portal refuses to start an appliance the groups do not allow (before any host is asked).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_SESSION_POLICY, TRANSFER_LIMITS } from '@raydesk/gateway/protocol';
import { createDb, type Db } from '@raydesk/db';
import { deployMigrations, ensureClients } from '@raydesk/db/setup';
import { findPgBin, startTestPostgres, type TestPostgres } from '@raydesk/db/cluster';
import { freshSqlite } from './test-db.ts';
import { HttpError } from './http.ts';
import { assertMayStart, effectivePolicy, groupPolicyColumns, policyOfGroup } from './policy.ts';
import { openDesktop, openDisposable } from './vms.ts';
import { groupPolicySchema, updateGroupSchema } from '../lib/validation.ts';
import type { Viewer } from './auth/request.ts';

const KIB = 1024;

function policyTests(open: () => Promise<{ db: Db; close: () => Promise<void> }>) {
  let db: Db;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await open());
    for (const [name, title] of [
      ['desktop', 'Desktop'],
      ['browser', 'Web browser'],
      ['console', 'Console'],
    ]) {
      await db.appliance.create({ data: { name, title, memoryMiB: 128 } });
    }
  });
  after(() => close());

  let n = 0;
  async function userIn(...groups: { id: string }[]) {
    const user = await db.user.create({
      data: { email: `u${++n}-${Date.now()}@example.test`, name: 'U', passwordHash: 'x' },
    });
    for (const g of groups)
      await db.groupMember.create({ data: { groupId: g.id, userId: user.id } });
    return user;
  }
  const group = (data: Record<string, unknown> = {}) =>
    db.group.create({ data: { name: `g${++n}-${Date.now()}`, ...data } });
  const viewerOf = (user: { id: string; email: string }, role: 'user' | 'admin' = 'user') =>
    ({
      id: user.id,
      email: user.email,
      name: 'U',
      role,
      sessionId: 's',
      maxVms: 5,
      maxMemoryMiB: 4096,
    }) satisfies Viewer;

  test('a new group holds the default policy and allows every appliance', async () => {
    const g = await group();
    const { appliances, ...session } = policyOfGroup(g);
    assert.deepEqual(session, DEFAULT_SESSION_POLICY);
    assert.equal(appliances, null);
    const user = await userIn(g);
    assert.deepEqual(await effectivePolicy(db, user.id), {
      session: DEFAULT_SESSION_POLICY,
      appliances: null,
    });
  });

  test('a user in no group gets the default policy', async () => {
    const user = await userIn();
    const effective = await effectivePolicy(db, user.id);
    assert.deepEqual(effective.session, DEFAULT_SESSION_POLICY);
    assert.equal(effective.appliances, null);
  });

  test("a user's groups combine to the most restrictive policy", async () => {
    const strict = await group(
      groupPolicyColumns({
        ...DEFAULT_SESSION_POLICY,
        clipboardFromVm: false,
        clipboardMaxBytes: 4 * KIB,
        uploadMaxBytes: 2 * 2 ** 20,
        idleTimeoutMinutes: 30,
        appliances: ['desktop', 'browser'],
      }),
    );
    const other = await group(
      groupPolicyColumns({
        ...DEFAULT_SESSION_POLICY,
        downloadEnabled: false,
        watermark: true,
        idleTimeoutMinutes: 10,
        maxSessionMinutes: 480,
        appliances: ['browser', 'console'],
      }),
    );
    const open = await group(); // allows any appliance: does not widen the others
    const user = await userIn(strict, other, open);
    const { session, appliances } = await effectivePolicy(db, user.id);
    assert.deepEqual(session, {
      clipboardToVm: true,
      clipboardFromVm: false,
      clipboardMaxBytes: 4 * KIB,
      uploadEnabled: true,
      uploadMaxBytes: 2 * 2 ** 20,
      downloadEnabled: false,
      downloadMaxBytes: TRANSFER_LIMITS.downloadBytes,
      recording: false,
      watermark: true,
      idleTimeoutMinutes: 10,
      maxSessionMinutes: 480,
    });
    assert.deepEqual(appliances, ['browser']);
  });

  test('starting an appliance no group allows is refused before any host is asked', async () => {
    const onlyBrowser = await group({ allowedAppliances: 'browser' });
    const user = await userIn(onlyBrowser);
    // No hypervisor runs in this test: a refusal must come from the policy, not a failed call.
    await assert.rejects(openDesktop(db, viewerOf(user), '127.0.0.2'), (e: unknown) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.status, 403);
      assert.equal(e.code, 'appliance_not_allowed');
      assert.match(e.message, /does not allow starting Desktop/);
      return true;
    });
    assert.equal(await db.vm.count({ where: { ownerId: user.id } }), 0, 'no VM row was made');
    await assertMayStart(db, viewerOf(user), { name: 'browser', title: 'Web browser' });

    const onlyDesktop = await group({ allowedAppliances: 'desktop' });
    const both = await userIn(onlyBrowser, onlyDesktop); // intersection: nothing
    await assert.rejects(openDisposable(db, viewerOf(both), '127.0.0.2'), /Web browser/);
  });

  test('administrators are not restricted by their groups', async () => {
    const none = await group({ allowedAppliances: 'console' });
    const admin = await userIn(none);
    await assertMayStart(db, viewerOf(admin, 'admin'), { name: 'desktop', title: 'Desktop' });
  });

  test('a changed policy is stored and read back', async () => {
    const g = await group();
    const input = groupPolicySchema.parse({
      ...DEFAULT_SESSION_POLICY,
      clipboardToVm: false,
      uploadMaxBytes: 512 * KIB,
      appliances: ['desktop', 'desktop'],
    });
    await db.group.update({ where: { id: g.id }, data: groupPolicyColumns(input) });
    const back = policyOfGroup(await db.group.findUniqueOrThrow({ where: { id: g.id } }));
    assert.deepEqual(back, { ...input, appliances: ['desktop'] });
  });
}

test('the policy body is validated with plain messages', () => {
  const ok = { ...DEFAULT_SESSION_POLICY, appliances: null };
  assert.ok(updateGroupSchema.safeParse({ policy: ok }).success);
  const tooBig = groupPolicySchema.safeParse({ ...ok, uploadMaxBytes: 65 * 2 ** 20 });
  assert.equal(tooBig.error?.issues[0]?.message, 'The upload limit can be at most 64 MiB.');
  const none = groupPolicySchema.safeParse({ ...ok, appliances: [] });
  assert.equal(none.error?.issues[0]?.message, 'Choose at least one appliance, or allow any.');
  const negative = groupPolicySchema.safeParse({ ...ok, idleTimeoutMinutes: -1 });
  assert.equal(negative.error?.issues[0]?.message, 'The idle timeout cannot be negative.');
  assert.equal(groupPolicySchema.safeParse({ ...ok, extra: 1 }).success, false);
});

describe('on SQLite', () => {
  policyTests(async () => {
    const t = await freshSqlite();
    return { db: t.db, close: t.cleanup };
  });
});

const noPostgres = findPgBin() ? false : 'PostgreSQL is not installed (apt-get install postgresql)';
describe('on PostgreSQL', { skip: noPostgres, timeout: 180_000 }, () => {
  policyTests(async () => {
    const pg: TestPostgres = await startTestPostgres();
    ensureClients();
    deployMigrations(pg.url);
    const db = createDb(pg.url);
    return {
      db,
      close: async () => {
        await db.$disconnect();
        await pg.stop();
      },
    };
  });
});
