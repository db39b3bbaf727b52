/** Reading push inputs from disk: what is taken, what is left out, what is refused. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCamelOciError } from '../../src/base/errors.js';
import { DEFAULT_INPUT_LIMITS, readInputs } from '../../src/push/inputs.js';
import { makeJar } from '../helpers/zip.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-push-inputs-'));
  dirs.push(d);
  return d;
}

const JAR = makeJar({ groupId: 'g', artifactId: 'a', version: '1' });
const KAMELET = 'apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: k\n';

describe('readInputs', () => {
  it('takes a jar, the top-level jars of a directory (sorted), and the Kamelet files of a folder, leaving the rest out', async () => {
    const d = await tempDir();
    await mkdir(path.join(d, 'lib', 'nested'), { recursive: true });
    await writeFile(path.join(d, 'lib', 'b.jar'), JAR);
    await writeFile(path.join(d, 'lib', 'a.JAR'), JAR);
    await writeFile(path.join(d, 'lib', 'notes.txt'), 'left out');
    await writeFile(path.join(d, 'lib', 'nested', 'deep.jar'), JAR);
    await symlink('b.jar', path.join(d, 'lib', 'c.jar'));
    await writeFile(path.join(d, 'one-1.0.jar'), JAR);
    await mkdir(path.join(d, 'kams'));
    await writeFile(path.join(d, 'kams', 'k.kamelet.yaml'), KAMELET);
    await writeFile(path.join(d, 'kams', 'README.md'), 'left out');
    const got = await readInputs([path.join(d, 'lib'), path.join(d, 'one-1.0.jar')], [path.join(d, 'kams')]);
    assert.deepEqual(
      got.dependencies.map((x) => [x.kind, x.name, x.jars.map((j) => j.fileName)]),
      [
        ['dir', 'lib', ['a.JAR', 'b.jar', 'c.jar']],
        ['jar', 'one-1.0', ['one-1.0.jar']],
      ],
    );
    assert.deepEqual(got.dependencies[0]!.jars[2]!.data, JAR, 'a link inside the folder is read through');
    assert.deepEqual(
      got.kamelets.map((k) => [k.name, k.files.map((f) => f.fileName)]),
      [['kams', ['k.kamelet.yaml']]],
    );
  });

  it('refuses a symbolic link that leads out of its folder', async () => {
    const d = await tempDir();
    await mkdir(path.join(d, 'lib'));
    await writeFile(path.join(d, 'outside.jar'), JAR);
    await symlink(path.join(d, 'outside.jar'), path.join(d, 'lib', 'escape.jar'));
    await assert.rejects(
      readInputs([path.join(d, 'lib')], []),
      (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('escape.jar') && e.message.includes('out of its folder'),
    );
    await mkdir(path.join(d, 'kams'));
    await writeFile(path.join(d, 'secret.kamelet.yaml'), KAMELET);
    await symlink('../secret.kamelet.yaml', path.join(d, 'kams', 'x.kamelet.yaml'));
    await assert.rejects(
      readInputs([], [path.join(d, 'kams')]),
      (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('x.kamelet.yaml'),
    );
  });

  it('refuses a fifo without waiting for a writer', async () => {
    const d = await tempDir();
    await mkdir(path.join(d, 'lib'));
    execFileSync('mkfifo', [path.join(d, 'lib', 'pipe.jar')]);
    await assert.rejects(
      readInputs([path.join(d, 'lib')], []),
      (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes('pipe.jar'),
    );
  });

  const badDependencies: Array<[string, (d: string) => Promise<string>, string]> = [
    ['a missing path', async (d) => path.join(d, 'nope.jar'), 'INPUT_INVALID'],
    [
      'a file that is not a .jar',
      async (d) => {
        await writeFile(path.join(d, 'x.txt'), 'x');
        return path.join(d, 'x.txt');
      },
      'INPUT_INVALID',
    ],
    [
      'a .jar that is not a zip',
      async (d) => {
        await writeFile(path.join(d, 'fake.jar'), 'not a zip');
        return path.join(d, 'fake.jar');
      },
      'INPUT_INVALID',
    ],
    [
      'a jar whose name cannot name a layer',
      async (d) => {
        await writeFile(path.join(d, '.hidden.jar'), JAR);
        return path.join(d, '.hidden.jar');
      },
      'INPUT_INVALID',
    ],
  ];
  for (const [name, make, code] of badDependencies) {
    it(`refuses ${name} with ${code}, naming it`, async () => {
      const d = await tempDir();
      const p = await make(d);
      await assert.rejects(readInputs([p], []), (e) => isCamelOciError(e, code as 'INPUT_INVALID') && e.message.includes(p));
    });
  }

  it('refuses --kamelets that is not a directory', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'k.kamelet.yaml'), KAMELET);
    await assert.rejects(readInputs([], [path.join(d, 'k.kamelet.yaml')]), (e) => isCamelOciError(e, 'INPUT_INVALID'));
  });

  it('stops at the limits on one file, one Kamelet, all bytes and the file count', async () => {
    const d = await tempDir();
    await mkdir(path.join(d, 'lib'));
    await mkdir(path.join(d, 'kams'));
    for (const n of ['a', 'b', 'c']) await writeFile(path.join(d, 'lib', `${n}.jar`), JAR);
    await writeFile(path.join(d, 'kams', 'k.kamelet.yaml'), KAMELET);
    const lib = [path.join(d, 'lib')];
    await assert.rejects(readInputs(lib, [], { ...DEFAULT_INPUT_LIMITS, maxFileBytes: JAR.length - 1 }), (e) =>
      isCamelOciError(e, 'SIZE_EXCEEDED'),
    );
    await assert.rejects(readInputs(lib, [], { ...DEFAULT_INPUT_LIMITS, maxTotalBytes: 2 * JAR.length }), (e) =>
      isCamelOciError(e, 'SIZE_EXCEEDED'),
    );
    await assert.rejects(readInputs(lib, [], { ...DEFAULT_INPUT_LIMITS, maxFiles: 2 }), (e) => isCamelOciError(e, 'SIZE_EXCEEDED'));
    await assert.rejects(readInputs([], [path.join(d, 'kams')], { ...DEFAULT_INPUT_LIMITS, maxKameletBytes: 10 }), (e) =>
      isCamelOciError(e, 'SIZE_EXCEEDED'),
    );
    const ok = await readInputs(lib, [], { ...DEFAULT_INPUT_LIMITS, maxFiles: 3, maxTotalBytes: 3 * JAR.length });
    assert.equal(ok.dependencies[0]!.jars.length, 3);
  });
});
