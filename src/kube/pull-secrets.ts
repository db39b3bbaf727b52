/**
 * The pod's image pull secrets, read from the Kubernetes API, so the webhook resolves private
 * references with the credentials the pod itself brings (docs/architecture.md, "The fetcher's contract").
 *
 * Which secrets: the pod's `spec.imagePullSecrets`, the list the kubelet pulls with and the one the
 * fetcher init container gets projected (src/inject/fetcher.ts). When the pod lists none, those of
 * its service account (`spec.serviceAccountName`, default `default`). That is the ServiceAccount
 * admission plugin's rule: it copies the service account's list into a pod that has none, and never
 * merges it into a pod's own list; it runs before mutating webhooks, so the pod we see normally
 * carries the copy already and the fallback only matters where the plugin is off. Merging the
 * service account's secrets into a pod's own list would give the webhook credentials neither the
 * kubelet nor the fetcher has: resolution would succeed and the fetch would fail at pod start.
 *
 * Which data: as the kubelet (pkg/credentialprovider/secrets): type `kubernetes.io/dockerconfigjson`
 * with key `.dockerconfigjson`, or type `kubernetes.io/dockercfg` with key `.dockercfg` (the legacy
 * map, handed on wrapped as `{"auths": ...}` so every text has one shape). Other types are ignored.
 *
 * Best effort: a pull secret is one credential source among others, so nothing here fails an
 * admission. A missing (404) or forbidden (403) secret, a timeout or an apiserver error is logged
 * (never the secret's contents) and skipped.
 *
 * RBAC (least privilege): the webhook's service account needs `get` on `secrets` and on
 * `serviceaccounts` (the latter only for pods listing no pull secrets), in the namespaces whose pods
 * it admits; no `list` or `watch`. Names cannot be restricted with `resourceNames` (they come from
 * the pods), so bind a ClusterRole with those two rules through a RoleBinding in each namespace
 * that runs integrations, or a ClusterRoleBinding when every namespace does. Without the grant the
 * reads answer 403, logged as a warning, and only the webhook's own registry credentials are used.
 */
