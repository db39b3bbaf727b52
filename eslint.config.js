// ESLint flat config: typescript-eslint's recommended rules (syntax only: the type-checked set is
// slower than the whole test suite's compile) and the layering of src/ as import rules: each
// layer() call below says what one folder of src/ may not import. test/lint/ proves they bite.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node modules that do I/O: pure layers import none of them. */
const IO_MODULES = [
  'node:fs',
  'node:fs/promises',
  'fs',
  'fs/promises',
  'node:http',
  'http',
  'node:https',
  'https',
  'node:http2',
  'http2',
  'node:net',
  'net',
  'node:tls',
  'tls',
  'node:dns',
  'node:dns/promises',
  'dns',
  'dns/promises',
  'node:child_process',
  'child_process',
  'undici',
  '@kubernetes/client-node',
  'express',
];

/** Layers of src/ by folder. */
const LAYERS = ['base', 'oci', 'plan', 'registry', 'resolve', 'inject', 'admit', 'webhook', 'fetch', 'kube', 'certs', 'config', 'commands'];

/**
 * The import rules of one folder: `forbidden` folders of src/ it may not import (statically or with
 * `import()`), and, for pure folders, no I/O module.
 */
function layer(folder, forbidden, { pure = false } = {}) {
  const message = `src/${folder}/ may not import ${forbidden.map((f) => `${f}/`).join(', ')}${pure ? ' or I/O modules' : ''} (the layering rules of eslint.config.js)`;
  const folders = `^(\\.\\./)+(${forbidden.join('|')})/`;
  const paths = pure ? IO_MODULES.map((name) => ({ name, message: `src/${folder}/ is pure: no I/O module (${name})` })) : [];
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { paths, patterns: [{ regex: folders, message }] }],
      'no-restricted-syntax': [
        'error',
        // esquery ends a regex at the first slash: write the slashes as \x2F.
        { selector: `ImportExpression[source.value=/${folders.replace(/\//g, '\\x2F')}/]`, message },
        ...paths.map((p) => ({ selector: `ImportExpression[source.value='${p.name}']`, message: p.message })),
      ],
    },
  };
}

const except = (...allowed) => LAYERS.filter((l) => !allowed.includes(l));

export default tseslint.config(
  { ignores: ['dist/**', '.build/**', 'node_modules/**', 'certs/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        AbortSignal: 'readonly',
        AbortController: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      // A `let` read by a closure before its one assignment (serve's TLS server) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // The line limit prettier keeps for code, for comments too; long message strings may run over
      // (cutting them would hide them from a search for the message a user reports).
      'max-len': ['error', { code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
      // Unused names are tsc's job (noUnusedLocals); `_`-prefixed ones are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests poke at untyped JSON (AdmissionReviews, patches, registry answers): `any` is the honest type there.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  layer('base', except('base')),
  layer('oci', except('oci', 'base'), { pure: true }),
  layer('plan', except('plan', 'oci', 'base'), { pure: true }),
  layer('registry', ['resolve', 'inject', 'admit', 'webhook', 'fetch', 'kube', 'commands', 'config']),
  layer('inject', ['registry', 'resolve', 'admit', 'webhook', 'kube', 'fetch', 'commands'], { pure: true }),
  layer('fetch', ['resolve', 'inject', 'admit', 'webhook', 'kube', 'commands']),
  layer('kube', ['webhook', 'admit', 'commands']),
  layer('resolve', ['inject', 'admit', 'webhook', 'fetch', 'kube', 'commands']),
  // The workflows take their I/O (resolver, pull secrets) as collaborators: no HTTP, no Kubernetes client.
  layer('admit', ['webhook', 'fetch', 'kube', 'registry', 'commands', 'config']),
  // The loaders are loaded by the fetcher too: no webhook-side code behind them.
  layer('config', ['resolve', 'inject', 'admit', 'webhook', 'kube', 'commands']),
  {
    // Commands only wire pieces: what two commands share lives in config/ or its layer, never in a sibling command.
    files: ['src/commands/**/*.ts'],
    ignores: ['src/commands/registry.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^\\./(?!io\\.js$)', message: 'a command imports no sibling command: put what they share in config/ or in its layer' },
          ],
        },
      ],
    },
  },
);
