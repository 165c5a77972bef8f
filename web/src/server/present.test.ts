import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeBrowser } from './present.ts';

test('user agents become short endpoint names', () => {
  assert.equal(
    describeBrowser(
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
    ),
    'Headless Chrome 156 on Linux',
  );
  assert.equal(
    describeBrowser(
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0',
    ),
    'Firefox 140 on Windows',
  );
  assert.equal(describeBrowser(''), 'Unknown browser');
});
