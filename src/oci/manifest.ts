/**
 * Image manifests and indexes (OCI image-spec manifest.md, image-index.md, descriptor.md; Docker
 * image manifest v2 schema 2 and manifest list): strict validation of registry bytes into typed
 * values, and platform selection from an index. Pure: no I/O.
 */
import { OciError } from '../base/errors.js';
import { isRecord } from '../base/json.js';
import { descriptorDigestProblem, isSha256Digest } from './digest.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, isIndexMediaType, isManifestMediaType } from './media-types.js';

/** Where an image runs (image-index.md `platform`); JSON field names as on the wire. */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly variant?: string;
  /** Docker manifest lists only. */
  readonly features?: readonly string[];
}

/** A content descriptor (descriptor.md). `platform` appears on index entries only. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** Embedded content, base64 (checked to decode to `size` bytes). */
  readonly data?: string;
  readonly artifactType?: string;
  readonly platform?: Platform;
}

/** An image manifest (OCI or Docker v2 schema 2). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What parseManifest returns: one of the two document kinds, with its effective media type. */
export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly manifest: ImageManifest; readonly mediaType: string }
  | { readonly kind: 'index'; readonly index: ImageIndex; readonly mediaType: string };

/** Largest manifest we read (docs/architecture.md, "Security promises"; distribution itself refuses manifests over 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Most layers per manifest: far above any real image (Docker caps at 127), low enough to bound the work per admission. */
export const MAX_MANIFEST_LAYERS = 1000;
/** Most entries per index, for the same reason. */
export const MAX_INDEX_MANIFESTS = 1000;
/** Platform selected when the caller names none. */
export const DEFAULT_PLATFORM = 'linux/amd64';
/** Longest platform text we parse (`os/arch/variant` is a few dozen characters). */
const MAX_PLATFORM_LENGTH = 128;

/** RFC 6838 media type as the OCI schema restricts it (defs-descriptor.json). */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
/** Standard base64 with padding (Go's encoding/json decodes `data` into []byte this way). */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DOCKER_SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);
/** Docker buildx marks attestation manifests in an index with this annotation (platform unknown/unknown). */
const DOCKER_REFERENCE_TYPE = 'vnd.docker.reference.type';

type Json = Record<string, unknown>;

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Builds a MANIFEST_INVALID error for one document. */
class Invalid {
  constructor(private readonly what: string) {}

  error(message: string, reason = 'invalid'): OciError {
    return new OciError(
      'MANIFEST_INVALID',
      `invalid ${this.what}: ${message}; the registry served a document camel-oci cannot use (re-push the artifact with a current client, e.g. oras or camel-oci push)`,
      { context: { reason } },
    );
  }
}

function mediaTypeOf(o: Json, key: string, where: string, inv: Invalid, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !MEDIA_TYPE_RE.test(v))
    throw inv.error(`${where}.${key} must be a media type such as application/vnd.oci.image.layer.v1.tar+gzip (got ${show(v)})`);
  return v;
}

function stringMap(v: unknown, where: string, inv: Invalid): Readonly<Record<string, string>> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw inv.error(`${where} must be an object of string values (got ${show(v)})`);
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw inv.error(`${where}[${JSON.stringify(k)}] must be a string (got ${show(value)})`);
    out[k] = value;
  }
  return out;
}

function stringArray(v: unknown, where: string, inv: Invalid): readonly string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw inv.error(`${where} must be an array of strings (got ${show(v)})`);
  return v as string[];
}

function optionalString(o: Json, key: string, where: string, inv: Invalid): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw inv.error(`${where}.${key} must be a string (got ${show(v)})`);
  return v;
}

function base64Length(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}

function validatePlatform(v: unknown, where: string, inv: Invalid): Platform {
  if (!isRecord(v)) throw inv.error(`${where} must be an object with os and architecture (got ${show(v)})`);
  const architecture = v.architecture;
  const os = v.os;
  if (typeof architecture !== 'string') throw inv.error(`${where}.architecture must be a string (got ${show(architecture)})`);
  if (typeof os !== 'string') throw inv.error(`${where}.os must be a string (got ${show(os)})`);
  const osVersion = optionalString(v, 'os.version', where, inv);
  const osFeatures = stringArray(v['os.features'], `${where}.os.features`, inv);
  const variant = optionalString(v, 'variant', where, inv);
  const features = stringArray(v.features, `${where}.features`, inv);
  return {
    architecture,
    os,
    ...(osVersion !== undefined ? { 'os.version': osVersion } : {}),
    ...(osFeatures !== undefined ? { 'os.features': osFeatures } : {}),
    ...(variant !== undefined ? { variant } : {}),
    ...(features !== undefined ? { features } : {}),
  };
}

