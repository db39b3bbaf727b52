/** What serve and inject hand to the injected init container: its image, volume floor and deadline. */
import { version } from '../base/version.js';
import type { ParsedFlags } from './flags.js';
import { parseDuration, requiredStringFlag, stringFlag } from './flags.js';

/** Image the init container runs when `--fetcher-image` is not given: this very release. */
export function defaultFetcherImage(): string {
  return `camel-oci:${version()}`;
}

/** The fetcher flags of serve and inject. */
export interface FetcherConfig {
  /** `--fetcher-image`, else {@link defaultFetcherImage}. */
  readonly fetcherImage: string;
  /** `--volume-size-limit` as written (a Kubernetes quantity, checked by the patch builder's options). */
  readonly volumeSizeLimit: string;
  /** `--fetch-timeout` in whole seconds, rounded up. */
  readonly fetchTimeoutSeconds: number;
}

/** Reads the fetcher flags. */
export function loadFetcherConfig(flags: ParsedFlags): FetcherConfig {
  return {
    fetcherImage: stringFlag(flags, 'fetcher-image') ?? defaultFetcherImage(),
    volumeSizeLimit: requiredStringFlag(flags, 'volume-size-limit'),
    fetchTimeoutSeconds: Math.ceil(parseDuration(requiredStringFlag(flags, 'fetch-timeout'), 'fetch-timeout') / 1000),
  };
}
