import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeForwardFrame,
  encodeForwardFrame,
  FORWARD_MAX_DATA,
  type ForwardFrame,
} from './forward-protocol.ts';

test('every frame type survives encoding and decoding', () => {
  const frames: ForwardFrame[] = [
    { type: 'open', stream: 1, port: 5900 },
    { type: 'open', stream: 0xffffffff, port: 65535 },
    { type: 'opened', stream: 7 },
    { type: 'data', stream: 7, data: Uint8Array.of(1, 2, 3) },
    { type: 'end', stream: 7 },
    { type: 'close', stream: 7, reason: 'refused' },
    { type: 'close', stream: 8, reason: 'aborted' },
    { type: 'pause', stream: 9 },
    { type: 'resume', stream: 9 },
  ];
  for (const frame of frames) {
    const decoded = decodeForwardFrame(encodeForwardFrame(frame));
    assert.deepEqual(
      decoded && { ...decoded, ...('data' in decoded ? { data: [...decoded.data] } : {}) },
      { ...frame, ...('data' in frame ? { data: [...frame.data] } : {}) },
    );
  }
});

test('malformed frames are rejected, not guessed at', () => {
  const valid = encodeForwardFrame({ type: 'open', stream: 3, port: 22 });
  const variant = (edit: (b: Uint8Array) => Uint8Array) => decodeForwardFrame(edit(valid.slice()));
  assert.equal(decodeForwardFrame(new Uint8Array(4)), null, 'shorter than a header');
  assert.equal(
    variant((b) => ((b[0] = 99), b)),
    null,
    'unknown type',
  );
  assert.equal(
    variant((b) => b.subarray(0, 6)),
    null,
    'OPEN without its port',
  );
  assert.equal(
    variant((b) => ((b[5] = 0), (b[6] = 0), b)),
    null,
    'port 0',
  );
  assert.equal(
    variant((b) => ((b[1] = b[2] = b[3] = b[4] = 0), b)),
    null,
    'stream 0',
  );
  assert.equal(decodeForwardFrame(Uint8Array.of(3, 1, 0, 0, 0)), null, 'empty DATA');
  assert.equal(
    decodeForwardFrame(new Uint8Array(5 + FORWARD_MAX_DATA + 1).fill(3, 0, 1).fill(1, 1, 2)),
    null,
    'DATA over the limit',
  );
  assert.equal(decodeForwardFrame(Uint8Array.of(5, 1, 0, 0, 0, 42)), null, 'unknown close reason');
  assert.equal(decodeForwardFrame(Uint8Array.of(2, 1, 0, 0, 0, 0)), null, 'OPENED with payload');
});