function validateDescriptor(v: unknown, where: string, inv: Invalid, withPlatform: boolean): Descriptor {
  if (!isRecord(v)) throw inv.error(`${where} must be a descriptor object with mediaType, digest and size (got ${show(v)})`);
  const mediaType = mediaTypeOf(v, 'mediaType', where, inv, true) as string;
  const digest = v.digest;
  if (typeof digest !== 'string') throw inv.error(`${where}.digest must be a string such as sha256:<64 hex> (got ${show(digest)})`);
  const problem = descriptorDigestProblem(digest);
  if (problem !== undefined) throw inv.error(`${where}.digest ${show(digest)} is invalid: ${problem}`);
  const size = v.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw inv.error(`${where}.size must be a non-negative integer (got ${show(size)})`);
  const urls = stringArray(v.urls, `${where}.urls`, inv);
  if (urls !== undefined) {
    for (const [i, u] of urls.entries()) {
      if (!URL.canParse(u)) throw inv.error(`${where}.urls[${i}] is not a URL (got ${show(u)})`);
    }
  }
  const annotations = stringMap(v.annotations, `${where}.annotations`, inv);
  const data = optionalString(v, 'data', where, inv);
  if (data !== undefined) {
    if (!BASE64_RE.test(data)) throw inv.error(`${where}.data must be padded standard base64`);
    if (base64Length(data) !== size) throw inv.error(`${where}.data decodes to ${base64Length(data)} bytes but size is ${size}`);
  }
  const artifactType = mediaTypeOf(v, 'artifactType', where, inv, false);
  const platform = withPlatform && v.platform !== undefined ? validatePlatform(v.platform, `${where}.platform`, inv) : undefined;
  return {
    mediaType,
    digest,
    size,
    ...(urls !== undefined ? { urls } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(platform !== undefined ? { platform } : {}),
  };
}

/** The bare media type of a Content-Type header value (parameters dropped, lowercased). */
function bareContentType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const bare = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return bare === '' ? undefined : bare;
}

