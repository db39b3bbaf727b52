/**
 * The fetch plan: what the webhook hands the init container in env `CAMEL_OCI_PLAN`, and where
 * each layer lands in the shared volume (docs/architecture.md, "Layout of the shared volume"). Pure.
 */
import { CamelOciError } from '../base/errors.js';
import { isRecord } from '../base/json.js';
import { isSha256Digest } from '../oci/digest.js';
import type { LayerFormat, LayerKind, ResolvedArtifact, SelectedLayer } from './artifact.js';

/** Current plan format version. */
export const PLAN_VERSION = 1;

/** Where the shared volume is mounted in both containers. */
export const VOLUME_MOUNT_PATH = '/camel-oci';

/** Bound on the plan text: it travels in a pod env var, and the fetcher must not parse megabytes. */
export const MAX_PLAN_BYTES = 256 * 1024;
/** Bound on artifacts and layers per plan (one pod asking for more is a mistake or an attack). */
export const MAX_PLAN_ARTIFACTS = 64;
export const MAX_PLAN_LAYERS = 256;
/** Bound on mirrors per artifact (containerd's hosts.toml lists a handful; more is a mistake). */
export const MAX_PLAN_MIRRORS = 8;

/** One layer to fetch. */
export interface PlanLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly kind: LayerKind;
  readonly format: LayerFormat;
  /** Directory relative to the volume root: `dependencies/<hex12>` or `kamelets/<hex12>`. */
  readonly target: string;
  /** Raw layers only: the file name inside `target`. */
  readonly fileName?: string;
}

/** A mirror of an artifact's registry: tried in order before the registry itself, its bytes verified like any other source. */
export interface PlanMirror {
  /** Host[:port] of the mirror. */
  readonly registry: string;
  readonly scheme: 'https' | 'http';
}

/** One pinned manifest and the layers to fetch from it. */
export interface PlanArtifact {
  readonly reference: string;
  /** Host[:port] of the upstream registry (the one the pinned reference names). */
  readonly registry: string;
  readonly repository: string;
  readonly scheme: 'https' | 'http';
  /** Mirrors to try, in order, before `registry`; absent when none is configured for it. */
  readonly mirrors?: readonly PlanMirror[];
  /** Pinned image manifest digest; the fetcher re-reads the manifest by it and checks every layer is listed. */
  readonly digest: string;
  readonly layers: readonly PlanLayer[];
}

/** The whole plan. */
export interface FetchPlan {
  readonly version: typeof PLAN_VERSION;
  readonly artifacts: readonly PlanArtifact[];
  /**
   * Empty directories (`images/<hex12>`, relative to the volume root) the fetcher creates so the
   * kubelet can mount image volumes inside the read-only shared volume; absent when none.
   */
  readonly imageMounts?: readonly string[];
}

const HOST_PORT =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]{1,5})?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$/;
/** A raw layer's file name: one path segment, no hidden or special names. */
const FILE_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,254}$/;

/** True when `text` is `host[:port]` as a plan names a registry or mirror (a name, IPv4, or bracketed IPv6; no scheme or path). */
export function isHostPort(text: string): boolean {
  return HOST_PORT.test(text);
}

/** True when `name` is a plain single-segment file name a raw layer may land as (no separators, no leading dot, no control characters). */
export function isPlainFileName(name: string): boolean {
  return FILE_NAME.test(name);
}

/** The first 12 hex characters of a sha256 digest: the per-layer directory name. */
export function digestHex12(digest: string): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}

/** `images/<hex12>`: where an image volume is mounted, relative to the volume root (and the directory the fetcher makes for it). */
export function imageMountDir(hex12: string): string {
  return `images/${hex12}`;
}

/** The directory, relative to the volume root, that a layer of this kind and digest lands in. */
export function layerTarget(kind: LayerKind, digest: string): string {
  return `${kind === 'dependency' ? 'dependencies' : 'kamelets'}/${digestHex12(digest)}`;
}

