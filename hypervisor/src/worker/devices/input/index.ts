export {
  InputDevice,
  BUTTON_LEFT,
  BUTTON_MIDDLE,
  BUTTON_RIGHT,
  type V86InputLike,
} from './input-device.ts';
export { scancodesFor, isModifier, KNOWN_CODES } from './keymap.ts';
