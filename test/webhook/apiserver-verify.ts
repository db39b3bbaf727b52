/**
 * A test-side model of the apiserver's `VerifyAdmissionResponse` for AdmissionReview v1
 * (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/request/admissionreview.go),
 * checked against the upstream test vectors in admission.test.ts before it judges our answers.
 */

/** What the apiserver takes from an accepted response, or why it refused it. */
export type Verdict =
  | {
      readonly error?: undefined;
      readonly allowed: boolean;
      readonly patch?: string;
      readonly patchType?: string;
      readonly status?: unknown;
      readonly auditAnnotations?: Record<string, string>;
      readonly warnings?: string[];
    }
  | { readonly error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Verifies a v1 webhook response body for request `uid`, as a mutating or validating webhook. */
export function verifyAdmissionResponse(uid: string, mutating: boolean, body: unknown): Verdict {
  if (!isRecord(body)) return { error: 'response body is not an object' };
  const response = body.response;
  if (!isRecord(response)) return { error: 'webhook response was absent' };
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') {
    return {
      error: `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${String(body.apiVersion)}, Kind=${String(body.kind)}`,
    };
  }
  if (response.uid !== uid) return { error: `expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(response.uid)}` };
  if (typeof response.allowed !== 'boolean') return { error: 'response.allowed is not a boolean' };
  const patchB64 = response.patch;
  const hasPatch = typeof patchB64 === 'string' && patchB64.length > 0;
  const hasPatchType = 'patchType' in response && response.patchType !== undefined && response.patchType !== null;
  let patch: string | undefined;
  let patchType: string | undefined;
  if (mutating) {
    if (hasPatch && !hasPatchType) return { error: 'webhook returned response.patch but not response.patchType' };
    if (hasPatchType && !hasPatch) return { error: 'webhook returned response.patchType but not response.patch' };
    if (hasPatch) {
      if (typeof response.patchType !== 'string' || response.patchType === '') {
        return { error: `webhook returned invalid response.patchType of ${JSON.stringify(response.patchType)}` };
      }
      // Go decodes []byte from standard base64 and refuses anything else.
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(patchB64) || patchB64.length % 4 !== 0) return { error: 'illegal base64 data' };
      patch = Buffer.from(patchB64, 'base64').toString('utf8');
      patchType = response.patchType;
    }
  } else {
    if (hasPatch) return { error: 'validating webhook may not return response.patch' };
    if (hasPatchType) return { error: 'validating webhook may not return response.patchType' };
  }
  return {
    allowed: response.allowed,
    ...(patch !== undefined ? { patch, patchType } : {}),
    ...(response.status !== undefined ? { status: response.status } : {}),
    ...(isRecord(response.auditAnnotations) ? { auditAnnotations: response.auditAnnotations as Record<string, string> } : {}),
    ...(Array.isArray(response.warnings) ? { warnings: response.warnings as string[] } : {}),
  };
}
