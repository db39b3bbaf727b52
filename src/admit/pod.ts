/**
 * The pod admission workflow, shared by the webhook (`POST /mutate`) and `camel-oci inject`:
 * decide whether the pod asks for container dependencies, read its pull secrets, resolve every
 * reference under the deadline, and ask the pure patch builder for operations, audit annotations
 * and warnings. Never touches HTTP: the webhook maps the answer to an AdmissionReview response.
 */
import { InjectError, asCamelOciError } from '../base/errors.js';
import { raceSignal } from '../base/abort.js';
import { isDeepFrozen } from '../base/frozen.js';
import type { Logger } from '../base/logger.js';
import { decide } from '../inject/decide.js';
import { buildInjection, type InjectOptions } from '../inject/patch.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { pinnedReference, withReference, type ResolvedArtifact } from '../plan/artifact.js';
import { MAX_PLAN_ARTIFACTS } from '../plan/plan.js';
import type { ArtifactResolver, ResolveRequest } from '../resolve/types.js';
import { OwnerPins, ownerUid, parsePins, pinEach, pinnedRequests } from './pins.js';
import { resolveReferences } from './references.js';
import { answer, resolutionFailed, timedOut, type AdmissionAnswer, type OnErrorPolicy } from './answer.js';
import type { AnswerMemo } from './answer-memo.js';
import { displayReference, withPrefix } from './messages.js';
import { denied, patched, skipped } from './result.js';

/** What the warning of a failed resolution says was not done. */
const NOT_INJECTED = 'dependencies not injected';

/** Long-lived collaborators of the pod workflow, built once by the command that runs it. */
export interface PodAdmissionDeps {
  readonly resolver: ArtifactResolver;
  readonly inject: InjectOptions;
  readonly onError: OnErrorPolicy;
  /** The parsed docker configs of the pod's pull secrets; optional (absent: the resolver's own credentials only). */
  readonly pullSecrets?: (namespace: string, pod: unknown) => Promise<DockerConfig[]>;
  /** `os/arch[/variant]` to pick from an index; the resolver's default when absent. */
  readonly platform?: string;
  /** Digests pods of one owner were admitted at (absent: every pod without pins resolves its tags itself). */
  readonly ownerPins?: OwnerPins;
  /** Finished answers of identical pods (absent: every pod's patch is built afresh). Belongs to these `inject` options. */
  readonly answerMemo?: AnswerMemo;
}

/** Per-admission context: the deadline signal (aborts at the answer budget) and a logger. */
export interface AdmissionContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /**
   * A digest of the whole request except its uid, when the caller can tell (equal digests: equal
   * requests, so equal objects); lets identical pods find a kept answer without serializing the pod.
   * Only for a request that holds one pod: a caller admitting several pods of one request omits it.
   */
  readonly requestKey?: () => string | undefined;
}

/** What the workflow reads from a pod before resolving: pure functions of the pod. */
interface PodFacts {
  readonly decision: ReturnType<typeof decide>;
  readonly pins: ReadonlyMap<string, string>;
  readonly owner: string | undefined;
}

/** Facts of deeply frozen pods (the webhook's kept requests, handed to every identical replica), by identity. */
const frozenFacts = new WeakMap<object, PodFacts>();

/** The facts of `pod`; kept for a deeply frozen pod, which cannot change. Throws what `decide` throws. */
function factsOf(pod: object): PodFacts {
  const frozen = isDeepFrozen(pod);
  if (frozen) {
    const known = frozenFacts.get(pod);
    if (known !== undefined) return known;
  }
  const facts: PodFacts = {
    decision: decide(pod),
    pins: parsePins((pod as { metadata?: { annotations?: Record<string, unknown> } }).metadata?.annotations),
    owner: ownerUid(pod),
  };
  if (frozen) frozenFacts.set(pod, facts);
  return facts;
}

/**
 * Admits one pod (or, with `basePath` `/spec/template`, one workload's pod template) in
 * `namespace`. Rejects only on a bug; every expected failure is an answer.
 */