/**
 * Validates manifest bytes strictly and returns the typed document. The media type is the JSON
 * `mediaType` field (covered by the digest, so it wins over the header), else a manifest
 * Content-Type; with neither, the shape decides (`manifests` → OCI index, else OCI manifest). Throws
 * OciError MANIFEST_INVALID with the failing field's path.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  const doc = new Invalid('manifest');
  if (bytes.byteLength > MAX_MANIFEST_BYTES)
    throw doc.error(`it is ${bytes.byteLength} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`, 'too-large');
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark so JSON.parse refuses it, as Go's encoding/json does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw doc.error('it is not valid UTF-8', 'not-json');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw doc.error(`it is not JSON (${(err as Error).message})`, 'not-json');
  }
  if (!isRecord(raw)) throw doc.error('it is not a JSON object', 'not-json');

  let mediaType: string;
  if (raw.mediaType !== undefined) {
    mediaType = mediaTypeOf(raw, 'mediaType', 'document', doc, true) as string;
  } else {
    // A generic header (application/json, octet-stream) says nothing; then the shape decides.
    const header = bareContentType(contentType);
    if (header !== undefined && (isManifestMediaType(header) || isIndexMediaType(header) || DOCKER_SCHEMA1_TYPES.has(header)))
      mediaType = header;
    else if ('manifests' in raw) mediaType = OCI_INDEX;
    else mediaType = OCI_MANIFEST;
  }

  if (DOCKER_SCHEMA1_TYPES.has(mediaType) || raw.schemaVersion === 1) {
    throw doc.error(
      'it is a Docker schema 1 manifest, which registries deprecated in 2017; push it again with a current client',
      'unsupported-media-type',
    );
  }
  if (!isManifestMediaType(mediaType) && !isIndexMediaType(mediaType)) {
    throw doc.error(
      `its media type ${show(mediaType)} is not one camel-oci reads (${[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ')})`,
      'unsupported-media-type',
    );
  }
  if (raw.schemaVersion !== 2) throw doc.error(`schemaVersion must be 2 (got ${show(raw.schemaVersion)})`);
  const inv = new Invalid(isIndexMediaType(mediaType) ? `image index (${mediaType})` : `image manifest (${mediaType})`);
  const artifactType = mediaTypeOf(raw, 'artifactType', 'document', inv, false);
  const subject = raw.subject === undefined ? undefined : validateDescriptor(raw.subject, 'subject', inv, false);
  const annotations = stringMap(raw.annotations, 'annotations', inv);
  const common = {
    schemaVersion: 2 as const,
    mediaType,
    ...(artifactType !== undefined ? { artifactType } : {}),
  };
  const tail = {
    ...(subject !== undefined ? { subject } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };

  if (isIndexMediaType(mediaType)) {
    // A document that is both shapes could be read differently by two clients (CVE-2021-41190).
    if ('config' in raw || 'layers' in raw) throw inv.error('an index must not have config or layers', 'ambiguous');
    const manifests = raw.manifests;
    if (!Array.isArray(manifests)) throw inv.error(`manifests must be an array (got ${show(manifests)})`);
    if (manifests.length > MAX_INDEX_MANIFESTS)
      throw inv.error(`it lists ${manifests.length} manifests, more than the ${MAX_INDEX_MANIFESTS} allowed`, 'too-large');
    const index: ImageIndex = {
      ...common,
      manifests: manifests.map((m, i) => validateDescriptor(m, `manifests[${i}]`, inv, true)),
      ...tail,
    };
    return { kind: 'index', index, mediaType };
  }

  if ('manifests' in raw) throw inv.error('an image manifest must not have manifests', 'ambiguous');
  const config = validateDescriptor(raw.config, 'config', inv, false);
  const layers = raw.layers;
  if (!Array.isArray(layers)) throw inv.error(`layers must be an array (got ${show(layers)})`);
  if (layers.length === 0) throw inv.error('layers must have at least one entry (image-manifest-schema minItems 1)');
  if (layers.length > MAX_MANIFEST_LAYERS)
    throw inv.error(`it has ${layers.length} layers, more than the ${MAX_MANIFEST_LAYERS} allowed`, 'too-large');
  const manifest: ImageManifest = {
    ...common,
    config,
    layers: layers.map((l, i) => validateDescriptor(l, `layers[${i}]`, inv, false)),
    ...tail,
  };
  return { kind: 'manifest', manifest, mediaType };
}

// ---- platforms ----

const PLATFORM_COMPONENT = /^[A-Za-z0-9_.-]{1,32}$/;

/** Parses `os/arch[/variant]` (lowercased). Throws OciError CONFIG_INVALID on anything else. */
export function parsePlatform(s: string): Platform {
  const parts = s.length > MAX_PLATFORM_LENGTH ? [] : s.split('/');
  if ((parts.length !== 2 && parts.length !== 3) || !parts.every((p) => PLATFORM_COMPONENT.test(p))) {
    throw new OciError(
      'CONFIG_INVALID',
      `invalid platform ${show(s)}: expected os/architecture[/variant], for example linux/amd64 or linux/arm64/v8`,
      { context: { platform: s.slice(0, MAX_PLATFORM_LENGTH) } },
    );
  }
  const [os, architecture, variant] = parts.map((p) => p.toLowerCase()) as [string, string, string | undefined];
  return { os, architecture, ...(variant !== undefined ? { variant } : {}) };
}

/** Formats a platform as `os/arch[/variant]`. */
export function formatPlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  return p.variant !== undefined && p.variant !== '' ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** Architecture spellings other tools use for the GOARCH names indexes carry (as containerd normalizes them). */
const ARCH_ALIASES: Readonly<Record<string, { architecture: string; variant?: string }>> = {
  i386: { architecture: '386' },
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
};

/** Variant each architecture means when none is written. */
const DEFAULT_VARIANT: Readonly<Record<string, string>> = { amd64: 'v1', arm64: 'v8', arm: 'v7' };

