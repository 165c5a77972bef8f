// A line-oriented channel over a serial port: output bytes of the port come in through
// receive()/receiveByte() and leave as lines (UTF-8, without "\n" or a trailing "\r");
// sendLine() writes a line terminated by "\n" through the caller's `send`.

export interface LineChannelOptions {
  /** Longest line kept; longer ones are cut at this many bytes. Default 64 KiB. */
  maxLineBytes?: number;
}

export class LineChannel {
  private readonly send: (bytes: Uint8Array) => void;
  private readonly listeners = new Set<(line: string) => void>();
  private buf: Uint8Array;
  private len = 0;
  private readonly maxLineBytes: number;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly encoder = new TextEncoder();

  constructor(send: (bytes: Uint8Array) => void, options: LineChannelOptions = {}) {
    this.send = send;
    this.maxLineBytes = options.maxLineBytes ?? 64 * 1024;
    this.buf = new Uint8Array(Math.min(256, this.maxLineBytes));
  }

  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  receiveByte(byte: number): void {
    if (byte === 0x0a) {
      this.emitLine();
      return;
    }
    if (this.len >= this.maxLineBytes) {
      // Drop the rest of an overlong line.
      return;
    }
    if (this.len === this.buf.length) {
      const bigger = new Uint8Array(Math.min(this.maxLineBytes, this.buf.length * 2));
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.len++] = byte;
  }

  receive(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.receiveByte(bytes[i]!);
  }

  /** Sends `line` followed by "\n". The line must not contain a newline. */
  sendLine(line: string): void {
    if (line.includes('\n')) throw new Error('a line cannot contain a newline');
    this.send(this.encoder.encode(`${line}\n`));
  }

  /** Writes raw bytes (a payload that follows a line). */
  sendBytes(bytes: Uint8Array): void {
    this.send(bytes);
  }

  /** Bytes of the unfinished line currently buffered. */
  get pendingBytes(): number {
    return this.len;
  }

  private emitLine(): void {
    let end = this.len;
    if (end > 0 && this.buf[end - 1] === 0x0d) end--;
    const line = this.decoder.decode(this.buf.subarray(0, end));
    this.len = 0;
    for (const l of [...this.listeners]) l(line);
  }
}
