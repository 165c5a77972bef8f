// Typed client for the hypervisor's control and display channel. Used by the gateway, the
// portal's server side and the CLI; it is the only way those talk to a hypervisor host.
import { io, type Socket } from 'socket.io-client';
import type {
  DiskInfo,
  ApiError,
  ControlClientToServer,
  ControlServerToClient,
  CreateDomainRequest,
  DisplayResize,
  DomainNetworkInfo,
  DomainInfo,
  DomainSched,
  ErrorCode,
  HostInfo,
  PortForwardInfo,
  PortForwardRequest,
  Result,
} from './protocol.ts';

export class HypervisorError extends Error {
  readonly code: ErrorCode;
  constructor(error: ApiError) {
    super(error.message);
    this.name = 'HypervisorError';
    this.code = error.code;
  }
}

export interface HypervisorClientOptions {
  /** e.g. http://127.0.0.1:7420 */
  url: string;
  secret: string;
  /** Milliseconds to wait for an answer before failing; default 60 s (restores can be slow). */
  timeoutMs?: number;
}

type ControlSocket = Socket<ControlServerToClient, ControlClientToServer>;

export class HypervisorClient {
  readonly socket: ControlSocket;
  private readonly timeoutMs: number;

  constructor(options: HypervisorClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.socket = io(options.url, {
      auth: { secret: options.secret },
      transports: ['websocket'],
      reconnectionDelayMax: 2_000,
    });
  }

  /** Resolves once connected; rejects with the server's reason if the credential is refused. */
  connected(timeoutMs = 10_000): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error('timed out connecting to the hypervisor'));
      }, timeoutMs);
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        if (!this.socket.active) {
          cleanup();
          reject(new Error(`hypervisor refused the connection: ${error.message}`));
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        this.socket.off('connect_error', onError);
      };
      this.socket.on('connect', onConnect);
      this.socket.on('connect_error', onError);
    });
  }

  close(): void {
    this.socket.disconnect();
  }

  private async call<T>(event: keyof ControlClientToServer, ...args: unknown[]): Promise<T> {
    // socket.io's typed emitWithAck cannot express our generic dispatch, so go untyped here.
    const emitter = this.socket.timeout(this.timeoutMs) as unknown as {
      emitWithAck(event: string, ...args: unknown[]): Promise<Result<T>>;
    };
    const result = await emitter.emitWithAck(event, ...args);
    if (!result.ok) throw new HypervisorError(result.error);
    return result.value;
  }

  hostInfo(): Promise<HostInfo> {
    return this.call('host:info');
  }
  list(): Promise<DomainInfo[]> {
    return this.call('domain:list');
  }
  get(id: string): Promise<DomainInfo> {
    return this.call('domain:get', { id });
  }
  create(request: CreateDomainRequest): Promise<DomainInfo> {
    return this.call('domain:create', request);
  }
  start(id: string): Promise<DomainInfo> {
    return this.call('domain:start', { id });
  }
  pause(id: string): Promise<DomainInfo> {
    return this.call('domain:pause', { id });
  }
  unpause(id: string): Promise<DomainInfo> {
    return this.call('domain:unpause', { id });
  }
  reboot(id: string): Promise<DomainInfo> {
    return this.call('domain:reboot', { id });
  }
  destroy(id: string): Promise<DomainInfo> {
    return this.call('domain:destroy', { id });
  }
  save(id: string, file?: string): Promise<{ info: DomainInfo; file: string; bytes: number }> {
    return this.call('domain:save', { id, file });
  }
  restore(file: string): Promise<DomainInfo> {
    return this.call('domain:restore', { file });
  }
  console(id: string): Promise<string> {
    return this.call('domain:console', { id });
  }
  /** Reads a domain's scheduler settings; with weight and/or cap, sets them first. */
  sched(id: string, update: { weight?: number; cap?: number } = {}): Promise<DomainSched> {
    return this.call('domain:sched', { id, ...update });
  }
  net(id: string): Promise<DomainNetworkInfo> {
    return this.call('domain:net', { id });
  }
  /** Listens on a host port (loopback and any free port by default) forwarded to `guestPort`. */
  forward(request: PortForwardRequest): Promise<PortForwardInfo> {
    return this.call('domain:forward', request);
  }
  unforward(id: string, listen: { host?: string; port: number }): Promise<PortForwardInfo> {
    return this.call('domain:unforward', { id, listen });
  }
  /** Types `text` into the domain's serial console. */
  consoleInput(id: string, text: string): Promise<null> {
    return this.call('domain:console-input', { id, text });
  }
  disk(id: string): Promise<DiskInfo> {
    return this.call('domain:disk', { id });
  }
  async screenshot(id: string): Promise<Uint8Array> {
    return new Uint8Array(await this.call<Uint8Array>('domain:screenshot', { id }));
  }
  async thumbnail(id: string, width?: number): Promise<Uint8Array> {
    return new Uint8Array(await this.call<Uint8Array>('domain:thumbnail', { id, width }));
  }
  watch(id: string): Promise<DisplayResize> {
    return this.call('display:watch', { id });
  }
  unwatch(id: string): Promise<null> {
    return this.call('display:unwatch', { id });
  }
  refresh(id: string): Promise<null> {
    return this.call('display:refresh', { id });
  }
  key(id: string, code: string, down: boolean): void {
    this.socket.emit('input:key', { id, code, down });
  }
  pointer(id: string, x: number, y: number, buttons: number): void {
    this.socket.emit('input:pointer', { id, x, y, buttons });
  }
  wheel(id: string, dx: number, dy: number): void {
    this.socket.emit('input:wheel', { id, dx, dy });
  }
}
