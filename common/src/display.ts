/** What the guest's screen shows: a framebuffer mode, or VGA text rendered with a font. */
export const DISPLAY_MODES = ['graphical', 'text'] as const;
export type DisplayMode = (typeof DISPLAY_MODES)[number];
