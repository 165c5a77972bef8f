import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  domainIdSchema,
  keyCodeSchema,
  POINTER_COORD_MAX,
  pointerCoordSchema,
  SECRET_MIN_LENGTH,
  secretSchema,
  wheelNotchesSchema,
} from './index.ts';

test('domain ids: lowercase letters, digits and dashes, never starting with a dash', () => {
  for (const id of ['vm-1a2b3c4d', 'a', '0', `a${'b'.repeat(62)}`]) {
    assert.equal(domainIdSchema.safeParse(id).success, true, id);
  }
  for (const id of ['', '-vm', 'VM-1', 'vm_1', 'vm/1', '../etc', `a${'b'.repeat(63)}`]) {
    assert.equal(domainIdSchema.safeParse(id).success, false, id);
  }
});

test('key codes are KeyboardEvent.code names, nothing else', () => {
  for (const code of ['KeyA', 'ShiftLeft', 'F12', 'Digit0']) {
    assert.equal(keyCodeSchema.safeParse(code).success, true, code);
  }
  for (const code of ['', 'Key A', 'a'.repeat(33), 'Key-A', '<script>']) {
    assert.equal(keyCodeSchema.safeParse(code).success, false, code);
  }
});

test('pointer coordinates stop at POINTER_COORD_MAX; wheel notches at ±32', () => {
  assert.equal(pointerCoordSchema.safeParse(0).success, true);
  assert.equal(pointerCoordSchema.safeParse(POINTER_COORD_MAX).success, true);
  assert.equal(pointerCoordSchema.safeParse(POINTER_COORD_MAX + 1).success, false);
  assert.equal(pointerCoordSchema.safeParse(-1).success, false);
  assert.equal(pointerCoordSchema.safeParse(1.5).success, false);
  assert.equal(wheelNotchesSchema.safeParse(-32).success, true);
  assert.equal(wheelNotchesSchema.safeParse(33).success, false);
});

test('each secret has one minimum length, and the message names the secret', () => {
  for (const [name, min] of Object.entries(SECRET_MIN_LENGTH)) {
    const schema = secretSchema(name as keyof typeof SECRET_MIN_LENGTH);
    assert.equal(schema.safeParse('x'.repeat(min)).success, true, name);
    const short = schema.safeParse('x'.repeat(min - 1));
    assert.equal(short.success, false, name);
    assert.match(short.error!.issues[0]!.message, new RegExp(`${name} must be at least ${min}`));
    const missing = schema.safeParse(undefined);
    assert.match(missing.error!.issues[0]!.message, new RegExp(`${name} is not set`));
  }
});
