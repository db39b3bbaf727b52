/**
 * `camel-oci push REF [--dependency FILE|DIR]... [--kamelets DIR]... [--oci-layout DIR]`: packs jars
 * and Kamelet folders (src/push/) and pushes them through the resolver's transport, policy and
 * credentials (src/registry/upload.ts), or writes an OCI image layout. Prints the pinned reference.
 */
import { CamelOciError } from '../base/errors.js';
import { parseDuration, parseCount } from '../config.js';
import type { ParsedFlags } from '../config.js';
import { parsePlatform } from '../oci/manifest.js';
import { credentialFor } from '../oci/docker-config.js';
import { parseReference, registryEndpoint } from '../oci/reference.js';
import type { Reference } from '../oci/reference.js';
import { readInputs } from '../push/inputs.js';
import { writeOciLayout } from '../push/layout.js';
import { createdFromSourceDateEpoch, packArtifact } from '../push/pack.js';
import type { PackedArtifact } from '../push/pack.js';
import type { RepositoryLocation } from '../registry/client.js';
import { createRegistryContext } from '../registry/setup.js';
import { Uploader } from '../registry/upload.js';
import type { CommandIO } from './io.js';

function targetOf(flags: ParsedFlags): { ref: Reference; tag: string } {
  const [written, ...extra] = flags.positionals;
  if (written === undefined || extra.length > 0) {
    throw new CamelOciError('CONFIG_INVALID', 'camel-oci push: give exactly one reference to push to, e.g. camel-oci push registry.example.com/acme/deps:1.0 --dependency target/lib');
  }
  const ref = parseReference(written);
  if (ref.digest !== undefined) {
    throw new CamelOciError('CONFIG_INVALID', `camel-oci push ${written}: push to a tag, not a digest (the digest is what push computes and prints)`);
  }
  return { ref, tag: ref.tag ?? 'latest' };
}

/** Checks `--mount-from`: a repository name of the target's registry (the grammar's path rules). */
function mountFrom(ref: Reference, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let parsed: Reference;
  try {
    parsed = parseReference(`${ref.domain}/${value}`);
  } catch {
    parsed = { domain: '', path: '' };
  }
  if (parsed.domain !== ref.domain || parsed.path !== value || parsed.tag !== undefined) {
    throw new CamelOciError('CONFIG_INVALID', `--mount-from ${JSON.stringify(value)}: give a repository of ${ref.domain} (like acme/base), without registry or tag`);
  }
  return value;
}

function blobsOf(artifact: PackedArtifact): Array<{ digest: string; bytes: Uint8Array }> {
  return [...artifact.layers, artifact.config].map((b) => ({ digest: b.digest, bytes: b.bytes }));
}

/** Runs `push`; returns the exit code. */
export async function runPush(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const v = flags.values;
  const { ref, tag } = targetOf(flags);
  const from = mountFrom(ref, v['mount-from'] as string | undefined);
  const platform = parsePlatform(v.platform as string);
  const timeoutMs = parseDuration(v.timeout as string, 'timeout');
  const parallel = parseCount(v.parallel as string, 'parallel', 16);
  const created = createdFromSourceDateEpoch(env.SOURCE_DATE_EPOCH);
  const pinned = (digest: string): string => `${ref.domain}/${ref.path}:${tag}@${digest}`;

  const inputs = await readInputs(v.dependency as string[], v.kamelets as string[]);
  const artifact = packArtifact(inputs.dependencies, inputs.kamelets, {
    os: platform.os,
    architecture: platform.architecture,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    ...(created !== undefined ? { created } : {}),
  });
  for (const layer of artifact.layers) {
    const [kind, name] = Object.entries(layer.annotations ?? {})[0] ?? ['', ''];
    io.stderr(`layer ${layer.digest}  ${layer.size} B  ${kind}=${name}`);
  }

  const layout = v['oci-layout'] as string | undefined;
  if (layout !== undefined) {
    await writeOciLayout(layout, artifact, tag);
    io.stderr(`wrote the OCI image layout ${layout} (tag ${tag}); copy it with: skopeo copy --preserve-digests oci:${layout}:${tag} docker://${ref.domain}/${ref.path}:${tag}`);
    io.stdout(pinned(artifact.manifest.digest));
    return 0;
  }

  const endpoint = registryEndpoint(ref);
  const context = await createRegistryContext({
    registryConfigs: v['registry-config'] as string[],
    insecureRegistries: v['insecure-registry'] as string[],
    allowRegistries: v['allow-registry'] as string[],
    caFiles: v['ca-file'] as string[],
  });
  try {
    context.policy.checkRegistry(ref.domain, endpoint, `${ref.domain}/${ref.path}:${tag}`);
    const loc: RepositoryLocation = { registry: endpoint, repository: ref.path, scheme: context.policy.schemeFor(endpoint) };
    const credential = credentialFor(context.dockerConfigs, ref.domain, ref.path);
    const ctx = { signal: AbortSignal.timeout(timeoutMs), deadline: Date.now() + timeoutMs, ...(credential ? { credential } : {}) };
    const outcomes = await new Uploader(context.client).pushImage(loc, tag, blobsOf(artifact), artifact.manifest, ctx, {
      parallel,
      ...(from !== undefined ? { from } : {}),
    });
    for (const [digest, outcome] of outcomes) io.stderr(`blob ${digest}  ${outcome}`);
    io.stdout(pinned(artifact.manifest.digest));
    return 0;
  } finally {
    await context.agent.close();
  }
}
