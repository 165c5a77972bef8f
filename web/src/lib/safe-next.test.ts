import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_NEXT, safeNextPath } from './safe-next.ts';

/** Where a browser on https://vdi.example.test would end up after `location.assign(next)`. */
function landsOn(next: string): string {
  return new URL(next, 'https://vdi.example.test/login?next=x').origin;
}

describe('safeNextPath', () => {
  test('keeps plain paths of the portal, with their query and fragment', () => {
    for (const [input, expected] of [
      ['/', '/'],
      ['/admin', '/admin'],
      ['/admin/users?role=admin&page=2', '/admin/users?role=admin&page=2'],
      ['/desktop/cm1234567890abcdefghijklm', '/desktop/cm1234567890abcdefghijklm'],
      ['/browser/new?from=home#top', '/browser/new?from=home#top'],
      ['/admin/audit?q=login%20failed', '/admin/audit?q=login%20failed'],
      ['/apiary', '/apiary'],
      ['/a/./b/../c', '/a/c'],
    ]) {
      assert.equal(safeNextPath(input), expected, input);
      assert.equal(landsOn(safeNextPath(input)), 'https://vdi.example.test');
    }
  });

  test('refuses every way of naming another site', () => {
    const attacks = [
      '//evil.example',
      '//evil.example/path',
      '/\\evil.example',
      '\\/evil.example',
      '\\\\evil.example',
      '/%5Cevil.example',
      '/%5cevil.example',
      '/%2F/evil.example',
      '/%2f%2fevil.example',
      'https://evil.example',
      'http://evil.example/',
      'HTTPS://evil.example',
      '//evil.example@portal',
      'evil.example',
      '.evil.example',
      'javascript:alert(1)',
      'JavaScript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      '/\t/evil.example',
      '/\n/evil.example',
      '/\r\n/evil.example',
      '/\t\\evil.example',
      '/%09/evil.example',
      '/%0a/evil.example',
      '/\u0000evil',
      '/\u007fevil',
      ' /evil',
      '',
    ];
    for (const input of attacks) {
      assert.equal(safeNextPath(input), DEFAULT_NEXT, JSON.stringify(input));
    }
  });

  test('refuses the API, also when dot segments or encodings hide it', () => {
    for (const input of [
      '/api/auth/logout',
      '/api',
      '/API/auth/logout',
      '/admin/../api/auth/logout',
      '/%2e%2e/api/auth/logout',
      '/%61pi/auth/logout',
      '/x/%2e%2e/api/me',
    ]) {
      assert.equal(safeNextPath(input), DEFAULT_NEXT, input);
    }
  });

  test('refuses missing, overlong and undecodable values', () => {
    assert.equal(safeNextPath(null), DEFAULT_NEXT);
    assert.equal(safeNextPath(undefined), DEFAULT_NEXT);
    assert.equal(safeNextPath(`/${'a'.repeat(5000)}`), DEFAULT_NEXT);
    assert.equal(safeNextPath('/%E0%A4%A'), DEFAULT_NEXT);
  });

  test('whatever it returns stays on the portal as a browser resolves it', () => {
    const samples = [
      '/ok',
      '//x',
      '/\\x',
      '/%5Cx',
      '/%2f/x',
      'https://x',
      '/\t/x',
      '/a?b=//c',
      '/a#//c',
      '/%2e%2e%2f%2e%2e%2fx',
      '/..//x',
      '/.//x',
    ];
    for (const input of samples) {
      const out = safeNextPath(input);
      assert.ok(out.startsWith('/') && !out.startsWith('//'), `${input} -> ${out}`);
      assert.equal(landsOn(out), 'https://vdi.example.test', `${input} -> ${out}`);
    }
  });
});
