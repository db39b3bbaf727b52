/**
 * The admission workflow of Camel K Integrations and Pipes (CREATE and UPDATE): decide what the
 * write asks for (pure, `inject/integration.ts`), resolve the references under the deadline unless
 * the pins are sticky, and answer with the patch that moves the `container:` entries out and pins
 * them. Never touches HTTP; the edge turns the answer into a response with `complete()`.
 */
import { asCamelOciError, CamelOciError, InjectError } from '../base/errors.js';
import { formatSeconds, isDeadlineExceeded, raceSignal } from '../base/abort.js';
import { isRecord, own } from '../inject/pod.js';
import type { Logger } from '../base/logger.js';
import {
  buildIntegrationPatch,
  decideIntegration,
  pinOf,
  type IntegrationDecision,
  type PinSource,
} from '../inject/integration.js';
import type { JsonPatchOp } from '../inject/patch.js';
import { ANNOTATION_REFRESH } from '../inject/annotations.js';
import { MAX_PLAN_ARTIFACTS } from '../plan/plan.js';
import type { ArtifactResolver, ResolveRequest } from '../resolve/types.js';
import { denied, patched, skipped, truncate, type AdmissionRequest, type AdmissionResult } from '../webhook/admission.js';
import {
  displayReference,
  MAX_MESSAGE_REFERENCE_CHARS,
  MAX_WARNING_REFERENCE_CHARS,
  type AdmissionAnswer,
  type HandlerContext,
  type HandlerDeps,
} from './pod.js';
import { denialCode, ReferenceFailure, resolveAll, withoutSubject, withPrefix } from './resolution.js';

/** API group of Camel K. */
export const CAMEL_GROUP = 'camel.apache.org';
/** Resource names of the kinds this workflow admits. */
export const CAMEL_RESOURCES: Readonly<Record<string, string>> = { Integration: 'integrations', Pipe: 'pipes' };

/** What `pinObject` produced for one object. */
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
    };

/** Collaborators of `pinObject`: the resolver, the platform to pick from an index, and pull secrets to try first. */
export interface PinDeps {
  readonly resolver: ArtifactResolver;
  readonly platform?: string;
  /** `.dockerconfigjson` texts the Integration's pods will have (their pull secrets). */
  readonly pullSecrets?: readonly string[];
}

/**
 * Pins one Integration or Pipe: decides, resolves each reference under `signal` unless the pins
 * are reused, and builds the patch. Rejects with a ReferenceFailure naming the first reference that
 * failed, with the signal's reason when it aborts, and with InjectError for an unusable object.
 * `pending` (optional) is left holding the references still unresolved, for a timeout message.
 * Used by the webhook and by `camel-oci inject`.
 */
export async function pinObject(
  object: unknown,
  oldObject: unknown,
  deps: PinDeps,
  signal: AbortSignal,
  pending?: Set<string>,
): Promise<PinResult> {
  return pinDecided(object, decideIntegration(object, oldObject), deps, signal, pending);
}

