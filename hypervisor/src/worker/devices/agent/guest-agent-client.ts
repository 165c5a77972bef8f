// Host side of the guest agent, over a line channel on the guest's second serial port.
//
// Protocol (one line each, UTF-8, "\n"-terminated; tokens separated by single spaces):
//   guest -> host, spontaneous:  "* <event> [args...]"     e.g. "* hello desktop", "* ready desktop"
//   host -> guest, request:      "<n> <command> [args...]"  n = a positive integer, unique per request
//   guest -> host, reply:        "<n> ok [payload]"  |  "<n> err <message>"
// Commands used by the host: ping, time <unix-seconds>, identity <hostname> <machine-id>,
// entropy <hex>, info, and on the desktop vnc start <password> | vnc stop. Arguments never
// contain whitespace.
import { LineChannel } from '../serial/line-channel.ts';

export interface AgentEvent {
  /** The whole line, e.g. "* ready desktop". */
  line: string;
  /** First word after "* ", e.g. "ready". */
  name: string;
  /** The words after the name. */
  args: string[];
}

export interface AgentInfo {
  hostname: string;
  machineId: string;
  /** Guest clock, Unix seconds. */
  time: number;
  /** Seconds since guest boot. */
  uptime: number;
}

export class AgentError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly kind: 'err' | 'timeout' | 'closed',
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

