import * as z from 'zod';

/** What the guest's screen shows: a framebuffer mode, or VGA text rendered with a font. */
export const DISPLAY_MODES = ['graphical', 'text'] as const;
export type DisplayMode = (typeof DISPLAY_MODES)[number];

/**
 * Screen sizes a viewer may ask a guest for. The largest needs two 1920x1080x4 framebuffers in
 * the appliance's video memory (16 MiB for the desktop); the guest agent's `screen set` refuses
 * anything outside 640x480 to 1920x1200 by itself.
 */
export const GUEST_SCREEN_LIMITS = {
  minWidth: 640,
  minHeight: 480,
  maxWidth: 1920,
  maxHeight: 1080,
} as const;

export const guestScreenSizeSchema = z.object({
  width: z.number().int().min(GUEST_SCREEN_LIMITS.minWidth).max(GUEST_SCREEN_LIMITS.maxWidth),
  height: z.number().int().min(GUEST_SCREEN_LIMITS.minHeight).max(GUEST_SCREEN_LIMITS.maxHeight),
});
export type GuestScreenSize = z.infer<typeof guestScreenSizeSchema>;

/**
 * The guest screen that fits a viewer's area of `cssWidth` x `cssHeight` CSS pixels at
 * `devicePixelRatio`: device pixels, scaled down (keeping the shape) to the limits, width a
 * multiple of 8 (what mode lines use), never below the minimum.
 */
export function fitGuestScreen(
  cssWidth: number,
  cssHeight: number,
  devicePixelRatio = 1,
): GuestScreenSize {
  const { minWidth, minHeight, maxWidth, maxHeight } = GUEST_SCREEN_LIMITS;
  const ratio = Number.isFinite(devicePixelRatio) && devicePixelRatio > 0 ? devicePixelRatio : 1;
  let width = Math.max(1, cssWidth * ratio);
  let height = Math.max(1, cssHeight * ratio);
  const shrink = Math.min(1, maxWidth / width, maxHeight / height);
  width *= shrink;
  height *= shrink;
  return {
    width: Math.min(maxWidth, Math.max(minWidth, Math.floor(width / 8) * 8)),
    height: Math.min(maxHeight, Math.max(minHeight, Math.floor(height))),
  };
}
