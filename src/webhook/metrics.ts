/**
 * Prometheus metrics of the webhook process, on a registry of its own (never prom-client's global
 * one, so tests and embedders get independent instances). Label values that come from users
 * (registry hosts) are bounded in number: pods naming random hosts must not grow the series set
 * without end.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionOutcome } from '../admit/result.js';
import { ERROR_CODES, isErrorCode } from '../base/errors.js';
import { version } from '../base/version.js';

/** Outcome label values, pre-created so every series exists from the first scrape. */
export const ADMISSION_OUTCOMES: readonly AdmissionOutcome[] = ['allowed', 'patched', 'denied', 'errored', 'skipped'];

/** `kind` label values of the admission metrics (what was admitted); anything else counts as `other`. */
export const ADMISSION_KINDS: readonly string[] = ['Pod', 'Integration', 'Pipe', 'other'];

/**
 * `reason` label values of the admission counter: a closed set, so a reason text carrying user
 * input can never add series. Skips are one value (their reasons are in the log line), errors keep
 * their stable code, `none` is an ordinary answer.
 */
export const ADMISSION_REASONS: readonly string[] = ['none', 'skip', 'pins-reused', 'NO_OBJECT', ...ERROR_CODES, 'other'];

/** The `reason` label of an answer: its outcome and the answer's free-form reason, mapped onto {@link ADMISSION_REASONS}. */
export function admissionReasonLabel(outcome: AdmissionOutcome, reason: string | undefined): string {
  if (outcome === 'skipped') return 'skip';
  if (reason === undefined) return 'none';
  if (isErrorCode(reason) || reason === 'NO_OBJECT') return reason;
  if (reason.startsWith('pins reused')) return 'pins-reused';
  return OTHER_LABEL;
}

/** `code` label of a registry request that got no HTTP answer (refused, reset, timed out, policy). */
export const NO_RESPONSE_CODE = 'none';

/** Result label values of a cache lookup. */
export type CacheLookupResult = 'hit' | 'miss' | 'stale';

/**
 * Admission latency buckets (seconds): warm-cache answers are well under a millisecond, cold ones
 * are registry round trips, and nothing may take longer than the 30 s maximum webhook timeout.
 */
export const ADMISSION_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Most distinct `registry` label values kept; later ones are counted under `other`. */
export const MAX_REGISTRY_LABELS = 64;
/** Most distinct `cache` label values kept (caches are named by code, this only guards mistakes). */
export const MAX_CACHE_LABELS = 16;
/** Label value for everything past a cardinality bound or not label-safe. */
export const OTHER_LABEL = 'other';

/** What the resolver layer records; a structural interface so `src/resolve/` need not import this module. */
export interface ResolverMetrics {
  /** Counts one HTTP request to a registry that got an answer, by its HTTP status. */
  registryRequest(registry: string, status: number | string): void;
  /**
   * Counts one registry request that got no answer (`error`: its stable error code, TIMEOUT,
   * UNAVAILABLE, TLS_ERROR...): a registry that is down shows here, not as silence.
   */
  registryNoResponse(registry: string, error: string): void;
  /**
   * Counts one registry source (a `--registry-mirror` mirror, or the upstream behind it) that
   * failed while another was still to be tried, by its host, its role and the stable error code:
   * a mirror that is down or serves wrong bytes is worked around, so it is only seen here and in the log.
   */
  registrySourceFailure(registry: string, mirror: boolean, code: string): void;
  /** Counts one cache lookup (`cache`: manifest, tag, token... as the resolver names them). */
  cacheLookup(cache: string, result: CacheLookupResult): void;
}

/** The webhook's metrics: the recording functions plus the registry `/metrics` exposes. */
export interface WebhookMetrics extends ResolverMetrics {
  readonly registry: Registry;
  /**
   * Counts one answered admission and observes its duration, by kind of object (`Pod` when not
   * given) and reason (the answer's, mapped by {@link admissionReasonLabel}).
   */
  admission(outcome: AdmissionOutcome, durationSeconds: number, kind?: string, reason?: string): void;
  /** Counts one request refused before it was an admission (400, 413, 429...). */
  invalidRequest(status: number): void;
  /** The exposition text for `GET /metrics`. */
  text(): Promise<string>;
  /** Content type of `text()`. */
  readonly contentType: string;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** Also collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  readonly defaultMetrics?: boolean;
}

/** Registry hosts are `host[:port]`; anything else (or too long) is not a label we keep. */
const LABEL_SAFE = /^[A-Za-z0-9._:[\]-]{1,128}$/;
const STATUS_SAFE = /^[A-Za-z0-9_]{1,32}$/;
/** HTTP statuses are three digits; anything else a registry client reports is not a label we keep. */
const HTTP_STATUS = /^[1-5][0-9][0-9]$/;

/** A label value bounded to `max` distinct values; past that, or when not label-safe, `other`. */
function boundedLabel(seen: Set<string>, max: number, value: string, safe: RegExp): string {
  if (seen.has(value)) return value;
  if (!safe.test(value) || seen.size >= max) return OTHER_LABEL;
  seen.add(value);
  return value;
}

