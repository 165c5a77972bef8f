// The host side of the virtual network: a wisp server (wisp-js, over `ws`) on loopback that
// every domain worker's v86 connects to, and the only place where guests' traffic becomes real
// sockets. Each domain gets an unguessable token in its URL, so one VM (or a local process)
// cannot borrow another VM's policy. Every TCP connection is checked against the domain
// kind's egress policy after its host name is resolved, and then made to exactly the address
// that was checked. DNS for the guests is answered here too, from the host's resolver.
//
// Why wisp and v86's fake network rather than raw Ethernet frames (a TAP device or our own
// NAT on net0-send/net0-receive): the guest's TCP is terminated inside its own worker, so the
// host sees connections (destination, port, bytes) instead of packets, which is exactly the
// level the policy speaks; no privileges, no kernel devices, and no IP stack of our own.
// The cost: only TCP (and DNS) leaves a VM; UDP and ICMP go nowhere, which suits these
// appliances.
// The gateway's and the root's tsconfig compile this file through imports without including
// src/network/*.d.ts, so the (untyped) wisp-js declaration is referenced here explicitly.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./wisp-js.d.ts" />
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tcpConnect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  logging as wispLogging,
  server as wisp,
  type WispStreamSocket,
  type WispStreamSocketClass,
} from '@mercuryworkshop/wisp-js/server';
import type pino from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import {
  domainIdSchema,
  type DomainKind,
  type DomainNetworkInfo,
  type ListenAddress,
  type PortForwardInfo,
} from '../api/protocol.ts';
import {
  buildDnsResponse,
  DNS_TYPE_A,
  isDnsClassIn,
  isResolvableName,
  parseDnsQuery,
  RCODE,
  type DnsAnswerRecord,
} from './dns-message.ts';
import { GUEST_NETWORK, type GuestNetworkConfig } from './guest-nic.ts';
import { PortForwards } from './port-forwards.ts';
import {
  decideEgress,
  describePolicy,
  mayReachAddress,
  parseAddress,
  policyForKind,
  type EgressPolicyConfig,
  type KindPolicy,
} from './policy.ts';

const TOKEN_BYTES = 24; // 32 base64url characters
const MAX_RELAY_SESSIONS_PER_DOMAIN = 2; // v86 keeps one; a reconnect may briefly overlap
const MAX_OPEN_CONNECTIONS_PER_DOMAIN = 256;
const CONNECT_TIMEOUT_MS = 15_000;
const RECEIVE_QUEUE_HIGH_WATER = 64; // chunks queued for the guest before the socket pauses
const DNS_TTL_SECONDS = 60;
const MAX_DNS_MESSAGE_BYTES = 4096;
const RECENT_DENIALS = 10;
// A guest that hammers a denied address must not flood the log: per domain and minute.
const DENIAL_LOGS_PER_MINUTE = 20;

/** wisp-js's defaults would block private and loopback addresses globally; our policy decides. */
wisp.options.allow_private_ips = true;
wisp.options.allow_loopback_ips = true;
wisp.options.allow_udp_streams = false;
wisp.options.parse_real_ip = false;
wispLogging.set_level(wispLogging.NONE);

const relayPathSchema = z.object({
  channel: z.enum(['wisp', 'dns', 'forward']),
  domainId: domainIdSchema,
  token: z.string().regex(/^[A-Za-z0-9_-]{32}$/),
});
type RelayPath = z.infer<typeof relayPathSchema>;

/**
 * `/wisp/<domain>/<token>/`, `/forward/<domain>/<token>/` or `/dns/<domain>/<token>`, validated;
 * null when malformed.
 */
