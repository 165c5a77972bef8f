// Input as it travels browser -> gateway -> hypervisor. Each hop validates with these, so an
// event the first hop accepts is never refused by the next.
import * as z from 'zod';

/** Largest pointer coordinate in guest screen pixels (0-based, so screens up to 8192 wide). */
export const POINTER_COORD_MAX = 8191;
/** Wheel notches in one event, either direction. */
export const WHEEL_NOTCHES_MAX = 32;

/** `KeyboardEvent.code` (the physical key), e.g. "KeyA", "ShiftLeft", "AltRight". */
export const KEY_CODE_PATTERN = /^[A-Za-z0-9]{1,32}$/;
export const keyCodeSchema = z.string().regex(KEY_CODE_PATTERN);

/**
 * A typed character (`KeyboardEvent.key` of a printable key, or text from an `input` event):
 * one Unicode code point that prints, space included; control, format and unassigned code
 * points are refused (Enter, Tab and the like travel as key codes).
 */
export const TYPED_CHAR_PATTERN = /^[^\p{C}]$/u;
export const typedCharSchema = z.string().regex(TYPED_CHAR_PATTERN);

export const pointerCoordSchema = z.number().int().min(0).max(POINTER_COORD_MAX);
/** Bit 0 left, bit 1 right, bit 2 middle (`MouseEvent.buttons` order). */
export const pointerButtonsSchema = z.number().int().min(0).max(7);
/** Positive is down / right. */
export const wheelNotchesSchema = z.number().int().min(-WHEEL_NOTCHES_MAX).max(WHEEL_NOTCHES_MAX);
