/**
 * Plans for tests that exercise the fetcher before any byte arrives (one raw jar layer, from one
 * repository), and the plan layer of given bytes, for the unpacker's tests.
 */
import { createHash } from 'node:crypto';
import { digestHex12, layerTarget, type FetchPlan, type PlanLayer } from '../../src/plan/plan.js';
import type { LayerFormat, LayerKind } from '../../src/plan/artifact.js';

/** `sha256:<hex>` of `data`. */
export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The plan layer of these bytes: their digest and size, and the media type of `format`. */
export function layerFor(kind: LayerKind, format: LayerFormat, blob: Buffer, fileName?: string): PlanLayer {
  const digest = sha256(blob);
  const mediaType =
    format === 'tar+gzip'
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : format === 'tar'
        ? 'application/vnd.oci.image.layer.v1.tar'
        : 'application/java-archive';
  return {
    digest,
    size: blob.length,
    mediaType,
    kind,
    format,
    target: layerTarget(kind, digest),
    ...(fileName !== undefined ? { fileName } : {}),
  };
}

/** A valid plan of one raw 10-byte `x.jar` layer of `registry`/`repository` (the digest names no real blob). */
export function oneJarPlan(registry: string, options: { scheme?: 'http' | 'https'; repository?: string; digest?: string } = {}): FetchPlan {
  const digest = options.digest ?? `sha256:${'ab'.repeat(32)}`;
  const repository = options.repository ?? 'acme/deps';
  return {
    version: 1,
    artifacts: [
      {
        reference: `${registry}/${repository}:1`,
        registry,
        repository,
        scheme: options.scheme ?? 'https',
        digest,
        layers: [
          {
            digest,
            size: 10,
            mediaType: 'application/java-archive',
            kind: 'dependency',
            format: 'raw',
            target: `dependencies/${digestHex12(digest)}`,
            fileName: 'x.jar',
          },
        ],
      },
    ],
  };
}
