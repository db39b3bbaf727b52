/**
 * Options of the patch builder, their defaults, and their validation. Pure.
 */
import { InjectError } from '../base/errors.js';
import { isCertificatesOnly } from '../base/pem.js';
import { DEFAULT_VOLUME_SIZE_LIMIT } from '../config/defaults.js';
import { parseQuantity } from './quantity.js';
import { ENV_ALLOW_REGISTRY, ENV_CA_PEM, ENV_INSECURE_REGISTRY, MAX_CA_PEM_BYTES } from '../plan/env.js';

/** CPU and memory quantities. */
export interface ResourceQuantities {
  readonly cpu?: string;
  readonly memory?: string;
}

/** Requests and limits of the init container. */
export interface FetcherResources {
  readonly requests?: ResourceQuantities;
  readonly limits?: ResourceQuantities;
}

/** How to build the injection (from `camel-oci serve` / `inject` flags). */
export interface InjectOptions {
  /** Image of the init container (the camel-oci image, ideally pinned by digest). */
  readonly fetcherImage: string;
  /** Floor of the emptyDir `sizeLimit` (default {@link DEFAULT_VOLUME_SIZE_LIMIT}); raised for large layers. */
  readonly volumeSizeLimit?: string;
  /** Overrides of {@link DEFAULT_FETCHER_RESOURCES}, field by field. */
  readonly fetcherResources?: FetcherResources;
  /** Whole-fetch timeout handed to the init container (env `CAMEL_OCI_TIMEOUT`); unset: the fetcher's default. */
  readonly fetchTimeoutSeconds?: number;
  /** `imagePullPolicy` of the init container; unset: Kubernetes' default for the image reference. */
  readonly imagePullPolicy?: string;
  /**
   * PEM certificates the fetcher trusts for registry TLS on top of the system's (env
   * `CAMEL_OCI_CA_PEM`): the webhook's own `--ca-file` CAs, so a registry it resolved at admission
   * is one the init container can reach. Certificate blocks only, at most {@link MAX_CA_PEM_BYTES}.
   */
  readonly caPem?: string;
  /**
   * The webhook's `--allow-registry` entries, handed to the fetcher (env `CAMEL_OCI_ALLOW_REGISTRY`)
   * so the registries, token realms and redirects it meets obey the admission policy. Empty or
   * unset: no env. At most {@link MAX_REGISTRY_ENTRIES} entries matching {@link REGISTRY_ENTRY}.
   */
  readonly allowRegistries?: readonly string[];
  /**
   * The webhook's `--insecure-registry` entries (env `CAMEL_OCI_INSECURE_REGISTRY`); same rules as
   * {@link InjectOptions.allowRegistries}.
   */
  readonly insecureRegistries?: readonly string[];
  /**
   * Mount artifacts in the camel-oci image layout as `image` volumes instead of fetching them
   * (README.md, "Image volumes"); off by default: it needs Kubernetes and a runtime that support them.
   */
  readonly imageVolumes?: boolean;
  /**
   * `off`: add no mesh outbound-port exclusions (mesh.ts) to pods with the init container, for
   * meshes whose sidecar already runs when init containers do (Istio native sidecars) or whose
   * egress policy must see the integration's port-443 traffic. Default `auto`.
   */
  readonly meshExclusions?: 'auto' | 'off';
}

/**
 * What a registry policy entry may contain: host names, `*.` wildcards, ports and bracketed IPv6
 * addresses. No comma (the env list separator), no white space, nothing a shell or parser could
 * read differently.
 */
export const REGISTRY_ENTRY = /^[A-Za-z0-9*.:[\]-]+$/;
/** Longest registry entry: a 253-character DNS name, brackets, a colon and a 5-digit port. */
export const MAX_REGISTRY_ENTRY_CHARS = 261;
/** Most entries per registry list: operators name a handful; more is a mistake and bloats every pod spec. */
export const MAX_REGISTRY_ENTRIES = 64;

