/**
 * What `camel-oci audit` reads from the Kubernetes API: integration pods (label
 * `camel.apache.org/integration`), and camel.apache.org/v1 Integrations and Pipes when the API
 * serves them. Paginated lists (`limit`/`continue`), each page under its own deadline and size
 * limit through the bounded transport of client.ts, with a bound on pages and items.
 *
 * RBAC: `list` on `pods`, and on `integrations` and `pipes` in group `camel.apache.org`, in the
 * namespaces audited (cluster-wide for `-A`).
 */
import { ApiException, CoreV1Api, CustomObjectsApi, type ConfigurationOptions, type KubeConfig } from '@kubernetes/client-node';
import { raceSignal } from '../base/abort.js';
import { ServeError } from '../base/errors.js';
import { LABEL_INTEGRATION } from '../inject/annotations.js';
import { boundedHttpLibrary } from './client.js';

/** Items asked for per page: a page of injected pods stays around a few MiB. */
export const AUDIT_PAGE_SIZE = 250;
/** Largest page body read (a page of 250 large pods; the apiserver's own default limit is 3 MiB per object). */
export const MAX_AUDIT_PAGE_BYTES = 32 * 1024 * 1024;
/** Most items read per kind: well above any cluster's integration pods, and a bound on memory. */
export const MAX_AUDIT_ITEMS = 50_000;
/** Most pages read per kind (a server that keeps answering with a continue token must not loop us forever). */
export const MAX_AUDIT_PAGES = Math.ceil(MAX_AUDIT_ITEMS / AUDIT_PAGE_SIZE) + 10;
/** Default deadline of each request. */
export const DEFAULT_AUDIT_REQUEST_TIMEOUT_MS = 15_000;

/** Where to read: one namespace, or all of them (null). */
export interface AuditSourceOptions {
  readonly namespace: string | null;
  /** Deadline of each request. */
  readonly requestTimeoutMs?: number;
  /** Aborts every request (the command's overall deadline). */
  readonly signal?: AbortSignal;
  /** Items per page; tests pass small ones to exercise pagination. */
  readonly pageSize?: number;
  /** Bound on items per kind. */
  readonly maxItems?: number;
  /** Bound on one page's body; default {@link MAX_AUDIT_PAGE_BYTES}. */
  readonly maxPageBytes?: number;
}

/** Objects read, as plain JSON. */
export interface AuditSourceResult {
  readonly pods: unknown[];
  readonly integrations: unknown[];
  readonly pipes: unknown[];
  /** False when the API answered 404 for camel.apache.org/v1 integrations (Camel K not installed). */
  readonly camelApi: boolean;
}

const CAMEL_GROUP = 'camel.apache.org';
const CAMEL_VERSION = 'v1';

/** One page as the API answers a list. */
interface Page {
  readonly items: unknown[];
  readonly continueToken: string | undefined;
}

function apiError(err: unknown, what: string): ServeError {
  if (err instanceof ServeError) return err;
  if (err instanceof ApiException) {
    // The exception's message embeds the response body and headers: only its status is used.
    const status = err.code;
    if (status === 401)
      return new ServeError('UNAUTHORIZED', `the Kubernetes API rejected the credentials of the kubeconfig while listing ${what} (401)`, {
        context: { status },
      });
    if (status === 403) {
      return new ServeError(
        'DENIED',
        `listing ${what} is forbidden (403): grant the audit's user list on ${what} in the namespaces audited (cluster-wide for -A)`,
        { context: { status } },
      );
    }
    if (status === 410) {
      return new ServeError('UNAVAILABLE', `the list of ${what} changed too much while it was being read (410 Gone): run the audit again`, {
        retryable: true,
        context: { status },
      });
    }
    return new ServeError(
      status >= 500 || status === 429 ? 'UNAVAILABLE' : 'INTERNAL',
      `the Kubernetes API answered ${status} while listing ${what}`,
      {
        retryable: status >= 500 || status === 429,
        context: { status },
      },
    );
  }
  const name = err instanceof Error ? err.name : typeof err;
  // client-node's deserializer messages may quote the body: the error's type only.
  return new ServeError('INTERNAL', `unexpected answer from the Kubernetes API while listing ${what} (${name})`, { cause: err });
}

/**
 * The object as the API's JSON: client-node turns typed models' timestamps into Date objects,
 * which go back to RFC 3339 text in whole seconds, as the API writes them.
 */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
      const original = this[key];
      return original instanceof Date && !Number.isNaN(original.getTime()) && original.getUTCMilliseconds() === 0
        ? original.toISOString().replace('.000Z', 'Z')
        : v;
    }),
  );
}

