// The control and display channel: socket.io with a service credential. Every request is
// validated with the schemas in api/protocol.ts before it reaches the host. /metrics takes the
// same credential as a bearer token.
import { timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { Server, type Socket } from 'socket.io';
import { z, type ZodType } from 'zod';
import {
  createDomainSchema,
  consoleInputSchema,
  domainRefSchema,
  domainSchedSchema,
  keyEventSchema,
  pointerEventSchema,
  restoreDomainSchema,
  saveDomainSchema,
  thumbnailSchema,
  wheelEventSchema,
  type Ack,
  type ControlClientToServer,
  type ControlServerToClient,
  type DisplayFrame,
  type DisplayResize,
} from '../api/protocol.ts';
import { encodePng, scaleToWidth } from '../devices/display/png.ts';
import type { Domain } from './domain.ts';
import { HostError, toApiError } from './errors.ts';
import type { Host } from './host.ts';

type ControlSocket = Socket<ControlClientToServer, ControlServerToClient>;

const DEFAULT_THUMBNAIL_WIDTH = 320;

function secretsMatch(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class ControlServer {
  readonly http: HttpServer;
  readonly io: Server<ControlClientToServer, ControlServerToClient>;
  private readonly metrics = new Registry();

  constructor(
    private readonly host: Host,
    private readonly log: pino.Logger,
  ) {
    this.http = createServer((req, res) => void this.serveHttp(req, res));
    this.io = new Server(this.http, { maxHttpBufferSize: 1e6, serveClient: false });
    this.io.use((socket, next) => {
      if (secretsMatch(socket.handshake.auth?.secret, host.config.secret)) next();
      else next(new Error('invalid hypervisor credential'));
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    host.on('state', (info) => this.io.emit('domain:state', info));
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
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, ...this.host.info() }));
    } else if (url === '/metrics') {
      // Domains, guest traffic and egress denials are for the operator: the service credential.
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!secretsMatch(bearer, this.host.config.secret)) {
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
    this.host.network.registerMetrics(this.metrics);
    const host = this.host;
    new Gauge({
      name: 'raydesk_domains',
      help: 'Domains by state',
      labelNames: ['state'],
      registers: [this.metrics],
      collect() {
        this.reset();
        for (const d of host.domains.values()) this.inc({ state: d.state });
      },
    });
    const scheduler = host.scheduler;
    new Counter({
      name: 'raydesk_domain_cpu_throttled_seconds_total',
      help: 'Time a domain was ready to run but held back by the credit scheduler',
      labelNames: ['domain'],
      registers: [this.metrics],
      collect() {
        this.reset();
        for (const [domain, stats] of scheduler.allStats())
          this.inc({ domain }, stats.throttledMs / 1000);
      },
    });
    new Counter({
      name: 'raydesk_domain_cpu_seconds_total',
      help: "CPU time used by a domain's emulated guest",
      labelNames: ['domain'],
      registers: [this.metrics],
      collect() {
        this.reset();
        for (const [domain, stats] of scheduler.allStats())
          this.inc({ domain }, stats.cpuMs / 1000);
      },
    });
    new Gauge({
      name: 'raydesk_memory_used_mib',
      help: 'Guest memory held by running domains',
      registers: [this.metrics],
      collect() {
        this.set(host.memoryInUse());
      },
    });
  }

  private onConnection(socket: ControlSocket): void {
    const watched = new Map<string, { domain: Domain; detach: () => void }>();
    const log = this.log.child({ client: socket.id });
    log.debug('control client connected');

    const handle = <S extends ZodType, T>(
      schema: S,
      work: (request: z.infer<S>) => Promise<T> | T,
    ) => {
      return async (raw: unknown, ack: unknown) => {
        if (typeof ack !== 'function') return;
        const reply = ack as Ack<T>;
        const parsed = schema.safeParse(raw);
        if (!parsed.success) {
          reply({
            ok: false,
            error: { code: 'bad_request', message: z.prettifyError(parsed.error) },
          });
          return;
        }
        try {
          reply({ ok: true, value: await work(parsed.data) });
        } catch (error) {
          const apiError = toApiError(error);
          if (apiError.code === 'internal') log.error({ err: error }, 'request failed');
          reply({ ok: false, error: apiError });
        }
      };
    };
    const noArgs = <T>(work: () => Promise<T> | T) => {
      const handler = handle(z.undefined(), work);
      return (ack: unknown) => handler(undefined, ack);
    };

    const watch = (domain: Domain): DisplayResize => {
      if (!watched.has(domain.id)) {
        const onFrame = (frame: DisplayFrame) => socket.emit('display:frame', frame);
        const onResize = (resize: DisplayResize) => socket.emit('display:resize', resize);
        domain.on('frame', onFrame);
        domain.on('resize', onResize);
        watched.set(domain.id, {
          domain,
          detach: () => {
            domain.off('frame', onFrame);
            domain.off('resize', onResize);
            domain.unwatch(socket.id);
          },
        });
        domain.watch(socket.id);
      } else {
        domain.requestKeyframe();
      }
      return { domainId: domain.id, ...domain.screenSize };
    };
    const unwatch = (id: string) => {
      watched.get(id)?.detach();
      watched.delete(id);
    };

    const host = this.host;
    socket.on(
      'host:info',
      noArgs(() => host.info()),
    );
    socket.on(
      'domain:list',
      noArgs(() => host.list()),
    );
    socket.on(
      'domain:get',
      handle(domainRefSchema, ({ id }) => host.get(id).info()),
    );
    socket.on(
      'domain:create',
      handle(createDomainSchema, async (req) => (await host.create(req)).info()),
    );
    socket.on(
      'domain:pause',
      handle(domainRefSchema, async ({ id }) => (await host.pause(id)).info()),
    );
    socket.on(
      'domain:unpause',
      handle(domainRefSchema, async ({ id }) => (await host.unpause(id)).info()),
    );
    socket.on(
      'domain:reboot',
      handle(domainRefSchema, async ({ id }) => (await host.reboot(id)).info()),
    );
    socket.on(
      'domain:start',
      handle(domainRefSchema, async ({ id }) => (await host.start(id)).info()),
    );
    socket.on(
      'domain:destroy',
      handle(domainRefSchema, async ({ id }) => {
        unwatch(id);
        return (await host.destroy(id)).info();
      }),
    );
    socket.on(
      'domain:save',
      handle(saveDomainSchema, async ({ id, file }) => {
        const saved = await host.save(id, file);
        return { info: saved.domain.info(), file: saved.file, bytes: saved.bytes };
      }),
    );
    socket.on(
      'domain:restore',
      handle(restoreDomainSchema, async ({ file }) => (await host.restore(file)).info()),
    );
    socket.on(
      'domain:console',
      handle(domainRefSchema, ({ id }) => host.get(id).console.text()),
    );
    socket.on(
      'domain:sched',
      handle(domainSchedSchema, ({ id, weight, cap }) =>
        host.scheduler.configure(host.get(id), { weight, cap }),
      ),
    );
    socket.on(
      'domain:net',
      handle(domainRefSchema, ({ id }) => host.network.info(id, host.get(id).spec.kind)),
    );
    socket.on(
      'domain:console-input',
      handle(consoleInputSchema, ({ id, text }) => {
        const domain = host.get(id);
        if (domain.state !== 'running') {
          throw new HostError('illegal_transition', `domain ${id} is ${domain.state}, not running`);
        }
        domain.serialInput(0, new TextEncoder().encode(text));
        return null;
      }),
    );
    socket.on(
      'domain:screenshot',
      handle(domainRefSchema, async ({ id }) => {
        const screen = await host.get(id).captureScreen();
        return encodePng(screen.rgba, screen.width, screen.height);
      }),
    );
    socket.on(
      'domain:thumbnail',
      handle(thumbnailSchema, async ({ id, width }) => {
        const screen = await host.get(id).captureScreen();
        const scaled = scaleToWidth(
          screen.rgba,
          screen.width,
          screen.height,
          width ?? DEFAULT_THUMBNAIL_WIDTH,
        );
        return encodePng(scaled.rgba, scaled.width, scaled.height);
      }),
    );
    // Attaching to a suspended personal VM resumes it: the user never sees the suspension.
    socket.on(
      'display:watch',
      handle(domainRefSchema, async ({ id }) => watch(await host.ensureAwake(id))),
    );
    socket.on(
      'domain:disk',
      handle(domainRefSchema, ({ id }) => host.diskInfo(id)),
    );
    socket.on(
      'display:unwatch',
      handle(domainRefSchema, ({ id }) => {
        unwatch(id);
        return null;
      }),
    );
    socket.on(
      'display:refresh',
      handle(domainRefSchema, ({ id }) => {
        if (!watched.has(id)) throw new HostError('bad_request', `not watching ${id}`);
        host.get(id).requestKeyframe();
        return null;
      }),
    );

    // Input is fire-and-forget: no ack, invalid events are dropped and logged.
    const input = <S extends ZodType>(schema: S, apply: (event: z.infer<S>) => void) => {
      return (raw: unknown) => {
        const parsed = schema.safeParse(raw);
        if (!parsed.success) {
          log.warn({ issues: parsed.error.issues.length }, 'invalid input event dropped');
          return;
        }
        apply(parsed.data);
      };
    };
    socket.on(
      'input:key',
      input(keyEventSchema, (e) => host.domains.get(e.id)?.key(e.code, e.down)),
    );
    socket.on(
      'input:pointer',
      input(pointerEventSchema, (e) => host.domains.get(e.id)?.pointer(e.x, e.y, e.buttons)),
    );
    socket.on(
      'input:wheel',
      input(wheelEventSchema, (e) => host.domains.get(e.id)?.wheel(e.dx, e.dy)),
    );

    socket.on('disconnect', () => {
      for (const id of [...watched.keys()]) unwatch(id);
      log.debug('control client disconnected');
    });
  }
}
