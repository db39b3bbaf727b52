/**
 * Packs jars and Kamelet folders into an artifact that every camel-oci path reads, and that is
 * also a valid image in the camel-oci layout (README.md, "camel-oci push"): one tar+gzip layer per
 * dependency with its jars under `dependencies/<name>/`, one per Kamelet folder with its
 * `*.kamelet.yaml` under `kamelets/<name>/kamelets/`, an image config whose `rootfs.diff_ids` are
 * the uncompressed tars' digests, and a manifest. Pure: bytes in, bytes out (zlib is no I/O).
 *
 * Reproducible: the same inputs give the same bytes. The tars are fixed by tar.ts; gzip gets a
 * fixed level, zlib's zero mtime and no name, and a fixed OS byte; nothing reads the clock (a
 * creation time comes only from the caller, e.g. SOURCE_DATE_EPOCH).
 */
import { gzipSync } from 'node:zlib';
import YAML from 'yaml';
import { sha256Digest } from '../oci/digest.js';
import {
  ANNOTATION_CREATED,
  ANNOTATION_DEPENDENCY,
  ANNOTATION_KAMELETS,
  ANNOTATION_TITLE,
  CAMEL_OCI_ARTIFACT_TYPE,
  OCI_IMAGE_CONFIG,
  OCI_LAYER_TAR_GZIP,
  OCI_MANIFEST,
} from '../oci/media-types.js';
import { PushError } from './errors.js';
import { formatCoordinates, mavenCoordinates } from './jar.js';
import { writeTar } from './tar.js';
import type { PackEntry } from './tar.js';

/** Layers in one artifact, at most (the fetch plan takes 256 layers over all artifacts). */
export const MAX_LAYERS = 128;
/** Suffix of a Kamelet definition (what Camel K loads from `classpath:/kamelets`). */
export const KAMELET_SUFFIX = '.kamelet.yaml';
/** A layer's `<name>`: one plain path segment, as the tar paths and annotations carry it. */
const LAYER_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** gzip level: fixed, since another level gives other bytes. */
const GZIP_LEVEL = 6;
/** gzip header byte 9 (OS): 255 "unknown", as Go's compress/gzip writes, so no build's OS leaks in. */
const GZIP_OS_UNKNOWN = 0xff;

/** One file read from disk: its base name and bytes. */
export interface InputFile {
  readonly fileName: string;
  readonly data: Uint8Array;
}

/** A `--dependency`: one jar, or the jars of one directory. */
export interface DependencyInput {
  /** The flag's value, for messages. */
  readonly source: string;
  readonly kind: 'jar' | 'dir';
  /** The directory's base name, or the jar's without `.jar`. */
  readonly name: string;
  readonly jars: readonly InputFile[];
}

/** A `--kamelets` folder: its `*.kamelet.yaml` files. */
export interface KameletsInput {
  readonly source: string;
  /** The directory's base name. */
  readonly name: string;
  readonly files: readonly InputFile[];
}

/** Options of packArtifact. */
export interface PackOptions {
  /** Platform written into the image config (the kubelet matches it when mounting an image volume). */
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  /** RFC 3339 creation time for the config and the manifest annotation; omitted when undefined. */
  readonly created?: string;
}

/** A blob with its descriptor fields. */
export interface PackedBlob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What packArtifact returns: every blob (layers, then config) and the manifest. */
export interface PackedArtifact {
  readonly layers: readonly (PackedBlob & { readonly diffId: string })[];
  readonly config: PackedBlob;
  readonly manifest: { readonly mediaType: string; readonly digest: string; readonly bytes: Buffer };
}

/** The Unix time of SOURCE_DATE_EPOCH as RFC 3339, or undefined when unset; throws when malformed. */
export function createdFromSourceDateEpoch(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d{1,12}$/.test(value.trim())) {
    throw new PushError('CONFIG_INVALID', `SOURCE_DATE_EPOCH=${JSON.stringify(value)} is not a whole number of seconds since 1970`);
  }
  return new Date(Number(value.trim()) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** The `<name>` of a layer from a path's base name; throws INPUT_INVALID when it cannot be one. */
export function layerName(baseName: string, source: string): string {
  if (!LAYER_NAME.test(baseName)) {
    throw new PushError(
      'INPUT_INVALID',
      `${source}: ${JSON.stringify(baseName)} cannot name a layer (letters, digits, '.', '_', '+', '-'; up to 128; not starting with a dot); rename it`,
    );
  }
  return baseName;
}

/** gzip with the fixed level and header: the same tar always gives the same bytes. */
export function reproducibleGzip(tar: Uint8Array): Buffer {
  // zlib writes mtime 0 and no file name when none is given; the OS byte is the build's: fix it.
  const gz = gzipSync(tar, { level: GZIP_LEVEL });
  gz[9] = GZIP_OS_UNKNOWN;
  return gz;
}

/** Checks a Kamelet file parses as one YAML mapping of `kind: Kamelet`; throws INPUT_INVALID naming `where`. */
export function checkKamelet(data: Uint8Array, where: string): void {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  let doc: YAML.Document.Parsed;
  try {
    doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw new PushError('INPUT_INVALID', `${where}: not valid YAML (${(err as Error).message})`);
  }
  const problem = doc.errors[0];
  if (problem !== undefined) throw new PushError('INPUT_INVALID', `${where}: not valid YAML (${problem.message.split('\n')[0]})`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new PushError('INPUT_INVALID', `${where}: not valid YAML (${(err as Error).message})`);
  }
  const kind = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>).kind : undefined;
  if (kind !== 'Kamelet') {
    throw new PushError(
      'INPUT_INVALID',
      `${where}: not a Kamelet (a YAML mapping with kind: Kamelet; got ${kind === undefined ? 'no kind' : `kind: ${JSON.stringify(kind)}`})`,
    );
  }
}