/** Default floor of the emptyDir `sizeLimit` (also the serve and inject flag default). */
export { DEFAULT_VOLUME_SIZE_LIMIT };

/**
 * Default init container resources. Requests are small so the pod's effective request (the max of
 * init containers and the sum of app containers) does not grow; limits allow parallel streaming
 * (download, sha256, gunzip) at full speed while keeping a runaway fetcher from hurting the node.
 * Both are set so namespaces whose LimitRange or ResourceQuota requires them admit the pod.
 */
export const DEFAULT_FETCHER_RESOURCES = {
  requests: { cpu: '100m', memory: '64Mi' },
  limits: { cpu: '1', memory: '256Mi' },
} as const;

/** Shortest accepted fetch timeout, in seconds. */
export const MIN_FETCH_TIMEOUT_SECONDS = 1;
/** Longest accepted fetch timeout: an hour (Camel K's own deadlines are 60 s; longer is a typo). */
export const MAX_FETCH_TIMEOUT_SECONDS = 3600;

/** Accepted image reference length (Kubernetes does not bound it, registries do at about this). */
const MAX_IMAGE_CHARS = 1024;

const PULL_POLICIES = new Set(['Always', 'IfNotPresent', 'Never']);

/**
 * The last CA text that passed the checks. The webhook hands the same options to every admission,
 * and scanning up to 64 KiB each time would cost more than the rest of the patch; a string that
 * is the same instance compares in constant time. A memo of a pure check: outputs do not change.
 */
let lastAcceptedCaPem: string | undefined;

/** Options with defaults filled in and every value checked. */
export interface NormalizedOptions {
  readonly fetcherImage: string;
  readonly volumeSizeLimit: string;
  readonly volumeSizeLimitBytes: number;
  readonly resources: { readonly requests: Required<ResourceQuantities>; readonly limits: Required<ResourceQuantities> };
  readonly fetchTimeoutSeconds?: number;
  readonly imagePullPolicy?: string;
  readonly caPem?: string;
  readonly allowRegistries: readonly string[];
  readonly insecureRegistries: readonly string[];
  /** Present (true) only when image-volume mode is on. */
  readonly imageVolumes?: true;
  /**
   * Present (`off`) only when mesh exclusions are off. Named as in InjectOptions, so that options
   * normalized once (the webhook and `inject` normalize at start) normalize again to the same.
   */
  readonly meshExclusions?: 'off';
}

function invalid(message: string): InjectError {
  return new InjectError('CONFIG_INVALID', `invalid injection options: ${message}`);
}

function quantity(text: unknown, what: string): string {
  if (typeof text !== 'string' || parseQuantity(text) === undefined) {
    throw invalid(`${what} ${JSON.stringify(text)} is not a Kubernetes quantity (for example 100m, 1, 64Mi)`);
  }
  return text;
}

function registryList(list: unknown, flag: string, env: string): readonly string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalid(`--${flag} (${env}) must be a list of registries`);
  if (list.length > MAX_REGISTRY_ENTRIES) {
    throw invalid(`--${flag} (${env}) has ${list.length} entries, at most ${MAX_REGISTRY_ENTRIES} are accepted: use *.domain wildcards`);
  }
  for (const entry of list) {
    if (typeof entry !== 'string' || entry.length > MAX_REGISTRY_ENTRY_CHARS || !REGISTRY_ENTRY.test(entry)) {
      const shown = typeof entry === 'string' ? JSON.stringify(entry.slice(0, 80)) : typeof entry;
      throw invalid(
        `--${flag} (${env}) entry ${shown} is not a registry (host, host:port, [ipv6]:port or *.domain, at most ${MAX_REGISTRY_ENTRY_CHARS} characters)`,
      );
    }
  }
  return Object.freeze([...(list as string[])]);
}

