/**
 * The standard camel-oci test artifacts: built as OCI layouts and pushed with skopeo, so every
 * test reads bytes a third-party tool pushed. One helper so tests agree on what "the artifact" is.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { OciLayoutBuilder, makeTar, makeTarGz } from './oci-layout.js';
import type { BuiltImageManifest, BuiltIndex } from './oci-layout.js';
import { pushLayout } from './skopeo.js';
import type { StartedRegistry } from './registry.js';

export const DEPENDENCY = 'camel.apache.org.dependency';
export const KAMELETS = 'camel.apache.org.kamelets.repository';
export const TITLE = 'org.opencontainers.image.title';

/** File contents of the standard artifact, to compare unpacked files byte for byte. */
export interface ArtifactFiles {
  readonly fooJar: Buffer;
  readonly barJar: Buffer;
  readonly readme: Buffer;
  readonly kamelet: Buffer;
  readonly rawJar: Buffer;
  readonly plainTarJar: Buffer;
}

/** A pushed artifact with everything a test may compare against. */
export interface PushedArtifact {
  readonly repository: string;
  readonly tag: string;
  /** `127.0.0.1:PORT/repo:tag` */
  readonly reference: string;
  readonly manifest: BuiltImageManifest;
  readonly files: ArtifactFiles;
}

/** Fresh random file contents (random so that no two tests share blobs by accident). */
export function artifactFiles(): ArtifactFiles {
  return {
    fooJar: randomBytes(3000),
    barJar: randomBytes(2000),
    readme: Buffer.from('hello from a dependency layer\n'),
    kamelet: Buffer.from(
      `apiVersion: camel.apache.org/v1\nkind: Kamelet\nmetadata:\n  name: acme-source\n# ${randomBytes(8).toString('hex')}\n`,
    ),
    rawJar: randomBytes(1500),
    plainTarJar: randomBytes(1200),
  };
}

/**
 * The manifest of the standard artifact: a tar+gzip dependency layer (two jars at depth, a
 * README), a tar kamelets layer, a raw `.jar` layer as `oras push` makes it, a plain-tar
 * dependency layer, and one layer to be ignored.
 */
export function buildStandardManifest(layout: OciLayoutBuilder, files: ArtifactFiles): BuiltImageManifest {
  return layout.manifest({
    artifactType: 'application/vnd.camel.apache.org.dependencies.v1',
    layers: [
      {
        bytes: makeTarGz([
          { path: 'lib', type: 'dir' },
          { path: 'lib/foo-1.0.jar', content: files.fooJar },
          { path: 'lib/deep/bar-2.0.jar', content: files.barJar },
          { path: 'docs/README.txt', content: files.readme },
        ]),
        annotations: { [DEPENDENCY]: 'com.acme:foo:1.0' },
      },
      {
        bytes: makeTar([
          { path: 'kamelets/acme-source.kamelet.yaml', content: files.kamelet },
          { path: 'kamelets/notes.md', content: 'ignored' },
        ]),
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        annotations: { [KAMELETS]: 'acme-kamelets' },
      },
      { bytes: files.rawJar, mediaType: 'application/vnd.oci.image.layer.v1.tar', annotations: { [TITLE]: 'raw-lib-3.1.jar' } },
      {
        bytes: makeTar([{ path: 'plain-4.0.jar', content: files.plainTarJar }]),
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        annotations: { [DEPENDENCY]: 'com.acme:plain:4.0' },
      },
      { bytes: 'not for us', mediaType: 'text/plain', annotations: { [TITLE]: 'notes.txt' } },
    ],
  });
}

/** Writes a layout in a temp dir, lets `build` fill it, pushes `layoutTag` with skopeo, removes the layout. */
export async function pushBuilt<T>(
  registry: StartedRegistry,
  repoAndTag: string,
  build: (layout: OciLayoutBuilder) => T & { descriptor: BuiltImageManifest['descriptor'] },
  options: { all?: boolean } = {},
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-layout-'));
  try {
    const layout = new OciLayoutBuilder(dir);
    const built = build(layout);
    layout.tag('push', built);
    await pushLayout(dir, 'push', registry, repoAndTag, options.all ? { all: true } : {});
    return built;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pushes the standard artifact as `repository:tag`. */
export async function pushStandardArtifact(registry: StartedRegistry, repository = 'acme/deps', tag = '1.0'): Promise<PushedArtifact> {
  const files = artifactFiles();
  const manifest = await pushBuilt(registry, `${repository}:${tag}`, (layout) => buildStandardManifest(layout, files));
  return { repository, tag, reference: `${registry.host}/${repository}:${tag}`, manifest, files };
}

/** Pushes an index of two platform manifests (linux/amd64, linux/arm64), each with one raw jar. */
export async function pushTwoPlatformIndex(
  registry: StartedRegistry,
  repository = 'acme/multi',
  tag = '1.0',
): Promise<{ index: BuiltIndex; amd64: BuiltImageManifest; arm64: BuiltImageManifest }> {
  let amd64!: BuiltImageManifest;
  let arm64!: BuiltImageManifest;
  const index = await pushBuilt(
    registry,
    `${repository}:${tag}`,
    (layout) => {
      amd64 = layout.manifest({
        layers: [
          { bytes: randomBytes(700), annotations: { [DEPENDENCY]: 'amd', [TITLE]: 'amd.jar' }, mediaType: 'application/java-archive' },
        ],
      });
      arm64 = layout.manifest({
        layers: [
          { bytes: randomBytes(800), annotations: { [DEPENDENCY]: 'arm', [TITLE]: 'arm.jar' }, mediaType: 'application/java-archive' },
        ],
      });
      return layout.index({
        manifests: [
          { manifest: amd64, platform: { os: 'linux', architecture: 'amd64' } },
          { manifest: arm64, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      });
    },
    { all: true },
  );
  return { index, amd64, arm64 };
}
