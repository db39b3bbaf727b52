/**
 * The admission core: one function from an AdmissionRequest (plus a deadline signal and a logger)
 * to a result value. It decides whether the pod asks for container dependencies, resolves every
 * reference concurrently under the deadline, and asks the pure patch builder for operations. It
 * never touches HTTP; `app.ts` turns its answer into a response with `complete()`.
 */
import { InjectError, asCamelOciError } from '../base/errors.js';
import { buildInjection, type InjectOptions } from '../inject/patch.js';
import { decide } from '../inject/decide.js';
import { pinnedReference, type ResolvedArtifact } from '../plan/artifact.js';
import { MAX_PLAN_ARTIFACTS } from '../plan/plan.js';
import type { ArtifactResolver, ResolveRequest } from '../resolve/types.js';
import { allowed, denied, patched, skipped, truncate, type AdmissionRequest, type AdmissionResult } from '../webhook/admission.js';
import { formatSeconds, isDeadlineExceeded, raceSignal } from '../base/abort.js';
import type { Logger } from '../base/logger.js';
import { denialCode, ReferenceFailure, resolveOne, withoutSubject, withPrefix } from './resolution.js';

/** Options the patch builder takes (fetcher image and the rest), passed through unchanged. */
export type { InjectOptions };

/** What to do when a reference cannot be resolved in time: refuse the pod, or admit it unmutated with a warning. */
export type OnErrorPolicy = 'deny' | 'allow';

/** Long-lived collaborators of the handler, built once by `serve`. */
export interface HandlerDeps {
  readonly resolver: ArtifactResolver;
  readonly inject: InjectOptions;
  readonly onError: OnErrorPolicy;
  /** The `.dockerconfigjson` texts of the pod's pull secrets; optional (absent: the resolver's own credentials only). */
  readonly pullSecrets?: (namespace: string, pod: unknown) => Promise<string[]>;
  /** `os/arch[/variant]` to pick from an index; the resolver's default when absent. */
  readonly platform?: string;
}

/** Per-request context: the deadline signal (aborts at the answer budget) and a logger. */
export interface HandlerContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** What the handler answers: the result plus response extras and facts for the log line. */
export interface AdmissionAnswer {
  readonly result: AdmissionResult;
  readonly warnings: readonly string[];
  readonly auditAnnotations: Readonly<Record<string, string>>;
  /** Number of references the pod asked for (0 when skipped). */
  readonly references: number;
  /** Why (skip reason, error code), for the log line only. */
  readonly reason?: string;
}

/** Bound on a reference quoted in a denial message (annotations are user input of up to 256 KiB). */
export const MAX_MESSAGE_REFERENCE_CHARS = 256;
/** Bound on a reference quoted in a warning, which must stay within 120 characters. */
export const MAX_WARNING_REFERENCE_CHARS = 60;

const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});
const NO_WARNINGS: readonly string[] = Object.freeze([]);

function answer(result: AdmissionResult, references = 0, reason?: string, warnings = NO_WARNINGS, auditAnnotations = NO_ANNOTATIONS): AdmissionAnswer {
  return reason === undefined
    ? { result, warnings, auditAnnotations, references }
    : { result, warnings, auditAnnotations, references, reason };
}

/** True for the one request this webhook mutates: CREATE of a core v1 Pod (no subresource). */
export function isPodCreate(request: AdmissionRequest): boolean {
  const k = request.kind;
  const r = request.resource;
  return (
    request.operation === 'CREATE' &&
    k !== undefined && k !== null && k.group === '' && k.version === 'v1' && k.kind === 'Pod' &&
    r !== undefined && r !== null && r.group === '' && r.version === 'v1' && r.resource === 'pods' &&
    (request.subResource === undefined || request.subResource === '')
  );
}

/** `container:REF` as the user wrote it in the annotation, bounded for a message. */
export function displayReference(reference: string, max = MAX_MESSAGE_REFERENCE_CHARS): string {
  const bare = reference.startsWith('container:') ? reference.slice('container:'.length) : reference;
  const shown = `container:${bare}`;
  if (shown.length <= max) return shown;
  // Keep both ends: the host says where, the tag says what.
  const head = Math.ceil((max - 3) / 2);
  return `${shown.slice(0, head)}...${shown.slice(shown.length - (max - 3 - head))}`;
}

/**
 * Handles one admission request. Never touches HTTP. Rejects only on a bug (the edge turns that into
 * `errored(500)`); every expected failure is a result value.
 */