/** Fills in defaults and validates. Throws InjectError CONFIG_INVALID naming the bad option. */
export function normalizeInjectOptions(options: InjectOptions): NormalizedOptions {
  const image = options.fetcherImage;
  if (typeof image !== 'string' || image.length === 0 || image.length > MAX_IMAGE_CHARS || /\s/.test(image)) {
    throw invalid(`fetcher image ${JSON.stringify(image)} is not an image reference`);
  }
  const volumeSizeLimit = quantity(options.volumeSizeLimit ?? DEFAULT_VOLUME_SIZE_LIMIT, 'volume size limit (--volume-size-limit)');
  const r = options.fetcherResources ?? {};
  const requests = {
    cpu: quantity(r.requests?.cpu ?? DEFAULT_FETCHER_RESOURCES.requests.cpu, 'fetcher CPU request'),
    memory: quantity(r.requests?.memory ?? DEFAULT_FETCHER_RESOURCES.requests.memory, 'fetcher memory request'),
  };
  const limits = {
    cpu: quantity(r.limits?.cpu ?? DEFAULT_FETCHER_RESOURCES.limits.cpu, 'fetcher CPU limit'),
    memory: quantity(r.limits?.memory ?? DEFAULT_FETCHER_RESOURCES.limits.memory, 'fetcher memory limit'),
  };
  for (const k of ['cpu', 'memory'] as const) {
    // The apiserver rejects a request above its limit; say so here, with the option's name.
    if ((parseQuantity(requests[k]) as number) > (parseQuantity(limits[k]) as number)) {
      throw invalid(`fetcher ${k} request ${requests[k]} is above its limit ${limits[k]}`);
    }
  }
  const timeout = options.fetchTimeoutSeconds;
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < MIN_FETCH_TIMEOUT_SECONDS || timeout > MAX_FETCH_TIMEOUT_SECONDS)) {
    throw invalid(
      `fetch timeout ${timeout} must be a whole number of seconds from ${MIN_FETCH_TIMEOUT_SECONDS} to ${MAX_FETCH_TIMEOUT_SECONDS}`,
    );
  }
  const policy = options.imagePullPolicy;
  if (policy !== undefined && !PULL_POLICIES.has(policy)) {
    throw invalid(`image pull policy ${JSON.stringify(policy)} must be Always, IfNotPresent or Never`);
  }
  const caPem = options.caPem;
  if (caPem !== undefined && caPem !== lastAcceptedCaPem) {
    const bytes = typeof caPem === 'string' ? Buffer.byteLength(caPem, 'utf8') : 0;
    if (bytes > MAX_CA_PEM_BYTES) {
      throw invalid(
        `the CA certificates for ${ENV_CA_PEM} take ${bytes} bytes, more than the ${MAX_CA_PEM_BYTES} an init container's env may carry: give --ca-file only the CAs that signed your registries' certificates`,
      );
    }
    if (typeof caPem !== 'string' || !isCertificatesOnly(caPem)) {
      throw invalid(`the CA certificates for ${ENV_CA_PEM} must be PEM certificate blocks and nothing else`);
    }
    lastAcceptedCaPem = caPem;
  }
  const allowRegistries = registryList(options.allowRegistries, 'allow-registry', ENV_ALLOW_REGISTRY);
  const insecureRegistries = registryList(options.insecureRegistries, 'insecure-registry', ENV_INSECURE_REGISTRY);
  return {
    fetcherImage: image,
    volumeSizeLimit,
    volumeSizeLimitBytes: parseQuantity(volumeSizeLimit) as number,
    resources: { requests, limits },
    ...(timeout !== undefined ? { fetchTimeoutSeconds: timeout } : {}),
    ...(policy !== undefined ? { imagePullPolicy: policy } : {}),
    ...(caPem !== undefined ? { caPem } : {}),
    allowRegistries,
    insecureRegistries,
    ...(options.imageVolumes === true ? { imageVolumes: true as const } : {}),
    ...(options.meshExclusions === 'off' ? { meshExclusions: 'off' as const } : {}),
  };
}
