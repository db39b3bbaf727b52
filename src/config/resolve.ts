/** `camel-oci resolve`'s configuration. */
import { CamelOciError } from '../base/errors.js';
import type { ParsedFlags } from './flags.js';
import { booleanFlag, deepFreeze, parseDuration, requiredStringFlag } from './flags.js';
import type { ResolverConfig } from './registry.js';
import { loadResolverConfig } from './registry.js';

/** Everything `resolve` runs with. */
export interface ResolveConfig {
  /** The references to resolve, as given (at least one). */
  readonly references: readonly string[];
  /** `--json`: print JSON instead of a human summary. */
  readonly json: boolean;
  /** `--timeout` in milliseconds. */
  readonly timeoutMs: number;
  readonly resolver: ResolverConfig;
}

/** Loads and validates `resolve`'s configuration. Throws CONFIG_INVALID naming the flag. */
export function loadResolveConfig(flags: ParsedFlags): ResolveConfig {
  const references = flags.positionals;
  if (references.length === 0) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      'camel-oci resolve: give at least one reference, e.g. camel-oci resolve container:docker.io/acme/deps:1.0',
    );
  }
  const timeoutMs = parseDuration(requiredStringFlag(flags, 'timeout'), 'timeout');
  return deepFreeze({ references: [...references], json: booleanFlag(flags, 'json'), timeoutMs, resolver: loadResolverConfig(flags) });
}