export function parseRelayPath(url: string | undefined): RelayPath | null {
  const match = /^\/([a-z]+)\/([^/?#]+)\/([^/?#]+)\/?$/.exec(url ?? '');
  if (!match) return null;
  const parsed = relayPathSchema.safeParse({
    channel: match[1],
    domainId: match[2],
    token: match[3],
  });
  return parsed.success ? parsed.data : null;
}

export type DomainNetworkCounters = DomainNetworkInfo['counters'];

interface DomainNetwork {
  domainId: string;
  kindOf: () => DomainKind;
  token: Buffer | null;
  relays: Set<WebSocket>;
  sockets: Set<Socket>;
  counters: DomainNetworkCounters;
  recentDenials: DomainNetworkInfo['recentDenials'];
  denialLog: { windowStart: number; logged: number; suppressed: number };
}

export interface NetworkSwitchOptions {
  policy: EgressPolicyConfig;
  /** Where the switch listens; loopback only, port 0 picks a free one. */
  host?: string;
  port?: number;
}

export class NetworkSwitch {
  private readonly domains = new Map<string, DomainNetwork>();
  private readonly http: Server;
  private readonly relayServer = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1 << 20,
  });
  private readonly forwardServer = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1 << 20,
  });
  /** Host-to-guest port forwards (`vm forward`), carried by each worker's forward channel. */
  private readonly forwards: PortForwards;
  private started: Promise<void> | null = null;
  private port = 0;
  private readonly metrics = {
    connections: new Counter({
      name: 'raydesk_net_connections_total',
      help: 'Guest TCP connections through the virtual switch, by domain kind and result',
      labelNames: ['kind', 'result'] as const,
      registers: [],
    }),
    bytes: new Counter({
      name: 'raydesk_net_bytes_total',
      help: 'Guest TCP payload bytes through the virtual switch (in: to the guest)',
      labelNames: ['kind', 'direction'] as const,
      registers: [],
    }),
    dnsQueries: new Counter({
      name: 'raydesk_net_dns_queries_total',
      help: 'Guest DNS queries answered by the host resolver',
      labelNames: ['kind'] as const,
      registers: [],
    }),
    open: new Gauge({
      name: 'raydesk_net_open_connections',
      help: 'Guest TCP connections open right now',
      registers: [],
    }),
  };

  constructor(
    private readonly options: NetworkSwitchOptions,
    private readonly log: pino.Logger,
  ) {
    this.forwards = new PortForwards(log);
    this.http = createServer((req, res) => {
      this.serveHttp(req, res).catch((error: unknown) => {
        this.log.warn({ err: error }, 'DNS request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
  }

  /** Starts listening (once); domains can be attached afterwards. */
  start(): Promise<void> {
    this.started ??= new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.port = (this.http.address() as AddressInfo).port;
        this.log.info({ port: this.port }, 'virtual switch listening');
        resolve();
      });
    });
    return this.started;
  }

  async close(): Promise<void> {
    for (const id of [...this.domains.keys()]) this.forget(id);
    this.forwards.closeAll();
    if (this.http.listening) {
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
    }
    this.started = null;
    this.port = 0;
  }

  registerMetrics(registry: Registry): void {
    for (const metric of Object.values(this.metrics)) registry.registerMetric(metric);
  }

  /**
   * Connects a domain (at each boot or restore) and returns what its worker needs. A fresh
   * token every time: the one of a previous worker stops working. `kindOf` is read at every
   * connection because a claimed standby VM changes kind while it runs.
   */
  attach(domainId: string, kindOf: () => DomainKind): GuestNetworkConfig {
    if (!this.port) throw new Error('the virtual switch is not started');
    const domain = this.domains.get(domainId) ?? this.newDomain(domainId, kindOf);
    this.disconnect(domain, 'the VM booted again');
    domain.kindOf = kindOf;
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    domain.token = Buffer.from(token);
    const base = `127.0.0.1:${this.port}`;
    return {
      relayUrl: `wisp://${base}/wisp/${domainId}/${token}/`,
      dnsUrl: `http://${base}/dns/${domainId}/${token}`,
      forwardUrl: `ws://${base}/forward/${domainId}/${token}/`,
    };
  }

  /** Revokes the domain's token and closes its connections and forwards; counters are kept. */
  detach(domainId: string, why = 'the VM stopped running'): void {
    const domain = this.domains.get(domainId);
    if (domain) this.disconnect(domain, why);
  }

  /** Detaches and drops the domain's counters (it was destroyed). */
  forget(domainId: string): void {
    this.detach(domainId, 'the VM stopped');
    this.domains.delete(domainId);
  }

  /** Follows the lifecycle: a domain without a running worker has no network. */
  onDomainState(domainId: string, state: string): void {
    if (state === 'stopped') this.forget(domainId);
    else if (state === 'saved' || state === 'crashed') this.detach(domainId, `the VM is ${state}`);
  }

  /**
   * Listens on `listen` (port 0: any free port) and forwards each connection to `guestPort` of
   * the domain's guest, until the VM stops or `closeForward`.
   */
  openForward(
    domainId: string,
    guestPort: number,
    listen: ListenAddress,
  ): Promise<PortForwardInfo> {
    return this.forwards.open(domainId, guestPort, listen, () =>
      Boolean(this.domains.get(domainId)?.token),
    );
  }

  /** A stream from the host itself to `guestPort` of the domain's guest (file transfer). */
  openGuestStream(domainId: string, guestPort: number): Promise<Duplex> {
    return this.forwards.connect(domainId, guestPort, () =>
      Boolean(this.domains.get(domainId)?.token),
    );
  }

  closeForward(domainId: string, listen: { host?: string; port: number }): PortForwardInfo {
    return this.forwards.close(domainId, listen);
  }

  info(domainId: string, kind: DomainKind): DomainNetworkInfo {
    const domain = this.domains.get(domainId);
    return {
      id: domainId,
      kind,
      nic: GUEST_NETWORK.nic,
      guestAddress: GUEST_NETWORK.guestIp,
      gateway: GUEST_NETWORK.routerIp,
      attached: Boolean(domain?.token),
      policy: describePolicy(this.policyFor(kind)),
      counters: { ...(domain?.counters ?? emptyCounters()) },
      recentDenials: [...(domain?.recentDenials ?? [])],
      forwards: this.forwards.list(domainId),
    };
  }

  policyFor(kind: DomainKind): KindPolicy {
    return policyForKind(this.options.policy, kind);
  }

  private newDomain(domainId: string, kindOf: () => DomainKind): DomainNetwork {
    const domain: DomainNetwork = {
      domainId,
      kindOf,
      token: null,
      relays: new Set(),
      sockets: new Set(),
      counters: emptyCounters(),
      recentDenials: [],
      denialLog: { windowStart: 0, logged: 0, suppressed: 0 },
    };
    this.domains.set(domainId, domain);
    return domain;
  }

  private disconnect(domain: DomainNetwork, why: string): void {
    domain.token = null;
    for (const relay of domain.relays) relay.terminate();
    for (const socket of domain.sockets) socket.destroy();
    this.forwards.closeDomain(domain.domainId, why);
  }

  /** The domain a relay path names, if its token is the current one. */
  private authorize(path: RelayPath | null, channel: RelayPath['channel']): DomainNetwork | null {
    if (!path || path.channel !== channel) return null;
    const domain = this.domains.get(path.domainId);
    if (!domain?.token) return null;
    const given = Buffer.from(path.token);
    return given.length === domain.token.length && timingSafeEqual(given, domain.token)
      ? domain
      : null;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = parseRelayPath(req.url);
    if (path?.channel === 'forward') {
      const domain = this.authorize(path, 'forward');
      if (!domain) {
        this.log.warn(
          { domain: path.domainId, remote: req.socket.remoteAddress },
          'forward channel refused: unknown domain or token',
        );
        socket.end('HTTP/1.1 403 Refused\r\nConnection: close\r\n\r\n');
        return;
      }
      this.forwardServer.handleUpgrade(req, socket, head, (ws) =>
        this.forwards.attachChannel(domain.domainId, ws),
      );
      return;
    }
    const domain = this.authorize(path, 'wisp');
    if (!domain || domain.relays.size >= MAX_RELAY_SESSIONS_PER_DOMAIN) {
      this.log.warn(
        { domain: path?.domainId ?? null, remote: req.socket.remoteAddress },
        domain ? 'relay refused: too many sessions' : 'relay refused: unknown domain or token',
      );
      socket.end(`HTTP/1.1 ${domain ? 429 : 403} Refused\r\nConnection: close\r\n\r\n`);
      return;
    }
    this.relayServer.handleUpgrade(req, socket, head, (ws) => {
      ws.binaryType = 'arraybuffer';
      domain.relays.add(ws);
      ws.on('close', () => domain.relays.delete(ws));
      // v86's wisp client speaks wisp v1.
      const session = new wisp.ServerConnection(ws, req.url ?? '/', {
        TCPSocket: this.socketClassFor(domain),
        UDPSocket: RefusedUdpSocket,
        wisp_version: 1,
      });
      void (async () => {
        await session.setup();
        await session.run();
      })().catch((error: unknown) => {
        this.log.warn({ domain: domain.domainId, err: error }, 'relay session ended with an error');
        ws.terminate();
      });
    });
  }

  /** The wisp stream socket class for one domain: policy, counters and the real connection. */
  private socketClassFor(domain: DomainNetwork): WispStreamSocketClass {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class needs the switch
    const network = this;
    return class implements WispStreamSocket {
      private socket: Socket | null = null;
      private readonly queue: Buffer[] = [];
      private ended = false;
      private waiter: (() => void) | null = null;
      constructor(
        readonly hostname: string,
        readonly port: number,
      ) {}

      async connect(): Promise<void> {
        const kind = domain.kindOf();
        const target = await network.resolveTarget(this.hostname);
        const destination = `${target.address ?? this.hostname}:${this.port}`;
        if (target.address === null) {
          network.deny(domain, kind, destination, target.reason);
          throw new Error(target.reason);
        }
        const decision = decideEgress(network.policyFor(kind), target.address, this.port);
        if (!decision.allowed) {
          network.deny(domain, kind, destination, decision.reason, target.alias);
          throw new Error(decision.reason);
        }
        if (domain.sockets.size >= MAX_OPEN_CONNECTIONS_PER_DOMAIN) {
          network.deny(domain, kind, destination, 'too many open connections');
          throw new Error('too many open connections');
        }
        this.socket = await network.open(domain, kind, target.address, this.port, destination);
        this.socket.on('data', (chunk: Buffer) => {
          domain.counters.bytesIn += chunk.length;
          network.metrics.bytes.inc({ kind: domain.kindOf(), direction: 'in' }, chunk.length);
          this.queue.push(chunk);
          if (this.queue.length >= RECEIVE_QUEUE_HIGH_WATER) this.socket?.pause();
          this.wake();
        });
        this.socket.on('close', () => {
          this.ended = true;
          this.wake();
        });
      }

      async recv(): Promise<Uint8Array | null> {
        while (this.queue.length === 0 && !this.ended) {
          await new Promise<void>((resolve) => (this.waiter = resolve));
        }
        const chunk = this.queue.shift() ?? null;
        if (this.queue.length < RECEIVE_QUEUE_HIGH_WATER / 2) this.socket?.resume();
        return chunk;
      }

      async send(data: Uint8Array): Promise<void> {
        const socket = this.socket;
        if (!socket || socket.destroyed) return;
        domain.counters.bytesOut += data.length;
        network.metrics.bytes.inc({ kind: domain.kindOf(), direction: 'out' }, data.length);
        await new Promise<void>((resolve) => socket.write(data, () => resolve()));
      }

      async close(): Promise<void> {
        // FIN to the destination, then stop reading: the guest's side of the stream is gone.
        const socket = this.socket;
        socket?.end(() => socket.destroy());
        this.ended = true;
        this.wake();
      }

      // Flow control is the receive queue's (see the 'data' handler), not wisp-js's calls.
      pause(): void {}
      resume(): void {}

      private wake(): void {
        const waiter = this.waiter;
        this.waiter = null;
        waiter?.();
      }
    };
  }

  /**
   * The IP address a stream really goes to. The fake router's address stands for the host
   * itself (like QEMU's 10.0.2.2) and is judged as the host's loopback. Names are resolved
   * here, once, and the connection then goes to that very address.
   */
  private async resolveTarget(
    hostname: string,
  ): Promise<{ address: string; alias: string | null } | { address: null; reason: string }> {
    if (hostname === GUEST_NETWORK.routerIp) return { address: '127.0.0.1', alias: hostname };
    if (parseAddress(hostname)) return { address: hostname, alias: null };
    if (isIP(hostname) !== 0) return { address: null, reason: 'unusual address notation' };
    if (!isResolvableName(hostname.toLowerCase()))
      return { address: null, reason: 'bad host name' };
    try {
      const { address } = await lookup(hostname, { family: 4 });
      return { address, alias: hostname };
    } catch {
      return { address: null, reason: 'host name does not resolve' };
    }
  }

  private open(
    domain: DomainNetwork,
    kind: DomainKind,
    address: string,
    port: number,
    destination: string,
  ): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: address, port, noDelay: true });
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('connect timed out')));
      domain.sockets.add(socket);
      socket.once('connect', () => {
        socket.setTimeout(0);
        domain.counters.connectionsOpened += 1;
        domain.counters.openConnections += 1;
        this.metrics.connections.inc({ kind, result: 'opened' });
        this.metrics.open.inc();
        socket.once('close', () => {
          domain.counters.openConnections -= 1;
          this.metrics.open.dec();
        });
        this.log.debug({ domain: domain.domainId, destination }, 'egress opened');
        resolve(socket);
      });
      socket.on('error', (error) => {
        if (socket.connecting) {
          domain.counters.connectionsFailed += 1;
          this.metrics.connections.inc({ kind, result: 'failed' });
          this.log.info(
            { domain: domain.domainId, destination, err: error.message },
            'egress failed',
          );
          reject(error);
        }
      });
      socket.once('close', () => domain.sockets.delete(socket));
    });
  }

  private deny(
    domain: DomainNetwork,
    kind: DomainKind,
    destination: string,
    reason: string,
    requested: string | null = null,
  ): void {
    domain.counters.connectionsDenied += 1;
    this.metrics.connections.inc({ kind, result: 'denied' });
    domain.recentDenials.unshift({ at: new Date().toISOString(), destination, reason });
    domain.recentDenials.length = Math.min(domain.recentDenials.length, RECENT_DENIALS);
    const window = domain.denialLog;
    const now = Date.now();
    if (now - window.windowStart > 60_000) {
      if (window.suppressed > 0) {
        this.log.warn(
          { domain: domain.domainId, suppressed: window.suppressed },
          'egress denials not logged individually in the last minute',
        );
      }
      Object.assign(window, { windowStart: now, logged: 0, suppressed: 0 });
    }
    if (window.logged++ < DENIAL_LOGS_PER_MINUTE) {
      this.log.warn(
        { domain: domain.domainId, kind, destination, requested, reason },
        'egress denied',
      );
    } else {
      window.suppressed += 1;
    }
  }

  private async serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const domain = this.authorize(parseRelayPath(req.url), 'dns');
    if (!domain || req.method !== 'POST') {
      res.writeHead(domain ? 405 : 404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_DNS_MESSAGE_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    const answer = await this.answerDns(domain, new Uint8Array(Buffer.concat(chunks)));
    if (!answer) {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/dns-message' }).end(answer);
  }

  /**
   * Answers a guest's DNS query from the host's resolver. Only A records are answered (the
   * fake network is IPv4), and addresses this domain may never connect to are left out, so
   * internal names do not even resolve for a disposable VM.
   */
  private async answerDns(domain: DomainNetwork, message: Uint8Array): Promise<Uint8Array | null> {
    const question = parseDnsQuery(message);
    if (!question) return null;
    const kind = domain.kindOf();
    domain.counters.dnsQueries += 1;
    this.metrics.dnsQueries.inc({ kind });
    if (!isDnsClassIn(question) || !isResolvableName(question.name)) {
      return buildDnsResponse(question, RCODE.nxDomain);
    }
    if (question.type !== DNS_TYPE_A) return buildDnsResponse(question, RCODE.noError);
    let addresses: string[];
    try {
      addresses = (await lookup(question.name, { family: 4, all: true })).map((a) => a.address);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const rcode =
        code === 'ENOTFOUND' ? RCODE.nxDomain : code === 'ENODATA' ? RCODE.noError : RCODE.servFail;
      return buildDnsResponse(question, rcode);
    }
    const policy = this.policyFor(kind);
    const reachable = addresses.filter((a) => mayReachAddress(policy, a));
    domain.counters.dnsAnswersFiltered += addresses.length - reachable.length;
    const answers: DnsAnswerRecord[] = reachable.map((address) => ({
      type: DNS_TYPE_A,
      ttl: DNS_TTL_SECONDS,
      address: Uint8Array.from(address.split('.').map(Number)),
    }));
    return buildDnsResponse(question, RCODE.noError, answers);
  }
}

function emptyCounters(): DomainNetworkCounters {
  return {
    connectionsOpened: 0,
    connectionsDenied: 0,
    connectionsFailed: 0,
    openConnections: 0,
    bytesIn: 0,
    bytesOut: 0,
    dnsQueries: 0,
    dnsAnswersFiltered: 0,
  };
}

/** UDP streams are off (wisp-js is told so too); this only makes sure. */
class RefusedUdpSocket implements WispStreamSocket {
  constructor(
    readonly hostname: string,
    readonly port: number,
  ) {}
  async connect(): Promise<void> {
    throw new Error('UDP is not offered by the virtual switch');
  }
  async recv(): Promise<null> {
    return null;
  }
  async send(): Promise<void> {}
  async close(): Promise<void> {}
  pause(): void {}
  resume(): void {}
}
