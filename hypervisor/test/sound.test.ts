// Integration test of the sound path inside the hypervisor: a real guest (desktop, then the
// disposable browser) plays a 440 Hz tone through its Sound Blaster 16 driver; the worker pulls
// the card, encodes Opus, and a control connection that listens receives it. The packets are
// decoded here (opusscript) and the pitch counted. A silent guest, or one nobody listens to,
// sends nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpusScript from 'opusscript';
import type { ApplianceName, AudioChunk } from '../src/api/index.ts';
import { sleep, startTestHypervisor, type TestHypervisor } from './harness.ts';

const TONE_HZ = 440;

function decode(chunks: AudioChunk[]): { samples: Float32Array; sampleRate: number } {
  const sampleRate = chunks[0]!.sampleRate;
  const decoder = new OpusScript(sampleRate as 24_000, 1, OpusScript.Application.AUDIO);
  const out: number[] = [];
  for (const chunk of chunks) {
    let offset = 0;
    for (const size of chunk.sizes) {
      const pcm = decoder.decode(Buffer.from(chunk.data.subarray(offset, offset + size)));
      for (let i = 0; i < pcm.length; i += 2) out.push(pcm.readInt16LE(i) / 32768);
      offset += size;
    }
  }
  decoder.delete();
  return { samples: Float32Array.from(out), sampleRate };
}

/** Frequency from zero crossings over the loud part (speaker-test fades nothing; skip edges). */
function dominantFrequency(samples: Float32Array, sampleRate: number): number {
  const loud = samples.filter(
    (_, i) => i > sampleRate / 10 && i < samples.length - sampleRate / 10,
  );
  let crossings = 0;
  for (let i = 1; i < loud.length; i++) if (loud[i - 1]! < 0 !== loud[i]! < 0) crossings++;
  return crossings / 2 / (loud.length / sampleRate);
}

describe('guest sound through the SB16', () => {
  let hv: TestHypervisor;
  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 2048 });
  });
  after(async () => {
    await hv?.close();
  });

  for (const appliance of ['desktop', 'browser'] satisfies ApplianceName[]) {
    test(`${appliance}: a 440 Hz tone arrives as Opus of that pitch; silence and no listener send nothing`, async (t) => {
      const vm = await hv.client.create({ appliance, name: `sound-${appliance}` });
      const domain = hv.host.get(vm.id);
      const card = await domain.agentRequest('sound', ['card']);
      assert.match(card, /SB16|Sound Blaster/i, `the guest found its card: ${card}`);

      const chunks: AudioChunk[] = [];
      const onChunk = (chunk: AudioChunk) => {
        if (chunk.domainId === vm.id) chunks.push(chunk);
      };
      hv.client.socket.on('audio:chunk', onChunk);
      try {
        // Nobody listens: the tone plays (the guest's time goes on) but nothing is sent.
        await domain.agentRequest('sound', ['tone', String(TONE_HZ), '1500']);
        await sleep(2500);
        assert.equal(chunks.length, 0, 'no audio without a listener');

        // The first tone's tail may still be leaving the card (speaker-test's buffer drains at
        // emulated speed): stop it and wait for the card to fall silent, then listen to silence.
        await domain.agentRequest('sound', ['stop']);
        await hv.client.listen(vm.id);
        const quietBy = Date.now() + 30_000;
        let seen = -1;
        while (seen !== chunks.length && Date.now() < quietBy) {
          seen = chunks.length;
          await sleep(1000);
        }
        chunks.length = 0;
        await sleep(1000);
        assert.equal(chunks.length, 0, 'a silent guest sends nothing');

        const asked = Date.now();
        await domain.agentRequest('sound', ['tone', String(TONE_HZ), '3000']);
        const deadline = Date.now() + 60_000;
        while (chunks.reduce((n, c) => n + c.sizes.length, 0) < 100 && Date.now() < deadline)
          await sleep(100);
        const firstAt = chunks[0]?.capturedAt;
        assert.ok(firstAt, 'audio arrived');
        const { samples, sampleRate } = decode(chunks);
        const hz = dominantFrequency(samples, sampleRate);
        t.diagnostic(
          `${appliance}: ${chunks.length} chunks, ${samples.length / sampleRate} s, ${hz.toFixed(1)} Hz; ` +
            `agent command to first sample out of the card ${firstAt - asked} ms`,
        );
        assert.ok(Math.abs(hz - TONE_HZ) < 15, `pitch ${hz} Hz`);

        // Unlisten: the rest of the tone is not sent.
        await hv.client.unlisten(vm.id);
        await sleep(300);
        const after = chunks.length;
        await sleep(1500);
        assert.equal(chunks.length, after, 'no audio after unlisten');
      } finally {
        hv.client.socket.off('audio:chunk', onChunk);
        await hv.client.destroy(vm.id).catch(() => undefined);
      }
    });
  }
});
