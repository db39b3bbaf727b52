/**
 * Layer selection: which layers of a manifest camel-oci fetches, as what, and why the others are
 * left alone (docs/architecture.md, "Layout of the shared volume"). Pure: no I/O.
 */
import type { IgnoredLayer, LayerFormat, SelectedLayer } from './artifact.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import {
  ANNOTATION_DEPENDENCY,
  ANNOTATION_KAMELETS,
  ANNOTATION_TITLE,
  DOCKER_LAYER_TAR_GZIP,
  OCI_LAYER_TAR,
  OCI_LAYER_TAR_GZIP,
} from '../oci/media-types.js';
import { isSha256Digest } from '../oci/digest.js';
import { digestHex12, isPlainFileName, type PlanLayer } from './plan.js';

/** Docker's uncompressed layer type (rare on the wire, but defined by the v2 schema 2 spec). */
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
/** OCI and Docker "non-distributable" / foreign layers: their blobs may live outside the registry. */
const NON_DISTRIBUTABLE_PREFIXES = ['application/vnd.oci.image.layer.nondistributable.', 'application/vnd.docker.image.rootfs.foreign.'];
/** A tar with a compression suffix (`.tar+zstd`, `.tar.zstd`, ...); gzip is handled before this is consulted. */
const COMPRESSED_TAR_RE = /[./]tar[+.]([A-Za-z0-9-]+)$/;
/** File suffix of a Kamelet definition (what Camel K loads from `classpath:/kamelets`). */
const KAMELET_SUFFIX = '.kamelet.yaml';
/** Titles of jar files; the JVM's `dir/*` classpath wildcard also takes `.JAR`. */
const JAR_RE = /\.jar$/i;

/** What a layer's media type lets us do with its bytes. */
type Unpacking = { readonly format: LayerFormat } | { readonly unusable: string };

function unpacking(mediaType: string): Unpacking {
  if (NON_DISTRIBUTABLE_PREFIXES.some((p) => mediaType.startsWith(p))) {
    return {
      unusable: `non-distributable layer (${mediaType}): its blob may live outside the registry, and camel-oci fetches registry blobs only`,
    };
  }
  if (mediaType === OCI_LAYER_TAR || mediaType === DOCKER_LAYER_TAR) return { format: 'tar' };
  if (mediaType === OCI_LAYER_TAR_GZIP || mediaType === DOCKER_LAYER_TAR_GZIP) return { format: 'tar+gzip' };
  const compressed = COMPRESSED_TAR_RE.exec(mediaType);
  if (compressed !== null) {
    return {
      unusable: `tar compressed with ${compressed[1] ?? 'an unknown method'} (${mediaType}), which camel-oci cannot unpack; push it as ${OCI_LAYER_TAR} or ${OCI_LAYER_TAR_GZIP}`,
    };
  }
  return { format: 'raw' };
}

interface Annotated {
  readonly dependency: string | undefined;
  readonly kamelets: string | undefined;
  readonly title: string | undefined;
}

function annotationsOf(layer: Descriptor): Annotated {
  const a = layer.annotations ?? {};
  return { dependency: a[ANNOTATION_DEPENDENCY], kamelets: a[ANNOTATION_KAMELETS], title: a[ANNOTATION_TITLE] };
}

type Decision = { readonly selected: SelectedLayer } | { readonly reason: string };

function select(layer: Descriptor, kind: SelectedLayer['kind'], format: LayerFormat, name: string, fileName?: string): Decision {
  const title = layer.annotations?.[ANNOTATION_TITLE];
  return {
    selected: {
      digest: layer.digest,
      size: layer.size,
      mediaType: layer.mediaType,
      kind,
      format,
      name,
      ...(format === 'raw' && fileName !== undefined ? { fileName } : {}),
      // Image-volume mode reads the directory push put a tar layer's files in from its title.
      ...(format !== 'raw' && title !== undefined ? { title } : {}),
    },
  };
}

/** Where a raw dependency lands: its title when that is a plain file name, else `<hex12>.jar`. */
function rawDependencyFileName(layer: Descriptor, title: string | undefined): string {
  return title !== undefined && isPlainFileName(title) ? title : `${digestHex12(layer.digest)}.jar`;
}

/**
 * `oras push ref foo.jar` stores the plain file under the OCI tar media type. A jar (a zip) or a
 * YAML file is never a tar, so a title with such a suffix on that type means the blob is raw.
 */
function orasPlainFile(layer: Descriptor, title: string | undefined, suffix: (t: string) => boolean): boolean {
  return layer.mediaType === OCI_LAYER_TAR && title !== undefined && suffix(title);
}