export async function handleAdmission(request: AdmissionRequest, ctx: HandlerContext, deps: HandlerDeps): Promise<AdmissionAnswer> {
  if (!isPodCreate(request)) return answer(skipped('not a Pod CREATE'), 0, 'not a Pod CREATE');
  const pod = request.object;
  if (typeof pod !== 'object' || pod === null || Array.isArray(pod)) {
    return answer(denied('camel-oci: request.object is not a Pod object', 400), 0, 'NO_OBJECT');
  }

  let decision: ReturnType<typeof decide>;
  try {
    decision = decide(pod);
  } catch (err) {
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), 0, err.code);
    throw err;
  }
  if (decision.action === 'skip') return answer(skipped(decision.reason), 0, decision.reason);
  const references = decision.references;
  if (references.length === 0) return answer(skipped('no references'), 0, 'no references');
  if (references.length > MAX_PLAN_ARTIFACTS) {
    return answer(
      denied(`camel-oci: the pod asks for ${references.length} container dependencies; at most ${MAX_PLAN_ARTIFACTS} are supported`, 403),
      references.length,
      'TOO_MANY_REFERENCES',
    );
  }

  const warnings: string[] = [];
  const unique = [...new Set(references)];
  const pending = new Set(unique);
  const onDeadline = (reason: unknown): AdmissionAnswer => timedOut(reason, [...pending], references.length, deps.onError);

  // 1. The pod's pull secrets (optional; a failure to read them is a warning, the resolver's own credentials remain).
  let pullSecrets: string[] | undefined;
  const namespace = typeof request.namespace === 'string' ? request.namespace : '';
  if (deps.pullSecrets !== undefined && namespace !== '') {
    try {
      pullSecrets = await raceSignal(deps.pullSecrets(namespace, pod), ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return onDeadline(ctx.signal.reason);
      const e = asCamelOciError(err);
      ctx.logger.warn({ namespace, err: { code: e.code, message: e.message } }, 'cannot read the pod\'s pull secrets');
      warnings.push(`camel-oci: could not read the pod's imagePullSecrets (${e.code})`);
    }
  }

  // 2. Every distinct reference, concurrently, under the deadline; the first failure decides.
  const resolveRequest: ResolveRequest = {
    signal: ctx.signal,
    ...(pullSecrets !== undefined && pullSecrets.length > 0 ? { pullSecrets } : {}),
    ...(deps.platform !== undefined ? { platform: deps.platform } : {}),
  };
  const byReference = new Map<string, ResolvedArtifact>();
  try {
    await raceSignal(
      Promise.all(
        unique.map((ref) =>
          resolveOne(deps.resolver, ref, resolveRequest).then((a) => {
            byReference.set(ref, a);
            pending.delete(ref);
          }),
        ),
      ),
      ctx.signal,
    );
  } catch (err) {
    // An abort wins over a failure: the resolver's own rejection may just be the abort arriving.
    if (ctx.signal.aborted) return onDeadline(ctx.signal.reason);
    if (err instanceof ReferenceFailure) return resolutionFailed(err, references.length, deps.onError, ctx.logger);
    throw err;
  }
  const artifacts = references.map((ref) => byReference.get(ref) as ResolvedArtifact);

  // 3. The pure part: plan, patch, annotations.
  let injection: ReturnType<typeof buildInjection>;
  try {
    injection = buildInjection(pod, artifacts, deps.inject);
  } catch (err) {
    // Bad injection options are the webhook's fault, not the pod's: an internal error, said as such.
    if (err instanceof InjectError && err.code !== 'CONFIG_INVALID') {
      return answer(denied(withPrefix(err.message), 403), references.length, err.code);
    }
    throw err;
  }
  const audit: Record<string, string> = {};
  artifacts.forEach((a, i) => {
    audit[`${i}-reference`] = displayReference(a.reference);
    audit[`${i}-digest`] = pinnedReference(a);
    // buildInjection already warns the user about stale digests; auditors get a flag.
    if (a.stale === true) audit[`${i}-stale`] = 'true';
  });
  // kubectl prints warnings as "Warning: ..." with no source: say who speaks.
  for (const w of injection.warnings) warnings.push(withPrefix(w));
  // The webhook's own --registry-config never reaches a pod: the init container has only the pod's
  // pull secrets, so a reference only the webhook could read will fail at fetch. Say so now.
  for (const a of artifacts) {
    if (a.credentials === 'webhook') {
      warnings.push(`camel-oci: ${a.domain} needed the webhook's own credentials; give the pod an imagePullSecret for it, or camel-oci-fetch will be refused`);
    }
  }
  return answer(patched(injection.ops, NO_WARNINGS), references.length, undefined, warnings, audit);
}

/** The answer when a reference failed to resolve (deny, or admit unmutated with a warning). */
function resolutionFailed(failure: ReferenceFailure, count: number, onError: OnErrorPolicy, logger: Logger): AdmissionAnswer {
  const { reference, error } = failure;
  logger.warn({ reference: truncate(reference, MAX_MESSAGE_REFERENCE_CHARS), err: error.toJSON() }, 'reference not resolved');
  if (onError === 'allow') {
    return answer(
      allowed(),
      count,
      error.code,
      [`camel-oci: dependencies not injected: cannot resolve ${displayReference(reference, MAX_WARNING_REFERENCE_CHARS)} (${error.code})`],
      { 'resolution-error': error.code },
    );
  }
  return answer(
    denied(`camel-oci: cannot resolve ${displayReference(reference)}: ${error.code}: ${withoutSubject(error.message, reference)}`, denialCode(error)),
    count,
    error.code,
  );
}

/** The answer when the deadline fired before every reference resolved. */
function timedOut(reason: unknown, pending: readonly string[], count: number, onError: OnErrorPolicy): AdmissionAnswer {
  const within = isDeadlineExceeded(reason) ? `within ${formatSeconds(reason.budgetMs)}` : 'before the request was cancelled';
  if (onError === 'allow') {
    return answer(
      allowed(),
      count,
      'TIMEOUT',
      [`camel-oci: dependencies not injected: resolution did not finish ${within}`],
      { 'resolution-error': 'TIMEOUT' },
    );
  }
  const shown = pending.slice(0, 3).map((r) => displayReference(r)).join(', ');
  const more = pending.length > 3 ? ` and ${pending.length - 3} more` : '';
  return answer(
    denied(`camel-oci: resolving ${shown}${more} did not finish ${within} (registry slow or unreachable)`, 504),
    count,
    'TIMEOUT',
  );
}
