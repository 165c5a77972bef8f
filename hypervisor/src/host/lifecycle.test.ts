import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DOMAIN_STATES } from '../api/protocol.ts';
import {
  IllegalTransitionError,
  OPERATION_FROM,
  TRANSITIONS,
  assertOperation,
  assertTransition,
  holdsMemory,
} from './lifecycle.ts';

test('every state has a transition list and stopped is final', () => {
  for (const state of DOMAIN_STATES) assert.ok(Array.isArray(TRANSITIONS[state]), state);
  assert.deepEqual(TRANSITIONS.stopped, []);
});

test('illegal operations are refused with a message naming the state', () => {
  assert.throws(
    () => assertOperation('vm-1', 'unpause', 'running'),
    (error: unknown) =>
      error instanceof IllegalTransitionError &&
      /cannot unpause domain vm-1 while it is running/.test(error.message),
  );
  assert.throws(() => assertOperation('vm-1', 'pause', 'saved'), IllegalTransitionError);
  assert.throws(() => assertOperation('vm-1', 'input', 'paused'), IllegalTransitionError);
  assert.doesNotThrow(() => assertOperation('vm-1', 'pause', 'running'));
  assert.doesNotThrow(() => assertOperation('vm-1', 'start', 'crashed'));
});

test('operations only start from states whose transitions allow their outcome', () => {
  for (const from of OPERATION_FROM.pause!) assertTransition('x', from, 'paused');
  for (const from of OPERATION_FROM.unpause!) assertTransition('x', from, 'running');
  for (const from of OPERATION_FROM.save!) assertTransition('x', from, 'saving');
  for (const from of OPERATION_FROM.start!) assertTransition('x', from, 'starting');
  for (const from of OPERATION_FROM.destroy!) assertTransition('x', from, 'stopped');
  assert.throws(() => assertTransition('x', 'stopped', 'running'), IllegalTransitionError);
});

test('saved and crashed domains hold no memory', () => {
  assert.equal(holdsMemory('running'), true);
  assert.equal(holdsMemory('paused'), true);
  assert.equal(holdsMemory('saved'), false);
  assert.equal(holdsMemory('crashed'), false);
  assert.equal(holdsMemory('stopped'), false);
});
