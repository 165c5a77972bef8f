// Sound card of a domain (worker side): v86's SB16 pulled at the guest's rate, Opus out.
export {
  AudioDevice,
  type CapturedAudio,
  type V86AudioBusLike,
  type V86Sb16Like,
} from './audio-device.ts';
export { MonoResampler } from './resampler.ts';
export {
  OpusFrameEncoder,
  OPUS_BITRATE,
  OPUS_FRAME_SAMPLES,
  OPUS_SAMPLE_RATE,
} from './opus-encoder.ts';
