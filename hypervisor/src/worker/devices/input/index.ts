export {
  InputDevice,
  BUTTON_LEFT,
  BUTTON_MIDDLE,
  BUTTON_RIGHT,
  type V86InputLike,
  type KeyEvent,
} from './input-device.ts';
export { strokesFor, typableChars, type Stroke } from './layouts.ts';
export { scancodesFor, isModifier, KNOWN_CODES } from './keymap.ts';
export { KeyPacer, KEY_EVENT_INSTRUCTIONS, type GuestProgress } from './key-pacer.ts';
export { InputQueue, type InputTarget, type QueuedInput } from './input-queue.ts';
