/**
 * Writes OCI image layouts (image-spec `image-layout.md`) for tests: blobs, image manifests,
 * indexes and tagged `index.json` entries, returning every digest and the exact manifest bytes.
 * Also builds tar / tar+gzip layers in memory, including malformed or hostile entries that a
 * tar library would refuse to write (for unpack-safety tests).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { OCI_EMPTY, OCI_INDEX, OCI_LAYER_TAR_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js';

/** The empty JSON blob `{}` that OCI uses as a config for artifacts. */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
/** Its well-known digest (image-spec manifest.md, "Guidance for an Empty Descriptor"). */
export const EMPTY_CONFIG_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
/** Annotation that names a tag in a layout's index.json (image-layout.md). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** An OCI content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** An index entry's platform. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

/** Bytes stored in a layout, by digest. */
export interface StoredBlob {
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

/** A layer of a manifest to build. */
export interface LayerSpec {
  /** Content; written as a blob. Leave out to reference a blob by `digest` and `size` only. */
  readonly bytes?: Uint8Array | string;
  /** Default `application/vnd.oci.image.layer.v1.tar+gzip`. */
  readonly mediaType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Overrides the descriptor's digest (a lying descriptor, for negative tests). */
  readonly digest?: string;
  /** Overrides the descriptor's size (a lying descriptor, for negative tests). */
  readonly size?: number;
}

/** An image manifest to build. */
export interface ManifestSpec {
  readonly layers: readonly LayerSpec[];
  /** Default: the empty config `{}` with media type `application/vnd.oci.empty.v1+json`. */
  readonly config?: { readonly bytes: Uint8Array | string; readonly mediaType: string };
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly subject?: Descriptor;
  /** Turns the manifest object into its bytes (default compact JSON.stringify); lets tests use non-canonical bytes. */
  readonly serialize?: (manifest: Record<string, unknown>) => string;
}

/** A manifest or index written to the layout. */
export interface BuiltManifest {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  /** The exact bytes stored (and pushed with `--preserve-digests`). */
  readonly bytes: Buffer;
  /** The object those bytes encode. */
  readonly json: Record<string, unknown>;
  /** Descriptor to reference it (from an index or index.json). */
  readonly descriptor: Descriptor;
}

/** An image manifest written to the layout. */
export interface BuiltImageManifest extends BuiltManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** An index written to the layout. */
export interface BuiltIndex extends BuiltManifest {
  readonly manifests: readonly Descriptor[];
}

/** One manifest of an index to build. */
export interface IndexEntrySpec {
  readonly manifest: Pick<BuiltManifest, 'descriptor'>;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Written into the entry only when given (see OciLayoutBuilder.index). */
  readonly artifactType?: string;
}

/** An index to build. */
export interface IndexSpec {
  readonly manifests: readonly IndexEntrySpec[];
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly subject?: Descriptor;
  readonly serialize?: (index: Record<string, unknown>) => string;
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

function toBuffer(bytes: Uint8Array | string): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
}

function withOptional<T extends Record<string, unknown>>(base: T, optional: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) out[key] = value;
  return out as T;
}

/** A platform with its fields in image-spec's (Go struct) order. */
function goPlatform(p: Platform): Platform {
  return withOptional({ architecture: p.architecture, os: p.os } as Platform & Record<string, unknown>, {
    'os.version': p['os.version'],
    'os.features': p['os.features'],
    variant: p.variant,
  });
}

/**
 * Builds an OCI image layout in a directory (created if missing): `oci-layout`, `blobs/sha256/`
 * and `index.json`, which is rewritten by every tag() so the layout is always complete.
 */
