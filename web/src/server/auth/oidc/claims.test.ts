import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accountName,
  groupKey,
  identityFromClaims,
  planMemberships,
  secondFactorAtProvider,
} from './claims.ts';

const ISS = 'https://id.example.org';

test('the ID token names the person; userinfo fills what it lacks', () => {
  const identity = identityFromClaims(
    { iss: ISS, sub: 'u-1', email: ' Ada@Example.ORG ', email_verified: true },
    { name: 'Ada Lovelace', groups: ['Finance', 'Staff'] },
    'groups',
  );
  assert.deepEqual(identity, {
    issuer: ISS,
    subject: 'u-1',
    email: 'ada@example.org',
    emailVerified: true,
    name: 'Ada Lovelace',
    groups: ['Finance', 'Staff'],
    amr: [],
  });
});

test('email_verified counts only from the source that gave the address, and as "true" too', () => {
  const fromUserinfo = identityFromClaims(
    { iss: ISS, sub: 'u', email_verified: true },
    { email: 'b@example.org', email_verified: false },
    'groups',
  );
  assert.equal(fromUserinfo.email, 'b@example.org');
  assert.equal(fromUserinfo.emailVerified, false);
  const asString = identityFromClaims(
    { iss: ISS, sub: 'u', email: 'c@example.org', email_verified: 'true' },
    {},
    'groups',
  );
  assert.equal(asString.emailVerified, true);
  const missing = identityFromClaims({ iss: ISS, sub: 'u', email: 'd@example.org' }, {}, 'groups');
  assert.equal(missing.emailVerified, false);
  const malformed = identityFromClaims(
    { iss: ISS, sub: 'u', email: 'not an address', email_verified: true },
    {},
    'groups',
  );
  assert.equal(malformed.email, null);
  assert.equal(malformed.emailVerified, false);
});

test('the groups claim: a configured name, a list or one string; absent is null, junk dropped', () => {
  const custom = identityFromClaims(
    { iss: ISS, sub: 'u', roles: ['a', 7, '', ' b ', { x: 1 }] },
    {},
    'roles',
  );
  assert.deepEqual(custom.groups, ['a', 'b']);
  assert.deepEqual(
    identityFromClaims({ iss: ISS, sub: 'u', groups: 'solo' }, {}, 'groups').groups,
    ['solo'],
  );
  assert.equal(identityFromClaims({ iss: ISS, sub: 'u' }, {}, 'groups').groups, null);
  assert.deepEqual(identityFromClaims({ iss: ISS, sub: 'u', groups: [] }, {}, 'groups').groups, []);
});

test('a name falls back to preferred_username, then to the email local part', () => {
  const identity = identityFromClaims(
    { iss: ISS, sub: 'u', preferred_username: 'ada' },
    {},
    'groups',
  );
  assert.equal(identity.name, 'ada');
  assert.equal(accountName({ name: null, email: 'grace@example.org' }), 'grace');
});

test('amr: the listed methods count as a second factor at the provider', () => {
  const amr = identityFromClaims({ iss: ISS, sub: 'u', amr: ['pwd', 'otp'] }, {}, 'groups').amr;
  assert.deepEqual(amr, ['pwd', 'otp']);
  assert.equal(secondFactorAtProvider(amr, ['mfa', 'otp', 'hwk']), true);
  assert.equal(secondFactorAtProvider(['pwd'], ['mfa', 'otp', 'hwk']), false);
  assert.equal(secondFactorAtProvider(['mfa'], []), false, 'an empty list trusts no amr');
  assert.deepEqual(identityFromClaims({ iss: ISS, sub: 'u', amr: 'otp' }, {}, 'groups').amr, []);
});

test('group names match case-insensitively, ignoring a leading slash (Keycloak paths)', () => {
  assert.equal(groupKey('/Finance'), groupKey('finance'));
  assert.notEqual(groupKey('Finance'), groupKey('Finance-EU'));
});

const GROUPS = [
  { id: 'g-fin', name: 'Finance' },
  { id: 'g-eng', name: 'Engineering' },
  { id: 'g-ops', name: 'Ops' },
];

test('memberships: claimed groups are joined, unknown names reported, none created', () => {
  const plan = planMemberships(['finance', '/Engineering', 'Marketing', 'Marketing'], GROUPS, []);
  assert.deepEqual(plan, { add: ['g-fin', 'g-eng'], remove: [], unknown: ['Marketing'] });
});

test('memberships: groups the claim gave and no longer names are left; manual ones stay', () => {
  const plan = planMemberships(['Ops'], GROUPS, [
    { groupId: 'g-fin', source: 'oidc' },
    { groupId: 'g-eng', source: 'manual' },
    { groupId: 'g-ops', source: 'oidc' },
  ]);
  assert.deepEqual(plan, { add: [], remove: ['g-fin'], unknown: [] });
});

test('memberships: a group already joined by hand is not joined again', () => {
  const plan = planMemberships(['Engineering'], GROUPS, [{ groupId: 'g-eng', source: 'manual' }]);
  assert.deepEqual(plan, { add: [], remove: [], unknown: [] });
});

test('memberships: an empty claim leaves every claim-given group', () => {
  const plan = planMemberships([], GROUPS, [
    { groupId: 'g-fin', source: 'oidc' },
    { groupId: 'g-ops', source: 'oidc' },
  ]);
  assert.deepEqual(plan.remove, ['g-fin', 'g-ops']);
});
