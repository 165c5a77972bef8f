import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminHint } from './portal.ts';

const EMAIL = 'admin@raydesk.local';
const PASSWORD = 'generated-secret-password';

test('the admin password is printed on the start that created the account, to a terminal only', () => {
  const created = adminHint(EMAIL, PASSWORD, true, true);
  assert.match(created ?? '', new RegExp(`${EMAIL}, password: ${PASSWORD}`));
  assert.match(created ?? '', /shown this once/);
  const piped = adminHint(EMAIL, PASSWORD, true, false);
  assert.doesNotMatch(piped ?? '', new RegExp(PASSWORD), 'not into a log file or a pipe');
  assert.match(piped ?? '', /ADMIN_PASSWORD in \.env/);
});

test('later starts say where the password is and how to set it, without printing it', () => {
  for (const terminal of [true, false]) {
    const later = adminHint(EMAIL, PASSWORD, false, terminal) ?? '';
    assert.doesNotMatch(later, new RegExp(PASSWORD));
    assert.match(later, /ADMIN_PASSWORD in \.env/);
    assert.match(later, /--reset-admin-password/);
  }
  assert.equal(adminHint(undefined, PASSWORD, true, true), null);
});
