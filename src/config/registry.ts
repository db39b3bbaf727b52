/** The registry and resolver parts of a command's configuration, shared by serve, fetch, resolve and inject. */
import { CamelOciError } from '../base/errors.js';
import { parsePlatform } from '../oci/manifest.js';
import type { ParsedFlags } from './flags.js';
import { listFlag, parseDuration, requiredStringFlag } from './flags.js';
import { parseRegistryMirrors, type RegistryMirrors } from './mirrors.js';

/** The registry flags as one typed value (the files they name are read later, by registry/setup). */
export interface RegistryConfig {
  /** `--registry-config`: docker config files with registry credentials. */
  readonly registryConfigs: readonly string[];
  /** `--insecure-registry`: registries spoken to over plain HTTP. */
  readonly insecureRegistries: readonly string[];
  /** `--allow-registry`: the only registries allowed (empty: any public one). */
  readonly allowRegistries: readonly string[];
  /** `--ca-file`: extra PEM CA bundles trusted for registry TLS. */
  readonly caFiles: readonly string[];
  /** `--registry-mirror`: mirrors by upstream host[:port], tried in order before it. */
  readonly mirrors: RegistryMirrors;
}

/** The resolver flags on top of the registry's. */
export interface ResolverConfig extends RegistryConfig {
  /** `--platform`, checked as `os/arch[/variant]`. */
  readonly platform: string;
  /** `--tag-ttl` in milliseconds. */
  readonly tagTtlMs: number;
  /** `--stale-grace` in milliseconds. */
  readonly staleGraceMs: number;
}

/** Reads the registry flags (lists: nothing to validate before the files are read). */
export function loadRegistryConfig(flags: ParsedFlags): RegistryConfig {
  return {
    registryConfigs: listFlag(flags, 'registry-config'),
    insecureRegistries: listFlag(flags, 'insecure-registry'),
    allowRegistries: listFlag(flags, 'allow-registry'),
    caFiles: listFlag(flags, 'ca-file'),
    mirrors: parseRegistryMirrors(listFlag(flags, 'registry-mirror')),
  };
}

/** Reads and validates the resolver flags; a malformed `--platform` is refused now, not at the first index. */
export function loadResolverConfig(flags: ParsedFlags): ResolverConfig {
  const platform = requiredStringFlag(flags, 'platform');
  try {
    parsePlatform(platform);
  } catch (err) {
    throw new CamelOciError('CONFIG_INVALID', `--platform: ${(err as Error).message}`, { cause: err });
  }
  return {
    ...loadRegistryConfig(flags),
    platform,
    tagTtlMs: parseDuration(requiredStringFlag(flags, 'tag-ttl'), 'tag-ttl'),
    staleGraceMs: parseDuration(requiredStringFlag(flags, 'stale-grace'), 'stale-grace'),
  };
}