/** `pinObject` for a decision already made (the webhook decides first, to answer bad input before any I/O). */
async function pinDecided(
  object: unknown,
  decision: IntegrationDecision,
  deps: PinDeps,
  signal: AbortSignal,
  pending?: Set<string>,
): Promise<PinResult> {
  if (decision.action === 'skip') return { type: 'skip', reason: decision.reason };
  const { references } = decision;
  if (references.length > MAX_PLAN_ARTIFACTS) {
    throw new InjectError('REFERENCE_INVALID', `${references.length} container dependencies are asked for; at most ${MAX_PLAN_ARTIFACTS} are supported`);
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
  const artifacts = await resolveAll(deps.resolver, references, request, pending);
  const pins = artifacts.map((a, i) => pinOf(references[i] as string, a.digest));
  const warnings: string[] = [];
  artifacts.forEach((a, i) => {
    // A pin is sticky: one taken from a stale cache entry stays until the request or oci-refresh changes.
    if (a.stale === true) {
      warnings.push(`camel-oci: ${displayReference(references[i] as string, MAX_WARNING_REFERENCE_CHARS)} pinned from cache (registry failing); set ${ANNOTATION_REFRESH} later to re-resolve`);
    }
  });
  return { type: 'pinned', ops: buildIntegrationPatch(object, decision, pins), references, pins, source: 'resolved', warnings };
}

/** True for a write this workflow admits: CREATE or UPDATE of a camel.apache.org/v1 Integration or Pipe (no subresource). */
export function isCamelKWrite(request: AdmissionRequest): boolean {
  const k = request.kind;
  const r = request.resource;
  const kind = k?.kind;
  return (
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    k !== undefined && k !== null && k.group === CAMEL_GROUP && k.version === 'v1' &&
    (kind === 'Integration' || kind === 'Pipe') &&
    r !== undefined && r !== null && r.group === CAMEL_GROUP && r.version === 'v1' && r.resource === CAMEL_RESOURCES[kind] &&
    (request.subResource === undefined || request.subResource === '')
  );
}

/** Skip reason of a request that is not an Integration or Pipe CREATE/UPDATE. */
export const NOT_A_CAMEL_WRITE = 'not an Integration or Pipe CREATE/UPDATE';

const NO_WARNINGS: readonly string[] = Object.freeze([]);
const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});

function answer(result: AdmissionResult, references: number, reason?: string, warnings = NO_WARNINGS, auditAnnotations = NO_ANNOTATIONS): AdmissionAnswer {
  return reason === undefined ? { result, warnings, auditAnnotations, references } : { result, warnings, auditAnnotations, references, reason };
}

/**
 * Admits one Integration or Pipe write. Never touches HTTP. Rejects only on a bug (the edge turns
 * that into `errored(500)`); every expected failure is a result value. Under `--on-error allow` a
 * reference that cannot be resolved admits the object with a warning: the `container:` entries are
 * still moved into the request annotation (so the operator's build does not fail), without pins.
 */
export async function admitIntegration(request: AdmissionRequest, ctx: HandlerContext, deps: HandlerDeps): Promise<AdmissionAnswer> {
  if (!isCamelKWrite(request)) return answer(skipped(NOT_A_CAMEL_WRITE), 0, NOT_A_CAMEL_WRITE);
  const object = request.object;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    return answer(denied('camel-oci: request.object is not an Integration or Pipe object', 400), 0, 'NO_OBJECT');
  }
  const oldObject = request.operation === 'UPDATE' ? request.oldObject : undefined;

  let decision: IntegrationDecision;
  try {
    decision = decideIntegration(object, oldObject);
  } catch (err) {
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), 0, err.code);
    throw err;
  }
  if (decision.action === 'skip') return answer(skipped(decision.reason), 0, decision.reason);
  const count = decision.references.length;

  const pending = new Set(decision.reuse === undefined ? decision.references : []);
  const warnings: string[] = [];
  // The credentials the Integration's pods will have: resolving with more would pin what they cannot fetch.
  let pullSecrets: string[] | undefined;
  const namespace = typeof request.namespace === 'string' ? request.namespace : '';
  if (decision.reuse === undefined && deps.pullSecrets !== undefined && namespace !== '') {
    try {
      pullSecrets = await raceSignal(deps.pullSecrets(namespace, podViewOf(object)), ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return timedOut(ctx.signal.reason, [...pending], object, decision, deps);
      const e = asCamelOciError(err);
      ctx.logger.warn({ namespace, err: { code: e.code, message: e.message } }, 'cannot read the pull secrets of the Integration\'s pods');
      warnings.push(`camel-oci: could not read the pull secrets of the Integration's service account (${e.code})`);
    }
  }

  let result: PinResult;
  try {
    const pinDeps: PinDeps = {
      resolver: deps.resolver,
      ...(deps.platform !== undefined ? { platform: deps.platform } : {}),
      ...(pullSecrets !== undefined ? { pullSecrets } : {}),
    };
    result = await pinDecided(object, decision, pinDeps, ctx.signal, pending);
  } catch (err) {
    // An abort wins over a failure: the resolver's own rejection may just be the abort arriving.
    if (ctx.signal.aborted) return timedOut(ctx.signal.reason, [...pending], object, decision, deps);
    if (err instanceof ReferenceFailure) return resolutionFailed(err, object, decision, deps, ctx.logger);
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), count, err.code);
    throw err;
  }
  if (result.type === 'skip') return answer(skipped(result.reason), 0, result.reason);
  const audit: Record<string, string> = {};
  result.pins.forEach((pin, i) => {
    audit[`${i}-reference`] = displayReference(result.references[i] as string);
    audit[`${i}-pinned`] = pin;
  });
  if (result.source !== 'resolved') audit['pins'] = `reused from the ${result.source}`;
  warnings.push(...result.warnings);
  return answer(patched(result.ops), count, result.source === 'resolved' ? undefined : `pins reused from the ${result.source}`, warnings, audit);
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