/** Canonical os/architecture/variant for comparison: aliases resolved, default variants filled in, `8` written `v8`. */
export function normalizePlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): {
  os: string;
  architecture: string;
  variant: string;
} {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  const alias = ARCH_ALIASES[architecture];
  if (alias !== undefined) {
    architecture = alias.architecture;
    if (variant === '' && alias.variant !== undefined) variant = alias.variant;
  }
  if (/^[0-9]+$/.test(variant)) variant = `v${variant}`;
  if (variant === '') variant = DEFAULT_VARIANT[architecture] ?? '';
  return { os, architecture, variant };
}

/** `v3` → 3 for the architectures whose CPUs run every lower variant (amd64 levels, 32-bit arm). */
function variantLevel(architecture: string, variant: string): number | undefined {
  if (architecture !== 'amd64' && architecture !== 'arm') return undefined;
  const m = /^v([0-9]+)$/.exec(variant);
  return m === null ? undefined : Number(m[1]);
}

/** True for index entries that are runnable image manifests, not nested indexes, attestations or other content. */
function isImageChild(d: Descriptor): boolean {
  if (!isManifestMediaType(d.mediaType)) return false;
  if (d.annotations?.[DOCKER_REFERENCE_TYPE] === 'attestation-manifest') return false;
  if (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown') return false;
  return true;
}

/**
 * Chooses the image manifest for a platform from an index. `wanted` defaults to linux/amd64. An
 * index with a single image manifest needs no match (artifacts of jars are platform-independent).
 * Otherwise os and architecture must match; the variant must match when given (amd64 and arm
 * also accept lower levels, best first); without one, the default variant is preferred. Ties go to
 * the first entry (image-index.md). Attestations and nested indexes are never chosen.
 * Throws PLATFORM_NOT_FOUND listing the platforms the index has, CONFIG_INVALID for a malformed
 * `wanted`, UNSUPPORTED when the chosen manifest is not addressed by a sha256 digest.
 */
export function selectPlatform(index: ImageIndex, wanted: string | undefined): Descriptor {
  const want = parsePlatform(wanted ?? DEFAULT_PLATFORM);
  const images = index.manifests.filter(isImageChild);
  if (images.length === 0) {
    throw new OciError(
      'PLATFORM_NOT_FOUND',
      `the index lists no image manifest (${index.manifests.length} entries: nested indexes, attestations or other content); reference an image manifest or an index of image manifests`,
      { context: { wanted: formatPlatform(want), entries: index.manifests.length } },
    );
  }
  let chosen: Descriptor | undefined;
  if (images.length === 1) {
    chosen = images[0];
  } else {
    const w = normalizePlatform(want);
    const explicitVariant = want.variant !== undefined;
    const wantedLevel = variantLevel(w.architecture, w.variant);
    let best = -1;
    for (const d of images) {
      if (d.platform === undefined) continue;
      const c = normalizePlatform(d.platform);
      if (c.os !== w.os || c.architecture !== w.architecture) continue;
      let score: number;
      const level = variantLevel(c.architecture, c.variant);
      if (c.variant === w.variant) score = 1000;
      else if (wantedLevel !== undefined && level !== undefined && level < wantedLevel) score = 1 + level;
      else if (!explicitVariant) score = 0;
      else continue;
      if (score > best) {
        best = score;
        chosen = d;
      }
    }
  }
  if (chosen === undefined) {
    const available = [...new Set(images.filter((d) => d.platform !== undefined).map((d) => formatPlatform(d.platform as Platform)))];
    const unnamed = images.filter((d) => d.platform === undefined).length;
    const has = [
      available.length > 0 ? available.join(', ') : '',
      unnamed > 0 ? `${unnamed} image manifest${unnamed === 1 ? '' : 's'} without a platform` : '',
    ]
      .filter((s) => s !== '')
      .join(', and ');
    throw new OciError(
      'PLATFORM_NOT_FOUND',
      `no image for ${formatPlatform(want)} in the index: it has ${has}; pass --platform with one of these`,
      { context: { wanted: formatPlatform(want), available: available.join(',') } },
    );
  }
  if (!isSha256Digest(chosen.digest)) {
    throw new OciError(
      'UNSUPPORTED',
      `the image manifest for ${chosen.platform !== undefined ? formatPlatform(chosen.platform) : 'the artifact'} is addressed by ${show(chosen.digest)}; camel-oci pins sha256 digests only`,
      { context: { digest: chosen.digest.slice(0, 200) } },
    );
  }
  return chosen;
}