interface Pending {
  command: string;
  resolve: (payload: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface GuestAgentClientOptions {
  /** Used when request() gets no timeout; default 10 s. */
  defaultTimeoutMs?: number;
  /** Longest line accepted from the guest (LineChannel's default when absent). */
  maxLineBytes?: number;
}

const TOKEN = /^\S+$/;

/**
 * File transfer requests: a chunk puts tens of kilobytes on the serial line, one byte stream, so
 * a line written after it waits until its bytes have gone through. They go out one at a time,
 * each when the one before it was answered (the guest runs them in this order, one lane), and
 * every other request (a screen size, the clipboard, the time) is written at once and slips in
 * between. Listing the outbox and opening a download's stream are short both ways and run side
 * by side in the guest, so two downloads (or a download beside an upload) start together.
 */
const BULK_COMMANDS = new Set([
  'upload-begin',
  'upload-chunk',
  'upload-stream',
  'upload-end',
  'upload-abort',
  'outbox-read',
]);

interface QueuedBulk {
  id: number;
  line: string;
  payload: Uint8Array | null;
}

export class GuestAgentClient {
  readonly channel: LineChannel;
  private readonly eventListeners = new Set<(line: string, event: AgentEvent) => void>();
  private readonly stray = new Set<(line: string) => void>();
  private readonly pending = new Map<number, Pending>();
  /** Bulk requests not yet written, in order; `bulkInFlight` is the one on the line. */
  private readonly bulkQueue: QueuedBulk[] = [];
  private bulkInFlight: number | null = null;
  private nextId = 1;
  private closed = false;
  private readonly defaultTimeoutMs: number;

  /** `transport` is the function that writes bytes to the guest's port, or a LineChannel. */
  constructor(
    transport: ((bytes: Uint8Array) => void) | LineChannel,
    options: GuestAgentClientOptions = {},
  ) {
    this.channel =
      transport instanceof LineChannel
        ? transport
        : new LineChannel(transport, { maxLineBytes: options.maxLineBytes });
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
    this.channel.onLine((line) => this.onLine(line));
  }

  /** Feed one byte the guest wrote to the agent port. */
  receiveByte(byte: number): void {
    this.channel.receiveByte(byte);
  }

  /** Feed bytes the guest wrote to the agent port. */
  receive(bytes: Uint8Array): void {
    this.channel.receive(bytes);
  }

  /** Spontaneous guest lines ("* ..."). The listener gets the raw line and its parsed form. */
  onEvent(listener: (line: string, event: AgentEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Lines that are neither events nor replies to a pending request (for debugging). */
  onStrayLine(listener: (line: string) => void): () => void {
    this.stray.add(listener);
    return () => this.stray.delete(listener);
  }

  /** Resolves with the first event whose line matches `pattern`. */
  waitForEvent(pattern: RegExp, timeoutMs: number): Promise<AgentEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new AgentError(
            `no agent event matching ${pattern} within ${timeoutMs} ms`,
            'event',
            'timeout',
          ),
        );
      }, timeoutMs);
      const off = this.onEvent((line, event) => {
        pattern.lastIndex = 0;
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  /**
   * Sends "<n> <command> [args...]" and resolves with the payload of "<n> ok [payload]"
   * ("" when none). Rejects with AgentError on "<n> err <message>", timeout or close.
   */
  request(
    command: string,
    args: readonly string[] | string = [],
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<string> {
    const list = typeof args === 'string' ? (args === '' ? [] : [args]) : args;
    return this.send(command, list, null, timeoutMs);
  }

  /**
   * A request followed by bytes: "<n> <command> [args...] <size>", then `size` bytes of the
   * payload in base64 and a newline. A guest that refuses the request before reading the
   * payload sees it as one more (invalid) line, so the channel stays in step.
   */
  requestWithPayload(
    command: string,
    args: readonly string[],
    payload: Uint8Array,
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<string> {
    const encoded = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString(
      'base64',
    );
    return this.send(
      command,
      [...args, String(encoded.length)],
      new TextEncoder().encode(`${encoded}\n`),
      timeoutMs,
    );
  }

  private send(
    command: string,
    list: readonly string[],
    payload: Uint8Array | null,
    timeoutMs: number,
  ): Promise<string> {
    if (this.closed)
      return Promise.reject(new AgentError('agent client closed', command, 'closed'));
    for (const token of [command, ...list]) {
      if (!TOKEN.test(token)) {
        return Promise.reject(
          new AgentError(`invalid agent token ${JSON.stringify(token)}`, command, 'err'),
        );
      }
    }
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    const line = [String(id), command, ...list].join(' ');
    const bulk = BULK_COMMANDS.has(command);
    return new Promise<string>((resolve, reject) => {
      // The time limit counts from the call, waiting in the bulk queue included.
      const timer = setTimeout(() => {
        this.settled(id);
        reject(
          new AgentError(
            `agent request "${command}" timed out after ${timeoutMs} ms`,
            command,
            'timeout',
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      if (!bulk) {
        this.write(id, line, payload);
        return;
      }
      this.bulkQueue.push({ id, line, payload });
      this.pumpBulk();
    });
  }

  private write(id: number, line: string, payload: Uint8Array | null): void {
    try {
      this.channel.sendLine(line);
      // Only a request line that went out is followed by its payload.
      if (payload) this.channel.sendBytes(payload);
    } catch (error) {
      const pending = this.pending.get(id);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.settled(id);
      pending.reject(error as Error);
    }
  }

  /** Writes the next queued bulk request when none is on the line. */
  private pumpBulk(): void {
    while (this.bulkInFlight === null) {
      const next = this.bulkQueue.shift();
      if (!next) return;
      if (!this.pending.has(next.id)) continue; // timed out while it waited
      this.bulkInFlight = next.id;
      this.write(next.id, next.line, next.payload);
    }
  }

  /** A request was answered, timed out or failed: it leaves the tables, the bulk queue moves. */
  private settled(id: number): void {
    this.pending.delete(id);
    if (this.bulkInFlight === id) {
      this.bulkInFlight = null;
      this.pumpBulk();
    }
  }

  async ping(timeoutMs?: number): Promise<void> {
    await this.request('ping', [], timeoutMs);
  }

  /** Sets the guest clock (Unix seconds, fractional allowed; sent with ms precision). */
  async setTime(unixSeconds: number, timeoutMs?: number): Promise<void> {
    await this.request('time', [unixSeconds.toFixed(3)], timeoutMs);
  }

  async setIdentity(hostname: string, machineId: string, timeoutMs?: number): Promise<void> {
    await this.request('identity', [hostname, machineId], timeoutMs);
  }

  /** Mixes bytes into the guest's entropy pool (sent as hex). */
  async addEntropy(bytes: Uint8Array, timeoutMs?: number): Promise<void> {
    await this.request(
      'entropy',
      [Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')],
      timeoutMs,
    );
  }

  /**
   * Asks the guest for its identity and clocks. The payload is either JSON
   * ({"hostname","machineId"|"machine-id","time","uptime"}) or key=value words.
   */
  async info(timeoutMs?: number): Promise<AgentInfo> {
    return parseInfo(await this.request('info', [], timeoutMs));
  }

  /** Rejects every pending request; later requests fail at once. */
  close(): void {
    this.closed = true;
    this.bulkQueue.length = 0;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AgentError('agent client closed', p.command, 'closed'));
      this.pending.delete(id);
    }
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  private onLine(line: string): void {
    if (line.startsWith('* ')) {
      const [name = '', ...args] = line.slice(2).trim().split(/\s+/);
      const event: AgentEvent = { line, name, args };
      for (const l of [...this.eventListeners]) l(line, event);
      return;
    }
    const m = /^(\d+) (ok|err)(?: (.*))?$/.exec(line);
    const pending = m ? this.pending.get(Number(m[1])) : undefined;
    if (!m || !pending) {
      for (const l of [...this.stray]) l(line);
      return;
    }
    clearTimeout(pending.timer);
    this.settled(Number(m[1]));
    if (m[2] === 'ok') pending.resolve(m[3] ?? '');
    else pending.reject(new AgentError(m[3] || 'agent error', pending.command, 'err'));
  }
}

export function parseInfo(payload: string): AgentInfo {
  let fields: Record<string, unknown>;
  const text = payload.trim();
  if (text.startsWith('{')) {
    fields = JSON.parse(text) as Record<string, unknown>;
  } else {
    fields = {};
    for (const word of text.split(/\s+/)) {
      const eq = word.indexOf('=');
      if (eq > 0) fields[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  const str = (...keys: string[]) => {
    for (const k of keys) if (fields[k] !== undefined) return String(fields[k]);
    return '';
  };
  const num = (...keys: string[]) => {
    const s = str(...keys);
    const n = s === '' ? Number.NaN : Number(s);
    return Number.isFinite(n) ? n : Number.NaN;
  };
  return {
    hostname: str('hostname'),
    machineId: str('machineId', 'machine-id', 'machine_id'),
    time: num('time'),
    uptime: num('uptime'),
  };
}