/** Under `--on-error allow`: the patch that moves the entries without pinning them (empty when the object is unusable). */
function unpinnedPatch(object: unknown, decision: IntegrationDecision): JsonPatchOp[] {
  if (decision.action !== 'pin') return [];
  return buildIntegrationPatch(object, decision, undefined);
}

/** The answer when a reference failed to resolve (deny, or admit unpinned with a warning). */
function resolutionFailed(failure: ReferenceFailure, object: unknown, decision: IntegrationDecision, deps: HandlerDeps, logger: Logger): AdmissionAnswer {
  const { reference, error } = failure;
  const count = decision.action === 'pin' ? decision.references.length : 0;
  logger.warn({ reference: truncate(reference, MAX_MESSAGE_REFERENCE_CHARS), err: error.toJSON() }, 'reference not resolved');
  if (deps.onError === 'allow') {
    return answer(
      patched(unpinnedPatch(object, decision)),
      count,
      error.code,
      [`camel-oci: dependencies not pinned: cannot resolve ${displayReference(reference, MAX_WARNING_REFERENCE_CHARS)} (${error.code})`],
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
function timedOut(reason: unknown, pending: readonly string[], object: unknown, decision: IntegrationDecision, deps: HandlerDeps): AdmissionAnswer {
  const count = decision.action === 'pin' ? decision.references.length : 0;
  const within = isDeadlineExceeded(reason) ? `within ${formatSeconds(reason.budgetMs)}` : 'before the request was cancelled';
  if (deps.onError === 'allow') {
    return answer(
      patched(unpinnedPatch(object, decision)),
      count,
      'TIMEOUT',
      [`camel-oci: dependencies not pinned: resolution did not finish ${within}`],
      { 'resolution-error': 'TIMEOUT' },
    );
  }
  const shown = pending.slice(0, 3).map((r) => displayReference(r)).join(', ');
  const more = pending.length > 3 ? ` and ${pending.length - 3} more` : '';
  return answer(denied(`camel-oci: resolving ${shown}${more} did not finish ${within} (registry slow or unreachable)`, 504), count, 'TIMEOUT');
}

/** The `kind` metrics label of an Integration route request: Integration, Pipe, or other. */
export function integrationKindLabel(request: AdmissionRequest): string {
  const kind = request.kind?.kind;
  return kind === 'Integration' || kind === 'Pipe' ? kind : 'other';
}

/** Turns a ReferenceFailure into the error `camel-oci inject` reports (its message names the reference). */
export function referenceError(failure: ReferenceFailure): CamelOciError {
  const { reference, error } = failure;
  return new CamelOciError(error.code, `cannot resolve ${displayReference(reference)}: ${withoutSubject(error.message, reference)}`, {
    retryable: error.retryable,
    cause: error,
  });
}
