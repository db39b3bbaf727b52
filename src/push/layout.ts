/**
 * Writes a packed artifact as an OCI image layout (image-spec image-layout.md): `oci-layout`,
 * `blobs/sha256/<hex>` and `index.json`, the manifest named by `org.opencontainers.image.ref.name`
 * so `skopeo copy oci:DIR:TAG ...` and `oras cp --from-oci-layout DIR:TAG ...` find it.
 * An existing layout keeps its other entries; an entry with the same name is replaced.
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OCI_INDEX } from '../oci/media-types.js';
import { PushError } from './errors.js';
import type { PackedArtifact } from './pack.js';

/** index.json of an existing layout larger than this is refused (it lists descriptors only). */
export const MAX_INDEX_BYTES = 4 * 1024 * 1024;
/** The annotation naming a manifest in a layout's index. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.camel-oci-${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

async function existingManifests(indexFile: string, dir: string): Promise<unknown[]> {
  let text: Buffer;
  try {
    const info = await stat(indexFile);
    if (info.size > MAX_INDEX_BYTES)
      throw new PushError('SIZE_EXCEEDED', `--oci-layout ${dir}: index.json is over ${MAX_INDEX_BYTES} bytes`);
    text = await readFile(indexFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const index = JSON.parse(text.toString('utf8')) as { manifests?: unknown };
    if (Array.isArray(index.manifests)) return index.manifests;
  } catch {
    // fall through
  }
  throw new PushError('INPUT_INVALID', `--oci-layout ${dir}: index.json is not an OCI index; give an empty or new directory`);
}

/** Writes `artifact` into the layout at `dir` under `refName` (created if missing). Returns the index path. */
export async function writeOciLayout(dir: string, artifact: PackedArtifact, refName: string): Promise<string> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  try {
    await mkdir(blobs, { recursive: true });
    for (const b of [...artifact.layers, artifact.config, artifact.manifest]) {
      await writeAtomically(path.join(blobs, b.digest.slice('sha256:'.length)), b.bytes);
    }
    await writeAtomically(path.join(dir, 'oci-layout'), Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    const indexFile = path.join(dir, 'index.json');
    const others = (await existingManifests(indexFile, dir)).filter(
      (m) => (m as { annotations?: Record<string, unknown> } | null)?.annotations?.[ANNOTATION_REF_NAME] !== refName,
    );
    const entry = {
      mediaType: artifact.manifest.mediaType,
      digest: artifact.manifest.digest,
      size: artifact.manifest.bytes.length,
      annotations: { [ANNOTATION_REF_NAME]: refName },
    };
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...others, entry] };
    await writeAtomically(indexFile, Buffer.from(`${JSON.stringify(index, null, 2)}\n`));
    return indexFile;
  } catch (err) {
    if (err instanceof PushError) throw err;
    throw new PushError(
      'IO_ERROR',
      `--oci-layout ${dir}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
}
