// One decoder per rect encoding, behind one interface: decode (possibly off the main thread)
// to something that can be painted synchronously, so rects decode in parallel yet paint in order.
import type { RectEncoding, WireRect } from '@raydesk/gateway/protocol';

export type Paint = (ctx: CanvasRenderingContext2D) => void;

export interface RectDecoder {
  decode(rect: WireRect): Promise<Paint> | Paint;
}

export class FillDecoder implements RectDecoder {
  decode(rect: WireRect): Paint {
    if (rect.enc !== 'fill') throw new Error('not a fill rect');
    const color = `#${rect.rgb.toString(16).padStart(6, '0')}`;
    return (ctx) => {
      ctx.fillStyle = color;
      ctx.fillRect(rect.x, rect.y, rect.w, rect.h);
    };
  }
}

/**
 * PNG and JPEG: `createImageBitmap` on a Blob decodes off the main thread in Chromium and
 * Firefox. The bitmap is closed once painted.
 */
export class ImageDecoder implements RectDecoder {
  constructor(private readonly mime: 'image/png' | 'image/jpeg') {}
  async decode(rect: WireRect): Promise<Paint> {
    if (rect.enc === 'fill') throw new Error('not an image rect');
    const bytes =
      rect.data instanceof Uint8Array ? rect.data : new Uint8Array(rect.data as ArrayBuffer);
    const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: this.mime }));
    return (ctx) => {
      ctx.drawImage(bitmap, rect.x, rect.y, rect.w, rect.h);
      bitmap.close();
    };
  }
}

export const DECODERS: Record<RectEncoding, RectDecoder> = {
  fill: new FillDecoder(),
  png: new ImageDecoder('image/png'),
  jpeg: new ImageDecoder('image/jpeg'),
};
