// The control and display channel: socket.io with a service credential. Each call of the
// contract (api/contract.ts) has its handler here; control-dispatch.ts validates every request
// with its schema before a handler sees it. /metrics takes the same credential as a bearer token.
import { timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Server } from 'socket.io';
import type {
  CallHandlers,
  ControlClientToServerUnchecked,
  ControlServerToClient,
  InputHandlers,
} from '../api/contract.ts';
import type { AudioChunk, DisplayFrame, DisplayResize } from '../api/protocol.ts';
import type { OutboxFile } from '../api/transfer.ts';
import { serveContract, type ControlSocket } from './control-dispatch.ts';
import { encodePng, scaleToWidth } from './devices/png.ts';
import type { Domain } from './domain.ts';
import { GuestTransfer } from './guest-transfer.ts';
import { HostError, notRunning } from './errors.ts';
import type { Host } from './host.ts';
import { serveImage } from '../appliances/index.ts';
import { serveGolden } from '../snapshots/golden-peers.ts';

const DEFAULT_THUMBNAIL_WIDTH = 320;

function secretsMatch(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class ControlServer {
  readonly http: HttpServer;
  readonly io: Server<ControlClientToServerUnchecked, ControlServerToClient>;
  private readonly metrics = new Registry();
  private readonly handlers: ControlHandlers;

  constructor(
    private readonly host: Host,
    /** The service credential every client presents. */
    private readonly secret: string,
    private readonly log: pino.Logger,
  ) {
    this.http = createServer((req, res) => void this.serveHttp(req, res));
    this.io = new Server(this.http, { maxHttpBufferSize: 1e6, serveClient: false });
    this.io.use((socket, next) => {
      if (secretsMatch(socket.handshake.auth?.secret, secret)) next();
      else next(new Error('invalid hypervisor credential'));
    });
    this.handlers = controlHandlers(host);
    this.io.on('connection', (socket) => this.onConnection(socket));
    host.on('state', (info) => this.io.emit('domain:state', info));
    host.on('moving', (moving) => this.io.emit('domain:moving', moving));
    host.on('moved', (moved) => this.io.emit('domain:moved', moved));
    this.setupMetrics();
  }

  listen(port: number, hostname: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, hostname, () => resolve((this.http.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.io.close(() => resolve()).catch(reject);
    });
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const peerAuthorized = (request: IncomingMessage) =>
      secretsMatch(/^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1], this.secret);
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, ...this.host.info() }));
    } else if (await serveGolden(this.host.goldenStore, peerAuthorized, req, res)) {
      // A peer host of the fleet fetched a golden snapshot (snapshots/golden-peers.ts).
    } else if (await serveImage(this.host.imageOffers, peerAuthorized, req, res)) {
      // A peer host of the fleet fetched an appliance image (appliances/image-peers.ts).
    } else if (url === '/metrics') {
      // Domains, guest traffic and egress denials are for the operator: the service credential.
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!secretsMatch(bearer, this.secret)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'unauthorized' }));
        return;
      }
      res.writeHead(200, { 'content-type': this.metrics.contentType });
      res.end(await this.metrics.metrics());
    } else {
      res.writeHead(404).end();
    }
  }

  private setupMetrics(): void {
    collectDefaultMetrics({ register: this.metrics, prefix: 'raydesk_hypervisor_' });
    this.host.registerMetrics(this.metrics);
  }

  private onConnection(socket: ControlSocket): void {
    const log = this.log.child({ client: socket.id });
    log.debug('control client connected');
    const watches = new Watches(socket, (domain) => this.host.transferOf(domain));
    serveContract(socket, this.handlers, watches, log);
    socket.on('disconnect', (reason) => {
      watches.clear();
      // A relocation arriving from this sender is dropped.
      const relocating = this.host.incoming.connectionClosed(socket.id);
      if (relocating) log.warn({ reason }, 'control client disconnected during a relocation');
      else log.debug({ reason }, 'control client disconnected');
    });
  }
}

/** The displays one control connection watches: their frames go to its socket. */
class Watches {
  private readonly watched = new Map<string, () => void>();
  private readonly listened = new Map<string, () => void>();

