// The watermark policy through a real gateway socket: the stamp names the user's email and the
// address the gateway trusts (the portal proxy's x-forwarded-for from a loopback peer), and the
// frames a watermarked viewer receives differ from an unmarked viewer's exactly in its pattern.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { io as connect } from 'socket.io-client';
import { createCanvas, loadImage } from 'canvas';
import type { DisplayUpdate } from '../src/protocol/browser.ts';
import { DEFAULT_SESSION_POLICY } from '../src/protocol/policy.ts';
import type { AttachGrant } from '../src/protocol/internal.ts';
import { Recorder, startHarness, type Harness, type ViewerClient } from '../testing/helpers.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const WATERMARK = { policy: { ...DEFAULT_SESSION_POLICY, watermark: true } };

/** A viewer socket, optionally behind the portal's proxy (an x-forwarded-for header). */
function viewer(grant: Partial<AttachGrant>, forwardedFor?: string): ViewerClient {
  const socket = connect(h.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(forwardedFor ? { extraHeaders: { 'x-forwarded-for': forwardedFor } } : {}),
    auth: (cb) =>
      void h.token(grant).then((token) => cb({ token, clientId: randomUUID(), protocol: 1 })),
  }) as ViewerClient;
  socket.rec = new Recorder();
  socket.onAny((event: string, value: unknown) => socket.rec.push(event, value));
  socket.on('disconnect', (reason) => socket.rec.push('disconnect', reason));
  return socket;
}

/** The first full frame the viewer receives, painted into an RGBA picture. */
async function firstPicture(socket: ViewerClient) {
  let picture: Uint8ClampedArray | null = null;
  let width = 0;
  for (;;) {
    const update = await socket.rec.next<DisplayUpdate>('display:update', 10_000);
    if (!picture) {
      width = update.width;
      picture = new Uint8ClampedArray(update.width * update.height * 4);
    }
    assert.ok(update.rects.filter((r) => r.enc !== 'fill').length <= 10);
    for (const rect of update.rects) {
      let pixels: Uint8ClampedArray;
      if (rect.enc === 'fill') {
        pixels = new Uint8ClampedArray(rect.w * rect.h * 4);
        for (let i = 0; i < pixels.length; i += 4) {
          pixels.set([rect.rgb >> 16, (rect.rgb >> 8) & 255, rect.rgb & 255, 255], i);
        }
      } else if (rect.enc === 'copy') {
        throw new Error('a watermarked picture is never sent as copies: they would move the stamp');
      } else {
        const canvas = createCanvas(rect.w, rect.h);
        canvas.getContext('2d').drawImage(await loadImage(Buffer.from(rect.data)), 0, 0);
        pixels = canvas.getContext('2d').getImageData(0, 0, rect.w, rect.h).data;
      }
      for (let row = 0; row < rect.h; row++) {
        const line = pixels.subarray(row * rect.w * 4, (row + 1) * rect.w * 4);
        picture.set(line, ((rect.y + row) * width + rect.x) * 4);
      }
    }
    if (update.last) {
      socket.emit('frame:ack', { seq: update.seq });
      return { picture, width, height: update.height };
    }
  }
}

test('a watermark policy stamps the email and the proxied address into the frames sent', async () => {
  const marked = viewer({ ...WATERMARK, email: 'ada@example.test' }, '198.51.100.20, 203.0.113.9');
  const plain = viewer({ mode: 'view', role: 'admin', name: 'Admin' });
  try {
    const [a, b] = [await firstPicture(marked), await firstPicture(plain)];
    const sessions = h.gateway.sessions.forVm('vm-1');
    assert.equal(sessions.length, 2);
    const stamped = sessions.find((s) => s.policy.watermark)!;
    assert.equal(sessions.find((s) => !s.policy.watermark)!.watermark, null);
    const watermark = stamped.watermark!;
    assert.equal(watermark.lines[0], 'ada@example.test');
    assert.match(watermark.lines[1]!, / UTC · 203\.0\.113\.9$/, 'the last hop the proxy added');

    // The fake VM's screen is still: the two pictures differ only by the stamp.
    let differOffInk = 0;
    let inked = 0;
    let inkedDiffer = 0;
    for (let y = 0; y < a.height; y++) {
      for (let x = 0; x < a.width; x++) {
        const o = (y * a.width + x) * 4;
        const differs =
          a.picture[o] !== b.picture[o] ||
          a.picture[o + 1] !== b.picture[o + 1] ||
          a.picture[o + 2] !== b.picture[o + 2];
        const ink =
          watermark.mask[(y % watermark.height) * watermark.width + (x % watermark.width)];
        if (ink) {
          inked++;
          if (differs) inkedDiffer++;
        } else if (differs) {
          differOffInk++;
        }
      }
    }
    assert.equal(differOffInk, 0, 'nothing changes where the pattern has no ink');
    assert.ok(inkedDiffer > inked * 0.9, `${inkedDiffer} of ${inked} inked pixels differ`);
    assert.equal(marked.connected, true, 'the viewer took every part');
  } finally {
    marked.disconnect();
    plain.disconnect();
  }
});
