/// <reference lib="dom" />
// The desktop's sound in the browser: Opus packets from the gateway, decoded with WebCodecs'
// AudioDecoder and played through Web Audio. Each decoded packet is scheduled right after the
// previous one, with a small lead (the jitter buffer) over the audio clock; a lead that grew
// too large (the tab was in the background, a burst after a stall) is dropped back to the
// small one, so sound stays within a fraction of a second of the picture.
//
// Browsers start an AudioContext suspended until the person interacts with the page (autoplay
// policy): the player resumes it on the first click or key press. WebCodecs exists only in a
// secure context (https, or localhost): elsewhere sound is unavailable and says so.
import { audioMessageSchema, type AudioMessage } from '@raydesk/gateway/protocol';

/** Playback starts this far ahead of the audio clock, to absorb network jitter. */
const JITTER_BUFFER_S = 0.08;
/** A schedule further ahead than this is cut back to the jitter buffer. */
const MAX_LEAD_S = 0.4;

export type SoundState =
  /** The person turned sound off. */
  | 'muted'
  /** Waiting for a click or key press (the browser's autoplay policy). */
  | 'blocked'
  | 'on'
  /** This browser cannot decode the stream (no WebCodecs: not a secure context). */
  | 'unavailable';

export interface AudioStats {
  chunks: number;
  packets: number;
  bytes: number;
  /** ms from the guest's sound card to this page receiving the chunk (same clock as the gateway). */
  lastTransitMs: number;
  /** Seconds of decoded sound queued ahead of the audio clock. */
  leadS: number;
}

export interface AudioPlayerOptions {
  /** Whether the viewer should receive sound; called whenever that changes. */
  onListenChange: (listen: boolean) => void;
  onStateChange?: (state: SoundState) => void;
  /** Every decoded block of samples (mono, at `sampleRate`), e.g. for a level meter or a test. */
  onSamples?: (samples: Float32Array, sampleRate: number, transitMs: number) => void;
}

export class AudioPlayer {
  readonly stats: AudioStats = { chunks: 0, packets: 0, bytes: 0, lastTransitMs: 0, leadS: 0 };
  private wanted = true;
  private context: AudioContext | null = null;
  private decoder: AudioDecoder | null = null;
  private decoderConfig = '';
  private nextTime = 0;
  private listening = false;
  private lastSeq = 0;
  private transitMs = 0;
  private readonly gestureListener = () => void this.resume();

  constructor(
    private readonly doc: Document,
    private readonly options: AudioPlayerOptions,
  ) {
    if (!AudioPlayer.supported()) return;
    // The first interaction anywhere on the page may start sound.
    doc.addEventListener('pointerdown', this.gestureListener, true);
    doc.addEventListener('keydown', this.gestureListener, true);
    this.ensureContext();
  }

  static supported(): boolean {
    return typeof AudioDecoder !== 'undefined' && typeof AudioContext !== 'undefined';
  }

  get state(): SoundState {
    if (!AudioPlayer.supported()) return 'unavailable';
    if (!this.wanted) return 'muted';
    return this.context?.state === 'running' ? 'on' : 'blocked';
  }

  /** The person's choice (the toolbar's sound button). A click is a gesture: sound may start. */
  setWanted(wanted: boolean): void {
    this.wanted = wanted;
    if (wanted) void this.resume();
    this.update();
  }

  toggle(): void {
    this.setWanted(!this.wanted);
  }

  /** A new session: the gateway has no listen on record, so tell it again. */
  sessionStarted(): void {
    this.listening = false;
    this.lastSeq = 0;
    this.update();
  }

  /** One `audio:chunk`; anything that does not parse is ignored. */
  receive(raw: unknown): void {
    const parsed = audioMessageSchema.safeParse(raw);
    if (!parsed.success || !this.listening) return;
    const chunk = parsed.data;
    const data = chunk.data instanceof Uint8Array ? chunk.data : new Uint8Array(chunk.data);
    this.stats.chunks++;
    this.stats.bytes += data.byteLength;
    this.transitMs = Date.now() - chunk.capturedAt;
    this.stats.lastTransitMs = this.transitMs;
    const decoder = this.decoderFor(chunk);
    if (!decoder) return;
    const packetUs = (chunk.frameSamples / chunk.sampleRate) * 1e6;
    // A gap in the sequence (chunks dropped): start the schedule afresh rather than late.
    if (this.lastSeq && chunk.seq !== this.lastSeq + 1) this.nextTime = 0;
    this.lastSeq = chunk.seq;
    let offset = 0;
    chunk.sizes.forEach((size, i) => {
      decoder.decode(
        new EncodedAudioChunk({
          type: 'key',
          timestamp: Math.round((chunk.seq * 100 + i) * packetUs),
          data: data.subarray(offset, offset + size),
        }),
      );
      offset += size;
      this.stats.packets++;
    });
  }

  destroy(): void {
    this.doc.removeEventListener('pointerdown', this.gestureListener, true);
    this.doc.removeEventListener('keydown', this.gestureListener, true);
    this.closeDecoder();
    void this.context?.close();
    this.context = null;
  }

  private ensureContext(): AudioContext {
    if (!this.context) {
      this.context = new AudioContext({ latencyHint: 'interactive' });
      this.context.addEventListener('statechange', () => this.update());
    }
    return this.context;
  }

  private async resume(): Promise<void> {
    if (!AudioPlayer.supported() || !this.wanted) return;
    const context = this.ensureContext();
    if (context.state !== 'running') await context.resume().catch(() => undefined);
    this.update();
  }

  /** Listens exactly while sound is wanted and can be heard. */
  private update(): void {
    const listen = this.state === 'on';
    if (listen !== this.listening) {
      this.listening = listen;
      if (!listen) this.closeDecoder();
      this.options.onListenChange(listen);
    }
    this.options.onStateChange?.(this.state);
  }

  private decoderFor(chunk: AudioMessage): AudioDecoder | null {
    const config = `${chunk.codec}/${chunk.sampleRate}/${chunk.channels}`;
    if (this.decoder && this.decoderConfig === config && this.decoder.state === 'configured')
      return this.decoder;
    this.closeDecoder();
    const decoder = new AudioDecoder({
      output: (audio) => this.play(audio),
      error: () => this.closeDecoder(),
    });
    decoder.configure({
      codec: chunk.codec,
      sampleRate: chunk.sampleRate,
      numberOfChannels: chunk.channels,
    });
    this.decoder = decoder;
    this.decoderConfig = config;
    this.nextTime = 0;
    return decoder;
  }

  private closeDecoder(): void {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
  }

  private play(audio: AudioData): void {
    const context = this.context;
    // Decoders may output at another rate than the stream's (Chromium's Opus gives 48 kHz).
    const sampleRate = audio.sampleRate;
    const frames = audio.numberOfFrames;
    const samples = new Float32Array(frames);
    audio.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
    audio.close();
    this.options.onSamples?.(samples, sampleRate, this.transitMs);
    if (!context || context.state !== 'running' || frames === 0) return;
    const buffer = context.createBuffer(1, frames, sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const now = context.currentTime;
    if (this.nextTime < now || this.nextTime - now > MAX_LEAD_S)
      this.nextTime = now + JITTER_BUFFER_S;
    source.start(this.nextTime);
    this.nextTime += frames / sampleRate;
    this.stats.leadS = this.nextTime - now;
  }
}
