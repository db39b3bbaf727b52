/** `camel-oci resolve REF...`: resolve references and print pins and selected layers. */
import { asCamelOciError } from '../base/errors.js';
import { pinnedReference } from '../plan/artifact.js';
import type { ResolvedArtifact } from '../plan/artifact.js';
import type { ParsedFlags } from '../config/flags.js';
import { loadResolveConfig } from '../config/resolve.js';
import { createResolver } from '../resolve/setup.js';
import { closeRegistryContext } from '../registry/setup.js';
import type { CommandIO } from './io.js';

/** The JSON shape of one resolved reference. */
export function artifactJson(a: ResolvedArtifact): Record<string, unknown> {
  return {
    reference: a.reference,
    pinned: pinnedReference(a),
    digest: a.digest,
    mediaType: a.mediaType,
    registry: a.registry,
    repository: a.repository,
    ...(a.mirrors !== undefined && a.mirrors.length > 0 ? { mirrors: a.mirrors.map((m) => m.registry) } : {}),
    ...(a.source !== undefined ? { source: a.source } : {}),
    ...(a.indexDigest ? { index: a.indexDigest } : {}),
    ...(a.platform ? { platform: a.platform } : {}),
    ...(a.stale ? { stale: true } : {}),
    layers: a.layers.map((l) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      kind: l.kind,
      format: l.format,
      name: l.name,
      ...(l.fileName ? { fileName: l.fileName } : {}),
    })),
    ignored: a.ignored.map((l) => ({ digest: l.digest, mediaType: l.mediaType, reason: l.reason })),
  };
}

function human(a: ResolvedArtifact): string {
  const lines = [`container:${a.reference}`, `  pinned     ${pinnedReference(a)}`, `  mediaType  ${a.mediaType}`];
  if (a.source !== undefined) lines.push(`  source     mirror ${a.source}`);
  if (a.indexDigest) lines.push(`  index      ${a.indexDigest} (platform ${a.platform ?? '?'})`);
  if (a.stale) lines.push('  stale      registry failed; using the digest resolved earlier');
  for (const l of a.layers) {
    lines.push(`  layer      ${l.digest}  ${l.size} B  ${l.mediaType}  ${l.kind}  ${l.name}${l.fileName ? ` -> ${l.fileName}` : ''}`);
  }
  for (const l of a.ignored) lines.push(`  ignored    ${l.digest}  ${l.mediaType}  (${l.reason})`);
  return lines.join('\n');
}

/** Runs `resolve`; returns the exit code. */
export async function runResolve(flags: ParsedFlags, io: CommandIO): Promise<number> {
  const config = loadResolveConfig(flags);
  const refs = config.references;
  const { resolver, context } = await createResolver({
    ...config.resolver,
    onSourceFailure: (f) =>
      io.stderr(`camel-oci: warning: ${f.source.registry} failed, trying the next source: ${f.error.code}: ${f.error.message}`),
  });
  const signal = AbortSignal.timeout(config.timeoutMs);
  try {
    const results = await Promise.allSettled(refs.map((r) => resolver.resolve(r, { signal })));
    let failed = 0;
    const json: unknown[] = [];
    for (const [i, r] of results.entries()) {
      const written = refs[i]!.replace(/^container:/, '');
      if (r.status === 'fulfilled') {
        json.push(artifactJson(r.value));
        if (!config.json) io.stdout(human(r.value));
      } else {
        failed++;
        const err = asCamelOciError(r.reason);
        json.push({ reference: written, error: { code: err.code, message: err.message } });
        io.stderr(`camel-oci: ${err.code}: ${err.message.startsWith('container:') ? '' : `container:${written}: `}${err.message}`);
      }
    }
    if (config.json) io.stdout(JSON.stringify(json, null, 2));
    return failed === 0 ? 0 : 1;
  } finally {
    await closeRegistryContext(context, signal);
  }
}
