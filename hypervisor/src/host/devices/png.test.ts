import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCanvas, loadImage } from 'canvas';
import { encodePng, scaleToWidth, thumbnailPng } from './png.ts';

function checker(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rgba[i] = x < width / 2 ? 255 : 0;
      rgba[i + 1] = y < height / 2 ? 255 : 0;
      rgba[i + 2] = 7;
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

async function decode(png: Buffer) {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return {
    width: img.width,
    height: img.height,
    data: ctx.getImageData(0, 0, img.width, img.height).data,
  };
}

test('encodePng round-trips pixels', async () => {
  const png = encodePng(checker(40, 20), 40, 20);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const img = await decode(png);
  assert.equal(img.width, 40);
  assert.equal(img.height, 20);
  assert.deepEqual([...img.data.subarray(0, 4)], [255, 255, 7, 255]);
  const i = (19 * 40 + 39) * 4;
  assert.deepEqual([...img.data.subarray(i, i + 4)], [0, 0, 7, 255]);
});

test('encodePng rejects a short buffer', () => {
  assert.throws(() => encodePng(new Uint8Array(10), 40, 20), RangeError);
});

test('scaleToWidth keeps the aspect ratio', () => {
  const out = scaleToWidth(checker(1024, 768), 1024, 768, 256);
  assert.equal(out.width, 256);
  assert.equal(out.height, 192);
  assert.equal(out.rgba.length, 256 * 192 * 4);
  assert.deepEqual([...out.rgba.subarray(0, 4)], [255, 255, 7, 255]);
});

test('thumbnailPng', async () => {
  const img = await decode(thumbnailPng(checker(640, 400), 640, 400, 160));
  assert.equal(img.width, 160);
  assert.equal(img.height, 100);
});
