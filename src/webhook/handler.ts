/**
 * The admission routes' handlers: which requests each admits, and the hand-over to the workflows in
 * admit/ (`POST /mutate`: Pods; `POST /mutate-integrations`: Integrations and Pipes). The edge
 * (edge.ts) turns the answer into an AdmissionReview response.
 */
import { answer, type AdmissionAnswer } from '../admit/answer.js';
import { admitIntegration, type IntegrationAdmissionDeps } from '../admit/integration.js';
import { admitPod, type AdmissionContext, type PodAdmissionDeps } from '../admit/pod.js';
import { denied, skipped } from '../admit/result.js';
import type { AdmissionRequest } from './admission.js';

/** True for the one request this route mutates: CREATE of a core v1 Pod (no subresource). */
export function isPodCreate(request: AdmissionRequest): boolean {
  const k = request.kind;
  const r = request.resource;
  return (
    request.operation === 'CREATE' &&
    k !== undefined &&
    k !== null &&
    k.group === '' &&
    k.version === 'v1' &&
    k.kind === 'Pod' &&
    r !== undefined &&
    r !== null &&
    r.group === '' &&
    r.version === 'v1' &&
    r.resource === 'pods' &&
    (request.subResource === undefined || request.subResource === '')
  );
}

/** Handles one pod admission request. Rejects only on a bug (the edge answers `errored(500)`). */
export async function handleAdmission(request: AdmissionRequest, ctx: AdmissionContext, deps: PodAdmissionDeps): Promise<AdmissionAnswer> {
  if (!isPodCreate(request)) return answer(skipped('not a Pod CREATE'), 0, 'not a Pod CREATE');
  const pod = request.object;
  if (typeof pod !== 'object' || pod === null || Array.isArray(pod)) {
    return answer(denied('camel-oci: request.object is not a Pod object', 400), 0, 'NO_OBJECT');
  }
  return admitPod(pod, typeof request.namespace === 'string' ? request.namespace : '', deps, ctx);
}

/** API group of Camel K. */
export const CAMEL_GROUP = 'camel.apache.org';
/** Resource names of the Camel K kinds `POST /mutate-integrations` admits. */
export const CAMEL_RESOURCES: Readonly<Record<string, string>> = { Integration: 'integrations', Pipe: 'pipes' };
/** Skip reason of a request that is not an Integration or Pipe CREATE/UPDATE. */
export const NOT_A_CAMEL_WRITE = 'not an Integration or Pipe CREATE/UPDATE';

/** True for a write `POST /mutate-integrations` admits: CREATE or UPDATE of a camel.apache.org/v1 Integration or Pipe (no subresource). */
export function isCamelKWrite(request: AdmissionRequest): boolean {
  const k = request.kind;
  const r = request.resource;
  const kind = k?.kind;
  return (
    (request.operation === 'CREATE' || request.operation === 'UPDATE') &&
    k !== undefined &&
    k !== null &&
    k.group === CAMEL_GROUP &&
    k.version === 'v1' &&
    (kind === 'Integration' || kind === 'Pipe') &&
    r !== undefined &&
    r !== null &&
    r.group === CAMEL_GROUP &&
    r.version === 'v1' &&
    r.resource === CAMEL_RESOURCES[kind] &&
    (request.subResource === undefined || request.subResource === '')
  );
}

/** Handles one Integration or Pipe admission request. Rejects only on a bug. */
export async function handleIntegrationAdmission(
  request: AdmissionRequest,
  ctx: AdmissionContext,
  deps: IntegrationAdmissionDeps,
): Promise<AdmissionAnswer> {
  if (!isCamelKWrite(request)) return answer(skipped(NOT_A_CAMEL_WRITE), 0, NOT_A_CAMEL_WRITE);
  const object = request.object;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    return answer(denied('camel-oci: request.object is not an Integration or Pipe object', 400), 0, 'NO_OBJECT');
  }
  const oldObject = request.operation === 'UPDATE' ? request.oldObject : undefined;
  return admitIntegration(object, oldObject, typeof request.namespace === 'string' ? request.namespace : '', deps, ctx);
}
