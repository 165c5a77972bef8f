// Optional HTTPS on the portal itself: TLS_CERT_FILE and TLS_KEY_FILE (PEM), both or neither.
import { readFileSync } from 'node:fs';

/**
 * The certificate and key to serve HTTPS with, or null for plain HTTP.
 * Throws an Error that says what to fix when only one is set or a file cannot be read.
 * @param {Record<string, string | undefined>} env
 * @returns {{ cert: Buffer, key: Buffer, certFile: string, keyFile: string } | null}
 */
export function readTlsFiles(env) {
  const certFile = env.TLS_CERT_FILE?.trim() || '';
  const keyFile = env.TLS_KEY_FILE?.trim() || '';
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) {
    const missing = certFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE';
    const given = certFile ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE';
    throw new Error(
      `${given} is set but ${missing} is not: set both (PEM certificate and private key) for ` +
        'HTTPS, or neither for plain HTTP',
    );
  }
  const read = (name, file) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${name}: cannot read ${file} (${error.code ?? error.message})`);
    }
  };
  return {
    cert: read('TLS_CERT_FILE', certFile),
    key: read('TLS_KEY_FILE', keyFile),
    certFile,
    keyFile,
  };
}
