/**
 * The init container's code: every module the built `fetch` entry can load (static imports,
 * re-exports and `import()` with a literal specifier, followed transitively through dist/lib/)
 * stays out of the resolver, the injector, the admission workflow and the webhook, and so does the
 * static graph of main.js, which every command loads first; so does the one-file bundle the
 * executable runs for `fetch` (dist/fetch.cjs), and the executable itself (dist/cli.js, CommonJS).
 * Reads dist/ as built by `npm run build`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';

const DIST = path.join(REPO_ROOT, 'dist');
/** The ES modules (tsc's output). */
const LIB = path.join(DIST, 'lib');
/** Folders of dist/lib/ the fetcher must never load. */
const FORBIDDEN_FOLDERS = ['resolve', 'inject', 'admit', 'webhook'];
/** Packages of the webhook the fetcher must never load. */
const FORBIDDEN_PACKAGES = ['express', '@kubernetes/client-node', 'prom-client', 'node-forge'];

/** `from '...'`, `import '...'` and `import('...')`; the specifiers of one module's imports. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;
/** An `import(` whose argument is not a string literal: an edge the walk could not see. */
const DYNAMIC_NON_LITERAL = /\bimport\s*\(\s*(?!['"])/;

interface Graph {
  /** Modules of dist/lib/ reached, relative to it. */
  readonly modules: Set<string>;
  /** Bare specifiers (node: builtins and packages) reached, with the first module that imports each. */
  readonly packages: Map<string, string>;
  /** How each module was first reached, for the failure message. */
  readonly parent: Map<string, string>;
}

/** Walks the import graph from `entries` (files under dist/lib/); `followDynamic` false keeps to static imports. */
function walk(entries: readonly string[], followDynamic: boolean): Graph {
  const graph: Graph = { modules: new Set(), packages: new Map(), parent: new Map() };
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const rel = path.relative(LIB, file);
    if (graph.modules.has(rel)) continue;
    graph.modules.add(rel);
    const text = readFileSync(file, 'utf8');
    assert.ok(!DYNAMIC_NON_LITERAL.test(text), `${rel} has an import() without a literal specifier: the walk cannot follow it`);
    for (const m of text.matchAll(SPECIFIER)) {
      const specifier = m[2]!;
      if (!followDynamic && /import\s*\(/.test(m[0])) continue;
      if (!specifier.startsWith('.')) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        if (!graph.packages.has(name)) graph.packages.set(name, rel);
        continue;
      }
      const target = path.resolve(path.dirname(file), specifier);
      assert.ok(existsSync(target), `${rel} imports ${specifier}, which is not in dist/lib/`);
      const targetRel = path.relative(LIB, target);
      if (!graph.parent.has(targetRel)) graph.parent.set(targetRel, rel);
      queue.push(target);
    }
  }
  return graph;
}

/** The chain of imports from an entry to `module`. */
function chain(graph: Graph, module: string): string {
  const steps = [module];
  for (let m = graph.parent.get(module); m !== undefined && steps.length < 50; m = graph.parent.get(m)) steps.unshift(m);
  return steps.join(' -> ');
}

/** The files an esbuild bundle holds: it marks where each starts with a comment naming its path. */
function bundledFiles(bundle: string): string[] {
  return [...new Set([...bundle.matchAll(/^\/\/ ((?:src|dist|node_modules)\/\S+)$/gm)].map((m) => m[1]!))].sort();
}

function assertFetcherOnly(graph: Graph): void {
  const bad = [...graph.modules].filter((m) => FORBIDDEN_FOLDERS.includes(m.split(path.sep)[0]!));
  assert.deepEqual(
    bad.map((m) => chain(graph, m)),
    [],
    'no resolver, injector, admission or webhook module',
  );
  const badPackages = FORBIDDEN_PACKAGES.filter((p) => graph.packages.has(p)).map(
    (p) => `${p} (from ${chain(graph, graph.packages.get(p)!)})`,
  );
  assert.deepEqual(badPackages, [], 'no webhook package');
}

describe('the fetch entry point import graph (built)', () => {
  it('dist/ is built', () => {
    assert.ok(existsSync(path.join(LIB, 'commands', 'fetch.js')), 'run npm run build first');
  });

  it('dist/lib/commands/fetch.js reaches no resolve/, inject/, admit/ or webhook/ module, statically or with import()', () => {
    const graph = walk([path.join(LIB, 'commands', 'fetch.js')], true);
    assert.ok(graph.modules.has(path.join('fetch', 'runner.js')), 'the walk follows imports (it reaches fetch/runner.js)');
    assert.ok(graph.modules.has(path.join('registry', 'setup.js')), 'the walk follows imports (it reaches registry/setup.js)');
    assertFetcherOnly(graph);
  });

  it('dist/lib/main.js, which every command loads first, loads none of them statically', () => {
    // main.js loads each command's module with import() only when that command runs: its static
    // graph is what every command, fetch included, loads first.
    const graph = walk([path.join(LIB, 'main.js')], false);
    assert.ok(graph.modules.has(path.join('config', 'tables.js')), 'the walk follows imports (it reaches config/tables.js)');
    assertFetcherOnly(graph);
  });

  it('dist/cli.js is CommonJS holding cli.ts and base/code-cache.ts alone, and imports dist/lib/main.js at run time', () => {
    const cli = readFileSync(path.join(DIST, 'cli.js'), 'utf8');
    assert.deepEqual(bundledFiles(cli), ['src/base/code-cache.ts', 'src/cli.ts']);
    assert.deepEqual(
      [...cli.matchAll(/\brequire\((['"])([^'"]+)\1\)/g)].map((m) => m[2]!).filter((s) => !s.startsWith('node:')),
      [],
      'it requires only built-ins',
    );
    assert.match(cli, /import\(new URL\(['"]\.\/lib\/main\.js['"]/, 'the other commands come from dist/lib/main.js');
    // Strict, as the ES modules it is built from: the directive must come before any statement.
    assert.match(cli, /^#!.*\n"use strict";\n/);
    assert.match(readFileSync(path.join(DIST, 'fetch.cjs'), 'utf8'), /^"use strict";\n/);
    // Node picks the module system by the nearest package.json: dist/ is CommonJS, dist/lib/ ES modules.
    assert.deepEqual(JSON.parse(readFileSync(path.join(DIST, 'package.json'), 'utf8')), { type: 'commonjs' });
    assert.deepEqual(JSON.parse(readFileSync(path.join(LIB, 'package.json'), 'utf8')), { type: 'module' });
  });

  it("dist/fetch.cjs bundles the fetcher's modules and none of the webhook's", () => {
    const files = bundledFiles(readFileSync(path.join(DIST, 'fetch.cjs'), 'utf8'));
    assert.ok(
      files.includes('dist/lib/fetch/runner.js') && files.includes('dist/lib/registry/node-transport.js'),
      `the bundle's files: ${files.join(' ')}`,
    );
    assert.deepEqual(
      files.filter((f) => FORBIDDEN_FOLDERS.some((d) => f.startsWith(`dist/lib/${d}/`))),
      [],
      'no resolver, injector, admission or webhook module in the bundle',
    );
    assert.deepEqual(
      files.filter((f) => FORBIDDEN_PACKAGES.some((p) => f.startsWith(`node_modules/${p}/`))),
      [],
      'no webhook package in the bundle',
    );
  });

  it('dist/cli.js runs fetch from dist/fetch.cjs, and the other commands from the ES modules', async () => {
    // The bundle is compiled from its source with Module.wrap (base/code-cache.ts), not required: a
    // preloaded wrap records the digest of every source it wraps. Node wraps dist/cli.js with it too,
    // where a hashbang is only legal as the file's first line: the wrap makes it a comment.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'camel-oci-bundle-'));
    try {
      const preload = path.join(tmp, 'wrapped.cjs');
      writeFileSync(
        preload,
        [
          "const Module = require('node:module');",
          'const wrap = Module.wrap;',
          'Module.wrap = function (source) {',
          "  require('node:fs').appendFileSync(process.env.WRAPPED, require('node:crypto').createHash('sha256').update(source).digest('hex') + '\\n');",
          "  return wrap.call(this, source.replace(/^#!/, '//#!'));",
          '};',
          '',
        ].join('\n'),
      );
      /** Runs the built CLI with the preload: the digests of the sources it wrapped, its exit code and stdout. */
      const wrapped = async (args: string[]): Promise<{ sources: string[]; code: number; stdout: string }> => {
        const out = path.join(tmp, `wrapped-${args[0]!}.txt`);
        writeFileSync(out, '');
        const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
          execFile(
            process.execPath,
            ['--require', preload, path.join(DIST, 'cli.js'), ...args],
            { env: { WRAPPED: out, CAMEL_OCI_PLAN: '' } },
            (err, stdout) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout }),
          );
        });
        return { sources: readFileSync(out, 'utf8').split('\n'), code, stdout };
      };
      const bundle = createHash('sha256')
        .update(readFileSync(path.join(DIST, 'fetch.cjs'), 'utf8'))
        .digest('hex');
      const fetched = await wrapped(['fetch', '--root', path.join(tmp, 'root')]);
      assert.ok(fetched.sources.includes(bundle), 'fetch runs the bundle');
      assert.equal(fetched.code, 1, 'and fails for want of a plan, as it should');
      const versioned = await wrapped(['--version']);
      assert.ok(!versioned.sources.includes(bundle), 'other commands do not load it');
      const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      assert.deepEqual({ code: versioned.code, stdout: versioned.stdout.trim() }, { code: 0, stdout: version }, 'they run from dist/lib/');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the walk sees a forbidden module when one is reachable (the webhook entry reaches them)', () => {
    const graph = walk([path.join(LIB, 'commands', 'serve.js')], true);
    assert.throws(() => assertFetcherOnly(graph), /no resolver, injector, admission or webhook module/);
  });
});
