// The account decisions of a single sign-on on a real (SQLite) database, for the cases the
// end-to-end test does not reach: a provider that may not create accounts, an address another
// identity of the provider already holds, a disabled account, and a group rename between
// sign-ins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Db } from '@raydesk/db';
import { addMember } from '../../groups.ts';
import { freshSqlite, testSettings } from '../../test-db.ts';
import type { ProviderIdentity } from './claims.ts';
import { SsoError } from './provider.ts';
import { parseOidcSettings } from './settings.ts';
import { signInWithProvider } from './sign-in.ts';

const ISSUER = 'https://id.example.org';
const META = { userAgent: 'test', address: '192.0.2.1' };
let db: Db;
let cleanup: () => Promise<void>;

const oidcSettings = (createUsers: boolean) =>
  parseOidcSettings({
    OIDC_ISSUER: ISSUER,
    OIDC_CLIENT_ID: 'raydesk',
    PORTAL_PUBLIC_URL: 'https://desk.example.org',
    OIDC_CREATE_USERS: createUsers ? 'on' : 'off',
  })!;

const identity = (over: Partial<ProviderIdentity>): ProviderIdentity => ({
  issuer: ISSUER,
  subject: 'sub-1',
  email: 'pat@example.org',
  emailVerified: true,
  name: 'Pat',
  groups: null,
  amr: [],
  ...over,
});

const signIn = (who: ProviderIdentity, createUsers = true) =>
  signInWithProvider(db, { ...testSettings(), oidc: oidcSettings(createUsers) }, who, META);

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof SsoError) return e.failure;
    throw e;
  }
  return 'signed in';
}

before(async () => {
  ({ db, cleanup } = await freshSqlite());
});
after(() => cleanup());

test('with OIDC_CREATE_USERS=off an unknown person gets no account', async () => {
  assert.equal(await refusal(signIn(identity({}), false)), 'no_account');
  assert.equal(await db.user.count(), 0);
  const audit = await db.auditEvent.findFirstOrThrow({ where: { action: 'login.failure' } });
  assert.equal(JSON.parse(audit.details).reason, 'no_account');
});

test('a created account signs in; a second subject with the same address is refused', async () => {
  const first = await signIn(identity({}));
  assert.equal(first.ok, true);
  const other = identity({ subject: 'sub-2' });
  assert.equal(await refusal(signIn(other)), 'conflict');
  assert.equal(await db.oidcIdentity.count(), 1);
});

test('a disabled account is refused even through its link', async () => {
  await db.user.update({ where: { email: 'pat@example.org' }, data: { disabled: true } });
  assert.equal(await refusal(signIn(identity({ email: null }))), 'disabled');
  await db.user.update({ where: { email: 'pat@example.org' }, data: { disabled: false } });
});

test('a linked identity signs in without a verified email; groups follow the claim', async () => {
  const ops = await db.group.create({ data: { name: 'Ops' } });
  const result = await signIn(identity({ email: null, emailVerified: false, groups: ['ops'] }));
  assert.equal(result.ok, true);
  const members = await db.groupMember.findMany({ where: { groupId: ops.id } });
  assert.deepEqual(
    members.map((m) => m.source),
    ['oidc'],
  );
  // A claim without the group: the membership the claim gave goes.
  await signIn(identity({ groups: [] }));
  assert.equal(await db.groupMember.count({ where: { groupId: ops.id } }), 0);
});

test('a membership the claim gave becomes manual when an admin adds it, and then stays', async () => {
  const audit = await db.group.create({ data: { name: 'Audit' } });
  await signIn(identity({ groups: ['Audit'] }));
  await addMember(db, audit.id, 'pat@example.org');
  await signIn(identity({ groups: [] }));
  const kept = await db.groupMember.findMany({ where: { groupId: audit.id } });
  assert.deepEqual(
    kept.map((m) => m.source),
    ['manual'],
  );
});
