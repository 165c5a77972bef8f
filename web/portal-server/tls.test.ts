import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTlsFiles } from './tls.mjs';

test('TLS files: neither is plain HTTP, both are read, one alone is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raydesk-tls-'));
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, 'CERT');
    writeFileSync(key, 'KEY');
    assert.equal(readTlsFiles({}), null);
    assert.equal(readTlsFiles({ TLS_CERT_FILE: ' ', TLS_KEY_FILE: '' }), null);
    const both = readTlsFiles({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    assert.equal(both?.cert.toString(), 'CERT');
    assert.equal(both?.key.toString(), 'KEY');
    assert.throws(
      () => readTlsFiles({ TLS_CERT_FILE: cert }),
      /TLS_CERT_FILE is set but TLS_KEY_FILE is not: set both/,
    );
    assert.throws(
      () => readTlsFiles({ TLS_KEY_FILE: key }),
      /TLS_KEY_FILE is set but TLS_CERT_FILE is not/,
    );
    assert.throws(
      () => readTlsFiles({ TLS_CERT_FILE: cert, TLS_KEY_FILE: join(dir, 'missing.pem') }),
      /TLS_KEY_FILE: cannot read .*missing\.pem \(ENOENT\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
