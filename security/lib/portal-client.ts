// A minimal browser stand-in for the portal's HTTP API: a cookie jar (with cookie paths), the
// Origin a same-origin page would send (or a foreign one, or none), and a chosen source address
// on loopback (127.x.y.z), so per-address rules see different clients for real: the portal reads
// the address from the socket, never from a header the client controls. Like the e2e browsers it
// uses the portal by its made-up host name, whose address it connects to itself (Node cannot
// resolve the name).
import { request } from 'node:http';
import { PORTAL_HOST_ADDRESS, PORTAL_HOST_NAME } from '@raydesk/web/testing';

export interface PortalResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or {} when it is not JSON. */
  json: Record<string, unknown>;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body text (wins over `body`). */
  rawBody?: string;
  /** The Origin header: the portal's own by default, null for none. */
  origin?: string | null;
  headers?: Record<string, string>;
}

export class PortalClient {
  readonly base: URL;
  private readonly jar = new Map<string, { value: string; path: string }>();

  /** `address`: the source address on loopback, e.g. 127.0.0.23 (default: the system's). */
  constructor(
    base: string,
    readonly address?: string,
  ) {
    this.base = new URL(base);
  }

  get origin(): string {
    return this.base.origin;
  }

  cookie(name: string): string | undefined {
    return this.jar.get(name)?.value;
  }

  setCookie(name: string, value: string, path = '/'): void {
    this.jar.set(name, { value, path });
  }

  dropCookie(name: string): void {
    this.jar.delete(name);
  }

  async request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<PortalResponse> {
    const host = this.base.hostname === PORTAL_HOST_NAME ? PORTAL_HOST_ADDRESS : this.base.hostname;
    const body =
      options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    const cookies = [...this.jar]
      .filter(([, c]) => path.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const headers: Record<string, string> = {
      host: this.base.host,
      ...(options.origin !== null ? { origin: options.origin ?? this.origin } : {}),
      ...(cookies ? { cookie: cookies } : {}),
      ...(body !== undefined
        ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
        : {}),
      ...options.headers,
    };
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port: Number(this.base.port),
          method,
          path,
          headers,
          localAddress: this.address,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            this.store(res.headers['set-cookie'] ?? []);
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              json = {};
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const expired = attr('max-age') === '0' || value === '';
      if (expired) this.jar.delete(name);
      else this.jar.set(name, { value, path: attr('path') ?? '/' });
    }
  }

  /** Signs in through /api/auth/login; returns the response. */
  signIn(email: string, password: string): Promise<PortalResponse> {
    return this.request('POST', '/api/auth/login', { body: { email, password } });
  }
}
