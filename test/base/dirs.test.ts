/** makeDirectories: `mkdir -p` that ends, and says which path is wrong. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeDirectories } from '../../src/base/dirs.js';
import { isCamelOciError } from '../../src/base/errors.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-dirs-'));
  dirs.push(d);
  return d;
}

/** Settles within `ms` or fails the test (the old recursive mkdir never settled under /proc). */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

describe('makeDirectories', () => {
  it('creates missing parents, and accepts a directory that exists', async () => {
    const base = await tempDir();
    const deep = path.join(base, 'a', 'b', 'c');
    await makeDirectories(deep, { what: '--root' });
    assert.ok((await stat(deep)).isDirectory());
    await makeDirectories(deep, { what: '--root' });
  });

  const refusals: ReadonlyArray<{ name: string; at: (base: string) => Promise<string>; message: RegExp }> = [
    {
      name: 'a path under /proc/self (a pseudo filesystem)',
      at: async () => '/proc/self/camel-oci/x',
      message: /\/proc\/self\/camel-oci.*pseudo filesystem/,
    },
    { name: 'a path under /proc', at: async () => '/proc/camel-oci-test', message: /\/proc\/camel-oci-test/ },
    {
      name: 'a dangling symbolic link',
      at: async (base) => {
        const link = path.join(base, 'dangling');
        await symlink(path.join(base, 'missing'), link);
        return link;
      },
      message: /dangling: cannot create it: it is a symbolic link to a missing target/,
    },
    {
      name: 'a path below a dangling symbolic link',
      at: async (base) => {
        const link = path.join(base, 'dangling2');
        await symlink(path.join(base, 'missing2'), link);
        return path.join(link, 'sub');
      },
      message: /cannot create .*dangling2: it is a symbolic link to a missing target/,
    },
    {
      name: 'a path whose parent is a file',
      at: async (base) => {
        await writeFile(path.join(base, 'file'), 'x');
        return path.join(base, 'file', 'sub');
      },
      message: /file: it exists and is not a directory/,
    },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name} quickly with the code asked for, naming the path`, async () => {
      const target = await r.at(await tempDir());
      await within(
        2_000,
        assert.rejects(makeDirectories(target, { what: '--out', code: 'CONFIG_INVALID' }), (e: unknown) => {
          assert.ok(isCamelOciError(e, 'CONFIG_INVALID'), String(e));
          assert.match((e as Error).message, r.message);
          assert.ok((e as Error).message.startsWith(`--out ${target}`), (e as Error).message);
          return true;
        }),
      );
    });
  }

  it('stops at an aborted signal with its reason', async () => {
    const reason = new Error('deadline');
    await assert.rejects(
      makeDirectories(path.join(await tempDir(), 'x'), { what: '--root', signal: AbortSignal.abort(reason) }),
      (e: unknown) => e === reason,
    );
  });
});