  constructor(
    private readonly socket: ControlSocket,
    private readonly transferOf: (domain: Domain) => GuestTransfer,
  ) {}

  /** The connection's id (a relocation arriving on it ends when it closes). */
  get connectionId(): string {
    return this.socket.id;
  }

  has(id: string): boolean {
    return this.watched.has(id);
  }

  /** Starts sending the domain's frames (the first is a keyframe); again, asks for a keyframe. */
  watch(domain: Domain): DisplayResize {
    if (!this.watched.has(domain.id)) {
      const onFrame = (frame: DisplayFrame) => this.socket.emit('display:frame', frame);
      const onResize = (resize: DisplayResize) => this.socket.emit('display:resize', resize);
      const transfer = this.transferOf(domain);
      const onClipboard = (text: string) =>
        this.socket.emit('clipboard:changed', { domainId: domain.id, text });
      const onOutbox = (files: OutboxFile[]) =>
        this.socket.emit('files:outbox', { domainId: domain.id, files });
      domain.on('frame', onFrame);
      domain.on('resize', onResize);
      transfer.on('clipboard', onClipboard);
      transfer.on('outbox', onOutbox);
      this.watched.set(domain.id, () => {
        domain.off('frame', onFrame);
        domain.off('resize', onResize);
        transfer.off('clipboard', onClipboard);
        transfer.off('outbox', onOutbox);
        domain.unwatch(this.socket.id);
      });
      domain.watch(this.socket.id);
    } else {
      domain.requestKeyframe();
    }
    return { domainId: domain.id, ...domain.screenSize };
  }

  unwatch(id: string): void {
    this.unlisten(id);
    this.watched.get(id)?.();
    this.watched.delete(id);
  }

  /** Starts sending the domain's sound (`audio:chunk`) to this connection. */
  listen(domain: Domain): void {
    if (this.listened.has(domain.id)) return;
    const onAudio = (chunk: AudioChunk) => this.socket.emit('audio:chunk', chunk);
    domain.on('audio', onAudio);
    this.listened.set(domain.id, () => {
      domain.off('audio', onAudio);
      domain.unlisten(this.socket.id);
    });
    domain.listen(this.socket.id);
  }

  unlisten(id: string): void {
    this.listened.get(id)?.();
    this.listened.delete(id);
  }

  clear(): void {
    for (const id of [...this.listened.keys()]) this.unlisten(id);
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }
}

type ControlHandlers = { calls: CallHandlers<Watches>; inputs: InputHandlers<Watches> };

