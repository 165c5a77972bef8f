// Production server for the portal: Next's documented custom-server API around plain node:http.
// Why not bare `next start`: Next fills in x-forwarded-for only when the request lacks it, so a
// client could pick its own address and dodge the per-address sign-in lockout. Here the
// x-forwarded-* headers a client sends are dropped unless TRUST_PROXY=1 (set it only behind a
// reverse proxy that sets them), and Next then records the socket's real address.
//   node web/server.mjs            (PORT from the environment or the root .env, default 3000)
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout } from 'node:timers';
import next from 'next';

const dir = dirname(fileURLToPath(import.meta.url));
const rootEnv = join(resolve(dir, '..'), '.env');
if (existsSync(rootEnv)) process.loadEnvFile(rootEnv);

const port = Number(process.env.PORT || 3000);
const host = process.env.PORTAL_BIND || '0.0.0.0';
const trustProxy = process.env.TRUST_PROXY === '1' || process.env.TRUST_PROXY === 'true';

const app = next({ dev: false, dir, port, hostname: 'localhost' });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  if (!trustProxy) {
    delete req.headers['x-forwarded-for'];
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-proto'];
    delete req.headers['x-forwarded-port'];
    delete req.headers['x-real-ip'];
  }
  handle(req, res).catch((error) => {
    console.error('[portal] request failed:', error);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'internal', message: 'Something went wrong on our side.' }));
    }
  });
});
server.listen(port, host, () => {
  console.log(`[portal] listening on http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
