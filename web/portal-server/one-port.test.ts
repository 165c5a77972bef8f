// HTTPS and plain HTTP on one port, with a real self-signed certificate.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { selfSignedCertificate, type SelfSignedCertificate } from '../testing/self-signed.ts';
import { createOnePortServer, httpsLocation } from './one-port.mjs';

test('httpsLocation keeps host and path, and refuses what is not a host', () => {
  assert.equal(
    httpsLocation('vdi.example.test:3000', '/login?next=%2F'),
    'https://vdi.example.test:3000/login?next=%2F',
  );
  assert.equal(httpsLocation('[::1]:3000', '/'), 'https://[::1]:3000/');
  assert.equal(httpsLocation('desk', '//evil.example/x'), 'https://desk/');
  for (const host of [undefined, '', 'evil.example/x', 'a b', 'desk\r\nSet-Cookie: x=1', 'u@evil'])
    assert.equal(httpsLocation(host, '/'), null, String(host));
});

interface Answer {
  status: number;
  location?: string;
  body: string;
}

describe('one port for HTTPS and local plain HTTP', () => {
  let cert: SelfSignedCertificate;
  let port = 0;
  let close: () => Promise<void>;

  before(async () => {
    cert = selfSignedCertificate('vdi.example.test');
    const answer = (req: IncomingMessage, res: ServerResponse) =>
      res.end(`${(req.socket as TLSSocket).encrypted ? 'https' : 'http'} ${req.url}`);
    const httpsServer = createHttpsServer({ cert: cert.cert, key: cert.key }, answer);
    const { server, closeConnections } = createOnePortServer({
      httpsServer,
      onPlainRequest: answer,
      onPlainUpgrade: (_req, socket) => socket.destroy(),
    });
    await new Promise<void>((resolve) => server.listen(0, resolve));
    port = (server.address() as AddressInfo).port;
    close = () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        closeConnections();
      });
  });

  after(async () => {
    await close?.();
    cert?.remove();
  });

  const get = (secure: boolean, address: string, path: string, host: string) =>
    new Promise<Answer>((resolve, reject) => {
      const options = {
        host: address,
        port,
        path,
        headers: { host },
        ...(secure ? { ca: cert.cert, servername: 'vdi.example.test' } : {}),
      };
      const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }),
        );
      });
      req.on('error', reject);
      req.end();
    });

  test('browsers get HTTPS, verified against the certificate', async () => {
    const answer = await get(true, '127.0.0.2', '/login', `vdi.example.test:${port}`);
    assert.deepEqual(answer, { status: 200, location: undefined, body: 'https /login' });
  });

  test('this machine may use plain HTTP on 127.0.0.1 and ::1', async () => {
    assert.equal((await get(false, '127.0.0.1', '/api/health', 'x')).body, 'http /api/health');
    assert.equal((await get(false, '::1', '/api/health', 'x')).body, 'http /api/health');
  });

  test('plain HTTP from another computer is sent to HTTPS on the host it asked for', async () => {
    const host = `vdi.example.test:${port}`;
    const answer = await get(false, '127.0.0.2', '/desktop/abc?x=1', host);
    assert.equal(answer.status, 308);
    assert.equal(answer.location, `https://${host}/desktop/abc?x=1`);
    assert.equal((await get(false, '127.0.0.2', '/', 'evil.example/x')).status, 400);
  });
});
