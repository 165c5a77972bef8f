// The Raydesk remote-desktop viewer: framework-agnostic, no dependency on the portal. The portal
// wraps it for React (web/src/components/RemoteDesktop.tsx).
export {
  RemoteViewer,
  type RemoteViewerOptions,
  type AttachTicket,
  type ViewerState,
  type ViewerStateDetail,
  type PaintInfo,
} from './RemoteViewer.ts';
export {
  AttachRefusedError,
  ReconnectPolicy,
  reconnects,
  DEFAULT_RECONNECT_POLICY,
  type Disconnect,
  type ReconnectPolicyOptions,
} from './reconnect.ts';
export { statusText } from './status.ts';
export { AudioPlayer, type AudioStats, type SoundState } from './audio.ts';
export { Display } from './Display.ts';
export { RecordingPlayer, type RecordingSource, type PlayerState } from './RecordingPlayer.ts';
export { DECODERS, FillDecoder, ImageDecoder, type RectDecoder, type Paint } from './decoders.ts';
export { KeyboardCapture } from './keyboard.ts';
export { textToStrokes, strokeFor, type KeyStroke } from './keymap.ts';
export { injectStyles, VIEWER_CSS } from './styles.ts';
export { ViewerTransfer, TransferRefused, formatBytes } from './transfer.ts';
