/**
 * Self-managed certificates: the webhook owns its TLS Secret and the caBundle of every entry of its
 * MutatingWebhookConfiguration, through the apiserver with its ServiceAccount. One reconcile:
 *
 *   1. GET the Secret and the webhook configuration (fresh quorum reads, no cache).
 *   2. If the Secret exists and some entry's caBundle differs from the Secret's trust set `ca.crt`,
 *      GET the Secret again (a newer Secret means our read was stale: start over), then set every
 *      entry's caBundle with a JSON patch guarded by a `test` of the resourceVersion, and start over.
 *   3. Serve the Secret's certificate if, and only if, every entry's caBundle verifies it.
 *   4. Decide (src/certs/lifecycle.ts). If the Secret must change: generate, then create it (a 409
 *      means another replica won the race) or update it with its resourceVersion (a 409 means
 *      another replica changed it), and start over, so the bundle follows before anyone serves.
 *
 * While a reconcile generates keys, a read-only refresh keeps doing step 3 every re-check period.
 * Replicas re-run this every re-check period (and at the next scheduled transition), so they pick
 * up a certificate another replica wrote without a watch, and repair a bundle someone blanked by
 * re-applying the manifests.
 */
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { ServeError, asCamelOciError } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import {
  SECRET_KEYS,
  bundleMatches,
  bundleVerifies,
  caFingerprints,
  decide,
  notAfterOf,
  trustSet,
  type LifecycleAction,
  type LifecyclePolicy,
  type ManagedSecretData,
} from '../certs/lifecycle.js';
import { applyLifecycleAction } from '../certs/lifecycle-issue.js';
import { splitPemCertificates } from '../certs/trust.js';
import { serviceDnsNames } from '../certs/x509.js';
import { boundedHttpLibrary } from './client.js';

/** Default CA lifetime: five years; its successor is made at half of it. */
export const DEFAULT_CA_LIFETIME_MS = 5 * 365 * 24 * 3600 * 1000;
/** Default serving certificate lifetime: 90 days, reissued at 60. */
export const DEFAULT_SERVING_LIFETIME_MS = 90 * 24 * 3600 * 1000;
/** Default re-check period: how soon a blanked caBundle is repaired and a new Secret picked up. */
export const DEFAULT_RECHECK_MS = 60_000;
/** Deadline of one apiserver request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Largest apiserver answer read: a Secret or webhook configuration is far smaller. */
export const MAX_KUBE_OBJECT_BYTES = 1024 * 1024;
/** Conflicts (409) tolerated in one reconcile before it gives up until the next one. */
export const MAX_CONFLICTS = 8;
/** Rounds of one reconcile (each write is followed by a fresh read): bounds the loop whatever happens. */
const MAX_ROUNDS = 32;
/** Shortest wait between reconciles, so a transition due "now" cannot spin. */
const MIN_WAIT_MS = 50;

/** Recording functions the loop calls (a structural interface: src/webhook/cert-metrics.ts implements it). */
export interface CertificateLifecycleMetrics {
  /** Sets the served certificate's expiry, epoch seconds. */
  servingExpiry(epochSeconds: number): void;
  /** Counts one change of the Secret written by this replica. */
  rotation(action: Exclude<LifecycleAction, 'none'>): void;
  /** Counts one caBundle found not matching the Secret and patched. */
  bundleRepair(): void;
}

/** A certificate and key in PEM to serve. */
export interface ServingPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of {@link startSelfManagedCertificates}. */
export interface SelfManagedOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespace of the Secret and of the Service. */
  readonly namespace: string;
  readonly secretName: string;
  readonly webhookName: string;
  /** Service whose DNS names the serving certificate carries. */
  readonly service: string;
  /** Puts a certificate into service (e.g. TLS `setSecureContext`); may throw to refuse it. */
  readonly serve: (pair: ServingPair) => void;
  readonly logger: Logger;
  readonly metrics?: CertificateLifecycleMetrics;
  readonly caLifetimeMs?: number;
  readonly servingLifetimeMs?: number;
  readonly recheckMs?: number;
  readonly requestTimeoutMs?: number;
  /** Clock (epoch ms); the real one by default. */
  readonly now?: () => number;
}

/** The running loop. */
export interface SelfManagedCertificates {
  /** True while a certificate is served and the caBundle, as last read, verifies it. */
  ready(): boolean;
  /** Runs one reconcile now (joins a running one). */
  reconcile(): Promise<void>;
  /** Stops the timer, ends the requests in flight and waits for a running reconcile. */
  stop(): Promise<void>;
}

