/** A Resolver set up for a test registry: allowed (with its token issuer), its CA trusted, plain HTTP in plain mode. */
import { buildPlan } from '../../src/plan/plan.js';
import { createResolver } from '../../src/resolve/setup.js';
import type { ResolverSettings } from '../../src/resolve/setup.js';
import type { StartedRegistry } from './registry.js';

/** Settings that let a Resolver talk to `registry`; `extra` overrides any of them. */
export function settingsFor(registry: StartedRegistry, extra: Partial<ResolverSettings> = {}): ResolverSettings {
  const allow = [registry.host];
  if (registry.tokenIssuer) allow.push(new URL(registry.tokenIssuer.url).host);
  return {
    registryConfigs: [],
    insecureRegistries: registry.mode === 'plain' ? [registry.host] : [],
    allowRegistries: allow,
    caFiles: registry.caFile ? [registry.caFile] : [],
    platform: 'linux/amd64',
    tagTtlMs: 60_000,
    staleGraceMs: 600_000,
    ...extra,
  };
}

/** A Resolver and its registry context for `registry` (close `context.agent` when done). */
export function createResolverFor(registry: StartedRegistry, extra: Partial<ResolverSettings> = {}): ReturnType<typeof createResolver> {
  return createResolver(settingsFor(registry, extra));
}

/** The plan the webhook would hand the init container for `reference` in `registry`, as CAMEL_OCI_PLAN's JSON. */
export async function planJsonFor(registry: StartedRegistry, reference: string): Promise<string> {
  const { resolver, context } = await createResolverFor(registry, { tagTtlMs: 0, staleGraceMs: 0 });
  try {
    return JSON.stringify(buildPlan([await resolver.resolve(reference)]));
  } finally {
    await context.agent.close();
  }
}
