import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionAdmission, type LiveSession } from './admission.ts';

const limits = { maxPerUser: 3, maxPerVm: 2 };

test('a VM at its cap refuses another viewer, whoever it is', () => {
  const live: LiveSession[] = [
    { userId: 'ann', vm: 'vm-a', mode: 'control' },
    { userId: 'adm', vm: 'vm-a', mode: 'view' },
  ];
  const admission = new SessionAdmission(limits, () => live);
  assert.equal(
    admission.admit('t1', { sub: 'adm2', vm: 'vm-a', mode: 'view' }),
    'too_many_sessions_vm',
  );
  assert.equal(admission.admit('t2', { sub: 'ann', vm: 'vm-b', mode: 'control' }), null);
});

test('a user at the cap is refused on any VM', () => {
  const live: LiveSession[] = [
    { userId: 'adm', vm: 'vm-a', mode: 'view' },
    { userId: 'adm', vm: 'vm-b', mode: 'view' },
    { userId: 'adm', vm: 'vm-c', mode: 'view' },
  ];
  const admission = new SessionAdmission(limits, () => live);
  assert.equal(
    admission.admit('t1', { sub: 'adm', vm: 'vm-d', mode: 'view' }),
    'too_many_sessions_user',
  );
  assert.equal(admission.admit('t2', { sub: 'bob', vm: 'vm-d', mode: 'view' }), null);
});

test('a control attach at the cap is admitted: the control session it replaces does not count', () => {
  const live: LiveSession[] = [
    { userId: 'ann', vm: 'vm-a', mode: 'control' },
    { userId: 'adm', vm: 'vm-a', mode: 'view' },
  ];
  const admission = new SessionAdmission(limits, () => live);
  assert.equal(admission.admit('t1', { sub: 'ann', vm: 'vm-a', mode: 'control' }), null);
  assert.equal(
    admission.admit('t2', { sub: 'ann', vm: 'vm-a', mode: 'view' }),
    'too_many_sessions_vm',
    'a view attach replaces nothing',
  );
});

test('a control attach is never refused for the VM: its place is kept free of shadows', () => {
  const live: LiveSession[] = [{ userId: 'adm', vm: 'vm-a', mode: 'view' }];
  const admission = new SessionAdmission(limits, () => live);
  assert.equal(
    admission.admit('t1', { sub: 'adm2', vm: 'vm-a', mode: 'view' }),
    'too_many_sessions_vm',
    'views get maxPerVm - 1',
  );
  assert.equal(admission.admit('t2', { sub: 'ann', vm: 'vm-a', mode: 'control' }), null);
});

test('handshakes in flight hold their place until they settle', () => {
  const admission = new SessionAdmission({ maxPerUser: 3, maxPerVm: 3 }, () => []);
  assert.equal(admission.admit('t1', { sub: 'ann', vm: 'vm-a', mode: 'view' }), null);
  assert.equal(admission.admit('t2', { sub: 'bob', vm: 'vm-a', mode: 'view' }), null);
  assert.equal(
    admission.admit('t3', { sub: 'cat', vm: 'vm-a', mode: 'view' }),
    'too_many_sessions_vm',
  );
  assert.equal(admission.reserved, 2);
  admission.settle('t1');
  assert.equal(admission.admit('t3', { sub: 'cat', vm: 'vm-a', mode: 'view' }), null);
});
