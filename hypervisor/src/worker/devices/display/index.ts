// Display device of a domain (worker side). PNG encoding for screenshots and thumbnails is
// daemon-side (host/devices/png.ts), so workers never load node-canvas.
export {
  DisplayDevice,
  installImageDataShim,
  TILE_SIZE,
  type CapturedFrame,
  type DisplayDeviceOptions,
  type DisplayGeometry,
  type DisplaySnapshot,
  type ImageDataLike,
  type V86DisplayLike,
  type V86Layer,
  type V86ScreenAdapterLike,
  type V86VgaLike,
} from './display-device.ts';
export {
  loadVgaFont,
  parsePsf,
  cp437FontFromPsf,
  CP437_TO_UNICODE,
  DEFAULT_FONT_CANDIDATES,
  type BitmapFont,
  type PsfFont,
} from './font.ts';
export { TextGrid, CELL_WIDTH, CELL_HEIGHT, VGA_PALETTE, rgbToPixel } from './text-renderer.ts';
