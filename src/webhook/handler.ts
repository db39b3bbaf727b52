/**
 * `POST /mutate`: which admission requests are pods to admit, and the hand-over to the pod
 * workflow in admit/pod.ts. The edge (edge.ts) turns the answer into an AdmissionReview response.
 */
import { answer, type AdmissionAnswer } from '../admit/answer.js';
import { admitPod, type AdmissionContext, type PodAdmissionDeps } from '../admit/pod.js';
import { denied, skipped } from '../admit/result.js';
import type { AdmissionRequest } from './admission.js';

/** True for the one request this route mutates: CREATE of a core v1 Pod (no subresource). */
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

/** Handles one pod admission request. Rejects only on a bug (the edge answers `errored(500)`). */
export async function handleAdmission(request: AdmissionRequest, ctx: AdmissionContext, deps: PodAdmissionDeps): Promise<AdmissionAnswer> {
  if (!isPodCreate(request)) return answer(skipped('not a Pod CREATE'), 0, 'not a Pod CREATE');
  const pod = request.object;
  if (typeof pod !== 'object' || pod === null || Array.isArray(pod)) {
    return answer(denied('camel-oci: request.object is not a Pod object', 400), 0, 'NO_OBJECT');
  }
  return admitPod(pod, typeof request.namespace === 'string' ? request.namespace : '', deps, ctx);
}
