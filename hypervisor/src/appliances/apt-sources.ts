// Finds the Debian mirror this machine's apt already uses, so image builds never name a mirror
// host themselves. Reads deb822 `*.sources` files first, then the one-line `sources.list`.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** Parses deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`). */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | null = null;
    for (const raw of stanza.split('\n')) {
      if (/^\s*#/.test(raw) || raw.trim() === '') continue;
      if (/^[ \t]/.test(raw) && last) {
        // continuation line of a multi-line field
        fields.set(last, `${fields.get(last) ?? ''} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('uris')) continue;
    sources.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      enabled: !/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes'),
    });
  }
  return sources;
}

/** Parses one-line `deb [options] uri suite component...` entries. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    sources.push({
      types: [m[1]!],
      uris: [m[2]!],
      suites: [m[3]!],
      components: (m[4] ?? '').split(/\s+/).filter(Boolean),
      enabled: true,
    });
  }
  return sources;
}

/**
 * The URI of the first enabled binary (`deb`) source that carries `suite` itself (not
 * `suite-security` or `suite-updates`) with the `main` component, or null.
 */
export function pickMirrorUri(sources: AptSource[], suite: string): string | null {
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb')) continue;
    if (!s.suites.includes(suite)) continue;
    if (s.components.length > 0 && !s.components.includes('main')) continue;
    const uri = s.uris.find((u) => /^(https?|file|ftp):/.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return null;
}

/** Reads the machine's apt configuration under `root` (default `/`) and picks the mirror. */
export function findMirrorUri(suite: string, root = '/'): string {
  const sources: AptSource[] = [];
  const dir = join(root, 'etc/apt/sources.list.d');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sources'))
        sources.push(...parseDeb822Sources(readFileSync(join(dir, f), 'utf8')));
      else if (f.endsWith('.list'))
        sources.push(...parseSourcesList(readFileSync(join(dir, f), 'utf8')));
    }
  }
  const list = join(root, 'etc/apt/sources.list');
  if (existsSync(list)) sources.push(...parseSourcesList(readFileSync(list, 'utf8')));
  const uri = pickMirrorUri(sources, suite);
  if (!uri) {
    throw new Error(
      `no apt source for suite "${suite}" (main) in ${dir}/*.sources or ${list}; configure one first`,
    );
  }
  return uri;
}

/** The one-line source handed to mmdebstrap: main suite only (the security index is not used). */
export function mmdebstrapSource(uri: string, suite: string): string {
  return `deb ${uri} ${suite} main`;
}
