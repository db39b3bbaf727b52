/**
 * `camel-oci push REF [--dependency FILE|DIR]... [--kamelets DIR]... [--oci-layout DIR]`: packs jars
 * and Kamelet folders (src/push/) and pushes them through the resolver's transport, policy and
 * credentials (src/registry/upload.ts), or writes an OCI image layout. Prints the pinned reference.
 */
import { loadPushConfig } from '../config/push.js';
import type { ParsedFlags } from '../config/flags.js';
import { credentialFor } from '../oci/docker-config.js';
import { registryEndpoint } from '../oci/reference.js';
import { readInputs } from '../push/inputs.js';
import { writeOciLayout } from '../push/layout.js';
import { createdFromSourceDateEpoch, packArtifact } from '../push/pack.js';
import type { PackedArtifact } from '../push/pack.js';
import type { RepositoryLocation } from '../registry/client.js';
import { closeRegistryContext, createRegistryContext } from '../registry/setup.js';
import { Uploader } from '../registry/upload.js';
import type { CommandIO } from './io.js';

function blobsOf(artifact: PackedArtifact): Array<{ digest: string; bytes: Uint8Array }> {
  return [...artifact.layers, artifact.config].map((b) => ({ digest: b.digest, bytes: b.bytes }));
}

/** Runs `push`; returns the exit code. */
export async function runPush(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const config = loadPushConfig(flags);
  const { target: ref, tag, platform, timeoutMs, parallel } = config;
  const from = config.mountFrom;
  const created = createdFromSourceDateEpoch(env.SOURCE_DATE_EPOCH);
  const pinned = (digest: string): string => `${ref.domain}/${ref.path}:${tag}@${digest}`;

  const inputs = await readInputs(config.dependencies, config.kamelets);
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

  const layout = config.ociLayout;
  if (layout !== undefined) {
    await writeOciLayout(layout, artifact, tag);
    io.stderr(
      `wrote the OCI image layout ${layout} (tag ${tag}); copy it with: skopeo copy --preserve-digests oci:${layout}:${tag} docker://${ref.domain}/${ref.path}:${tag}`,
    );
    io.stdout(pinned(artifact.manifest.digest));
    return 0;
  }

  const endpoint = registryEndpoint(ref);
  const context = await createRegistryContext(config.registry);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    context.policy.checkRegistry(ref.domain, endpoint, `${ref.domain}/${ref.path}:${tag}`);
    const loc: RepositoryLocation = { registry: endpoint, repository: ref.path, scheme: context.policy.schemeFor(endpoint) };
    const credential = credentialFor(context.dockerConfigs, ref.domain, ref.path);
    const ctx = { signal, deadline: Date.now() + timeoutMs, ...(credential ? { credential } : {}) };
    const outcomes = await new Uploader(context.client).pushImage(loc, tag, blobsOf(artifact), artifact.manifest, ctx, {
      parallel,
      ...(from !== undefined ? { from } : {}),
    });
    for (const [digest, outcome] of outcomes) io.stderr(`blob ${digest}  ${outcome}`);
    io.stdout(pinned(artifact.manifest.digest));
    return 0;
  } finally {
    await closeRegistryContext(context, signal);
  }
}
