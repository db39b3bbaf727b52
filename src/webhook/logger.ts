/**
 * The one log line per admission, with what an operator needs to find a pod's story (uid,
 * namespace, integration, outcome, duration, reference count).
 */
import { LABEL_INTEGRATION } from '../inject/annotations.js';
import { MAX_LOG_FIELD_CHARS, type Logger } from '../base/logger.js';
import type { AdmissionOutcome } from '../admit/result.js';
import type { AdmissionRequest } from './admission.js';

/** The fields of the one line logged per admission. */
export interface AdmissionLogLine {
  readonly uid: string;
  readonly namespace?: string;
  readonly integration?: string;
  readonly operation?: string;
  readonly kind?: string;
  readonly outcome: AdmissionOutcome;
  readonly durationMs: number;
  readonly references: number;
  /** Why: a skip reason, an error code, a denial message (bounded). */
  readonly reason?: string;
  readonly warnings?: number;
}

function bounded(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0) return undefined;
  return v.length > MAX_LOG_FIELD_CHARS ? `${v.slice(0, MAX_LOG_FIELD_CHARS)}...` : v;
}

/** The identifying fields of a request for the log line: namespace, integration label, operation, kind. */
export function requestLogFields(request: AdmissionRequest): Pick<AdmissionLogLine, 'namespace' | 'integration' | 'operation' | 'kind'> {
  const object = request.object as { metadata?: { labels?: Record<string, unknown> } } | null | undefined;
  const labels = typeof object === 'object' && object !== null ? object.metadata?.labels : undefined;
  const integration = typeof labels === 'object' && labels !== null ? bounded(labels[LABEL_INTEGRATION]) : undefined;
  const out: { namespace?: string; integration?: string; operation?: string; kind?: string } = {};
  const namespace = bounded(request.namespace);
  if (namespace !== undefined) out.namespace = namespace;
  if (integration !== undefined) out.integration = integration;
  const operation = bounded(request.operation);
  if (operation !== undefined) out.operation = operation;
  const kind = bounded(request.kind?.kind);
  if (kind !== undefined) out.kind = kind;
  return out;
}

/** Logs the one line of an admission (info; warn for errored answers). */
export function logAdmission(logger: Logger, line: AdmissionLogLine): void {
  const fields = { ...line, durationMs: Math.round(line.durationMs * 1000) / 1000 };
  if (line.outcome === 'errored') logger.warn(fields, 'admission');
  else logger.info(fields, 'admission');
}