export class OciLayoutBuilder {
  /** The layout directory (what `oci:DIR:TAG` names). */
  readonly dir: string;
  private readonly refs: Descriptor[] = [];

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    this.writeIndexJson();
  }

  /** Stores bytes under `blobs/sha256/<hex>` and returns their digest and size. */
  blob(bytes: Uint8Array | string): StoredBlob {
    const buffer = toBuffer(bytes);
    const digest = sha256Digest(buffer);
    writeFileSync(path.join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), buffer);
    return { digest, size: buffer.length, bytes: buffer };
  }

  /** Writes an image manifest, its config and its layers; returns their descriptors and the exact bytes. */
  manifest(spec: ManifestSpec): BuiltImageManifest {
    const configBlob = this.blob(spec.config?.bytes ?? EMPTY_CONFIG_BYTES);
    const config: Descriptor = { mediaType: spec.config?.mediaType ?? OCI_EMPTY, digest: configBlob.digest, size: configBlob.size };
    const layers = spec.layers.map((layer): Descriptor => {
      const stored = layer.bytes !== undefined ? this.blob(layer.bytes) : undefined;
      const digest = layer.digest ?? stored?.digest;
      const size = layer.size ?? stored?.size;
      if (digest === undefined || size === undefined) throw new Error('OciLayoutBuilder: a layer needs bytes, or digest and size');
      return withOptional({ mediaType: layer.mediaType ?? OCI_LAYER_TAR_GZIP, digest, size }, { annotations: layer.annotations });
    });
    const json = withOptional({ schemaVersion: 2, mediaType: OCI_MANIFEST } as Record<string, unknown>, {
      artifactType: spec.artifactType,
      config,
      layers,
      subject: spec.subject,
      annotations: spec.annotations,
    });
    const built = this.store(OCI_MANIFEST, json, spec.serialize, spec.artifactType);
    return { ...built, config, layers };
  }

  /**
   * Writes an index of manifests (with platforms); returns its descriptor and exact bytes.
   * Fields are written in the order Go's encoding/json gives them (image-spec's structs): skopeo
   * `copy --all --preserve-digests` re-serializes an index and refuses to push it when the bytes
   * differ. For the same reason entries carry no `artifactType` unless the spec asks for one.
   */
  index(spec: IndexSpec): BuiltIndex {
    const manifests = spec.manifests.map((entry): Descriptor => {
      const d = entry.manifest.descriptor;
      return withOptional({ mediaType: d.mediaType, digest: d.digest, size: d.size } as Descriptor & Record<string, unknown>, {
        annotations: entry.annotations,
        platform: entry.platform === undefined ? undefined : goPlatform(entry.platform),
        artifactType: entry.artifactType,
      });
    });
    const json = withOptional({ schemaVersion: 2, mediaType: OCI_INDEX } as Record<string, unknown>, {
      artifactType: spec.artifactType,
      manifests,
      subject: spec.subject,
      annotations: spec.annotations,
    });
    const built = this.store(OCI_INDEX, json, spec.serialize, spec.artifactType);
    return { ...built, manifests };
  }

  /** Names `built` as `ref` in index.json (annotation org.opencontainers.image.ref.name), replacing an earlier entry of that name. */
  tag(ref: string, built: Pick<BuiltManifest, 'descriptor'>): void {
    const existing = this.refs.findIndex((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
    const entry: Descriptor = { ...built.descriptor, annotations: { ...built.descriptor.annotations, [REF_NAME_ANNOTATION]: ref } };
    if (existing >= 0) this.refs[existing] = entry;
    else this.refs.push(entry);
    this.writeIndexJson();
  }

  /** Path of a blob's file in this layout. */
  blobFile(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  }

  private store(
    mediaType: string,
    json: Record<string, unknown>,
    serialize: ((value: Record<string, unknown>) => string) | undefined,
    artifactType: string | undefined,
  ): BuiltManifest {
    const bytes = Buffer.from((serialize ?? JSON.stringify)(json), 'utf8');
    const { digest, size } = this.blob(bytes);
    const descriptor = withOptional({ mediaType, digest, size } as Descriptor & Record<string, unknown>, { artifactType });
    return { mediaType, digest, size, bytes, json, descriptor };
  }

  private writeIndexJson(): void {
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: this.refs };
    writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify(index));
  }
}

/** Kind of a tar entry. */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

/** One tar entry. Paths are written as given (absolute paths and `..` included) so unpack tests can be hostile. */
export interface TarEntry {
  readonly path: string;
  readonly type?: TarEntryType;
  readonly content?: Uint8Array | string;
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  readonly mode?: number;
  /** Target of a symlink or hardlink. */
  readonly linkname?: string;
  /** Seconds since the epoch (default 0, so archives are reproducible). */
  readonly mtime?: number;
  /** Claimed size, to write a header that lies about its data (default: the content's length). */
  readonly size?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};
const BLOCK = 512;

function octal(value: number, width: number): string {
  // width-1 octal digits and a NUL, as POSIX ustar numeric fields are written.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(
  name: string,
  fields: { mode: number; size: number; mtime: number; typeflag: string; linkname: string; prefix: string },
): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(fields.mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(fields.size, 12), 124, 'ascii');
  h.write(octal(fields.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while summing
  h.write(fields.typeflag, 156, 'ascii');
  h.write(fields.linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'binary');
  h.write(fields.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function pad(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest, 0)];
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n" where len counts the whole record, its own digits included.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Splits a path into ustar prefix and name, or undefined when it does not fit. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return { prefix, name: rest };
  }
  return undefined;
}

/** Builds an uncompressed tar archive (ustar, with PAX headers for long names) from entries. */
export function makeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const data = type === 'file' ? toBuffer(entry.content ?? '') : Buffer.alloc(0);
    const entryPath = type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
    const linkname = entry.linkname ?? '';
    const split = splitUstar(entryPath);
    const pax: string[] = [];
    if (split === undefined) pax.push(paxRecord('path', entryPath));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', linkname));
    if (pax.length > 0) {
      const paxData = Buffer.from(pax.join(''), 'utf8');
      parts.push(header('PaxHeader', { mode: 0o644, size: paxData.length, mtime: 0, typeflag: 'x', linkname: '', prefix: '' }));
      parts.push(...pad(paxData));
    }
    const names = split ?? { prefix: '', name: entryPath.slice(0, 100) };
    parts.push(
      header(names.name, {
        mode: entry.mode ?? (type === 'dir' ? 0o755 : 0o644),
        size: entry.size ?? data.length,
        mtime: entry.mtime ?? 0,
        typeflag: TYPEFLAG[type],
        linkname: linkname.slice(0, 100),
        prefix: names.prefix,
      }),
    );
    if (data.length > 0) parts.push(...pad(data));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0)); // end-of-archive marker: two zero blocks
  return Buffer.concat(parts);
}

/** Builds a gzip-compressed tar archive from entries (reproducible: gzip's mtime field is 0). */
export function makeTarGz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(makeTar(entries));
}