/** The classpath entry a layer adds to the integration container (absolute, under the mount path). */
export function classpathEntry(layer: Pick<PlanLayer, 'kind' | 'target'>, mountPath = VOLUME_MOUNT_PATH): string {
  return layer.kind === 'dependency' ? `${mountPath}/${layer.target}/*` : `${mountPath}/${layer.target}`;
}

/** Classpath entries for a whole plan, in plan order, without duplicates. */
export function planClasspath(plan: FetchPlan, mountPath = VOLUME_MOUNT_PATH): string[] {
  const out: string[] = [];
  for (const a of plan.artifacts) {
    for (const l of a.layers) {
      const entry = classpathEntry(l, mountPath);
      if (!out.includes(entry)) out.push(entry);
    }
  }
  return out;
}

/** How the plan carries a selected layer: where it lands, and a raw layer's file name. */
export function planLayer(l: SelectedLayer): PlanLayer {
  return {
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    kind: l.kind,
    format: l.format,
    target: layerTarget(l.kind, l.digest),
    ...(l.format === 'raw' && l.fileName !== undefined ? { fileName: l.fileName } : {}),
  };
}

/** Builds the plan for resolved artifacts. A layer already planned (same digest and kind) is not planned twice. */
export function buildPlan(artifacts: readonly ResolvedArtifact[]): FetchPlan {
  const seen = new Set<string>();
  return {
    version: PLAN_VERSION,
    artifacts: artifacts
      .map((a) => ({
        reference: a.reference,
        registry: a.registry,
        repository: a.repository,
        scheme: a.scheme,
        ...(a.mirrors !== undefined && a.mirrors.length > 0
          ? { mirrors: a.mirrors.map((m) => ({ registry: m.registry, scheme: m.scheme })) }
          : {}),
        digest: a.digest,
        layers: a.layers
          .filter((l) => {
            const key = `${l.kind}:${l.digest}`;
            if (seen.has(key)) return false;
            seen.add(key);
            return true;
          })
          .map(planLayer),
      }))
      // An artifact whose layers were all planned by an earlier one (the same artifact by tag and
      // by digest) has nothing left to fetch; parsePlan refuses empty artifacts.
      .filter((a) => a.layers.length > 0),
  };
}

function invalid(message: string): CamelOciError {
  return new CamelOciError('PLAN_INVALID', `invalid fetch plan: ${message}`);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw invalid(`${where}.${key} must be a non-empty string`);
  return v;
}

/**
 * Parses and validates plan text. Everything is checked, including that each target is exactly the
 * one the layout rules give for its kind and digest, so a forged plan cannot write elsewhere.
 */
