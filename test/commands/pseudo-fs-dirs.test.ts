/**
 * Directories the commands create (`certs --out`, `serve --certs-dir`, `fetch --root`) under a
 * pseudo filesystem: a clear error naming the path, at once, instead of a recursive mkdir that
 * never returns (and, for fetch, outlives its own --timeout).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { oneJarPlan } from '../helpers/plans.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Well below the 10 s the runs are allowed: a spinning mkdir would be killed at that bound and fail the test. */
const QUICK_MS = 5_000;

describe('directories under a pseudo filesystem', () => {
  it('certs --out under /proc/self: CONFIG_INVALID naming the path, quickly', async () => {
    const started = Date.now();
    const res = await runCli(['certs', '--out', '/proc/self/camel-oci/certs'], { timeoutMs: 10_000 });
    assert.ok(Date.now() - started < QUICK_MS);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /CONFIG_INVALID: certificate directory \/proc\/self\/camel-oci\/certs: cannot create \/proc\/self\/camel-oci/);
  });

  it('serve --certs-dir under /proc/self: CONFIG_INVALID naming the path, quickly, without listening', async () => {
    const started = Date.now();
    const res = await runCli(
      ['serve', '--certs-dir', '/proc/self/camel-oci/certs', '--address', '127.0.0.1', '--port', String(await freePort())],
      { timeoutMs: 10_000 },
    );
    assert.ok(Date.now() - started < QUICK_MS);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /CONFIG_INVALID: certificate directory \/proc\/self\/camel-oci\/certs/);
  });

  it('fetch --root under /proc/self: a failed run naming --root, quickly', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-pseudo-'));
    dirs.push(base);
    const plan = oneJarPlan('registry.example.test');
    await writeFile(path.join(base, 'plan.json'), JSON.stringify(plan));
    const started = Date.now();
    const res = await runCli(
      [
        'fetch',
        '--root',
        '/proc/self/camel-oci/root',
        '--plan',
        path.join(base, 'plan.json'),
        '--timeout',
        '3s',
        '--pull-secrets-dir',
        path.join(base, 'none'),
        '--termination-log',
        path.join(base, 'none-log'),
      ],
      { timeoutMs: 10_000 },
    );
    assert.ok(Date.now() - started < QUICK_MS);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /IO_ERROR: --root \/proc\/self\/camel-oci\/root: cannot create \/proc\/self\/camel-oci/);
  });
});
