// Typed client for the hypervisor's control and display channel. Used by the gateway, the
// portal's server side and the CLI; it is the only way those talk to a hypervisor host. Every
// call is typed by the contract (contract.ts): `call(name, request)` takes that entry's request
// and resolves with its response; the named methods are one-line conveniences over it.
import { io, type Socket } from 'socket.io-client';
import type {
  CallRequest,
  CallResponse,
  ControlCall,
  ControlClientToServer,
  ControlInput,
  ControlServerToClient,
  InputEvent,
} from './contract.ts';
import type {
  ApiError,
  CreateDomainRequest,
  ErrorCode,
  KeyboardLayout,
  GuestScreenSize,
  Result,
  SchedParams,
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

export class HypervisorClient {
  /** Typed by the contract: `display:frame`, `display:resize` and `domain:state` arrive here. */
  readonly socket: Socket<ControlServerToClient, ControlClientToServer>;
  /**
   * The same socket without event types, for `call` and `send`: socket.io cannot type an emit
   * whose event name is a type parameter, so those two type their boundary by the contract.
   */
  private readonly transport: Socket;
  private readonly timeoutMs: number;

  constructor(options: HypervisorClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.transport = io(options.url, {
      auth: { secret: options.secret },
      transports: ['websocket'],
      reconnectionDelayMax: 2_000,
    });
    this.socket = this.transport;
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

  /**
   * Any call of the contract; rejects with a HypervisorError when the host refuses it, or when
   * it did not answer within `timeoutMs` (the client's default unless given).
   */
  async call<K extends ControlCall>(
    name: K,
    request: CallRequest<K>,
    timeoutMs = this.timeoutMs,
  ): Promise<CallResponse<K>> {
    const result: Result<CallResponse<K>> = await this.transport
      .timeout(timeoutMs)
      .emitWithAck(name, request);
    if (!result.ok) throw new HypervisorError(result.error);
    return result.value;
  }

  /** Any input event of the contract: no answer, and dropped by the host if invalid. */
  send<K extends ControlInput>(name: K, event: InputEvent<K>): void {
    this.transport.emit(name, event);
  }

  hostInfo() {
    return this.call('host:info', {});
  }
  list() {
    return this.call('domain:list', {});
  }
  get(id: string) {
    return this.call('domain:get', { id });
  }
  create(request: CreateDomainRequest) {
    return this.call('domain:create', request);
  }
  start(id: string) {
    return this.call('domain:start', { id });
  }
  /** Unpauses, resumes or restarts the domain, whatever it is now; not_found once it is gone. */
  resume(id: string) {
    return this.call('domain:resume', { id });
  }
  pause(id: string) {
    return this.call('domain:pause', { id });
  }
  unpause(id: string) {
    return this.call('domain:unpause', { id });
  }
  reboot(id: string) {
    return this.call('domain:reboot', { id });
  }
  destroy(id: string) {
    return this.call('domain:destroy', { id });
  }
  save(id: string, file?: string) {
    return this.call('domain:save', { id, file });
  }
  restore(file: string) {
    return this.call('domain:restore', { file });
  }
  console(id: string) {
    return this.call('domain:console', { id });
  }
  /** Reads a domain's scheduler settings; with weight and/or cap, sets them first. */
  sched(id: string, update: Partial<SchedParams> = {}) {
    return this.call('domain:sched', { id, ...update });
  }
  net(id: string) {
    return this.call('domain:net', { id });
  }
  /** The guest's screen size; with `size`, asks the guest to switch to it first. */
  screen(id: string, size?: GuestScreenSize) {
    return this.call('domain:screen', size ? { id, size } : { id });
  }
  /** Listens on a host port (loopback and any free port by default) forwarded to `guestPort`. */
  forward(request: CallRequest<'domain:forward'>) {
    return this.call('domain:forward', request);
  }
  unforward(id: string, listen: CallRequest<'domain:unforward'>['listen']) {
    return this.call('domain:unforward', { id, listen });
  }
  /** Types `text` into the domain's serial console. */
  consoleInput(id: string, text: string) {
    return this.call('domain:console-input', { id, text });
  }
  disk(id: string) {
    return this.call('domain:disk', { id });
  }
  setKeyboardLayout(id: string, layout: KeyboardLayout) {
    return this.call('domain:keyboard-layout', { id, layout });
  }
  // socket.io hands binary over as a Buffer; callers get a plain Uint8Array.
  async screenshot(id: string): Promise<Uint8Array> {
    return new Uint8Array(await this.call('domain:screenshot', { id }));
  }
  async thumbnail(id: string, width?: number): Promise<Uint8Array> {
    return new Uint8Array(await this.call('domain:thumbnail', { id, width }));
  }
  watch(id: string) {
    return this.call('display:watch', { id });
  }
  unwatch(id: string) {
    return this.call('display:unwatch', { id });
  }
  listen(id: string) {
    return this.call('audio:listen', { id });
  }
  unlisten(id: string) {
    return this.call('audio:unlisten', { id });
  }
  refresh(id: string) {
    return this.call('display:refresh', { id });
  }
  key(id: string, code: string, down: boolean): void {
    this.send('input:key', { id, code, down });
  }
  char(id: string, char: string): void {
    this.send('input:char', { id, char });
  }
  pointer(id: string, x: number, y: number, buttons: number): void {
    this.send('input:pointer', { id, x, y, buttons });
  }
  wheel(id: string, dx: number, dy: number): void {
    this.send('input:wheel', { id, dx, dy });
  }
}