/** Creates a metrics set on a fresh registry. */
export function createMetrics(options: MetricsOptions = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const admissions = new Counter({
    name: 'camel_oci_admissions_total',
    help: 'Admission requests answered, by outcome, kind of object (Pod, Integration, Pipe) and reason (none, skip, pins-reused, or an error code).',
    labelNames: ['outcome', 'kind', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'camel_oci_admission_duration_seconds',
    help: 'Time from receiving an admission request to sending its answer, by kind of object.',
    labelNames: ['kind'] as const,
    buckets: [...ADMISSION_DURATION_BUCKETS],
    registers: [registry],
  });
  const invalid = new Counter({
    name: 'camel_oci_invalid_requests_total',
    help: 'Requests to /mutate or /mutate-integrations refused before they were an admission, by HTTP status code.',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const registryRequests = new Counter({
    name: 'camel_oci_registry_requests_total',
    help: 'HTTP requests made to registries, by registry host and HTTP status code (code="none": no answer, see camel_oci_registry_request_errors_total).',
    labelNames: ['registry', 'code'] as const,
    registers: [registry],
  });
  const registryErrors = new Counter({
    name: 'camel_oci_registry_request_errors_total',
    help: 'Registry requests that got no HTTP answer, by registry host and error code (TIMEOUT, UNAVAILABLE, TLS_ERROR, POLICY_DENIED...).',
    labelNames: ['registry', 'error'] as const,
    registers: [registry],
  });
  const sourceFailures = new Counter({
    name: 'camel_oci_registry_source_failures_total',
    help: 'Registry sources (mirrors, or the upstream behind them) that failed while another was still to be tried, by host, role (mirror, upstream) and error code (DIGEST_MISMATCH, UNAVAILABLE, MANIFEST_UNKNOWN...).',
    labelNames: ['registry', 'source', 'code'] as const,
    registers: [registry],
  });
  const buildInfo = new Gauge({
    name: 'camel_oci_build_info',
    help: 'Always 1, labelled with the camel-oci version and the Node.js version running it.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  });
  buildInfo.labels(version(), process.versions.node).set(1);
  const cacheLookups = new Counter({
    name: 'camel_oci_cache_lookups_total',
    help: 'Resolver cache lookups, by cache and result (hit, miss, stale).',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  });

  // Pre-created children: the hot path increments a held object instead of hashing labels.
  // Only the common reasons are pre-created: outcomes x kinds x every error code would be hundreds of empty series.
  const byOutcome = new Map<string, Counter.Internal>();
  const durationByKind = new Map<string, Histogram.Internal<'kind'>>();
  for (const k of ADMISSION_KINDS) {
    for (const o of ADMISSION_OUTCOMES) {
      const child = admissions.labels(o, k, o === 'skipped' ? 'skip' : 'none');
      child.inc(0); // a child exists in the exposition only once it has a value
      byOutcome.set(`${o}/${k}/${o === 'skipped' ? 'skip' : 'none'}`, child);
    }
    durationByKind.set(k, duration.labels(k));
  }

  const registries = new Set<string>();
  const caches = new Set<string>();
  const lookupChildren = new Map<string, Counter.Internal>();
  const statuses = new Set<string>();

  const noResponse = (host: string, error: string): void => {
    const r = boundedLabel(registries, MAX_REGISTRY_LABELS, host, LABEL_SAFE);
    registryRequests.labels(r, NO_RESPONSE_CODE).inc();
    registryErrors.labels(r, isErrorCode(error) ? error : OTHER_LABEL).inc();
  };

  return {
    registry,
    contentType: registry.contentType,
    admission(outcome, durationSeconds, kind = 'Pod', reason) {
      // Kinds and reasons are closed sets: a request naming anything else must not add series.
      const k = ADMISSION_KINDS.includes(kind) ? kind : OTHER_LABEL;
      const r = admissionReasonLabel(outcome, reason);
      (byOutcome.get(`${outcome}/${k}/${r}`) ?? admissions.labels(outcome, k, r)).inc();
      (durationByKind.get(k) as Histogram.Internal<'kind'>).observe(durationSeconds);
    },
    invalidRequest(status) {
      invalid.labels(String(status)).inc();
    },
    registryRequest(host, status) {
      const code = String(status);
      // An error code where a status belongs is a request without an answer.
      if (!HTTP_STATUS.test(code)) return noResponse(host, code);
      registryRequests
        .labels(
          boundedLabel(registries, MAX_REGISTRY_LABELS, host, LABEL_SAFE),
          boundedLabel(statuses, MAX_REGISTRY_LABELS, code, STATUS_SAFE),
        )
        .inc();
    },
    registryNoResponse: noResponse,
    registrySourceFailure(host, mirror, code) {
      sourceFailures
        .labels(
          boundedLabel(registries, MAX_REGISTRY_LABELS, host, LABEL_SAFE),
          mirror ? 'mirror' : 'upstream',
          isErrorCode(code) ? code : OTHER_LABEL,
        )
        .inc();
    },
    cacheLookup(cache, result) {
      const r: CacheLookupResult = result === 'hit' || result === 'miss' || result === 'stale' ? result : 'miss';
      // Counted on every warm admission: the child is looked up by a short key, not by hashing labels.
      const key = `${cache}\n${r}`;
      let child = lookupChildren.get(key);
      if (child === undefined) {
        child = cacheLookups.labels(boundedLabel(caches, MAX_CACHE_LABELS, cache, STATUS_SAFE), r);
        // Only label-safe names within the bound get their own entry (the rest share `other`, looked up each time).
        if (caches.has(cache)) lookupChildren.set(key, child);
      }
      child.inc();
    },
    text() {
      return registry.metrics();
    },
  };
}
