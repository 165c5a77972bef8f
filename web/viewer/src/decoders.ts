// One decoder per rect encoding, behind one interface: decode (possibly off the main thread)
// to something that can be painted synchronously, so rects decode in parallel yet paint in order.
import { isImageRect, type RectEncoding, type WireRect } from '@raydesk/gateway/protocol';

/**
 * Paints a decoded rect. `before` is the picture as it was before the update began (copies read
 * it); only updates with copies provide one.
 */
export type Paint = (ctx: CanvasRenderingContext2D, before: CanvasImageSource | null) => void;

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
    if (!isImageRect(rect)) throw new Error('not an image rect');
    const bytes =
      rect.data instanceof Uint8Array ? rect.data : new Uint8Array(rect.data as ArrayBuffer);
    const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: this.mime }));
    return (ctx) => {
      ctx.drawImage(bitmap, rect.x, rect.y, rect.w, rect.h);
      bitmap.close();
    };
  }
}

/** Pixels the viewer has, moved: drawn from the picture before the update. */
export class CopyDecoder implements RectDecoder {
  decode(rect: WireRect): Paint {
    if (rect.enc !== 'copy') throw new Error('not a copy rect');
    const { x, y, w, h, sx, sy } = rect;
    return (ctx, before) => {
      if (before) ctx.drawImage(before, sx, sy, w, h, x, y, w, h);
    };
  }
}

export const DECODERS: Record<RectEncoding, RectDecoder> = {
  fill: new FillDecoder(),
  copy: new CopyDecoder(),
  png: new ImageDecoder('image/png'),
  jpeg: new ImageDecoder('image/jpeg'),
};