import type { ConfigurationOptions, KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { CamelOciError, ServeError, isCamelOciError } from '../base/errors.js';
import { parseDockerConfig, type DockerConfig } from '../oci/docker-config.js';
import { SingleFlight } from '../base/single-flight.js';
import { TtlCache } from '../base/ttl-cache.js';
import { raceSignal } from '../base/abort.js';
import { createLogger, type Logger } from '../base/logger.js';
import { isNamespaceName, isObjectName, MAX_POD_PULL_SECRETS, podPullSecretNames, referenceNames } from '../inject/pull-secrets.js';
import {
  boundedHttpLibrary,
  coreV1Api,
  inClusterKubeConfig,
  isInCluster,
  kubeConfigFromEnv,
  SERVICE_ACCOUNT_DIR,
  type KubeEnv,
} from './client.js';
import { asRecord } from '../base/json.js';

/** `--pull-secrets`: read pull secrets when running in a cluster (`auto`), always (`true`), or never (`false`). */
export type PullSecretMode = 'auto' | 'true' | 'false';

/**
 * Reads and parses the docker configs of a pod's pull secrets in `namespace`. Resolves with what it could
 * read (possibly nothing); never rejects because of the apiserver or a secret.
 */
export type PullSecretReader = (namespace: string, pod: unknown) => Promise<DockerConfig[]>;

/** Tuning of a reader; every field has a default fit for the webhook. */
export interface PullSecretReaderOptions {
  /** How long a read secret or service account is reused; 0 disables the cache. Default {@link DEFAULT_CACHE_TTL_MS}. */
  readonly cacheTtlMs?: number;
  /** Most secrets read for one pod. Default {@link MAX_POD_PULL_SECRETS}. */
  readonly maxSecrets?: number;
  /** Deadline of each apiserver request. Default {@link DEFAULT_KUBE_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Where problems are logged (never secret contents). Default: silent. */
  readonly logger?: Logger;
  /** The cache's clock; tests pass a fake one. */
  readonly now?: () => number;
}

/** What `createPullSecretReader` takes besides the mode: reader tuning and, for tests, where the service account is mounted. */
export interface PullSecretReaderSetup extends Omit<PullSecretReaderOptions, 'logger'> {
  readonly serviceAccountDir?: string;
}

/** Reuse of a read secret: short, so a rotated or revoked pull secret takes effect quickly, yet a burst of pods costs one read. */
export const DEFAULT_CACHE_TTL_MS = 30_000;
/** Deadline of one apiserver request: the admission budget is 10 s by default and registries need most of it. */
export const DEFAULT_KUBE_TIMEOUT_MS = 2_000;
/** Largest decoded docker config accepted: the apiserver caps a Secret's data at 1 MiB (and parseDockerConfig its text). */
export const MAX_SECRET_DATA_BYTES = 1024 * 1024;
/**
 * Largest apiserver answer read: a 1 MiB secret is 1.34 MiB of base64, plus metadata (annotations
 * up to 256 KiB, managedFields); anything bigger is not a Secret or ServiceAccount.
 */
export const MAX_KUBE_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Bound on cached entries (secrets and service accounts, each): names come from users. */
export const MAX_CACHE_ENTRIES = 1024;
/** Bound on the bytes of cached docker configs (counted as their text), so many large secrets cannot fill memory. */
export const MAX_CACHE_BYTES = 32 * 1024 * 1024;

const TYPE_DOCKERCONFIGJSON = 'kubernetes.io/dockerconfigjson';
const TYPE_DOCKERCFG = 'kubernetes.io/dockercfg';
/** The data key each pull secret type keeps its config under (k8s.io/api/core/v1 DockerConfigJsonKey, DockerConfigKey). */
const PULL_SECRET_KEY: Readonly<Record<string, string>> = { [TYPE_DOCKERCONFIGJSON]: '.dockerconfigjson', [TYPE_DOCKERCFG]: '.dockercfg' };

/**
 * The pod's service account: `spec.serviceAccountName`, else the deprecated `spec.serviceAccount`,
 * else `default` (what the ServiceAccount admission plugin assigns). Undefined when the name given is invalid.
 */
export function podServiceAccountName(pod: unknown): string | undefined {
  const spec = asRecord(asRecord(pod)?.spec);
  const given = spec?.serviceAccountName || spec?.serviceAccount;
  if (given === undefined || given === null || given === '') return 'default';
  return isObjectName(given) ? given : undefined;
}

/** A pull secret's parsed docker config and its text's size (for the cache bound). */
type Parsed = { readonly config: DockerConfig; readonly bytes: number };

/** A pull secret's docker config, or why it has none. */
export type SecretDockerConfig =
  { readonly config: DockerConfig; readonly bytes: number } | { readonly skipped: string; readonly level: 'debug' | 'warn' };

/**
 * Extracts and parses the docker config of a Secret read from the API (its `data` values are base64), as
 * the kubelet does: the type decides the key. The legacy `.dockercfg` map is wrapped into
 * `{"auths": ...}`. The text is checked with parseDockerConfig so a broken secret is reported here,
 * by name, instead of being silently skipped later. Reasons never quote the contents.
 */
export function dockerConfigFromSecret(secret: Pick<V1Secret, 'type' | 'data'>, source: string): SecretDockerConfig {
  const type = secret.type ?? '';
  const key = PULL_SECRET_KEY[type];
  if (key === undefined) {
    return {
      skipped: `type "${type.slice(0, 100)}" is not ${TYPE_DOCKERCONFIGJSON} or ${TYPE_DOCKERCFG}; the kubelet ignores it too`,
      level: 'warn',
    };
  }
  const data = asRecord(secret.data);
  const encoded = data?.[key];
  if (typeof encoded !== 'string' || encoded === '') return { skipped: `type ${type} but no "${key}" data`, level: 'warn' };
  // Check the size before decoding: base64 is 4 characters for 3 bytes.
  if (Math.floor((encoded.length * 3) / 4) > MAX_SECRET_DATA_BYTES + 2) {
    return { skipped: `"${key}" is larger than ${MAX_SECRET_DATA_BYTES} bytes`, level: 'warn' };
  }
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length > MAX_SECRET_DATA_BYTES) return { skipped: `"${key}" is larger than ${MAX_SECRET_DATA_BYTES} bytes`, level: 'warn' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { skipped: `"${key}" is not UTF-8 text`, level: 'warn' };
  }
  if (type === TYPE_DOCKERCFG) {
    let legacy: unknown;
    try {
      legacy = JSON.parse(text);
    } catch {
      // Never echo the parser's message: it may quote the input.
      return { skipped: `"${key}" is not valid JSON`, level: 'warn' };
    }
    if (asRecord(legacy) === undefined) return { skipped: `"${key}" is not a JSON object`, level: 'warn' };
    text = JSON.stringify({ auths: legacy });
  }
  try {
    const config = parseDockerConfig(text, source);
    if (config.entries.length === 0) return { skipped: `"${key}" holds no usable credentials`, level: 'warn' };
    return { config, bytes: text.length };
  } catch (err) {
    // parseDockerConfig's messages name the source and registry keys, never secrets.
    return { skipped: isCamelOciError(err) ? err.message : 'not a docker config', level: 'warn' };
  }
}

