/**
 * Image-volume mode (README.md, "Image volumes"): an artifact that is a valid image in the camel-oci
 * layout (what `camel-oci push` makes) is mounted by the kubelet as an `image` volume instead of
 * being fetched by the init container. Here: whether an artifact qualifies (and why not), and the
 * volume, mount and classpath entries it gets. Pure.
 */
import { CAMEL_OCI_ARTIFACT_TYPE, OCI_IMAGE_CONFIG, OCI_MANIFEST } from '../oci/media-types.js';
import { pinnedReference, type ResolvedArtifact, type SelectedLayer } from '../plan/artifact.js';
import { digestHex12, imageMountDir, VOLUME_MOUNT_PATH } from '../plan/plan.js';
import { IMAGE_VOLUME_PREFIX } from './annotations.js';
import type { JsonObject } from './pod.js';

/**
 * A layer's `<name>` as push writes it: one plain path segment (push refuses any other). Anything
 * else could make a classpath entry climb out of the volume, name a directory push never makes, or
 * (with `:`, the classpath separator, or `*`) add entries of its own.
 */
const LAYER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** push's layer titles: `dependencies-<name>.tar.gz`, `kamelets-<name>.tar.gz`; `<name>` is the directory in the image. */
const TITLE = /^(dependencies|kamelets)-(.+)\.tar\.gz$/;

/** How one artifact reaches the pod. */
export type ArtifactMode =
  { readonly mode: 'image-volume'; readonly volume: ImageVolume } | { readonly mode: 'fetch'; readonly fallback?: string };

/** An artifact mounted as an image volume. */
export interface ImageVolume {
  /** First 12 hex characters of the manifest digest. */
  readonly hex12: string;
  /** `camel-oci-image-<hex12>`. */
  readonly name: string;
  /** `domain/repository@sha256:…`: the pinned upstream reference the kubelet pulls. */
  readonly reference: string;
  /** Where the integration container sees it: `/camel-oci/images/<hex12>`. */
  readonly mountPath: string;
  /** Classpath entries into it, in layer order. */
  readonly classpath: readonly string[];
}

/** The directory a layer's files sit in inside the image, relative to its root, or why it cannot be told. */
function layerDirectory(layer: SelectedLayer): { dir: string } | { reason: string } {
  const short = layer.digest.slice(0, 19);
  if (layer.format === 'raw') return { reason: `layer ${short} is a raw blob, not a tar (an image volume holds tar layers only)` };
  const m = layer.title === undefined ? null : TITLE.exec(layer.title);
  const wanted = layer.kind === 'dependency' ? 'dependencies' : 'kamelets';
  if (m === null || m[1] !== wanted) {
    return {
      reason: `layer ${short} is not titled ${wanted}-<name>.tar.gz as camel-oci push titles it, so where its files sit in the image is unknown`,
    };
  }
  const name = m[2] as string;
  if (!LAYER_NAME.test(name)) return { reason: `layer ${short} names ${JSON.stringify(name)}, which is not a plain path segment` };
  // dependencies/<name>/*.jar (push writes jars flat there, so `/*` takes them all, as the fetcher's flat copy does);
  // kamelets/<name>/kamelets/*.kamelet.yaml, found by `classpath:/kamelets` when kamelets/<name> is on the classpath.
  return { dir: `${wanted}/${name}` };
}

/**
 * Whether `a` can be mounted as an image volume: its manifest is an OCI image manifest with camel-oci
 * push's artifactType and an OCI image config (so a runtime can unpack it), every layer was selected
 * (none ignored, none raw), and each layer's title names a plain directory of the camel-oci layout.
 * Anything else is fetched, and the reason is recorded.
 */
export function artifactMode(a: ResolvedArtifact): ArtifactMode {
  if (a.artifactType !== CAMEL_OCI_ARTIFACT_TYPE) {
    return {
      mode: 'fetch',
      fallback:
        a.artifactType === undefined
          ? 'the manifest has no artifactType (not made by camel-oci push)'
          : `artifactType ${JSON.stringify(a.artifactType)} is not ${CAMEL_OCI_ARTIFACT_TYPE}`,
    };
  }
  if (a.mediaType !== OCI_MANIFEST) return { mode: 'fetch', fallback: `manifest media type ${a.mediaType} is not ${OCI_MANIFEST}` };
  if (a.configMediaType !== OCI_IMAGE_CONFIG) {
    return { mode: 'fetch', fallback: `config media type ${String(a.configMediaType)} is not an OCI image config (${OCI_IMAGE_CONFIG})` };
  }
  const ignored = a.ignored[0];
  if (ignored !== undefined) {
    return { mode: 'fetch', fallback: `layer ${ignored.digest.slice(0, 19)} is ignored, and an image volume would mount it anyway` };
  }
  if (a.layers.length === 0) return { mode: 'fetch', fallback: 'no layer' };
  const hex12 = digestHex12(a.digest);
  const mountPath = `${VOLUME_MOUNT_PATH}/${imageMountDir(hex12)}`;
  const classpath: string[] = [];
  const dirs = new Set<string>();
  for (const layer of a.layers) {
    const where = layerDirectory(layer);
    if ('reason' in where) return { mode: 'fetch', fallback: where.reason };
    // Two layers in one directory would merge in the image; push refuses that, so it is not push's layout.
    if (dirs.has(where.dir)) return { mode: 'fetch', fallback: `two layers share ${where.dir}/ in the image` };
    dirs.add(where.dir);
    classpath.push(layer.kind === 'dependency' ? `${mountPath}/${where.dir}/*` : `${mountPath}/${where.dir}`);
  }
  return {
    mode: 'image-volume',
    volume: { hex12, name: `${IMAGE_VOLUME_PREFIX}${hex12}`, reference: pinnedReference(a), mountPath, classpath },
  };
}

/** The pod volume of an image volume: pinned by digest, pulled once per node. */
export function imageVolumeSource(v: ImageVolume): JsonObject {
  return { name: v.name, image: { reference: v.reference, pullPolicy: 'IfNotPresent' } };
}

/** The integration container's read-only mount of an image volume. */
export function imageVolumeMount(v: ImageVolume): JsonObject {
  return { name: v.name, mountPath: v.mountPath, readOnly: true };
}
