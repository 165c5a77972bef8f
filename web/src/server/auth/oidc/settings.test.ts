import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOidcSettings } from './settings.ts';

const BASE = {
  OIDC_ISSUER: 'https://id.example.org/realms/staff',
  OIDC_CLIENT_ID: 'raydesk',
  OIDC_CLIENT_SECRET: 's3cret',
  PORTAL_PUBLIC_URL: 'https://desk.example.org/',
};

test('single sign-on is off when OIDC_ISSUER is unset or blank', () => {
  assert.equal(parseOidcSettings({}), null);
  assert.equal(parseOidcSettings({ OIDC_ISSUER: '', OIDC_CLIENT_ID: 'x' }), null);
});

test('defaults, and the redirect URI built from PORTAL_PUBLIC_URL', () => {
  const s = parseOidcSettings(BASE);
  assert.ok(s);
  assert.equal(s.redirectUri, 'https://desk.example.org/api/auth/oidc/callback');
  assert.equal(s.scopes, 'openid email profile');
  assert.equal(s.buttonLabel, 'your organisation');
  assert.equal(s.groupsClaim, 'groups');
  assert.equal(s.createUsers, true);
  assert.deepEqual(s.mfaAmr, ['mfa', 'otp', 'hwk']);
  const custom = parseOidcSettings({
    ...BASE,
    OIDC_BUTTON_LABEL: 'Contoso ID',
    OIDC_GROUPS_CLAIM: 'roles',
    OIDC_CREATE_USERS: 'off',
    OIDC_MFA_AMR: '',
  });
  assert.equal(custom?.buttonLabel, 'Contoso ID');
  assert.equal(custom?.groupsClaim, 'roles');
  assert.equal(custom?.createUsers, false);
  assert.deepEqual(custom?.mfaAmr, []);
});

test('missing or unsafe settings are refused with the setting named', () => {
  assert.throws(() => parseOidcSettings({ ...BASE, OIDC_CLIENT_ID: '' }), /OIDC_CLIENT_ID/);
  assert.throws(() => parseOidcSettings({ ...BASE, PORTAL_PUBLIC_URL: '' }), /PORTAL_PUBLIC_URL/);
  assert.throws(
    () => parseOidcSettings({ ...BASE, OIDC_ISSUER: 'http://id.example.org' }),
    /OIDC_ISSUER: must be an https URL/,
  );
  assert.throws(() => parseOidcSettings({ ...BASE, OIDC_SCOPES: 'email' }), /must include openid/);
  assert.throws(
    () => parseOidcSettings({ ...BASE, OIDC_CREATE_USERS: 'yes' }),
    /OIDC_CREATE_USERS/,
  );
  // A provider on this machine may use plain HTTP.
  assert.ok(parseOidcSettings({ ...BASE, OIDC_ISSUER: 'http://127.0.0.2:7425' }));
});
