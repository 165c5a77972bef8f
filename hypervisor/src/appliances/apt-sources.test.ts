import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findMirrorUri,
  mmdebstrapSource,
  parseDeb822Sources,
  parseSourcesList,
  pickMirrorUri,
} from './apt-sources.ts';

const DEB822 = `Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
`;

test('deb822 stanzas are parsed field by field', () => {
  const s = parseDeb822Sources(DEB822);
  assert.equal(s.length, 2);
  assert.deepEqual(s[0]!.suites, ['bookworm', 'bookworm-updates']);
  assert.deepEqual(s[0]!.components, ['main', 'contrib']);
  assert.deepEqual(s[1]!.uris, ['http://security.example/debian-security']);
});

test('the main suite wins over -security and the trailing slash is dropped', () => {
  assert.equal(
    pickMirrorUri(parseDeb822Sources(DEB822), 'bookworm'),
    'http://mirror.example/debian',
  );
  // Only a security source: no match for the plain suite.
  assert.equal(pickMirrorUri(parseDeb822Sources(DEB822.split('\n\n')[1]!), 'bookworm'), null);
});

test('disabled stanzas and deb-src entries are skipped', () => {
  const text = `Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: http://on.example/debian\nSuites: bookworm\nComponents: main\n`;
  assert.equal(pickMirrorUri(parseDeb822Sources(text), 'bookworm'), 'http://on.example/debian');
});

test('one-line sources.list entries with options', () => {
  const s = parseSourcesList(
    '# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main non-free\n',
  );
  assert.equal(s.length, 2);
  assert.equal(pickMirrorUri(s, 'bookworm'), 'http://one.example/debian');
});

test('findMirrorUri reads sources.list.d first and falls back to sources.list', () => {
  const root = mkdtempSync(join(tmpdir(), 'aptsrc-'));
  mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
  writeFileSync(
    join(root, 'etc/apt/sources.list'),
    'deb http://legacy.example/debian bookworm main\n',
  );
  assert.equal(findMirrorUri('bookworm', root), 'http://legacy.example/debian');
  writeFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), DEB822);
  assert.equal(findMirrorUri('bookworm', root), 'http://mirror.example/debian');
  assert.throws(() => findMirrorUri('trixie', root), /no apt source/);
  assert.equal(
    mmdebstrapSource('http://m.example/debian', 'bookworm'),
    'deb http://m.example/debian bookworm main',
  );
});