function blob(mediaType: string, bytes: Buffer, annotations?: Record<string, string>): PackedBlob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes, ...(annotations ? { annotations } : {}) };
}

function dirEntries(...paths: string[]): PackEntry[] {
  return paths.map((path) => ({ type: 'dir', path }));
}

function dependencyLayer(dep: DependencyInput): PackedBlob & { diffId: string } {
  if (dep.jars.length === 0) throw new PushError('INPUT_INVALID', `--dependency ${dep.source}: no *.jar in it`);
  const base = `dependencies/${dep.name}`;
  const entries: PackEntry[] = [
    ...dirEntries('dependencies', base),
    ...dep.jars.map((jar): PackEntry => ({ type: 'file', path: `${base}/${jar.fileName}`, data: jar.data })),
  ];
  const only = dep.kind === 'jar' ? dep.jars[0] : undefined;
  const coordinates = only ? mavenCoordinates(only.data, only.fileName) : undefined;
  const value = coordinates ? formatCoordinates(coordinates) : (only?.fileName ?? dep.name);
  const tar = writeTar(entries);
  return {
    ...blob(OCI_LAYER_TAR_GZIP, reproducibleGzip(tar), {
      [ANNOTATION_DEPENDENCY]: value,
      [ANNOTATION_TITLE]: `dependencies-${dep.name}.tar.gz`,
    }),
    diffId: sha256Digest(tar),
  };
}

function kameletsLayer(repo: KameletsInput): PackedBlob & { diffId: string } {
  if (repo.files.length === 0) throw new PushError('INPUT_INVALID', `--kamelets ${repo.source}: no *${KAMELET_SUFFIX} in it`);
  const base = `kamelets/${repo.name}/kamelets`;
  for (const f of repo.files) checkKamelet(f.data, `${repo.source}/${f.fileName}`);
  const entries: PackEntry[] = [
    ...dirEntries('kamelets', `kamelets/${repo.name}`, base),
    ...repo.files.map((f): PackEntry => ({ type: 'file', path: `${base}/${f.fileName}`, data: f.data })),
  ];
  const tar = writeTar(entries);
  return {
    ...blob(OCI_LAYER_TAR_GZIP, reproducibleGzip(tar), {
      [ANNOTATION_KAMELETS]: repo.name,
      [ANNOTATION_TITLE]: `kamelets-${repo.name}.tar.gz`,
    }),
    diffId: sha256Digest(tar),
  };
}

function refuseDuplicates(names: readonly string[], flag: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      // In an image volume every layer lands in one tree: two layers under one name would merge.
      throw new PushError(
        'NAME_COLLISION',
        `two ${flag} inputs are both named ${JSON.stringify(name)}; their files would share ${flag === '--dependency' ? 'dependencies' : 'kamelets'}/${name}/ in the image; rename one`,
      );
    }
    seen.add(name);
  }
}

function descriptorJson(b: PackedBlob): Record<string, unknown> {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size, ...(b.annotations ? { annotations: b.annotations } : {}) };
}

/** Packs dependencies (first, in order) and Kamelet folders (then, in order) into one artifact. */
export function packArtifact(
  dependencies: readonly DependencyInput[],
  kamelets: readonly KameletsInput[],
  options: PackOptions,
): PackedArtifact {
  const count = dependencies.length + kamelets.length;
  if (count === 0) throw new PushError('CONFIG_INVALID', 'nothing to push: give at least one --dependency FILE|DIR or --kamelets DIR');
  if (count > MAX_LAYERS) throw new PushError('SIZE_EXCEEDED', `${count} layers asked for; at most ${MAX_LAYERS} per artifact`);
  refuseDuplicates(
    dependencies.map((d) => d.name),
    '--dependency',
  );
  refuseDuplicates(
    kamelets.map((k) => k.name),
    '--kamelets',
  );
  const layers = [...dependencies.map(dependencyLayer), ...kamelets.map(kameletsLayer)];

  const config = {
    ...(options.created !== undefined ? { created: options.created } : {}),
    architecture: options.architecture,
    os: options.os,
    ...(options.variant !== undefined ? { variant: options.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
  const configBlob = blob(OCI_IMAGE_CONFIG, Buffer.from(JSON.stringify(config), 'utf8'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: CAMEL_OCI_ARTIFACT_TYPE,
    config: descriptorJson(configBlob),
    layers: layers.map(descriptorJson),
    ...(options.created !== undefined ? { annotations: { [ANNOTATION_CREATED]: options.created } } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  return { layers, config: configBlob, manifest: { mediaType: OCI_MANIFEST, digest: sha256Digest(bytes), bytes } };
}
