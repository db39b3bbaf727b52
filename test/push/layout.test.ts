/** Writing OCI image layouts (skopeo reading them is tested in test/commands/push.test.ts). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCamelOciError } from '../../src/base/errors.js';
import { writeOciLayout } from '../../src/push/layout.js';
import { packArtifact } from '../../src/push/pack.js';
import { makeJar } from '../helpers/zip.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-layout-'));
  dirs.push(d);
  return d;
}

function artifact(seed: string): ReturnType<typeof packArtifact> {
  const jar = makeJar(undefined, [{ name: 'S', data: seed }]);
  return packArtifact([{ source: 'x', kind: 'jar', name: 'x', jars: [{ fileName: 'x.jar', data: jar }] }], [], {
    os: 'linux',
    architecture: 'amd64',
  });
}

type Index = { mediaType: string; manifests: Array<{ digest: string; size: number; annotations: Record<string, string> }> };

describe('writeOciLayout', () => {
  it('writes oci-layout, every blob under its digest, and an index naming the manifest by tag', async () => {
    const dir = path.join(await tempDir(), 'new');
    const art = artifact('a');
    await writeOciLayout(dir, art, '1.0');
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const names = await readdir(path.join(dir, 'blobs', 'sha256'));
    assert.deepEqual(names.sort(), [...art.layers, art.config, art.manifest].map((b) => b.digest.slice(7)).sort());
    for (const name of names) {
      const bytes = await readFile(path.join(dir, 'blobs', 'sha256', name));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), name);
    }
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as Index;
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(index.manifests, [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: art.manifest.digest,
        size: art.manifest.bytes.length,
        annotations: { 'org.opencontainers.image.ref.name': '1.0' },
      },
    ]);
  });

  it('keeps other tags and replaces the same tag', async () => {
    const dir = await tempDir();
    await writeOciLayout(dir, artifact('a'), '1.0');
    await writeOciLayout(dir, artifact('b'), '2.0');
    const c = artifact('c');
    await writeOciLayout(dir, c, '1.0');
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as Index;
    assert.deepEqual(
      index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']),
      ['2.0', '1.0'],
    );
    assert.equal(index.manifests[1]!.digest, c.manifest.digest);
  });

  it('refuses a directory whose index.json is not an OCI index', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'index.json'), '{"not": "an index"}');
    await assert.rejects(writeOciLayout(dir, artifact('a'), '1.0'), (e) => isCamelOciError(e, 'INPUT_INVALID') && e.message.includes(dir));
  });

  it('reports a place it cannot write as IO_ERROR', async () => {
    const file = path.join(await tempDir(), 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(writeOciLayout(file, artifact('a'), '1.0'), (e) => isCamelOciError(e, 'IO_ERROR') && e.message.includes(file));
  });
});
