/** How serve and inject build the injection: the init container's image, volume floor and deadline, image volumes, mesh exclusions. */
import { version } from '../base/version.js';
import type { ParsedFlags } from './flags.js';
import { CamelOciError } from '../base/errors.js';
import { booleanFlag, parseDuration, requiredStringFlag, stringFlag } from './flags.js';

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
  /** `--image-volumes`: mount artifacts in the camel-oci image layout as image volumes instead of fetching them. */
  readonly imageVolumes: boolean;
  /** `--mesh-exclusions`: `auto` adds the Istio/Linkerd outbound-port exclusions for the fetcher, `off` adds none. */
  readonly meshExclusions: MeshExclusions;
}

/** Values of `--mesh-exclusions`. */
export type MeshExclusions = 'auto' | 'off';

function parseMeshExclusions(text: string): MeshExclusions {
  const t = text.trim().toLowerCase();
  if (t === 'auto' || t === 'off') return t;
  throw new CamelOciError('CONFIG_INVALID', `--mesh-exclusions: ${JSON.stringify(text)} must be auto or off`);
}

/** Reads the fetcher flags. */
export function loadFetcherConfig(flags: ParsedFlags): FetcherConfig {
  return {
    fetcherImage: stringFlag(flags, 'fetcher-image') ?? defaultFetcherImage(),
    volumeSizeLimit: requiredStringFlag(flags, 'volume-size-limit'),
    fetchTimeoutSeconds: Math.ceil(parseDuration(requiredStringFlag(flags, 'fetch-timeout'), 'fetch-timeout') / 1000),
    imageVolumes: booleanFlag(flags, 'image-volumes'),
    meshExclusions: parseMeshExclusions(requiredStringFlag(flags, 'mesh-exclusions')),
  };
}
