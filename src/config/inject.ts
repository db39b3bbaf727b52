/** `camel-oci inject`'s configuration. */
import { CamelOciError } from '../base/errors.js';
import type { FetcherConfig } from './fetcher.js';
import { loadFetcherConfig } from './fetcher.js';
import type { ParsedFlags } from './flags.js';
import { booleanFlag, deepFreeze, parseDuration, requiredStringFlag, stringFlag } from './flags.js';
import type { ResolverConfig } from './registry.js';
import { loadResolverConfig } from './registry.js';

/** Everything `inject` runs with. */
export interface InjectConfig {
  /** `-f` (or the first argument): the YAML file, `-` for standard input. */
  readonly file: string;
  /** `--timeout` in milliseconds: the deadline for resolving references. */
  readonly timeoutMs: number;
  readonly fetcher: FetcherConfig;
  readonly resolver: ResolverConfig;
  /** `--image-volumes`: mount artifacts in the camel-oci image layout as image volumes instead of fetching them. */
  readonly imageVolumes: boolean;
}

/** Loads and validates `inject`'s configuration. Throws CONFIG_INVALID naming the flag. */
export function loadInjectConfig(flags: ParsedFlags): InjectConfig {
  const file = stringFlag(flags, 'filename') ?? flags.positionals[0];
  if (file === undefined) throw new CamelOciError('CONFIG_INVALID', 'camel-oci inject: give -f FILE, or -f - to read standard input');
  const fetcher = loadFetcherConfig(flags);
  return deepFreeze({
    file,
    fetcher,
    resolver: loadResolverConfig(flags),
    timeoutMs: parseDuration(requiredStringFlag(flags, 'timeout'), 'timeout'),
    imageVolumes: booleanFlag(flags, 'image-volumes'),
  });
}