/** One handler per call and input event of the contract; a missing one does not compile. */
function controlHandlers(host: Host): ControlHandlers {
  const screen = async (id: string) => host.get(id).captureScreen();
  const transfer = (id: string) => {
    const domain = host.get(id);
    if (domain.state !== 'running') {
      throw notRunning(domain);
    }
    return host.transferOf(domain);
  };
  return {
    calls: {
      'host:info': () => host.info(),
      'domain:list': () => host.list(),
      'domain:get': ({ id }) => host.get(id).info(),
      'domain:create': async (request) => (await host.create(request)).info(),
      'domain:pause': async ({ id }) => (await host.pause(id)).info(),
      'domain:unpause': async ({ id }) => (await host.unpause(id)).info(),
      'domain:reboot': async ({ id }) => (await host.reboot(id)).info(),
      'domain:start': async ({ id }) => (await host.start(id)).info(),
      'domain:resume': async ({ id }) => (await host.resume(id)).info(),
      'domain:destroy': async ({ id }, watches) => {
        watches.unwatch(id);
        return (await host.destroy(id)).info();
      },
      'domain:save': async ({ id, file }) => {
        const saved = await host.save(id, file);
        return { info: saved.domain.info(), file: saved.file, bytes: saved.bytes };
      },
      'domain:restore': async ({ file }) => (await host.restore(file)).info(),
      'domain:console': ({ id }) => host.get(id).console.text(),
      'domain:console-input': ({ id, text }) => {
        const domain = host.get(id);
        if (domain.state !== 'running') {
          throw notRunning(domain);
        }
        domain.serialInput(0, new TextEncoder().encode(text));
        return null;
      },
      'domain:sched': ({ id, weight, cap }) => host.sched(id, { weight, cap }),
      'domain:net': ({ id }) => host.net(id),
      'domain:forward': ({ id, guestPort, listen }) => host.forward(id, guestPort, listen),
      'domain:unforward': ({ id, listen }) => host.unforward(id, listen),
      'domain:disk': ({ id }) => host.diskInfo(id),
      'domain:keyboard-layout': ({ id, layout }) => host.setKeyboardLayout(id, layout),
      'domain:screen': ({ id, size }) => host.screen(id, size),
      'domain:screenshot': async ({ id }) => {
        const { rgba, width, height } = await screen(id);
        return encodePng(rgba, width, height);
      },
      'domain:thumbnail': async ({ id, width }) => {
        const full = await screen(id);
        const scaled = scaleToWidth(
          full.rgba,
          full.width,
          full.height,
          width ?? DEFAULT_THUMBNAIL_WIDTH,
        );
        return encodePng(scaled.rgba, scaled.width, scaled.height);
      },
      // Attaching to a suspended personal VM resumes it: the user never sees the suspension.
      'display:watch': async ({ id }, watches) => watches.watch(await host.ensureAwake(id)),
      'display:unwatch': ({ id }, watches) => {
        watches.unwatch(id);
        return null;
      },
      'audio:listen': ({ id }, watches) => {
        watches.listen(host.get(id));
        return null;
      },
      'audio:unlisten': ({ id }, watches) => {
        watches.unlisten(id);
        return null;
      },
      'display:refresh': ({ id }, watches) => {
        if (!watches.has(id)) throw new HostError('bad_request', `not watching ${id}`);
        host.get(id).requestKeyframe();
        return null;
      },
      'domain:migrate': ({ id, to }, watches) => {
        watches.unwatch(id);
        return host.migrate(id, to);
      },
      'domain:clone': ({ id, count, to }) => host.clone(id, count, to),
      'host:drain': ({ to }) => host.drain(to),
      'host:undrain': () => {
        host.undrain();
        return host.info();
      },
      'relocation:begin': (request, watches) => host.incoming.begin(request, watches.connectionId),
      'relocation:pages': ({ token, pages, data }) => host.incoming.pages(token, pages, data),
      'relocation:disk': ({ token, offset, bytes }) => host.incoming.disk(token, offset, bytes),
      'relocation:disk-blocks': ({ token, blocks, data }) =>
        host.incoming.diskBlocks(token, blocks, data),
      'relocation:state': ({ token, index, bytes }) => host.incoming.state(token, index, bytes),
      'relocation:prepare': ({ token, deviceState, deviceStateAhead, diskFileBytes, pages }) =>
        host.incoming.prepare(
          token,
          { ahead: deviceStateAhead, rest: deviceState },
          diskFileBytes,
          pages,
        ),
      'relocation:commit': ({ token }) => host.incoming.commit(token),
      'relocation:abort': ({ token }) => host.incoming.abort(token),
      'clipboard:set': ({ id, text, selection }) => transfer(id).setClipboard(text, selection),
      'clipboard:get': ({ id, selection }) => transfer(id).getClipboard(selection),
      'files:upload-begin': ({ id, bytes }) => transfer(id).beginUpload(bytes),
      'files:upload-chunk': async ({ id, uploadId, data }) => ({
        received: await transfer(id).uploadChunk(uploadId, data),
      }),
      'files:upload-end': ({ id, uploadId, name }) => transfer(id).endUpload(uploadId, name),
      'files:upload-abort': async ({ id, uploadId }) => {
        await transfer(id).abortUpload(uploadId);
        return null;
      },
      'files:outbox': ({ id }) => transfer(id).listOutbox(),
      'files:read': ({ id, name, offset }) => transfer(id).readOutbox(name, offset),
      'relocation:decision': ({ token, id }) => host.relocationDecision(token, id),
    },
    inputs: {
      'input:key': ({ id, code, down }) => host.key(id, code, down),
      'input:char': ({ id, char }) => host.char(id, char),
      'input:pointer': ({ id, x, y, buttons }) => host.pointer(id, x, y, buttons),
      'input:wheel': ({ id, dx, dy }) => host.wheel(id, dx, dy),
    },
  };
}