/** What one apiserver object read gave: the object, or undefined on 404. */
type Found<T> = T | undefined;

interface WebhookConfigurationView {
  readonly resourceVersion: string;
  readonly entries: ReadonlyArray<{ readonly name: string; readonly caBundlePem: string }>;
}

/** Starts the loop: a first reconcile at once, then every re-check period. */
export function startSelfManagedCertificates(options: SelfManagedOptions): SelfManagedCertificates {
  const now = options.now ?? Date.now;
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(recheckMs >= 100))
    throw new ServeError('CONFIG_INVALID', `the certificate re-check period must be at least 100 ms, got ${recheckMs}`);
  const policy: LifecyclePolicy = {
    caLifetimeMs: options.caLifetimeMs ?? DEFAULT_CA_LIFETIME_MS,
    servingLifetimeMs: options.servingLifetimeMs ?? DEFAULT_SERVING_LIFETIME_MS,
    recheckMs,
    dnsNames: serviceDnsNames(options.service, options.namespace),
  };
  if (policy.servingLifetimeMs > policy.caLifetimeMs) {
    throw new ServeError('CONFIG_INVALID', 'the serving certificate lifetime must not exceed the CA lifetime');
  }
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const admission = options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const { namespace, secretName, webhookName, logger } = options;
  const log = logger.child({ secret: `${namespace}/${secretName}`, webhookConfiguration: webhookName });

  let served: { certPem: string; notAfter: number } | undefined;
  let verified = false;
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  /** The certificate last reported as not verifiable, so it is reported once. */
  let warnedAbout: string | undefined;
  /** Fingerprints of the last trust set every caBundle was seen to match. */
  let lastMatchedTrust: string | undefined;
  /** Webhook configuration reads by the reconcile, so a refresh can tell that its own view is older. */
  let reads = 0;
  /** Aborted by stop(): a request in flight ends then, not at its timeout. */
  const halt = new AbortController();

  /** Runs an apiserver call with a deadline and a size limit; stop() ends it at once. */
  async function call<T>(fn: (o: { httpApi: ReturnType<typeof boundedHttpLibrary> }) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const t = setTimeout(
      () => controller.abort(new ServeError('TIMEOUT', `the Kubernetes API did not answer within ${timeoutMs} ms`, { retryable: true })),
      timeoutMs,
    );
    // A listener, not AbortSignal.any([controller.signal, halt.signal]): on Node 20 the loop's
    // long-lived signal keeps every signal ever combined with it (about 50 bytes per request).
    const onHalt = (): void => controller.abort(halt.signal.reason);
    if (halt.signal.aborted) onHalt();
    else halt.signal.addEventListener('abort', onHalt, { once: true });
    try {
      return await fn({ httpApi: boundedHttpLibrary({ signal: controller.signal, maxBodyBytes: MAX_KUBE_OBJECT_BYTES }) });
    } finally {
      clearTimeout(t);
      halt.signal.removeEventListener('abort', onHalt);
    }
  }

  async function readSecret(): Promise<Found<V1Secret>> {
    try {
      return await call((o) => core.readNamespacedSecret({ name: secretName, namespace }, o));
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw apiError(err, `read the Secret ${namespace}/${secretName}`);
    }
  }

  async function readWebhook(): Promise<WebhookConfigurationView> {
    try {
      const mwc = await call((o) => admission.readMutatingWebhookConfiguration({ name: webhookName }, o));
      return {
        resourceVersion: mwc.metadata?.resourceVersion ?? '',
        entries: (mwc.webhooks ?? []).map((w) => ({ name: w.name, caBundlePem: decodeBundle(w.clientConfig.caBundle) })),
      };
    } catch (err) {
      throw apiError(err, `read the MutatingWebhookConfiguration ${webhookName}`);
    }
  }

  /** Sets every entry's caBundle to `trust`; false on a conflict (someone changed the configuration). */
  async function patchBundles(view: WebhookConfigurationView, trust: readonly string[]): Promise<boolean> {
    const value = Buffer.from(trust.join(''), 'utf8').toString('base64');
    const ops: unknown[] = [{ op: 'test', path: '/metadata/resourceVersion', value: view.resourceVersion }];
    view.entries.forEach((e, i) => {
      // The name test makes an index shifted by a concurrent edit fail instead of patching the wrong entry.
      ops.push(
        { op: 'test', path: `/webhooks/${i}/name`, value: e.name },
        { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value },
      );
    });
    try {
      await call((o) =>
        admission.patchMutatingWebhookConfiguration(
          { name: webhookName, body: ops },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, o),
        ),
      );
      return true;
    } catch (err) {
      // A failed `test` is 422 on some apiserver versions and 409 on others.
      if (err instanceof ApiException && (err.code === 409 || err.code === 422)) return false;
      throw apiError(err, `patch the caBundle of ${webhookName}`);
    }
  }

  /** Creates or updates the Secret; false on a conflict. */
  async function writeSecret(existing: Found<V1Secret>, data: ManagedSecretData): Promise<boolean> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: secretName,
        namespace,
        labels: {
          ...(existing?.metadata?.labels ?? {}),
          'app.kubernetes.io/name': 'camel-oci',
          'app.kubernetes.io/managed-by': 'camel-oci',
        },
        ...(existing?.metadata?.annotations === undefined ? {} : { annotations: existing.metadata.annotations }),
        // The precondition: an update based on an older read fails with 409 instead of overwriting.
        ...(existing === undefined ? {} : { resourceVersion: existing.metadata?.resourceVersion ?? '' }),
      },
      type: 'kubernetes.io/tls',
      data: encodeSecret(data),
    };
    try {
      if (existing === undefined) await call((o) => core.createNamespacedSecret({ namespace, body }, o));
      else await call((o) => core.replaceNamespacedSecret({ name: secretName, namespace, body }, o));
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) return false;
      throw apiError(err, `${existing === undefined ? 'create' : 'update'} the Secret ${namespace}/${secretName}`);
    }
  }

  /** One reconcile (steps 1 to 4 above); returns when to run again (epoch ms). */
  async function reconcileOnce(): Promise<number> {
    let conflicts = 0;
    for (let round = 0; round < MAX_ROUNDS && conflicts < MAX_CONFLICTS && !stopped; round++) {
      log.trace({ round }, 'reconcile: reading');
      const secret = await readSecret();
      const data = secret === undefined ? undefined : decodeSecret(secret);
      const view = await readWebhook();
      reads++;
      if (view.entries.length === 0)
        throw new ServeError('CONFIG_INVALID', `the MutatingWebhookConfiguration ${webhookName} has no webhooks`);
      // Readiness follows the bundle as last read, also when this round cannot repair it (a patch
      // refused with 403 would otherwise leave the replica ready while no call can reach it).
      verified = servedVerifiedBy(view, now());
      const trust = data === undefined ? [] : trustSet(data);
      if (trust.length > 0 && !noteIfMatched(trust, view)) {
        // The Secret read may be older than the bundle (another replica just rotated and patched):
        // check it is still current, so a stale trust set never replaces a newer one.
        const again = await readSecret();
        if (again?.metadata?.resourceVersion !== secret?.metadata?.resourceVersion) continue;
        // A repair: the bundle once matched this very trust set, so someone else changed it. Decided
        // before the patch: a refresh may see the patch applied before its answer comes back.
        const repaired = trustKeyOf(trust) === lastMatchedTrust;
        if (!(await patchBundles(view, trust))) {
          conflicts++;
          continue;
        }
        if (repaired) options.metrics?.bundleRepair();
        log.info({ cas: trust.length, repaired }, "caBundle set to the Secret's CAs");
        continue; // read again: what counts is what the apiserver holds
      }
      const common = intersect(view.entries.map((e) => caFingerprints(e.caBundlePem)));
      const t = now();
      // Serve the newest certificate the bundle verifies before anything else is decided.
      if (data !== undefined) serveIfVerified(data, view, t);
      const decision = decide(data, common, t, policy);
      log.trace({ round, action: decision.action }, 'reconcile: decided');
      if (decision.action !== 'none') {
        // Without a test clock, certificates take the time after their key is generated, so the
        // settle periods count from (nearly) the write, not from the decision.
        const issueAt = options.now === undefined ? undefined : new Date(t);
        const next = await applyLifecycleAction(
          data,
          decision.action,
          issueAt,
          { ...policy, service: options.service, namespace },
          trustedByEveryEntry(view, common),
        );
        // Stopped while generating (the pod is terminating): leave the Secret to the replicas that stay.
        if (stopped) return now();
        if (!(await writeSecret(secret, next))) {
          log.debug({ action: decision.action }, 'another replica changed the Secret first; reading it again');
          conflicts++;
          continue;
        }
        options.metrics?.rotation(decision.action);
        log.info({ action: decision.action, reason: decision.reason }, 'TLS Secret updated');
        continue;
      }
      return Math.min(t + recheckMs, decision.wakeAt ?? Infinity);
    }
    if (stopped) return now();
    throw new ServeError('UNAVAILABLE', `the Secret or webhook configuration kept changing (${conflicts} conflicts); trying again later`, {
      retryable: true,
    });
  }

  /**
   * Whether every entry's bundle is exactly `trust`; if so it is remembered, so that a bundle
   * blanked afterwards counts as a repair. The refresh notes it too: it may be the first to see
   * the bundle set while the reconcile that set it still waits for its answer.
   */
  function noteIfMatched(trust: readonly string[], view: WebhookConfigurationView): boolean {
    const matched = trust.length > 0 && view.entries.every((e) => bundleMatches(e.caBundlePem, trust));
    if (matched) lastMatchedTrust = trustKeyOf(trust);
    return matched;
  }

  /** Whether every entry's bundle in `view` verifies the certificate in service. */
  function servedVerifiedBy(view: WebhookConfigurationView, t: number): boolean {
    return served !== undefined && view.entries.every((e) => bundleVerifies(e.caBundlePem, served!.certPem, t));
  }

  function serveIfVerified(data: ManagedSecretData, view: WebhookConfigurationView, t: number): void {
    const { certPem, keyPem } = data;
    // No entry to check against is no verification at all.
    if (certPem === undefined || keyPem === undefined || view.entries.length === 0) return;
    const ok = view.entries.every((e) => bundleVerifies(e.caBundlePem, certPem, t));
    if (!ok) {
      // Never put into service a certificate the apiserver would refuse; keep the current one.
      verified = servedVerifiedBy(view, t);
      // Once per certificate: the refresh and the reconcile both come here every period.
      if (warnedAbout !== certPem) log.warn("the caBundle does not verify the Secret's certificate yet; not serving it");
      warnedAbout = certPem;
      return;
    }
    if (served?.certPem !== certPem) {
      try {
        options.serve({ certPem, keyPem });
      } catch (err) {
        // A pair the server refuses (a key that is not the certificate's): keep serving what it
        // serves; decide() sees the same fault and issues a new certificate.
        if (warnedAbout !== certPem)
          log.warn({ err: asCamelOciError(err).toJSON() }, "the Secret's certificate cannot be served; not serving it");
        warnedAbout = certPem;
        verified = servedVerifiedBy(view, t);
        return;
      }
      served = { certPem, notAfter: notAfterOf(certPem) ?? 0 };
      options.metrics?.servingExpiry(Math.floor(served.notAfter / 1000));
      log.info({ notAfter: new Date(served.notAfter).toISOString() }, 'serving the certificate from the Secret');
    }
    verified = true;
  }

  function schedule(at: number): void {
    if (stopped) return;
    timer = setTimeout(() => void reconcile(), Math.max(MIN_WAIT_MS, at - now()));
    timer.unref();
  }

  /**
   * Reads and serves without writing: runs while a reconcile is busy generating keys, so a replica
   * that lost a race (or is slow to generate) still picks up the certificate another one wrote.
   */
  let refreshing: Promise<void> | undefined;
  function refresh(): void {
    if (refreshing !== undefined || stopped) return;
    refreshing = (async () => {
      const readsBefore = reads;
      const secret = await readSecret();
      if (secret === undefined) return;
      const data = decodeSecret(secret);
      const view = await readWebhook();
      // A reconcile read meanwhile, and what it read may be newer: acting on this older view could
      // serve an older certificate again, or note an older trust set as the matched one.
      if (reads !== readsBefore) return;
      noteIfMatched(trustSet(data), view);
      serveIfVerified(data, view, now());
    })()
      .catch((err: unknown) => {
        if (!stopped) log.debug({ err: asCamelOciError(err).toJSON() }, 'certificate refresh failed');
      })
      .finally(() => {
        refreshing = undefined;
      });
  }

  function reconcile(): Promise<void> {
    if (running !== undefined) return running;
    if (timer !== undefined) clearTimeout(timer);
    const busy = setInterval(refresh, recheckMs);
    busy.unref();
    const p = reconcileOnce()
      .then((at) => {
        failures = 0;
        schedule(at);
      })
      .catch((err: unknown) => {
        if (stopped) return; // stop() ended its requests: nothing failed
        failures++;
        const e = asCamelOciError(err);
        log.error({ err: e.toJSON(), failures }, 'certificate reconcile failed; retrying');
        // Backs off from 1 s to the re-check period.
        schedule(now() + Math.min(recheckMs, 1000 * 2 ** Math.min(failures - 1, 10)));
      })
      .finally(() => {
        clearInterval(busy);
        running = undefined;
      });
    running = p;
    return p;
  }

  void reconcile();
  return {
    ready: () => verified && served !== undefined && now() < served.notAfter,
    reconcile,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      // A write cut short is as if it timed out: the replicas that stay reconcile what it left.
      halt.abort(new ServeError('UNAVAILABLE', 'the certificate loop was stopped'));
      await running;
      await refreshing;
    },
  };
}

