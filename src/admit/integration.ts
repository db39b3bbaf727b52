/**
 * The admission workflow of Camel K Integrations and Pipes (CREATE and UPDATE), shared by the
 * webhook (`POST /mutate-integrations`) and `camel-oci inject`: decide what the write asks for
 * (pure, inject/integration.ts), resolve the references under the deadline unless the pins are
 * sticky, and answer with the patch that moves the `container:` entries out and pins them. Never
 * touches HTTP.
 */
import { asCamelOciError, CamelOciError, InjectError } from '../base/errors.js';
import { raceSignal } from '../base/abort.js';
import { ANNOTATION_REFRESH } from '../inject/annotations.js';
import { buildIntegrationPatch, decideIntegration, pinOf, type IntegrationDecision, type PinSource } from '../inject/integration.js';
import type { JsonPatchOp } from '../inject/patch.js';
import { isRecord, own } from '../inject/pod.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { MAX_PLAN_ARTIFACTS } from '../plan/plan.js';
import type { ResolveRequest } from '../resolve/types.js';
import { answer, resolutionFailed, timedOut, type AdmissionAnswer } from './answer.js';
import { displayReference, MAX_WARNING_REFERENCE_CHARS, withoutSubject, withPrefix } from './messages.js';
import type { AdmissionContext, PodAdmissionDeps } from './pod.js';
import { resolveReferences, type ReferencesOutcome } from './references.js';
import { denied, patched, skipped } from './result.js';

/** What the warning of a failed resolution says was not done. */
const NOT_PINNED = 'dependencies not pinned';

/** Collaborators of the Integration workflow: the pod workflow's, less the injection options. */
export type IntegrationAdmissionDeps = Pick<PodAdmissionDeps, 'resolver' | 'onError' | 'pullSecrets' | 'platform'>;

/** What pinning one object produced. */
export type PinResult =
  | { readonly type: 'skip'; readonly reason: string }
  | {
      readonly type: 'pinned';
      readonly ops: JsonPatchOp[];
      readonly references: readonly string[];
      readonly pins: readonly string[];
      /** Where the pins came from: resolved now, or reused. */
      readonly source: 'resolved' | PinSource;
      readonly warnings: readonly string[];
    }
  /** Resolution failed or the deadline fired: the outcome says which reference, or which were pending. */
  | {
      readonly type: 'failed';
      readonly decision: IntegrationDecision & { action: 'pin' };
      readonly outcome: Exclude<ReferencesOutcome, { ok: true }>;
    };

/** What `pinObject` needs besides the object: the resolver, the platform, and the pull secrets to try first. */
export interface PinDeps {
  readonly resolver: IntegrationAdmissionDeps['resolver'];
  readonly platform?: string;
  /** The parsed docker configs the Integration's pods will have (their pull secrets). */
  readonly pullSecrets?: readonly DockerConfig[];
}

/**
 * Pins one Integration or Pipe: decides, resolves each reference under `signal` unless the pins
 * are reused, and builds the patch. Throws InjectError for an object it cannot pin.
 */
export function pinObject(object: unknown, oldObject: unknown, deps: PinDeps, signal: AbortSignal): Promise<PinResult> {
  return pinDecided(object, decideIntegration(object, oldObject), deps, signal);
}

/** `pinObject` for a decision already made (the webhook decides first, to answer bad input before any I/O). */
async function pinDecided(object: unknown, decision: IntegrationDecision, deps: PinDeps, signal: AbortSignal): Promise<PinResult> {
  if (decision.action === 'skip') return { type: 'skip', reason: decision.reason };
  const { references } = decision;
  if (references.length > MAX_PLAN_ARTIFACTS) {
    throw new InjectError(
      'REFERENCE_INVALID',
      `${references.length} container dependencies are asked for; at most ${MAX_PLAN_ARTIFACTS} are supported`,
    );
  }
  if (decision.reuse !== undefined) {
    const { pins, source } = decision.reuse;
    return { type: 'pinned', ops: buildIntegrationPatch(object, decision, pins), references, pins, source, warnings: [] };
  }
  const request: ResolveRequest & { signal: AbortSignal } = {
    signal,
    ...(deps.platform !== undefined ? { platform: deps.platform } : {}),
    ...(decision.refreshTags ? { refreshTags: true } : {}),
    ...(deps.pullSecrets !== undefined && deps.pullSecrets.length > 0 ? { pullSecrets: deps.pullSecrets } : {}),
  };
  const outcome = await resolveReferences(deps.resolver, references, request);
  if (!outcome.ok) return { type: 'failed', decision, outcome };
  const pins = outcome.artifacts.map((a, i) => pinOf(references[i]!, a.digest));
  const warnings: string[] = [];
  outcome.artifacts.forEach((a, i) => {
    // A pin is sticky: one taken from a stale cache entry stays until the request or oci-refresh changes.
    if (a.stale === true) {
      warnings.push(
        `camel-oci: ${displayReference(references[i]!, MAX_WARNING_REFERENCE_CHARS)} pinned from cache (registry failing); set ${ANNOTATION_REFRESH} later to re-resolve`,
      );
    }
  });
  return { type: 'pinned', ops: buildIntegrationPatch(object, decision, pins), references, pins, source: 'resolved', warnings };
}

