/**
 * The resolved annotation: what auditors (and `camel-oci audit`) read to know exactly which bytes a
 * pod runs. Pure.
 */
import { pinnedReference, type ResolvedArtifact } from '../plan/artifact.js';
import type { ArtifactMode } from './image-volumes.js';

/** Ignored layers recorded per reference; the rest are counted in a warning (annotations share a 256 KiB budget). */
export const MAX_IGNORED_RECORDED = 16;

/** One reference in the resolved annotation. Field order is stable: it is what auditors diff. */
export interface ResolvedRecord {
  /** The reference as written (without `container:`). */
  readonly ref: string;
  /** `domain/repository@sha256:…` of the image manifest. */
  readonly pinned: string;
  /** Media type of the pinned manifest. */
  readonly mediaType: string;
  /** Digests of the selected layers, in manifest order. */
  readonly layers: readonly string[];
  readonly ignored?: readonly { readonly digest: string; readonly reason: string }[];
  /** Digest of the index the manifest was chosen from. */
  readonly index?: string;
  readonly platform?: string;
  /** Host[:port] of the mirror that answered, when one did (absent: the upstream the pinned reference names). */
  readonly source?: string;
  /** The registry failed and an earlier resolution was used. */
  readonly stale?: true;
  /** With `--image-volumes` only: mounted as an image volume, or fetched by the init container. */
  readonly mode?: 'image-volume' | 'fetch';
  /** Why an artifact was fetched although `--image-volumes` is on. */
  readonly fallback?: string;
}

/** The record of one resolved artifact; `mode` only when image-volume mode is on (absent: no mode field, as before it existed). */
export function resolvedRecord(a: ResolvedArtifact, mode?: ArtifactMode): ResolvedRecord {
  return {
    ref: a.reference,
    pinned: pinnedReference(a),
    mediaType: a.mediaType,
    layers: a.layers.map((l) => l.digest),
    ...(a.ignored.length > 0
      ? { ignored: a.ignored.slice(0, MAX_IGNORED_RECORDED).map((l) => ({ digest: l.digest, reason: l.reason })) }
      : {}),
    ...(a.indexDigest !== undefined ? { index: a.indexDigest } : {}),
    ...(a.platform !== undefined ? { platform: a.platform } : {}),
    ...(a.source !== undefined ? { source: a.source } : {}),
    ...(a.stale === true ? { stale: true as const } : {}),
    ...(mode !== undefined ? { mode: mode.mode } : {}),
    ...(mode?.mode === 'fetch' && mode.fallback !== undefined ? { fallback: mode.fallback } : {}),
  };
}

/**
 * The annotation value: compact JSON, one record per reference, in reference order; `modes`
 * parallel to `artifacts` when image-volume mode is on.
 */
export function resolvedAnnotationValue(artifacts: readonly ResolvedArtifact[], modes?: readonly ArtifactMode[]): string {
  return JSON.stringify(artifacts.map((a, i) => resolvedRecord(a, modes?.[i])));
}

/** Warnings a person should see about these resolutions: ignored layers and stale digests. */
export function resolutionWarnings(artifacts: readonly ResolvedArtifact[]): string[] {
  const out: string[] = [];
  for (const a of artifacts) {
    if (a.stale === true) {
      out.push(`${a.reference}: registry unavailable, using ${pinnedReference(a)} resolved earlier`);
    }
    const first = a.ignored[0];
    if (first !== undefined) {
      const more = a.ignored.length > 1 ? ` and ${a.ignored.length - 1} more` : '';
      out.push(`${a.reference}: ignored layer ${first.digest.slice(0, 19)} (${first.reason})${more}`);
    }
  }
  return out;
}