export function parsePlan(text: string): FetchPlan {
  if (Buffer.byteLength(text, 'utf8') > MAX_PLAN_BYTES) throw invalid(`larger than ${MAX_PLAN_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`not JSON (${(err as Error).message})`);
  }
  if (!isRecord(raw)) throw invalid('not a JSON object');
  if (raw.version !== PLAN_VERSION) throw invalid(`unsupported version ${JSON.stringify(raw.version)} (expected ${PLAN_VERSION})`);
  if (!Array.isArray(raw.artifacts) || raw.artifacts.length === 0) throw invalid('artifacts must be a non-empty array');
  if (raw.artifacts.length > MAX_PLAN_ARTIFACTS) throw invalid(`more than ${MAX_PLAN_ARTIFACTS} artifacts`);
  let layerCount = 0;
  const targets = new Map<string, string>();
  const artifacts = raw.artifacts.map((a: unknown, i: number): PlanArtifact => {
    const where = `artifacts[${i}]`;
    if (!isRecord(a)) throw invalid(`${where} is not an object`);
    const registry = str(a, 'registry', where);
    if (!HOST_PORT.test(registry)) throw invalid(`${where}.registry ${JSON.stringify(registry)} is not a host[:port]`);
    const repository = str(a, 'repository', where);
    if (!REPOSITORY.test(repository) || repository.length > 255)
      throw invalid(`${where}.repository ${JSON.stringify(repository)} is not a repository name`);
    const scheme = a.scheme;
    if (scheme !== 'https' && scheme !== 'http') throw invalid(`${where}.scheme must be "https" or "http"`);
    const digest = str(a, 'digest', where);
    if (!isSha256Digest(digest)) throw invalid(`${where}.digest ${JSON.stringify(digest)} is not a sha256 digest`);
    if (!Array.isArray(a.layers) || a.layers.length === 0) throw invalid(`${where}.layers must be a non-empty array`);
    layerCount += a.layers.length;
    if (layerCount > MAX_PLAN_LAYERS) throw invalid(`more than ${MAX_PLAN_LAYERS} layers`);
    const layers = a.layers.map((l: unknown, j: number): PlanLayer => {
      const lw = `${where}.layers[${j}]`;
      if (!isRecord(l)) throw invalid(`${lw} is not an object`);
      const ld = str(l, 'digest', lw);
      if (!isSha256Digest(ld)) throw invalid(`${lw}.digest ${JSON.stringify(ld)} is not a sha256 digest`);
      const size = l.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${lw}.size must be a non-negative integer`);
      const mediaType = str(l, 'mediaType', lw);
      const kind = l.kind;
      if (kind !== 'dependency' && kind !== 'kamelets') throw invalid(`${lw}.kind must be "dependency" or "kamelets"`);
      const format = l.format;
      if (format !== 'tar' && format !== 'tar+gzip' && format !== 'raw') throw invalid(`${lw}.format must be "tar", "tar+gzip" or "raw"`);
      const target = str(l, 'target', lw);
      const expected = layerTarget(kind, ld);
      if (target !== expected) throw invalid(`${lw}.target ${JSON.stringify(target)} must be ${JSON.stringify(expected)}`);
      const previous = targets.get(target);
      if (previous !== undefined && previous !== ld) throw invalid(`${lw}.target ${target} is planned twice`);
      targets.set(target, ld);
      let fileName: string | undefined;
      if (format === 'raw') {
        fileName = str(l, 'fileName', lw);
        if (!FILE_NAME.test(fileName)) throw invalid(`${lw}.fileName ${JSON.stringify(fileName)} is not a plain file name`);
      } else if (l.fileName !== undefined) {
        throw invalid(`${lw}.fileName is only allowed for raw layers`);
      }
      return { digest: ld, size, mediaType, kind, format, target, ...(fileName !== undefined ? { fileName } : {}) };
    });
    const mirrors = a.mirrors === undefined ? undefined : parseMirrors(a.mirrors, where);
    return { reference: str(a, 'reference', where), registry, repository, scheme, ...(mirrors ? { mirrors } : {}), digest, layers };
  });
  const imageMounts = raw.imageMounts === undefined ? undefined : parseImageMounts(raw.imageMounts);
  return { version: PLAN_VERSION, artifacts, ...(imageMounts ? { imageMounts } : {}) };
}

function parseMirrors(value: unknown, where: string): PlanMirror[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PLAN_MIRRORS)
    throw invalid(`${where}.mirrors must be an array of 1 to ${MAX_PLAN_MIRRORS} mirrors`);
  return value.map((m: unknown, k: number): PlanMirror => {
    const mw = `${where}.mirrors[${k}]`;
    if (!isRecord(m)) throw invalid(`${mw} is not an object`);
    const registry = str(m, 'registry', mw);
    if (!HOST_PORT.test(registry)) throw invalid(`${mw}.registry ${JSON.stringify(registry)} is not a host[:port]`);
    const scheme = m.scheme;
    if (scheme !== 'https' && scheme !== 'http') throw invalid(`${mw}.scheme must be "https" or "http"`);
    return { registry, scheme };
  });
}

/** `images/<hex12>`: the only shape a mount point may take, so a forged plan cannot create directories elsewhere. */
const IMAGE_MOUNT = /^images\/[0-9a-f]{12}$/;

function parseImageMounts(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PLAN_ARTIFACTS)
    throw invalid(`imageMounts must be an array of 1 to ${MAX_PLAN_ARTIFACTS} paths`);
  return value.map((p: unknown, k: number): string => {
    if (typeof p !== 'string' || !IMAGE_MOUNT.test(p)) throw invalid(`imageMounts[${k}] must be "images/<12 hex digits>"`);
    return p;
  });
}