/**
 * Reads the audit's objects through `kubeConfig`. Throws ServeError: `UNAUTHORIZED` (401),
 * `DENIED` (403, with the RBAC to grant), `UNAVAILABLE` (5xx, 429, 410 or a connection failure),
 * `TIMEOUT` (a request missed its deadline), `SIZE_EXCEEDED` (a page over {@link MAX_AUDIT_PAGE_BYTES},
 * or more than `maxItems` objects of a kind), `TLS_ERROR`, `INTERNAL` (an answer that is no list).
 */
export async function readAuditObjects(kubeConfig: KubeConfig, options: AuditSourceOptions): Promise<AuditSourceResult> {
  if (kubeConfig.getCurrentCluster() === null)
    throw new ServeError('CONFIG_INVALID', 'the kubeconfig has no current context with a cluster (kubectl config use-context NAME)');
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const timeoutMs = Math.max(1, options.requestTimeoutMs ?? DEFAULT_AUDIT_REQUEST_TIMEOUT_MS);
  const limit = Math.max(1, Math.floor(options.pageSize ?? AUDIT_PAGE_SIZE));
  const maxItems = Math.max(1, options.maxItems ?? MAX_AUDIT_ITEMS);
  const maxPageBytes = Math.max(1, options.maxPageBytes ?? MAX_AUDIT_PAGE_BYTES);
  const ns = options.namespace;

  /** One request under its own deadline (and the caller's signal), through the bounded transport. */
  async function call<T>(fn: (o: ConfigurationOptions) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new ServeError('TIMEOUT', `the Kubernetes API did not answer within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    const onOuter = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuter, { once: true });
    if (options.signal?.aborted === true) onOuter();
    try {
      const httpApi = boundedHttpLibrary({ signal: controller.signal, maxBodyBytes: maxPageBytes });
      return await raceSignal(fn({ httpApi }), controller.signal);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuter);
    }
  }

  async function listAll(what: string, page: (cont: string | undefined, o: ConfigurationOptions) => Promise<unknown>): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let cont: string | undefined;
    for (let pages = 0; ; pages++) {
      if (pages === MAX_AUDIT_PAGES)
        throw new ServeError(
          'SIZE_EXCEEDED',
          `listing ${what} took more than ${MAX_AUDIT_PAGES} pages: audit one namespace at a time (-n)`,
        );
      let answer: unknown;
      try {
        answer = await call((o) => page(cont, o));
      } catch (err) {
        throw apiError(err, what);
      }
      const { items: got, continueToken } = readPage(answer, what);
      if (items.length + got.length > maxItems) {
        throw new ServeError('SIZE_EXCEEDED', `there are more than ${maxItems} ${what} to read: audit one namespace at a time (-n)`, {
          context: { limit: maxItems },
        });
      }
      items.push(...got.map(plain));
      if (continueToken === undefined) return items;
      // A server handing back a token it gave before would make us read the same pages forever.
      if (seen.has(continueToken)) throw new ServeError('INTERNAL', `the Kubernetes API repeated a continue token while listing ${what}`);
      seen.add(continueToken);
      cont = continueToken;
    }
  }

  const pods = await listAll('pods', (cont, o) => {
    const query = { labelSelector: LABEL_INTEGRATION, limit, ...(cont !== undefined ? { _continue: cont } : {}) };
    return ns === null ? core.listPodForAllNamespaces(query, o) : core.listNamespacedPod({ namespace: ns, ...query }, o);
  });

  const listCustom =
    (plural: string) =>
    (cont: string | undefined, o: ConfigurationOptions): Promise<unknown> => {
      const query = { group: CAMEL_GROUP, version: CAMEL_VERSION, plural, limit, ...(cont !== undefined ? { _continue: cont } : {}) };
      return ns === null ? custom.listClusterCustomObject(query, o) : custom.listNamespacedCustomObject({ namespace: ns, ...query }, o);
    };
  /** The list, or undefined when the API does not serve the resource (404). */
  async function optional(plural: string): Promise<unknown[] | undefined> {
    try {
      return await listAll(`${plural}.${CAMEL_GROUP}`, listCustom(plural));
    } catch (err) {
      if (err instanceof ServeError && err.context.status === 404) return undefined;
      throw err;
    }
  }
  const integrations = await optional('integrations');
  if (integrations === undefined) return { pods, integrations: [], pipes: [], camelApi: false };
  // A Camel K older than Pipes serves Integrations only.
  const pipes = (await optional('pipes')) ?? [];
  return { pods, integrations, pipes, camelApi: true };
}

function readPage(answer: unknown, what: string): Page {
  const o = answer as { items?: unknown; metadata?: { _continue?: unknown; continue?: unknown } } | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.items))
    throw new ServeError('INTERNAL', `the Kubernetes API answered a list of ${what} without items`);
  // Typed lists (pods) carry `_continue`, custom object lists the wire name `continue`.
  const token = o.metadata?._continue ?? o.metadata?.continue;
  return { items: o.items, continueToken: typeof token === 'string' && token !== '' ? token : undefined };
}