/** A read's result, and whether to remember it (an answer, even "not found"; not a transient failure). */
interface Loaded<V> {
  readonly value: V;
  readonly cache: boolean;
}

/** How a failed read is reported: log level, a log-safe reason, and whether the answer may be cached. */
interface Failure {
  readonly level: 'debug' | 'warn';
  readonly reason: string;
  readonly status?: number;
  readonly code?: string;
  readonly cache: boolean;
}

function describeFailure(err: unknown, kind: string): Failure {
  if (err instanceof ApiException) {
    // Log the status only: the exception's message embeds the response body and headers.
    const status = err.code;
    if (status === 404) return { level: 'debug', reason: `${kind} not found`, status, cache: true };
    if (status === 403) {
      return {
        level: 'warn',
        reason: `forbidden: grant the webhook's service account get on ${kind}s in this namespace`,
        status,
        cache: true,
      };
    }
    if (status === 401) return { level: 'warn', reason: "the apiserver rejected the webhook's credentials", status, cache: false };
    return { level: 'warn', reason: `the apiserver answered ${status}`, status, cache: false };
  }
  if (err instanceof CamelOciError) {
    // A response over the size limit will be as large next time.
    return { level: 'warn', reason: err.message, code: err.code, cache: err.code === 'SIZE_EXCEEDED' };
  }
  // Anything else comes from client-node deserializing the answer; its message may quote the body.
  const name = err instanceof Error ? err.name : typeof err;
  return { level: 'warn', reason: `unexpected answer from the apiserver (${name})`, code: 'INTERNAL', cache: false };
}

/**
 * Creates a reader of pods' pull secrets through `kubeConfig`'s apiserver, with per-request
 * deadlines, size limits, a TTL cache per (namespace, name) and single-flight reads.
 * Throws ServeError `CONFIG_INVALID` when the KubeConfig has no current cluster.
 */
