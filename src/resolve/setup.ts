/** Builds a Resolver over a registry context built from settings. */
import { createRegistryContext, type RegistryContext, type RegistrySettings } from '../registry/setup.js';
import { Resolver } from './resolver.js';
import type { CacheResult } from './resolver.js';
import { checkMirrorTable } from '../registry/mirrors.js';
import type { SourceFailure } from '../registry/mirrors.js';

/** Resolver settings on top of the registry's. */
export interface ResolverSettings extends RegistrySettings {
  readonly platform: string;
  readonly tagTtlMs: number;
  readonly staleGraceMs: number;
  readonly onCache?: (cache: 'tag' | 'manifest', result: CacheResult) => void;
  /** Called when a source (a mirror) failed and the next was tried. */
  readonly onSourceFailure?: (failure: SourceFailure, subject: string) => void;
}

/** Builds a Resolver from settings. */
export async function createResolver(settings: ResolverSettings): Promise<{ resolver: Resolver; context: RegistryContext }> {
  const context = await createRegistryContext(settings);
  try {
    checkMirrorTable(context.policy, settings.mirrors);
  } catch (err) {
    await context.agent.close();
    throw err;
  }
  const resolver = new Resolver({
    client: context.client,
    policy: context.policy,
    dockerConfigs: context.dockerConfigs,
    platform: settings.platform,
    tagTtlMs: settings.tagTtlMs,
    staleGraceMs: settings.staleGraceMs,
    ...(settings.onCache ? { onCache: settings.onCache } : {}),
    ...(settings.mirrors ? { mirrors: settings.mirrors } : {}),
    ...(settings.onSourceFailure ? { onSourceFailure: settings.onSourceFailure } : {}),
  });
  return { resolver, context };
}
