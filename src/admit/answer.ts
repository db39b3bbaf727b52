/**
 * What an admission workflow answers: the decision plus response extras (warnings, audit
 * annotations) and facts for the log line, and the answers every workflow gives when its
 * references cannot be resolved. Pure.
 */
import type { CamelOciError } from '../base/errors.js';
import { formatSeconds, isDeadlineExceeded } from '../base/abort.js';
import type { Logger } from '../base/logger.js';
import { displayReference, MAX_MESSAGE_REFERENCE_CHARS, MAX_WARNING_REFERENCE_CHARS, truncate, withoutSubject } from './messages.js';
import { allowed, denied, type AdmissionResult } from './result.js';

/** What to do when a reference cannot be resolved in time: refuse the object, or admit it unmutated with a warning. */
export type OnErrorPolicy = 'deny' | 'allow';

/** What a workflow answers: the result plus response extras and facts for the log line. */
export interface AdmissionAnswer {
  readonly result: AdmissionResult;
  /** Unbounded here: the webhook bounds them once, where the response is completed. */
  readonly warnings: readonly string[];
  readonly auditAnnotations: Readonly<Record<string, string>>;
  /** Number of references the object asked for (0 when skipped). */
  readonly references: number;
  /** Why (skip reason, error code), for the log line and the metrics' `reason` label. */
  readonly reason?: string;
}

const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});
const NO_WARNINGS: readonly string[] = Object.freeze([]);

/** Builds an answer; absent extras are shared frozen empties. */
export function answer(
  result: AdmissionResult,
  references = 0,
  reason?: string,
  warnings = NO_WARNINGS,
  auditAnnotations = NO_ANNOTATIONS,
): AdmissionAnswer {
  return reason === undefined
    ? { result, warnings, auditAnnotations, references }
    : { result, warnings, auditAnnotations, references, reason };
}

/** HTTP-like code of a denial caused by a resolution error: transient failures are not the object's fault. */
function denialCode(err: CamelOciError): number {
  if (err.code === 'TIMEOUT') return 504;
  return err.retryable ? 503 : 403;
}

/**
 * The answer when a reference failed to resolve: a denial naming it, or with `onError: allow` an
 * unmutated admission with a warning that says what was `notDone` ("dependencies not injected").
 */
export function resolutionFailed(
  reference: string,
  error: CamelOciError,
  count: number,
  onError: OnErrorPolicy,
  logger: Logger,
  notDone: string,
): AdmissionAnswer {
  logger.warn({ reference: truncate(reference, MAX_MESSAGE_REFERENCE_CHARS), err: error.toJSON() }, 'reference not resolved');
  if (onError === 'allow') {
    return answer(
      allowed(),
      count,
      error.code,
      [`camel-oci: ${notDone}: cannot resolve ${displayReference(reference, MAX_WARNING_REFERENCE_CHARS)} (${error.code})`],
      { 'resolution-error': error.code },
    );
  }
  return answer(
    denied(
      `camel-oci: cannot resolve ${displayReference(reference, MAX_MESSAGE_REFERENCE_CHARS)}: ${error.code}: ${withoutSubject(error.message, reference)}`,
      denialCode(error),
    ),
    count,
    error.code,
  );
}

/** The answer when the deadline fired before every reference resolved. */
export function timedOut(
  reason: unknown,
  pending: readonly string[],
  count: number,
  onError: OnErrorPolicy,
  notDone: string,
): AdmissionAnswer {
  const within = isDeadlineExceeded(reason) ? `within ${formatSeconds(reason.budgetMs)}` : 'before the request was cancelled';
  if (onError === 'allow') {
    return answer(allowed(), count, 'TIMEOUT', [`camel-oci: ${notDone}: resolution did not finish ${within}`], {
      'resolution-error': 'TIMEOUT',
    });
  }
  const shown = pending
    .slice(0, 3)
    .map((r) => displayReference(r))
    .join(', ');
  const more = pending.length > 3 ? ` and ${pending.length - 3} more` : '';
  return answer(
    denied(`camel-oci: resolving ${shown}${more} did not finish ${within} (registry slow or unreachable)`, 504),
    count,
    'TIMEOUT',
  );
}
