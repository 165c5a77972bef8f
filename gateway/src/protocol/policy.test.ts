import assert from 'node:assert/strict';
import test from 'node:test';
import {
  DEFAULT_SESSION_POLICY,
  mostRestrictivePolicy,
  sessionPolicySchema,
  type SessionPolicy,
} from './policy.ts';

const open: SessionPolicy = { ...DEFAULT_SESSION_POLICY };

test('no groups: the default policy, which the schema accepts', () => {
  assert.deepEqual(mostRestrictivePolicy([]), DEFAULT_SESSION_POLICY);
  assert.equal(sessionPolicySchema.safeParse(DEFAULT_SESSION_POLICY).success, true);
});

test('a right is granted only when every group grants it; recording and watermark when any asks', () => {
  const strict: SessionPolicy = {
    ...open,
    clipboardFromVm: false,
    uploadEnabled: false,
    recording: true,
  };
  const marked: SessionPolicy = { ...open, watermark: true, clipboardToVm: false };
  const combined = mostRestrictivePolicy([open, strict, marked]);
  assert.equal(combined.clipboardFromVm, false);
  assert.equal(combined.clipboardToVm, false);
  assert.equal(combined.uploadEnabled, false);
  assert.equal(combined.downloadEnabled, true);
  assert.equal(combined.recording, true);
  assert.equal(combined.watermark, true);
});

test('the smallest limit wins, and a time limit of 0 means none', () => {
  const combined = mostRestrictivePolicy([
    { ...open, clipboardMaxBytes: 1000, idleTimeoutMinutes: 0, maxSessionMinutes: 480 },
    { ...open, clipboardMaxBytes: 50, idleTimeoutMinutes: 15, maxSessionMinutes: 0 },
    { ...open, uploadMaxBytes: 1024, idleTimeoutMinutes: 30 },
  ]);
  assert.equal(combined.clipboardMaxBytes, 50);
  assert.equal(combined.uploadMaxBytes, 1024);
  assert.equal(combined.idleTimeoutMinutes, 15);
  assert.equal(combined.maxSessionMinutes, 480);
});

test('the schema refuses limits beyond the transfer limits, unknown keys and negative minutes', () => {
  assert.equal(
    sessionPolicySchema.safeParse({ ...open, clipboardMaxBytes: 10 ** 9 }).success,
    false,
  );
  assert.equal(sessionPolicySchema.safeParse({ ...open, extra: true }).success, false);
  assert.equal(sessionPolicySchema.safeParse({ ...open, idleTimeoutMinutes: -1 }).success, false);
});
