// The console log of one domain: bytes a serial port prints, kept in a bounded in-memory ring
// (for `console <id>`) and appended to a per-VM log file with buffered, non-blocking writes.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../private-files.ts';

/** The slice of v86 SerialLog.attach uses. */
export interface V86SerialLike {
  add_listener(event: string, listener: (byte: number) => void): void;
  remove_listener(event: string, listener: (byte: number) => void): void;
}

export interface SerialLogOptions {
  /** Bytes kept in memory; default 256 KiB. */
  capacity?: number;
  /** Append everything to this file (created with its folder if missing). */
  filePath?: string;
  /** Pending bytes are written at least this often; default 250 ms. */
  flushIntervalMs?: number;
  /** Write as soon as this many bytes are pending; default 64 KiB. */
  flushBytes?: number;
  /** Called once on the first file error; logging to memory goes on. */
  onError?: (error: Error) => void;
}

interface Waiter {
  pattern: RegExp;
  resolve: (match: RegExpExecArray) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class SerialLog {
  private readonly ring: Uint8Array;
  private start = 0; // index of the oldest byte
  private length = 0;
  private total = 0;
  private readonly decoder = new TextDecoder('utf-8');

  private readonly filePath: string | undefined;
  private stream: WriteStream | null = null;
  private fileFailed = false;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly flushIntervalMs: number;
  private readonly flushBytes: number;
  private readonly onError: ((error: Error) => void) | undefined;
  // A small staging buffer so per-byte input does not allocate per byte.
  private stage = new Uint8Array(4096);
  private staged = 0;

  private readonly waiters = new Set<Waiter>();
  private waiterCheckQueued = false;
  private closed = false;

  constructor(options: SerialLogOptions = {}) {
    this.ring = new Uint8Array(Math.max(1, options.capacity ?? 256 * 1024));
    this.filePath = options.filePath;
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.flushBytes = options.flushBytes ?? 64 * 1024;
    this.onError = options.onError;
  }

  /** Listens to `serial<port>-output-byte` of an emulator; returns a detach function. */
  attach(emulator: V86SerialLike, port = 0): () => void {
    const event = `serial${port}-output-byte`;
    const listener = (byte: number) => this.pushByte(byte);
    emulator.add_listener(event, listener);
    return () => emulator.remove_listener(event, listener);
  }

  /** Total bytes ever written (not only those still in the ring). */
  get totalBytes(): number {
    return this.total;
  }

  pushByte(byte: number): void {
    if (this.staged === this.stage.length) this.commitStage();
    this.stage[this.staged++] = byte;
    this.afterInput();
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.commitStage();
    this.commit(bytes);
    this.afterInput();
  }

  /** The bytes in the ring, oldest first. */
  bytes(): Uint8Array {
    this.commitStage();
    const out = new Uint8Array(this.length);
    const cap = this.ring.length;
    const firstPart = Math.min(this.length, cap - this.start);
    out.set(this.ring.subarray(this.start, this.start + firstPart), 0);
    if (firstPart < this.length) out.set(this.ring.subarray(0, this.length - firstPart), firstPart);
    return out;
  }

  /** The ring as UTF-8 text (a sequence cut by the ring's start is dropped). */
  text(): string {
    let bytes = this.bytes();
    if (this.total > this.length) {
      // Skip continuation bytes of a character whose start fell out of the ring.
      let i = 0;
      while (i < bytes.length && i < 4 && ((bytes[i] ?? 0) & 0xc0) === 0x80) i++;
      bytes = bytes.subarray(i);
    }
    return this.decoder.decode(bytes);
  }

  /** Resolves with the match once the ring's text matches `pattern`; rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const re = new RegExp(pattern.source, pattern.flags.replace('g', '').replace('y', ''));
    const now = re.exec(this.text());
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern: re,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`serial output did not match ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Writes pending bytes to the file; resolves when they are handed to the OS. */
  flush(): Promise<void> {
    this.commitStage();
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (!this.filePath || this.fileFailed || this.pendingBytes === 0) return Promise.resolve();
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const stream = this.openStream();
    if (!stream) return Promise.resolve();
    return new Promise((resolve) => {
      stream.write(chunk, (error) => {
        if (error) this.fail(error);
        resolve();
      });
    });
  }

  /** Flushes, closes the file and rejects pending waitFor calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('serial log closed'));
    }
    this.waiters.clear();
    const stream = this.stream;
    this.stream = null;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
  }

  // ---- internals --------------------------------------------------------------------------------

  private commitStage(): void {
    if (this.staged === 0) return;
    const chunk = this.stage.subarray(0, this.staged);
    this.staged = 0;
    this.commit(chunk);
  }

  private commit(bytes: Uint8Array): void {
    this.total += bytes.length;
    // Ring.
    const cap = this.ring.length;
    const src = bytes.length > cap ? bytes.subarray(bytes.length - cap) : bytes;
    let end = (this.start + this.length) % cap;
    let off = 0;
    while (off < src.length) {
      const n = Math.min(src.length - off, cap - end);
      this.ring.set(src.subarray(off, off + n), end);
      off += n;
      end = (end + n) % cap;
    }
    const newLength = this.length + src.length;
    if (newLength > cap) {
      this.start = (this.start + (newLength - cap)) % cap;
      this.length = cap;
    } else {
      this.length = newLength;
    }
    // File.
    if (this.filePath && !this.fileFailed && !this.closed) {
      this.pending.push(Uint8Array.from(bytes));
      this.pendingBytes += bytes.length;
    }
  }

  private afterInput(): void {
    if (this.filePath && !this.fileFailed && !this.closed) {
      if (this.pendingBytes + this.staged >= this.flushBytes) void this.flush();
      else if (!this.flushTimer) {
        this.flushTimer = setTimeout(() => {
          this.flushTimer = null;
          void this.flush();
        }, this.flushIntervalMs);
        this.flushTimer.unref();
      }
    }
    if (this.waiters.size > 0 && !this.waiterCheckQueued) {
      // Coalesce: check once per turn of the event loop, not per byte.
      this.waiterCheckQueued = true;
      setImmediate(() => {
        this.waiterCheckQueued = false;
        if (this.waiters.size === 0) return;
        const text = this.text();
        for (const w of [...this.waiters]) {
          const m = w.pattern.exec(text);
          if (m) {
            clearTimeout(w.timer);
            this.waiters.delete(w);
            w.resolve(m);
          }
        }
      });
    }
  }

  private openStream(): WriteStream | null {
    if (this.stream) return this.stream;
    if (!this.filePath || this.fileFailed) return null;
    try {
      mkdirSync(dirname(this.filePath), { recursive: true, mode: PRIVATE_DIR_MODE });
      // What the guest printed (logins, commands): readable by the owner only.
      this.stream = createWriteStream(this.filePath, { flags: 'a', mode: PRIVATE_FILE_MODE });
      this.stream.on('error', (error) => this.fail(error));
    } catch (error) {
      this.fail(error as Error);
    }
    return this.stream;
  }

  private fail(error: Error): void {
    if (this.fileFailed) return;
    this.fileFailed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.onError?.(error);
  }
}
