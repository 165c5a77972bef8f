// PostgreSQL end to end: a throwaway cluster, `migrate deploy` of the PostgreSQL migrations
// through prisma.config.ts (adapter-pg with its catalog-type fix), the seed, and a create/find.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findPgBin, startTestPostgres, type TestPostgres } from '@raydesk/db/testing';

const skip = findPgBin() ? false : 'PostgreSQL is not installed (apt-get install postgresql)';
let pg: TestPostgres | null = null;

before(async () => {
  if (!skip) pg = await startTestPostgres();
});
after(async () => {
  await pg?.stop();
});

test(
  'migrate deploy, seed and a create/find on PostgreSQL',
  { skip, timeout: 120_000 },
  async () => {
    const { setupDatabase } = await import('./db-setup.ts');
    const env = {
      ...process.env,
      DATABASE_URL: pg!.url,
      ADMIN_EMAIL: 'root@example.com',
      ADMIN_PASSWORD: 'root-password-123',
    };
    const first = await setupDatabase(env);
    assert.equal(first.url, pg!.url);
    const second = await setupDatabase(env); // idempotent: nothing to apply, seed does not duplicate
    console.log(
      `# postgres migrate deploy: first ${first.migrateMs} ms, second ${second.migrateMs} ms`,
    );
    const { createDb } = await import('@raydesk/db');
    const db = createDb(pg!.url);
    try {
      assert.equal(await db.user.count({ where: { role: 'admin' } }), 1);
      assert.deepEqual(
        (await db.appliance.findMany({ orderBy: { name: 'asc' } })).map((a) => a.name),
        ['browser', 'console', 'desktop'],
      );
      const user = await db.user.create({
        data: { email: 'pg@example.com', name: 'Pg', passwordHash: 'x' },
      });
      const desktop = await db.appliance.findUniqueOrThrow({ where: { name: 'desktop' } });
      await db.vm.create({
        data: {
          ownerId: user.id,
          kind: 'personal',
          applianceId: desktop.id,
          memoryMiB: 256,
          domainId: 'desk-pg-1',
          state: 'running',
          hostId: 'local',
        },
      });
      const found = await db.vm.findFirst({
        where: { owner: { email: 'pg@example.com' } },
        include: { appliance: true, host: true },
      });
      assert.equal(found?.appliance.name, 'desktop');
      assert.equal(found?.host?.id, 'local');
      await assert.rejects(
        db.user.create({ data: { email: 'pg@example.com', name: 'dup', passwordHash: 'x' } }),
        /Unique constraint/,
      );
    } finally {
      await db.$disconnect();
    }
  },
);
