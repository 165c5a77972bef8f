import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HANDSHAKE_ERRORS } from '@raydesk/gateway/protocol';
import { handshakeErrorText } from './handshake-errors.ts';

test('every handshake refusal of the gateway has its own plain message', () => {
  const texts = HANDSHAKE_ERRORS.map(handshakeErrorText);
  assert.equal(new Set(texts).size, HANDSHAKE_ERRORS.length);
  for (const text of texts) assert.doesNotMatch(text, /Cannot connect/);
  assert.equal(
    handshakeErrorText('too_many_sessions_vm'),
    'Too many open viewers for this desktop; close one and try again.',
  );
});

test('anything else is shown as it came, never looked up on the object prototype', () => {
  assert.equal(handshakeErrorText('xhr poll error'), 'Cannot connect: xhr poll error');
  assert.equal(handshakeErrorText('constructor'), 'Cannot connect: constructor');
});
