// One lint configuration for every workspace. Type-aware rules (typescript-eslint's
// projectService: each file is checked with the tsconfig of its workspace) catch promises that
// are dropped or passed where a callback's result is ignored. Import rules (eslint-plugin-import-x)
// keep the workspace boundaries: a workspace is reached only through its package exports, only
// if its package.json depends on it (so dependencies point down the stack), and no cycles.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const TS_FILES = ['**/*.ts', '**/*.tsx', '**/*.mts'];

const WORKSPACES = ['common', 'db', 'hypervisor', 'gateway', 'viewer', 'web'];

/**
 * Which workspaces the files may import, and whether they may use `./testing` exports (tests,
 * harnesses). Never a path inside a workspace (`@raydesk/gateway/src/...`): its exports only.
 */
function layer(files, allowed, { testing = true } = {}) {
  const forbidden = WORKSPACES.filter((name) => !allowed.includes(name));
  const patterns = [
    {
      regex: '^@raydesk/[^/]+/(src|test|testing/.+)(/|$)',
      message: 'Import a workspace through its package exports (see its package.json).',
    },
  ];
  if (forbidden.length > 0) {
    patterns.push({
      regex: `^@raydesk/(${forbidden.join('|')})(/|$)`,
      message:
        'Dependencies point down the stack: web -> viewer -> gateway -> hypervisor -> common.',
    });
  }
  if (!testing) {
    patterns.push({
      regex: '^@raydesk/[^/]+/testing$',
      message: 'Test harnesses are for tests, not for production code.',
    });
  }
  return { files, rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/.next/**',
      '**/.tsbuild/**',
      'data/**',
      'web/next-env.d.ts',
      'prisma/generated/**',
      'web/viewer/dist/**',
      'web/public/early-attach.js',
      'hypervisor/guest/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: TS_FILES,
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test runs these itself; the promise they return is only for nesting.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      // Which files import-x reads to follow imports (its default is JavaScript only).
      'import-x/extensions': importX.flatConfigs.typescript.settings['import-x/extensions'],
      'import-x/parsers': importX.flatConfigs.typescript.settings['import-x/parsers'],
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          alwaysTryTypes: true,
          noWarnOnMultipleProjects: true,
          project: [
            'tsconfig.json',
            'common/tsconfig.json',
            'prisma/tsconfig.json',
            'hypervisor/tsconfig.json',
            'gateway/tsconfig.json',
            'web/tsconfig.json',
            'web/viewer/tsconfig.json',
          ],
        }),
      ],
    },
    rules: {
      // `../gateway/src/x.ts` from outside gateway/: use the package's exports.
      'import-x/no-relative-packages': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: false }],
      'import-x/no-extraneous-dependencies': 'error',
    },
  },
  // Later entries win for their files, so each workspace's src/ comes after the workspace.
  layer(['**/*'], WORKSPACES),
  layer(['common/**'], [], { testing: false }),
  layer(['prisma/**'], ['common']),
  // A fleet's hosts register and heartbeat in its PostgreSQL (host/fleet-heartbeat.ts).
  layer(['hypervisor/**'], ['common', 'db']),
  layer(['hypervisor/src/**'], ['common', 'db'], { testing: false }),
  layer(['gateway/**'], ['common', 'db', 'hypervisor']),
  layer(['gateway/src/**'], ['common', 'db', 'hypervisor'], { testing: false }),
  layer(['web/**'], ['common', 'db', 'hypervisor', 'gateway', 'viewer']),
  layer(['web/src/**'], ['common', 'db', 'hypervisor', 'gateway', 'viewer'], { testing: false }),
  // The viewer runs in the browser: the gateway's protocol and the shared rules only. Its tests
  // start a real hypervisor.
  layer(['web/viewer/**'], ['common', 'gateway', 'hypervisor']),
  layer(['web/viewer/src/**'], ['common', 'gateway'], { testing: false }),
);