/** The CAs (PEM) that every entry's caBundle holds: `common` are their fingerprints. */
function trustedByEveryEntry(view: WebhookConfigurationView, common: ReadonlySet<string>): string[] {
  return splitPemCertificates(view.entries[0]?.caBundlePem ?? '').filter((pem) => [...caFingerprints(pem)].some((f) => common.has(f)));
}

/** A trust set's identity: its CAs' fingerprints, in order. */
function trustKeyOf(trust: readonly string[]): string {
  return [...caFingerprints(trust.join(''))].sort().join(',');
}

function intersect(sets: ReadonlyArray<Set<string>>): Set<string> {
  const [first, ...rest] = sets;
  return new Set([...(first ?? [])].filter((f) => rest.every((s) => s.has(f))));
}

function decodeBundle(b64: string | undefined): string {
  // client-node types caBundle as a base64 string (the wire form).
  return b64 === undefined ? '' : Buffer.from(b64, 'base64').toString('utf8');
}

/** The Secret's data as PEM text; keys it does not have stay undefined. */
export function decodeSecret(secret: V1Secret): ManagedSecretData {
  const d = secret.data ?? {};
  const get = (k: string): string | undefined => (d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8'));
  const out: Record<string, string> = {};
  const fields: Array<[keyof ManagedSecretData, string]> = [
    ['certPem', SECRET_KEYS.cert],
    ['keyPem', SECRET_KEYS.key],
    ['caCertPem', SECRET_KEYS.caCert],
    ['caKeyPem', SECRET_KEYS.caKey],
    ['nextCaCertPem', SECRET_KEYS.nextCaCert],
    ['nextCaKeyPem', SECRET_KEYS.nextCaKey],
  ];
  for (const [field, key] of fields) {
    const v = get(key);
    if (v !== undefined) out[field] = v;
  }
  return out as ManagedSecretData;
}

function encodeSecret(data: ManagedSecretData): Record<string, string> {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const out: Record<string, string> = {
    [SECRET_KEYS.cert]: b64(data.certPem ?? ''),
    [SECRET_KEYS.key]: b64(data.keyPem ?? ''),
  };
  if (data.caCertPem !== undefined) out[SECRET_KEYS.caCert] = b64(data.caCertPem);
  if (data.caKeyPem !== undefined) out[SECRET_KEYS.caKey] = b64(data.caKeyPem);
  if (data.nextCaCertPem !== undefined) out[SECRET_KEYS.nextCaCert] = b64(data.nextCaCertPem);
  if (data.nextCaKeyPem !== undefined) out[SECRET_KEYS.nextCaKey] = b64(data.nextCaKeyPem);
  return out;
}

function apiError(err: unknown, what: string): ServeError {
  if (err instanceof ApiException) {
    const status = err.code;
    const hint =
      status === 403
        ? `: forbidden; the webhook's ServiceAccount needs the Role and ClusterRole of manifests/install.yaml`
        : status === 401
          ? ': the apiserver rejected the ServiceAccount token'
          : ` (HTTP ${status})`;
    return new ServeError(status === 403 || status === 401 ? 'CONFIG_INVALID' : 'UNAVAILABLE', `cannot ${what}${hint}`, {
      retryable: status !== 403 && status !== 401,
      context: { status },
    });
  }
  if (err instanceof ServeError) return err;
  return new ServeError('UNAVAILABLE', `cannot ${what}: ${(err as Error).message ?? String(err)}`, { cause: err, retryable: true });
}