export async function admitPod(
  pod: object,
  namespace: string,
  deps: PodAdmissionDeps,
  ctx: AdmissionContext,
  basePath = '',
): Promise<AdmissionAnswer> {
  let facts: PodFacts;
  try {
    facts = factsOf(pod);
  } catch (err) {
    if (err instanceof InjectError) return answer(denied(withPrefix(err.message), 403), 0, err.code);
    throw err;
  }
  const decision = facts.decision;
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

  // 1. The pod's pull secrets (optional; a failure to read them is a warning, the resolver's own credentials remain).
  let pullSecrets: DockerConfig[] | undefined;
  if (deps.pullSecrets !== undefined && namespace !== '') {
    try {
      pullSecrets = await raceSignal(deps.pullSecrets(namespace, pod), ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) return timedOut(ctx.signal.reason, [...new Set(references)], references.length, deps.onError, NOT_INJECTED);
      const e = asCamelOciError(err);
      ctx.logger.warn({ namespace, err: { code: e.code, message: e.message } }, "cannot read the pod's pull secrets");
      warnings.push(`camel-oci: could not read the pod's imagePullSecrets (${e.code})`);
    }
  }

  // 2. What to resolve: the pod's own pins when they cover every reference (a pod of a pinned
  // Integration: manifests by digest, no tag request), else its owner's earlier pods' digests.
  const pins = facts.pins;
  const owner = deps.ownerPins === undefined ? undefined : facts.owner;
  const fromPins = pinnedRequests(references, pins);
  const toResolve = fromPins ?? (owner === undefined ? references : pinEach(references, deps.ownerPins?.get(owner)));

  // 3. Every distinct reference, concurrently, under the deadline; the first failure decides.
  const request: ResolveRequest & { signal: AbortSignal } = {
    signal: ctx.signal,
    ...(pullSecrets !== undefined && pullSecrets.length > 0 ? { pullSecrets } : {}),
    ...(deps.platform !== undefined ? { platform: deps.platform } : {}),
  };
  const outcome = await resolveReferences(deps.resolver, toResolve, request);
  if (!outcome.ok) {
    return outcome.aborted
      ? timedOut(outcome.reason, outcome.pending, references.length, deps.onError, NOT_INJECTED)
      : resolutionFailed(outcome.reference, outcome.error, references.length, deps.onError, ctx.logger, NOT_INJECTED);
  }
  // The resolved annotation names each reference as the pod asked for it, pinned or not.
  const artifacts = outcome.artifacts.map((a, i) => withReference(a, references[i]!.trim().replace(/^container:/, '')));
  if (owner !== undefined && fromPins === undefined) {
    deps.ownerPins?.remember(
      owner,
      references,
      artifacts.map((a) => a.indexDigest ?? a.digest),
    );
  }

  // 4. The pure part: plan, patch, annotations; the same for identical pods resolved alike.
  const memo = deps.answerMemo;
  const memoKey = memo?.key(pod, namespace, basePath, artifacts, ctx.requestKey?.());
  let pure = memoKey === undefined ? undefined : memo?.get(memoKey);
  if (pure === undefined) {
    const built = buildAnswer(pod, artifacts, references.length, deps.inject, basePath);
    if (!built.ok) return built.answer;
    pure = built.answer;
    if (memoKey !== undefined) memo?.set(memoKey, pure);
  }
  // This request's own warnings (its pull secrets could not be read) come first, and are never kept.
  return warnings.length === 0
    ? pure
    : answer(pure.result, pure.references, pure.reason, [...warnings, ...pure.warnings], pure.auditAnnotations);
}

/**
 * The part of a pod's answer that is a pure function of the pod, its resolved artifacts, the
 * injection options and the base path: the patch, its warnings, the audit annotations. A pod the
 * builder refuses is a denial (not kept).
 */
function buildAnswer(
  pod: object,
  artifacts: readonly ResolvedArtifact[],
  count: number,
  options: InjectOptions,
  basePath: string,
): { ok: true; answer: AdmissionAnswer } | { ok: false; answer: AdmissionAnswer } {
  let injection: ReturnType<typeof buildInjection>;
  try {
    injection = buildInjection(pod, artifacts, options, basePath);
  } catch (err) {
    // Bad injection options are the webhook's fault, not the pod's: an internal error, said as such.
    if (err instanceof InjectError && err.code !== 'CONFIG_INVALID') {
      return { ok: false, answer: answer(denied(withPrefix(err.message), 403), count, err.code) };
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
  const warnings = injection.warnings.map(withPrefix);
  // The webhook's own --registry-config never reaches a pod: the init container has only the pod's
  // pull secrets, so a reference only the webhook could read will fail at fetch. Say so now.
  for (const a of artifacts) {
    if (a.credentials === 'webhook') {
      warnings.push(
        `camel-oci: ${a.domain} needed the webhook's own credentials; give the pod an imagePullSecret for it, or camel-oci-fetch will be refused`,
      );
    }
  }
  // Frozen: a kept answer is handed to many requests, and none may change it.
  return {
    ok: true,
    answer: Object.freeze(answer(patched(injection.ops), count, undefined, Object.freeze(warnings), Object.freeze(audit))),
  };
}
