// The sound card of one domain (worker side): v86's Sound Blaster 16 is pull-based. Its speaker
// adapter asks for samples ("dac-request-data") and the card answers with one DMA block of
// float samples per channel ("dac-send-data"), raising the guest's interrupt as blocks complete.
// Here the worker is that adapter: while the guest has the DAC enabled it pulls at the guest's
// sample rate, paced by the wall clock (a little ahead, so a late timer does not starve the
// guest), and nothing runs while the card is silent. Samples are resampled to mono and encoded
// to Opus only while someone listens.
import type { AudioChunk } from '../../../api/protocol.ts';
import { MonoResampler } from './resampler.ts';
import { OPUS_FRAME_SAMPLES, OPUS_SAMPLE_RATE, OpusFrameEncoder } from './opus-encoder.ts';

/** The slice of v86 this device uses: its bus, from the adapter's side. */
export interface V86AudioBusLike {
  add_listener(event: string, listener: (value: unknown) => void): void;
  bus: { send(event: string, value?: unknown): void };
}

/** The SB16's state fields read after a restore (v86's src/sb16.js). */
export interface V86Sb16Like {
  sampling_rate: number;
  dma_paused: boolean;
  dma_bytes_left: number;
}

/** Opus packets the card played in one pull tick; the host adds the domain and a sequence. */
export type CapturedAudio = Omit<AudioChunk, 'domainId' | 'seq'>;

const PULL_INTERVAL_MS = 20;
/** How far ahead of the wall clock samples are taken from the card. */
const READ_AHEAD_MS = 60;
/** Requests per tick at most (one DMA block each), so a stalled clock cannot spin. */
const MAX_REQUESTS_PER_TICK = 64;
const DEFAULT_RATE = 22_050;

export class AudioDevice {
  private rate = DEFAULT_RATE;
  private dacEnabled = false;
  private paused = false;
  private listening = false;
  private timer: NodeJS.Timeout | null = null;
  /** Wall-clock start of the current run of samples, and how many were taken since. */
  private runStartedAt = 0;
  private samplesTaken = 0;
  private receivedInRequest = false;
  private resampler: MonoResampler | null = null;
  private encoder: OpusFrameEncoder | null = null;
  private packets: Buffer[] = [];
  private firstPacketAt: number | null = null;
  /** Samples pulled from the card since start (for stats and tests). */
  samplesPlayed = 0;

  constructor(
    private readonly emulator: V86AudioBusLike,
    private readonly onAudio: (audio: CapturedAudio) => void,
    private readonly now: () => number = Date.now,
  ) {
    emulator.add_listener('dac-tell-sampling-rate', (rate) => {
      if (typeof rate !== 'number' || !(rate > 0) || rate === this.rate) return;
      this.rate = rate;
      this.resampler = null;
      this.restartClock();
    });
    emulator.add_listener('dac-enable', () => this.setDacEnabled(true));
    emulator.add_listener('dac-disable', () => this.setDacEnabled(false));
    emulator.add_listener('dac-send-data', (data) => this.onSamples(data));
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** While nobody listens the card still plays (the guest's time must go on), unencoded. */
  setListening(listening: boolean): void {
    if (listening === this.listening) return;
    this.listening = listening;
    if (!listening) {
      this.encoder?.delete();
      this.encoder = null;
      this.resampler = null;
      this.packets = [];
      this.firstPacketAt = null;
    }
  }

  /** The emulator stopped (pause, save): so does the card's clock. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    this.updateTimer();
  }

  /**
   * After a restore the card's rate and whether it was playing are in its state, which v86 does
   * not announce on the bus.
   */
  restoredFrom(card: V86Sb16Like | undefined): void {
    if (!card) return;
    if (card.sampling_rate > 0) this.rate = card.sampling_rate;
    this.resampler = null;
    this.setDacEnabled(!card.dma_paused && card.dma_bytes_left > 0);
  }

  private setDacEnabled(enabled: boolean): void {
    if (enabled === this.dacEnabled) return;
    this.dacEnabled = enabled;
    this.updateTimer();
  }

  private updateTimer(): void {
    const run = this.dacEnabled && !this.paused;
    if (run && !this.timer) {
      this.restartClock();
      this.timer = setInterval(() => this.pull(), PULL_INTERVAL_MS);
      this.pull();
    } else if (!run && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.flush();
    }
  }

  private restartClock(): void {
    this.runStartedAt = this.now();
    this.samplesTaken = 0;
  }

  private pull(): void {
    const due = ((this.now() - this.runStartedAt + READ_AHEAD_MS) / 1000) * this.rate;
    for (let i = 0; i < MAX_REQUESTS_PER_TICK && this.samplesTaken < due; i++) {
      this.receivedInRequest = false;
      this.emulator.bus.send('dac-request-data');
      // The card answers synchronously; no answer means it has nothing (DMA not running).
      if (!this.receivedInRequest) break;
    }
    // Far behind (the worker was busy): start the clock again rather than burst to catch up.
    if (due - this.samplesTaken > this.rate) this.restartClock();
    this.flush();
  }

  private onSamples(data: unknown): void {
    if (!Array.isArray(data) || !(data[0] instanceof Float32Array)) return;
    const left = data[0];
    const right = data[1] instanceof Float32Array ? data[1] : left;
    this.receivedInRequest = true;
    this.samplesTaken += left.length;
    this.samplesPlayed += left.length;
    if (!this.listening) return;
    this.resampler ??= new MonoResampler(this.rate, OPUS_SAMPLE_RATE);
    this.encoder ??= new OpusFrameEncoder();
    const packets = this.encoder.push(this.resampler.push(left, right));
    if (packets.length > 0 && this.firstPacketAt === null) this.firstPacketAt = this.now();
    this.packets.push(...packets);
  }

  private flush(): void {
    if (this.packets.length === 0) return;
    const sizes = this.packets.map((p) => p.length);
    const data = new Uint8Array(Buffer.concat(this.packets));
    const capturedAt = this.firstPacketAt ?? this.now();
    this.packets = [];
    this.firstPacketAt = null;
    this.onAudio({
      sampleRate: OPUS_SAMPLE_RATE,
      channels: 1,
      frameSamples: OPUS_FRAME_SAMPLES,
      capturedAt,
      sizes,
      data,
    });
  }
}