export function createPullSecretReaderFor(kubeConfig: KubeConfig, options: PullSecretReaderOptions = {}): PullSecretReader {
  const api = coreV1Api(kubeConfig);
  const ttlMs = Math.max(0, options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS);
  const maxSecrets = Math.max(0, Math.floor(options.maxSecrets ?? MAX_POD_PULL_SECRETS));
  const timeoutMs = Math.max(1, options.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS);
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const now = options.now ?? Date.now;
  // null: the secret exists no more, is unreadable or holds no docker config; remembered like a config.
  const secrets = new TtlCache<Parsed | null>(ttlMs, MAX_CACHE_ENTRIES, MAX_CACHE_BYTES, now);
  const accounts = new TtlCache<readonly string[]>(ttlMs, MAX_CACHE_ENTRIES, Number.POSITIVE_INFINITY, now);
  const secretFlights = new SingleFlight<Parsed | null>();
  const accountFlights = new SingleFlight<readonly string[]>();

  /** One apiserver call under its own deadline, through the bounded transport. */
  async function call<T>(fn: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new ServeError('TIMEOUT', `the Kubernetes API did not answer within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    try {
      const httpApi = boundedHttpLibrary({ signal: controller.signal, maxBodyBytes: MAX_KUBE_RESPONSE_BYTES });
      // The race also bounds what happens before the request is sent (client-node's authentication step).
      return await raceSignal(fn({ httpApi }), controller.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async function cached<V>(
    cache: TtlCache<V>,
    flights: SingleFlight<V>,
    key: string,
    size: (v: V) => number,
    load: () => Promise<Loaded<V>>,
  ): Promise<V> {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    return flights.do(key, async () => {
      const loaded = await load();
      if (loaded.cache) cache.set(key, loaded.value, size(loaded.value));
      return loaded.value;
    });
  }

  async function loadSecret(namespace: string, name: string): Promise<Loaded<Parsed | null>> {
    const fields = { namespace, secret: name };
    let secret: V1Secret;
    try {
      secret = await call((o) => api.readNamespacedSecret({ name, namespace }, o));
    } catch (err) {
      const f = describeFailure(err, 'secret');
      logger[f.level]({ ...fields, status: f.status, code: f.code, reason: f.reason }, 'pull secret skipped');
      return { value: null, cache: f.cache };
    }
    const config = dockerConfigFromSecret(secret, `secret ${namespace}/${name}`);
    if ('skipped' in config) {
      logger[config.level]({ ...fields, type: secret.type, reason: config.skipped }, 'pull secret skipped');
      return { value: null, cache: true };
    }
    for (const w of config.config.warnings) logger.debug({ ...fields, reason: w }, 'pull secret entry ignored');
    logger.debug({ ...fields, type: secret.type }, 'pull secret read');
    return { value: config, cache: true };
  }

  async function loadAccount(namespace: string, name: string): Promise<Loaded<readonly string[]>> {
    const fields = { namespace, serviceAccount: name };
    let account: V1ServiceAccount;
    try {
      account = await call((o) => api.readNamespacedServiceAccount({ name, namespace }, o));
    } catch (err) {
      const f = describeFailure(err, 'serviceaccount');
      logger[f.level]({ ...fields, status: f.status, code: f.code, reason: f.reason }, 'service account pull secrets skipped');
      return { value: [], cache: f.cache };
    }
    // One more than the limit is kept, so the caller can tell the list was cut.
    const names = referenceNames(account.imagePullSecrets, maxSecrets + 1);
    logger.debug({ ...fields, names: names.length }, 'service account read');
    return { value: names, cache: true };
  }

  const readSecret = (namespace: string, name: string): Promise<Parsed | null> =>
    cached(
      secrets,
      secretFlights,
      JSON.stringify([namespace, name]),
      (v) => (v === null ? 0 : v.bytes),
      () => loadSecret(namespace, name),
    );
  const readAccount = (namespace: string, name: string): Promise<readonly string[]> =>
    cached(
      accounts,
      accountFlights,
      JSON.stringify([namespace, name]),
      () => 0,
      () => loadAccount(namespace, name),
    );

  return async (namespace: string, pod: unknown): Promise<DockerConfig[]> => {
    if (!isNamespaceName(namespace) || asRecord(pod) === undefined) {
      logger.debug({ namespace: String(namespace).slice(0, 63) }, 'no pull secrets read: not a namespace and pod');
      return [];
    }
    let names = podPullSecretNames(pod, maxSecrets + 1);
    let from = 'pod';
    if (names.length === 0) {
      const account = podServiceAccountName(pod);
      if (account !== undefined) names = [...(await readAccount(namespace, account))];
      from = `service account ${account ?? '(invalid name)'}`;
    }
    if (names.length > maxSecrets) {
      logger.warn(
        { namespace, limit: maxSecrets },
        `the ${from} lists more than ${maxSecrets} pull secrets; reading the first ${maxSecrets}`,
      );
      names = names.slice(0, maxSecrets);
    }
    const read = await Promise.all(names.map((name) => readSecret(namespace, name)));
    return read.flatMap((r) => (r === null ? [] : [r.config]));
  };
}

/** Parses `--pull-secrets`. Throws ServeError `CONFIG_INVALID` for anything but auto, true or false. */
export function parsePullSecretMode(value: string): PullSecretMode {
  if (value === 'auto' || value === 'true' || value === 'false') return value;
  throw new ServeError('CONFIG_INVALID', `--pull-secrets must be auto, true or false, not ${JSON.stringify(String(value).slice(0, 40))}`);
}

/**
 * Creates the webhook's pull secret reader from `--pull-secrets` and the environment, or returns
 * undefined when pull secrets are not read: `false`; `auto` outside a cluster (no
 * KUBERNETES_SERVICE_HOST); `auto` in a pod without a service account token (logged).
 * `true` outside a cluster uses the kubeconfig (KUBECONFIG, else ~/.kube/config).
 *
 * Throws ServeError `CONFIG_INVALID` for an unknown mode, and with `true` when no kubeconfig or
 * service account token is found.
 */
export function createPullSecretReader(
  mode: string,
  env: KubeEnv,
  logger: Logger,
  setup: PullSecretReaderSetup = {},
): PullSecretReader | undefined {
  const parsed = parsePullSecretMode(mode);
  if (parsed === 'false') return undefined;
  const inCluster = isInCluster(env);
  if (!inCluster && parsed === 'auto') {
    logger.info(
      "not running in a Kubernetes pod: pods' imagePullSecrets are not read (--pull-secrets=true to read them through a kubeconfig)",
    );
    return undefined;
  }
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = inCluster ? inClusterKubeConfig(env, setup.serviceAccountDir ?? SERVICE_ACCOUNT_DIR) : kubeConfigFromEnv(env);
  } catch (err) {
    if (parsed === 'auto' && isCamelOciError(err, 'CONFIG_INVALID')) {
      logger.warn({ err: err.toJSON() }, "pods' imagePullSecrets are not read");
      return undefined;
    }
    throw err;
  }
  const { serviceAccountDir: _dir, ...tuning } = setup;
  const reader = createPullSecretReaderFor(kubeConfig, { ...tuning, logger });
  logger.info({ server: kubeConfig.getCurrentCluster()?.server }, "reading pods' imagePullSecrets from the Kubernetes API");
  return reader;
}
