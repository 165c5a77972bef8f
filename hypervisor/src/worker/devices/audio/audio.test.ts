import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpusScript from 'opusscript';
import { MonoResampler } from './resampler.ts';
import { OPUS_FRAME_SAMPLES, OPUS_SAMPLE_RATE, OpusFrameEncoder } from './opus-encoder.ts';

function tone(hz: number, rate: number, from: number, count: number): Float32Array {
  return Float32Array.from(
    { length: count },
    (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * (from + i)) / rate),
  );
}

function zeroCrossings(samples: ArrayLike<number>): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) crossings++;
  return crossings;
}

test('resampling 22.05 kHz stereo to 24 kHz mono keeps the pitch and the phase across chunks', () => {
  const resampler = new MonoResampler(22_050, 24_000);
  const out: number[] = [];
  // Uneven chunks, as v86's DMA blocks come.
  let at = 0;
  for (const size of [1024, 512, 777, 1024, 4096, 14_617]) {
    const left = tone(440, 22_050, at, size);
    const right = left.map((v) => -v * 0.2 + v * 1.2); // louder on one side; mono is the mean
    out.push(...resampler.push(left, right));
    at += size;
  }
  // 22050 input samples are 1 s: about 24000 output samples holding 440 periods.
  assert.ok(Math.abs(out.length - 24_000) <= 2, `got ${out.length} samples`);
  assert.ok(Math.abs(zeroCrossings(out) - 880) <= 2, `got ${zeroCrossings(out)} crossings`);
  // No step at chunk seams: neighbouring samples of a 440 Hz sine differ by at most ~0.06.
  for (let i = 1; i < out.length; i++)
    assert.ok(Math.abs(out[i]! - out[i - 1]!) < 0.07, `step at ${i}`);
});

test('a tone encoded to Opus packets decodes to the same tone', () => {
  const encoder = new OpusFrameEncoder();
  const packets: Buffer[] = [];
  // Samples arrive in pieces that do not line up with 20 ms frames.
  for (let at = 0; at < OPUS_SAMPLE_RATE; at += 700)
    packets.push(
      ...encoder.push(tone(440, OPUS_SAMPLE_RATE, at, Math.min(700, OPUS_SAMPLE_RATE - at))),
    );
  encoder.delete();
  assert.equal(packets.length, Math.floor(OPUS_SAMPLE_RATE / OPUS_FRAME_SAMPLES));
  const bytes = packets.reduce((n, p) => n + p.length, 0);
  // 32 kbit/s is about 4000 bytes a second; far more would mean the bitrate was not set.
  assert.ok(bytes < 6_000, `${bytes} bytes for 1 s`);

  const decoder = new OpusScript(OPUS_SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  const decoded: number[] = [];
  for (const packet of packets) {
    const pcm = decoder.decode(packet);
    for (let i = 0; i < pcm.length; i += 2) decoded.push(pcm.readInt16LE(i) / 32768);
  }
  decoder.delete();
  // Skip the codec's start-up; the rest (0.5 s) holds 220 periods of 440 Hz.
  const steady = decoded.slice(OPUS_SAMPLE_RATE / 4, (OPUS_SAMPLE_RATE * 3) / 4);
  assert.ok(Math.abs(zeroCrossings(steady) - 440) <= 4, `got ${zeroCrossings(steady)} crossings`);
  const peak = Math.max(...steady.map(Math.abs));
  assert.ok(peak > 0.35 && peak < 0.65, `peak ${peak}`);
});