/** The error `camel-oci inject` reports for a failed pinning (its message names the reference). */
export function pinFailure(result: Extract<PinResult, { type: 'failed' }>): CamelOciError {
  const { outcome } = result;
  if (outcome.aborted) {
    return new CamelOciError('TIMEOUT', `resolving ${outcome.pending.map((r) => displayReference(r)).join(', ')} did not finish in time`, {
      retryable: true,
    });
  }
  const { reference, error } = outcome;
  return new CamelOciError(error.code, `cannot resolve ${displayReference(reference)}: ${withoutSubject(error.message, reference)}`, {
    retryable: error.retryable,
    cause: error,
  });
}

/**
 * Admits one Integration or Pipe write in `namespace` (`oldObject` on UPDATE). Rejects only on a
 * bug; every expected failure is an answer. Under `--on-error allow` a reference that cannot be
 * resolved admits the object with a warning: the `container:` entries are still moved into the
 * request annotation (so the operator's build does not fail), without pins.
 */
export async function admitIntegration(
  object: object,
  oldObject: unknown,
  namespace: string,
  deps: IntegrationAdmissionDeps,
  ctx: AdmissionContext,
): Promise<AdmissionAnswer> {
  let decision: IntegrationDecision;
  try {
    decision = decideIntegration(object, oldObject);
  } catch (err) {
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), 0, err.code);
    throw err;
  }
  if (decision.action === 'skip') return answer(skipped(decision.reason), 0, decision.reason);
  const count = decision.references.length;
  const warnings: string[] = [];

  // The credentials the Integration's pods will have: resolving with more would pin what they cannot fetch.
  let pullSecrets: DockerConfig[] | undefined;
  if (decision.reuse === undefined && deps.pullSecrets !== undefined && namespace !== '') {
    try {
      pullSecrets = await raceSignal(deps.pullSecrets(namespace, podViewOf(object)), ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted)
        return unpinned(object, decision, deps, timedOut(ctx.signal.reason, decision.references, count, deps.onError, NOT_PINNED));
      const e = asCamelOciError(err);
      ctx.logger.warn({ namespace, err: { code: e.code, message: e.message } }, "cannot read the pull secrets of the Integration's pods");
      warnings.push(`camel-oci: could not read the pull secrets of the Integration's service account (${e.code})`);
    }
  }

  let result: PinResult;
  try {
    result = await pinDecided(
      object,
      decision,
      {
        resolver: deps.resolver,
        ...(deps.platform !== undefined ? { platform: deps.platform } : {}),
        ...(pullSecrets !== undefined ? { pullSecrets } : {}),
      },
      ctx.signal,
    );
  } catch (err) {
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), count, err.code);
    throw err;
  }
  if (result.type === 'skip') return answer(skipped(result.reason), 0, result.reason);
  if (result.type === 'failed') {
    const { outcome } = result;
    const failed = outcome.aborted
      ? timedOut(outcome.reason, outcome.pending, count, deps.onError, NOT_PINNED)
      : resolutionFailed(outcome.reference, outcome.error, count, deps.onError, ctx.logger, NOT_PINNED);
    return unpinned(object, decision, deps, failed);
  }
  const audit: Record<string, string> = {};
  result.pins.forEach((pin, i) => {
    audit[`${i}-reference`] = displayReference(result.references[i]!);
    audit[`${i}-pinned`] = pin;
  });
  if (result.source !== 'resolved') audit['pins'] = `reused from the ${result.source}`;
  warnings.push(...result.warnings);
  return answer(
    patched(result.ops),
    count,
    result.source === 'resolved' ? undefined : `pins reused from the ${result.source}`,
    warnings,
    audit,
  );
}

/**
 * Under `--on-error allow` a failed resolution still moves the entries (unpinned), so the operator's
 * build does not fail on them; a denial stays a denial.
 */
function unpinned(
  object: unknown,
  decision: IntegrationDecision,
  deps: IntegrationAdmissionDeps,
  failed: AdmissionAnswer,
): AdmissionAnswer {
  if (deps.onError !== 'allow' || decision.action !== 'pin') return failed;
  return { ...failed, result: patched(buildIntegrationPatch(object, decision, undefined)) };
}

/**
 * The pod-shaped view the pull secret reader takes: the service account the Integration's pods run
 * as (`spec.serviceAccountName`, else the namespace's default) and the secret of the `pull-secret`
 * trait, which Camel K puts in the pods' `imagePullSecrets`.
 */
export function podViewOf(object: unknown): { spec: { serviceAccountName?: string; imagePullSecrets?: Array<{ name: string }> } } {
  const spec = isRecord(object) ? own(object, 'spec') : undefined;
  const sa = isRecord(spec) ? own(spec, 'serviceAccountName') : undefined;
  const traits = isRecord(spec) ? own(spec, 'traits') : undefined;
  const pullSecret = isRecord(traits) ? own(traits, 'pull-secret') : undefined;
  const secretName = isRecord(pullSecret) ? own(pullSecret, 'secretName') : undefined;
  return {
    spec: {
      ...(typeof sa === 'string' && sa !== '' ? { serviceAccountName: sa } : {}),
      ...(typeof secretName === 'string' && secretName !== '' ? { imagePullSecrets: [{ name: secretName }] } : {}),
    },
  };
}
