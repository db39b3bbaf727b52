/**
 * The layering rules of eslint.config.js: a forbidden import fails lint, an allowed one passes.
 * Each case lints a small text as if it were a file in src/ (ESLint's lintText with a filePath),
 * so no bad file ever sits in the tree.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { REPO_ROOT } from '../helpers/fixtures.js';

const eslint = new ESLint({ cwd: REPO_ROOT });

/** The rule ids of the errors ESLint reports for `code` placed at `file` (relative to the repository). */
async function errorsOf(file: string, code: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, file) });
  assert.ok(result, 'ESLint linted the text');
  return result.messages.filter((m) => m.severity === 2).map((m) => ({ ruleId: m.ruleId, message: m.message }));
}

const LAYERING_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

const forbidden: { name: string; file: string; code: string; message: RegExp }[] = [
  {
    name: 'fetch/ importing the resolver',
    file: 'src/fetch/bad-fixture.ts',
    code: "import { Resolver } from '../resolve/resolver.js';\nexport const r = Resolver;\n",
    message: /src\/fetch\/ may not import resolve\//,
  },
  {
    name: 'fetch/ importing the injector with import()',
    file: 'src/fetch/bad-fixture.ts',
    code: "export const load = () => import('../inject/patch.js');\n",
    message: /src\/fetch\/ may not import .*inject\//,
  },
  {
    name: 'fetch/ importing a type of the webhook',
    file: 'src/fetch/bad-fixture.ts',
    code: "import type { AppOptions } from '../webhook/app.js';\nexport type A = AppOptions;\n",
    message: /may not import .*webhook\//,
  },
  {
    name: 'inject/ importing node:fs',
    file: 'src/inject/bad-fixture.ts',
    code: "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
    message: /pure: no I\/O module \(node:fs\)/,
  },
  {
    name: 'inject/ importing undici',
    file: 'src/inject/bad-fixture.ts',
    code: "import { Agent } from 'undici';\nexport const a = Agent;\n",
    message: /pure: no I\/O module \(undici\)/,
  },
  {
    name: 'inject/ importing the registry',
    file: 'src/inject/bad-fixture.ts',
    code: "import { RegistryClient } from '../registry/client.js';\nexport const c = RegistryClient;\n",
    message: /src\/inject\/ may not import registry\//,
  },
  {
    name: 'oci/ importing the registry layer',
    file: 'src/oci/bad-fixture.ts',
    code: "import { RegistryPolicy } from '../registry/policy.js';\nexport const p = RegistryPolicy;\n",
    message: /src\/oci\/ may not import/,
  },
  {
    name: 'oci/ importing node:http',
    file: 'src/oci/bad-fixture.ts',
    code: "import http from 'node:http';\nexport const h = http;\n",
    message: /pure: no I\/O module \(node:http\)/,
  },
  {
    name: 'plan/ importing the registry layer',
    file: 'src/plan/bad-fixture.ts',
    code: "import { RegistryClient } from '../registry/client.js';\nexport const c = RegistryClient;\n",
    message: /src\/plan\/ may not import/,
  },
  {
    name: 'registry/ importing the resolver',
    file: 'src/registry/bad-fixture.ts',
    code: "import { Resolver } from '../resolve/resolver.js';\nexport const r = Resolver;\n",
    message: /src\/registry\/ may not import resolve\//,
  },
  {
    name: 'kube/ importing the webhook',
    file: 'src/kube/bad-fixture.ts',
    code: "import { createLogger } from '../webhook/logger.js';\nexport const l = createLogger;\n",
    message: /src\/kube\/ may not import webhook\//,
  },
  {
    name: 'a command importing a sibling command',
    file: 'src/commands/bad-fixture.ts',
    code: "import { runResolve } from './resolve.js';\nexport const r = runResolve;\n",
    message: /a command imports no sibling command/,
  },
  {
    name: 'config/ importing the resolver',
    file: 'src/config/bad-fixture.ts',
    code: "import { createResolver } from '../resolve/setup.js';\nexport const c = createResolver;\n",
    message: /src\/config\/ may not import resolve\//,
  },
  {
    name: 'base/ importing oci/',
    file: 'src/base/bad-fixture.ts',
    code: "import { parseReference } from '../oci/reference.js';\nexport const p = parseReference;\n",
    message: /src\/base\/ may not import/,
  },
];

describe('lint: layering', () => {
  for (const c of forbidden) {
    it(`fails on ${c.name}`, async () => {
      const errors = await errorsOf(c.file, c.code);
      const layering = errors.filter((e) => e.ruleId !== null && LAYERING_RULES.has(e.ruleId));
      assert.equal(layering.length, 1, JSON.stringify(errors));
      assert.match(layering[0]!.message, c.message);
    });
  }

  const allowed: { name: string; file: string; code: string }[] = [
    {
      name: 'fetch/ importing the registry layer and plan/',
      file: 'src/fetch/good-fixture.ts',
      code: "import { RegistryClient } from '../registry/client.js';\nimport { parsePlan } from '../plan/plan.js';\nexport const x = [RegistryClient, parsePlan];\n",
    },
    {
      name: 'inject/ importing plan/, oci/ and base/',
      file: 'src/inject/good-fixture.ts',
      code: "import { ENV_PLAN } from '../plan/env.js';\nimport { parseReference } from '../oci/reference.js';\nimport { InjectError } from '../base/errors.js';\nexport const x = [ENV_PLAN, parseReference, InjectError];\n",
    },
    {
      name: 'oci/ importing base/ and node:crypto',
      file: 'src/oci/good-fixture.ts',
      code: "import { createHash } from 'node:crypto';\nimport { OciError } from '../base/errors.js';\nexport const x = [createHash, OciError];\n",
    },
  ];
  for (const c of allowed) {
    it(`passes ${c.name}`, async () => {
      assert.deepEqual(await errorsOf(c.file, c.code), []);
    });
  }

  it('passes on the repository as it is', async () => {
    const results = await eslint.lintFiles(['src']);
    const errors = results.flatMap((r) =>
      r.messages.filter((m) => m.severity === 2).map((m) => `${path.relative(REPO_ROOT, r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`),
    );
    assert.deepEqual(errors, []);
  });
});