function decide(layer: Descriptor): Decision {
  const { dependency, kamelets, title } = annotationsOf(layer);
  if (dependency !== undefined && kamelets !== undefined) {
    return { reason: `has both ${ANNOTATION_DEPENDENCY} and ${ANNOTATION_KAMELETS}; a layer must be one or the other` };
  }
  if (dependency === undefined && kamelets === undefined && (title === undefined || !JAR_RE.test(title))) {
    return {
      reason:
        title === undefined
          ? `no camel.apache.org annotation and no ${ANNOTATION_TITLE}`
          : `no camel.apache.org annotation and title ${JSON.stringify(title)} is not a .jar`,
    };
  }
  // The fetch plan pins and verifies sha256 only.
  if (!isSha256Digest(layer.digest)) return { reason: `digest ${layer.digest} is not sha256, the only algorithm camel-oci verifies` };
  const how = unpacking(layer.mediaType);
  if ('unusable' in how) return { reason: how.unusable };

  if (dependency !== undefined) {
    const format = orasPlainFile(layer, title, (t) => JAR_RE.test(t)) ? 'raw' : how.format;
    const name = dependency !== '' ? dependency : (title ?? digestHex12(layer.digest));
    return select(layer, 'dependency', format, name, rawDependencyFileName(layer, title));
  }

  if (kamelets !== undefined) {
    const name = kamelets !== '' ? kamelets : (title ?? digestHex12(layer.digest));
    const isKameletFile = (t: string): boolean => t.endsWith(KAMELET_SUFFIX);
    const format = orasPlainFile(layer, title, isKameletFile) ? 'raw' : how.format;
    if (format !== 'raw') return select(layer, 'kamelets', format, name);
    if (title === undefined || !isKameletFile(title)) {
      return {
        reason: `a raw ${ANNOTATION_KAMELETS} layer needs an ${ANNOTATION_TITLE} ending in ${KAMELET_SUFFIX} (got ${title === undefined ? 'none' : JSON.stringify(title)}); package several Kamelets as a tar`,
      };
    }
    if (!isPlainFileName(title)) {
      return {
        reason: `title ${JSON.stringify(title)} of a raw ${ANNOTATION_KAMELETS} layer is not a plain file name (no directories, no leading dot)`,
      };
    }
    return select(layer, 'kamelets', 'raw', name, title);
  }

  // No camel annotation, title ends in .jar: what `oras push ref foo.jar` makes, whatever the media type.
  const jarTitle = title as string;
  return select(layer, 'dependency', 'raw', jarTitle, rawDependencyFileName(layer, jarTitle));
}

/**
 * Applies the layer table of docs/architecture.md to a manifest's layers, keeping manifest order. The config blob
 * is never a layer. Every layer ends up in exactly one of the two lists; ignored ones say why.
 */
export function selectLayers(manifest: Pick<ImageManifest, 'layers'>): { layers: SelectedLayer[]; ignored: IgnoredLayer[] } {
  const layers: SelectedLayer[] = [];
  const ignored: IgnoredLayer[] = [];
  for (const layer of manifest.layers) {
    const d = decide(layer);
    if ('selected' in d) layers.push(d.selected);
    else ignored.push({ digest: layer.digest, mediaType: layer.mediaType, reason: d.reason });
  }
  return { layers, ignored };
}

/** What image-volume mode needs from a manifest beside its layers: its artifactType and config media type. */
export function manifestImageFields(manifest: Pick<ImageManifest, 'artifactType' | 'config'>): {
  artifactType?: string;
  configMediaType: string;
} {
  return {
    ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
    configMediaType: manifest.config.mediaType,
  };
}

/** How a layer is planned, for a message: kind, format, and a raw layer's file name. */
function described(layer: Pick<SelectedLayer, 'kind' | 'format' | 'fileName' | 'mediaType' | 'size'>): string {
  const name = layer.format === 'raw' && layer.fileName !== undefined ? ` named ${JSON.stringify(layer.fileName)}` : '';
  return `${layer.kind} ${layer.format}${name} (${layer.mediaType}, ${layer.size} bytes)`;
}

function sameAsRules(planned: PlanLayer, selected: SelectedLayer): boolean {
  return (
    planned.size === selected.size &&
    planned.mediaType === selected.mediaType &&
    planned.kind === selected.kind &&
    planned.format === selected.format &&
    (planned.format !== 'raw' || planned.fileName === selected.fileName)
  );
}

/**
 * Checks planned layers against the layout rules applied to the manifest they belong to: each must
 * be a layer the rules select, with the size, media type, kind, format and (raw) file name the rules
 * give it; its target follows from kind and digest, which parsePlan checks. Returns the first
 * discrepancy, described, or undefined. The fetcher runs it on the manifest it re-read by the pinned
 * digest, so a plan edited on the pod can neither fetch a layer the rules ignore nor unpack or name
 * a selected one otherwise (docs/architecture.md, "The fetcher's contract").
 */
export function planAgainstManifest(planned: readonly PlanLayer[], manifest: Pick<ImageManifest, 'layers'>): string | undefined {
  const { layers, ignored } = selectLayers(manifest);
  for (const layer of planned) {
    // One blob may be listed twice (as a dependency and as Kamelets): any selection of it may match.
    const candidates = layers.filter((l) => l.digest === layer.digest);
    if (candidates.length === 0) {
      const why = ignored.find((l) => l.digest === layer.digest);
      return why === undefined
        ? `planned layer ${layer.digest} is not in the manifest`
        : `planned layer ${layer.digest} is one the layout rules ignore: ${why.reason}`;
    }
    if (!candidates.some((c) => sameAsRules(layer, c))) {
      return `planned layer ${layer.digest} is planned as ${described(layer)}, but the manifest makes it ${described(candidates[0]!)}`;
    }
  }
  return undefined;
}
